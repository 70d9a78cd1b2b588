// Backups as the worker, the CLI and the admin page use them: create (then
// prune to the newest BACKUP_KEEP), list, restore, and drill.
import crypto from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../platform/observability/logger.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import { BACKUP_PREFIX, backupIdTime, isBackupId, newBackupId, type BackupManifest, type BackupSummary } from './backups.manifest.js';
import { connect, countTables, resetSchema, type DrillRecord, type DrillsRepository } from './backups.repository.js';
import { lastBackupAt, listBackups, readManifest, restoreBackup, RestoreRefusedError, type RestoreReport } from './backups.restore.js';
import { writeBackup, type Progress } from './backups.snapshot.js';

export const BACKUP_CREATE_JOB = 'backup.create';

// A backup without a manifest this old crashed half-way (a running one is younger): its objects are removed.
const ABANDONED_AFTER_MS = 24 * 3600_000;

export interface DrillResult extends RestoreReport {
  drillId: string;
  /** Where the backup was restored: a scratch database created for the drill, or the one given. */
  scratchDatabase: string;
}

export interface BackupsServiceDependencies {
  databaseUrl: string;
  storage: ObjectStorage;
  drills: DrillsRepository;
  /** BACKUP_KEEP: complete backups kept, newest first. */
  keep: number;
  logger: Logger;
  onBackupSuccess?: (at: Date) => void;
  onDrillSuccess?: (at: Date) => void;
}

function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || '(default)';
}

/** A scratch database on the source's server, created through its maintenance database and dropped afterwards. */
async function createScratchDatabase(
  sourceUrl: string,
  backupId: string,
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `epu_drill_${backupId.toLowerCase().replace(/[^a-z0-9]/g, '')}_${crypto.randomBytes(2).toString('hex')}`;
  const maintenanceUrl = withDatabaseName(sourceUrl, 'postgres');
  const run = async (sql: string) => {
    const admin = new pg.Client({ connectionString: maintenanceUrl, application_name: 'epu-drill' });
    await admin.connect();
    try {
      await admin.query(sql);
    } finally {
      await admin.end().catch(() => undefined);
    }
  };
  try {
    await run(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    throw new Error(`could not create the scratch database ${name} (${(error as Error).message}); give the drill one with --database-url`, {
      cause: error,
    });
  }
  return {
    url: withDatabaseName(sourceUrl, name),
    name,
    drop: () => run(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  };
}

/** A database the operator named for drills: checked empty first, so that only the drill's own copy is ever removed from it. */
async function givenScratchDatabase(url: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = databaseName(url);
  const withClient = async <T>(work: (client: pg.Client) => Promise<T>) => {
    const client = await connect(url, 'epu-drill');
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const existing = await withClient(countTables);
  if (existing.count > 0) {
    throw new RestoreRefusedError(
      `the drill database ${name} is not empty (${existing.count} tables, e.g. ${existing.examples.join(', ')}); give the drill an empty database`,
    );
  }
  return { url, name, drop: () => withClient(resetSchema) };
}

export function createBackupsService(deps: BackupsServiceDependencies) {
  const { storage, logger } = deps;

  /** Deletes complete backups beyond the newest `keep`, and abandoned partial ones. Returns the ids removed. */
  async function prune(): Promise<string[]> {
    const objects = new Map<string, { keys: string[]; complete: boolean }>();
    for await (const object of storage.list(BACKUP_PREFIX)) {
      const [, id, file] = object.key.split('/');
      if (!id || !isBackupId(id)) continue;
      const entry = objects.get(id) ?? { keys: [], complete: false };
      entry.keys.push(object.key);
      if (file === 'manifest.json') entry.complete = true;
      objects.set(id, entry);
    }
    const complete = [...objects]
      .filter(([, entry]) => entry.complete)
      .map(([id]) => id)
      .sort()
      .reverse();
    const expired = new Set(complete.slice(deps.keep));
    for (const [id, entry] of objects) {
      if (!entry.complete && Date.now() - (backupIdTime(id)?.getTime() ?? 0) > ABANDONED_AFTER_MS) expired.add(id);
    }
    for (const id of expired) {
      const entry = objects.get(id)!;
      // The manifest first: a backup is never listed while its table objects are being removed.
      for (const key of entry.keys.sort((a, b) => Number(b.endsWith('/manifest.json')) - Number(a.endsWith('/manifest.json'))))
        await storage.delete(key);
      logger.info({ backupId: id }, 'backup removed by retention');
    }
    return [...expired].sort();
  }

  return {
    list: () => listBackups(storage, logger),

    manifest: (id: string) => readManifest(storage, id),

    lastBackupAt: () => lastBackupAt(storage),

    lastDrillAt: () => deps.drills.lastSuccessAt(),

    latestDrills: (limit: number): Promise<DrillRecord[]> => deps.drills.latest(limit),

    prune,

    /** Writes a new backup, then keeps the newest BACKUP_KEEP. */
    async create(onProgress?: Progress): Promise<{ manifest: BackupManifest; pruned: string[] }> {
      const manifest = await writeBackup({ id: newBackupId(), databaseUrl: deps.databaseUrl, storage, onProgress });
      deps.onBackupSuccess?.(new Date());
      logger.info(
        { backupId: manifest.id, bytes: manifest.totalBytes, rows: manifest.totalRows, durationMs: manifest.durationMs },
        'backup written',
      );
      const pruned = await prune();
      return { manifest, pruned };
    },

    async restore(id: string, targetUrl: string, options: { force: boolean; onProgress?: Progress }): Promise<RestoreReport> {
      const manifest = await readManifest(storage, id);
      return restoreBackup({ storage, manifest, targetUrl, force: options.force, logger, onProgress: options.onProgress, analyze: true });
    },

    /**
     * Restores the newest backup into a scratch database, verifies it, removes
     * the scratch copy and records the outcome. A given `databaseUrl` must be
     * empty (as for a restore, so a mistyped URL cannot wipe a live database)
     * and is emptied again afterwards.
     */
    async drill(options: { databaseUrl?: string; onProgress?: Progress } = {}): Promise<DrillResult> {
      const progress = options.onProgress ?? (() => undefined);
      const started = Date.now();
      const [newest] = await listBackups(storage, logger);
      if (!newest) throw new Error('there is no backup to drill; run `epu backup` first');
      const scratch = options.databaseUrl
        ? await givenScratchDatabase(options.databaseUrl)
        : await createScratchDatabase(deps.databaseUrl, newest.id);
      progress(`drilling backup ${newest.id} in database ${scratch.name}`, { backupId: newest.id, database: scratch.name });
      let report: RestoreReport;
      try {
        const manifest = await readManifest(storage, newest.id);
        report = await restoreBackup({ storage, manifest, targetUrl: scratch.url, force: false, logger, onProgress: progress });
      } catch (error) {
        report = {
          ok: false,
          backupId: newest.id,
          schemaVersion: newest.schemaVersion,
          tables: [],
          reason: (error as Error).message,
          durationMs: Date.now() - started,
        };
      } finally {
        await scratch
          .drop()
          .catch((error: unknown) => logger.warn({ err: error, database: scratch.name }, 'could not remove the drill scratch database'));
      }
      const durationMs = Date.now() - started;
      const drillId = await deps.drills.insert({
        backupId: report.backupId,
        ok: report.ok,
        durationMs,
        report: {
          schemaVersion: report.schemaVersion,
          reason: report.reason ?? null,
          tables: report.tables,
          scratchDatabase: scratch.name,
        },
      });
      if (report.ok) deps.onDrillSuccess?.(new Date());
      logger.info({ drillId, backupId: report.backupId, ok: report.ok, reason: report.reason, durationMs }, 'restore drill finished');
      return { ...report, durationMs, drillId, scratchDatabase: scratch.name };
    },
  };
}

export type BackupsService = ReturnType<typeof createBackupsService>;
export type { BackupSummary, DrillRecord };
