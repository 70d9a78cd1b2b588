// Compressed responses (compression.ts, decision 0038): what goes out
// compressed and what does not, the headers a cache needs (Vary, ETag), and
// the public page cache keeping one copy per encoding that every change drops.
import http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { futureIso, signUp } from '../../../tests/support/client.js';
import { recordStatements } from '../../../tests/support/statements.js';
import { MIN_BYTES, negotiate } from './compression.js';

const queriesDuring = recordStatements();

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** As received, still compressed. */
  bytes: Buffer;
  /** Decoded. */
  text: string;
}

/** A GET that shows the bytes on the wire (fetch would decode them out of sight). */
function get(path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    http
      .get(`${t.url}${path}`, { headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const bytes = Buffer.concat(chunks);
          const encoding = response.headers['content-encoding'];
          const decoded = encoding === 'br' ? zlib.brotliDecompressSync(bytes) : encoding === 'gzip' ? zlib.gunzipSync(bytes) : bytes;
          resolve({ status: response.statusCode!, headers: response.headers, bytes, text: decoded.toString('utf8') });
        });
      })
      .on('error', reject);
  });
}

describe('negotiating the encoding', () => {
  it('takes br or gzip by their q-values, br on a tie, * for both, nothing for q=0 or unknown codings', () => {
    expect(negotiate(undefined)).toBeNull();
    expect(negotiate('')).toBeNull();
    expect(negotiate('gzip, deflate, br')).toBe('br');
    expect(negotiate('gzip')).toBe('gzip');
    expect(negotiate('br;q=0.5, gzip;q=0.8')).toBe('gzip');
    expect(negotiate('br;q=0, gzip;q=0')).toBeNull();
    expect(negotiate('*')).toBe('br');
    expect(negotiate('*;q=0.1, br;q=0')).toBe('gzip');
    expect(negotiate('deflate, identity')).toBeNull();
    expect(negotiate('GZIP;Q=1')).toBe('gzip');
    expect(negotiate('br;q=nonsense, gzip')).toBe('gzip');
  });
});

describe('compressed responses', () => {
  it('sends pages and JSON as the client prefers, the same content, varying on Accept-Encoding as well as Cookie', async () => {
    const owner = await signUp(t.url);
    for (let i = 0; i < 5; i++)
      await owner.client.post('/api/v1/events', {
        title: `Compressed ${i}`,
        startsAt: futureIso(i + 1),
        capacity: 5,
        visibility: 'public',
      });
    for (const [path, accept] of [
      ['/', 'text/html'],
      ['/api/v1/events', 'application/json'],
    ] as const) {
      const plain = await get(path, { accept });
      expect(plain.headers['content-encoding'], path).toBeUndefined();
      expect(plain.headers.vary, path).toBe('Cookie, Accept-Encoding');
      expect(plain.bytes.length, path).toBeGreaterThan(MIN_BYTES);
      for (const encoding of ['br', 'gzip'] as const) {
        const compressed = await get(path, { accept, 'accept-encoding': encoding });
        expect(compressed.headers['content-encoding'], path).toBe(encoding);
        expect(compressed.headers.vary, path).toBe('Cookie, Accept-Encoding');
        expect(compressed.headers['content-length'], path).toBe(String(compressed.bytes.length));
        expect(compressed.text, path).toBe(plain.text);
        expect(compressed.bytes.length, path).toBeLessThan(plain.bytes.length / 2);
      }
    }
  });

  it('leaves small responses alone: no encoding and no Vary on Accept-Encoding', async () => {
    const small = await get('/api/v1/events/00000000-0000-4000-8000-000000000000', {
      accept: 'application/json',
      'accept-encoding': 'br, gzip',
    });
    expect(small.status).toBe(404);
    expect(small.bytes.length).toBeLessThan(MIN_BYTES);
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.headers.vary ?? '').not.toMatch(/accept-encoding/i);
    const livez = await get('/livez', { 'accept-encoding': 'br, gzip' });
    expect(livez.headers['content-encoding']).toBeUndefined();
  });

  it('compresses the stylesheet, with an ETag of its own per encoding', async () => {
    const home = await get('/', { accept: 'text/html' });
    const cssPath = home.text.match(/href="(\/assets\/app\.css\?v=[0-9a-f]+)"/)![1]!;
    const plain = await get(cssPath);
    const br = await get(cssPath, { 'accept-encoding': 'br' });
    const gzip = await get(cssPath, { 'accept-encoding': 'gzip' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(br.headers['content-encoding']).toBe('br');
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(br.text).toBe(plain.text);
    expect(gzip.text).toBe(plain.text);
    expect(br.headers['cache-control']).toBe(plain.headers['cache-control']);
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    const plainTag = plain.headers.etag!;
    expect(br.headers.etag).toBe(`W/${plainTag.replace(/^W\//, '').replace(/"$/, '-br"')}`);
    expect(gzip.headers.etag).toBe(`W/${plainTag.replace(/^W\//, '').replace(/"$/, '-gzip"')}`);
    expect(new Set([plainTag, br.headers.etag, gzip.headers.etag]).size).toBe(3);
  });
});

describe('the public page cache and compression', () => {
  it('keeps a copy per encoding, served without a query or compressing again, and a change drops them all', async () => {
    const owner = await signUp(t.url);
    const created = await owner.client.post('/api/v1/events', {
      title: 'Cached in every encoding',
      description: 'x'.repeat(2_000),
      startsAt: futureIso(2),
      capacity: 5,
      visibility: 'public',
    });
    const path = `/events/${created.body.id}`;
    const variants = [{}, { 'accept-encoding': 'br' }, { 'accept-encoding': 'gzip' }] as const;
    const first: Raw[] = [];
    for (const headers of variants) first.push(await get(path, { accept: 'text/html', ...headers }));
    const queries = await queriesDuring(async () => {
      for (const [i, headers] of variants.entries()) {
        const again = await get(path, { accept: 'text/html', ...headers });
        expect(again.bytes.equals(first[i]!.bytes), JSON.stringify(headers)).toBe(true);
        expect(again.headers['content-encoding']).toBe(first[i]!.headers['content-encoding']);
        expect(again.headers.vary).toBe('Cookie, Accept-Encoding');
      }
    });
    expect(queries).toHaveLength(0);

    expect((await owner.client.patch(`/api/v1/events/${created.body.id}`, { title: 'Renamed at once' })).status).toBe(200);
    for (const headers of variants) expect((await get(path, { accept: 'text/html', ...headers })).text).toContain('Renamed at once');
  });
});
