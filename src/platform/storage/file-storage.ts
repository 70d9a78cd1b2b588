// The embedded driver: objects are plain files under one root directory, served
// to browsers by the web's signed /media/ route. Good for one machine or a
// shared volume; switch STORAGE_URL to s3:// when replicas do not share a disk.
//
// Its parts are in file/: the writer (temp file, then rename), the sidecars
// that hold each object's metadata, reads through one open handle, the listing
// walk, the memory of small derived objects, and the memory of signed links.
// This file puts them together behind the ObjectStorage contract.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Keyring } from '../security/keyring.js';
import { meterBody } from './body-meter.js';
import { writeAtomically } from './file/atomic-write.js';
import { createHeldObjects, type MemoryLimits } from './file/held-objects.js';
import { walk } from './file/list.js';
import { fromHandle, fromMemory, isMissing, openFile, readExactly } from './file/read.js';
import { metaOf, readSidecar, sidecarOf, writeSidecar, type Sidecar } from './file/sidecar.js';
import { createLinkSigner } from './file/signed-links.js';
import {
  assertExpiry,
  assertValidKey,
  assertValidPrefix,
  RangeNotSatisfiableError,
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

export { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from './file/held-objects.js';

export interface FileStorageOptions extends StorageHooks {
  root: string;
  /** Base of the signed /media/ URLs (PUBLIC_URL). */
  publicUrl: URL;
  keyring: Keyring;
  /** The clock of signed links, and of the memory copies' TTL when given (tests). */
  now?: () => number;
  /** Bounds of the in-memory copies of small derived objects (file/held-objects.ts); `false` keeps none. */
  memory?: Partial<MemoryLimits> | false;
}

export function createFileStorage(options: FileStorageOptions): ObjectStorage {
  const root = path.resolve(options.root);
  const now = options.now ?? Date.now;
  const sign = createLinkSigner(options.publicUrl, options.keyring);
  const memory = createHeldObjects(options);
  const fileOf = (key: string) => path.join(root, ...key.split('/'));

  function failed(operation: StorageOperation, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    options.onError?.(operation);
    return new StorageError(operation, error);
  }
  const failedGet = (error: unknown) => failed('get', error);

  return {
    driver: 'file',

    async put(key: string, body: Readable | Buffer, putOptions: PutOptions): Promise<PutResult> {
      assertValidKey(key);
      const file = fileOf(key);
      const metered = meterBody(body, putOptions.maxBytes, putOptions.sha256);
      try {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        let result: PutResult | undefined;
        await writeAtomically(file, metered.stream, async () => {
          result = { bytes: metered.bytes(), sha256: metered.sha256() };
          // The sidecar goes first so the object never exists without its type.
          const sidecar: Sidecar = {
            contentType: putOptions.contentType,
            ...result,
            ...(putOptions.cacheControl ? { cacheControl: putOptions.cacheControl } : {}),
          };
          await writeSidecar(file, sidecar);
        });
        return result!;
      } catch (error) {
        metered.stream.destroy();
        throw metered.failure() ?? failed('put', error);
      } finally {
        memory.forget(key);
      }
    },

    async get(key: string, getOptions: { range?: ByteRange } = {}): Promise<StoredObject | null> {
      assertValidKey(key);
      const file = fileOf(key);
      const opened = await openFile(file).catch((error: unknown) => {
        throw failedGet(error);
      });
      if (!opened) return null;
      const { handle, stat } = opened;
      try {
        const meta = metaOf(stat, await readSidecar(file));
        const range = getOptions.range ? resolveRange(getOptions.range, stat.size) : undefined;
        const body = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
        return { ...meta, body, ...(range ? { range } : {}) };
      } catch (error) {
        await handle.close();
        if (error instanceof RangeNotSatisfiableError) throw error;
        throw failedGet(error);
      }
    },

    async head(key: string): Promise<ObjectMeta | null> {
      assertValidKey(key);
      const held = memory.get(key);
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
      const held = memory.get(key);
      if (held) return fromMemory(held);
      const file = fileOf(key);
      const mark = memory.mark();
      // The sidecar is read while the object opens.
      const sidecar = readSidecar(file);
      sidecar.catch(() => undefined); // awaited below unless the object is missing
      const opened = await openFile(file).catch((error: unknown) => {
        throw failedGet(error);
      });
      if (!opened) return null;
      const { handle, stat } = opened;
      let meta: ObjectMeta;
      try {
        meta = metaOf(stat, await sidecar);
      } catch (error) {
        await handle.close();
        throw failedGet(error);
      }
      if (!memory.holds(key, meta.bytes)) return fromHandle(handle, meta, failedGet);
      // Small and derived: read it whole now and keep it, whatever part this request wants.
      let bytes: Buffer;
      try {
        bytes = meta.bytes > 0 ? await readExactly(handle, meta.bytes, 0) : Buffer.alloc(0);
      } catch (error) {
        throw failedGet(error);
      } finally {
        await handle.close();
      }
      const copy = { meta, bytes };
      memory.keep(key, copy, mark);
      return fromMemory(copy);
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      const file = fileOf(key);
      memory.forget(key);
      try {
        await fsp.rm(file, { force: true });
        await fsp.rm(sidecarOf(file), { force: true });
      } catch (error) {
        throw failed('delete', error);
      } finally {
        memory.forget(key);
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
      return sign(key, urlOptions, Math.floor(now() / 1000) + urlOptions.expiresInSeconds);
    },

    async signedUrls(keys: readonly string[], urlOptions: SignedUrlOptions): Promise<string[]> {
      assertExpiry(urlOptions.expiresInSeconds);
      const expiresAt = Math.floor(now() / 1000) + urlOptions.expiresInSeconds;
      return keys.map((key) => sign(key, urlOptions, expiresAt));
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
