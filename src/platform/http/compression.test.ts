// The size threshold in bytes, not characters: a string body is counted only
// when its length in UTF-16 units cannot tell (compression.ts, bigEnough).
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { App } from './server.js';
import { MIN_BYTES, registerCompression } from './compression.js';

async function encodingOf(body: string): Promise<string | undefined> {
  const app = Fastify();
  registerCompression(app as unknown as App);
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(body));
  const response = await app.inject({ url: '/', headers: { 'accept-encoding': 'gzip' } });
  await app.close();
  expect(response.statusCode).toBe(200);
  return response.headers['content-encoding'];
}

describe('the compression threshold', () => {
  it.each([
    ['ASCII, one byte short', 'a'.repeat(MIN_BYTES - 1), undefined],
    ['ASCII, exactly the threshold', 'a'.repeat(MIN_BYTES), 'gzip'],
    // 512 characters of two bytes each: fewer units than MIN_BYTES, but MIN_BYTES bytes.
    ['two-byte characters, exactly the threshold', 'é'.repeat(MIN_BYTES / 2), 'gzip'],
    ['two-byte characters, one byte short', 'é'.repeat(MIN_BYTES / 2 - 1) + 'a', undefined],
    // 341 three-byte characters and one more byte: 342 units, 1,024 bytes.
    ['three-byte characters, exactly the threshold', '€'.repeat(341) + 'a', 'gzip'],
    ['three-byte characters, one byte short', '€'.repeat(341), undefined],
    // A surrogate pair is 2 units and 4 bytes.
    ['emoji, exactly the threshold', '📷'.repeat(MIN_BYTES / 4), 'gzip'],
  ])('%s', async (_name, body, expected) => {
    expect(Buffer.byteLength(body) >= MIN_BYTES).toBe(expected === 'gzip');
    expect(await encodingOf(body)).toBe(expected);
  });
});
