import { AppError } from '../../platform/http/errors.js';
import type { Logger } from '../../platform/observability/logger.js';
import type { FlagRow, FlagsRepository } from './flags.repository.js';
import { evaluateFlag, flagState, type FlagState } from './flags.rollout.js';
import { FLAG_NAME_PATTERN, storeFlagUpdate, type ChangeContext, type FlagUpdate, type RecordAudit } from './flags.rules.js';
import { createFlagsSnapshot, type FlagsSnapshotDeps } from './flags.snapshot.js';

export type { ChangeContext, FlagAuditEntry, FlagUpdate, RecordAudit } from './flags.rules.js';

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

/**
 * Feature flags: the update rules (flags.rules.ts) over an in-memory copy of
 * every flag in each process (flags.snapshot.ts), which change announcements
 * keep within seconds of the table. Reads never touch the database on the hot
 * path: `isEnabled` answers from memory.
 */
export function createFlagsService(
  deps: FlagsSnapshotDeps & {
    repo: FlagsRepository;
    logger: Logger;
    recordAudit: RecordAudit;
  },
) {
  const { repo, logger } = deps;
  const snapshot = createFlagsSnapshot(deps);

  return {
    start: snapshot.start,

    /** Whether the flag is on for this user (null: an anonymous visitor). Never throws. */
    async isEnabled(name: string, userId: string | null): Promise<boolean> {
      return evaluateFlag((await snapshot.current()).get(name), userId);
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
     * `flag.update` audit entry in the same transaction, then held in this
     * process's copy and announced to every process; a request that changes
     * nothing stores, audits and announces nothing.
     */
    async update(name: string, input: FlagUpdate, context: ChangeContext): Promise<{ flag: FlagJson; created: boolean; changed: boolean }> {
      const outcome = await storeFlagUpdate(deps, name, input, context);
      if (outcome.changed) {
        await snapshot.changed(outcome.row);
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
    refresh: snapshot.refresh,

    /** Stops listening for changes; the bus's own connections close with the platform. */
    stop: snapshot.stop,
  };
}

export type FlagsService = ReturnType<typeof createFlagsService>;
