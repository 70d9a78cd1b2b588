// What an upload may cost (issue 13): every file counts against the upload
// limit, and no image has more pixels than MAX_IMAGE_PIXELS.
import zlib from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { multipart, png } from '../../../tests/support/images.js';

function post(client: Client, path: string, files: [string, string, string, Buffer][]) {
  const { body, contentType } = multipart(files);
  return client.request('POST', path, { body, headers: { 'content-type': contentType } });
}

async function newEvent(client: Client): Promise<string> {
  return (await client.post('/api/v1/events', { title: 'Limits', startsAt: futureIso(), capacity: null, visibility: 'public' })).body.id;
}

const photoCount = async (t: TestApp, eventId: string) =>
  Number((await t.platform.pool.query('SELECT count(*) FROM photos WHERE event_id = $1', [eventId])).rows[0].count);

/** A structurally whole PNG that declares `width` x `height` pixels (its pixel data is a token few bytes). */
function declaredPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose frame header comes after `padding` bytes of application segments. */
async function jpegWithPadding(width: number, height: number, padding: number): Promise<Buffer> {
  const jpeg = await sharp({ create: { width, height, channels: 3, background: '#3a7' } })
    .jpeg()
    .toBuffer();
  const segments: Buffer[] = [];
  for (let left = padding; left > 0; left -= 65_533) {
    const size = Math.min(left, 65_533);
    const segment = Buffer.alloc(size + 4);
    segment.set([0xff, 0xef], 0); // APP15: ignored by every reader
    segment.writeUInt16BE(size + 2, 2);
    segments.push(segment);
  }
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

describe('the upload rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ UPLOAD_RATE_LIMIT: '3' });
  });
  afterAll(() => t.close());

  it('counts files, not requests: a form post of 3 files uses up a limit of 3', async () => {
    const host = await signUp(t.url);
    const eventId = await newEvent(host.client);
    const image = await png(20, 20);
    const three = await post(host.client, `/events/${eventId}/photos`, [
      ['file', 'a.png', 'image/png', image],
      ['file', 'b.png', 'image/png', image],
      ['file', 'c.png', 'image/png', image],
    ]);
    expect(three.status).toBe(303);
    expect(three.headers.get('location')).toContain('upload=uploaded&count=3');
    const next = await post(host.client, `/api/v1/events/${eventId}/photos`, [['file', 'd.png', 'image/png', image]]);
    expect(next.status).toBe(429);
    expect(next.body.error.code).toBe('rate_limited');
    expect(await photoCount(t, eventId)).toBe(3);
  });

  it('keeps the files of a post that fit in what is left of the limit, and names the others', async () => {
    const host = await signUp(t.url);
    const eventId = await newEvent(host.client);
    const image = await png(20, 20);
    const five = await post(
      host.client,
      `/events/${eventId}/photos`,
      Array.from({ length: 5 }, (_, i) => ['file', `${i}.png`, 'image/png', image] as [string, string, string, Buffer]),
    );
    expect(five.status).toBe(200);
    expect(five.text).toContain('3 of 5 photos added');
    expect(five.text).toContain('<strong>3.png</strong>: Too many uploads; wait and try again.');
    expect(five.text).toContain('<strong>4.png</strong>: Too many uploads; wait and try again.');
    expect(await photoCount(t, eventId)).toBe(3);
  });
});

describe('the pixel limit (MAX_IMAGE_PIXELS)', () => {
  it('refuses a 16k x 16k image at the default limit before storing it: 413 too_large', async () => {
    const t = await startTestApp();
    try {
      const host = await signUp(t.url);
      const eventId = await newEvent(host.client);
      const refused = await post(host.client, `/api/v1/events/${eventId}/photos`, [
        ['file', 'big.png', 'image/png', declaredPng(16_000, 16_000)],
      ]);
      expect(refused.status).toBe(413);
      expect(refused.body.error.code).toBe('too_large');
      expect(refused.body.error.message).toMatch(/16000 x 16000 pixels.*100 megapixels/);
      expect(await photoCount(t, eventId)).toBe(0);
      // 10 000 x 10 000 is exactly the default limit: accepted.
      const accepted = await post(host.client, `/api/v1/events/${eventId}/photos`, [
        ['file', 'ok.png', 'image/png', declaredPng(10_000, 10_000)],
      ]);
      expect(accepted.status).toBe(202);
    } finally {
      await t.close();
    }
  });

  describe('with a limit of 200 x 200', () => {
    let t: TestApp;
    let worker: ReturnType<typeof startTestWorker>;
    let host: Awaited<ReturnType<typeof signUp>>;
    let eventId: string;
    beforeAll(async () => {
      t = await startTestApp({ MAX_IMAGE_PIXELS: '40000' });
      worker = startTestWorker(t);
      host = await signUp(t.url);
      eventId = await newEvent(host.client);
    });
    afterAll(async () => {
      await worker.stop({ graceMs: 1000 });
      await t.close();
    });

    it.each([
      ['image/png', (s: Sharp) => s.png()],
      ['image/jpeg', (s: Sharp) => s.jpeg().withExif({ IFD0: { Make: 'x'.repeat(20_000) } })],
      ['image/webp', (s: Sharp) => s.webp()],
      ['image/webp', (s: Sharp) => s.webp({ lossless: true })],
      ['image/gif', (s: Sharp) => s.gif()],
      ['image/avif', (s: Sharp) => s.avif()],
    ])('refuses a %s of 201 x 200 and takes one of 200 x 200', async (type, encode) => {
      const image = (width: number) => encode(sharp({ create: { width, height: 200, channels: 3, background: '#a52' } })).toBuffer();
      const refused = await post(host.client, `/api/v1/events/${eventId}/photos`, [['file', 'x', type, await image(201)]]);
      expect(refused.status).toBe(413);
      expect(refused.body.error.code).toBe('too_large');
      const accepted = await post(host.client, `/api/v1/events/${eventId}/photos`, [['file', 'x', type, await image(200)]]);
      expect(accepted.status).toBe(202);
    });

    it('says so on the page, naming the file, when a form upload is refused', async () => {
      const big = await png(300, 300);
      const response = await post(host.client, `/events/${eventId}/photos`, [['file', 'big.png', 'image/png', big]]);
      expect(response.status).toBe(413);
      expect(response.text).toContain('No photos added');
      expect(response.text).toMatch(/<strong>big\.png<\/strong>: The image is 300 x 300 pixels/);
    });

    it('fails a photo whose size the upload could not see (its header deep in the file) before any pixel is decoded', async () => {
      const deep = await jpegWithPadding(300, 300, 400_000);
      const uploaded = await post(host.client, `/api/v1/events/${eventId}/photos`, [['file', 'deep.jpg', 'image/jpeg', deep]]);
      expect(uploaded.status).toBe(202);
      const photo = await eventually(
        async () => {
          const read = await host.client.get(`/api/v1/photos/${uploaded.body.photo.id}`);
          return read.body.status === 'processing' ? undefined : read.body;
        },
        30_000,
        'the photo to settle',
      );
      expect(photo.status).toBe('failed');
      expect(photo.failureReason).toMatch(/300 x 300 pixels/);
      expect(photo.thumbnailUrl).toBeNull();
    });
  });
});
