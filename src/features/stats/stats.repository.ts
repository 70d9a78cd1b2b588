import { type Selectable, sql } from 'kysely';
import type { Db } from '../../platform/db/pool.js';
import type { StatsTotalsTable } from '../../platform/db/schema.js';
import { transaction } from '../../platform/db/transaction.js';

export interface DailyRow {
  day: string;
  signups: number;
  bookings: number;
  uploads: number;
}

export type TotalsRow = Omit<Selectable<StatsTotalsTable>, 'id'>;

/** A UTC day as 'YYYY-MM-DD'. */
export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

// One day's rows of a table, as a range on its created_at index. Days are UTC.
const DAY_START = sql`(g.day AT TIME ZONE 'UTC')`;
const DAY_END = sql`((g.day + interval '1 day') AT TIME ZONE 'UTC')`;

export function createStatsRepository(db: Db) {
  return {
    /** The newest day already aggregated; null before the first run. */
    async lastAggregatedDay(): Promise<string | null> {
      const { rows } = await sql<{ day: string | null }>`SELECT to_char(max(day), 'YYYY-MM-DD') AS day FROM stats_daily`.execute(db);
      return rows[0]?.day ?? null;
    },

    /** The first UTC day with a signup, booking or upload (three index lookups); null on an empty database. */
    async firstActivityDay(): Promise<string | null> {
      const { rows } = await sql<{ day: string | null }>`SELECT to_char(least(
          (SELECT min(created_at) FROM users WHERE deleted_at IS NULL),
          (SELECT min(created_at) FROM bookings),
          (SELECT min(created_at) FROM photos)
        ) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`.execute(db);
      return rows[0]?.day ?? null;
    },

    /**
     * Recounts the days from `from` to `to` (inclusive, UTC) and upserts them,
     * with the totals, in one repeatable-read transaction: every figure comes
     * from the same snapshot. Each day is three index range scans; the totals
     * are index-only counts (see docs/decisions/0011-stats-and-integrity.md).
     */
    aggregate(from: string, to: string, now: Date): Promise<{ days: number; totals: TotalsRow }> {
      return transaction(
        db,
        async (tx) => {
          const days = await sql`INSERT INTO stats_daily (day, signups, bookings, uploads, computed_at)
            SELECT g.day::date,
              (SELECT count(*) FROM users u WHERE u.deleted_at IS NULL AND u.created_at >= ${DAY_START} AND u.created_at < ${DAY_END}),
              (SELECT count(*) FROM bookings b WHERE b.created_at >= ${DAY_START} AND b.created_at < ${DAY_END}),
              (SELECT count(*) FROM photos p WHERE p.created_at >= ${DAY_START} AND p.created_at < ${DAY_END}),
              ${now}
            FROM generate_series(${from}::timestamp, ${to}::timestamp, interval '1 day') AS g(day)
            ON CONFLICT (day) DO UPDATE SET
              signups = EXCLUDED.signups, bookings = EXCLUDED.bookings, uploads = EXCLUDED.uploads, computed_at = EXCLUDED.computed_at`.execute(
            tx,
          );
          const totals = await sql<TotalsRow>`INSERT INTO stats_totals (id, users, events, bookings, photos, storage_bytes, computed_at)
            SELECT true,
              (SELECT count(*) FROM users WHERE deleted_at IS NULL),
              (SELECT count(*) FROM events),
              (SELECT count(*) FROM bookings WHERE status = 'confirmed'),
              (SELECT count(*) FROM photos),
              (SELECT coalesce(sum(bytes), 0) FROM photos) + (SELECT coalesce(sum(bytes), 0) FROM exports WHERE object_key IS NOT NULL),
              ${now}
            ON CONFLICT (id) DO UPDATE SET
              users = EXCLUDED.users, events = EXCLUDED.events, bookings = EXCLUDED.bookings, photos = EXCLUDED.photos,
              storage_bytes = EXCLUDED.storage_bytes, computed_at = EXCLUDED.computed_at
            RETURNING users, events, bookings, photos, storage_bytes, computed_at`.execute(tx);
          return { days: Number(days.numAffectedRows ?? 0), totals: totals.rows[0]! };
        },
        { isolationLevel: 'repeatable read' },
      );
    },

    totals(): Promise<TotalsRow | undefined> {
      return db
        .selectFrom('stats_totals')
        .select(['users', 'events', 'bookings', 'photos', 'storage_bytes', 'computed_at'])
        .executeTakeFirst();
    },

    /** The newest `limit` days, oldest first. */
    async recentDays(limit: number): Promise<DailyRow[]> {
      const { rows } = await sql<DailyRow>`SELECT to_char(day, 'YYYY-MM-DD') AS day, signups, bookings, uploads
        FROM stats_daily ORDER BY stats_daily.day DESC LIMIT ${limit}`.execute(db);
      return rows.reverse();
    },
  };
}

export type StatsRepository = ReturnType<typeof createStatsRepository>;
