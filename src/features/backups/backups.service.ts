// Backups as the worker, the CLI and the admin page use them: create (then
// prune to the newest BACKUP_KEEP), list, restore, and drill.
import { Type } from 'typebox';
import type { Logger } from '../../platform/observability/logger.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import {
  BACKUP_PREFIX,
  backupIdTime,
  isBackupId,
  isScrubbedId,
  newBackupId,
  type BackupManifest,
  type BackupSummary,
} from './backups.manifest.js';
import type { DrillRecord, DrillsRepository } from './backups.repository.js';
import { lastBackupAt, listBackups, readManifest, restoreBackup, type RestoreReport } from './backups.restore.js';
import { scratchDatabase } from './backups.scratch.js';
import { writeBackup, type Progress } from './backups.snapshot.js';
import { copyMissingBackups, lastCopiedBackupAt, type CopyOutcome } from './backups.copy.js';
import { scrubBackup, type ScrubDependencies, type ScrubReport } from './backups.scrub.js';

export const BACKUP_CREATE_JOB = 'backup.create';
export const BACKUP_COPY_JOB = 'backup.copy';
/** Queued after a backup (`backupId`, for the logs) or by `epu jobs run`; the job copies every backup the second region lacks. */
export const BackupCopyPayload = Type.Object(
  { backupId: Type.Optional(Type.String()), requestedBy: Type.Optional(Type.Literal('cli')) },
  { additionalProperties: false },
);

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
  /** BACKUP_COPY_URL's store in another region, or null when backups are not copied. */
  copyStorage: ObjectStorage | null;
  /** Called after each new backup: the composition root queues its copy to the second region. */
  onBackupWritten?: (manifest: BackupManifest) => Promise<void>;
  onCopyVerified?: (backupTakenAt: Date) => void;
  /** How the photos feature renders a thumbnail and a display image; the scrub renders its placeholders' with it. */
  renderDerived: ScrubDependencies['renderDerived'];
}

export function createBackupsService(deps: BackupsServiceDependencies) {
  const { storage, logger } = deps;

  /** Deletes complete backups beyond the newest `keep`, and abandoned partial ones, in `store`. Returns the ids removed. */
  async function prune(store: ObjectStorage = storage): Promise<string[]> {
    const objects = new Map<string, { keys: string[]; complete: boolean }>();
    for await (const object of store.list(BACKUP_PREFIX)) {
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
    // Backups and scrubbed copies are kept apart: scrubbing never pushes a real backup out.
    const expired = new Set([
      ...complete.filter((id) => !isScrubbedId(id)).slice(deps.keep),
      ...complete.filter((id) => isScrubbedId(id)).slice(deps.keep),
    ]);
    for (const [id, entry] of objects) {
      if (!entry.complete && Date.now() - (backupIdTime(id)?.getTime() ?? 0) > ABANDONED_AFTER_MS) expired.add(id);
    }
    for (const id of expired) {
      const entry = objects.get(id)!;
      // The manifest first: a backup is never listed while its table objects are being removed.
      for (const key of entry.keys.sort((a, b) => Number(b.endsWith('/manifest.json')) - Number(a.endsWith('/manifest.json'))))
        await store.delete(key);
      logger.info({ backupId: id, copy: store !== storage }, 'backup removed by retention');
    }
    return [...expired].sort();
  }

  return {
    list: () => listBackups(storage, logger),

    manifest: (id: string) => readManifest(storage, id),

    lastBackupAt: () => lastBackupAt(storage),

    lastDrillAt: () => deps.drills.lastSuccessAt(),

    latestDrills: (limit: number): Promise<DrillRecord[]> => deps.drills.latest(limit),

    prune: () => prune(),

    /** Verified copies in the second region, newest first; null when BACKUP_COPY_URL is not set. */
    listCopies: () => (deps.copyStorage ? listBackups(deps.copyStorage, logger) : null),

    /** When the newest verified copy's backup was taken; null when there is none (or no copy store). */
    lastCopiedBackupAt: () => (deps.copyStorage ? lastCopiedBackupAt(deps.copyStorage) : Promise.resolve(null)),

    /**
     * Copies every backup the second region lacks, verifies each copy against
     * its manifest, then applies BACKUP_KEEP there too. Throws when a copy
     * failed, after trying the others, so the job is retried.
     */
    async copyToSecondRegion(onProgress?: Progress): Promise<CopyOutcome & { pruned: string[] }> {
      if (!deps.copyStorage) throw new Error('BACKUP_COPY_URL is not set: there is no second region to copy backups to');
      const outcome = await copyMissingBackups({ source: storage, target: deps.copyStorage, logger, onProgress });
      const pruned = await prune(deps.copyStorage);
      const newest = await lastCopiedBackupAt(deps.copyStorage);
      if (newest) deps.onCopyVerified?.(newest);
      if (outcome.failed.length) {
        throw new Error(
          `${outcome.failed.length} backup(s) not copied to the second region: ${outcome.failed.map((f) => `${f.backupId}: ${f.reason}`).join('; ')}`,
        );
      }
      return { ...outcome, pruned };
    },

    /** Writes a new backup, then keeps the newest BACKUP_KEEP. */
    async create(onProgress?: Progress): Promise<{ manifest: BackupManifest; pruned: string[] }> {
      const manifest = await writeBackup({ id: newBackupId(), databaseUrl: deps.databaseUrl, storage, onProgress });
      deps.onBackupSuccess?.(new Date());
      logger.info(
        { backupId: manifest.id, bytes: manifest.totalBytes, rows: manifest.totalRows, durationMs: manifest.durationMs },
        'backup written',
      );
      const pruned = await prune();
      await deps.onBackupWritten?.(manifest);
      return { manifest, pruned };
    },

    /**
     * Writes a scrubbed copy of backup `sourceId` (personal-data.ts) into
     * `target` (default: the backups' own store), working in a scratch
     * database: a new one on the database's server, or the empty `databaseUrl`.
     */
    async scrub(
      sourceId: string,
      options: { target?: ObjectStorage; databaseUrl?: string; onProgress?: Progress } = {},
    ): Promise<ScrubReport & { pruned: string[] }> {
      await readManifest(storage, sourceId); // an unknown id fails before a scratch database is made
      const scratch = await scratchDatabase({
        given: options.databaseUrl,
        sourceUrl: deps.databaseUrl,
        purpose: 'scrub',
        backupId: sourceId,
      });
      let report: ScrubReport;
      try {
        report = await scrubBackup(sourceId, {
          source: storage,
          target: options.target ?? storage,
          scratch,
          renderDerived: deps.renderDerived,
          logger,
          onProgress: options.onProgress,
        });
      } finally {
        await scratch
          .drop()
          .catch((error: unknown) => logger.warn({ err: error, database: scratch.name }, 'could not remove the scrub scratch database'));
      }
      logger.info({ backupId: report.backupId, sourceBackupId: sourceId, durationMs: report.durationMs }, 'scrubbed copy written');
      // Retention applies where this deployment keeps its backups; another store (staging's) keeps its own.
      const pruned = options.target && options.target !== storage ? [] : await prune();
      return { ...report, pruned };
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
    async drill(options: { databaseUrl?: string; fromCopy?: boolean; onProgress?: Progress } = {}): Promise<DrillResult> {
      const progress = options.onProgress ?? (() => undefined);
      const started = Date.now();
      const source = options.fromCopy ? deps.copyStorage : storage;
      if (!source) throw new Error('BACKUP_COPY_URL is not set: there are no copies to drill');
      const newest = (await listBackups(source, logger)).find((backup) => backup.scrubbedFrom === null);
      if (!newest)
        throw new Error(
          options.fromCopy
            ? 'there is no verified copy to drill; run `epu jobs run backup.copy` first'
            : 'there is no backup to drill; run `epu backup` first',
        );
      const scratch = await scratchDatabase({
        given: options.databaseUrl,
        sourceUrl: deps.databaseUrl,
        purpose: 'drill',
        backupId: newest.id,
      });
      progress(`drilling backup ${newest.id} in database ${scratch.name}`, { backupId: newest.id, database: scratch.name });
      let report: RestoreReport;
      try {
        const manifest = await readManifest(source, newest.id);
        report = await restoreBackup({ storage: source, manifest, targetUrl: scratch.url, force: false, logger, onProgress: progress });
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
          source: options.fromCopy ? 'copy' : 'backups',
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
