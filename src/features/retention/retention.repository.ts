import { sql, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { Db } from '../../platform/db/pool.js';

/** What the erasure of one account removed in its transaction; the object keys are deleted after commit. */
export interface ErasedRows {
  bookingsCancelled: number;
  events: number;
  photos: number;
  exports: number;
  objectKeys: string[];
}

/** No argon2 hash starts with this, so no password can ever match it. */
export const UNUSABLE_PASSWORD_HASH = '!account-deleted';

export function createRetentionRepository(db: Db) {
  return {
    /**
     * Anonymises the account and removes what it owns, in the caller's
     * transaction: the user row keeps only its id (for the bookings history
     * of past events) until the sweep deletes it. Null when there is no such
     * live account (already deleted, or never existed).
     */
    async eraseAccount(tx: Transaction<Database>, userId: string, now: Date): Promise<ErasedRows | null> {
      const anonymised = await tx
        .updateTable('users')
        .set({
          email: sql<string>`'deleted-' || id || '@invalid'`,
          name: 'Deleted user',
          password_hash: UNUSABLE_PASSWORD_HASH,
          role: 'user',
          deleted_at: now,
          updated_at: now,
        })
        .where('id', '=', userId)
        .where('deleted_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (!anonymised) return null;

      await tx.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();

      // Places at upcoming events go back to others; bookings of past events stay as history.
      const cancelled = await tx
        .updateTable('bookings')
        .set({ status: 'cancelled', cancelled_at: now })
        .where('user_id', '=', userId)
        .where('status', '=', 'confirmed')
        .where('event_id', 'in', (eb) => eb.selectFrom('events').select('id').where('starts_at', '>', now))
        .returning('id')
        .execute();
      if (cancelled.length) {
        await tx
          .updateTable('event_places')
          .set({ booking_id: null })
          .where(
            'booking_id',
            'in',
            cancelled.map((b) => b.id),
          )
          .execute();
      }

      const hostedEvents = () => tx.selectFrom('events').select('id').where('owner_id', '=', userId);
      // Their uploads anywhere, and every photo and export of the events they host (which go next).
      const photos = await tx
        .deleteFrom('photos')
        .where((eb) => eb.or([eb('uploader_id', '=', userId), eb('event_id', 'in', hostedEvents())]))
        .returning(['original_key', 'thumbnail_key', 'display_key'])
        .execute();
      const exports = await tx
        .deleteFrom('exports')
        .where((eb) => eb.or([eb('requester_id', '=', userId), eb('event_id', 'in', hostedEvents())]))
        .returning('object_key')
        .execute();
      const events = await tx.deleteFrom('events').where('owner_id', '=', userId).executeTakeFirst();

      const objectKeys = [
        ...photos.flatMap((p) => [p.original_key, p.thumbnail_key, p.display_key]),
        ...exports.map((e) => e.object_key),
      ].filter((key): key is string => key !== null);
      return {
        bookingsCancelled: cancelled.length,
        events: Number(events.numDeletedRows),
        photos: photos.length,
        exports: exports.length,
        objectKeys,
      };
    },

    /** Accounts anonymised before the cutoff; their remaining rows (bookings of past events, sessions) go with them. */
    async deleteAccountsDeletedBefore(cutoff: Date): Promise<number> {
      const result = await db.deleteFrom('users').where('deleted_at', '<', cutoff).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Sessions revoked or expired before the cutoff (on the LEAST(revoked_at, expires_at) index). */
    async deleteSessionsEndedBefore(cutoff: Date): Promise<number> {
      const result = await sql`DELETE FROM sessions WHERE LEAST(revoked_at, expires_at) < ${cutoff}`.execute(db);
      return Number(result.numAffectedRows ?? 0);
    },

    /** Login and upload throttling counters whose window has passed (rate-limiter-flexible stores `expire` in epoch ms). */
    async deleteExpiredRateLimits(now: Date): Promise<number> {
      const result = await sql`DELETE FROM rate_limits WHERE expire < ${now.getTime()}`.execute(db);
      return Number(result.numAffectedRows ?? 0);
    },
  };
}

export type RetentionRepository = ReturnType<typeof createRetentionRepository>;
