import type { JobHandler } from '../../platform/queue/index.js';
import type { Logger } from '../../platform/observability/logger.js';
import type { BackupsService } from './backups.service.js';

/** `backup.create` (daily, and `epu jobs run backup.create`): a new backup, then retention. */
export function createBackupJob(deps: { backups: BackupsService; logger: Logger }): JobHandler {
  return async () => {
    const { manifest, pruned } = await deps.backups.create((message, data) => deps.logger.debug({ ...data }, message));
    deps.logger.info({ backupId: manifest.id, bytes: manifest.totalBytes, pruned }, 'scheduled backup done');
  };
}

/**
 * `backup.copy` (queued after each backup when BACKUP_COPY_URL is set, and
 * `epu jobs run backup.copy`): copies every backup the second region lacks
 * and verifies it; a failed copy fails the job, which the queue retries.
 */
export function createBackupCopyJob(deps: { backups: BackupsService; logger: Logger }): JobHandler {
  return async () => {
    const { copied, pruned } = await deps.backups.copyToSecondRegion((message, data) => deps.logger.debug({ ...data }, message));
    deps.logger.info({ copied, pruned }, 'backups copied to the second region');
    return { copied, pruned };
  };
}
