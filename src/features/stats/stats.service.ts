import type { Logger } from '../../platform/observability/logger.js';
import { type StatsRepository, utcDay } from './stats.repository.js';

export const STATS_AGGREGATE_JOB = 'stats.aggregate';
/** How many days of the daily series the API and the page show. */
export const DAILY_SERIES_DAYS = 30;

export interface StatsJson {
  /** Null until the stats.aggregate job has run once. */
  computedAt: string | null;
  totals: { users: number; events: number; bookings: number; photos: number; storageBytes: number };
  daily: { day: string; signups: number; bookings: number; uploads: number }[];
}

export interface AggregateReport {
  from: string;
  to: string;
  days: number;
  totals: StatsJson['totals'];
}

const previousDay = (day: string): string => utcDay(new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000));

/**
 * Recounts only the days that can still change: from the newest day already
 * aggregated (or yesterday, whichever is earlier) to today, so a run after a
 * pause fills the gap; the first run backfills from the first activity.
 * Rerunning gives the same rows: every write is an upsert.
 */
export async function aggregateStats(repo: StatsRepository, now: Date, logger?: Logger): Promise<AggregateReport> {
  const today = utcDay(now);
  const yesterday = previousDay(today);
  const last = await repo.lastAggregatedDay();
  const from = last === null ? ((await repo.firstActivityDay()) ?? today) : last < yesterday ? last : yesterday;
  const { days, totals } = await repo.aggregate(from, today, now);
  const report: AggregateReport = {
    from,
    to: today,
    days,
    totals: {
      users: totals.users,
      events: totals.events,
      bookings: totals.bookings,
      photos: totals.photos,
      storageBytes: totals.storage_bytes,
    },
  };
  logger?.info(report, 'stats aggregated');
  return report;
}

export function createStatsService(deps: { repo: StatsRepository; logger?: Logger }) {
  const { repo } = deps;

  async function load(): Promise<StatsJson> {
    const [totals, daily] = await Promise.all([repo.totals(), repo.recentDays(DAILY_SERIES_DAYS)]);
    return {
      computedAt: totals?.computed_at.toISOString() ?? null,
      totals: {
        users: totals?.users ?? 0,
        events: totals?.events ?? 0,
        bookings: totals?.bookings ?? 0,
        photos: totals?.photos ?? 0,
        storageBytes: totals?.storage_bytes ?? 0,
      },
      daily,
    };
  }

  return {
    aggregate: (now = new Date()) => aggregateStats(repo, now, deps.logger),

    /**
     * The figures the last aggregate computed, read from its report tables on
     * every call (a row and a month of days): no cache, so a finished
     * aggregate shows at once in every process.
     */
    read: load,
  };
}

export type StatsService = ReturnType<typeof createStatsService>;
