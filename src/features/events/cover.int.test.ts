// An event's cover (issue 16, decision 0042): one of its own ready photos,
// chosen by its host, through the API or the photo viewer's form; shown on the
// event's card and in its link preview; cleared when the photo is deleted. The
// anonymous page cache shows every change at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { formFields } from '../../../tests/support/forms.js';
import { multipart, png } from '../../../tests/support/images.js';

let t: TestApp;
let worker: ReturnType<typeof startTestWorker>;
let host: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  t = await startTestApp();
  worker = startTestWorker(t);
  host = await signUp(t.url, { name: 'Cora Cover' });
});
afterAll(async () => {
  await worker?.stop({ graceMs: 1000 });
  await t?.close();
});

async function newEvent(client: Client, visibility = 'public', title = 'Covered'): Promise<string> {
  return (await client.post('/api/v1/events', { title, startsAt: futureIso(), capacity: 10, visibility })).body.id;
}

/** Ready photos straight in SQL (their pictures are never fetched): no image processing needed. */
async function readyPhotos(eventId: string, count: number, status = 'ready'): Promise<string[]> {
  const { rows } = await t.platform.pool.query(
    `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, width, height)
     SELECT $1, $2, $3, 'originals/2030/01/' || k || '.jpg', 'derived/2030/01/t' || k || '.webp', 'derived/2030/01/d' || k || '.webp', 'image/jpeg', 1000, 800, 600
     FROM generate_series(1, $4::int) AS n, LATERAL (SELECT md5(random()::text || n) AS k) AS key RETURNING id`,
    [eventId, host.user.id, status, count],
  );
  return rows.map((row) => row.id as string);
}

const anonymous = (path: string) => new Client(t.url).get(path, { accept: path.startsWith('/api/') ? 'application/json' : 'text/html' });
const cardCover = async (eventId: string) => {
  const home = (await anonymous('/')).text;
  const card = home.slice(home.lastIndexOf('<li', home.indexOf(`href="/events/${eventId}"`)), home.indexOf(`href="/events/${eventId}"`));
  return /<img class="event-cover" src="([^"]+)"/.exec(card)?.[1] ?? null;
};
const ogImage = async (eventId: string) =>
  /<meta property="og:image" content="([^"]+)">/.exec((await anonymous(`/events/${eventId}`)).text)?.[1] ?? null;
const twitterImage = async (eventId: string) =>
  /<meta name="twitter:image" content="([^"]+)">/.exec((await anonymous(`/events/${eventId}`)).text)?.[1] ?? null;

describe('event covers', () => {
  it('is chosen by the host through the API, shows in the event, the list, the card and the link preview, at once for cached pages', async () => {
    const eventId = await newEvent(host.client);
    const [older, newer] = await readyPhotos(eventId, 2);
    // Read (and so cache) the anonymous pages first.
    expect((await anonymous(`/api/v1/events/${eventId}`)).body.cover).toBeNull();
    expect(await cardCover(eventId)).toBeNull();
    const galleryPreview = await ogImage(eventId);

    const set = await host.client.request('PUT', `/api/v1/events/${eventId}/cover`, { json: { photoId: older } });
    expect(set.status).toBe(200);
    expect(set.body.cover).toEqual({ photoId: older });
    expect((await anonymous(`/api/v1/events/${eventId}`)).body.cover).toEqual({ photoId: older });
    const listed = (await anonymous('/api/v1/events?limit=100')).body.items.find((e: { id: string }) => e.id === eventId);
    expect(listed.cover).toEqual({ photoId: older });
    expect(await cardCover(eventId)).toBe(`/events/${eventId}/cover/${older}`);
    expect(await ogImage(eventId)).toBe(`${t.url}/events/${eventId}/cover/${older}?size=display`);
    expect(await twitterImage(eventId)).toBe(`${t.url}/events/${eventId}/cover/${older}?size=display`);
    expect(galleryPreview).not.toBe(await ogImage(eventId));

    expect((await host.client.request('PUT', `/api/v1/events/${eventId}/cover`, { json: { photoId: newer } })).body.cover).toEqual({
      photoId: newer,
    });
    expect(await cardCover(eventId)).toBe(`/events/${eventId}/cover/${newer}`);

    const removed = await host.client.request('DELETE', `/api/v1/events/${eventId}/cover`);
    expect(removed.status).toBe(200);
    expect(removed.body.cover).toBeNull();
    expect(await cardCover(eventId)).toBeNull();
    expect(await ogImage(eventId)).toBe(galleryPreview);
    // The photos stay in the gallery.
    expect((await anonymous(`/api/v1/events/${eventId}/photos`)).body.items).toHaveLength(2);
  });

  it('redirects a cover’s address to its picture, for whoever may see the event only', async () => {
    const eventId = await newEvent(host.client);
    const { body, contentType } = multipart([['file', 'cover.png', 'image/png', await png(480, 320)]]);
    const uploaded = await host.client.request('POST', `/api/v1/events/${eventId}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    const photoId = uploaded.body.photo.id as string;
    await eventually(async () => ((await host.client.get(`/api/v1/photos/${photoId}`)).body.status === 'ready' ? true : undefined), 30_000);
    await host.client.request('PUT', `/api/v1/events/${eventId}/cover`, { json: { photoId } });
    for (const size of ['', '?size=display']) {
      const redirect = await anonymous(`/events/${eventId}/cover/${photoId}${size}`);
      expect(redirect.status).toBe(302);
      const picture = await fetch(new URL(redirect.headers.get('location')!, t.url));
      expect(picture.status).toBe(200);
      expect(picture.headers.get('content-type')).toBe('image/webp');
    }
    expect((await anonymous(`/events/${eventId}/cover/${photoId}?size=original`)).status).toBe(400);

    const hidden = await newEvent(host.client, 'private');
    const [privatePhoto] = await readyPhotos(hidden, 1);
    await host.client.request('PUT', `/api/v1/events/${hidden}/cover`, { json: { photoId: privatePhoto } });
    expect((await anonymous(`/events/${hidden}/cover/${privatePhoto}`)).status).toBe(404);
    const own = await host.client.get(`/events/${hidden}/cover/${privatePhoto}`);
    expect(own.status).toBe(302);
    expect(own.headers.get('cache-control')).toBe('private, no-store');
    // Another event's photo through this event's address: 404.
    expect((await anonymous(`/events/${eventId}/cover/${privatePhoto}`)).status).toBe(404);
  });

  it('refuses a photo that is not a ready photo of the event (404 not_found), and anyone but the host (403) or a stranger to a private event (404)', async () => {
    const eventId = await newEvent(host.client);
    const [own] = await readyPhotos(eventId, 1);
    const [processing] = await readyPhotos(eventId, 1, 'processing');
    const [failed] = await readyPhotos(eventId, 1, 'failed');
    const [elsewhere] = await readyPhotos(await newEvent(host.client), 1);
    const put = (client: Client, id: string, json: unknown) => client.request('PUT', `/api/v1/events/${id}/cover`, { json });
    for (const photoId of [elsewhere, processing, failed, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const refused = await put(host.client, eventId, { photoId });
      expect([refused.status, refused.body.error.code], photoId).toEqual([404, 'not_found']);
    }
    for (const json of [{}, { photoId: 42 }, { photoId: own, extra: true }, { photoId: 'x'.repeat(65) }]) {
      const refused = await put(host.client, eventId, json);
      expect([refused.status, refused.body.error.code], JSON.stringify(json)).toEqual([400, 'validation_failed']);
    }

    const guest = await signUp(t.url);
    expect((await guest.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    const byGuest = await put(guest.client, eventId, { photoId: own });
    expect([byGuest.status, byGuest.body.error.code]).toEqual([403, 'forbidden']);
    const guestRemoves = await guest.client.request('DELETE', `/api/v1/events/${eventId}/cover`);
    expect(guestRemoves.status).toBe(403);
    const signedOut = await put(new Client(t.url), eventId, { photoId: own });
    expect(signedOut.status).toBe(401);

    const hidden = await newEvent(host.client, 'private');
    const [hiddenPhoto] = await readyPhotos(hidden, 1);
    const byStranger = await put(guest.client, hidden, { photoId: hiddenPhoto });
    expect([byStranger.status, byStranger.body.error.code]).toEqual([404, 'not_found']);
    // Nothing changed anywhere.
    expect((await host.client.get(`/api/v1/events/${eventId}`)).body.cover).toBeNull();
    expect((await host.client.get(`/api/v1/events/${hidden}`)).body.cover).toBeNull();
  });

  it('is cleared when its photo is deleted, on the cached card at once', async () => {
    const eventId = await newEvent(host.client);
    const [photoId] = await readyPhotos(eventId, 1);
    await host.client.request('PUT', `/api/v1/events/${eventId}/cover`, { json: { photoId } });
    expect(await cardCover(eventId)).toBe(`/events/${eventId}/cover/${photoId}`);
    expect((await anonymous(`/api/v1/events/${eventId}`)).body.cover).toEqual({ photoId });
    expect((await host.client.delete(`/api/v1/photos/${photoId}`)).status).toBe(204);
    expect((await anonymous(`/api/v1/events/${eventId}`)).body.cover).toBeNull();
    expect(await cardCover(eventId)).toBeNull();
    const { rows } = await t.platform.pool.query('SELECT cover_photo_id FROM events WHERE id = $1', [eventId]);
    expect(rows[0].cover_photo_id).toBeNull();
  });

  it('works without JavaScript from the photo viewer: "Use as cover", a confirmation before replacing one, "Remove as cover"', async () => {
    const eventId = await newEvent(host.client);
    const [first, second] = await readyPhotos(eventId, 2);
    const viewerPage = async (photoId: string) =>
      (await host.client.get(`/events/${eventId}/photos/${photoId}`, { accept: 'text/html' })).text;

    const page = await viewerPage(first!);
    expect(page).toContain('>Use as cover</button>');
    const chosen = await host.client.request('POST', `/events/${eventId}/cover`, { form: formFields(page, `/events/${eventId}/cover`) });
    expect(chosen.status).toBe(303);
    expect(chosen.headers.get('location')).toBe(`/events/${eventId}/photos/${first}`);
    expect(await viewerPage(first!)).toContain('>Remove as cover</button>');

    // Another photo: the form asks first, and changes nothing until confirmed.
    const asked = await host.client.request('POST', `/events/${eventId}/cover`, {
      form: formFields(await viewerPage(second!), `/events/${eventId}/cover`),
    });
    expect(asked.status).toBe(200);
    expect(asked.text).toContain('Replace the cover?');
    expect(asked.headers.get('cache-control')).toBe('private, no-store');
    expect((await host.client.get(`/api/v1/events/${eventId}`)).body.cover).toEqual({ photoId: first });
    const confirmed = await host.client.request('POST', `/events/${eventId}/cover`, {
      form: formFields(asked.text, `/events/${eventId}/cover`),
    });
    expect(confirmed.status).toBe(303);
    expect((await host.client.get(`/api/v1/events/${eventId}`)).body.cover).toEqual({ photoId: second });

    const removed = await host.client.request('POST', `/events/${eventId}/cover`, {
      form: formFields(await viewerPage(second!), `/events/${eventId}/cover`),
    });
    expect(removed.status).toBe(303);
    expect((await host.client.get(`/api/v1/events/${eventId}`)).body.cover).toBeNull();

    // Nobody else sees the control, nor may post it.
    const guest = await signUp(t.url);
    expect((await guest.client.get(`/events/${eventId}/photos/${first}`, { accept: 'text/html' })).text).not.toContain('as cover');
    const refused = await guest.client.request('POST', `/events/${eventId}/cover`, { form: { photoId: first! } });
    expect(refused.status).toBe(403);
  });
});
