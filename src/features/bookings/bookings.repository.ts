import { sql } from 'kysely';
import type { Db, WithinTransaction } from '../../platform/db/pool.js';

export interface BookingRow {
  id: string;
  event_id: string;
  user_id: string;
  status: 'confirmed' | 'cancelled';
  created_at: Date;
}

export type BookResult = { kind: 'created'; booking: BookingRow } | { kind: 'existing'; booking: BookingRow } | { kind: 'full' };

const UNIQUE_VIOLATION = '23505';

export function createBookingsRepository(db: Db) {
  const findConfirmed = (eventId: string, userId: string) =>
    db
      .selectFrom('bookings')
      .select(['id', 'event_id', 'user_id', 'status', 'created_at'])
      .where('event_id', '=', eventId)
      .where('user_id', '=', userId)
      .where('status', '=', 'confirmed')
      .executeTakeFirst();

  return {
    findConfirmed,

    /**
     * Books a place. A capped event's places are rows; claiming one with
     * FOR UPDATE SKIP LOCKED lets concurrent bookings take different places in
     * parallel instead of queueing on one counter, and a booking exists only
     * with its claimed place, so confirmed bookings never exceed capacity.
     * `within` runs in the same transaction once the booking is made.
     */
    async book(eventId: string, userId: string, capped: boolean, within?: WithinTransaction<[booking: BookingRow]>): Promise<BookResult> {
      const existing = await findConfirmed(eventId, userId);
      if (existing) return { kind: 'existing', booking: existing };
      try {
        return await db.transaction().execute(async (tx): Promise<BookResult> => {
          let placeNo: number | undefined;
          if (capped) {
            const claim = (skipLocked: boolean) =>
              sql<{ place_no: number }>`SELECT place_no FROM event_places
                WHERE event_id = ${eventId}::uuid AND booking_id IS NULL
                ORDER BY place_no LIMIT 1 FOR UPDATE ${skipLocked ? sql`SKIP LOCKED` : sql``}`.execute(tx);
            // Every free place may be locked by bookings still in flight; only
            // then wait for them, since one of them may roll back and free its place.
            placeNo = (await claim(true)).rows[0]?.place_no ?? (await claim(false)).rows[0]?.place_no;
            if (placeNo === undefined) return { kind: 'full' };
          }
          const booking = await tx
            .insertInto('bookings')
            .values({ event_id: eventId, user_id: userId, status: 'confirmed' })
            .returning(['id', 'event_id', 'user_id', 'status', 'created_at'])
            .executeTakeFirstOrThrow();
          if (placeNo !== undefined) {
            await tx
              .updateTable('event_places')
              .set({ booking_id: booking.id })
              .where('event_id', '=', eventId)
              .where('place_no', '=', placeNo)
              .execute();
          }
          await within?.(tx, booking);
          return { kind: 'created', booking };
        });
      } catch (error) {
        // The same user booking twice at once: the unique index lets one win; the other answers with it.
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          const winner = await findConfirmed(eventId, userId);
          if (winner) return { kind: 'existing', booking: winner };
        }
        throw error;
      }
    },

    /** Cancels the user's booking and frees its place in one transaction; `within` runs in it when a booking was cancelled. */
    cancel(eventId: string, userId: string, within?: WithinTransaction<[booking: BookingRow]>): Promise<BookingRow | undefined> {
      return db.transaction().execute(async (tx) => {
        const cancelled = await tx
          .updateTable('bookings')
          .set({ status: 'cancelled', cancelled_at: new Date() })
          .where('event_id', '=', eventId)
          .where('user_id', '=', userId)
          .where('status', '=', 'confirmed')
          .returning(['id', 'event_id', 'user_id', 'status', 'created_at'])
          .executeTakeFirst();
        if (cancelled) {
          await tx.updateTable('event_places').set({ booking_id: null }).where('booking_id', '=', cancelled.id).execute();
          await within?.(tx, cancelled);
        }
        return cancelled;
      });
    },

    listForEvent(eventId: string, limit: number, after?: [string, string]) {
      let query = db
        .selectFrom('bookings as b')
        .innerJoin('users as u', 'u.id', 'b.user_id')
        .select(['b.id', 'b.status', 'b.created_at', 'u.id as user_id', 'u.name as user_name'])
        .where('b.event_id', '=', eventId)
        .where('b.status', '=', 'confirmed');
      if (after) query = query.where(sql<boolean>`(b.created_at, b.id) > (${after[0]}::timestamptz, ${after[1]}::uuid)`);
      return query
        .orderBy('b.created_at')
        .orderBy('b.id')
        .limit(limit + 1)
        .execute();
    },

    listForUser(userId: string, limit: number, after?: [string, string]) {
      let query = db
        .selectFrom('bookings as b')
        .innerJoin('events as e', 'e.id', 'b.event_id')
        .select([
          'b.id',
          'b.status',
          'b.created_at',
          'e.id as event_id',
          'e.title as event_title',
          'e.starts_at as event_starts_at',
          'e.venue as event_venue',
          'e.time_zone as event_time_zone',
        ])
        .where('b.user_id', '=', userId)
        .where('b.status', '=', 'confirmed');
      if (after) query = query.where(sql<boolean>`(b.created_at, b.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`);
      return query
        .orderBy('b.created_at', 'desc')
        .orderBy('b.id', 'desc')
        .limit(limit + 1)
        .execute();
    },
  };
}

export type BookingsRepository = ReturnType<typeof createBookingsRepository>;
