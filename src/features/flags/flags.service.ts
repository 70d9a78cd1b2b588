import { isDeepStrictEqual } from 'node:util';
import type { Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/http/errors.js';
import type { Logger } from '../../platform/observability/logger.js';
import type { ChangeBus } from '../../platform/pubsub/index.js';
import type { FlagRow, FlagsRepository, FlagValues } from './flags.repository.js';
import { evaluateFlag, type FlagRule, flagState, type FlagState } from './flags.rollout.js';

export const FLAGS_CHANNEL = 'epu_flags';
export const FLAG_NAME_PATTERN = /^[a-z][a-z0-9_.-]{1,63}$/;
const MAX_METADATA_BYTES = 8 * 1024;
const MAX_METADATA_DEPTH = 10;

/** Whether arrays and objects nest more than `limit` levels deep in `value` (walked with a stack, not recursion). */
function nestingExceeds(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * The flags that gate real features. Seeded by migrations/0003_feature_flags.sql;
 * a flag missing from the table is off.
 */
export const FLAGS = {
  /** The counters block on the home page (and its counting query). */
  homeCounters: 'home.counters',
  /** Photo uploads to event galleries: off, the upload form is hidden and the upload API refuses new photos. */
  photosUploads: 'photos.uploads',
} as const;

/** A flag's row id on /admin/flags (the audit trail links to it). */
export const flagAnchor = (name: string) => `flag-${name.replace(/[^a-z0-9]/g, '-')}`;

export interface FlagJson {
  name: string;
  enabled: boolean;
  rolloutPercentage: number;
  description: string | null;
  metadata: Record<string, unknown>;
  /** fully on, fully off or partial */
  state: FlagState;
  stateSince: string;
  updatedAt: string;
  updatedBy: string | null;
}

export interface StaleFlagJson extends FlagJson {
  /** Whole days in the current state. */
  days: number;
}

export interface FlagUpdate {
  enabled: boolean;
  /** Unset: kept (100 for a new flag). */
  rolloutPercentage?: number;
  /** Unset: kept. */
  description?: string | null;
  /** Unset: kept. */
  metadata?: Record<string, unknown>;
}

export interface ChangeContext {
  actorId: string | null;
  requestId: string | null;
  via: 'api' | 'page' | 'cli';
}

export interface FlagAuditEntry {
  action: 'flag.update';
  actorId: string | null;
  subjectType: 'flag';
  subjectId: string;
  requestId: string | null;
  /** Ids, names and numbers only. */
  metadata?: Record<string, string | number | boolean | null>;
}

/** Records an audit entry; given the change's transaction, the entry is stored with the change or not at all. */
export type RecordAudit = (entry: FlagAuditEntry, executor?: Transaction<Database>) => Promise<void>;

export function toFlagJson(row: FlagRow): FlagJson {
  return {
    name: row.name,
    enabled: row.enabled,
    rolloutPercentage: row.rollout_percentage,
    description: row.description,
    metadata: row.metadata,
    state: flagState({ enabled: row.enabled, rolloutPercentage: row.rollout_percentage }),
    stateSince: row.state_since.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
  };
}

const toRule = (row: FlagRow): FlagRule => ({ name: row.name, enabled: row.enabled, rolloutPercentage: row.rollout_percentage });

export function checkFlagName(name: string): void {
  if (!FLAG_NAME_PATTERN.test(name)) {
    throw new AppError(
      'validation_failed',
      'A flag name is 2 to 64 characters: a lowercase letter, then lowercase letters, digits, ".", "_" or "-".',
      {
        details: [{ field: 'name', problem: `must match ${FLAG_NAME_PATTERN.source}` }],
      },
    );
  }
}

function checkUpdate(input: FlagUpdate): void {
  const problems: { field: string; problem: string }[] = [];
  if (typeof input.enabled !== 'boolean') problems.push({ field: 'enabled', problem: 'must be true or false' });
  const pct = input.rolloutPercentage;
  if (pct !== undefined && (!Number.isInteger(pct) || pct < 0 || pct > 100))
    problems.push({ field: 'rolloutPercentage', problem: 'must be a whole number from 0 to 100' });
  if (input.metadata !== undefined && nestingExceeds(input.metadata, MAX_METADATA_DEPTH)) {
    // Checked first, without recursion: JSON.stringify would overflow the stack on hostile nesting.
    problems.push({ field: 'metadata', problem: `must be nested at most ${MAX_METADATA_DEPTH} levels deep` });
  } else if (input.metadata !== undefined && Buffer.byteLength(JSON.stringify(input.metadata)) > MAX_METADATA_BYTES) {
    problems.push({ field: 'metadata', problem: `must be at most ${MAX_METADATA_BYTES} bytes of JSON` });
  }
  if (problems.length) throw new AppError('validation_failed', undefined, { details: problems });
}

/**
 * Feature flags: the rules, an in-memory copy of every flag in each process,
 * and the change announcements that keep the copies within seconds of the table.
 *
 * Reads never touch the database on the hot path: `isEnabled` answers from
 * memory. The copy is loaded on `start()` (or the first read), reloaded when
 * any process announces a change on the bus, when the bus reconnects, and
 * before a read that finds it older than `refreshIntervalMs` (the safety net
 * for an announcement that never arrived). When the database cannot be read,
 * the last copy stays in use; before any copy exists, every flag is off.
 */
export function createFlagsService(deps: {
  repo: FlagsRepository;
  bus: ChangeBus;
  logger: Logger;
  recordAudit: RecordAudit;
  refreshIntervalMs?: number;
  /**
   * Called once the copy in memory holds a change (reloaded, or made here), so
   * that anything rendered from the old copy (public pages) can go. Not before:
   * a page rendered between the announcement and the reload would show the old state.
   */
  onChange?: () => void;
}) {
  const { repo, bus, logger, recordAudit } = deps;
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

  async function current(): Promise<Map<string, FlagRule>> {
    await start();
    if (Date.now() >= nextRefreshAt) await refreshQuietly(loaded ? 'copy older than the refresh interval' : 'not loaded yet');
    return cache;
  }

  async function announce(name: string): Promise<void> {
    try {
      await bus.publish(FLAGS_CHANNEL, JSON.stringify({ name }));
    } catch (error) {
      // The change is stored; other processes pick it up on their periodic reload.
      logger.warn({ err: error, flag: name, bus: bus.kind }, 'could not announce a flag change; other processes will see it within 30 s');
    }
  }

  return {
    start,

    /** Whether the flag is on for this user (null: an anonymous visitor). Never throws. */
    async isEnabled(name: string, userId: string | null): Promise<boolean> {
      return evaluateFlag((await current()).get(name), userId);
    },

    async list(): Promise<FlagJson[]> {
      return (await repo.listAll()).map(toFlagJson);
    },

    async get(name: string): Promise<FlagJson> {
      const row = FLAG_NAME_PATTERN.test(name) ? await repo.find(name) : undefined;
      if (!row) throw new AppError('not_found', `There is no flag named "${name}".`);
      return toFlagJson(row);
    },

    /**
     * Creates or changes a flag. A real change is stored with exactly one
     * `flag.update` audit entry in the same transaction, then announced to
     * every process; a request that changes nothing stores, audits and
     * announces nothing.
     */
    async update(name: string, input: FlagUpdate, context: ChangeContext): Promise<{ flag: FlagJson; created: boolean; changed: boolean }> {
      checkFlagName(name);
      checkUpdate(input);
      const outcome = await repo.transaction(async (tx) => {
        let before = await tx.lock(name);
        const audit = (after: FlagRow, created: boolean) =>
          recordAudit(
            {
              action: 'flag.update',
              actorId: context.actorId,
              subjectType: 'flag',
              subjectId: name,
              requestId: context.requestId,
              metadata: {
                via: context.via,
                created,
                enabled: after.enabled,
                rolloutPercentage: after.rollout_percentage,
                previousEnabled: before?.enabled ?? null,
                previousRolloutPercentage: before?.rollout_percentage ?? null,
                state: flagState({ enabled: after.enabled, rolloutPercentage: after.rollout_percentage }),
              },
            },
            tx.executor,
          );
        if (!before) {
          const created = await tx.insert(name, {
            enabled: input.enabled,
            rolloutPercentage: input.rolloutPercentage ?? 100,
            metadata: input.metadata ?? {},
            description: input.description ?? null,
            updatedBy: context.actorId,
          });
          if (created) {
            await audit(created, true);
            return { row: created, created: true, changed: true };
          }
          before = (await tx.lock(name))!; // created by a concurrent request a moment ago
        }
        const next: FlagValues = {
          enabled: input.enabled,
          rolloutPercentage: input.rolloutPercentage ?? before.rollout_percentage,
          metadata: input.metadata ?? before.metadata,
          description: input.description !== undefined ? input.description : before.description,
          updatedBy: context.actorId,
        };
        const unchanged =
          next.enabled === before.enabled &&
          next.rolloutPercentage === before.rollout_percentage &&
          next.description === before.description &&
          isDeepStrictEqual(next.metadata, before.metadata);
        if (unchanged) return { row: before, created: false, changed: false };
        const stateChanged = flagState(next) !== flagState({ enabled: before.enabled, rolloutPercentage: before.rollout_percentage });
        const after = await tx.update(name, next, stateChanged);
        await audit(after, false);
        return { row: after, created: false, changed: true };
      });
      if (outcome.changed) {
        cache.set(name, toRule(outcome.row));
        deps.onChange?.();
        await announce(name);
        logger.info(
          { flag: name, enabled: outcome.row.enabled, rolloutPercentage: outcome.row.rollout_percentage, via: context.via },
          'feature flag changed',
        );
      }
      return { flag: toFlagJson(outcome.row), created: outcome.created, changed: outcome.changed };
    },

    /** Flags fully on or fully off for more than `days` days: candidates for removal from the code. */
    async staleReport(days = 30, now = new Date()): Promise<StaleFlagJson[]> {
      if (!Number.isInteger(days) || days < 1 || days > 3650) {
        throw new AppError('validation_failed', undefined, {
          details: [{ field: 'days', problem: 'must be a whole number from 1 to 3650' }],
        });
      }
      const rows = await repo.listSettledSince(new Date(now.getTime() - days * 86_400_000));
      return rows.map((row) => ({ ...toFlagJson(row), days: Math.floor((now.getTime() - row.state_since.getTime()) / 86_400_000) }));
    },

    /** Reloads the copy in memory now (tests, and after a restore). */
    refresh,

    /** Stops listening for changes; the bus's own connections close with the platform. */
    stop(): void {
      unsubscribe?.();
      unsubscribe = null;
    },
  };
}

export type FlagsService = ReturnType<typeof createFlagsService>;
