// What of a photo reaches whom (issue 13): private media is never stored by a
// shared cache.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { multipart, png } from '../../../tests/support/images.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';

async function readyPhoto(client: Client, eventId: string, bytes: Buffer, type = 'image/png') {
  const { body, contentType } = multipart([['file', 'photo', type, bytes]]);
  const uploaded = await client.request('POST', `/api/v1/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } });
  expect(uploaded.status).toBe(202);
  return eventually(
    async () => {
      const read = await client.get(`/api/v1/photos/${uploaded.body.photo.id}`);
      return read.body.status === 'ready' ? read.body : undefined;
    },
    30_000,
    'the photo to be ready',
  );
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
        vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID!);
        vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY!);
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
  });
}
