import { sql, type Transaction } from 'kysely';
import type { Database, Visibility } from '../../platform/db/schema.js';
import { fixedRows, type Db, type Executor, type WithinTransaction } from '../../platform/db/pool.js';
import { transaction } from '../../platform/db/transaction.js';
import type { EventRow } from './events.types.js';

export interface EventFields {
  title: string;
  description: string;
  venue: string;
  startsAt: Date;
  endsAt: Date | null;
  capacity: number | null;
  visibility: Visibility;
  timeZone: string;
}

// The booked count: the sum of the event's stripes in event_booking_counts,
// which the booking transaction keeps (migration 0010): at most 64 index
// entries per event, where counting its confirmed bookings read one per booking.
const BOOKED_COUNT = `(SELECT coalesce(sum(c.booked), 0)::int FROM event_booking_counts c WHERE c.event_id = e.id)`;

// One query shape for a single event and for lists: the owner's name by join
// and the booked count, so a page of events is one round trip (no N+1).
const EVENT_FROM = `SELECT e.id, e.slug, e.title, e.description, e.venue, e.starts_at, e.ends_at, e.capacity, e.visibility, e.time_zone, e.cover_photo_id, e.owner_id,
  u.name AS owner_name, e.created_at, e.updated_at, ${BOOKED_COUNT} AS booked_count
FROM events e JOIN users u ON u.id = e.owner_id`;

/**
 * The hottest reads (event page, gallery, public list) as fixed SQL text: no
 * query building per request, and `npm run bench`'s bare handlers run these
 * very strings. The literal 'public' lets the planner use the partial index
 * events_public_upcoming_idx (a bound parameter could not prove the predicate).
 * EXPLAIN outputs: docs/decisions/0013-read-paths.md.
 */
export const EVENT_QUERIES = {
  byId: `${EVENT_FROM} WHERE e.id = $1`,
  upcomingPublic: `${EVENT_FROM} WHERE e.visibility = 'public' AND e.starts_at >= $1 ORDER BY e.starts_at, e.id LIMIT $2`,
  upcomingPublicAfter: `${EVENT_FROM} WHERE e.visibility = 'public' AND e.starts_at >= $1 AND (e.starts_at, e.id) > ($2::timestamptz, $3::uuid) ORDER BY e.starts_at, e.id LIMIT $4`,
} as const;

function selectEvents(db: Executor) {
  return db
    .selectFrom('events as e')
    .innerJoin('users as u', 'u.id', 'e.owner_id')
    .select([
      'e.id',
      'e.slug',
      'e.title',
      'e.description',
      'e.venue',
      'e.starts_at',
      'e.ends_at',
      'e.capacity',
      'e.visibility',
      'e.time_zone',
      'e.cover_photo_id',
      'e.owner_id',
      'u.name as owner_name',
      'e.created_at',
      'e.updated_at',
      sql<number>`${sql.raw(BOOKED_COUNT)}`.as('booked_count'),
    ]);
}

export function createEventsRepository(db: Db) {
  return {
    /** `executor`: where to read, such as the replica for read-heavy requests (platform/http/read-routing.ts). */
    async findById(id: string, executor: Db = db): Promise<EventRow | undefined> {
      return (await fixedRows<EventRow>(executor, EVENT_QUERIES.byId, [id]))[0];
    },

    /** Upcoming events the viewer may list: public ones, and the viewer's own. Keyset-paginated on (starts_at, id). */
    async listUpcoming(
      options: { viewerId: string | null; limit: number; after?: [string, string]; now: Date },
      executor: Db = db,
    ): Promise<EventRow[]> {
      if (!options.viewerId) {
        return options.after
          ? fixedRows<EventRow>(executor, EVENT_QUERIES.upcomingPublicAfter, [
              options.now,
              options.after[0],
              options.after[1],
              options.limit + 1,
            ])
          : fixedRows<EventRow>(executor, EVENT_QUERIES.upcomingPublic, [options.now, options.limit + 1]);
      }
      let query = selectEvents(executor).where('e.starts_at', '>=', options.now);
      query = query.where((eb) => eb.or([eb('e.visibility', '=', 'public'), eb('e.owner_id', '=', options.viewerId!)]));
      if (options.after)
        query = query.where(sql<boolean>`(e.starts_at, e.id) > (${options.after[0]}::timestamptz, ${options.after[1]}::uuid)`);
      return query
        .orderBy('e.starts_at')
        .orderBy('e.id')
        .limit(options.limit + 1)
        .execute();
    },

    listOwnedBy(ownerId: string, limit: number): Promise<EventRow[]> {
      return selectEvents(db).where('e.owner_id', '=', ownerId).orderBy('e.starts_at', 'desc').orderBy('e.id').limit(limit).execute();
    },

    hasConfirmedBooking(eventId: string, userId: string): Promise<boolean> {
      return db
        .selectFrom('bookings')
        .select('id')
        .where('event_id', '=', eventId)
        .where('user_id', '=', userId)
        .where('status', '=', 'confirmed')
        .executeTakeFirst()
        .then(Boolean);
    },

    /** The event and its places in one transaction: a capped event has exactly `capacity` place rows. `within(tx, id)` runs last in it. */
    insert(ownerId: string, slug: string, fields: EventFields, within?: WithinTransaction<[id: string]>): Promise<string> {
      return transaction(db, async (tx) => {
        const { id } = await tx
          .insertInto('events')
          .values({
            slug,
            owner_id: ownerId,
            title: fields.title,
            description: fields.description,
            venue: fields.venue,
            starts_at: fields.startsAt,
            ends_at: fields.endsAt,
            capacity: fields.capacity,
            visibility: fields.visibility,
            time_zone: fields.timeZone,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        if (fields.capacity) await addPlaces(tx, id, 0, fields.capacity);
        await within?.(tx, id);
        return id;
      });
    },

    /**
     * Applies changed fields. A capacity change first locks every place of the
     * event, so it waits for bookings in flight and then rebuilds the places
     * around the confirmed bookings. Returns false when the new capacity is
     * below the places already booked (and then `within` does not run).
     */
    update(id: string, changes: Partial<EventFields>, within?: WithinTransaction): Promise<boolean> {
      return transaction(db, async (tx) => {
        if (changes.capacity !== undefined) {
          await tx.selectFrom('event_places').select('place_no').where('event_id', '=', id).forUpdate().execute();
          const { count } = await tx
            .selectFrom('bookings')
            .select((eb) => eb.fn.countAll<number>().as('count'))
            .where('event_id', '=', id)
            .where('status', '=', 'confirmed')
            .executeTakeFirstOrThrow();
          if (changes.capacity !== null && changes.capacity < count) return false;
          await tx.deleteFrom('event_places').where('event_id', '=', id).execute();
          if (changes.capacity !== null) {
            await sql`INSERT INTO event_places (event_id, place_no, booking_id)
              SELECT ${id}::uuid, row_number() OVER (ORDER BY created_at, id), id
              FROM bookings WHERE event_id = ${id}::uuid AND status = 'confirmed'`.execute(tx);
            await addPlaces(tx, id, count, changes.capacity - count);
          }
        }
        await tx
          .updateTable('events')
          .set({
            ...(changes.title !== undefined && { title: changes.title }),
            ...(changes.description !== undefined && { description: changes.description }),
            ...(changes.venue !== undefined && { venue: changes.venue }),
            ...(changes.startsAt !== undefined && { starts_at: changes.startsAt }),
            ...(changes.endsAt !== undefined && { ends_at: changes.endsAt }),
            ...(changes.capacity !== undefined && { capacity: changes.capacity }),
            ...(changes.visibility !== undefined && { visibility: changes.visibility }),
            ...(changes.timeZone !== undefined && { time_zone: changes.timeZone }),
            updated_at: new Date(),
          })
          .where('id', '=', id)
          .execute();
        await within?.(tx);
        return true;
      });
    },

    /**
     * Sets the event's cover to one of its own ready photos, or clears it
     * (null); the photo's check and the change are one statement. False when
     * the photo is not a ready photo of this event (or goes meanwhile).
     */
    async setCover(id: string, photoId: string | null, within?: WithinTransaction): Promise<boolean> {
      return transaction(db, async (tx) => {
        const changed = await sql`UPDATE events SET cover_photo_id = ${photoId}::uuid, updated_at = now()
          WHERE id = ${id}::uuid AND (${photoId}::uuid IS NULL OR EXISTS (
            SELECT 1 FROM photos p WHERE p.id = ${photoId}::uuid AND p.event_id = ${id}::uuid AND p.status = 'ready'))`.execute(tx);
        if (changed.numAffectedRows !== 1n) return false;
        await within?.(tx);
        return true;
      }).catch((error: unknown) => {
        // The photo deleted between the check and the key's own (foreign_key_violation).
        if ((error as { code?: string }).code === '23503') return false;
        throw error;
      });
    },

    /**
     * Deletes the event. In the same transaction, `before` runs first (what it
     * returns is returned) and `within` after the delete (its audit entry).
     */
    async delete<T>(id: string, steps: { before: (tx: Transaction<Database>) => Promise<T>; within?: WithinTransaction }): Promise<T> {
      return transaction(db, async (tx) => {
        const result = await steps.before(tx);
        await tx.deleteFrom('events').where('id', '=', id).execute();
        await steps.within?.(tx);
        return result;
      });
    },

    async counters(now: Date, executor: Db = db): Promise<{ upcomingEvents: number; bookings: number; members: number }> {
      const row = await sql<{ upcoming_events: number; bookings: number; members: number }>`SELECT
          (SELECT count(*) FROM events WHERE visibility = 'public' AND starts_at >= ${now}) AS upcoming_events,
          (SELECT coalesce(sum(booked), 0) FROM event_booking_counts) AS bookings,
          (SELECT count(*) FROM users) AS members`.execute(executor);
      const counts = row.rows[0]!;
      return { upcomingEvents: counts.upcoming_events, bookings: counts.bookings, members: counts.members };
    },
  };
}

async function addPlaces(tx: Transaction<Database>, eventId: string, from: number, count: number): Promise<void> {
  if (count <= 0) return;
  await sql`INSERT INTO event_places (event_id, place_no)
    SELECT ${eventId}::uuid, n FROM generate_series(${from + 1}::int, ${from + count}::int) AS n`.execute(tx);
}

export type EventsRepository = ReturnType<typeof createEventsRepository>;
