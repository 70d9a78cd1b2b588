// The embedded driver: objects are plain files under one root directory, served
// to browsers by the web's signed /media/ route. Good for one machine or a
// shared volume; switch STORAGE_URL to s3:// when replicas do not share a disk.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LRUCache } from 'lru-cache';
import type { Keyring } from '../security/keyring.js';
import { meterBody } from './body-meter.js';
import { mediaUrl } from './media-signing.js';
import {
  assertExpiry,
  assertValidKey,
  assertValidPrefix,
  RangeNotSatisfiableError,
  recordedSha256,
  resolveRange,
  StorageError,
  type ByteRange,
  type ListedObject,
  type ObjectMeta,
  type ObjectStorage,
  type OpenedObject,
  type PutOptions,
  type PutResult,
  type SignedUrlOptions,
  type StorageHooks,
  type StorageOperation,
  type StoredObject,
} from './storage.js';

export interface FileStorageOptions extends StorageHooks {
  root: string;
  /** Base of the signed /media/ URLs (PUBLIC_URL). */
  publicUrl: URL;
  keyring: Keyring;
  /** The clock of signed links, and of the memory copies' TTL when given (tests). */
  now?: () => number;
  /** Bounds of the in-memory copies of small derived objects (see below); `false` keeps none. */
  memory?: Partial<MemoryLimits> | false;
}

export interface MemoryLimits {
  /** A derived object larger than this is never held. */
  maxObjectBytes: number;
  /** All copies together, bytes. */
  maxBytes: number;
  /** How long a copy is served without looking at the disk again. */
  ttlMs: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = { maxObjectBytes: 256 * 1024, maxBytes: 32 * 1024 * 1024, ttlMs: 10 * 60_000 };

/** A derived object held in memory: its bytes and what its sidecar and stat said. */
interface Held {
  meta: ObjectMeta;
  bytes: Buffer;
}

// Read into one buffer (a read and a close) rather than streamed (reads until
// EOF, then a close) when no bigger: the size of a thumbnail or a display image.
const BUFFERED_READ_BYTES = 256 * 1024;
// A sidecar is about 150 bytes: one read of this size gets it whole.
const SIDECAR_READ_BYTES = 4096;

/** What a sidecar records; the object's bytes stay an ordinary file beside it. */
interface Sidecar {
  contentType: string;
  bytes: number;
  sha256: string;
  cacheControl?: string;
}

const isMissing = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException)?.code ?? '');

export function createFileStorage(options: FileStorageOptions): ObjectStorage {
  const root = path.resolve(options.root);
  const now = options.now ?? Date.now;
  // A key and an expiry always make the same link. A gallery page signs dozens
  // per request, with expiries that change once an hour (photos.service), so
  // links are remembered instead of re-signed: the HMAC was the largest single
  // cost of the gallery in the profile (docs/decisions/0013-read-paths.md).
  const signed = new LRUCache<string, string>({ max: 20_000 });

  /** A /media/ link for `key` valid until `expiresAt` (seconds), remembered: the same inputs always make the same link. */
  function signedNow(key: string, urlOptions: SignedUrlOptions, expiresAt: number): string {
    // Length-prefixed, so no key and download name can spell another pair's entry.
    const memo = `${expiresAt}:${key.length}:${key}${urlOptions.downloadName === undefined ? '-' : `+${urlOptions.downloadName}`}`;
    let url = signed.get(memo);
    if (url === undefined) {
      assertValidKey(key);
      url = mediaUrl(options.publicUrl, options.keyring, {
        key,
        expiresAt,
        ...(urlOptions.downloadName !== undefined ? { downloadName: urlOptions.downloadName } : {}),
      });
      signed.set(memo, url);
    }
    return url;
  }

  // Small derived objects (thumbnails, display renditions) are held in memory,
  // so a hot /media/ request does no fs operation at all. Safe because their
  // bytes never change under their key (photos.jobs writes each once, under a
  // fresh key) and /media/ already tells every browser and CDN to keep them for
  // a year. A delete() or put() through this instance drops the copy at once,
  // so a photo deleted through this process stops being served immediately; a
  // delete by another process (another replica on a shared volume, the worker)
  // is seen here within the TTL: the same or better than the year any browser
  // or CDN may keep serving it. Originals, exports and backups are private and
  // may be large: never held.
  const limits = options.memory === false ? null : { ...DEFAULT_MEMORY_LIMITS, ...options.memory };
  const memory = limits
    ? new LRUCache<string, Held>({
        maxSize: limits.maxBytes,
        sizeCalculation: (held) => held.bytes.length + 512, // plus the entry and its metadata, roughly
        ttl: limits.ttlMs,
        // A given clock is asked every time (lru-cache otherwise reuses a reading for 1 ms of real time).
        ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
      })
    : null;
  // Bumped by every put() and delete(): a read that overlapped one does not
  // keep its copy, since it may have seen the object before the change.
  let writes = 0;
  const forget = (key: string) => {
    writes++;
    memory?.delete(key);
  };
  const holds = (key: string, bytes: number) => limits !== null && key.startsWith('derived/') && bytes <= limits.maxObjectBytes;

  const fileOf = (key: string) => path.join(root, ...key.split('/'));
  // Dot-prefixed names are never valid keys, so a sidecar or a temp file can
  // neither be fetched as an object nor collide with one, and list skips them.
  const sidecarOf = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.meta.json`);
  const tempBeside = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomUUID()}.tmp`);

  function failed(operation: StorageOperation, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    options.onError?.(operation);
    return new StorageError(operation, error);
  }

  /** Open, one read, close: a readFile would also fstat. Undefined when there is none. */
  async function readSidecar(file: string): Promise<Sidecar | undefined> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(sidecarOf(file), 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const buffer = Buffer.allocUnsafe(SIDECAR_READ_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, SIDECAR_READ_BYTES, 0);
      const text = bytesRead < SIDECAR_READ_BYTES ? buffer.toString('utf8', 0, bytesRead) : await handle.readFile('utf8');
      return JSON.parse(text) as Sidecar;
    } finally {
      await handle.close();
    }
  }

  async function readMeta(file: string, stat: fs.Stats): Promise<ObjectMeta> {
    return metaOf(stat, await readSidecar(file));
  }

  function metaOf(stat: fs.Stats, sidecar: Sidecar | undefined): ObjectMeta {
    // A file without a matching sidecar (copied in by hand) is still served, as
    // opaque bytes tagged by size and modification time.
    const sha256 = sidecar && sidecar.bytes === stat.size ? recordedSha256(sidecar.sha256) : undefined;
    const etag = sha256
      ? Buffer.from(sha256, 'hex').toString('base64url')
      : `${stat.size.toString(36)}-${Math.trunc(stat.mtimeMs).toString(36)}`;
    return {
      contentType: sidecar?.contentType ?? 'application/octet-stream',
      bytes: stat.size,
      etag: `"${etag}"`,
      lastModified: stat.mtime,
      ...(sha256 ? { sha256 } : {}),
      ...(sidecar?.cacheControl ? { cacheControl: sidecar.cacheControl } : {}),
    };
  }

  /** Exactly `length` bytes from `position`: a regular file never returns short reads before its end. */
  async function readExactly(handle: fsp.FileHandle, length: number, position: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
      if (bytesRead === 0) throw new Error(`the file ended ${length - filled} bytes early`);
      filled += bytesRead;
    }
    return buffer;
  }

  function fromMemory(held: Held): OpenedObject {
    return {
      ...held.meta,
      body: async (range) => (range ? held.bytes.subarray(range.start, range.end + 1) : held.bytes),
      close: async () => undefined,
    };
  }

  /** The object behind an open handle; `body()` or `close()` releases the handle. */
  function fromHandle(handle: fsp.FileHandle, meta: ObjectMeta): OpenedObject {
    let released = false;
    const release = () => {
      if (released) throw new Error('the object was already read or closed');
      released = true;
    };
    return {
      ...meta,
      async body(range) {
        release();
        const { start, end } = range ?? { start: 0, end: meta.bytes - 1 };
        const length = end - start + 1;
        if (length > BUFFERED_READ_BYTES) return handle.createReadStream({ start, end }); // closes the handle when done or destroyed
        try {
          return length > 0 ? await readExactly(handle, length, start) : Buffer.alloc(0);
        } catch (error) {
          throw failed('get', error);
        } finally {
          await handle.close();
        }
      },
      async close() {
        if (released) return;
        released = true;
        await handle.close();
      },
    };
  }

  /**
   * Opens the object's file and stats it through the same handle, so a
   * concurrent replace cannot mix two versions; null when there is no such
   * object. On success the caller owns (and must close) the handle.
   */
  async function openFile(file: string): Promise<{ handle: fsp.FileHandle; stat: fs.Stats } | null> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, 'r');
    } catch (error) {
      if (isMissing(error)) return null;
      throw failed('get', error);
    }
    try {
      const stat = await handle.stat();
      if (stat.isFile()) return { handle, stat };
      await handle.close();
      return null;
    } catch (error) {
      await handle.close();
      throw failed('get', error);
    }
  }

  async function writeFileAtomically(file: string, data: string): Promise<void> {
    const temp = tempBeside(file);
    try {
      await fsp.writeFile(temp, data, { flag: 'wx', flush: true });
      await fsp.rename(temp, file);
    } catch (error) {
      await fsp.rm(temp, { force: true });
      throw error;
    }
  }

  async function* walk(dir: string, keyDir: string, prefix: string): AsyncGenerator<ListedObject> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = keyDir ? `${keyDir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* walk(path.join(dir, entry.name), key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        try {
          const stat = await fsp.stat(path.join(dir, entry.name));
          yield { key, bytes: stat.size, lastModified: stat.mtime };
        } catch (error) {
          if (!isMissing(error)) throw error; // deleted while listing
        }
      }
    }
  }

  return {
    driver: 'file',

    async put(key: string, body: Readable | Buffer, putOptions: PutOptions): Promise<PutResult> {
      assertValidKey(key);
      const file = fileOf(key);
      const metered = meterBody(body, putOptions.maxBytes, putOptions.sha256);
      const temp = tempBeside(file);
      try {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        // Write beside the target and rename: readers see the old object or the
        // whole new one, never a part, and a failed write leaves only the temp file to remove.
        await pipeline(metered.stream, fs.createWriteStream(temp, { flags: 'wx', flush: true }));
        const result = { bytes: metered.bytes(), sha256: metered.sha256() };
        // The sidecar goes first so the object never exists without its type.
        const sidecar: Sidecar = {
          contentType: putOptions.contentType,
          ...result,
          ...(putOptions.cacheControl ? { cacheControl: putOptions.cacheControl } : {}),
        };
        await writeFileAtomically(sidecarOf(file), JSON.stringify(sidecar));
        await fsp.rename(temp, file);
        return result;
      } catch (error) {
        metered.stream.destroy();
        await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw metered.failure() ?? failed('put', error);
      } finally {
        forget(key);
      }
    },

    async get(key: string, getOptions: { range?: ByteRange } = {}): Promise<StoredObject | null> {
      assertValidKey(key);
      const file = fileOf(key);
      const opened = await openFile(file);
      if (!opened) return null;
      const { handle, stat } = opened;
      try {
        const meta = await readMeta(file, stat);
        const range = getOptions.range ? resolveRange(getOptions.range, stat.size) : undefined;
        const body = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
        return { ...meta, body, ...(range ? { range } : {}) };
      } catch (error) {
        await handle.close();
        if (error instanceof RangeNotSatisfiableError) throw error;
        throw failed('get', error);
      }
    },

    async head(key: string): Promise<ObjectMeta | null> {
      assertValidKey(key);
      const held = memory?.get(key);
      if (held) return { ...held.meta };
      const file = fileOf(key);
      // The sidecar is read while the object is stat'ed (and for nothing when it turns out missing, which is rare).
      const sidecar = readSidecar(file);
      sidecar.catch(() => undefined); // awaited below unless the object is missing
      try {
        const stat = await fsp.stat(file);
        if (!stat.isFile()) return null;
        return metaOf(stat, await sidecar);
      } catch (error) {
        if (isMissing(error)) return null;
        throw failed('head', error);
      }
    },

    async open(key: string): Promise<OpenedObject | null> {
      assertValidKey(key);
      const held = memory?.get(key);
      if (held) return fromMemory(held);
      const file = fileOf(key);
      const writesBefore = writes;
      // The sidecar is read while the object opens.
      const sidecar = readSidecar(file);
      sidecar.catch(() => undefined); // awaited below unless the object is missing
      const opened = await openFile(file);
      if (!opened) return null;
      const { handle, stat } = opened;
      let meta: ObjectMeta;
      try {
        meta = metaOf(stat, await sidecar);
      } catch (error) {
        await handle.close();
        throw failed('get', error);
      }
      if (!holds(key, meta.bytes)) return fromHandle(handle, meta);
      // Small and derived: read it whole now and keep it, whatever part this request wants.
      let bytes: Buffer;
      try {
        bytes = meta.bytes > 0 ? await readExactly(handle, meta.bytes, 0) : Buffer.alloc(0);
      } catch (error) {
        throw failed('get', error);
      } finally {
        await handle.close();
      }
      const copy = { meta, bytes };
      if (writes === writesBefore) memory!.set(key, copy);
      return fromMemory(copy);
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      const file = fileOf(key);
      forget(key);
      try {
        await fsp.rm(file, { force: true });
        await fsp.rm(sidecarOf(file), { force: true });
      } catch (error) {
        throw failed('delete', error);
      } finally {
        forget(key);
      }
    },

    async *list(prefix: string): AsyncIterable<ListedObject> {
      assertValidPrefix(prefix);
      const slash = prefix.lastIndexOf('/');
      const keyDir = slash === -1 ? '' : prefix.slice(0, slash);
      try {
        yield* walk(keyDir ? fileOf(keyDir) : root, keyDir, prefix);
      } catch (error) {
        throw failed('list', error);
      }
    },

    async signedUrl(key: string, urlOptions: SignedUrlOptions): Promise<string> {
      assertExpiry(urlOptions.expiresInSeconds);
      return signedNow(key, urlOptions, Math.floor(now() / 1000) + urlOptions.expiresInSeconds);
    },

    async signedUrls(keys: readonly string[], urlOptions: SignedUrlOptions): Promise<string[]> {
      assertExpiry(urlOptions.expiresInSeconds);
      const expiresAt = Math.floor(now() / 1000) + urlOptions.expiresInSeconds;
      return keys.map((key) => signedNow(key, urlOptions, expiresAt));
    },

    // Disk objects have no CDN origin; every link goes through the signed route.
    publicUrl(): null {
      return null;
    },

    async check(): Promise<'ok'> {
      try {
        await fsp.mkdir(root, { recursive: true });
        await fsp.access(root, fs.constants.R_OK | fs.constants.W_OK);
        return 'ok';
      } catch (error) {
        throw failed('check', error);
      }
    },

    async close(): Promise<void> {},
  };
}
