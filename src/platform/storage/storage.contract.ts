// What every ObjectStorage driver promises, as tests each driver's suite runs
// against itself, so the file and S3 drivers cannot drift apart.
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { expect, it } from 'vitest';
import {
  ChecksumMismatchError,
  InvalidKeyError,
  newObjectKey,
  ObjectTooLargeError,
  RangeNotSatisfiableError,
  type ObjectStorage,
  type StorageOperation,
} from './storage.js';

export interface ContractContext {
  storage: ObjectStorage;
  /** Operations reported to the driver's onError hook since the suite began. */
  errors: StorageOperation[];
}

export const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

/** `total` bytes in chunks of `chunk`, produced lazily like a network upload. */
export function chunkedStream(total: number, chunk = 64 * 1024, seed = 7): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < total; offset += chunk) {
        const size = Math.min(chunk, total - offset);
        yield Buffer.alloc(size, (offset / chunk + seed) % 251);
      }
    })(),
  );
}

/** A stream that sends `before` bytes and then fails, like a client that disconnects mid-upload. */
export function failingStream(before: number, error = new Error('client went away')): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.alloc(before, 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw error;
    })(),
  );
}

async function keysUnder(storage: ObjectStorage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix)) keys.push(object.key);
  return keys.sort();
}

export function objectStorageContract(context: () => ContractContext): void {
  it('puts a buffer and reads it back with its type, size, sha256 and a quoted etag', async () => {
    const { storage } = context();
    const key = newObjectKey('originals', 'png');
    const bytes = crypto.randomBytes(3000);
    expect(await storage.put(key, bytes, { contentType: 'image/png' })).toEqual({ bytes: 3000, sha256: sha256(bytes) });
    const meta = await storage.head(key);
    expect(meta).toMatchObject({ contentType: 'image/png', bytes: 3000 });
    expect(meta!.etag).toMatch(/^"[^"]+"$/);
    expect(meta!.lastModified).toBeInstanceOf(Date);
    const object = await storage.get(key);
    expect(object).toMatchObject({ contentType: 'image/png', bytes: 3000, etag: meta!.etag });
    expect(object!.range).toBeUndefined();
    expect((await buffer(object!.body)).equals(bytes)).toBe(true);
  });

  it('streams a body of unknown length and hashes it on the way', async () => {
    const { storage } = context();
    const key = newObjectKey('derived', 'webp');
    const result = await storage.put(key, chunkedStream(300_000), { contentType: 'image/webp' });
    const expected = await buffer(chunkedStream(300_000));
    expect(result).toEqual({ bytes: 300_000, sha256: sha256(expected) });
    expect(sha256(await buffer((await storage.get(key))!.body))).toBe(result.sha256);
  });

  it('records the SHA-256 a put was given, and reports it and the Cache-Control from head and get', async () => {
    const { storage } = context();
    const key = newObjectKey('derived', 'webp');
    const bytes = crypto.randomBytes(5000);
    const cacheControl = 'private, max-age=31536000, immutable';
    expect(await storage.put(key, bytes, { contentType: 'image/webp', cacheControl, sha256: sha256(bytes) })).toEqual({
      bytes: 5000,
      sha256: sha256(bytes),
    });
    expect(await storage.head(key)).toMatchObject({ bytes: 5000, sha256: sha256(bytes), cacheControl });
    const object = await storage.get(key);
    expect(object).toMatchObject({ bytes: 5000, sha256: sha256(bytes), cacheControl });
    expect((await buffer(object!.body)).equals(bytes)).toBe(true);
  });

  it('refuses a body that does not hash to the SHA-256 the put was given, and stores nothing', async () => {
    const { storage, errors } = context();
    const key = newObjectKey('originals', 'jpg');
    const other = sha256(Buffer.from('something else'));
    const small = await storage.put(key, Buffer.from('jpeg'), { contentType: 'image/jpeg', sha256: other }).catch((error) => error);
    expect(small).toBeInstanceOf(ChecksumMismatchError);
    expect(small).toMatchObject({ expected: other, actual: sha256(Buffer.from('jpeg')) });
    await expect(storage.put(key, chunkedStream(300_000), { contentType: 'image/jpeg', sha256: other })).rejects.toBeInstanceOf(
      ChecksumMismatchError,
    );
    expect(await storage.head(key)).toBeNull();
    expect(await keysUnder(storage, key)).toEqual([]);
    await expect(storage.put(key, Buffer.from('jpeg'), { contentType: 'image/jpeg', sha256: 'not hex' })).rejects.toBeInstanceOf(
      RangeError,
    );
    expect(errors).toEqual([]);
  });

  it('reads byte ranges, clamps an end past the object, and refuses a start past it', async () => {
    const { storage } = context();
    const key = newObjectKey('originals', 'jpg');
    const bytes = Buffer.from('0123456789');
    await storage.put(key, bytes, { contentType: 'image/jpeg' });
    const middle = await storage.get(key, { range: { start: 2, end: 5 } });
    expect(middle).toMatchObject({ bytes: 10, range: { start: 2, end: 5 } });
    expect((await buffer(middle!.body)).toString()).toBe('2345');
    const tail = await storage.get(key, { range: { start: 7 } });
    expect(tail!.range).toEqual({ start: 7, end: 9 });
    expect((await buffer(tail!.body)).toString()).toBe('789');
    const clamped = await storage.get(key, { range: { start: 8, end: 100 } });
    expect(clamped!.range).toEqual({ start: 8, end: 9 });
    expect((await buffer(clamped!.body)).toString()).toBe('89');
    await expect(storage.get(key, { range: { start: 10 } })).rejects.toBeInstanceOf(RangeNotSatisfiableError);
  });

  it('answers null for a missing object, and deletes idempotently', async () => {
    const { storage, errors } = context();
    const key = newObjectKey('exports', 'zip');
    expect(await storage.get(key)).toBeNull();
    expect(await storage.head(key)).toBeNull();
    await storage.delete(key);
    await storage.put(key, Buffer.from('zip'), { contentType: 'application/zip' });
    await storage.delete(key);
    expect(await storage.head(key)).toBeNull();
    expect(await storage.get(key)).toBeNull();
    await storage.delete(key);
    expect(errors).toEqual([]);
  });

  it('lists the objects under a prefix, a partial segment included, with sizes', async () => {
    const { storage } = context();
    const run = `run${crypto.randomBytes(3).toString('hex')}`;
    await storage.put(`backups/${run}/a/1.json`, Buffer.from('1'), { contentType: 'application/json' });
    await storage.put(`backups/${run}/a/22.json`, Buffer.from('22'), { contentType: 'application/json' });
    await storage.put(`backups/${run}/ab/3.json`, Buffer.from('333'), { contentType: 'application/json' });
    await storage.put(`backups/${run}/b/4.json`, Buffer.from('4444'), { contentType: 'application/json' });
    expect(await keysUnder(storage, `backups/${run}/a/`)).toEqual([`backups/${run}/a/1.json`, `backups/${run}/a/22.json`]);
    expect(await keysUnder(storage, `backups/${run}/a`)).toEqual([
      `backups/${run}/a/1.json`,
      `backups/${run}/a/22.json`,
      `backups/${run}/ab/3.json`,
    ]);
    expect(await keysUnder(storage, `backups/${run}/`)).toHaveLength(4);
    expect(await keysUnder(storage, `backups/${run}/c`)).toEqual([]);
    const listed = [];
    for await (const object of storage.list(`backups/${run}/b/`)) listed.push(object);
    expect(listed).toEqual([{ key: `backups/${run}/b/4.json`, bytes: 4, lastModified: expect.any(Date) }]);
  });

  it('aborts past maxBytes with ObjectTooLargeError and stores nothing', async () => {
    const { storage, errors } = context();
    const key = newObjectKey('originals', 'jpg');
    const failure = await storage
      .put(key, chunkedStream(200_000), { contentType: 'image/jpeg', maxBytes: 100_000 })
      .catch((error) => error);
    expect(failure).toBeInstanceOf(ObjectTooLargeError);
    expect(failure.maxBytes).toBe(100_000);
    await expect(storage.put(key, Buffer.alloc(11), { contentType: 'image/jpeg', maxBytes: 10 })).rejects.toBeInstanceOf(
      ObjectTooLargeError,
    );
    expect(await storage.head(key)).toBeNull();
    expect(await keysUnder(storage, key)).toEqual([]);
    expect(await storage.put(key, Buffer.alloc(10), { contentType: 'image/jpeg', maxBytes: 10 })).toMatchObject({ bytes: 10 });
    expect(errors).toEqual([]);
  });

  it('rejects with the body stream’s own error when it fails mid-way, and stores nothing', async () => {
    const { storage, errors } = context();
    const key = newObjectKey('originals', 'jpg');
    const gone = new Error('client went away');
    await expect(storage.put(key, failingStream(50_000, gone), { contentType: 'image/jpeg' })).rejects.toBe(gone);
    expect(await storage.head(key)).toBeNull();
    expect(await keysUnder(storage, key)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('refuses keys that could escape or alias, before touching the store', async () => {
    const { storage } = context();
    const bad = [
      '../etc/passwd',
      'originals/../../x.jpg',
      '/abs/x.jpg',
      'a\\b.jpg',
      'a//b.jpg',
      'a/.hidden',
      'a/',
      '',
      'a b.jpg',
      'a/\u0000.jpg',
    ];
    for (const key of bad) {
      await expect(storage.put(key, Buffer.from('x'), { contentType: 'text/plain' }), key).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(storage.get(key), key).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(storage.head(key), key).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(storage.delete(key), key).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(storage.signedUrl(key, { expiresInSeconds: 60 }), key).rejects.toBeInstanceOf(InvalidKeyError);
    }
    await expect(keysUnder(storage, '../')).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it('signs absolute URLs and refuses lifetimes outside 1 s to 7 days', async () => {
    const { storage } = context();
    const key = newObjectKey('derived', 'jpg');
    expect(new URL(await storage.signedUrl(key, { expiresInSeconds: 60 })).protocol).toMatch(/^https?:$/);
    await expect(storage.signedUrl(key, { expiresInSeconds: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(storage.signedUrl(key, { expiresInSeconds: 8 * 24 * 3600 })).rejects.toBeInstanceOf(RangeError);
  });

  it('signs many keys in one call, in order, as signedUrl signs each, with the same checks', async () => {
    const { storage } = context();
    const [a, b] = [newObjectKey('derived', 'jpg'), newObjectKey('originals', 'jpg')];
    const lifetime = { expiresInSeconds: 60 };
    const pathOf = (url: string) => new URL(url).pathname;
    const many = await storage.signedUrls([a, b, a], lifetime);
    const one = await Promise.all([a, b, a].map((key) => storage.signedUrl(key, lifetime)));
    expect(many.map(pathOf)).toEqual(one.map(pathOf));
    expect(pathOf(many[0]!)).not.toBe(pathOf(many[1]!));
    expect(await storage.signedUrls([], lifetime)).toEqual([]);
    await expect(storage.signedUrls([a, '../escape.jpg'], lifetime)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(storage.signedUrls([a], { expiresInSeconds: 0 })).rejects.toBeInstanceOf(RangeError);
  });

  it('passes its health check', async () => {
    expect(await context().storage.check()).toBe('ok');
  });
}
