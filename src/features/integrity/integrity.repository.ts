import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../../platform/db/pool.js';

export interface PhotoKeysRow {
  id: string;
  status: 'processing' | 'ready' | 'failed';
  original_key: string;
  thumbnail_key: string | null;
  display_key: string | null;
  created_at: Date;
  ready_at: Date | null;
}

export interface CheckResult {
  problems: number;
  /** A few of the rows or objects concerned, to start looking from. */
  samples: string[];
  /** Set when the check itself could not run (say, storage unreachable); that counts as one problem. */
  error?: string;
}

export interface IntegrityRunRow {
  id: string;
  ran_at: Date;
  ok: boolean;
  problems: Record<string, CheckResult>;
}

export const SAMPLE_LIMIT = 10;

/** Runs a query capped at SAMPLE_LIMIT rows alongside its full count. */
async function countAndSample(db: Db, query: RawBuilder<{ sample: string }>): Promise<CheckResult> {
  const { rows } = await sql<{
    sample: string;
    total: number;
  }>`SELECT sample, count(*) OVER () AS total FROM (${query}) AS found LIMIT ${SAMPLE_LIMIT}`.execute(db);
  return { problems: rows[0]?.total ?? 0, samples: rows.map((row) => row.sample) };
}

/**
 * Events whose count kept by a trigger in stripes (`counts`: one row per event
 * and stripe, the count their sum) differs from a count of their `rows` in `status`.
 */
function keptCountDrift(
  db: Db,
  counts: { table: 'event_booking_counts' | 'event_photo_counts'; column: 'booked' | 'ready' },
  rows: { table: 'bookings' | 'photos'; status: string },
  noun: string,
): Promise<CheckResult> {
  return countAndSample(
    db,
    sql<{ sample: string }>`SELECT 'event ' || coalesce(c.event_id, r.event_id) || ': count says ' || coalesce(c.kept, 0)
        || ', ' || coalesce(r.n, 0) || ${` ${noun}`} AS sample
      FROM (SELECT event_id, sum(${sql.ref(counts.column)}) AS kept FROM ${sql.table(counts.table)} GROUP BY event_id) c
      FULL JOIN (SELECT event_id, count(*) AS n FROM ${sql.table(rows.table)} WHERE status = ${rows.status} GROUP BY event_id) r
        ON r.event_id = c.event_id
      WHERE coalesce(c.kept, 0) <> coalesce(r.n, 0)`,
  );
}

export function createIntegrityRepository(db: Db) {
  return {
    /** Every photo's object keys, in id order, a page at a time. */
    photoKeys(afterId: string | null, limit: number): Promise<PhotoKeysRow[]> {
      let query = db
        .selectFrom('photos')
        .select(['id', 'status', 'original_key', 'thumbnail_key', 'display_key', 'created_at', 'ready_at']);
      if (afterId) query = query.where('id', '>', afterId);
      return query.orderBy('id').limit(limit).execute();
    },

    /** Capped events with more confirmed bookings than places. */
    overCapacity(): Promise<CheckResult> {
      return countAndSample(
        db,
        sql<{ sample: string }>`SELECT 'event ' || e.id || ': ' || count(*) || ' confirmed bookings, capacity ' || e.capacity AS sample
          FROM events e JOIN bookings b ON b.event_id = e.id AND b.status = 'confirmed'
          WHERE e.capacity IS NOT NULL
          GROUP BY e.id, e.capacity HAVING count(*) > e.capacity`,
      );
    },

    /** Events whose kept booked count (event_booking_counts, migration 0010) differs from their confirmed bookings. */
    bookedCounts(): Promise<CheckResult> {
      return keptCountDrift(
        db,
        { table: 'event_booking_counts', column: 'booked' },
        { table: 'bookings', status: 'confirmed' },
        'confirmed bookings',
      );
    },

    /** Events whose kept count of ready photos (event_photo_counts, migration 0017) differs from their ready photos. */
    photoCounts(): Promise<CheckResult> {
      return keptCountDrift(db, { table: 'event_photo_counts', column: 'ready' }, { table: 'photos', status: 'ready' }, 'ready photos');
    },

    /**
     * The place rows that make overbooking impossible (decision 0003): a capped
     * event has exactly `capacity` places, an uncapped one none; a place holds
     * a confirmed booking of its own event; every confirmed booking of a capped
     * event holds a place.
     */
    eventPlaces(): Promise<CheckResult> {
      return countAndSample(
        db,
        sql<{
          sample: string;
        }>`SELECT 'event ' || e.id || ': ' || coalesce(p.n, 0) || ' places for capacity ' || coalesce(e.capacity::text, 'none') AS sample
            FROM events e LEFT JOIN (SELECT event_id, count(*) AS n FROM event_places GROUP BY event_id) p ON p.event_id = e.id
            WHERE coalesce(p.n, 0) <> coalesce(e.capacity, 0)
          UNION ALL
          SELECT 'event ' || ep.event_id || ' place ' || ep.place_no || ': holds ' || b.status || ' booking ' || b.id || CASE WHEN b.event_id <> ep.event_id THEN ' of another event' ELSE '' END
            FROM event_places ep JOIN bookings b ON b.id = ep.booking_id
            WHERE b.status <> 'confirmed' OR b.event_id <> ep.event_id
          UNION ALL
          SELECT 'booking ' || b.id || ': confirmed without a place at event ' || b.event_id
            FROM bookings b JOIN events e ON e.id = b.event_id
            WHERE b.status = 'confirmed' AND e.capacity IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM event_places ep WHERE ep.booking_id = b.id)`,
      );
    },

    /** Rows missing what their state promises, and what a deleted account should no longer have. */
    nullAnomalies(now: Date): Promise<CheckResult> {
      return countAndSample(
        db,
        sql<{ sample: string }>`SELECT 'photo ' || id || ': ready without ' || concat_ws(', ',
              CASE WHEN thumbnail_key IS NULL THEN 'thumbnail' END, CASE WHEN display_key IS NULL THEN 'display rendition' END,
              CASE WHEN width IS NULL OR height IS NULL THEN 'dimensions' END) AS sample
            FROM photos WHERE status = 'ready' AND (thumbnail_key IS NULL OR display_key IS NULL OR width IS NULL OR height IS NULL)
          UNION ALL
          SELECT 'export ' || id || ': ready and unexpired without an object' FROM exports
            WHERE status = 'ready' AND object_key IS NULL AND expires_at > ${now}
          UNION ALL
          SELECT 'booking ' || b.id || ': confirmed for deleted account ' || u.id
            FROM bookings b JOIN users u ON u.id = b.user_id JOIN events e ON e.id = b.event_id
            WHERE b.status = 'confirmed' AND u.deleted_at IS NOT NULL AND e.starts_at > u.deleted_at
          UNION ALL
          SELECT 'event ' || e.id || ': hosted by deleted account ' || u.id FROM events e JOIN users u ON u.id = e.owner_id WHERE u.deleted_at IS NOT NULL
          UNION ALL
          SELECT 'photo ' || p.id || ': uploaded by deleted account ' || u.id FROM photos p JOIN users u ON u.id = p.uploader_id WHERE u.deleted_at IS NOT NULL
          UNION ALL
          SELECT 'export ' || x.id || ': requested by deleted account ' || u.id FROM exports x JOIN users u ON u.id = x.requester_id WHERE u.deleted_at IS NOT NULL`,
      );
    },

    /**
     * The stats totals next to live counts, with what was created since they
     * were computed (index range scans): a live count above stats + created
     * since means the stats missed rows; below stats, rows were deleted since.
     */
    async statsComparison(): Promise<{
      computedAt: Date;
      figures: { name: string; stats: number; live: number; createdSince: number }[];
    } | null> {
      const { rows } = await sql<{
        computed_at: Date;
        users: number;
        live_users: number;
        new_users: number;
        events: number;
        live_events: number;
        new_events: number;
        bookings: number;
        live_bookings: number;
        new_bookings: number;
        photos: number;
        live_photos: number;
        new_photos: number;
      }>`SELECT s.computed_at,
          s.users, (SELECT count(*) FROM users WHERE deleted_at IS NULL) AS live_users,
            (SELECT count(*) FROM users WHERE deleted_at IS NULL AND created_at > s.computed_at) AS new_users,
          s.events, (SELECT count(*) FROM events) AS live_events,
            (SELECT count(*) FROM events WHERE created_at > s.computed_at) AS new_events,
          s.bookings, (SELECT count(*) FROM bookings WHERE status = 'confirmed') AS live_bookings,
            (SELECT count(*) FROM bookings WHERE created_at > s.computed_at) AS new_bookings,
          s.photos, (SELECT count(*) FROM photos) AS live_photos,
            (SELECT count(*) FROM photos WHERE created_at > s.computed_at) AS new_photos
        FROM stats_totals s`.execute(db);
      const row = rows[0];
      if (!row) return null;
      return {
        computedAt: row.computed_at,
        figures: [
          { name: 'users', stats: row.users, live: row.live_users, createdSince: row.new_users },
          { name: 'events', stats: row.events, live: row.live_events, createdSince: row.new_events },
          { name: 'bookings', stats: row.bookings, live: row.live_bookings, createdSince: row.new_bookings },
          { name: 'photos', stats: row.photos, live: row.live_photos, createdSince: row.new_photos },
        ],
      };
    },

    async insertRun(ok: boolean, problems: Record<string, CheckResult>): Promise<IntegrityRunRow> {
      const row = await db
        .insertInto('integrity_runs')
        .values({ ok, problems: JSON.stringify(problems) })
        .returning(['id', 'ran_at', 'ok', 'problems'])
        .executeTakeFirstOrThrow();
      return row as IntegrityRunRow;
    },

    async latestRun(): Promise<IntegrityRunRow | undefined> {
      const row = await db
        .selectFrom('integrity_runs')
        .select(['id', 'ran_at', 'ok', 'problems'])
        .orderBy('ran_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row as IntegrityRunRow | undefined;
    },
  };
}

export type IntegrityRepository = ReturnType<typeof createIntegrityRepository>;
