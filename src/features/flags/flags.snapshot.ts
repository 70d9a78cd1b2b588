// The in-memory copy of every flag in each process, and the change
// announcements that keep the copies within seconds of the table.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../platform/observability/logger.js';
import type { ChangeBus } from '../../platform/pubsub/index.js';
import type { FlagRow, FlagsRepository } from './flags.repository.js';
import type { FlagRule } from './flags.rollout.js';

export const FLAGS_CHANNEL = 'epu_flags';

const toRule = (row: FlagRow): FlagRule => ({ name: row.name, enabled: row.enabled, rolloutPercentage: row.rollout_percentage });

export interface FlagsSnapshotDeps {
  repo: Pick<FlagsRepository, 'listAll'>;
  bus: ChangeBus;
  logger: Logger;
  refreshIntervalMs?: number;
  /**
   * Called once the copy in memory holds a change (reloaded, or made here), so
   * that anything rendered from the old copy (public pages) can go. Not before:
   * a page rendered between the announcement and the reload would show the old state.
   */
  onChange?: () => void;
}

/**
 * The copy is loaded on `start()` (or the first read), reloaded when any
 * process announces a change on the bus, when the bus reconnects, and before a
 * read that finds it older than `refreshIntervalMs` (the safety net for an
 * announcement that never arrived). When the database cannot be read, the last
 * copy stays in use; before any copy exists, every flag is off.
 */
export function createFlagsSnapshot(deps: FlagsSnapshotDeps) {
  const { repo, bus, logger } = deps;
  const refreshIntervalMs = deps.refreshIntervalMs ?? 30_000;
  // After a failed reload, wait this long before the next try, so that a
  // database outage does not add a failing query to every request.
  const retryAfterFailureMs = Math.min(5_000, refreshIntervalMs);

  let cache = new Map<string, FlagRule>();
  let nextRefreshAt = 0;
  let loaded = false;
  let started: Promise<void> | null = null;
  let unsubscribe: (() => void) | null = null;
  let inFlight: Promise<void> | null = null;
  let again = false;

  /** Reloads every flag; a request made during a reload runs one more after it, since the change may have landed after its read. */
  function refresh(): Promise<void> {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        do {
          again = false;
          const rows = await repo.listAll();
          const next = new Map(rows.map((row) => [row.name, toRule(row)]));
          const changed = loaded && !isDeepStrictEqual(next, cache);
          cache = next;
          if (changed) deps.onChange?.();
          loaded = true;
          nextRefreshAt = Date.now() + refreshIntervalMs;
        } while (again);
      } catch (error) {
        nextRefreshAt = Date.now() + retryAfterFailureMs;
        throw error;
      }
    })().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  const refreshQuietly = (reason: string) =>
    refresh().catch((error) => logger.warn({ err: error, reason }, 'could not reload feature flags; using the copy in memory'));

  function start(): Promise<void> {
    started ??= (async () => {
      try {
        unsubscribe = await bus.subscribe(FLAGS_CHANNEL, () => void refreshQuietly('change announced'), {
          onResync: () => void refreshQuietly('bus reconnected'),
        });
      } catch (error) {
        logger.warn({ err: error }, 'could not subscribe to flag changes; reloading every 30 s only');
      }
      await refreshQuietly('start');
    })();
    return started;
  }

  return {
    start,
    refresh,

    /** The rule of every flag, reloaded first when the copy is older than the refresh interval. */
    async current(): Promise<Map<string, FlagRule>> {
      await start();
      if (Date.now() >= nextRefreshAt) await refreshQuietly(loaded ? 'copy older than the refresh interval' : 'not loaded yet');
      return cache;
    },

    /** A change stored by this process: held here at once, then announced so that every other process reloads. */
    async changed(row: FlagRow): Promise<void> {
      cache.set(row.name, toRule(row));
      deps.onChange?.();
      try {
        await bus.publish(FLAGS_CHANNEL, JSON.stringify({ name: row.name }));
      } catch (error) {
        // The change is stored; other processes pick it up on their periodic reload.
        logger.warn(
          { err: error, flag: row.name, bus: bus.kind },
          'could not announce a flag change; other processes will see it within 30 s',
        );
      }
    },

    /** Stops listening for changes; the bus's own connections close with the platform. */
    stop(): void {
      unsubscribe?.();
      unsubscribe = null;
    },
  };
}

export type FlagsSnapshot = ReturnType<typeof createFlagsSnapshot>;
