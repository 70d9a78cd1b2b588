// `epu scrub`: a copy of a backup that staging may hold. The backup is
// restored into a scratch database, personal data is replaced there as
// personal-data.ts says, each photo gets a placeholder of its dimensions and
// type (and renditions made from it), and the result is written as a new
// backup whose manifest says it is scrubbed and lists the placeholders, which
// `epu restore` puts into the media store. Ids, counts, relations, dates and
// capacities are those of the source.
import crypto from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import sharp, { type Sharp } from 'sharp';
import type { Logger } from '../../platform/observability/logger.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import {
  mediaIndexKey,
  mediaKey,
  newBackupId,
  SCRUBBED_SUFFIX,
  type BackupManifest,
  type MediaEntry,
  type MediaSection,
} from './backups.manifest.js';
import { connect } from './backups.repository.js';
import { readManifest, restoreBackup } from './backups.restore.js';
import type { ScratchDatabase } from './backups.scratch.js';
import { formatBytes, writeBackup, type Progress } from './backups.snapshot.js';
import { DROPPED_TABLES, scrubStatements, tableNames, textColumns, unclassifiedColumns } from './personal-data.js';

/** A photo's thumbnail and display image, made from its (placeholder) original as the photos feature makes them. */
export interface Renditions {
  thumbnail: Buffer;
  display: Buffer;
  contentType: string;
  cacheControl: string;
}

export interface ScrubDependencies {
  /** Where the source backup is. */
  source: ObjectStorage;
  /** Where the scrubbed copy goes: the same store, or one staging can read (`--to`). */
  target: ObjectStorage;
  scratch: ScratchDatabase;
  renderDerived: (original: Buffer) => Promise<Renditions>;
  logger: Logger;
  onProgress?: Progress;
}

export interface ScrubReport {
  backupId: string;
  sourceBackupId: string;
  manifest: BackupManifest;
  /** Rows each scrub statement changed (or removed, for the dropped tables), by table. */
  changed: Record<string, number>;
  photosReplaced: number;
  /** Photos not yet measured (still processing): their placeholder has FALLBACK_SIZE. */
  photosWithoutDimensions: number;
  renditions: number;
  durationMs: number;
}

const FALLBACK_SIZE = { width: 640, height: 480 };
const PHOTO_PAGE = 200;
const PROGRESS_EVERY_PHOTOS = 100;

type Encoder = (image: Sharp) => Sharp;
// The types an upload may have (photos' image check); a placeholder keeps its photo's.
const ENCODERS: Record<string, Encoder> = {
  'image/jpeg': (image) => image.jpeg({ quality: 80 }),
  'image/png': (image) => image.png(),
  'image/webp': (image) => image.webp({ quality: 80 }),
  'image/avif': (image) => image.avif({ quality: 50, effort: 0 }),
  'image/gif': (image) => image.gif(),
};

interface Placeholder {
  original: Buffer;
  /** Made once, on first use: a photo still processing has no renditions to replace. */
  renditions(): Promise<Renditions>;
}

/**
 * Placeholders are plain grey images, so all photos of one size and type
 * share one (and one pair of renditions): a camera's photos cost one encode.
 */
function placeholderMaker(renderDerived: ScrubDependencies['renderDerived']) {
  const cache = new LRUCache<string, Promise<Placeholder>>({ max: 16 });
  return (width: number, height: number, contentType: string): Promise<Placeholder> => {
    const cacheKey = `${width}x${height}:${contentType}`;
    const cached = cache.get(cacheKey);
    if (cached) return cached;
    const encode = ENCODERS[contentType];
    if (!encode) throw new Error(`a photo has the content type ${contentType}, which no upload can have: no placeholder for it`);
    const made = encode(sharp({ create: { width, height, channels: 3, background: { r: 190, g: 190, b: 190 } } }))
      .toBuffer()
      .then((original: Buffer): Placeholder => {
        let renditions: Promise<Renditions> | undefined;
        return { original, renditions: () => (renditions ??= renderDerived(original)) };
      });
    cache.set(cacheKey, made);
    return made;
  };
}

const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

/** Replaces personal columns and empties the dropped tables, in one transaction, with the tables' own triggers off. */
export async function scrubDatabase(client: pg.ClientBase, progress: Progress): Promise<Record<string, number>> {
  const unclassified = await unclassifiedColumns(client);
  if (unclassified.length) {
    throw new Error(
      `refusing to scrub: ${unclassified.join(', ')} ${unclassified.length === 1 ? 'is' : 'are'} classified neither personal nor safe in src/features/backups/personal-data.ts`,
    );
  }
  const statements = scrubStatements(await tableNames(client), await textColumns(client));
  const changed: Record<string, number> = {};
  await client.query('BEGIN');
  // audit_log refuses updates by trigger (it is append-only for the application); this copy is not the application's.
  for (const table of statements.tables) await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
  for (const statement of statements.steps) {
    const result = await client.query(statement.sql);
    changed[statement.table] = result.rowCount ?? 0;
    progress(`${statement.table}: ${statement.what} (${result.rowCount ?? 0} rows)`, {
      table: statement.table,
      rows: result.rowCount ?? 0,
    });
  }
  for (const table of statements.tables) await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
  await client.query('COMMIT');
  return changed;
}

interface PhotoRow {
  id: string;
  width: number | null;
  height: number | null;
  content_type: string;
  original_key: string;
  thumbnail_key: string | null;
  display_key: string | null;
}

/**
 * Stores a placeholder for every photo that has an original (all but failed
 * ones) and renditions for those that have them, under the new backup's
 * media/, records the placeholder's size and hash on the photo row, and
 * writes the media index as it goes.
 */
async function replacePhotos(
  client: pg.ClientBase,
  id: string,
  deps: ScrubDependencies,
  progress: Progress,
): Promise<{ media: MediaSection; photos: number; withoutDimensions: number; renditions: number }> {
  const placeholder = placeholderMaker(deps.renderDerived);
  const total = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM photos WHERE status <> 'failed'`)).rows[0]!.n);
  progress(`replacing ${total} photos with placeholders of the same size and type`, { photos: total });

  const index = new PassThrough();
  const indexHash = crypto.createHash('sha256');
  const indexStored = deps.target.put(mediaIndexKey(id), index, { contentType: 'application/x-ndjson' });
  indexStored.catch(() => undefined); // awaited below; a failed photo must not leave it unhandled
  let objects = 0;
  let bytes = 0;
  const store = async (key: string, body: Buffer, contentType: string, cacheControl?: string) => {
    const stored = await deps.target.put(mediaKey(id, key), body, { contentType, ...(cacheControl ? { cacheControl } : {}) });
    const entry: MediaEntry = { key, bytes: stored.bytes, sha256: stored.sha256, contentType, ...(cacheControl ? { cacheControl } : {}) };
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    indexHash.update(line);
    objects++;
    bytes += stored.bytes;
    if (!index.write(line)) await once(index, 'drain');
  };

  let photos = 0;
  let withoutDimensions = 0;
  let renditions = 0;
  try {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const { rows } = await client.query<PhotoRow>(
        `SELECT id, width, height, content_type, original_key, thumbnail_key, display_key FROM photos
         WHERE id > $1 AND status <> 'failed' ORDER BY id LIMIT ${PHOTO_PAGE}`,
        [after],
      );
      for (const photo of rows) {
        const measured = photo.width && photo.height ? { width: photo.width, height: photo.height } : null;
        if (!measured) withoutDimensions++;
        const size = measured ?? FALLBACK_SIZE;
        const made = await placeholder(size.width, size.height, photo.content_type);
        await store(photo.original_key, made.original, photo.content_type);
        if (photo.thumbnail_key && photo.display_key) {
          const derived = await made.renditions();
          await store(photo.thumbnail_key, derived.thumbnail, derived.contentType, derived.cacheControl);
          await store(photo.display_key, derived.display, derived.contentType, derived.cacheControl);
          renditions += 2;
        }
        await client.query('UPDATE photos SET bytes = $2, sha256 = $3 WHERE id = $1', [
          photo.id,
          made.original.length,
          sha256(made.original),
        ]);
        if (++photos % PROGRESS_EVERY_PHOTOS === 0) progress(`photos: ${photos}/${total} replaced`, { photos, total });
      }
      if (rows.length < PHOTO_PAGE) break;
      after = rows.at(-1)!.id;
    }
    index.end();
    const stored = await indexStored;
    progress(`photos: ${photos}/${total} replaced, ${objects} media objects (${formatBytes(bytes)})`, { photos, objects, bytes });
    return {
      media: { index: mediaIndexKey(id), indexBytes: stored.bytes, indexSha256: indexHash.digest('hex'), objects, bytes },
      photos,
      withoutDimensions,
      renditions,
    };
  } catch (error) {
    index.destroy(error as Error);
    throw error;
  }
}

/**
 * Writes a scrubbed copy of backup `sourceId` and returns what it did. The
 * scratch database is the caller's to drop. The source is restored and
 * verified first, so a damaged backup is never scrubbed.
 */
export async function scrubBackup(sourceId: string, deps: ScrubDependencies): Promise<ScrubReport> {
  const progress = deps.onProgress ?? (() => undefined);
  const started = Date.now();
  const source = await readManifest(deps.source, sourceId);
  const id = `${newBackupId()}${SCRUBBED_SUFFIX}`;
  progress(`restoring backup ${sourceId} into the scratch database ${deps.scratch.name}`, { sourceBackupId: sourceId, backupId: id });
  const restored = await restoreBackup({
    storage: deps.source,
    manifest: source,
    targetUrl: deps.scratch.url,
    force: false,
    logger: deps.logger,
    onProgress: progress,
  });
  if (!restored.ok) throw new Error(`backup ${sourceId} did not restore cleanly, so it was not scrubbed: ${restored.reason}`);

  const client = await connect(deps.scratch.url, 'epu-scrub');
  let changed: Record<string, number>;
  let photos: Awaited<ReturnType<typeof replacePhotos>>;
  try {
    changed = await scrubDatabase(client, progress);
    photos = await replacePhotos(client, id, deps, progress);
  } finally {
    await client.end().catch(() => undefined);
  }
  progress(`writing the scrubbed copy ${id}`, { backupId: id });
  const manifest = await writeBackup({
    id,
    databaseUrl: deps.scratch.url,
    storage: deps.target,
    onProgress: progress,
    annotate: { scrubbed: { sourceBackupId: sourceId, droppedTables: Object.keys(DROPPED_TABLES) }, media: photos.media },
  });
  return {
    backupId: id,
    sourceBackupId: sourceId,
    manifest,
    changed,
    photosReplaced: photos.photos,
    photosWithoutDimensions: photos.withoutDimensions,
    renditions: photos.renditions,
    durationMs: Date.now() - started,
  };
}
