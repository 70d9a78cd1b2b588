// Reading and restoring backups. A restore verifies every object's SHA-256
// before it touches the target, loads every table in one transaction, and
// commits only when each table's row count and checksum match the manifest:
// the target ends up with the whole backup or with nothing of it.
import readline from 'node:readline';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import pgCopyStreams from 'pg-copy-streams';
import { migrate } from '../../platform/db/migrate.js';
import { migrationsDir } from '../../platform/paths.js';
import type { Logger } from '../../platform/observability/logger.js';
import { hashObject, isValidKey, type ObjectStorage } from '../../platform/storage/storage.js';
import {
  BACKUP_PREFIX,
  isBackupId,
  isScrubbedId,
  manifestKey,
  mediaKey,
  parseManifest,
  summarize,
  type BackupManifest,
  type BackupSummary,
  type MediaEntry,
  type TableEntry,
} from './backups.manifest.js';
import {
  analyze,
  connect,
  copyInSql,
  countTables,
  nonEmptyTables,
  resetSchema,
  setSequence,
  setUserTriggers,
  tableChecksum,
  truncate,
} from './backups.repository.js';
import { byteMeter, formatBytes, type Progress } from './backups.snapshot.js';

export class BackupNotFoundError extends Error {
  constructor(id: string) {
    super(`there is no complete backup ${id}; \`epu backups\` lists them`);
    this.name = 'BackupNotFoundError';
  }
}

export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

export interface TableCheck {
  table: string;
  ok: boolean;
  expectedRows: number;
  rows: number | null;
  expectedChecksum: string;
  checksum: string | null;
  /** Why the table failed: a changed object, a count or checksum mismatch. */
  problem?: string;
}

export interface RestoreReport {
  ok: boolean;
  backupId: string;
  schemaVersion: string;
  tables: TableCheck[];
  /** Set when the restore failed: the first problem, in one line. */
  reason?: string;
  durationMs: number;
}

/** The manifests in a store, one per complete backup (or verified copy), in no order. */
export async function* manifestObjects(storage: ObjectStorage): AsyncGenerator<{ id: string; lastModified: Date }> {
  for await (const object of storage.list(BACKUP_PREFIX)) {
    const [, id, file] = object.key.split('/');
    if (id && file === 'manifest.json' && isBackupId(id)) yield { id, lastModified: object.lastModified };
  }
}

/** Every complete backup (one with a manifest), newest first. Reads storage only: the database may be what was lost. */
export async function listBackups(storage: ObjectStorage, logger?: Logger): Promise<BackupSummary[]> {
  const ids: string[] = [];
  for await (const { id } of manifestObjects(storage)) ids.push(id);
  ids.sort().reverse();
  const summaries: BackupSummary[] = [];
  for (const id of ids) {
    try {
      summaries.push(summarize(await readManifest(storage, id)));
    } catch (error) {
      logger?.warn({ err: error, backupId: id }, 'skipping a backup whose manifest cannot be read');
    }
  }
  return summaries;
}

/** Completion time of the newest complete backup of the database (its manifest's time in storage), without reading any manifest. */
export async function lastBackupAt(storage: ObjectStorage): Promise<Date | null> {
  let newest: { id: string; lastModified: Date } | null = null;
  for await (const manifest of manifestObjects(storage))
    if (!isScrubbedId(manifest.id) && (!newest || manifest.id > newest.id)) newest = manifest;
  return newest?.lastModified ?? null;
}

export async function readManifest(storage: ObjectStorage, id: string): Promise<BackupManifest> {
  if (!isBackupId(id)) throw new BackupNotFoundError(id);
  const object = await storage.get(manifestKey(id));
  if (!object) throw new BackupNotFoundError(id);
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(chunk as Buffer);
  return parseManifest(Buffer.concat(chunks).toString('utf8'), id);
}

/** Why a stored object is not the one its manifest describes, or null when its size and SHA-256 match. */
export function mismatch(
  key: string,
  actual: { bytes: number; sha256: string } | null,
  expected: { bytes: number; sha256: string },
): string | null {
  if (!actual) return `object ${key} is missing`;
  if (actual.bytes === expected.bytes && actual.sha256 === expected.sha256) return null;
  return `object ${key} changed in storage: ${actual.bytes} bytes, sha256 ${actual.sha256.slice(0, 12)}…; the manifest says ${expected.bytes} bytes, sha256 ${expected.sha256.slice(0, 12)}…`;
}

async function objectProblem(storage: ObjectStorage, entry: TableEntry): Promise<string | null> {
  return mismatch(entry.key, await hashObject(storage, entry.key), entry);
}

/** A backup's media objects (scrub placeholders), from its index, once the index itself matches the manifest. */
async function* mediaEntries(storage: ObjectStorage, manifest: BackupManifest): AsyncGenerator<MediaEntry> {
  const media = manifest.media!;
  const problem = mismatch(media.index, await hashObject(storage, media.index), { bytes: media.indexBytes, sha256: media.indexSha256 });
  if (problem) throw new Error(problem);
  const index = await storage.get(media.index);
  if (!index) throw new Error(`object ${media.index} disappeared during the restore`);
  for await (const line of readline.createInterface({ input: index.body, crlfDelay: Infinity })) {
    if (!line) continue;
    const entry = JSON.parse(line) as MediaEntry;
    // The index says where each object goes: only into the photo prefixes, under a valid key.
    if (!/^(originals|derived)\//.test(entry.key) || !isValidKey(entry.key))
      throw new Error(`the media index of ${manifest.id} names an invalid key`);
    yield entry;
  }
}

/**
 * Puts a backup's media objects into the media store at their keys, checking
 * each against the index as it streams; the first difference stops the restore.
 */
async function restoreMedia(
  storage: ObjectStorage,
  target: ObjectStorage,
  manifest: BackupManifest,
  progress: Progress,
): Promise<string | null> {
  const media = manifest.media!;
  progress(`putting ${media.objects} media objects (${formatBytes(media.bytes)}) into the media store`, { objects: media.objects });
  let done = 0;
  for await (const entry of mediaEntries(storage, manifest)) {
    const source = mediaKey(manifest.id, entry.key);
    const object = await storage.get(source);
    if (!object) return `object ${source} is missing`;
    const stored = await target.put(entry.key, object.body, {
      contentType: entry.contentType,
      ...(entry.cacheControl ? { cacheControl: entry.cacheControl } : {}),
    });
    const problem = mismatch(source, stored, entry);
    if (problem) return problem;
    if (++done % MEDIA_PROGRESS_EVERY === 0 || done === media.objects)
      progress(`media: ${done}/${media.objects} objects`, { objects: done });
  }
  return done === media.objects ? null : `the media index of ${manifest.id} lists ${done} objects, the manifest says ${media.objects}`;
}

const MEDIA_PROGRESS_EVERY = 100;

function failedReport(manifest: BackupManifest, started: number, tables: TableCheck[], reason: string): RestoreReport {
  return { ok: false, backupId: manifest.id, schemaVersion: manifest.schemaVersion, tables, reason, durationMs: Date.now() - started };
}

export interface RestoreOptions {
  storage: ObjectStorage;
  manifest: BackupManifest;
  targetUrl: string;
  /** Replace whatever the target holds (its whole current schema). */
  force: boolean;
  logger: Logger;
  onProgress?: Progress;
  /** Refresh planner statistics after loading; a drill's scratch database is dropped anyway. */
  analyze?: boolean;
  /** Where a backup's media objects go (a restore); unset, they are left where they are (a drill, a scrub). */
  mediaStorage?: ObjectStorage;
}

/**
 * Restores a backup into `targetUrl`: refuses a target that has tables unless
 * `force`, migrates it to the backup's schema version, loads each table with
 * COPY in foreign-key order and compares counts and checksums before COMMIT.
 * A mismatch is a report with ok=false (and nothing committed), not a throw.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreReport> {
  const { storage, manifest } = options;
  const progress = options.onProgress ?? (() => undefined);
  const started = Date.now();
  const pending = (entry: TableEntry, problem?: string): TableCheck => ({
    table: entry.name,
    ok: false,
    expectedRows: entry.rows,
    rows: null,
    expectedChecksum: entry.checksum,
    checksum: null,
    ...(problem ? { problem } : {}),
  });

  progress(`verifying ${manifest.tables.length} objects of backup ${manifest.id}`, { backupId: manifest.id, bytes: manifest.totalBytes });
  const objectChecks: TableCheck[] = [];
  for (const entry of manifest.tables) {
    const problem = await objectProblem(storage, entry);
    objectChecks.push(pending(entry, problem ?? undefined));
  }
  const changed = objectChecks.filter((check) => check.problem);
  if (changed.length) return failedReport(manifest, started, objectChecks, changed[0]!.problem!);
  // Media before the data: should it fail, the database is untouched, and objects no row points to harm nothing.
  if (manifest.media && options.mediaStorage) {
    const problem = await restoreMedia(storage, options.mediaStorage, manifest, progress);
    if (problem) return failedReport(manifest, started, objectChecks, problem);
  }

  const client = await connect(options.targetUrl, 'epu-restore');
  try {
    const existing = await countTables(client);
    if (existing.count > 0) {
      if (!options.force) {
        throw new RestoreRefusedError(
          `the target database is not empty (${existing.count} tables, e.g. ${existing.examples.join(', ')}); restore into a new database, or pass --force to replace everything in it`,
        );
      }
      progress('replacing the target schema (--force)', { tables: existing.count });
      await resetSchema(client);
    }
    progress(`migrating the target to schema ${manifest.schemaVersion}`);
    await migrate(options.targetUrl, options.logger, migrationsDir, { targetVersion: manifest.schemaVersion });

    await client.query('BEGIN');
    const tableNames = manifest.tables.map((entry) => entry.name);
    // Migrations may seed rows (feature_flags); the backup's rows replace them.
    await truncate(client, await nonEmptyTables(client, tableNames));
    await setUserTriggers(client, tableNames, false);
    for (const [index, entry] of manifest.tables.entries()) {
      const object = await storage.get(entry.key);
      if (!object) throw new Error(`object ${entry.key} disappeared during the restore`);
      const meter = byteMeter((bytes) => progress(`${entry.name}: ${formatBytes(bytes)} loaded`, { table: entry.name, rawBytes: bytes }));
      await pipeline(object.body, zlib.createGunzip(), meter, client.query(pgCopyStreams.from(copyInSql(entry.name, entry.columns))));
      progress(`[${index + 1}/${manifest.tables.length}] ${entry.name}: ${entry.rows} rows loaded`, {
        table: entry.name,
        rows: entry.rows,
      });
    }
    for (const sequence of manifest.sequences) await setSequence(client, sequence.name, sequence.lastValue);
    // Every table is loaded: the deferred keys' checks (events.cover_photo_id) run now, since ALTER TABLE refuses a table with checks pending.
    await client.query('SET CONSTRAINTS ALL IMMEDIATE');
    await setUserTriggers(client, tableNames, true);

    progress('verifying row counts and checksums');
    const checks: TableCheck[] = [];
    for (const entry of manifest.tables) {
      const actual = await tableChecksum(client, entry.name, entry.columns);
      const ok = actual.rows === entry.rows && actual.checksum === entry.checksum;
      const problem = ok
        ? undefined
        : actual.rows !== entry.rows
          ? `${entry.name}: ${actual.rows} rows restored, the manifest says ${entry.rows}`
          : `${entry.name}: the checksum of the restored rows does not match the manifest`;
      checks.push({
        table: entry.name,
        ok,
        expectedRows: entry.rows,
        rows: actual.rows,
        expectedChecksum: entry.checksum,
        checksum: actual.checksum,
        ...(problem ? { problem } : {}),
      });
    }
    const mismatch = checks.find((check) => !check.ok);
    if (mismatch) {
      await client.query('ROLLBACK');
      return failedReport(manifest, started, checks, mismatch.problem!);
    }
    await client.query('COMMIT');
    if (options.analyze) await analyze(client);
    return { ok: true, backupId: manifest.id, schemaVersion: manifest.schemaVersion, tables: checks, durationMs: Date.now() - started };
  } finally {
    // After a failed COPY the transaction ends with the connection: nothing of the load is kept.
    await client.end().catch(() => undefined);
  }
}
