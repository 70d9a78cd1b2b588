// Compressed responses (docs/decisions/0038-compressed-responses.md): HTML,
// JSON, CSS, JavaScript, SVG and calendar files of at least MIN_BYTES go out
// as Brotli or gzip, whichever the client prefers (Brotli on a tie). Smaller
// ones are sent as they are: the header and the CPU would cost more than the
// bytes saved. Brotli runs at a low quality, which compresses HTML about as
// well as gzip -6 at a fraction of the CPU of its default (11).
//
// The hook runs before the route-level hooks of the public page cache, which
// therefore stores the compressed body with its Content-Encoding, once per
// encoding (public-pages.ts keys by URL and `negotiate`), so a cache hit
// costs no compression at all. Media (images) is never compressed.
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './server.js';

export type Encoding = 'br' | 'gzip';

/** Below this many bytes a response is sent as it is. */
export const MIN_BYTES = 1024;
const COMPRESSIBLE = /^(?:text\/|application\/(?:json|javascript|problem\+json)|image\/svg\+xml)/;
const BROTLI = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } };
const GZIP = { level: 6 };

/** The encoding to answer an Accept-Encoding with: br or gzip by their q-values (br on a tie, `*` counting for both), or null. */
export function negotiate(header: string | string[] | undefined): Encoding | null {
  if (typeof header !== 'string' || header === '') return null;
  const quality: Record<string, number> = {};
  for (const part of header.toLowerCase().split(',')) {
    const [name, ...parameters] = part.split(';').map((piece) => piece.trim());
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    if (name) quality[name] = Number.isFinite(value) ? value : 0;
  }
  const br = quality.br ?? quality['*'] ?? 0;
  const gzip = quality.gzip ?? quality['*'] ?? 0;
  if (br > 0 && br >= gzip) return 'br';
  return gzip > 0 ? 'gzip' : null;
}

function addVary(reply: FastifyReply): void {
  const vary = reply.getHeader('vary');
  const current = typeof vary === 'string' ? vary : '';
  if (!/(^|,)\s*accept-encoding\s*(,|$)/i.test(current)) reply.header('vary', current ? `${current}, Accept-Encoding` : 'Accept-Encoding');
}

/** Another representation needs another entity tag (RFC 9110 8.8.3); weak, since the bytes depend on the compressor. */
function retag(reply: FastifyReply, encoding: Encoding): void {
  const etag = reply.getHeader('etag');
  if (typeof etag === 'string') reply.header('etag', `W/${etag.replace(/^W\//, '').replace(/"$/, `-${encoding}"`)}`);
}

/**
 * Whether the payload has at least MIN_BYTES. A string has at least one UTF-8
 * byte per UTF-16 unit and at most three, so only a string in between is
 * measured: counting a page's bytes is a pass over all of it, which Fastify
 * makes again for Content-Length.
 */
function bigEnough(payload: unknown, reply: FastifyReply): boolean {
  if (typeof payload === 'string') {
    if (payload.length >= MIN_BYTES) return true;
    return payload.length * 3 >= MIN_BYTES && Buffer.byteLength(payload) >= MIN_BYTES;
  }
  if (Buffer.isBuffer(payload)) return payload.length >= MIN_BYTES;
  // A stream (a static asset) counts when it says how long it is.
  const length = Number(reply.getHeader('content-length'));
  return typeof (payload as Readable | null)?.pipe === 'function' && Number.isFinite(length) && length >= MIN_BYTES;
}

export function registerCompression(app: App): void {
  // A callback-style hook: most responses leave at the first checks, without a promise.
  app.addHook(
    'onSend',
    (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, value?: unknown) => void) => {
      const type = reply.getHeader('content-type');
      const status = reply.statusCode;
      if (
        !bigEnough(payload, reply) ||
        typeof type !== 'string' ||
        !COMPRESSIBLE.test(type) ||
        reply.hasHeader('content-encoding') ||
        status < 200 ||
        status === 204 ||
        status === 206 ||
        status === 304
      )
        return done(null, payload);
      addVary(reply);
      const encoding = negotiate(request.headers['accept-encoding']);
      if (!encoding || request.method === 'HEAD') return done(null, payload);
      reply.header('content-encoding', encoding);
      reply.removeHeader('content-length');
      retag(reply, encoding);
      if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
        const finish = (error: Error | null, compressed: Buffer) => done(error, compressed);
        if (encoding === 'br') zlib.brotliCompress(payload, BROTLI, finish);
        else zlib.gzip(payload, GZIP, finish);
        return;
      }
      const source = payload as Readable;
      const compressor = encoding === 'br' ? zlib.createBrotliCompress(BROTLI) : zlib.createGzip(GZIP);
      source.once('error', (error) => compressor.destroy(error));
      done(null, source.pipe(compressor));
    },
  );
}
