// The hot read paths do the fewest queries they can (no N+1: the count does not
// grow with the number of events or photos), and send cache headers that let a
// CDN serve anonymous public pages and nothing rendered for a signed-in viewer.
// Counts, not times: docs/decisions/0013-read-paths.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatform } from '../../app.js';
import { EVENT_PAGES } from './events.service.js';
import { PHOTO_QUERIES } from '../photos/photos.repository.js';
import { eventually, startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { recordStatements } from '../../../tests/support/statements.js';

const queriesDuring = recordStatements();

let t: TestApp;
let owner: Awaited<ReturnType<typeof signUp>>;
const events: string[] = [];

/** An event of the owner's, starting in `days` days; its id. */
async function hostEvent(title: string, visibility: 'public' | 'unlisted' | 'private', days: number, capacity: number | null) {
  return (await owner.client.post('/api/v1/events', { title, startsAt: futureIso(days), capacity, visibility })).body.id as string;
}

/** `count` photos of `eventId` in `status`, straight in SQL, a second apart, the newest a second old. */
function insertPhotos(eventId: string, status: 'processing' | 'ready', count: number) {
  return t.platform.pool.query<{ id: string }>(
    `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, width, height, created_at)
     SELECT $1, $2, $3, 'originals/2030/01/' || k || '.jpg', 'derived/2030/01/t' || k || '.webp', 'derived/2030/01/d' || k || '.webp',
            'image/jpeg', 1000, 800, 600, date_trunc('milliseconds', now()) - make_interval(secs => n)
     FROM generate_series(1, $4::int) AS n, LATERAL (SELECT md5(random()::text || n) AS k) AS key RETURNING id`,
    [eventId, owner.user.id, status, count],
  );
}

beforeAll(async () => {
  t = await startTestApp();
  owner = await signUp(t.url);
  for (let i = 0; i < 25; i++) {
    const createdId = await hostEvent(`Read path ${i}`, 'public', i + 1, 10);
    events.push(createdId);
  }
  // Ready photos straight in SQL: a gallery page of 20 with more behind it, no image processing needed.
  for (const eventId of events.slice(0, 3)) await insertPhotos(eventId, 'ready', 30);
  for (let i = 0; i < 3; i++) await (await signUp(t.url)).client.post(`/api/v1/events/${events[0]}/bookings`);
});
afterAll(() => t.close());

/** The anonymous reads a CDN and the public page cache may keep, for one event, with what each accepts. */
const publicPaths = (eventId: string, query = { list: '', gallery: '' }) =>
  [
    ['/', 'text/html'],
    [`/api/v1/events${query.list}`, 'application/json'],
    [`/events/${eventId}`, 'text/html'],
    [`/api/v1/events/${eventId}/photos${query.gallery}`, 'application/json'],
  ] as const;

async function anonymous(path: string, accept = 'application/json') {
  const response = await new Client(t.url).get(path, { accept });
  expect(response.status).toBe(200);
  return response;
}

describe('hot read paths: queries per request, for an anonymous viewer', () => {
  it('GET /api/v1/events: one query for a page, whatever the page size', async () => {
    for (const path of ['/api/v1/events?limit=5', '/api/v1/events?limit=20']) {
      const queries = await queriesDuring(() => anonymous(path));
      expect(queries, queries.join('\n')).toHaveLength(1);
    }
    const first = await anonymous('/api/v1/events?limit=5');
    const queries = await queriesDuring(() => anonymous(`/api/v1/events?limit=5&cursor=${first.body.nextCursor}`));
    expect(queries, queries.join('\n')).toHaveLength(1);
  });

  it('GET /api/v1/events/:id/photos: the event and one page of photos, however many photos', async () => {
    for (const [eventId, limit] of [
      [events[1], 5],
      [events[2], 20],
    ] as const) {
      const queries = await queriesDuring(() => anonymous(`/api/v1/events/${eventId}/photos?limit=${limit}`));
      expect(queries.length, queries.join('\n')).toBeLessThanOrEqual(2);
      expect(queries.filter((q) => /FROM photos/.test(q))).toHaveLength(1);
    }
  });

  it('GET /events/:id: the event and one page of photos, however many photos', async () => {
    const queries = await queriesDuring(() => anonymous(`/events/${events[0]}`, 'text/html'));
    expect(
      queries.filter((q) => /FROM photos/.test(q)),
      queries.join('\n'),
    ).toHaveLength(1);
    // The event is read once (or comes from the cache), not again for the gallery section.
    expect(queries.length, queries.join('\n')).toBeLessThanOrEqual(2);
  });

  it("GET /events/:id signed in, a public event: the session, the viewer's booking and one page of photos in one statement", async () => {
    const [member, other] = [await signUp(t.url), await signUp(t.url)];
    expect((await member.client.post(`/api/v1/events/${events[0]}/bookings`)).status).toBe(201);
    let html = '';
    const queries = await queriesDuring(async () => {
      const page = await member.client.request('GET', `/events/${events[0]}`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      html = page.text;
    });
    // The booking decides both the page's "you are booked" and the upload form: one read, with the session and the
    // gallery, serves both (a public event is there for anyone, so the gallery need not wait for the session).
    const bookingReads = queries.filter((q) => /from "?bookings"?/i.test(q));
    expect(bookingReads, queries.join('\n')).toHaveLength(1);
    expect(bookingReads[0], queries.join('\n')).toMatch(/from "?sessions"?/i);
    expect(bookingReads[0], queries.join('\n')).toMatch(/from "?photos"?/i);
    expect(
      queries.filter((q) => /from "?(photos|sessions)"?/i.test(q)),
      queries.join('\n'),
    ).toHaveLength(1);
    // The event is read once (or comes from the cache).
    expect(queries.length, queries.join('\n')).toBeLessThanOrEqual(2);
    expect(html).toContain('Cancel my booking');
    // Someone who has not booked is offered a place, from the same one statement.
    const theirs = await other.client.request('GET', `/events/${events[0]}`, { headers: { accept: 'text/html' } });
    expect(theirs.text).toContain('Book a place');
    expect(theirs.text).not.toContain('Cancel my booking');
  });

  it('GET /events/:id?photos= signed in: a later gallery page shows the tiles the anonymous one does, from the one statement', async () => {
    const { client } = await signUp(t.url);
    const first = await anonymous(`/events/${events[0]}`, 'text/html');
    const later = first.text.match(/href="(\/events\/[^"]+\?photos=[^"]+)"/)?.[1]?.replaceAll('&amp;', '&');
    expect(later, 'the link to the next photos').toBeDefined();
    const tiles = (html: string) => [...html.matchAll(/src="([^"]*derived[^"]*)"/g)].map((m) => m[1]);
    const anonymousTiles = tiles((await anonymous(later!, 'text/html')).text);
    expect(anonymousTiles.length).toBeGreaterThan(0);
    let html = '';
    const queries = await queriesDuring(async () => {
      const page = await client.request('GET', later!, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      html = page.text;
    });
    expect(tiles(html)).toEqual(anonymousTiles);
    expect(html).toContain('action="/logout"');
    expect(
      queries.filter((q) => /from "?(photos|sessions)"?/i.test(q)),
      queries.join('\n'),
    ).toHaveLength(1);
  });
});

describe('cache headers', () => {
  it('lets a CDN keep anonymous public pages and lists briefly, varying on Cookie', async () => {
    for (const [path, accept] of publicPaths(events[0]!)) {
      const response = await anonymous(path, accept);
      expect(response.headers.get('cache-control'), path).toMatch(/^public, max-age=\d+, stale-while-revalidate=\d+$/);
      expect(response.headers.get('vary'), path).toMatch(/cookie/i);
    }
  });

  it('never lets a shared cache keep what a signed-in viewer sees', async () => {
    for (const [path, accept] of publicPaths(events[0]!)) {
      const response = await owner.client.get(path, { accept });
      expect(response.status, path).toBe(200);
      expect(response.headers.get('cache-control'), path).toBe('private, no-store');
    }
  });

  it('keeps unlisted and private event pages private even for anonymous viewers', async () => {
    const unlistedId = await hostEvent('Unlisted', 'unlisted', 3, null);
    const page = await anonymous(`/events/${unlistedId}`, 'text/html');
    expect(page.headers.get('cache-control')).toBe('private, no-store');
    const gallery = await anonymous(`/api/v1/events/${unlistedId}/photos`);
    expect(gallery.headers.get('cache-control')).toBe('private, no-store');
  });
});

// The public page cache (platform/http/public-pages.ts, decision 0016): an
// anonymous copy is served without a query, and never outlives a change.
describe('public page cache', () => {
  it('answers a second anonymous request for a public page or list with the same bytes and headers and no query', async () => {
    for (const [path, accept] of publicPaths(events[4]!, { list: '?limit=50', gallery: '?limit=20' })) {
      const first = await anonymous(path, accept);
      const queries = await queriesDuring(async () => {
        const second = await anonymous(path, accept);
        expect(second.text, path).toBe(first.text);
        for (const header of ['content-type', 'cache-control', 'vary'])
          expect(second.headers.get(header), `${path} ${header}`).toBe(first.headers.get(header));
        expect(second.headers.get('content-security-policy'), path).toBe(first.headers.get('content-security-policy'));
        expect(second.headers.get('x-request-id'), path).not.toBe(first.headers.get('x-request-id'));
      });
      expect(queries, `${path}:\n${queries.join('\n')}`).toHaveLength(0);
    }
  });

  it("shows a booking on the event's cached anonymous page at once, and on the cached list within the page cache's TTL", async () => {
    const eventId = events[5]!;
    const bookedOn = async () =>
      ((await anonymous('/api/v1/events?limit=50')).body.items as { id: string; bookedCount: number }[]).find((e) => e.id === eventId)!
        .bookedCount;
    const before = await bookedOn();
    await anonymous(`/events/${eventId}`, 'text/html');
    expect(await queriesDuring(() => anonymous(`/events/${eventId}`, 'text/html'))).toHaveLength(0); // cached
    const member = await signUp(t.url);
    expect((await member.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    const page = await anonymous(`/events/${eventId}`, 'text/html');
    expect(page.text).toContain(`${10 - before - 1} of 10 places left`);
    await eventually(
      async () => ((await bookedOn()) === before + 1 ? true : undefined),
      (t.config.publicPageCacheSeconds + 5) * 1000,
      'the booking on the list',
    );
  });

  it('shows a new or changed event on the cached anonymous lists at once', async () => {
    const titles = async () => ((await anonymous('/api/v1/events?limit=50')).body.items as { title: string }[]).map((e) => e.title);
    await titles();
    const createdId = await hostEvent('Announced at once', 'public', 1, 10);
    expect(await titles()).toContain('Announced at once');
    expect((await anonymous('/', 'text/html')).text).toContain('Announced at once');
    expect((await owner.client.patch(`/api/v1/events/${createdId}`, { title: 'Renamed at once' })).status).toBe(200);
    expect(await titles()).toContain('Renamed at once');
  });

  it("drops an event's cached gallery when another process announces a change to it", async () => {
    const eventId = events[6]!;
    const gallery = async () => (await anonymous(`/api/v1/events/${eventId}/photos?limit=20`)).body.items as unknown[];
    expect(await gallery()).toHaveLength(0);
    expect(await queriesDuring(gallery)).toHaveLength(0); // cached, still empty
    await t.platform.pool.query(
      `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, width, height)
       VALUES ($1, $2, 'ready', 'originals/2030/01/late.jpg', 'derived/2030/01/tlate.webp', 'derived/2030/01/dlate.webp', 'image/jpeg', 1000, 800, 600)`,
      [eventId, owner.user.id],
    );
    // A real second process's platform (its own bus connection), as the worker that marks a photo ready.
    const worker = await createPlatform(t.config, 'worker');
    try {
      worker.pages.announce(EVENT_PAGES.event(eventId));
      await eventually(async () => ((await gallery()).length === 1 ? true : undefined), 10_000, 'the new photo in the anonymous gallery');
    } finally {
      await worker.close();
    }
  });

  it('never serves or stores a copy for a request with a session cookie, valid or not', async () => {
    const path = `/events/${events[7]}`;
    await owner.client.get(path, { accept: 'text/html' });
    // Not stored from the signed-in view: the first anonymous request renders.
    expect((await queriesDuring(() => anonymous(path, 'text/html'))).length).toBeGreaterThan(0);
    // Stored now; a signed-in viewer still gets a fresh, private page with their name on it.
    const mine = await owner.client.get(path, { accept: 'text/html' });
    expect(mine.headers.get('cache-control')).toBe('private, no-store');
    expect(mine.text).toContain(owner.user.name);
    const forged = await queriesDuring(async () => {
      const response = await new Client(t.url).get(path, { accept: 'text/html', cookie: 'epu_session=not-a-real-session' });
      expect(response.status).toBe(200);
    });
    expect(forged.length).toBeGreaterThan(0);
  });

  it('does not store unlisted pages or errors', async () => {
    const unlistedId = await hostEvent('Unlisted again', 'unlisted', 4, null);
    for (const path of [`/events/${unlistedId}`, `/api/v1/events/${unlistedId}/photos`]) {
      await anonymous(path, 'text/html');
      expect((await queriesDuring(() => anonymous(path, 'text/html'))).length, path).toBeGreaterThan(0);
    }
    const missing = `/events/${crypto.randomUUID()}`;
    for (let i = 0; i < 2; i++) {
      const queries = await queriesDuring(async () =>
        expect((await new Client(t.url).get(missing, { accept: 'text/html' })).status).toBe(404),
      );
      expect(queries.length).toBeGreaterThan(0);
    }
  });
});

// The photo viewer (features/photos/views/viewer.ts): one page per photo, in its event's page cache.
describe('photo viewer', () => {
  const photosOf = async (eventId: string) =>
    (
      await t.platform.pool.query<{ id: string }>(
        `SELECT id FROM photos WHERE event_id = $1 AND status = 'ready' ORDER BY created_at DESC, id DESC`,
        [eventId],
      )
    ).rows.map((row) => row.id);

  it('GET /events/:id/photos/:photoId: the event and one query for the photo, its uploader, neighbours and place', async () => {
    const [, second] = await photosOf(events[1]!);
    const queries = await queriesDuring(() => anonymous(`/events/${events[1]}/photos/${second}`, 'text/html'));
    expect(queries.filter((q) => /FROM photos/.test(q))).toHaveLength(1);
    expect(queries.length, queries.join('\n')).toBeLessThanOrEqual(2);
  });

  it('is kept for anonymous viewers of a public event, private for the signed-in, and a deleted neighbour drops the copy at once', async () => {
    const [first, second, third] = await photosOf(events[2]!);
    const path = `/events/${events[2]}/photos/${second}`;
    const page = await anonymous(path, 'text/html');
    expect(page.headers.get('cache-control')).toMatch(/^public/);
    expect(page.text).toContain(`href="/events/${events[2]}/photos/${first}"`);
    expect(page.text).toContain(`href="/events/${events[2]}/photos/${third}"`);
    expect(page.text).toContain('Photo 2 of 30');
    expect(await queriesDuring(() => anonymous(path, 'text/html'))).toHaveLength(0);
    expect((await owner.client.get(path, { accept: 'text/html' })).headers.get('cache-control')).toBe('private, no-store');

    expect((await owner.client.delete(`/api/v1/photos/${third}`)).status).toBe(204);
    const after = await anonymous(path, 'text/html');
    expect(after.text).not.toContain(third);
    expect(after.text).toContain('Photo 2 of 29');
  });

  it('answers 404 for a photo of another event, a photo not ready, and any photo of an event the viewer may not see', async () => {
    const [ofFirst] = await photosOf(events[0]!);
    const notFound = async (path: string, client = new Client(t.url)) =>
      expect((await client.get(path, { accept: 'text/html' })).status, path).toBe(404);
    await notFound(`/events/${events[1]}/photos/${ofFirst}`);
    await notFound(`/events/${events[1]}/photos/${crypto.randomUUID()}`);
    await notFound(`/events/${events[1]}/photos/not-an-id`);
    const {
      rows: [processing],
    } = await t.platform.pool.query(
      `INSERT INTO photos (event_id, uploader_id, original_key, content_type, bytes) VALUES ($1, $2, 'originals/2030/01/p.jpg', 'image/jpeg', 10) RETURNING id`,
      [events[1], owner.user.id],
    );
    await notFound(`/events/${events[1]}/photos/${processing.id}`, owner.client);
    const hiddenId = await hostEvent('Hidden', 'private', 2, null);
    const {
      rows: [secret],
    } = await t.platform.pool.query(
      `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, width, height)
       VALUES ($1, $2, 'ready', 'originals/2030/01/s.jpg', 'derived/2030/01/ts.webp', 'derived/2030/01/ds.webp', 'image/jpeg', 10, 800, 600) RETURNING id`,
      [hiddenId, owner.user.id],
    );
    await notFound(`/events/${hiddenId}/photos/${secret.id}`);
    await notFound(`/events/${hiddenId}/photos/${secret.id}`, (await signUp(t.url)).client);
    const mine = await owner.client.get(`/events/${hiddenId}/photos/${secret.id}`, { accept: 'text/html' });
    expect(mine.status).toBe(200);
    expect(mine.headers.get('cache-control')).toBe('private, no-store');
  });

  it("numbers each photo from either end of the gallery, and keeps the gallery's size through every change to a photo", async () => {
    const eventId = await hostEvent('Numbered', 'public', 3, null);
    // Signed in: the page is rendered each time, never a kept anonymous copy.
    const title = async (photoId: string) =>
      (await owner.client.get(`/events/${eventId}/photos/${photoId}`, { accept: 'text/html' })).text.match(/Photo \d+ of \d+/)?.[0];
    await insertPhotos(eventId, 'ready', 7);
    // Newest first: the first half is counted from the newest photo, the rest from the oldest (decision 0063).
    const ready = await photosOf(eventId);
    for (const [i, id] of ready.entries()) expect(await title(id)).toBe(`Photo ${i + 1} of 7`);

    const {
      rows: [late],
    } = await insertPhotos(eventId, 'processing', 1);
    expect(await title(ready[0]!)).toBe('Photo 1 of 7');
    await t.platform.pool.query(`UPDATE photos SET status = 'ready' WHERE id = $1`, [late!.id]);
    expect(await title(ready[6]!)).toBe('Photo 8 of 8');
    await t.platform.pool.query(`UPDATE photos SET status = 'failed' WHERE id = $1`, [ready[3]]);
    expect(await title(ready[6]!)).toBe('Photo 7 of 7');
    expect((await owner.client.delete(`/api/v1/photos/${ready[0]}`)).status).toBe(204);
    expect(await title(ready[6]!)).toBe('Photo 6 of 6');
    // A photo moved to another event leaves this one's count and joins the other's.
    await t.platform.pool.query(`UPDATE photos SET event_id = $2 WHERE id = $1`, [ready[1], events[1]]);
    expect(await title(ready[6]!)).toBe('Photo 5 of 5');
    const moved = await owner.client.get(`/events/${events[1]}/photos/${ready[1]}`, { accept: 'text/html' });
    expect(moved.text).toMatch(/Photo \d+ of 31\b/);
    // A count written behind the trigger misnumbers the page, and never fails it.
    const behindTheTrigger = (delta: number) =>
      t.platform.pool.query(`UPDATE event_photo_counts SET ready = ready + $2 WHERE event_id = $1`, [eventId, delta]);
    await behindTheTrigger(-100);
    expect((await owner.client.get(`/events/${eventId}/photos/${ready[6]}`, { accept: 'text/html' })).status).toBe(200);
    await behindTheTrigger(100);
    expect((await t.services.integrity.run()).checks.photo_counts).toEqual({ problems: 0, samples: [] });
  });

  it('numbers photos taken at the same instant in gallery order (time, then id), in a gallery of even size', async () => {
    const eventId = await hostEvent('Tied', 'public', 3, null);
    await insertPhotos(eventId, 'ready', 6);
    await t.platform.pool.query(`UPDATE photos SET created_at = date_trunc('second', now()) WHERE event_id = $1`, [eventId]);
    const ready = await photosOf(eventId);
    for (const [i, id] of ready.entries()) {
      const page = await owner.client.get(`/events/${eventId}/photos/${id}`, { accept: 'text/html' });
      expect(page.text).toContain(`Photo ${i + 1} of 6`);
    }
  });

  it('reads a few index entries to number the newest photos of a large gallery, and no view reads the gallery more than once', async () => {
    const hostedId = await hostEvent('Large gallery', 'public', 4, null);
    await insertPhotos(hostedId, 'ready', 400);
    const ready = await photosOf(hostedId);
    // Rows of photos the viewer's statement reads: each scan of photos' rows out, times its loops (EXPLAIN ANALYZE).
    const photoRowsRead = async (photoId: string) => {
      const { rows } = await t.platform.pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${PHOTO_QUERIES.inViewer}`, [photoId, hostedId]);
      let read = 0;
      const walk = (node: PlanNode) => {
        if (node['Relation Name'] === 'photos') read += node['Actual Rows'] * node['Actual Loops'];
        for (const child of node.Plans ?? []) walk(child);
      };
      walk(rows[0]['QUERY PLAN'][0].Plan);
      return read;
    };
    // Before migration 0017 the newest photo read all 400 to count them; the oldest 799 (decision 0063).
    expect(await photoRowsRead(ready[0]!)).toBeLessThan(10);
    expect(await photoRowsRead(ready[1]!)).toBeLessThan(10);
    expect(await photoRowsRead(ready[399]!)).toBeLessThan(210);
    expect(await photoRowsRead(ready[201]!)).toBeLessThan(410);
  });
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}
