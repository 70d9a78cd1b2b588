// What a backup is in object storage: `backups/<id>/<table>.copy.gz` per table
// (COPY text format, gzip) and `backups/<id>/manifest.json`, written last. A
// backup without a manifest is incomplete and is never listed or restored.
import crypto from 'node:crypto';
import { assertValidKey } from '../../platform/storage/storage.js';

export const BACKUP_PREFIX = 'backups/';
export const MANIFEST_FORMAT = 'epu-backup/1';

export interface TableEntry {
  name: string;
  /** The columns copied, in COPY order; the checksum hashes them in this order too. */
  columns: string[];
  rows: number;
  /** See tableChecksumSql: computed by PostgreSQL in the backup's snapshot. */
  checksum: string;
  key: string;
  /** Size and SHA-256 of the stored (compressed) object. */
  bytes: number;
  sha256: string;
}

export interface SequenceEntry {
  name: string;
  /** null: never used (nextval has not been called). */
  lastValue: number | null;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  createdAt: string;
  durationMs: number;
  /** The latest migration applied to the source; a restore migrates its target to exactly this one. */
  schemaVersion: string;
  postgresVersion: string;
  /** In load order: a table comes after every table its foreign keys point at. */
  tables: TableEntry[];
  sequences: SequenceEntry[];
  totalRows: number;
  totalBytes: number;
  /** Set on a copy written by `epu scrub`: personal data replaced as personal-data.ts says. */
  scrubbed?: { sourceBackupId: string; droppedTables: string[] };
  /** Objects a restore puts into the media store (a scrubbed copy's placeholder photos), listed in an index object. */
  media?: MediaSection;
}

export interface MediaSection {
  /** `backups/<id>/media.jsonl`: one MediaEntry per line. */
  index: string;
  indexBytes: number;
  indexSha256: string;
  objects: number;
  bytes: number;
}

/** One object of a backup's media: stored at mediaKey(id, key), restored at `key`. */
export interface MediaEntry {
  key: string;
  bytes: number;
  sha256: string;
  contentType: string;
  cacheControl?: string;
}

/** The summary the admin page and `epu backups` show. */
export interface BackupSummary {
  id: string;
  createdAt: string;
  schemaVersion: string;
  tables: number;
  totalRows: number;
  totalBytes: number;
  /** The backup a scrubbed copy was made from; null for a backup of the database. */
  scrubbedFrom: string | null;
}

// A scrubbed copy's id ends in SCRUBBED_SUFFIX, so listings tell the two kinds apart without reading manifests.
const ID_PATTERN = /^(\d{8})T(\d{9})Z-([0-9a-f]{6})(-scrubbed)?$/;
export const SCRUBBED_SUFFIX = '-scrubbed';

/** Sortable by start time to the millisecond (then random): `20250102T030000123Z-1a2b3c`. */
export function newBackupId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${crypto.randomBytes(3).toString('hex')}`;
}

export function isBackupId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** A copy made by `epu scrub`: not a backup of this database (never drilled, never counted as its latest backup). */
export function isScrubbedId(id: string): boolean {
  return isBackupId(id) && id.endsWith(SCRUBBED_SUFFIX);
}

/** When the backup started, read from its id (no object needs fetching). */
export function backupIdTime(id: string): Date | null {
  const match = ID_PATTERN.exec(id);
  if (!match) return null;
  const [, day, time] = match as unknown as [string, string, string];
  return new Date(
    `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}T${time.slice(0, 2)}:${time.slice(2, 4)}:${time.slice(4, 6)}.${time.slice(6)}Z`,
  );
}

export function manifestKey(id: string): string {
  return `${BACKUP_PREFIX}${id}/manifest.json`;
}

export function tableKey(id: string, table: string): string {
  const key = `${BACKUP_PREFIX}${id}/${table}.copy.gz`;
  assertValidKey(key);
  return key;
}

export function mediaIndexKey(id: string): string {
  return `${BACKUP_PREFIX}${id}/media.jsonl`;
}

/** Where a backup keeps a media object that a restore puts at `key`. */
export function mediaKey(id: string, key: string): string {
  const stored = `${BACKUP_PREFIX}${id}/media/${key}`;
  assertValidKey(stored);
  return stored;
}

export function summarize(manifest: BackupManifest): BackupSummary {
  return {
    id: manifest.id,
    createdAt: manifest.createdAt,
    schemaVersion: manifest.schemaVersion,
    tables: manifest.tables.length,
    totalRows: manifest.totalRows,
    totalBytes: manifest.totalBytes,
    scrubbedFrom: manifest.scrubbed?.sourceBackupId ?? null,
  };
}

/** Parses a stored manifest, refusing anything that is not one (a restore trusts its keys and columns). */
export function parseManifest(text: string, expectedId: string): BackupManifest {
  const value = JSON.parse(text) as BackupManifest | null;
  const problems: string[] = [];
  if (value?.format !== MANIFEST_FORMAT) problems.push(`format is not ${MANIFEST_FORMAT}`);
  if (value?.id !== expectedId) problems.push(`id is not ${expectedId}`);
  if (typeof value?.schemaVersion !== 'string') problems.push('no schemaVersion');
  if (!Array.isArray(value?.tables)) problems.push('no tables');
  for (const table of Array.isArray(value?.tables) ? value.tables : []) {
    if (table.key !== tableKey(expectedId, table.name)) problems.push(`table ${table.name} has key ${table.key}`);
    if (!Array.isArray(table.columns) || table.columns.length === 0) problems.push(`table ${table.name} has no columns`);
  }
  if (value?.media !== undefined && value.media?.index !== mediaIndexKey(expectedId))
    problems.push(`media index is not ${mediaIndexKey(expectedId)}`);
  if (problems.length) throw new Error(`backup ${expectedId}: the manifest is not valid (${problems.join('; ')})`);
  // Not null: the format check above refused it.
  return value as BackupManifest;
}
