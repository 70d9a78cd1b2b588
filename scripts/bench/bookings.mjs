// Bookings of one hot event at the database level, two designs side by side in
// one run (docs/decisions/0003-bookings-without-a-hot-row.md):
//   counter: UPDATE events SET booked_count = booked_count + 1 WHERE ... AND
//            booked_count < capacity, then insert the booking (scratch schema
//            bench_counter, created and dropped here);
//   places:  the app's own repository code (dist), claiming a pre-created place
//            with FOR UPDATE SKIP LOCKED.
// Both go through Kysely on one pool of `connections` connections, with the
// same pre-check, the same bookings table shape (indexes, foreign keys) and the
// same commit; only the way a place is counted differs. After the timed run,
// extra attempts check that neither design ever exceeds capacity.
import path from 'node:path';
import pg from 'pg';
import { percentile, root } from './lib.mjs';

const dist = (p) => import(path.join(root, 'dist/src', p));

/** A booker whose session is taken as read (the designs compare how places are counted, not the session check). */
const booker = (id) => ({ id, checked: { role: 'user' } });

async function drive(total, connections, book) {
  const latencies = [];
  const outcomes = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        const kind = await book(i);
        latencies.push(performance.now() - t0);
        outcomes[kind] = (outcomes[kind] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    attempts: total,
    seconds,
    rate: total / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    outcomes,
  };
}

/**
 * @param {{ databaseUrl: string, total: number, connections: number, extra?: number }} options
 * total bookings on one event whose capacity is exactly `total`; then `extra`
 * more attempts that must all be refused.
 */
export async function benchBookings({ databaseUrl, total, connections, extra = 256 }) {
  const { createKysely } = await dist('platform/db/pool.js');
  const { createBookingsRepository } = await dist('features/bookings/bookings.repository.js');
  const { sql } = await import('kysely');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: connections, application_name: 'epu-bench-bookings' });
  const db = createKysely(pool);
  const users = total + extra;
  try {
    // Users and a host; the places event is made as the app makes one (event row + `capacity` places).
    const {
      rows: [host],
    } = await pool.query(
      `INSERT INTO users (email, name, password_hash) VALUES ('bench-host-' || gen_random_uuid() || '@example.test', 'Bench host', 'x') RETURNING id`,
    );
    const { rows: people } = await pool.query(
      `INSERT INTO users (email, name, password_hash) SELECT 'bench-booker-' || gen_random_uuid() || '@example.test', 'Booker ' || n, 'x' FROM generate_series(1, $1) AS n RETURNING id`,
      [users],
    );
    const userIds = people.map((r) => r.id);
    const {
      rows: [placesEvent],
    } = await pool.query(
      `INSERT INTO events (slug, owner_id, title, starts_at, capacity, visibility) VALUES ('bench-hot-' || gen_random_uuid(), $1, 'Hot event (places)', now() + interval '30 days', $2, 'public') RETURNING id`,
      [host.id, total],
    );
    await pool.query(`INSERT INTO event_places (event_id, place_no) SELECT $1::uuid, n FROM generate_series(1, $2::int) AS n`, [
      placesEvent.id,
      total,
    ]);

    await pool.query('DROP SCHEMA IF EXISTS bench_counter CASCADE');
    await pool.query(`CREATE SCHEMA bench_counter;
      CREATE TABLE bench_counter.events (LIKE public.events INCLUDING ALL);
      ALTER TABLE bench_counter.events ADD COLUMN booked_count integer NOT NULL DEFAULT 0;
      CREATE TABLE bench_counter.bookings (LIKE public.bookings INCLUDING ALL);
      ALTER TABLE bench_counter.bookings ADD FOREIGN KEY (event_id) REFERENCES bench_counter.events (id) ON DELETE CASCADE,
        ADD FOREIGN KEY (user_id) REFERENCES public.users (id) ON DELETE CASCADE;`);
    const {
      rows: [counterEvent],
    } = await pool.query(
      `INSERT INTO bench_counter.events (slug, owner_id, title, starts_at, capacity, visibility) VALUES ('bench-hot-counter', $1, 'Hot event (counter)', now() + interval '30 days', $2, 'public') RETURNING id`,
      [host.id, total],
    );
    await pool.query('ANALYZE bench_counter.events; ANALYZE bench_counter.bookings; ANALYZE event_places; ANALYZE bookings');

    // The counter design, in the same shape as the app's book(): pre-check, then one transaction.
    const counterBook = async (eventId, userId) => {
      const existing = await db
        .withSchema('bench_counter')
        .selectFrom('bookings')
        .select(['id'])
        .where('event_id', '=', eventId)
        .where('user_id', '=', userId)
        .where('status', '=', 'confirmed')
        .executeTakeFirst();
      if (existing) return { kind: 'existing' };
      return db.transaction().execute(async (tx) => {
        const claimed = await sql`UPDATE bench_counter.events SET booked_count = booked_count + 1
          WHERE id = ${eventId}::uuid AND booked_count < capacity RETURNING booked_count`.execute(tx);
        if (claimed.rows.length === 0) return { kind: 'full' };
        await tx
          .withSchema('bench_counter')
          .insertInto('bookings')
          .values({ event_id: eventId, user_id: userId, status: 'confirmed' })
          .returning(['id', 'event_id', 'user_id', 'status', 'created_at'])
          .executeTakeFirstOrThrow();
        return { kind: 'created' };
      });
    };
    const places = createBookingsRepository(db);

    // Warm both paths (connections, plans) with bookings that are then removed.
    const warm = Math.min(connections, 64);
    await Promise.all(Array.from({ length: warm }, (_, i) => counterBook(counterEvent.id, userIds[i])));
    await Promise.all(Array.from({ length: warm }, (_, i) => places.book(placesEvent.id, booker(userIds[i]))));
    await pool.query('DELETE FROM bench_counter.bookings; UPDATE bench_counter.events SET booked_count = 0');
    await pool.query('UPDATE event_places SET booking_id = NULL WHERE event_id = $1', [placesEvent.id]);
    await pool.query('DELETE FROM bookings WHERE event_id = $1', [placesEvent.id]);
    await pool.query('VACUUM ANALYZE bench_counter.events, bench_counter.bookings, event_places, bookings');

    // Interleaved so that neither design gets the quieter half of the run.
    const counter = await drive(total, connections, async (i) => (await counterBook(counterEvent.id, userIds[i])).kind);
    const placesRun = await drive(total, connections, async (i) => (await places.book(placesEvent.id, booker(userIds[i]))).kind);

    // Over capacity: every extra attempt must be refused, by both designs.
    const counterOver = await drive(extra, connections, async (i) => (await counterBook(counterEvent.id, userIds[total + i])).kind);
    const placesOver = await drive(extra, connections, async (i) => (await places.book(placesEvent.id, booker(userIds[total + i]))).kind);
    const {
      rows: [check],
    } = await pool.query(
      `SELECT (SELECT count(*) FROM bench_counter.bookings WHERE status = 'confirmed')::int AS counter_confirmed,
              (SELECT booked_count FROM bench_counter.events WHERE id = $1) AS counter_column,
              (SELECT count(*) FROM bookings WHERE event_id = $2 AND status = 'confirmed')::int AS places_confirmed,
              (SELECT count(*) FROM event_places WHERE event_id = $2 AND booking_id IS NOT NULL)::int AS places_taken`,
      [counterEvent.id, placesEvent.id],
    );
    await pool.query('DELETE FROM events WHERE id = $1', [placesEvent.id]);
    await pool.query('DROP SCHEMA bench_counter CASCADE');
    await pool.query('DELETE FROM users WHERE id = ANY($1::uuid[])', [[host.id, ...userIds]]);
    return {
      capacity: total,
      counter: {
        ...counter,
        refused: counterOver.outcomes.full ?? 0,
        confirmed: check.counter_confirmed,
        withinCapacity: check.counter_confirmed === total && check.counter_column === total,
      },
      places: {
        ...placesRun,
        refused: placesOver.outcomes.full ?? 0,
        confirmed: check.places_confirmed,
        withinCapacity: check.places_confirmed === total && check.places_taken === total,
      },
    };
  } finally {
    await db.destroy();
  }
}
