// GET /media/<key>: how browsers fetch objects of the file driver. Each link is
// signed and expires (see media-signing.ts); the S3 driver hands out presigned
// URLs to the bucket instead, so this route matters only with file storage.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../http/errors.js';
import { PRIVATE_IMMUTABLE } from '../http/cache-control.js';
import type { App } from '../http/server.js';
import type { Keyring } from '../security/keyring.js';
import { checkMediaRequest } from './media-signing.js';
import { attachmentDisposition, isValidKey, type ByteRange, type ObjectMeta, type ObjectStorage, type OpenedObject } from './storage.js';

export interface MediaRoutesOptions {
  storage: ObjectStorage;
  keyring: Keyring;
  now?: () => number;
}

// Derived files (thumbnails, previews) never change under their key, so the
// browser may keep them for good (PRIVATE_IMMUTABLE); everything else only until the
// link expires. Both are private: a link of a private event's photo must never
// be stored by a shared cache.

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}

/**
 * The one range a request asks for, resolved against the object's size.
 * Malformed or multi-range headers are ignored and the whole object is sent,
 * as RFC 9110 allows; so is a range on a copy that If-Range says is stale.
 */
function requestedRange(request: FastifyRequest, meta: ObjectMeta): Required<ByteRange> | 'unsatisfiable' | undefined {
  const header = request.headers.range;
  if (!header) return undefined;
  const ifRange = request.headers['if-range'];
  if (ifRange !== undefined && ifRange !== meta.etag) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const size = meta.bytes;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? Number.POSITIVE_INFINITY : Number(match[2]);
  if (end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

function describe(reply: FastifyReply, meta: ObjectMeta, range: Required<ByteRange> | undefined): FastifyReply {
  reply.type(meta.contentType);
  if (!range) return reply.header('content-length', meta.bytes);
  return reply
    .code(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${meta.bytes}`)
    .header('content-length', range.end - range.start + 1);
}

export function mediaRoutes(app: App, options: MediaRoutesOptions): void {
  const { storage, keyring } = options;
  const now = options.now ?? Date.now;
  // The file driver's open() reads an object's metadata once and its bytes through
  // the same handle (or from its memory copy); the S3 driver has no such
  // capability and never needs this route (browsers fetch from the bucket).
  if (!storage.open) throw new Error(`the /media/ route serves the file driver's objects; the ${storage.driver} driver cannot open them`);
  const open = storage.open.bind(storage);

  app.route({
    method: ['GET', 'HEAD'],
    url: '/media/*',
    handler: async (request, reply) => {
      const key = (request.params as { '*': string })['*'];
      const nowSeconds = Math.floor(now() / 1000);
      const access = checkMediaRequest(keyring, key, request.query as Record<string, unknown>, nowSeconds);
      if (!access.ok) {
        throw new AppError(
          'forbidden',
          access.reason === 'expired'
            ? 'This link has expired; reload the page to get a fresh one.'
            : 'This link is not valid; reload the page to get a fresh one.',
        );
      }
      // HEAD answers from the metadata alone, without opening the object.
      // A GET's object holds a file handle (unless served from memory) until its body is read or it is closed.
      let object: OpenedObject | null = null;
      let meta: ObjectMeta | null = null;
      if (isValidKey(key)) meta = request.method === 'HEAD' ? await storage.head(key) : (object = await open(key));
      if (!meta) throw new AppError('not_found');
      const release = async () => object?.close();

      reply
        .header('etag', meta.etag)
        .header('last-modified', meta.lastModified.toUTCString())
        .header('cache-control', key.startsWith('derived/') ? PRIVATE_IMMUTABLE : `private, max-age=${access.grant.expiresAt - nowSeconds}`)
        .header('accept-ranges', 'bytes')
        .header('x-content-type-options', 'nosniff')
        // Uploaded bytes opened directly in a tab must not run as a page of this origin.
        .header('content-security-policy', "default-src 'none'; sandbox");
      if (access.grant.downloadName !== undefined) reply.header('content-disposition', attachmentDisposition(access.grant.downloadName));
      if (etagMatches(request.headers['if-none-match'], meta.etag)) {
        await release();
        return reply.code(304).send();
      }

      // The metadata and the bytes come from one open file, so the range checked here is the one read.
      const range = requestedRange(request, meta);
      if (range === 'unsatisfiable') {
        await release();
        return reply.code(416).header('content-range', `bytes */${meta.bytes}`).send();
      }
      if (!object) return describe(reply, meta, range).send();
      return describe(reply, meta, range).send(await object.body(range));
    },
  });
}
