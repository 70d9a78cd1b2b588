// An id has one spelling (lower case, as issued). Another letter case used to
// reach the same event through cache entries of its own, which kept serving a
// public copy after the event turned private (issue 13).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { multipart, png } from '../../../tests/support/images.js';

let t: TestApp;
let worker: ReturnType<typeof startTestWorker>;
beforeAll(async () => {
  t = await startTestApp();
  worker = startTestWorker(t);
});
afterAll(async () => {
  await worker.stop({ graceMs: 1000 });
  await t.close();
});

const anonymous = () => new Client(t.url);
const asPage = (client: Client, path: string) => client.request('GET', path, { headers: { accept: 'text/html' } });

describe('ids in another letter case', () => {
  it('are no ids (404), so no cache ever holds an event, gallery or photo under a second key', async () => {
    const owner = await signUp(t.url);
    const eventId: string = (
      await owner.client.post('/api/v1/events', { title: 'Soon private', startsAt: futureIso(), capacity: null, visibility: 'public' })
    ).body.id;
    const { body, contentType } = multipart([['file', 'a.png', 'image/png', await png()]]);
    const uploaded = await owner.client.request('POST', `/api/v1/events/${eventId}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    const photoId: string = uploaded.body.photo.id;
    await eventually(async () => ((await owner.client.get(`/api/v1/photos/${photoId}`)).body.status === 'ready' ? true : undefined));
    const upper = eventId.toUpperCase();
    const paths = (id: string) => [`/api/v1/events/${id}`, `/api/v1/events/${id}/photos`, `/events/${id}`];

    // Public: the issued spelling is served (and cached); any other is not an id at all.
    for (const path of paths(eventId)) expect((await asPage(anonymous(), path)).status).toBe(200);
    for (const path of paths(upper)) expect((await asPage(anonymous(), path)).status).toBe(404);
    expect((await anonymous().get(`/api/v1/photos/${photoId.toUpperCase()}`)).status).toBe(404);
    const mixed = eventId.replace(/[a-f]/, (c) => c.toUpperCase());
    expect((await anonymous().get(`/api/v1/events/${mixed}`)).status).toBe(404);

    // Private: no spelling serves the public copy any more, from any cache.
    expect((await owner.client.patch(`/api/v1/events/${eventId}`, { visibility: 'private' })).status).toBe(200);
    for (const path of [...paths(eventId), ...paths(upper)]) expect((await asPage(anonymous(), path)).status).toBe(404);
    for (const id of [photoId, photoId.toUpperCase()]) expect((await anonymous().get(`/api/v1/photos/${id}`)).status).toBe(404);
    // The owner still reaches it by its id.
    expect((await owner.client.get(`/api/v1/events/${eventId}`)).status).toBe(200);
  });
});
