import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { createKeyring } from '../security/keyring.js';
import { createStorage, fileStorageRoot } from './create-storage.js';
import { createFileStorage, DEFAULT_MEMORY_LIMITS } from './file-storage.js';
import { checkMediaRequest } from './media-signing.js';
import { chunkedStream, failingStream, objectStorageContract, type ContractContext } from './storage.contract.js';
import { newObjectKey, ObjectTooLargeError, StorageError, type OpenedObject, type StorageOperation } from './storage.js';

const keyring = createKeyring(['file-storage-test-key-0123456789abcdefghijklmnop']);
const publicUrl = new URL('http://localhost:3000');
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-file-storage-'));
  tempDirs.push(dir);
  return dir;
}

/** Every file under `dir`, hidden ones included, relative to it. */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('file storage: the driver contract', () => {
  let context: ContractContext;
  beforeAll(() => {
    const errors: StorageOperation[] = [];
    context = {
      storage: createFileStorage({ root: tempDir(), publicUrl, keyring, onError: (operation) => errors.push(operation) }),
      errors,
    };
  });
  objectStorageContract(() => context);
});

describe('file storage on disk', () => {
  it('keeps an object as a plain file with a hidden sidecar, and no temp files after a put', async () => {
    const root = tempDir();
    const storage = createFileStorage({ root, publicUrl, keyring });
    await storage.put('derived/2025/01/a.jpg', Buffer.from('jpeg bytes'), { contentType: 'image/jpeg' });
    expect(filesUnder(root)).toEqual(['derived/2025/01/.a.jpg.meta.json', 'derived/2025/01/a.jpg']);
    expect(fs.readFileSync(path.join(root, 'derived/2025/01/a.jpg'), 'utf8')).toBe('jpeg bytes');
    expect(JSON.parse(fs.readFileSync(path.join(root, 'derived/2025/01/.a.jpg.meta.json'), 'utf8'))).toMatchObject({
      contentType: 'image/jpeg',
      bytes: 10,
    });
    expect(await storage.get('derived/2025')).toBeNull();
    expect(await storage.head('derived/2025')).toBeNull();
  });

  it('leaves no trace when the body fails mid-way or runs past maxBytes', async () => {
    const root = tempDir();
    const storage = createFileStorage({ root, publicUrl, keyring });
    await expect(storage.put('originals/2025/01/x.jpg', failingStream(200_000), { contentType: 'image/jpeg' })).rejects.toThrow(
      'client went away',
    );
    await expect(
      storage.put('originals/2025/01/y.jpg', chunkedStream(500_000), { contentType: 'image/jpeg', maxBytes: 200_000 }),
    ).rejects.toBeInstanceOf(ObjectTooLargeError);
    expect(filesUnder(root)).toEqual([]);
  });

  it('keeps the previous object whole when a put over it fails', async () => {
    const root = tempDir();
    const storage = createFileStorage({ root, publicUrl, keyring });
    const key = 'exports/2025/01/e.zip';
    await storage.put(key, Buffer.from('first version'), { contentType: 'application/zip' });
    await expect(storage.put(key, failingStream(100_000), { contentType: 'text/plain' })).rejects.toThrow('client went away');
    expect(await storage.head(key)).toMatchObject({ contentType: 'application/zip', bytes: 13 });
    expect(filesUnder(root)).toEqual(['exports/2025/01/.e.zip.meta.json', 'exports/2025/01/e.zip']);
  });

  it('serves a file copied in without a sidecar as opaque bytes', async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'backups'), { recursive: true });
    fs.writeFileSync(path.join(root, 'backups/manual.dump'), 'dump');
    const storage = createFileStorage({ root, publicUrl, keyring });
    expect(await storage.head('backups/manual.dump')).toMatchObject({
      contentType: 'application/octet-stream',
      bytes: 4,
      etag: expect.stringMatching(/^".+"$/),
    });
  });

  it('signs /media/ links under PUBLIC_URL that the route accepts until they expire', async () => {
    const now = 1_750_000_000_000;
    const storage = createFileStorage({ root: tempDir(), publicUrl: new URL('https://photos.example.test/'), keyring, now: () => now });
    const key = newObjectKey('originals', 'jpg');
    const url = new URL(await storage.signedUrl(key, { expiresInSeconds: 600, downloadName: 'Summer party.jpg' }));
    expect(`${url.origin}${url.pathname}`).toBe(`https://photos.example.test/media/${key}`);
    const query = Object.fromEntries(url.searchParams);
    expect(query).toMatchObject({ exp: String(now / 1000 + 600), dl: 'Summer party.jpg', sig: expect.any(String) });
    expect(checkMediaRequest(keyring, key, query, now / 1000)).toMatchObject({
      ok: true,
      grant: { key, downloadName: 'Summer party.jpg' },
    });
    expect(checkMediaRequest(keyring, key, { ...query, dl: 'other.jpg' }, now / 1000)).toEqual({ ok: false, reason: 'invalid' });
    expect(checkMediaRequest(keyring, key, query, now / 1000 + 601)).toEqual({ ok: false, reason: 'expired' });
  });

  it('has no CDN URLs: every link goes through the signed route', () => {
    expect(createFileStorage({ root: tempDir(), publicUrl, keyring }).publicUrl('derived/2025/01/a.jpg')).toBeNull();
  });

  it('fails its health check with a StorageError, reported to onError, when the root cannot be created', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'not-a-dir'), '');
    const errors: StorageOperation[] = [];
    const storage = createFileStorage({
      root: path.join(dir, 'not-a-dir', 'storage'),
      publicUrl,
      keyring,
      onError: (operation) => errors.push(operation),
    });
    const failure = await storage.check().catch((error) => error);
    expect(failure).toBeInstanceOf(StorageError);
    expect(failure.operation).toBe('check');
    await expect(storage.put('originals/2025/01/z.jpg', Buffer.from('z'), { contentType: 'image/jpeg' })).rejects.toBeInstanceOf(
      StorageError,
    );
    expect(errors).toEqual(['check', 'put']);
  });
});

/** The object's body as one buffer, whether the driver answered with a Buffer or a stream. */
async function bodyOf(object: OpenedObject, range?: { start: number; end: number }): Promise<Buffer> {
  const body = await object.body(range);
  return body instanceof Readable ? buffer(body) : body;
}

/** Removes an object and its sidecar behind the storage's back, as another process would. */
function removeFromDisk(root: string, key: string): void {
  const file = path.join(root, ...key.split('/'));
  fs.rmSync(file);
  fs.rmSync(path.join(path.dirname(file), `.${path.basename(file)}.meta.json`));
}

describe('file storage: open(), the single read behind /media/', () => {
  it('gives the metadata get() and head() give, and the bytes or a range of them', async () => {
    const storage = createFileStorage({ root: tempDir(), publicUrl, keyring });
    for (const [key, bytes] of [
      [newObjectKey('originals', 'jpg'), Buffer.from('0123456789')],
      [newObjectKey('derived', 'webp'), Buffer.from('0123456789')],
      [newObjectKey('originals', 'jpg'), Buffer.alloc(400 * 1024, 9)],
    ] as const) {
      await storage.put(key, bytes, { contentType: 'image/jpeg' });
      const head = await storage.head(key);
      const object = (await storage.open!(key))!;
      expect({ ...object, body: undefined, close: undefined }).toEqual({ ...head, body: undefined, close: undefined });
      expect((await bodyOf(object)).equals(bytes)).toBe(true);
      const ranged = (await storage.open!(key))!;
      expect((await bodyOf(ranged, { start: 2, end: 5 })).equals(bytes.subarray(2, 6))).toBe(true);
      const tail = (await storage.open!(key))!;
      expect((await bodyOf(tail, { start: 1, end: bytes.length - 1 })).equals(bytes.subarray(1))).toBe(true);
      await (await storage.open!(key))!.close();
    }
  });

  it('answers null for a missing object or a directory, refuses invalid keys, and reads empty objects', async () => {
    const storage = createFileStorage({ root: tempDir(), publicUrl, keyring });
    expect(await storage.open!(newObjectKey('derived', 'webp'))).toBeNull();
    await storage.put('derived/2025/01/a.webp', Buffer.alloc(0), { contentType: 'image/webp' });
    expect(await storage.open!('derived/2025')).toBeNull();
    await expect(storage.open!('derived/../x.webp')).rejects.toThrow(/invalid object key/);
    const empty = (await storage.open!('derived/2025/01/a.webp'))!;
    expect(empty.bytes).toBe(0);
    expect((await bodyOf(empty)).length).toBe(0);
  });

  it('refuses a second read of an object opened from disk', async () => {
    const storage = createFileStorage({ root: tempDir(), publicUrl, keyring });
    const key = newObjectKey('originals', 'jpg');
    await storage.put(key, Buffer.from('once'), { contentType: 'image/jpeg' });
    const object = (await storage.open!(key))!;
    expect((await bodyOf(object)).toString()).toBe('once');
    await expect(object.body()).rejects.toThrow(/already read or closed/);
    await object.close();
  });

  it('holds small derived objects, and forgets them on delete() or after the TTL (a delete by another process)', async () => {
    let clock = 1_750_000_000_000;
    const root = tempDir();
    const storage = createFileStorage({ root, publicUrl, keyring, now: () => clock });
    const other = createFileStorage({ root, publicUrl, keyring });
    const [a, b] = [newObjectKey('derived', 'webp'), newObjectKey('derived', 'webp')];
    await storage.put(a, Buffer.from('aaa'), { contentType: 'image/webp' });
    await storage.put(b, Buffer.from('bbb'), { contentType: 'image/webp' });
    await bodyOf((await storage.open!(a))!);
    await bodyOf((await storage.open!(b))!);
    await other.delete(a);
    await other.delete(b);
    expect((await bodyOf((await storage.open!(a))!)).toString()).toBe('aaa');
    expect(await storage.head(b)).toMatchObject({ contentType: 'image/webp', bytes: 3 });
    await storage.delete(b);
    expect(await storage.open!(b)).toBeNull();
    expect(await storage.head(b)).toBeNull();
    clock += DEFAULT_MEMORY_LIMITS.ttlMs - 1;
    expect(await storage.open!(a)).not.toBeNull();
    clock += 2;
    expect(await storage.open!(a)).toBeNull();
    expect(await storage.head(a)).toBeNull();
  });

  it('holds no more than its total bytes, and nothing with memory: false', async () => {
    const root = tempDir();
    const storage = createFileStorage({ root, publicUrl, keyring, memory: { maxObjectBytes: 100, maxBytes: 2000 } });
    const none = createFileStorage({ root, publicUrl, keyring, memory: false });
    const keys = Array.from({ length: 8 }, () => newObjectKey('derived', 'webp'));
    for (const key of keys) {
      await storage.put(key, Buffer.alloc(100, 1), { contentType: 'image/webp' });
      await bodyOf((await storage.open!(key))!);
      await bodyOf((await none.open!(key))!);
    }
    const large = newObjectKey('derived', 'webp');
    await storage.put(large, Buffer.alloc(101, 1), { contentType: 'image/webp' });
    await bodyOf((await storage.open!(large))!);
    for (const key of [...keys, large]) removeFromDisk(root, key);
    // Each copy counts its bytes and about 512 more: 2000 bytes hold three of them, the most recent.
    const stillServed = [];
    for (const key of keys) if (await storage.open!(key)) stillServed.push(key);
    expect(stillServed).toEqual(keys.slice(-3));
    expect(await storage.open!(large)).toBeNull();
    for (const key of keys) expect(await none.open!(key)).toBeNull();
  });

  it('leaves no copy behind when a read races a delete()', async () => {
    const root = tempDir();
    const storage = createFileStorage({ root, publicUrl, keyring });
    const key = newObjectKey('derived', 'webp');
    await storage.put(key, Buffer.from('v1'), { contentType: 'image/webp' });
    const reading = storage.open!(key);
    const deleting = storage.delete(key);
    await Promise.all([reading.then((object) => object && bodyOf(object)), deleting]);
    expect(await storage.open!(key)).toBeNull();
  });
});

describe('the STORAGE_URL dial, file side', () => {
  const logger = createLogger({ level: 'silent', pretty: false, name: 'test' });
  const base = {
    dataDir: '/var/lib/epu',
    publicUrl,
    s3Endpoint: undefined,
    s3Region: 'us-east-1',
    s3ForcePathStyle: false,
    cdnBaseUrl: undefined,
  };

  it('uses <EPU_DATA_DIR>/storage when STORAGE_URL is unset or file://, and the given path for file:///abs', () => {
    expect(fileStorageRoot({ dataDir: '/var/lib/epu', storageUrl: undefined })).toBe('/var/lib/epu/storage');
    expect(fileStorageRoot({ dataDir: '/var/lib/epu', storageUrl: 'file://' })).toBe('/var/lib/epu/storage');
    expect(fileStorageRoot({ dataDir: '/var/lib/epu', storageUrl: 'file:///srv/epu-objects' })).toBe('/srv/epu-objects');
    expect(() => fileStorageRoot({ dataDir: '/var/lib/epu', storageUrl: 'file://relative/path' })).toThrow(/STORAGE_URL/);
  });

  it('builds the file driver for an unset or file:// STORAGE_URL', async () => {
    const dir = tempDir();
    const storage = createStorage({ ...base, storageUrl: `file://${dir}` }, keyring, logger);
    expect(storage.driver).toBe('file');
    await storage.put('derived/2025/01/a.png', Buffer.from('png'), { contentType: 'image/png' });
    expect(fs.existsSync(path.join(dir, 'derived/2025/01/a.png'))).toBe(true);
    expect(createStorage({ ...base, storageUrl: undefined }, keyring, logger).driver).toBe('file');
  });
});
