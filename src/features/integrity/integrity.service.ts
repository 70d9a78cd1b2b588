import type { Logger } from '../../platform/observability/logger.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import { type CheckResult, type IntegrityRepository, type IntegrityRunRow, SAMPLE_LIMIT } from './integrity.repository.js';

export const INTEGRITY_CHECK_JOB = 'integrity.check';

/** The checks, in the order they run and are shown; the names are also the metrics' `check` label. */
export const INTEGRITY_CHECKS = [
  'missing_objects',
  'orphan_objects',
  'over_capacity',
  'event_places',
  'booked_counts',
  'photo_counts',
  'null_anomalies',
  'stats_drift',
] as const;
export type IntegrityCheck = (typeof INTEGRITY_CHECKS)[number];

export const CHECK_TITLES: Record<IntegrityCheck, string> = {
  missing_objects: 'Photos whose stored objects are missing',
  orphan_objects: 'Stored objects no photo points to',
  over_capacity: 'Events with more confirmed bookings than capacity',
  event_places: 'Event places out of step with capacity and bookings',
  booked_counts: 'Booked counts out of step with the confirmed bookings',
  photo_counts: 'Photo counts out of step with the ready photos',
  null_anomalies: 'Rows missing what their state promises',
  stats_drift: 'Stats totals drifting from live counts',
};

export interface IntegrityReport {
  id: string;
  ranAt: string;
  ok: boolean;
  checks: Record<IntegrityCheck, CheckResult>;
}

/** Uploads and renditions in flight: an object this young may not have its row yet. */
export const ORPHAN_GRACE_MS = 60 * 60_000;
/** The stats job runs every 5 minutes; totals older than this mean it has stopped. */
export const STATS_STALE_MS = 30 * 60_000;
const PHOTO_PAGE = 1_000;
const PHOTO_PREFIXES = ['originals/', 'derived/'];

export const toIntegrityReport = (run: IntegrityRunRow): IntegrityReport => ({
  id: run.id,
  ranAt: run.ran_at.toISOString(),
  ok: run.ok,
  checks: Object.fromEntries(
    INTEGRITY_CHECKS.map((check) => [check, run.problems[check] ?? { problems: 0, samples: [] }]),
  ) as IntegrityReport['checks'],
});

function collector() {
  const result: CheckResult = { problems: 0, samples: [] };
  return {
    result,
    add(sample: string) {
      result.problems++;
      if (result.samples.length < SAMPLE_LIMIT) result.samples.push(sample);
    },
  };
}

export function createIntegrityService(deps: { repo: IntegrityRepository; storage: ObjectStorage; logger?: Logger }) {
  const { repo, storage } = deps;

  /**
   * Both object checks from one pass over storage: listing the photo prefixes
   * costs one request per thousand objects on S3, where a HEAD per photo would
   * cost one each. Rows created (or made ready) after the listing began are
   * skipped, since their objects may postdate it.
   */
  async function objectChecks(now: Date): Promise<{ missing: CheckResult; orphans: CheckResult }> {
    const listedAt = new Date();
    const stored = new Map<string, Date>();
    for (const prefix of PHOTO_PREFIXES) for await (const object of storage.list(prefix)) stored.set(object.key, object.lastModified);

    const missing = collector();
    let afterId: string | null = null;
    for (;;) {
      const photos = await repo.photoKeys(afterId, PHOTO_PAGE);
      for (const photo of photos) {
        const expected: [string, string | null][] = [];
        // A failed photo may have failed because its original never arrived; its keys still count as referenced.
        if (photo.status !== 'failed' && photo.created_at < listedAt) expected.push(['original', photo.original_key]);
        if (photo.status === 'ready' && photo.ready_at && photo.ready_at < listedAt) {
          expected.push(['thumbnail', photo.thumbnail_key], ['display rendition', photo.display_key]);
        }
        for (const [what, key] of expected) if (key && !stored.has(key)) missing.add(`photo ${photo.id}: ${what} ${key} is missing`);
        for (const key of [photo.original_key, photo.thumbnail_key, photo.display_key]) if (key) stored.delete(key);
      }
      if (photos.length < PHOTO_PAGE) break;
      afterId = photos.at(-1)!.id;
    }

    // What is left is referenced by no processing or ready photo.
    const orphans = collector();
    const graceCutoff = now.getTime() - ORPHAN_GRACE_MS;
    for (const [key, lastModified] of stored) if (lastModified.getTime() < graceCutoff) orphans.add(`object ${key}: no photo points to it`);
    return { missing: missing.result, orphans: orphans.result };
  }

  async function statsDrift(now: Date): Promise<CheckResult> {
    const found = collector();
    const comparison = await repo.statsComparison();
    // Before the first aggregation (a new install) there is nothing to drift from.
    if (!comparison) return found.result;
    if (now.getTime() - comparison.computedAt.getTime() > STATS_STALE_MS) {
      found.add(`stats were last computed at ${comparison.computedAt.toISOString()}: is stats.aggregate running?`);
    }
    // Rows created since the stats explain a higher live count; rows deleted
    // since explain a lower one. A live count above both is rows the stats missed.
    for (const figure of comparison.figures) {
      if (figure.live > figure.stats + figure.createdSince) {
        found.add(`${figure.name}: ${figure.live} live, but stats say ${figure.stats} and only ${figure.createdSince} were created since`);
      }
    }
    return found.result;
  }

  /** A check that throws is reported as one problem with its error, and the others still run. */
  async function guarded(check: IntegrityCheck, run: () => Promise<CheckResult>): Promise<CheckResult> {
    try {
      return await run();
    } catch (error) {
      deps.logger?.warn({ err: error, check }, 'integrity check could not run');
      return { problems: 1, samples: [], error: (error as Error).message };
    }
  }

  return {
    /** Runs every check, stores the run, and returns it. */
    async run(now = new Date()): Promise<IntegrityReport> {
      let objects: { missing: CheckResult; orphans: CheckResult } | undefined;
      const objectResult = async (which: 'missing' | 'orphans') => (objects ??= await objectChecks(now))[which];
      const checks = {} as Record<IntegrityCheck, CheckResult>;
      const runners: Record<IntegrityCheck, () => Promise<CheckResult>> = {
        missing_objects: () => objectResult('missing'),
        orphan_objects: () => objectResult('orphans'),
        over_capacity: () => repo.overCapacity(),
        event_places: () => repo.eventPlaces(),
        booked_counts: () => repo.bookedCounts(),
        photo_counts: () => repo.photoCounts(),
        null_anomalies: () => repo.nullAnomalies(now),
        stats_drift: () => statsDrift(now),
      };
      for (const check of INTEGRITY_CHECKS) checks[check] = await guarded(check, runners[check]);
      const ok = INTEGRITY_CHECKS.every((check) => checks[check].problems === 0);
      return toIntegrityReport(await repo.insertRun(ok, checks));
    },

    async latest(): Promise<IntegrityReport | null> {
      const run = await repo.latestRun();
      return run ? toIntegrityReport(run) : null;
    },

    /** Problems per check of the latest run, for collectIntegrityProblems (metrics read at scrape time). */
    async latestProblemCounts(): Promise<Record<string, number>> {
      const run = await repo.latestRun();
      return run ? Object.fromEntries(INTEGRITY_CHECKS.map((check) => [check, run.problems[check]?.problems ?? 0])) : {};
    },
  };
}

export type IntegrityService = ReturnType<typeof createIntegrityService>;
