// The backups' own figures on the platform's metrics registry. The names are a
// contract: the alerts in deploy/observability/ are written against them.
import type { Logger } from '../../platform/observability/logger.js';
import { unixSeconds, type Metrics } from '../../platform/observability/metrics.js';
import { cached } from '../../platform/observability/scrape.js';

export interface BackupMetrics {
  backupSucceeded(at: Date | number): void;
  drillSucceeded(at: Date | number): void;
  /** When the newest verified copy in the second region was taken (only where backups are copied). */
  copyVerified(at: Date | number): void;
}

/** Where the figures come from after a restart: the backups service. */
export interface BackupAgeSources {
  lastBackupAt(): Promise<Date | null>;
  lastDrillAt(): Promise<Date | null>;
  lastCopiedBackupAt(): Promise<Date | null>;
}

/**
 * Registers the backup, drill and copy timestamps (registering again returns the same
 * gauges). `copies`: backups are copied to a second region (BACKUP_COPY_URL).
 */
export function backupMetrics(metrics: Pick<Metrics, 'gauge'>, options: { copies: boolean }): BackupMetrics {
  // 0 until known: the alerts treat "never" as very old, and take the max over processes.
  const backup = metrics.gauge({
    name: 'epu_backup_last_success_timestamp_seconds',
    help: 'Unix time of the last successful backup; 0 when not known.',
    aggregator: 'max',
  });
  const drill = metrics.gauge({
    name: 'epu_drill_last_success_timestamp_seconds',
    help: 'Unix time of the last successful restore drill; 0 when not known.',
    aggregator: 'max',
  });
  // Only where copies are made: without a second region there is no copy to be old.
  const copy = options.copies
    ? metrics.gauge({
        name: 'epu_backup_copy_last_success_timestamp_seconds',
        help: 'Unix time the newest backup with a verified copy in the second region (BACKUP_COPY_URL) was taken; 0 when not known.',
      })
    : null;
  return {
    backupSucceeded: (at) => backup.set(unixSeconds(at)),
    drillSucceeded: (at) => drill.set(unixSeconds(at)),
    copyVerified: (at) => copy?.set(unixSeconds(at)),
  };
}

/**
 * Backup, drill and copy ages read from storage and the database at scrape time
 * (cached for `ttlMs`, default 30 s), so that a restarted process reports the
 * truth rather than 0 until the next backup.
 */
export function collectBackupAges(
  sources: BackupAgeSources,
  metrics: Pick<Metrics, 'gauge' | 'onScrape'>,
  options: { copies: boolean; ttlMs?: number; logger?: Logger },
): void {
  const gauges = backupMetrics(metrics, options);
  const read = cached(
    async () => Promise.all([sources.lastBackupAt(), sources.lastDrillAt(), sources.lastCopiedBackupAt()]),
    options.ttlMs ?? 30_000,
  );
  metrics.onScrape(async () => {
    try {
      const [backup, drill, copy] = await read();
      if (backup) gauges.backupSucceeded(backup);
      if (drill) gauges.drillSucceeded(drill);
      if (copy) gauges.copyVerified(copy);
    } catch (error) {
      options.logger?.warn({ err: error }, 'could not read backup and drill figures for metrics');
    }
  });
}
