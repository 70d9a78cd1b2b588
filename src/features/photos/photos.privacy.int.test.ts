// What of a photo reaches whom (issue 13): private media is never stored by a
// shared cache.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import crypto from 'node:crypto';
import exifr from 'exifr';
import { readObject } from './photos.functions.js';
import sharp from 'sharp';
import { jpegWithExif, multipart, png } from '../../../tests/support/images.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';

async function whenReady(client: Client, photoId: string) {
  return eventually(
    async () => {
      const read = await client.get(`/api/v1/photos/${photoId}`);
      return read.body.status === 'ready' ? read.body : undefined;
    },
    30_000,
    'the photo to be ready',
  );
}

async function readyPhoto(client: Client, eventId: string, bytes: Buffer, type = 'image/png', fields: Record<string, string> = {}) {
  const { body, contentType } = multipart([['file', 'photo', type, bytes]], fields);
  const uploaded = await client.request('POST', `/api/v1/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } });
  expect(uploaded.status).toBe(202);
  expect(uploaded.body.photo.locationShared).toBe(fields.shareLocation === 'true');
  return whenReady(client, uploaded.body.photo.id);
}

const position = async (image: Buffer) => (await exifr.parse(image, { gps: true }))?.GPSLatitude;
const download = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

async function publicEvent(client: Client, title: string): Promise<string> {
  return (await client.post('/api/v1/events', { title, startsAt: futureIso(), capacity: null, visibility: 'public' })).body.id;
}

for (const driver of ['file', 's3'] as const) {
  describe(`private media with ${driver} storage`, () => {
    let t: TestApp;
    let s3: TestS3 | undefined;
    let worker: ReturnType<typeof startTestWorker>;

    beforeAll(async () => {
      let env: Record<string, string> = {};
      if (driver === 's3') {
        s3 = await startS3rver();
        vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
        vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
        env = s3.env;
      }
      t = await startTestApp(env);
      worker = startTestWorker(t);
    });
    afterAll(async () => {
      await worker?.stop({ graceMs: 1000 });
      await t?.close();
      await s3?.close();
      vi.unstubAllEnvs();
    });

    it('serves the thumbnails and display images of a private event as private: no shared cache may keep them', async () => {
      const owner = await signUp(t.url);
      const eventId: string = (
        await owner.client.post('/api/v1/events', { title: 'Private', startsAt: futureIso(), capacity: null, visibility: 'private' })
      ).body.id;
      const photo = await readyPhoto(owner.client, eventId, await png());
      for (const url of [photo.thumbnailUrl, photo.displayUrl, photo.url] as string[]) {
        const response = await fetch(url);
        expect(response.status).toBe(200);
        const cacheControl = response.headers.get('cache-control') ?? '';
        expect(cacheControl).toMatch(/\bprivate\b/);
        expect(cacheControl).not.toMatch(/\bpublic\b/);
      }
    });

    it('lets no one download where a photo was taken: the original keeps its picture and time taken, not its position', async () => {
      const owner = await signUp(t.url);
      const eventId: string = (
        await owner.client.post('/api/v1/events', { title: 'Located', startsAt: futureIso(), capacity: null, visibility: 'public' })
      ).body.id;
      const uploaded = await jpegWithExif(320, 240);
      expect(await position(uploaded)).toEqual([51, 30, 0]);
      const photo = await readyPhoto(owner.client, eventId, uploaded, 'image/jpeg');
      // Anyone who sees the gallery gets the original's link; the uploader's viewer page offers the original too.
      const gallery = await new Client(t.url).get(`/api/v1/events/${eventId}/photos`);
      const viewerPage = await owner.client.request('GET', `/events/${eventId}/photos/${photo.id}`, { headers: { accept: 'text/html' } });
      const download = /<a[^>]+href="([^"]+)"[^>]*download/.exec(viewerPage.text)![1]!.replace(/&amp;/g, '&');
      expect(viewerPage.text).toContain('Download original');
      for (const url of [gallery.body.items[0].url, new URL(download, t.url).href] as string[]) {
        const original = Buffer.from(await (await fetch(url)).arrayBuffer());
        expect(await position(original)).toBeUndefined();
        expect(await exifr.parse(original, { pick: ['DateTimeOriginal'] })).toEqual({ DateTimeOriginal: new Date('2024-05-06T07:08:09Z') });
        expect((await sharp(original).metadata()).width).toBe(320);
      }
      expect(photo.takenAt).toBe('2024-05-06T07:08:09.000Z');
      expect(photo.locationShared).toBe(false);
    });

    it('keeps where a photo was taken for everyone who may download it when the uploader chose to share it (API)', async () => {
      const owner = await signUp(t.url);
      const eventId = await publicEvent(owner.client, 'Shared place');
      const uploaded = await jpegWithExif(320, 240);
      const photo = await readyPhoto(owner.client, eventId, uploaded, 'image/jpeg', { shareLocation: 'true' });
      expect(photo.locationShared).toBe(true);
      const gallery = await new Client(t.url).get(`/api/v1/events/${eventId}/photos`);
      expect(gallery.body.items[0]).toMatchObject({ id: photo.id, locationShared: true });
      const original = await download(gallery.body.items[0].url);
      expect(original.equals(uploaded)).toBe(true);
      expect(await position(original)).toEqual([51, 30, 0]);
      // The renditions (WebP) never carry it: they are written without any metadata.
      for (const url of [photo.thumbnailUrl, photo.displayUrl]) expect((await sharp(await download(url)).metadata()).exif).toBeUndefined();
      // "false" is the default, said out loud.
      const unshared = await readyPhoto(owner.client, eventId, uploaded, 'image/jpeg', { shareLocation: 'false' });
      expect(await position(await download(unshared.url))).toBeUndefined();
    });

    it('takes the choice from the form, in any place of the body, for every file of the post; unticked removes it', async () => {
      const owner = await signUp(t.url);
      const eventId = await publicEvent(owner.client, 'Shared by form');
      const uploaded = await jpegWithExif(320, 240);
      const post = async (fields: Record<string, string>, fieldsLast: boolean) => {
        const { body, contentType } = multipart(
          [
            ['file', 'a.jpg', 'image/jpeg', uploaded],
            ['file', 'b.jpg', 'image/jpeg', uploaded],
          ],
          fields,
          { fieldsLast },
        );
        const answer = await owner.client.request('POST', `/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } });
        expect(answer.status).toBe(303);
        expect(answer.headers.get('location')).toBe(`/events/${eventId}?upload=uploaded&count=2#gallery`);
      };
      const newPhotos = async (seen: Set<string>) => {
        const { rows } = await t.platform.pool.query('SELECT id FROM photos WHERE event_id = $1', [eventId]);
        const fresh = rows.map((row) => row.id as string).filter((id) => !seen.has(id));
        for (const id of fresh) seen.add(id);
        return Promise.all(fresh.map((id) => whenReady(owner.client, id)));
      };
      const seen = new Set<string>();
      await post({ shareLocation: 'true' }, true);
      const shared = await newPhotos(seen);
      expect(shared).toHaveLength(2);
      for (const photo of shared) {
        expect(photo.locationShared).toBe(true);
        expect(await position(await download(photo.url))).toEqual([51, 30, 0]);
      }
      await post({}, false);
      const unticked = await newPhotos(seen);
      expect(unticked).toHaveLength(2);
      for (const photo of unticked) {
        expect(photo.locationShared).toBe(false);
        expect(await position(await download(photo.url))).toBeUndefined();
      }
      // The form offers the choice, unticked.
      const page = await owner.client.request('GET', `/events/${eventId}`, { headers: { accept: 'text/html' } });
      expect(page.text).toMatch(/<input name="shareLocation" type="checkbox" value="true" aria-describedby="photo-location-hint" \/>/);
    });

    it('refuses any other shareLocation with 400 validation_failed, keeping nothing', async () => {
      const owner = await signUp(t.url);
      const eventId = await publicEvent(owner.client, 'Unclear choice');
      for (const value of ['yes', 'TRUE', '', 'true\u0000']) {
        const { body, contentType } = multipart(
          [['file', 'photo.jpg', 'image/jpeg', await jpegWithExif(64, 48)]],
          { shareLocation: value },
          { fieldsLast: true },
        );
        const answer = await owner.client.request('POST', `/api/v1/events/${eventId}/photos`, {
          body,
          headers: { 'content-type': contentType },
        });
        expect(answer.status, value).toBe(400);
        expect(answer.body.error.code).toBe('validation_failed');
      }
      const { rows } = await t.platform.pool.query('SELECT count(*)::int AS n FROM photos WHERE event_id = $1', [eventId]);
      expect(rows[0].n).toBe(0);
    });

    it('removes the position from originals stored before, with `epu jobs run photos.remove-location`, except where shared', async () => {
      const owner = await signUp(t.url);
      const eventId: string = (
        await owner.client.post('/api/v1/events', { title: 'Stored before', startsAt: futureIso(), capacity: null, visibility: 'public' })
      ).body.id;
      const photo = await readyPhoto(owner.client, eventId, await png(), 'image/png');
      // As an earlier release stored it: the upload as it came, position and all.
      const { rows } = await t.platform.pool.query('SELECT original_key FROM photos WHERE id = $1', [photo.id]);
      const before = await jpegWithExif(320, 240);
      await t.platform.storage.put(rows[0].original_key, before, { contentType: 'image/jpeg' });
      await t.platform.pool.query(`UPDATE photos SET content_type = 'image/jpeg' WHERE id = $1`, [photo.id]);
      const shared = await readyPhoto(owner.client, eventId, before, 'image/jpeg', { shareLocation: 'true' });

      const job = await t.platform.queue.enqueue('photos.remove-location', {}, { maxAttempts: 1 });
      expect((await t.platform.queue.waitFor(job, { timeoutMs: 30_000 })).status).toBe('completed');
      const stored = await readObject(t.platform.storage, rows[0].original_key);
      expect((await exifr.parse(stored!, { gps: true }))?.GPSLatitude).toBeUndefined();
      expect((await sharp(stored!).raw().toBuffer()).equals(await sharp(before).raw().toBuffer())).toBe(true);
      const { rows: after } = await t.platform.pool.query('SELECT sha256, bytes FROM photos WHERE id = $1', [photo.id]);
      expect(after[0]).toEqual({ sha256: crypto.createHash('sha256').update(stored!).digest('hex'), bytes: stored!.length });
      expect((await download(shared.url)).equals(before)).toBe(true);
    });
  });
}
