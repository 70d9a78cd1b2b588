// Writing a backup: every table from one consistent snapshot, streamed through
// gzip into object storage, then the manifest. Nothing is held in memory but a
// chunk at a time, so the size of a table does not matter.
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import pgCopyStreams from 'pg-copy-streams';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import { MANIFEST_FORMAT, manifestKey, tableKey, type BackupManifest, type TableEntry } from './backups.manifest.js';
import {
  connect,
  copyOutSql,
  listSequences,
  listTables,
  schemaVersion,
  serverVersion,
  tableChecksum,
  type CatalogTable,
} from './backups.repository.js';

/** A step or progress line for the CLI's reporter (or a log). */
export type Progress = (message: string, data?: Record<string, unknown>) => void;

const PROGRESS_EVERY_BYTES = 64 * 1024 * 1024;

/**
 * Counts the bytes passing through and reports every PROGRESS_EVERY_BYTES,
 * so a large table shows it is moving without a timer.
 */
export function byteMeter(onStep: (bytes: number) => void): Transform & { bytes: () => number } {
  let bytes = 0;
  let nextReport = PROGRESS_EVERY_BYTES;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      bytes += chunk.length;
      if (bytes >= nextReport) {
        nextReport += PROGRESS_EVERY_BYTES;
        onStep(bytes);
      }
      callback(null, chunk);
    },
  });
  return Object.assign(meter, { bytes: () => bytes });
}

/** A table comes after the tables its foreign keys point at; a cycle (none today) keeps name order for its members. */
export function loadOrder(tables: CatalogTable[]): CatalogTable[] {
  const byName = new Map(tables.map((table) => [table.name, table]));
  const placed = new Set<string>();
  const ordered: CatalogTable[] = [];
  let progressed = true;
  while (ordered.length < tables.length && progressed) {
    progressed = false;
    for (const table of tables) {
      if (placed.has(table.name)) continue;
      if (table.references.every((name) => placed.has(name) || !byName.has(name))) {
        ordered.push(table);
        placed.add(table.name);
        progressed = true;
      }
    }
  }
  return [...ordered, ...tables.filter((table) => !placed.has(table.name))];
}

export const MiB = 1024 * 1024;
export const formatBytes = (bytes: number) => (bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);

/**
 * One REPEATABLE READ, READ ONLY transaction: every table's rows, checksum and
 * the schema version come from the same snapshot while the app keeps writing.
 * The manifest goes last, so a backup that failed half-way is never listed.
 */
export async function writeBackup(options: {
  id: string;
  databaseUrl: string;
  storage: ObjectStorage;
  onProgress?: Progress;
  /** What the manifest says besides the tables (a scrubbed copy's origin and media). */
  annotate?: Pick<BackupManifest, 'scrubbed' | 'media'>;
}): Promise<BackupManifest> {
  const { id, storage } = options;
  const progress = options.onProgress ?? (() => undefined);
  const started = Date.now();
  const client = await connect(options.databaseUrl, 'epu-backup');
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const version = await schemaVersion(client);
    if (!version) throw new Error('the database has no schema_migrations: run `epu migrate` before backing it up');
    const tables = loadOrder(await listTables(client));
    const entries: TableEntry[] = [];
    progress(`backing up ${tables.length} tables`, { backupId: id, schemaVersion: version });
    for (const [index, table] of tables.entries()) {
      const { rows, checksum } = await tableChecksum(client, table.name, table.columns);
      const key = tableKey(id, table.name);
      const meter = byteMeter((bytes) => progress(`${table.name}: ${formatBytes(bytes)} copied`, { table: table.name, rawBytes: bytes }));
      const gzip = zlib.createGzip({ level: 6 });
      const copying = pipeline(client.query(pgCopyStreams.to(copyOutSql(table))), meter, gzip);
      copying.catch(() => undefined); // awaited below; a failed put must not leave it unhandled
      // A failed put stops reading; destroying gzip ends the COPY pipeline too, instead of leaving it waiting.
      const stored = await storage.put(key, gzip, { contentType: 'application/gzip' }).catch((error: unknown) => {
        gzip.destroy(error as Error);
        throw error;
      });
      await copying;
      entries.push({ name: table.name, columns: table.columns, rows, checksum, key, bytes: stored.bytes, sha256: stored.sha256 });
      progress(`[${index + 1}/${tables.length}] ${table.name}: ${rows} rows, ${formatBytes(stored.bytes)}`, {
        table: table.name,
        rows,
        bytes: stored.bytes,
        rawBytes: meter.bytes(),
      });
    }
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      id,
      createdAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      schemaVersion: version,
      postgresVersion: await serverVersion(client),
      tables: entries,
      sequences: await listSequences(client),
      totalRows: entries.reduce((sum, entry) => sum + entry.rows, 0),
      totalBytes: entries.reduce((sum, entry) => sum + entry.bytes, 0),
      ...options.annotate,
    };
    await client.query('COMMIT');
    await storage.put(manifestKey(id), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), { contentType: 'application/json' });
    return manifest;
  } finally {
    // On failure the read-only transaction ends with the connection; no ROLLBACK to wait behind a broken COPY.
    await client.end().catch(() => undefined);
  }
}
