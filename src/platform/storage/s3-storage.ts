// The scaled driver: any S3-compatible service (AWS S3, GCS through its XML
// interoperability API, Cloudflare R2, MinIO). Browsers fetch objects straight
// from the store with presigned URLs, or through CDN_BASE_URL for derived media.
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { meterBody } from './body-meter.js';
import { createLinksByTheHour, HOUR_SECONDS } from './links-by-the-hour.js';
import {
  assertExpiry,
  assertValidKey,
  assertValidPrefix,
  attachmentDisposition,
  RangeNotSatisfiableError,
  recordedSha256,
  StorageError,
  type ByteRange,
  type ListedObject,
  type ObjectMeta,
  type ObjectStorage,
  type PutOptions,
  type PutResult,
  type SignedUrlOptions,
  type StorageHooks,
  type StorageOperation,
  type StoredObject,
} from './storage.js';

export interface S3StorageOptions extends StorageHooks {
  bucket: string;
  /** Prepended to every key, so several deployments can share a bucket: '' or 'some/path/'. */
  prefix: string;
  /** Unset for AWS S3; the service's URL for GCS, R2 or MinIO. */
  endpoint: string | undefined;
  region: string;
  /** MinIO and s3rver need bucket-in-path URLs; AWS, GCS and R2 accept virtual hosts. */
  forcePathStyle: boolean;
  cdnBaseUrl: string | undefined;
  /** The clock of presigned links (tests). */
  now?: () => number;
}

/** How far ahead a remembered link's full-hour expiry may be: photos' links expire within two hours. */
const REMEMBERED_WINDOW = 2 * HOUR_SECONDS;
/** S3 Express One Zone's bucket names end so (`name--zone-id--x-s3`). */
const DIRECTORY_BUCKET = /--x-s3$/;

/**
 * Whether a link of `bucket` expiring at `expiresAt` (Unix seconds) is signed
 * for its hour and remembered (signedUrls in createS3Storage).
 */
export function remembersLink(bucket: string, urlOptions: SignedUrlOptions, expiresAt: number): boolean {
  return !DIRECTORY_BUCKET.test(bucket) && expiresAt % HOUR_SECONDS === 0 && urlOptions.expiresInSeconds <= REMEMBERED_WINDOW;
}

// 5 MiB is the smallest part S3 accepts. Two parts in flight bound the memory of
// one streamed put to about 10 MiB whatever the object's size.
const PART_SIZE = 5 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

// The user metadata (x-amz-meta-sha256) that records a put's SHA-256.
const SHA256_METADATA = 'sha256';

/** What a GET or HEAD answer says about the object (`bytes` is the whole object's size). */
function metaOf(
  response: Pick<HeadObjectCommandOutput, 'ContentType' | 'ETag' | 'LastModified' | 'Metadata' | 'CacheControl'>,
  bytes: number,
): ObjectMeta {
  const sha256 = recordedSha256(response.Metadata?.[SHA256_METADATA]);
  return {
    contentType: response.ContentType ?? 'application/octet-stream',
    bytes,
    etag: response.ETag ?? '""',
    lastModified: response.LastModified ?? new Date(0),
    ...(sha256 ? { sha256 } : {}),
    ...(response.CacheControl ? { cacheControl: response.CacheControl } : {}),
  };
}

const errorName = (error: unknown) => (error as { name?: string })?.name;
const isNotFound = (error: unknown) => errorName(error) === 'NoSuchKey' || errorName(error) === 'NotFound';

export function createS3Storage(options: S3StorageOptions): ObjectStorage {
  const { bucket, prefix } = options;
  // Credentials come from the SDK's default chain (environment, profile, workload identity).
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle,
    // Newer SDKs add CRC32 checksums (and aws-chunked bodies for streams) that GCS
    // interop, R2, older MinIO and s3rver reject; send them only where S3 requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const objectKey = (key: string) => prefix + key;
  const now = options.now ?? Date.now;
  const links = createLinksByTheHour();

  function failed(operation: StorageOperation, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    options.onError?.(operation);
    return new StorageError(operation, error);
  }

  async function presign(key: string, urlOptions: SignedUrlOptions, expiresIn: number, signingDate: Date): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: bucket,
      Key: objectKey(key),
      ...(urlOptions.downloadName !== undefined ? { ResponseContentDisposition: attachmentDisposition(urlOptions.downloadName) } : {}),
    });
    try {
      return await getSignedUrl(client, command, { expiresIn, signingDate });
    } catch (error) {
      throw failed('signedUrl', error);
    }
  }

  /**
   * Presigned GETs. A link whose expiry is a full hour at most REMEMBERED_WINDOW
   * ahead (photos' links: photos.service) is signed as if at the start of that
   * window, so every request of the hour would get the same URL, and is
   * remembered for the hour (links-by-the-hour.ts): the SDK's presigner costs
   * about 0.4 ms of CPU per link, and a gallery page has dozens (decision 0062);
   * the photo viewer's download link, named, too (decision 0064).
   * Remembered links are the credentials': new credentials sign anew. Not for
   * a directory bucket (S3 Express One Zone): the SDK signs for those with
   * session credentials of its own that last minutes, not the client's.
   */
  async function signedUrls(keys: readonly string[], urlOptions: SignedUrlOptions): Promise<string[]> {
    for (const key of keys) assertValidKey(key);
    assertExpiry(urlOptions.expiresInSeconds);
    const signedAt = now();
    const expiresAt = Math.floor(signedAt / 1000) + urlOptions.expiresInSeconds;
    if (!remembersLink(bucket, urlOptions, expiresAt))
      return Promise.all(keys.map((key) => presign(key, urlOptions, urlOptions.expiresInSeconds, new Date(signedAt))));
    let credentials: unknown;
    try {
      credentials = await client.config.credentials();
    } catch (error) {
      throw failed('signedUrl', error);
    }
    const signingDate = new Date((expiresAt - REMEMBERED_WINDOW) * 1000);
    const urls = keys.map((key) => links.get(key, expiresAt, credentials, urlOptions.downloadName));
    const unsigned = keys.flatMap((key, i) => (urls[i] === undefined ? [{ key, i }] : []));
    await Promise.all(
      unsigned.map(async ({ key, i }) => {
        const url = await presign(key, urlOptions, REMEMBERED_WINDOW, signingDate);
        links.set(key, expiresAt, url, credentials, urlOptions.downloadName);
        urls[i] = url;
      }),
    );
    return urls as string[];
  }

  return {
    driver: 's3',

    async put(key: string, body: Readable | Buffer, putOptions: PutOptions): Promise<PutResult> {
      assertValidKey(key);
      const metered = meterBody(body, putOptions.maxBytes, putOptions.sha256);
      // Upload sends one PutObject for a body under one part, and otherwise a
      // multipart upload that becomes visible only when completed and is aborted
      // on failure; either way a failed put leaves no object.
      const upload = new Upload({
        client,
        queueSize: PARTS_IN_FLIGHT,
        partSize: PART_SIZE,
        params: {
          Bucket: bucket,
          Key: objectKey(key),
          Body: metered.stream,
          ContentType: putOptions.contentType,
          ...(putOptions.cacheControl ? { CacheControl: putOptions.cacheControl } : {}),
          // Known before the first byte is sent (the only time S3 takes metadata), so it can be recorded.
          ...(putOptions.sha256 ? { Metadata: { [SHA256_METADATA]: putOptions.sha256 } } : {}),
        },
      });
      try {
        await upload.done();
        return { bytes: metered.bytes(), sha256: metered.sha256() };
      } catch (error) {
        metered.stream.destroy();
        throw metered.failure() ?? failed('put', error);
      }
    },

    async get(key: string, getOptions: { range?: ByteRange } = {}): Promise<StoredObject | null> {
      assertValidKey(key);
      const { range } = getOptions;
      if (
        range &&
        (!Number.isInteger(range.start) ||
          range.start < 0 ||
          (range.end !== undefined && (!Number.isInteger(range.end) || range.end < range.start)))
      ) {
        throw new RangeNotSatisfiableError(range);
      }
      try {
        const response = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: objectKey(key),
            ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
          }),
        );
        const served = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.ContentRange ?? '');
        return {
          body: response.Body as Readable,
          ...metaOf(response, served ? Number(served[3]) : (response.ContentLength ?? 0)),
          ...(served ? { range: { start: Number(served[1]), end: Number(served[2]) } } : {}),
        };
      } catch (error) {
        if (isNotFound(error)) return null;
        if (range && errorName(error) === 'InvalidRange') throw new RangeNotSatisfiableError(range);
        throw failed('get', error);
      }
    },

    async head(key: string): Promise<ObjectMeta | null> {
      assertValidKey(key);
      try {
        const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return metaOf(response, response.ContentLength ?? 0);
      } catch (error) {
        // A HEAD answer has no body, so a missing bucket also reads as NotFound here; check() tells them apart.
        if (isNotFound(error)) return null;
        throw failed('head', error);
      }
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      } catch (error) {
        if (isNotFound(error)) return;
        throw failed('delete', error);
      }
    },

    async *list(listPrefix: string): AsyncIterable<ListedObject> {
      assertValidPrefix(listPrefix);
      try {
        for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: objectKey(listPrefix) })) {
          for (const object of page.Contents ?? []) {
            if (!object.Key) continue;
            yield { key: object.Key.slice(prefix.length), bytes: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
          }
        }
      } catch (error) {
        throw failed('list', error);
      }
    },

    async signedUrl(key: string, urlOptions: SignedUrlOptions): Promise<string> {
      return (await signedUrls([key], urlOptions))[0]!;
    },

    signedUrls,

    // Only derived files (thumbnails, previews) go through the CDN: originals,
    // exports and backups stay private and are reached by presigned URLs alone.
    // The CDN's origin is the bucket, so the path carries the bucket prefix.
    publicUrl(key: string): string | null {
      assertValidKey(key);
      if (!options.cdnBaseUrl || !key.startsWith('derived/')) return null;
      return `${options.cdnBaseUrl.replace(/\/+$/, '')}/${objectKey(key)}`;
    },

    async check(): Promise<'ok'> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return 'ok';
      } catch (error) {
        throw failed('check', error);
      }
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}
