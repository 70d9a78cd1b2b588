import type { Config } from '../../config/env.js';
import type { Db } from '../../platform/db/pool.js';
import { AppError } from '../../platform/http/errors.js';
import { type ContentChanges, PAGE_TAGS } from '../../platform/http/public-pages.js';
import type { Logger } from '../../platform/observability/logger.js';
import type { Queue } from '../../platform/queue/index.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ExportsService } from '../exports/exports.service.js';
import { deleteObjects, type PhotosService } from '../photos/photos.service.js';
import type { RetentionRepository } from './retention.repository.js';
import { transaction } from '../../platform/db/transaction.js';

export const RETENTION_SWEEP_JOB = 'retention.sweep';

/** The retention policy (docs/decisions/0010-retention-and-gdpr.md); the first three are dials, the rest fixed. */
export interface RetentionPolicy {
  /** Audit entries older than this are deleted. The audit table refuses deleting entries younger than 30 days. */
  auditDays: number;
  /** An export's archive lives this long after it is ready (set on the export when built). */
  exportHours: number;
  /** A deleted (anonymised) account's row is removed this long after the deletion. */
  deletedAccountDays: number;
  finishedJobDays: number;
  endedSessionHours: number;
  stuckPhotoMinutes: number;
}

/** Enforced by audit_log's trigger (migrations/0004): entries younger than this can never be deleted. */
export const AUDIT_FLOOR_DAYS = 30;

export function retentionPolicy(config: Pick<Config, 'retention'>): RetentionPolicy {
  return {
    auditDays: Math.max(AUDIT_FLOOR_DAYS, config.retention.auditDays),
    exportHours: config.retention.exportHours,
    deletedAccountDays: config.retention.deletedAccountDays,
    finishedJobDays: 7,
    endedSessionHours: 24,
    stuckPhotoMinutes: 60,
  };
}

/** What one sweep removed (or changed), by kind. */
export interface SweepReport {
  deletedAccounts: number;
  auditEntries: number;
  exportObjects: number;
  stuckPhotosFailed: number;
  finishedJobs: number;
  sessions: number;
  rateLimits: number;
}

export interface AccountDeletion {
  userId: string;
  bookingsCancelled: number;
  events: number;
  photos: number;
  exports: number;
  objects: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Object deletions in flight at once. */
const DELETE_CONCURRENCY = 16;

/** Deletes objects a few at a time; a failure leaves an orphan for the integrity check to report. */
async function deleteKeys(storage: ObjectStorage, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) await deleteObjects(storage, keys.slice(i, i + DELETE_CONCURRENCY));
}

export function createRetentionService(deps: {
  db: Db;
  repo: RetentionRepository;
  exports: Pick<ExportsService, 'deleteExpired'>;
  photos: Pick<PhotosService, 'failStuck'>;
  queue: Pick<Queue, 'deleteFinishedBefore'>;
  storage: ObjectStorage;
  audit: Pick<AuditService, 'record' | 'deleteOlderThan'>;
  /** A deleted account's events, photos and name leave every public page. */
  pages: ContentChanges;
  policy: RetentionPolicy;
  logger?: Logger;
}) {
  const { repo, storage, policy } = deps;

  return {
    policy,

    /**
     * DELETE /me: at once, the account is anonymised and its sessions end; its
     * bookings of upcoming events are cancelled (freeing the places); its
     * uploads, exports and hosted events (with their photos) are deleted, and
     * `user.delete` is audited, all in one transaction. The objects are
     * deleted after it commits. The anonymised row goes with the sweep.
     */
    async deleteAccount(userId: string, now = new Date()): Promise<AccountDeletion> {
      const erased = await transaction(deps.db, async (tx) => {
        const rows = await repo.eraseAccount(tx, userId, now);
        if (!rows) return null;
        await deps.audit.record(
          {
            action: 'user.delete',
            actorId: userId,
            subjectType: 'user',
            subjectId: userId,
            metadata: { bookingsCancelled: rows.bookingsCancelled, events: rows.events, photos: rows.photos, exports: rows.exports },
          },
          tx,
        );
        return rows;
      });
      if (!erased) throw new AppError('not_found', 'No such account.');
      deps.pages.announce(PAGE_TAGS.all);
      await deleteKeys(storage, erased.objectKeys);
      const { objectKeys, ...counts } = erased;
      const deletion: AccountDeletion = { userId, ...counts, objects: objectKeys.length };
      deps.logger?.info(deletion, 'account deleted');
      return deletion;
    },

    /**
     * Applies the policy once. Every step runs even if an earlier one fails;
     * the sweep then fails (and is retried) naming the steps that did not run.
     */
    async sweep(now = new Date()): Promise<SweepReport> {
      const steps: [keyof SweepReport, () => Promise<number>][] = [
        ['deletedAccounts', () => repo.deleteAccountsDeletedBefore(new Date(now.getTime() - policy.deletedAccountDays * DAY))],
        ['auditEntries', () => deps.audit.deleteOlderThan(new Date(now.getTime() - policy.auditDays * DAY))],
        ['exportObjects', () => deps.exports.deleteExpired(now)],
        ['stuckPhotosFailed', () => deps.photos.failStuck(new Date(now.getTime() - policy.stuckPhotoMinutes * 60_000))],
        ['finishedJobs', () => deps.queue.deleteFinishedBefore(new Date(now.getTime() - policy.finishedJobDays * DAY))],
        ['sessions', () => repo.deleteSessionsEndedBefore(new Date(now.getTime() - policy.endedSessionHours * HOUR))],
        ['rateLimits', () => repo.deleteExpiredRateLimits(now)],
      ];
      const report = {} as SweepReport;
      const failed: string[] = [];
      for (const [name, step] of steps) {
        try {
          report[name] = await step();
        } catch (error) {
          deps.logger?.error({ err: error, step: name }, 'retention step failed');
          failed.push(`${name}: ${(error as Error).message}`);
        }
      }
      deps.logger?.info({ removed: report }, 'retention sweep');
      if (failed.length) throw new Error(`retention sweep incomplete (${failed.join('; ')})`);
      return report;
    },
  };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
