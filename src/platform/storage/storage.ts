// The object store as features see it: one interface, two drivers chosen by
// STORAGE_URL (local disk, or any S3-compatible service). Features never learn
// which one runs; they store and fetch by key and hand out URLs.
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';

export type StorageOperation = 'put' | 'get' | 'head' | 'delete' | 'list' | 'signedUrl' | 'check';

export interface PutOptions {
  contentType: string;
  /** Sent as the object's Cache-Control where the driver serves it directly (S3 and a CDN in front). */
  cacheControl?: string;
  /** Past this many bytes the put fails with ObjectTooLargeError and stores nothing. */
  maxBytes?: number;
  /**
   * The body's hex SHA-256, when known before it is sent (a copy between stores):
   * a body that hashes otherwise fails the put with ChecksumMismatchError and
   * stores nothing, and the store records it, so head() reports it unread.
   */
  sha256?: string;
}

export interface PutResult {
  bytes: number;
  /** Hex SHA-256 of the stored bytes, computed while streaming. */
  sha256: string;
}

export interface ObjectMeta {
  contentType: string;
  /** Size of the whole object. */
  bytes: number;
  /** A quoted HTTP entity tag, ready for an ETag header. */
  etag: string;
  lastModified: Date;
  /** Hex SHA-256 of the object when the store recorded it at put: the file driver always does, S3 when the put was given `sha256`. */
  sha256?: string;
  /** The Cache-Control the object was put with, when there was one. */
  cacheControl?: string;
}

/** Inclusive byte offsets, as in an HTTP Range header; `end` defaults to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface StoredObject extends ObjectMeta {
  /** Consume or destroy it: it holds a file handle or a connection until then. */
  body: Readable;
  /** The bytes the body holds when a range was asked for, clamped to the object. */
  range?: { start: number; end: number };
}

/**
 * An object opened for serving: its metadata read once, and its bytes from the
 * same open file (or from memory), so the two always describe one version.
 * Either call `body()` once or `close()`; until then it may hold a file handle.
 */
export interface OpenedObject extends ObjectMeta {
  /** The whole object, or the inclusive `range` of it (already checked against `bytes`); releases the object. */
  body(range?: { start: number; end: number }): Promise<Buffer | Readable>;
  /** Releases the object without reading it (a 304, a 416, a HEAD). */
  close(): Promise<void>;
}

export interface ListedObject {
  key: string;
  bytes: number;
  lastModified: Date;
}

export interface SignedUrlOptions {
  /** 1 second to 7 days (the longest an S3 presigned URL may live). */
  expiresInSeconds: number;
  /** When set, the URL downloads as an attachment under this name. */
  downloadName?: string;
}

export interface ObjectStorage {
  readonly driver: 'file' | 's3';
  /** Streams `body` into `key`; the object appears whole or not at all. */
  put(key: string, body: Readable | Buffer, options: PutOptions): Promise<PutResult>;
  /** Null when there is no such object; RangeNotSatisfiableError when the range starts past its end. */
  get(key: string, options?: { range?: ByteRange }): Promise<StoredObject | null>;
  head(key: string): Promise<ObjectMeta | null>;
  /**
   * Optional, file driver only (its /media/ route is the one caller): metadata
   * and body from one open, where `head()` then `get()` would read the object's
   * metadata twice. Null when there is no such object.
   */
  open?(key: string): Promise<OpenedObject | null>;
  /** Succeeds whether or not the object exists. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in no promised order. */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** An absolute URL that answers GET with the bytes until it expires. */
  signedUrl(key: string, options: SignedUrlOptions): Promise<string>;
  /**
   * `signedUrl` for many keys at once, in order: a gallery page signs about 70
   * links, and one promise for all of them costs far less than one each.
   */
  signedUrls(keys: readonly string[], options: SignedUrlOptions): Promise<string[]>;
  /** A permanent CDN URL for a derived (public) object when CDN_BASE_URL is set; otherwise null. */
  publicUrl(key: string): string | null;
  /** Resolves 'ok' when the store is reachable and writable; throws otherwise. */
  check(): Promise<'ok'>;
  close(): Promise<void>;
}

export interface StorageHooks {
  /** Called once per failed operation (not for missing objects or refused input), e.g. to count it in metrics. */
  onError?: (operation: StorageOperation) => void;
}

/** The store failed (disk, network, permissions, missing bucket); `cause` has the driver's error. */
export class StorageError extends Error {
  readonly operation: StorageOperation;

  constructor(operation: StorageOperation, cause: unknown) {
    super(`storage ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StorageError';
    this.operation = operation;
  }
}

export class ObjectTooLargeError extends Error {
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super(`the object is larger than ${maxBytes} bytes`);
    this.name = 'ObjectTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/** The body did not hash to the SHA-256 the put was given: it was damaged on the way, or the source was. */
export class ChecksumMismatchError extends Error {
  readonly expected: string;
  readonly actual: string;

  constructor(expected: string, actual: string) {
    super(`the body's SHA-256 is ${actual.slice(0, 12)}…, not the expected ${expected.slice(0, 12)}…`);
    this.name = 'ChecksumMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

export class InvalidKeyError extends Error {
  constructor(key: string, reason: string) {
    super(`invalid object key ${JSON.stringify(key.slice(0, 200))}: ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

export class RangeNotSatisfiableError extends Error {
  constructor(range: ByteRange) {
    super(`range ${range.start}-${range.end ?? ''} is outside the object`);
    this.name = 'RangeNotSatisfiableError';
  }
}

/** Size and SHA-256 of a stored object, streamed and read once; null when it is missing. */
export async function hashObject(storage: ObjectStorage, key: string): Promise<{ bytes: number; sha256: string } | null> {
  const object = await storage.get(key);
  if (!object) return null;
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  for await (const chunk of object.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export const KEY_PREFIXES = ['originals', 'derived', 'exports', 'backups'] as const;
export type KeyPrefix = (typeof KEY_PREFIXES)[number];

// What EPU stores: images, export archives and their parts, database dumps.
export const OBJECT_EXTENSIONS = ['jpg', 'png', 'webp', 'avif', 'gif', 'zip', 'json', 'csv', 'dump', 'gz'] as const;
export type ObjectExtension = (typeof OBJECT_EXTENSIONS)[number];

/**
 * A fresh, unguessable key: `<prefix>/<yyyy>/<mm>/<uuid>.<ext>`. Keys never
 * contain anything a user typed, so a file name can neither traverse paths nor
 * collide with another upload.
 */
export function newObjectKey(prefix: KeyPrefix, ext: ObjectExtension, now = new Date()): string {
  if (!(KEY_PREFIXES as readonly string[]).includes(prefix)) throw new InvalidKeyError(String(prefix), 'unknown prefix');
  if (!(OBJECT_EXTENSIONS as readonly string[]).includes(ext)) throw new InvalidKeyError(String(ext), 'extension not allowed');
  const yyyy = String(now.getUTCFullYear());
  const mm = String(now.getUTCMonth() + 1).padStart(2, '0');
  return `${prefix}/${yyyy}/${mm}/${crypto.randomUUID()}.${ext}`;
}

// Every segment starts with a letter or digit, so no key can name `.` or `..`,
// a hidden file, or the file driver's dot-prefixed temp files and sidecars.
const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_KEY_LENGTH = 512;

function keyProblem(key: string): string | null {
  if (typeof key !== 'string' || key.length === 0) return 'empty';
  if (key.length > MAX_KEY_LENGTH) return `longer than ${MAX_KEY_LENGTH} characters`;
  if (key.startsWith('/')) return 'leading slash';
  if (key.includes('\\')) return 'backslash';
  if (key.includes('..')) return 'contains ..';
  if (!key.split('/').every((segment) => KEY_SEGMENT.test(segment))) return 'only letters, digits, . _ - in /-separated segments';
  return null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A recorded SHA-256 as head() may report it: lowercase hex, or undefined for anything else. */
export function recordedSha256(value: string | undefined): string | undefined {
  return value !== undefined && SHA256_HEX.test(value) ? value : undefined;
}

export function isValidKey(key: string): boolean {
  return keyProblem(key) === null;
}

export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new InvalidKeyError(key, problem);
}

/** A list prefix: empty, or a key's beginning (it may end in `/` or mid-segment). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = keyProblem(trimmed);
  if (problem) throw new InvalidKeyError(prefix, problem);
}

const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;

export function assertExpiry(expiresInSeconds: number): void {
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_SIGNED_URL_SECONDS) {
    throw new RangeError(`expiresInSeconds must be a whole number from 1 to ${MAX_SIGNED_URL_SECONDS}, got ${expiresInSeconds}`);
  }
}

/** Content-Disposition for a download: an ASCII fallback name plus the exact name in RFC 5987 form. */
export function attachmentDisposition(downloadName: string): string {
  const ascii = downloadName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(downloadName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/** Clamps a range to an object of `size` bytes, or refuses one that starts past its end. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } {
  const { start, end = size - 1 } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start >= size || end < start) {
    throw new RangeNotSatisfiableError(range);
  }
  return { start, end: Math.min(end, size - 1) };
}
