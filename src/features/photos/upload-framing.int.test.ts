// Uploads whose multipart framing is broken (found by the fuzz tier): the body
// ends before the closing boundary, the boundary is missing, a part is named
// like a prototype property. Each is the client's mistake: a 4xx with a stable
// code (a notice on the form), never a 500, and nothing stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { futureIso, signUp } from '../../../tests/support/client.js';
import { png } from '../../../tests/support/images.js';

const BOUNDARY = '----epu-framing';

function part(name: string, filename: string | undefined, bytes: Buffer): Buffer {
  const disposition = `form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}`;
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\ncontent-disposition: ${disposition}\r\ncontent-type: image/png\r\n\r\n`),
    bytes,
    Buffer.from('\r\n'),
  ]);
}
const closing = Buffer.from(`--${BOUNDARY}--\r\n`);

describe('uploads with broken multipart framing', () => {
  let t: TestApp;
  let owner: Awaited<ReturnType<typeof signUp>>;
  let eventId: string;
  let image: Buffer;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await signUp(t.url);
    eventId = (await owner.client.post('/api/v1/events', { title: 'Framing', startsAt: futureIso(), capacity: null, visibility: 'public' }))
      .body.id;
    image = await png(40, 30);
  });
  afterAll(() => t?.close());

  const stored = async () => {
    const keys: string[] = [];
    for await (const object of t.platform.storage.list('originals/')) keys.push(object.key);
    const rows = (await t.platform.pool.query('SELECT count(*)::int AS n FROM photos')).rows[0].n as number;
    return { keys: keys.length, rows };
  };

  const cases = (): [string, Buffer, string][] => [
    ['a body that ends before the closing boundary', part('file', 'a.png', image), `multipart/form-data; boundary=${BOUNDARY}`],
    ['a body cut in the middle of the file', part('file', 'a.png', image).subarray(0, 120), `multipart/form-data; boundary=${BOUNDARY}`],
    ['a content type without its boundary', Buffer.concat([part('file', 'a.png', image), closing]), 'multipart/form-data'],
    [
      'a field named __proto__',
      Buffer.concat([part('__proto__', undefined, Buffer.from('x')), part('file', 'a.png', image), closing]),
      `multipart/form-data; boundary=${BOUNDARY}`,
    ],
  ];

  const labels = [
    'a body that ends before the closing boundary',
    'a body cut in the middle of the file',
    'a content type without its boundary',
    'a field named __proto__',
  ];

  it.each(labels)('answers 400 validation_failed through the API to %s, and stores nothing', async (label) => {
    const [, body, contentType] = cases().find(([name]) => name === label)!;
    const before = await stored();
    const response = await owner.client.request('POST', `/api/v1/events/${eventId}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
    expect(await stored()).toEqual(before);
  });

  it.each(labels)('comes back to the event page with a notice through the form, for %s', async (label) => {
    const [, body, contentType] = cases().find(([name]) => name === label)!;
    const response = await owner.client.request('POST', `/events/${eventId}/photos`, {
      body,
      headers: { 'content-type': contentType, accept: 'text/html' },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/events/${eventId}?upload=validation_failed`);
  });

  it('keeps no file of a batch whose body is cut off, the whole files before the cut included', async () => {
    const before = await stored();
    const body = Buffer.concat([part('file', 'whole.png', image), part('file', 'cut.png', image).subarray(0, 150)]);
    const response = await owner.client.request('POST', `/events/${eventId}/photos`, {
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, accept: 'text/html' },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/events/${eventId}?upload=validation_failed`);
    expect(await stored()).toEqual(before);
  });

  it('still takes a well-formed upload', async () => {
    const response = await owner.client.request('POST', `/api/v1/events/${eventId}/photos`, {
      body: Buffer.concat([part('file', 'a.png', image), closing]),
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
    expect(response.status).toBe(202);
  });
});
