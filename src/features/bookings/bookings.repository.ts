import crypto from 'node:crypto';
import { sql } from 'kysely';
import { fixedRows, type Db, type Executor, type WithinTransaction } from '../../platform/db/pool.js';
import type { StatementWrite } from '../../platform/db/statement-write.js';
import { transaction } from '../../platform/db/transaction.js';
import { liveSessionFrom, type Viewer } from '../accounts/accounts.types.js';
import { INVITE_ACTIVE } from '../events/invites.types.js';

export interface BookingRow {
  id: string;
  event_id: string;
  user_id: string;
  status: 'confirmed' | 'cancelled';
  created_at: Date;
}

export type BookResult =
  | { kind: 'created'; booking: BookingRow }
  | { kind: 'existing'; booking: BookingRow }
  | { kind: 'full' }
  | { kind: 'closed' }
  /** No such event, or a private one the booker may not see (a 404 either way). */
  | { kind: 'gone' }
  /** The booker's session is not live (revoked, expired, or their account deleted). */
  | { kind: 'signed_out' };

/**
 * Who books: their user id, and how the booking statement knows they may
 * book: the session it checks itself (live, and this user's), or the role of
 * a booker whose session the request has already read. Private events are
 * there only for some (see attempt).
 */
export interface Booker {
  id: string;
  checked: { sessionId: string } | { role: Viewer['role'] };
  /** Ids of the invites the booker has opened (events/invite-passes.ts). */
  invites?: readonly string[];
}

interface BookAttempt extends Partial<BookingRow> {
  signed_in: boolean;
  /** Null when the event does not exist, or is private and not the booker's to see. */
  open: boolean | null;
  capacity: number | null;
  place_no: number | null;
}

/**
 * The booking statement's text for one shape. Parameters: $1 the session
 * (checked in the statement) or the role (checked already), $2 the booker, $3
 * the event, $4 the booker's invites, $5 the booking's id, then each write's.
 */
function composeBookStatement(bySession: boolean, wait: boolean, writes: readonly StatementWrite[]): string {
  let next = 6;
  const writeClauses = writes.map((write, i) => {
    const clause = `, write_${i} AS (${write.insertFrom('booking', next)})`;
    next += write.values.length;
    return clause;
  });
  return `WITH booker AS MATERIALIZED (${bySession ? `SELECT users.id, users.role ${liveSessionFrom('$1', '$2::uuid')}` : 'SELECT $2::uuid AS id, $1::text AS role'}),
      event AS (
        SELECT capacity, starts_at > now() AS open FROM events, booker
        WHERE events.id = $3::uuid
          -- A private event: for its host, an admin, those who booked or hold an active invite (events.getVisible).
          AND (visibility <> 'private' OR owner_id = booker.id OR booker.role = 'admin'
            OR EXISTS (SELECT FROM bookings WHERE event_id = $3::uuid AND user_id = booker.id AND status = 'confirmed')
            OR EXISTS (SELECT FROM event_invites i WHERE i.event_id = $3::uuid AND i.id = ANY($4::uuid[])
              AND ${INVITE_ACTIVE('i')}))
      ),
      place AS MATERIALIZED (
        SELECT place_no FROM event_places
        WHERE event_id = $3::uuid AND booking_id IS NULL AND (SELECT open AND capacity IS NOT NULL FROM event)
        ORDER BY place_no LIMIT 1 FOR UPDATE ${wait ? '' : 'SKIP LOCKED'}
      ),
      booking AS (
        INSERT INTO bookings (id, event_id, user_id, status)
        SELECT $5::uuid, $3::uuid, $2::uuid, 'confirmed' FROM event
        WHERE event.open AND (event.capacity IS NULL OR EXISTS (SELECT FROM place))
        ON CONFLICT (event_id, user_id) WHERE status = 'confirmed' DO NOTHING
        RETURNING id, event_id, user_id, status, created_at
      ),
      taken AS (
        UPDATE event_places SET booking_id = (SELECT id FROM booking)
        WHERE event_id = $3::uuid AND place_no = (SELECT place_no FROM place) AND EXISTS (SELECT FROM booking)
      )${writeClauses.join('')}
      SELECT EXISTS (SELECT FROM booker) AS signed_in, (SELECT open FROM event) AS open, (SELECT capacity FROM event) AS capacity,
        (SELECT place_no FROM place) AS place_no, booking.id, booking.event_id, booking.user_id, booking.status, booking.created_at
      FROM (SELECT) AS one LEFT JOIN booking ON true`;
}

/** Composed texts by shape: a handful (two ways to check the booker, two lock modes, the kinds of writes). */
const bookStatements = new Map<string, string>();
function bookStatement(bySession: boolean, wait: boolean, writes: readonly StatementWrite[]): string {
  // A write's kind fixes its text, and its count of values the numbering of whatever follows it.
  const shape = `${bySession} ${wait} ${writes.map((write) => `${write.kind}/${write.values.length}`).join(' ')}`;
  let text = bookStatements.get(shape);
  if (text === undefined) bookStatements.set(shape, (text = composeBookStatement(bySession, wait, writes)));
  return text;
}

export function createBookingsRepository(db: Db) {
  const findConfirmed = (eventId: string, userId: string, executor: Executor = db) =>
    executor
      .selectFrom('bookings')
      .select(['id', 'event_id', 'user_id', 'status', 'created_at'])
      .where('event_id', '=', eventId)
      .where('user_id', '=', userId)
      .where('status', '=', 'confirmed')
      .executeTakeFirst();

  /**
   * One statement, its own transaction: checks the booker's session, that the
   * event is there for them and has not started, claims the lowest free place
   * of a capped event (SKIP LOCKED:
   * concurrent bookings take different places in parallel instead of queueing
   * on one counter), inserts the booking unless the user already has one,
   * points the place at it, and writes the rows that go with the booking (its
   * audit entry, its confirmation mail's job): all or nothing, one round trip, one commit. Its confirmed count
   * goes up in the same statement (a trigger on bookings, migration 0010).
   * `wait` claims without SKIP LOCKED, for when every free place is held by a
   * booking in flight that may still roll back. The place is matched by
   * scalar subqueries, never by a join: joined, the planner scanned every
   * place of the event (decision 0003). Its text is composed once per shape
   * (how the booker is checked, `wait`, the kinds of writes) and the values
   * bound on each call (decision 0055).
   */
  const attempt = async (eventId: string, booker: Booker, bookingId: string, writes: StatementWrite[], wait: boolean) => {
    const { checked } = booker;
    const bySession = 'sessionId' in checked;
    const values = [
      bySession ? checked.sessionId : checked.role,
      booker.id,
      eventId,
      booker.invites ?? [],
      bookingId,
      ...writes.flatMap((write) => write.values),
    ];
    return (await fixedRows<BookAttempt>(db, bookStatement(bySession, wait, writes), values))[0]!;
  };

  return {
    findConfirmed: (eventId: string, userId: string) => findConfirmed(eventId, userId),

    /** A booking with its booker's name and address, for its mail; undefined once gone or the account deleted. */
    findForMail(bookingId: string) {
      return db
        .selectFrom('bookings as b')
        .innerJoin('users as u', 'u.id', 'b.user_id')
        .select(['b.id', 'b.event_id', 'b.status', 'u.name as user_name', 'u.email as user_email'])
        .where('b.id', '=', bookingId)
        .where('u.deleted_at', 'is', null)
        .executeTakeFirst();
    },

    /**
     * Books a place: a booking exists only with its claimed place, so confirmed
     * bookings never exceed capacity. `alongside` gives the rows written with the
     * booking (its audit entry, its mail job), for the booking's id, which is drawn here.
     */
    async book(eventId: string, booker: Booker, alongside?: (bookingId: string) => StatementWrite[]): Promise<BookResult> {
      const bookingId = crypto.randomUUID();
      const writes = alongside?.(bookingId) ?? [];
      let result = await attempt(eventId, booker, bookingId, writes, false);
      if (!result.signed_in) return { kind: 'signed_out' };
      if (result.open === null) return { kind: 'gone' };
      if (!result.open) return { kind: 'closed' };
      // No place free to take at once: every free one may be held by a booking still in flight; wait for them.
      if (!result.id && result.capacity !== null && result.place_no === null)
        result = await attempt(eventId, booker, bookingId, writes, true);
      if (result.id) {
        for (const write of writes) write.written();
        const booking: BookingRow = {
          id: result.id,
          event_id: result.event_id!,
          user_id: result.user_id!,
          status: result.status!,
          created_at: result.created_at!,
        };
        return { kind: 'created', booking };
      }
      // Nothing inserted: the user already had a booking (a double submit lands here too), or the event is full.
      const existing = await findConfirmed(eventId, booker.id);
      return existing ? { kind: 'existing', booking: existing } : { kind: 'full' };
    },

    /** Cancels the user's booking and frees its place in one transaction; `within` runs in it when a booking was cancelled. */
    cancel(eventId: string, userId: string, within?: WithinTransaction<[booking: BookingRow]>): Promise<BookingRow | undefined> {
      return transaction(db, async (tx) => {
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
