// Issue 16: a form upload keeps its good files and names the refused ones (by
// file name, escaped, each with what to do); HEIC photos are refused with a
// message that says so, through the API and the form (decision 0042).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { heicFile, multipart, png } from '../../../tests/support/images.js';
import { HEIC_REFUSAL } from './photos.service.js';

function post(client: Client, path: string, files: [string, string, string, Buffer][]) {
  const { body, contentType } = multipart(files);
  return client.request('POST', path, { body, headers: { 'content-type': contentType, accept: 'text/html' } });
}

describe('batch uploads and HEIC', () => {
  let t: TestApp;
  let host: Awaited<ReturnType<typeof signUp>>;
  let eventId: string;
  let image: Buffer;

  beforeAll(async () => {
    // 1 MiB per file: a file of 2 MiB is too large, the batch it is in is not.
    t = await startTestApp({ MAX_UPLOAD_BYTES: String(1024 * 1024) });
    host = await signUp(t.url);
    eventId = (await host.client.post('/api/v1/events', { title: 'Batches', startsAt: futureIso(), capacity: null, visibility: 'public' }))
      .body.id;
    image = await png(40, 30);
  });
  afterAll(() => t?.close());

  const stored = async () => {
    const keys: string[] = [];
    for await (const object of t.platform.storage.list('originals/')) keys.push(object.key);
    const rows = (await t.platform.pool.query('SELECT count(*)::int AS n FROM photos WHERE event_id = $1', [eventId])).rows[0].n as number;
    return { keys: keys.length, rows };
  };

  it('keeps the good files of a form batch and names each refused file, escaped, with its reason', async () => {
    const before = await stored();
    const response = await post(host.client, `/events/${eventId}/photos`, [
      ['file', 'first.png', 'image/png', image],
      ['file', '<img src=x onerror=alert(1)>.txt', 'image/png', Buffer.from('not an image at all')],
      ['file', 'IMG_0001.HEIC', 'image/heic', heicFile()],
      ['file', 'huge.png', 'image/png', Buffer.concat([image, Buffer.alloc(2 * 1024 * 1024)])],
      ['file', 'empty.png', 'image/png', Buffer.alloc(0)],
      ['file', 'cut.png', 'image/png', image.subarray(0, image.length - 20)],
      ['file', 'last.png', 'image/png', image],
    ]);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(response.text).toContain('<h1 id="upload-results">2 of 7 photos added</h1>');
    expect(response.text).toContain('These 5 files were not added:');
    const refused = [...response.text.matchAll(/<li><strong>(.*?)<\/strong>: (.*?)<\/li>/g)].map((m) => [m[1], m[2]]);
    expect(refused).toEqual([
      ['&lt;img src=x onerror=alert(1)&gt;.txt', 'Upload a JPEG, PNG, WebP, AVIF or GIF image.'],
      ['IMG_0001.HEIC', HEIC_REFUSAL],
      ['huge.png', 'The file is larger than 1 MiB.'],
      ['empty.png', 'The file is empty.'],
      ['cut.png', 'The image is truncated or incomplete.'],
    ]);
    expect(response.text).not.toContain('<img src=x');
    // The message is what the page starts with, and the script focuses it (as a form's errors).
    expect(response.text).toMatch(/<div class="alert" role="alert" tabindex="-1" id="form-errors">/);
    expect(response.text).toContain(`href="/events/${eventId}#gallery"`);
    // Exactly the two good files are kept: rows and objects, nothing of the refused ones.
    expect(await stored()).toEqual({ keys: before.keys + 2, rows: before.rows + 2 });
  });

  it('answers the first refusal’s status when no file of a batch is good, keeping nothing', async () => {
    const before = await stored();
    const response = await post(host.client, `/events/${eventId}/photos`, [
      ['file', 'IMG_0002.HEIC', 'image/heic', heicFile()],
      ['file', 'notes.txt', 'text/plain', Buffer.from('hello')],
    ]);
    expect(response.status).toBe(415);
    expect(response.text).toContain('No photos added');
    expect(response.text).toContain(`<strong>IMG_0002.HEIC</strong>: ${HEIC_REFUSAL}`);
    expect(await stored()).toEqual(before);
  });

  it('refuses a HEIC photo through the API with 415 unsupported_type, a message that says so and a stable reason', async () => {
    const before = await stored();
    const { body, contentType } = multipart([['file', 'IMG_0003.jpg', 'image/jpeg', heicFile()]]);
    const response = await host.client.request('POST', `/api/v1/events/${eventId}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    expect(response.status).toBe(415);
    expect(response.body.error).toEqual({
      code: 'unsupported_type',
      message: HEIC_REFUSAL,
      details: [{ field: 'file', problem: 'heic_not_supported' }],
    });
    expect(HEIC_REFUSAL).toContain('HEIC photos are not supported on this server; export as JPEG');
    expect(await stored()).toEqual(before);
  });

  it('takes a batch of good files as before: back to the gallery with the count', async () => {
    const response = await post(host.client, `/events/${eventId}/photos`, [
      ['file', 'a.png', 'image/png', image],
      ['file', 'b.png', 'image/png', image],
    ]);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/events/${eventId}?upload=uploaded&count=2#gallery`);
  });
});
