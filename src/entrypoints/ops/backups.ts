import type { Config } from '../../config/env.js';
import { createBackupStorage, createPlatform, createRootLogger, createServices } from '../../app.js';
import { createReporter, type Reporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { createKeyring, resolveSecretKeys } from '../../platform/security/keyring.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import { listBackups, readManifest, restoreBackup, type RestoreReport } from '../../features/backups/backups.restore.js';
import { formatBytes } from '../../features/backups/backups.snapshot.js';
import type { DrillResult } from '../../features/backups/backups.service.js';

type Args = { positional: string[]; flags: Record<string, string | true> };

const quietLogger = (config: Config) => createRootLogger({ ...config, logLevel: 'warn' }, 'cli');

/** Restore and list read object storage only: they must work while the database is the thing that is gone. */
async function withStorage<T>(config: Config, work: (storage: ObjectStorage) => Promise<T>): Promise<T> {
  const logger = quietLogger(config);
  const storage = createBackupStorage(config, createKeyring(resolveSecretKeys(config)), logger);
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

function databaseUrlFlag(args: Args): string | undefined {
  const value = args.flags['database-url'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^postgres(ql)?:\/\//.test(value)) throw new Error('--database-url needs a postgres:// URL');
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

/** `epu backups`: complete backups in storage, newest first. */
export async function runBackups(config: Config): Promise<void> {
  const report: Reporter = createReporter('backups');
  await withStorage(config, async (storage) => {
    const backups = await listBackups(storage);
    for (const backup of backups) {
      report.step(
        `${backup.id}  ${backup.createdAt}  schema ${backup.schemaVersion}  ${backup.totalRows} rows  ${formatBytes(backup.totalBytes)}`,
        { ...backup },
      );
    }
    report.result(`${backups.length} backup(s)`, { count: backups.length });
  });
}

/** `epu restore BACKUP_ID --database-url URL [--force]`. */
export async function runRestore(config: Config, args: Args): Promise<void> {
  const report: Reporter = createReporter('restore');
  const [id] = args.positional;
  const targetUrl = databaseUrlFlag(args);
  if (!id || !targetUrl) report.fail('usage: epu restore BACKUP_ID --database-url URL [--force]');
  await withStorage(config, async (storage) => {
    const manifest = await readManifest(storage, id);
    report.step(
      `restoring backup ${manifest.id} (schema ${manifest.schemaVersion}, ${manifest.totalRows} rows, ${formatBytes(manifest.totalBytes)})`,
      { backupId: manifest.id },
    );
    const result = await restoreBackup({
      storage,
      manifest,
      targetUrl,
      force: args.flags.force === true || args.flags.force === 'true',
      logger: quietLogger(config),
      onProgress: (message, data) => report.step(message, data),
      analyze: true,
    });
    reportTables(report, result);
    if (!result.ok) report.fail(`restore of ${manifest.id} failed, nothing was committed: ${result.reason}`, { backupId: manifest.id });
    report.result(`restored ${manifest.id}: ${manifest.tables.length} tables verified in ${(result.durationMs / 1000).toFixed(1)} s`, {
      backupId: manifest.id,
      durationMs: result.durationMs,
    });
  });
}

/** `epu drill [--database-url URL]`: restore the newest backup into a scratch database, verify, record; non-zero on any mismatch. */
export async function runDrill(config: Config, args: Args): Promise<void> {
  const report: Reporter = createReporter('drill');
  const databaseUrl = databaseUrlFlag(args);
  const platform = await createPlatform(config, 'cli', quietLogger(config));
  let result: DrillResult;
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    result = await createServices(platform).backups.drill({ databaseUrl, onProgress: (message, data) => report.step(message, data) });
  } finally {
    // Before exiting, failed or not: an embedded PostgreSQL this process started is stopped here.
    await platform.close();
  }
  reportTables(report, result);
  const data = { backupId: result.backupId, drillId: result.drillId, durationMs: result.durationMs };
  if (!result.ok) report.fail(`drill of backup ${result.backupId} FAILED: ${result.reason}`, data);
  report.result(
    `drill of backup ${result.backupId} passed: ${result.tables.length} tables match the manifest (${(result.durationMs / 1000).toFixed(1)} s)`,
    data,
  );
}
