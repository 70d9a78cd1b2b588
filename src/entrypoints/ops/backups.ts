import type { Config } from '../../config/env.js';
import { createBackupCopyStorage, createBackupStorage, createPlatform, createRootLogger, createServices } from '../../app.js';
import { createReporter, type Reporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { createKeyring, resolveSecretKeys } from '../../platform/security/keyring.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import { createStorage } from '../../platform/storage/create-storage.js';
import { operandsOf, parseCommandArgs, storageUrlOption, UsageError } from '../../platform/cli/args.js';
import { listBackups, readManifest, restoreBackup, type RestoreReport } from '../../features/backups/backups.restore.js';
import { formatBytes } from '../../features/backups/backups.snapshot.js';
import type { DrillResult } from '../../features/backups/backups.service.js';

const quietLogger = (config: Config) => createRootLogger({ ...config, logLevel: 'warn' }, 'cli');

/**
 * Restore and list read object storage only: they must work while the
 * database is the thing that is gone. `media` opens STORAGE_URL's store, for
 * a backup that brings media objects (a scrubbed copy's placeholders).
 */
async function withStorage<T>(
  config: Config,
  options: { fromCopy: boolean },
  work: (storage: ObjectStorage, media: () => ObjectStorage) => Promise<T>,
): Promise<T> {
  const logger = quietLogger(config);
  const keyring = createKeyring(resolveSecretKeys(config));
  const storage = options.fromCopy ? createBackupCopyStorage(config, keyring, logger) : createBackupStorage(config, keyring, logger);
  if (!storage) throw new UsageError('BACKUP_COPY_URL is not set: there are no copies in a second region');
  let media: ObjectStorage | undefined;
  try {
    return await work(storage, () => (media ??= createStorage(config, keyring, logger)));
  } finally {
    await media?.close();
    await storage.close();
  }
}

function databaseUrlOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(value)) throw new UsageError('--database-url needs a postgres:// URL');
  return value;
}

/** The per-table verification table, one line per table, then the verdict. */
function reportTables(report: Reporter, result: RestoreReport): void {
  const width = Math.max(0, ...result.tables.map((check) => check.table.length));
  for (const check of result.tables) {
    const rows = check.rows === null ? 'not loaded' : `${check.rows}/${check.expectedRows} rows`;
    const verdict = check.ok ? 'ok' : `FAILED: ${check.problem ?? 'not verified'}`;
    report.step(`${check.table.padEnd(width)}  ${rows.padEnd(16)}  ${verdict}`, {
      table: check.table,
      ok: check.ok,
      rows: check.rows,
      expectedRows: check.expectedRows,
      checksum: check.checksum,
      expectedChecksum: check.expectedChecksum,
    });
  }
}

/** `epu backup`: a consistent, compressed logical backup into object storage (the deploy's pre-deploy snapshot too). */
export async function runBackup(config: Config): Promise<void> {
  const report: Reporter = createReporter('backup');
  const platform = await createPlatform(config, 'cli', quietLogger(config));
  try {
    // No schema check: the pre-deploy snapshot runs the new release against the old schema, before `epu migrate`.
    const { manifest, pruned } = await createServices(platform).backups.create((message, data) => report.step(message, data));
    report.result(
      `backup ${manifest.id}: ${manifest.tables.length} tables, ${manifest.totalRows} rows, ${formatBytes(manifest.totalBytes)} in ${(manifest.durationMs / 1000).toFixed(1)} s`,
      {
        backupId: manifest.id,
        schemaVersion: manifest.schemaVersion,
        tables: manifest.tables.length,
        rows: manifest.totalRows,
        bytes: manifest.totalBytes,
        durationMs: manifest.durationMs,
        pruned,
      },
    );
  } finally {
    await platform.close();
  }
}

const BACKUPS_USAGE = 'usage: epu backups [--copy]';

/** `epu backups [--copy]`: complete backups in storage (or verified copies in the second region), newest first. */
export async function runBackups(config: Config, args: string[]): Promise<void> {
  const report: Reporter = createReporter('backups');
  const { values, positionals } = parseCommandArgs(args, { copy: { type: 'boolean' } }, BACKUPS_USAGE);
  operandsOf(positionals, [], BACKUPS_USAGE);
  const fromCopy = values.copy === true;
  await withStorage(config, { fromCopy }, async (storage) => {
    const backups = await listBackups(storage);
    for (const backup of backups) {
      report.step(
        `${backup.id}  ${backup.createdAt}  schema ${backup.schemaVersion}  ${backup.totalRows} rows  ${formatBytes(backup.totalBytes)}${backup.scrubbedFrom ? `  scrubbed copy of ${backup.scrubbedFrom}` : ''}`,
        { ...backup, ...(fromCopy ? { verifiedCopy: true } : {}) },
      );
    }
    report.result(`${backups.length} ${fromCopy ? 'verified cop(ies) in the second region' : 'backup(s)'}`, { count: backups.length });
  });
}

const RESTORE_USAGE = 'usage: epu restore BACKUP_ID --database-url URL [--force] [--from-copy]';

/** `epu restore BACKUP_ID --database-url URL [--force] [--from-copy]`. */
export async function runRestore(config: Config, args: string[]): Promise<void> {
  const report: Reporter = createReporter('restore');
  const { values, positionals } = parseCommandArgs(
    args,
    { 'database-url': { type: 'string' }, force: { type: 'boolean' }, 'from-copy': { type: 'boolean' } },
    RESTORE_USAGE,
  );
  const [id] = operandsOf(positionals, ['BACKUP_ID'], RESTORE_USAGE) as [string];
  const targetUrl = databaseUrlOption(values['database-url']);
  if (!targetUrl) throw new UsageError(`missing --database-url; ${RESTORE_USAGE}`, 2);
  await withStorage(config, { fromCopy: values['from-copy'] === true }, async (storage, media) => {
    const manifest = await readManifest(storage, id);
    report.step(
      `restoring backup ${manifest.id} (schema ${manifest.schemaVersion}, ${manifest.totalRows} rows, ${formatBytes(manifest.totalBytes)})`,
      { backupId: manifest.id },
    );
    const result = await restoreBackup({
      storage,
      manifest,
      targetUrl,
      force: values.force === true,
      logger: quietLogger(config),
      onProgress: (message, data) => report.step(message, data),
      analyze: true,
      mediaStorage: manifest.media ? media() : undefined,
    });
    reportTables(report, result);
    if (!result.ok) report.fail(`restore of ${manifest.id} failed, nothing was committed: ${result.reason}`, { backupId: manifest.id });
    report.result(`restored ${manifest.id}: ${manifest.tables.length} tables verified in ${(result.durationMs / 1000).toFixed(1)} s`, {
      backupId: manifest.id,
      durationMs: result.durationMs,
    });
  });
}

const DRILL_USAGE = 'usage: epu drill [--database-url URL] [--from-copy]';

/**
 * `epu drill [--database-url URL] [--from-copy]`: restore the newest backup (or
 * verified copy in the second region) into a scratch database, verify, record;
 * non-zero on any mismatch.
 */
export async function runDrill(config: Config, args: string[]): Promise<void> {
  const report: Reporter = createReporter('drill');
  const { values, positionals } = parseCommandArgs(
    args,
    { 'database-url': { type: 'string' }, 'from-copy': { type: 'boolean' } },
    DRILL_USAGE,
  );
  operandsOf(positionals, [], DRILL_USAGE);
  const databaseUrl = databaseUrlOption(values['database-url']);
  const fromCopy = values['from-copy'] === true;
  if (fromCopy && !config.backupCopy) throw new UsageError('BACKUP_COPY_URL is not set: there are no copies in a second region to drill');
  const platform = await createPlatform(config, 'cli', quietLogger(config));
  let result: DrillResult;
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    result = await createServices(platform).backups.drill({
      databaseUrl,
      fromCopy,
      onProgress: (message, data) => report.step(message, data),
    });
  } finally {
    // Before exiting, failed or not: an embedded PostgreSQL this process started is stopped here.
    await platform.close();
  }
  reportTables(report, result);
  const data = { backupId: result.backupId, drillId: result.drillId, durationMs: result.durationMs, source: fromCopy ? 'copy' : 'backups' };
  const what = fromCopy ? 'the copy of backup' : 'backup';
  if (!result.ok) report.fail(`drill of ${what} ${result.backupId} FAILED: ${result.reason}`, data);
  report.result(
    `drill of ${what} ${result.backupId} passed: ${result.tables.length} tables match the manifest (${(result.durationMs / 1000).toFixed(1)} s)`,
    data,
  );
}

const SCRUB_USAGE = 'usage: epu scrub BACKUP_ID [--to STORAGE_URL] [--database-url URL]';

/** `epu scrub BACKUP_ID [--to STORAGE_URL] [--database-url URL]`: a copy without personal data, for staging. */
export async function runScrub(config: Config, args: string[]): Promise<void> {
  const report: Reporter = createReporter('scrub');
  const { values, positionals } = parseCommandArgs(args, { to: { type: 'string' }, 'database-url': { type: 'string' } }, SCRUB_USAGE);
  const [id] = operandsOf(positionals, ['BACKUP_ID'], SCRUB_USAGE) as [string];
  const to = values.to === undefined ? undefined : storageUrlOption('--to', values.to);
  const databaseUrl = databaseUrlOption(values['database-url']);
  const platform = await createPlatform(config, 'cli', quietLogger(config));
  const target = to ? createBackupStorage({ ...config, backupStorageUrl: to }, platform.keyring, platform.logger) : undefined;
  try {
    const result = await createServices(platform).backups.scrub(id, {
      target,
      databaseUrl,
      onProgress: (message, data) => report.step(message, data),
    });
    report.result(
      `scrubbed copy ${result.backupId} of backup ${id}: ${result.manifest.totalRows} rows, ${result.photosReplaced} photos replaced by placeholders, ${formatBytes(result.manifest.totalBytes + (result.manifest.media?.bytes ?? 0))} in ${(result.durationMs / 1000).toFixed(1)} s; restore it with \`epu restore ${result.backupId} --database-url URL\``,
      {
        backupId: result.backupId,
        sourceBackupId: id,
        destination: to ?? 'backups',
        rows: result.manifest.totalRows,
        changed: result.changed,
        photosReplaced: result.photosReplaced,
        photosWithoutDimensions: result.photosWithoutDimensions,
        renditions: result.renditions,
        mediaObjects: result.manifest.media?.objects ?? 0,
        durationMs: result.durationMs,
        pruned: result.pruned,
      },
    );
  } finally {
    await target?.close();
    await platform.close();
  }
}
