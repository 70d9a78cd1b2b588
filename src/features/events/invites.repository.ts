import { sql } from 'kysely';
import type { Db, WithinTransaction } from '../../platform/db/pool.js';
import { transaction } from '../../platform/db/transaction.js';
import { INVITE_ACTIVE } from './invites.types.js';

export interface InviteRow {
  id: string;
  event_id: string;
  created_by: string | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = ['id', 'event_id', 'created_by', 'created_at', 'expires_at', 'revoked_at'] as const;

export function createInvitesRepository(db: Db) {
  return {
    /** The invite and its audit entry commit together. */
    insert(
      fields: { eventId: string; tokenHash: Buffer; createdBy: string; expiresAt: Date | null },
      within: WithinTransaction<[id: string]>,
    ): Promise<InviteRow> {
      return transaction(db, async (tx) => {
        const row = await tx
          .insertInto('event_invites')
          .values({ event_id: fields.eventId, token_hash: fields.tokenHash, created_by: fields.createdBy, expires_at: fields.expiresAt })
          .returning(COLUMNS)
          .executeTakeFirstOrThrow();
        await within(tx, row.id);
        return row;
      });
    },

    /** Newest first; revoked and expired ones too (the host sees what happened to each). */
    listForEvent(eventId: string, limit: number): Promise<InviteRow[]> {
      return db
        .selectFrom('event_invites')
        .select(COLUMNS)
        .where('event_id', '=', eventId)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .execute();
    },

    /** Revokes the invite if it is the event's and not revoked yet; `within` runs only then. Returns whether it did. */
    revoke(eventId: string, inviteId: string, within: WithinTransaction): Promise<boolean> {
      return transaction(db, async (tx) => {
        const row = await tx
          .updateTable('event_invites')
          .set({ revoked_at: new Date() })
          .where('id', '=', inviteId)
          .where('event_id', '=', eventId)
          .where('revoked_at', 'is', null)
          .returning('id')
          .executeTakeFirst();
        if (row) await within(tx);
        return Boolean(row);
      });
    },

    /** The active invite with this token's hash. */
    findActiveByHash(tokenHash: Buffer): Promise<InviteRow | undefined> {
      return db
        .selectFrom('event_invites as i')
        .select(COLUMNS.map((column) => `i.${column}` as const))
        .where('i.token_hash', '=', tokenHash)
        .where(sql<boolean>`${sql.raw(INVITE_ACTIVE('i'))}`)
        .executeTakeFirst();
    },

    /** Whether one of these invites (ids from a visitor's pass) is active and opens this event. */
    async anyActive(eventId: string, inviteIds: readonly string[]): Promise<boolean> {
      if (inviteIds.length === 0) return false;
      const row = await db
        .selectFrom('event_invites as i')
        .select('i.id')
        .where('i.event_id', '=', eventId)
        .where('i.id', 'in', [...inviteIds])
        .where(sql<boolean>`${sql.raw(INVITE_ACTIVE('i'))}`)
        .executeTakeFirst();
      return Boolean(row);
    },
  };
}

export type InvitesRepository = ReturnType<typeof createInvitesRepository>;
