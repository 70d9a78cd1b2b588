import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type App } from '../http/server.js';
import { createLogger } from '../observability/logger.js';
import { createKeyring } from '../security/keyring.js';
import { createFileStorage, DEFAULT_MEMORY_LIMITS } from './file-storage.js';
import { mediaRoutes } from './media.routes.js';
import { newObjectKey, type ObjectStorage } from './storage.js';
import { createS3Storage } from './s3-storage.js';

const OLD_SECRET = 'media-route-old-secret-0123456789abcdefghijklmno';
const NEW_SECRET = 'media-route-new-secret-0123456789abcdefghijklmno';
const publicUrl = new URL('http://localhost:3000');
const bytes = Buffer.from('0123456789abcdefghij');

let root: string;
let app: App;
let storage: ObjectStorage;
let original: string;
let thumbnail: string;

/** The path and query of a signed URL, for app.inject. */
const pathOf = (url: string) => {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
};

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-media-'));
  // The server knows both secrets, newest first, as after a rotation.
  storage = createFileStorage({ root, publicUrl, keyring: createKeyring([NEW_SECRET, OLD_SECRET]) });
  original = newObjectKey('originals', 'jpg');
  thumbnail = newObjectKey('derived', 'webp');
  await storage.put(original, bytes, { contentType: 'image/jpeg' });
  await storage.put(thumbnail, bytes, { contentType: 'image/webp' });

  app = createHttpServer({
    requestTimeoutMs: 60_000,
    logger: createLogger({ level: 'silent', pretty: false, name: 'test' }),
    bodyLimit: 1024,
    trustProxy: false,
    errorPages: { notFound: () => '<h1>Not found</h1>', error: (_request, status, message) => `<h1>${status}</h1><p>${message}</p>` },
  });
  mediaRoutes(app, { storage, keyring: createKeyring([NEW_SECRET, OLD_SECRET]) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Removes an object and its sidecar from disk behind the storage's back, as another process would. */
const removeFromDisk = (key: string) => {
  const file = path.join(root, ...key.split('/'));
  fs.rmSync(file);
  fs.rmSync(path.join(path.dirname(file), `.${path.basename(file)}.meta.json`));
};

const get = (url: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url: pathOf(url), headers: { accept: 'application/json', ...headers } });

describe('GET /media/* with a valid signature', () => {
  it('streams the object with its type, length, ETag, a private cache lifetime and nosniff', async () => {
    const response = await get(await storage.signedUrl(original, { expiresInSeconds: 600 }));
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(bytes)).toBe(true);
    expect(response.headers['content-type']).toBe('image/jpeg');
    expect(response.headers['content-length']).toBe(String(bytes.length));
    expect(response.headers.etag).toMatch(/^"[^"]+"$/);
    expect(response.headers['accept-ranges']).toBe('bytes');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(String(response.headers['cache-control']))?.[1]);
    expect(maxAge).toBeGreaterThan(590);
    expect(maxAge).toBeLessThanOrEqual(600);
    expect(response.headers['content-disposition']).toBeUndefined();
  });

  it('lets the browser, never a shared cache, keep derived files for a year', async () => {
    const response = await get(await storage.signedUrl(thumbnail, { expiresInSeconds: 600 }));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/webp');
    expect(response.headers['cache-control']).toBe('private, max-age=31536000, immutable');
  });

  it('answers 304 without a body when If-None-Match holds the ETag', async () => {
    const url = await storage.signedUrl(original, { expiresInSeconds: 600 });
    const { etag } = (await get(url)).headers;
    const response = await get(url, { 'if-none-match': `"other", W/${etag}` });
    expect(response.statusCode).toBe(304);
    expect(response.rawPayload.length).toBe(0);
    expect(response.headers.etag).toBe(etag);
    expect((await get(url, { 'if-none-match': '"stale"' })).statusCode).toBe(200);
  });

  it('answers a byte range with 206 and Content-Range, in each of the three forms', async () => {
    const url = await storage.signedUrl(original, { expiresInSeconds: 600 });
    const first = await get(url, { range: 'bytes=0-3' });
    expect(first.statusCode).toBe(206);
    expect(first.headers['content-range']).toBe('bytes 0-3/20');
    expect(first.headers['content-length']).toBe('4');
    expect(first.payload).toBe('0123');
    const open = await get(url, { range: 'bytes=15-' });
    expect([open.statusCode, open.headers['content-range'], open.payload]).toEqual([206, 'bytes 15-19/20', 'fghij']);
    const suffix = await get(url, { range: 'bytes=-3' });
    expect([suffix.statusCode, suffix.headers['content-range'], suffix.payload]).toEqual([206, 'bytes 17-19/20', 'hij']);
    const clamped = await get(url, { range: 'bytes=18-99' });
    expect([clamped.statusCode, clamped.headers['content-range'], clamped.payload]).toEqual([206, 'bytes 18-19/20', 'ij']);
  });

  it('answers 416 with the size for a range past the end, and ignores ranges it does not serve', async () => {
    const url = await storage.signedUrl(original, { expiresInSeconds: 600 });
    const past = await get(url, { range: 'bytes=20-' });
    expect(past.statusCode).toBe(416);
    expect(past.headers['content-range']).toBe('bytes */20');
    expect((await get(url, { range: 'bytes=0-1,4-5' })).statusCode).toBe(200);
    expect((await get(url, { range: 'bytes=0-3', 'if-range': '"stale"' })).statusCode).toBe(200);
    const { etag } = (await get(url)).headers;
    expect((await get(url, { range: 'bytes=0-3', 'if-range': String(etag) })).statusCode).toBe(206);
  });

  it('serves a named download as an attachment', async () => {
    const response = await get(await storage.signedUrl(original, { expiresInSeconds: 600, downloadName: 'Fête 2025.jpg' }));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-disposition']).toBe(`attachment; filename="F_te 2025.jpg"; filename*=UTF-8''F%C3%AAte%202025.jpg`);
  });

  it('keeps working for a link signed with an older SECRET_KEY', async () => {
    const before = createFileStorage({ root, publicUrl, keyring: createKeyring([OLD_SECRET]) });
    const response = await get(await before.signedUrl(original, { expiresInSeconds: 600 }));
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(bytes)).toBe(true);
  });

  it('answers 404 not_found for a signed link to an object that is gone', async () => {
    const key = newObjectKey('originals', 'jpg');
    const response = await get(await storage.signedUrl(key, { expiresInSeconds: 600 }));
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('not_found');
  });

  it('answers HEAD with the headers and no body', async () => {
    const url = await storage.signedUrl(original, { expiresInSeconds: 600 });
    const response = await app.inject({ method: 'HEAD', url: pathOf(url) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe('20');
    expect(response.rawPayload.length).toBe(0);
    const ranged = await app.inject({ method: 'HEAD', url: pathOf(url), headers: { range: 'bytes=2-5' } });
    expect([ranged.statusCode, ranged.headers['content-range'], ranged.headers['content-length']]).toEqual([206, 'bytes 2-5/20', '4']);
  });
});

describe('GET /media/* refuses', () => {
  it('an expired link with 403 forbidden, as JSON and as a page', async () => {
    const past = createFileStorage({ root, publicUrl, keyring: createKeyring([NEW_SECRET]), now: () => Date.now() - 3_600_000 });
    const url = await past.signedUrl(original, { expiresInSeconds: 60 });
    const json = await get(url);
    expect(json.statusCode).toBe(403);
    expect(json.json().error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/expired/) });
    const page = await get(url, { accept: 'text/html' });
    expect(page.statusCode).toBe(403);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.payload).toMatch(/expired/);
  });

  it('a tampered link with 403 forbidden: another key, a later expiry, a new name, a forged or missing signature', async () => {
    const url = new URL(await storage.signedUrl(original, { expiresInSeconds: 600 }));
    const variants = [
      url.href.replace(original, thumbnail),
      (() => {
        const u = new URL(url);
        u.searchParams.set('exp', String(Number(u.searchParams.get('exp')) + 3600));
        return u.href;
      })(),
      (() => {
        const u = new URL(url);
        u.searchParams.set('dl', 'x.html');
        return u.href;
      })(),
      (() => {
        const u = new URL(url);
        u.searchParams.set('sig', 'A'.repeat(43));
        return u.href;
      })(),
      (() => {
        const u = new URL(url);
        u.searchParams.delete('sig');
        return u.href;
      })(),
      `${url.origin}${url.pathname}`,
    ];
    for (const variant of variants) {
      const response = await get(variant);
      expect(response.statusCode, variant).toBe(403);
      expect(response.json().error.code).toBe('forbidden');
    }
  });

  it('a link signed with a secret the server does not hold', async () => {
    const stranger = createFileStorage({ root, publicUrl, keyring: createKeyring(['some-other-deployment-secret-0123456789abcdef']) });
    expect((await get(await stranger.signedUrl(original, { expiresInSeconds: 600 }))).statusCode).toBe(403);
  });

  it('paths that try to leave the storage root', async () => {
    for (const attempt of [
      '/media/../secret-key?exp=9999999999&sig=x',
      '/media/%2e%2e/%2e%2e/etc/passwd?exp=9999999999&sig=x',
      '/media/originals%2f..%2f..%2fx?exp=1&sig=x',
    ]) {
      const response = await app.inject({ method: 'GET', url: attempt, headers: { accept: 'application/json' } });
      expect([403, 404], attempt).toContain(response.statusCode);
    }
  });
});

describe('GET /media/* of larger objects, streamed from disk', () => {
  // Past the size read into one buffer: the body is streamed through the handle the metadata came from.
  const large = Buffer.alloc(300 * 1024);
  for (let i = 0; i < large.length; i++) large[i] = (i * 7) % 251;
  let key: string;
  beforeAll(async () => {
    key = newObjectKey('originals', 'jpg');
    await storage.put(key, large, { contentType: 'image/jpeg' });
  });

  it('streams the whole object, and ranges of it on either side of the buffered size', async () => {
    const url = await storage.signedUrl(key, { expiresInSeconds: 600 });
    const whole = await get(url);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-length']).toBe(String(large.length));
    expect(whole.rawPayload.equals(large)).toBe(true);
    const small = await get(url, { range: 'bytes=1000-1009' });
    expect([small.statusCode, small.headers['content-range']]).toEqual([206, `bytes 1000-1009/${large.length}`]);
    expect(small.rawPayload.equals(large.subarray(1000, 1010))).toBe(true);
    const big = await get(url, { range: 'bytes=10-' });
    expect([big.statusCode, big.headers['content-range'], big.headers['content-length']]).toEqual([
      206,
      `bytes 10-${large.length - 1}/${large.length}`,
      String(large.length - 10),
    ]);
    expect(big.rawPayload.equals(large.subarray(10))).toBe(true);
  });

  it('answers 304 and 416 without reading the body, releasing the file each time', async () => {
    const url = await storage.signedUrl(key, { expiresInSeconds: 600 });
    const { etag } = (await get(url)).headers;
    const openFiles = () => fs.readdirSync('/proc/self/fd').length;
    const before = openFiles();
    for (let i = 0; i < 20; i++) {
      expect((await get(url, { 'if-none-match': String(etag) })).statusCode).toBe(304);
      expect((await get(url, { range: `bytes=${large.length}-` })).statusCode).toBe(416);
      expect((await get(url, { range: 'bytes=0-3' })).statusCode).toBe(206);
    }
    // 60 answers, each from an opened file: a leaked handle would show here (a little slack for the runner's own).
    expect(openFiles() - before).toBeLessThan(5);
    expect((await get(url)).rawPayload.equals(large)).toBe(true);
  });
});

describe('GET /media/* of small derived objects, held in memory', () => {
  it('serves a derived object from memory after the first GET: its file gone, the same bytes, type and ETag', async () => {
    const key = newObjectKey('derived', 'webp');
    await storage.put(key, bytes, { contentType: 'image/webp' });
    const url = await storage.signedUrl(key, { expiresInSeconds: 600 });
    const first = await get(url);
    expect(first.statusCode).toBe(200);
    removeFromDisk(key);
    const second = await get(url);
    expect(second.statusCode).toBe(200);
    expect(second.rawPayload.equals(bytes)).toBe(true);
    for (const header of [
      'etag',
      'last-modified',
      'content-type',
      'content-length',
      'cache-control',
      'x-content-type-options',
      'content-security-policy',
      'accept-ranges',
    ]) {
      expect(second.headers[header], header).toBe(first.headers[header]);
    }
    expect(second.headers['cache-control']).toBe('private, max-age=31536000, immutable');
    const head = await app.inject({ method: 'HEAD', url: pathOf(url) });
    expect([head.statusCode, head.headers['content-length'], head.headers.etag, head.rawPayload.length]).toEqual([
      200,
      '20',
      first.headers.etag,
      0,
    ]);
  });

  it('stops serving it as soon as it is deleted through the storage', async () => {
    const key = newObjectKey('derived', 'webp');
    await storage.put(key, bytes, { contentType: 'image/webp' });
    const url = await storage.signedUrl(key, { expiresInSeconds: 600 });
    expect((await get(url)).statusCode).toBe(200);
    await storage.delete(key);
    const gone = await get(url);
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('not_found');
    expect((await app.inject({ method: 'HEAD', url: pathOf(url) })).statusCode).toBe(404);
  });

  it('serves the new bytes after a put over a held key', async () => {
    const key = newObjectKey('derived', 'webp');
    await storage.put(key, bytes, { contentType: 'image/webp' });
    const url = await storage.signedUrl(key, { expiresInSeconds: 600 });
    const before = await get(url);
    await storage.put(key, Buffer.from('replaced'), { contentType: 'image/png' });
    const after = await get(url);
    expect([after.statusCode, after.payload, after.headers['content-type']]).toEqual([200, 'replaced', 'image/png']);
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it('does not hold originals or exports: with the file gone they are 404', async () => {
    for (const key of [newObjectKey('originals', 'jpg'), newObjectKey('exports', 'zip')]) {
      await storage.put(key, bytes, { contentType: 'application/octet-stream' });
      const url = await storage.signedUrl(key, { expiresInSeconds: 600 });
      expect((await get(url)).statusCode, key).toBe(200);
      expect((await get(url)).statusCode, key).toBe(200);
      removeFromDisk(key);
      expect((await get(url)).statusCode, key).toBe(404);
      expect((await app.inject({ method: 'HEAD', url: pathOf(url) })).statusCode, key).toBe(404);
    }
  });

  it('holds a derived object of exactly the per-object limit, and not one a byte over it', async () => {
    const atLimit = Buffer.alloc(DEFAULT_MEMORY_LIMITS.maxObjectBytes, 3);
    const overLimit = Buffer.alloc(DEFAULT_MEMORY_LIMITS.maxObjectBytes + 1, 4);
    const held = newObjectKey('derived', 'webp');
    const notHeld = newObjectKey('derived', 'webp');
    await storage.put(held, atLimit, { contentType: 'image/webp' });
    await storage.put(notHeld, overLimit, { contentType: 'image/webp' });
    const heldUrl = await storage.signedUrl(held, { expiresInSeconds: 600 });
    const notHeldUrl = await storage.signedUrl(notHeld, { expiresInSeconds: 600 });
    expect((await get(heldUrl)).rawPayload.equals(atLimit)).toBe(true);
    const big = await get(notHeldUrl);
    expect([big.statusCode, big.headers['content-length'], big.headers['cache-control']]).toEqual([
      200,
      String(overLimit.length),
      'private, max-age=31536000, immutable',
    ]);
    expect(big.rawPayload.equals(overLimit)).toBe(true);
    removeFromDisk(held);
    removeFromDisk(notHeld);
    expect((await get(heldUrl)).rawPayload.equals(atLimit)).toBe(true);
    expect((await get(notHeldUrl)).statusCode).toBe(404);
  });

  it('answers ranges, If-Range, 416 and 304 from memory', async () => {
    const key = newObjectKey('derived', 'webp');
    await storage.put(key, bytes, { contentType: 'image/webp' });
    const url = await storage.signedUrl(key, { expiresInSeconds: 600 });
    const { etag } = (await get(url)).headers;
    removeFromDisk(key);
    const first = await get(url, { range: 'bytes=0-3' });
    expect([first.statusCode, first.headers['content-range'], first.headers['content-length'], first.payload]).toEqual([
      206,
      'bytes 0-3/20',
      '4',
      '0123',
    ]);
    const open = await get(url, { range: 'bytes=15-' });
    expect([open.statusCode, open.headers['content-range'], open.payload]).toEqual([206, 'bytes 15-19/20', 'fghij']);
    const suffix = await get(url, { range: 'bytes=-3' });
    expect([suffix.statusCode, suffix.headers['content-range'], suffix.payload]).toEqual([206, 'bytes 17-19/20', 'hij']);
    const clamped = await get(url, { range: 'bytes=18-99' });
    expect([clamped.statusCode, clamped.headers['content-range'], clamped.payload]).toEqual([206, 'bytes 18-19/20', 'ij']);
    const past = await get(url, { range: 'bytes=20-' });
    expect([past.statusCode, past.headers['content-range']]).toEqual([416, 'bytes */20']);
    expect((await get(url, { range: 'bytes=0-3', 'if-range': '"stale"' })).payload).toBe(bytes.toString());
    expect((await get(url, { range: 'bytes=0-3', 'if-range': String(etag) })).statusCode).toBe(206);
    const notModified = await get(url, { 'if-none-match': String(etag) });
    expect([notModified.statusCode, notModified.rawPayload.length, notModified.headers.etag]).toEqual([304, 0, etag]);
    const ranged = await app.inject({ method: 'HEAD', url: pathOf(url), headers: { range: 'bytes=2-5' } });
    expect([ranged.statusCode, ranged.headers['content-range'], ranged.headers['content-length'], ranged.rawPayload.length]).toEqual([
      206,
      'bytes 2-5/20',
      '4',
      0,
    ]);
  });

  it('serves a held object as a named download only through a link signed with that name', async () => {
    const key = newObjectKey('derived', 'webp');
    await storage.put(key, bytes, { contentType: 'image/webp' });
    expect((await get(await storage.signedUrl(key, { expiresInSeconds: 600 }))).headers['content-disposition']).toBeUndefined();
    const named = await get(await storage.signedUrl(key, { expiresInSeconds: 600, downloadName: 'thumb.webp' }));
    expect([named.statusCode, named.headers['content-disposition']]).toEqual([
      200,
      `attachment; filename="thumb.webp"; filename*=UTF-8''thumb.webp`,
    ]);
  });

  it('still refuses bad, expired and traversal-looking links to a held object', async () => {
    const key = newObjectKey('derived', 'webp');
    await storage.put(key, bytes, { contentType: 'image/webp' });
    const url = new URL(await storage.signedUrl(key, { expiresInSeconds: 600 }));
    expect((await get(url.href)).statusCode).toBe(200);
    const forged = new URL(url);
    forged.searchParams.set('sig', 'A'.repeat(43));
    const later = new URL(url);
    later.searchParams.set('exp', String(Number(url.searchParams.get('exp')) + 3600));
    for (const variant of [forged.href, later.href, `${url.origin}${url.pathname}`]) {
      const response = await get(variant);
      expect(response.statusCode, variant).toBe(403);
      expect(response.json().error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/not valid/) });
    }
    const past = createFileStorage({ root, publicUrl, keyring: createKeyring([NEW_SECRET]), now: () => Date.now() - 3_600_000 });
    const expired = await get(await past.signedUrl(key, { expiresInSeconds: 60 }));
    expect(expired.statusCode).toBe(403);
    expect(expired.json().error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/expired/) });
    const exp = url.searchParams.get('exp');
    for (const attempt of [
      `/media/derived/../${key}?exp=${exp}&sig=x`,
      `/media/derived/%2e%2e/${key}?exp=${exp}&sig=x`,
      `/media/${key.replace('derived/', 'derived//')}${url.search}`,
      `/media/.${key}${url.search}`,
    ]) {
      const response = await app.inject({ method: 'GET', url: attempt, headers: { accept: 'application/json' } });
      expect([403, 404], attempt).toContain(response.statusCode);
    }
  });
});

describe('the /media/ route and its driver', () => {
  it('is mounted only over a driver that can open objects', async () => {
    const s3 = createS3Storage({
      bucket: 'epu-media-test',
      prefix: '',
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      forcePathStyle: true,
      cdnBaseUrl: undefined,
    });
    const other = createHttpServer({
      requestTimeoutMs: 60_000,
      logger: createLogger({ level: 'silent', pretty: false, name: 'test' }),
      bodyLimit: 1024,
      trustProxy: false,
      errorPages: { notFound: () => '', error: () => '' },
    });
    expect(() => mediaRoutes(other, { storage: s3, keyring: createKeyring([NEW_SECRET]) })).toThrow(/file driver/);
    await other.close();
    await s3.close();
  });
});
