import crypto from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';
import { parseConfig } from '../../config/env.js';
import { createLogger } from '../observability/logger.js';
import { createKeyring } from '../security/keyring.js';
import { createStorage, parseS3Url } from './create-storage.js';
import { createS3Storage, type S3StorageOptions } from './s3-storage.js';
import { chunkedStream, objectStorageContract, sha256, type ContractContext } from './storage.contract.js';
import {
  ChecksumMismatchError,
  newObjectKey,
  ObjectTooLargeError,
  StorageError,
  type ObjectStorage,
  type StorageOperation,
} from './storage.js';

// The SDK's own presigner, counted: a remembered link is one it was not asked for again.
vi.mock('@aws-sdk/s3-request-presigner', async (importOriginal) => {
  const presigner = await importOriginal<typeof import('@aws-sdk/s3-request-presigner')>();
  return { ...presigner, getSignedUrl: vi.fn(presigner.getSignedUrl) };
});

let s3: TestS3;

/**
 * The signature of a presigned GET as Signature Version 4 defines it, written
 * here from the specification with node:crypto: s3rver does not check
 * signatures, so this is what shows the SDK signed a back-dated link for its
 * own X-Amz-Date and credential scope, as S3 will check it.
 */
function sigV4Signature(url: URL, secretAccessKey: string): string {
  const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = [...url.searchParams]
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => [encode(name), encode(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const signedHeaders = url.searchParams.get('X-Amz-SignedHeaders');
  expect(signedHeaders).toBe('host');
  const canonicalRequest = ['GET', url.pathname, query, `host:${url.host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = url.searchParams.get('X-Amz-Credential')!.split('/').slice(1);
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    url.searchParams.get('X-Amz-Date'),
    scope.join('/'),
    crypto.createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const signingKey = scope.reduce<Buffer | string>(
    (key, part) => crypto.createHmac('sha256', key).update(part).digest(),
    `AWS4${secretAccessKey}`,
  );
  return crypto.createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}
const opened: ObjectStorage[] = [];

function s3Storage(overrides: Partial<S3StorageOptions> = {}): ObjectStorage {
  const storage = createS3Storage({
    bucket: s3.bucket,
    prefix: '',
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    cdnBaseUrl: undefined,
    ...overrides,
  });
  opened.push(storage);
  return storage;
}

beforeAll(async () => {
  s3 = await startS3rver();
  // The SDK's default credential chain reads these from the process environment.
  vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
});

afterAll(async () => {
  for (const storage of opened) await storage.close();
  await s3?.close();
  vi.unstubAllEnvs();
});

describe('S3 storage against s3rver: the driver contract', () => {
  let context: ContractContext;
  beforeAll(() => {
    const errors: StorageOperation[] = [];
    context = { storage: s3Storage({ onError: (operation) => errors.push(operation) }), errors };
  });
  objectStorageContract(() => context);
});

describe('S3 storage against s3rver', () => {
  it('streams a 12 MB body as a multipart upload and reads back the same bytes', async () => {
    const storage = s3Storage();
    const key = newObjectKey('originals', 'jpg');
    const size = 12 * 1024 * 1024;
    const result = await storage.put(key, chunkedStream(size, 256 * 1024), {
      contentType: 'image/jpeg',
      cacheControl: 'private, max-age=60',
    });
    expect(result).toEqual({ bytes: size, sha256: sha256(await buffer(chunkedStream(size, 256 * 1024))) });
    expect(await storage.head(key)).toMatchObject({ contentType: 'image/jpeg', bytes: size });
    expect(sha256(await buffer((await storage.get(key))!.body))).toBe(result.sha256);
    const range = await storage.get(key, { range: { start: size - 4 } });
    expect(range).toMatchObject({ bytes: size, range: { start: size - 4, end: size - 1 } });
    expect((await buffer(range!.body)).length).toBe(4);
  });

  it('leaves no object when maxBytes stops a body after the multipart upload began', async () => {
    const storage = s3Storage();
    const key = newObjectKey('originals', 'jpg');
    await expect(
      storage.put(key, chunkedStream(12 * 1024 * 1024), { contentType: 'image/jpeg', maxBytes: 7 * 1024 * 1024 }),
    ).rejects.toBeInstanceOf(ObjectTooLargeError);
    expect(await storage.head(key)).toBeNull();
  });

  it('leaves no object when a multipart body turns out not to match the SHA-256 the put was given', async () => {
    const storage = s3Storage();
    const key = newObjectKey('originals', 'jpg');
    const size = 6 * 1024 * 1024;
    const wrong = sha256(Buffer.from('not these bytes'));
    await expect(storage.put(key, chunkedStream(size), { contentType: 'image/jpeg', sha256: wrong })).rejects.toBeInstanceOf(
      ChecksumMismatchError,
    );
    expect(await storage.head(key)).toBeNull();
  });

  it('hands out presigned GET URLs that fetch the bytes over HTTP, as an attachment when named', async () => {
    const storage = s3Storage();
    const key = newObjectKey('exports', 'zip');
    const bytes = Buffer.from('PK export archive');
    await storage.put(key, bytes, { contentType: 'application/zip' });
    const plain = await fetch(await storage.signedUrl(key, { expiresInSeconds: 60 }));
    expect(plain.status).toBe(200);
    expect(Buffer.from(await plain.arrayBuffer()).equals(bytes)).toBe(true);
    const named = await fetch(await storage.signedUrl(key, { expiresInSeconds: 60, downloadName: 'Sommerfest 2025.zip' }));
    expect(named.headers.get('content-disposition')).toBe(
      `attachment; filename="Sommerfest 2025.zip"; filename*=UTF-8''Sommerfest%202025.zip`,
    );
    expect(Buffer.from(await named.arrayBuffer()).equals(bytes)).toBe(true);
    // s3rver does not verify V4 signatures, so refusal of a tampered URL is S3's to prove, not this test's.
  });

  it("remembers a photo's link for the hour it expires in, signed as if at the start of its two-hour window", async () => {
    const HOUR = 3_600_000;
    const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
    let clock = hourStart + 10 * 60_000;
    const storage = s3Storage({ now: () => clock });
    // As photos.service gives it: until the end of the next full hour.
    const photoLifetime = () => ({ expiresInSeconds: Math.ceil((Math.ceil(clock / HOUR) * HOUR + HOUR - clock) / 1000) });
    const presigned = () => vi.mocked(getSignedUrl).mock.calls.length;
    const [key, other] = [newObjectKey('originals', 'jpg'), newObjectKey('originals', 'jpg')];
    const bytes = Buffer.from('remembered link');
    await storage.put(key, bytes, { contentType: 'image/jpeg' });

    const before = presigned();
    const [first, second] = await storage.signedUrls([key, other], photoLifetime());
    expect(presigned() - before).toBe(2);
    const amzDate = (at: number) => new Date(at).toISOString().replace(/[-:]|\.\d{3}/g, '');
    expect(new URL(first!).searchParams.get('X-Amz-Date')).toBe(amzDate(hourStart));
    expect(new URL(first!).searchParams.get('X-Amz-Expires')).toBe('7200');
    expect(new URL(first!).searchParams.get('X-Amz-Credential')).toBe(
      `${s3.env.AWS_ACCESS_KEY_ID}/${amzDate(hourStart).slice(0, 8)}/us-east-1/s3/aws4_request`,
    );
    expect(new URL(first!).searchParams.get('X-Amz-Signature')).toBe(sigV4Signature(new URL(first!), s3.env.AWS_SECRET_ACCESS_KEY!));
    expect(second).not.toBe(first);
    const fetched = await fetch(first!);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(bytes)).toBe(true);

    // Later in the same hour: the same links, without the presigner.
    clock += 20 * 60_000;
    expect(await storage.signedUrls([other, key], photoLifetime())).toEqual([second, first]);
    expect(await storage.signedUrl(key, photoLifetime())).toBe(first);
    expect(presigned() - before).toBe(2);

    // The next hour: links of the next expiry, signed again from an hour later.
    clock += 40 * 60_000;
    const [next] = await storage.signedUrls([key], photoLifetime());
    expect(next).not.toBe(first);
    expect(new URL(next!).searchParams.get('X-Amz-Date')).toBe(amzDate(hourStart + HOUR));
    expect(presigned() - before).toBe(3);

    // A named download (the photo viewer's) is remembered apart from the same key's plain link, and still names the file.
    const download = { ...photoLifetime(), downloadName: 'photo.jpg' };
    const named = await storage.signedUrl(key, download);
    expect(named).not.toBe(next);
    expect(new URL(named).searchParams.get('X-Amz-Date')).toBe(amzDate(hourStart + HOUR));
    expect(new URL(named).searchParams.get('response-content-disposition')).toMatch(/^attachment; filename="photo\.jpg"/);
    expect(await storage.signedUrl(key, download)).toBe(named);
    expect(presigned() - before).toBe(4);

    // Another lifetime is signed each time, from the clock.
    const short = { expiresInSeconds: 60 };
    const [a, b] = [await storage.signedUrl(key, short), await storage.signedUrl(key, short)];
    expect(new URL(a).searchParams.get('X-Amz-Date')).toBe(amzDate(clock));
    expect(new URL(b).searchParams.get('X-Amz-Expires')).toBe('60');
    expect(presigned() - before).toBe(6);
  });

  it('keeps a deployment under its bucket prefix and lists keys without it', async () => {
    const tenant = s3Storage({ prefix: 'tenant-a/' });
    const whole = s3Storage();
    const key = newObjectKey('backups', 'dump');
    await tenant.put(key, Buffer.from('dump'), { contentType: 'application/octet-stream' });
    expect(await whole.head(`tenant-a/${key}`)).toMatchObject({ bytes: 4 });
    expect(await whole.head(key)).toBeNull();
    const listed = [];
    for await (const object of tenant.list('backups/')) listed.push(object.key);
    expect(listed).toContain(key);
    expect(listed.every((listedKey) => listedKey.startsWith('backups/'))).toBe(true);
  });

  it('gives CDN URLs for derived objects only, and only when CDN_BASE_URL is set', () => {
    const cdn = s3Storage({ cdnBaseUrl: 'https://cdn.example.test', prefix: 'prod/' });
    expect(cdn.publicUrl('derived/2025/01/t.webp')).toBe('https://cdn.example.test/prod/derived/2025/01/t.webp');
    expect(cdn.publicUrl('originals/2025/01/o.jpg')).toBeNull();
    expect(s3Storage().publicUrl('derived/2025/01/t.webp')).toBeNull();
  });

  it('wraps store failures in StorageError with the operation, and reports each to onError', async () => {
    const errors: StorageOperation[] = [];
    const missing = s3Storage({ bucket: 'no-such-bucket', onError: (operation) => errors.push(operation) });
    const key = newObjectKey('originals', 'jpg');
    for (const [operation, attempt] of [
      ['put', () => missing.put(key, Buffer.from('x'), { contentType: 'image/jpeg' })],
      ['get', () => missing.get(key)],
      [
        'list',
        async () => {
          for await (const _ of missing.list('originals/')) break;
        },
      ],
      ['check', () => missing.check()],
    ] as const) {
      const failure = await attempt().catch((error: unknown) => error);
      expect(failure, operation).toBeInstanceOf(StorageError);
      expect((failure as StorageError).operation).toBe(operation);
      // HeadBucket's answer has no body to name the error; the others say NoSuchBucket.
      expect((failure as StorageError).cause).toMatchObject({ name: operation === 'check' ? 'NotFound' : 'NoSuchBucket' });
    }
    expect(errors).toEqual(['put', 'get', 'list', 'check']);
  });

  it('fails with a StorageError when the server is unreachable', async () => {
    const unreachable = s3Storage({ endpoint: 'http://127.0.0.1:9' });
    await expect(unreachable.head(newObjectKey('derived', 'jpg'))).rejects.toBeInstanceOf(StorageError);
  });
});

describe('the STORAGE_URL dial, S3 side', () => {
  it('builds the S3 driver from the S3 settings startS3rver hands out', async () => {
    const config = parseConfig({ APP_ENV: 'test', ...s3.env });
    const keyring = createKeyring(['s3-storage-test-key-0123456789abcdefghijklmnopq']);
    const storage = createStorage(config, keyring, createLogger({ level: 'silent', pretty: false, name: 'test' }));
    opened.push(storage);
    expect(storage.driver).toBe('s3');
    expect(await storage.check()).toBe('ok');
    const key = newObjectKey('derived', 'png');
    await storage.put(key, Buffer.from('png'), { contentType: 'image/png' });
    expect((await storage.head(key))?.contentType).toBe('image/png');
  });

  it('reads the bucket and an optional prefix from s3:// URLs and refuses malformed ones', () => {
    expect(parseS3Url('s3://epu-media')).toEqual({ bucket: 'epu-media', prefix: '' });
    expect(parseS3Url('s3://epu-media/staging/eu/')).toEqual({ bucket: 'epu-media', prefix: 'staging/eu/' });
    for (const bad of ['s3://', 's3://Upper', 's3://b', 's3://bucket/a b', 's3://bucket/a?x=1'])
      expect(() => parseS3Url(bad), bad).toThrow(/STORAGE_URL/);
  });
});
