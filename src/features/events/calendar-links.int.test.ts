// "Add to calendar", the venue's map, link previews and noindex, as a browser
// or a link-preview crawler receives them.
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';
import { seedGallery } from '../../../tests/support/gallery.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const html = { accept: 'text/html' };
// 18:00 to 21:30 on Berlin's winter clock.
const PARTY = {
  title: 'Rooftop party; bring snacks',
  description: 'Music, food & friends.',
  venue: 'Alexanderplatz 1, Berlin',
  startsAt: '2031-01-10T17:00:00.000Z',
  endsAt: '2031-01-10T20:30:00.000Z',
  timeZone: 'Europe/Berlin',
  capacity: 20,
};

async function createEvent(visibility: 'public' | 'unlisted' | 'private', fields: Partial<typeof PARTY> = {}) {
  const host = await signUp(t.url);
  const created = await host.client.post('/api/v1/events', { ...PARTY, ...fields, visibility });
  expect(created.status).toBe(201);
  return { host, event: created.body as { id: string; slug: string } };
}

/** The content of a meta tag, by property or name. */
function meta(page: string, key: string): string | undefined {
  return page.match(new RegExp(`<meta (?:property|name)="${key}" content="([^"]*)">`))?.[1];
}

describe('add to calendar', () => {
  it('downloads the event as an iCalendar file with its times, place and page', async () => {
    const { event } = await createEvent('public');
    const response = await new Client(t.url).get(`/events/${event.id}/calendar.ics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="${event.slug}.ics"; filename*=UTF-8''${event.slug}.ics`,
    );
    expect(response.headers.get('cache-control')).toMatch(/^public/);
    expect(response.headers.get('x-robots-tag')).toBeNull();
    const calendar = new ICAL.Component(ICAL.parse(response.text));
    expect(calendar.getFirstPropertyValue('method')).toBe('PUBLISH');
    const entry = new ICAL.Event(calendar.getFirstSubcomponent('vevent')!);
    expect(entry.summary).toBe(PARTY.title);
    expect(entry.location).toBe(PARTY.venue);
    expect(entry.startDate.toJSDate().toISOString()).toBe(PARTY.startsAt);
    expect(entry.endDate.toJSDate().toISOString()).toBe(PARTY.endsAt);
    expect(entry.uid).toBe(`event-${event.id}@127.0.0.1`);
    expect(entry.description).toContain('Friday 10 January 2031, 18:00 – 21:30 Berlin time (GMT+1)');
    expect(entry.description).toContain(PARTY.description);
    expect(entry.component.getFirstPropertyValue('url')).toBe(`${t.url}/events/${event.id}`);
  });

  it('is in the public page cache and changes with the event at once', async () => {
    const { host, event } = await createEvent('public');
    const anonymous = new Client(t.url);
    expect((await anonymous.get(`/events/${event.id}/calendar.ics`)).text).toContain('SUMMARY:Rooftop party\\; bring snacks');
    expect((await host.client.patch(`/api/v1/events/${event.id}`, { title: 'Moved indoors' })).status).toBe(200);
    expect((await anonymous.get(`/events/${event.id}/calendar.ics`)).text).toContain('SUMMARY:Moved indoors');
  });

  it('is 404 to those who cannot see a private event, and kept out of search engines for those who can', async () => {
    const { host, event } = await createEvent('private');
    expect((await new Client(t.url).get(`/events/${event.id}/calendar.ics`)).status).toBe(404);
    expect((await (await signUp(t.url)).client.get(`/events/${event.id}/calendar.ics`)).status).toBe(404);
    const own = await host.client.get(`/events/${event.id}/calendar.ics`);
    expect(own.status).toBe(200);
    expect(own.headers.get('cache-control')).toBe('private, no-store');
    expect(own.headers.get('x-robots-tag')).toBe('noindex');
  });

  it('offers the file, a filled-in Google Calendar link and a map of the venue on the page', async () => {
    const { event } = await createEvent('public');
    const page = (await new Client(t.url).get(`/events/${event.id}`, html)).text;
    expect(page).toContain(`<a href="/events/${event.id}/calendar.ics" download>`);
    const google = new URL(page.match(/href="(https:\/\/calendar\.google\.com\/[^"]+)"/)![1]!.replace(/&amp;/g, '&'));
    expect(Object.fromEntries(google.searchParams)).toEqual({
      action: 'TEMPLATE',
      text: PARTY.title,
      dates: '20310110T170000Z/20310110T203000Z',
      ctz: 'Europe/Berlin',
      details: `${PARTY.description}\n\n${t.url}/events/${event.id}`,
      location: PARTY.venue,
    });
    expect(page).toMatch(
      /<a href="https:\/\/www\.openstreetmap\.org\/search\?query=Alexanderplatz\+1%2C\+Berlin" rel="noreferrer"\s*>Alexanderplatz 1, Berlin<span class="visually-hidden"> \(map\)<\/span><\/a/,
    );
    // Weekday and duration, on the event's clock.
    expect(page).toMatch(/Friday 10 January 2031, 18:00<\/time>/);
    expect(page).toContain('<span class="duration">3 hours 30 minutes</span>');
  });

  it('gives an event without an end or a venue a zero-length Google entry and no map link', async () => {
    const { event } = await createEvent('public', { endsAt: undefined, venue: '' });
    const page = (await new Client(t.url).get(`/events/${event.id}`, html)).text;
    expect(page).toContain('dates=20310110T170000Z%2F20310110T170000Z');
    expect(page).not.toContain('openstreetmap');
    const file = (await new Client(t.url).get(`/events/${event.id}/calendar.ics`)).text;
    expect(file).not.toContain('DTEND');
    expect(file).not.toContain('LOCATION');
  });
});

describe('link previews and search engines', () => {
  it('gives a public event Open Graph and Twitter card tags with its title, time and place, and no noindex', async () => {
    const { event } = await createEvent('public');
    const response = await new Client(t.url).get(`/events/${event.id}`, html);
    expect(response.headers.get('x-robots-tag')).toBeNull();
    const page = response.text;
    expect(meta(page, 'og:title')).toBe('Rooftop party; bring snacks');
    expect(meta(page, 'og:url')).toBe(`${t.url}/events/${event.id}`);
    expect(meta(page, 'og:type')).toBe('website');
    expect(meta(page, 'og:description')).toBe('Friday 10 January 2031, 18:00 – 21:30 Berlin time (GMT+1) · Alexanderplatz 1, Berlin');
    expect(meta(page, 'twitter:card')).toBe('summary');
    expect(meta(page, 'twitter:title')).toBe('Rooftop party; bring snacks');
    expect(meta(page, 'og:image')).toBeUndefined();
    expect(meta(page, 'robots')).toBeUndefined();
  });

  it('shows the newest photo in the preview once there is one, in the cached anonymous page too', async () => {
    const worker = startTestWorker(t);
    try {
      const { host, event } = await createEvent('public');
      const anonymous = new Client(t.url);
      expect(meta((await anonymous.get(`/events/${event.id}`, html)).text, 'og:image')).toBeUndefined();
      await seedGallery(t, host.client, event.id, 1);
      // The photo becoming ready dropped the cached copy.
      const page = (await anonymous.get(`/events/${event.id}`, html)).text;
      const image = meta(page, 'og:image')!;
      expect(image).toMatch(new RegExp(`^${t.url}/media/`));
      expect(meta(page, 'twitter:image')).toBe(image);
      expect(meta(page, 'twitter:card')).toBe('summary_large_image');
      expect(meta(page, 'og:image:alt')).toMatch(/^Photo 1: by /);
      const fetched = await fetch(image.replace(/&amp;/g, '&'));
      expect(fetched.status).toBe(200);
      expect(fetched.headers.get('content-type')).toBe('image/webp');
    } finally {
      await worker.stop();
    }
  }, 120_000);

  for (const visibility of ['unlisted', 'private'] as const) {
    it(`keeps a ${visibility} event's page and gallery out of search engines (meta robots and X-Robots-Tag)`, async () => {
      const { host, event } = await createEvent(visibility);
      const viewer = visibility === 'unlisted' ? new Client(t.url) : host.client;
      const page = await viewer.get(`/events/${event.id}`, html);
      expect(page.status).toBe(200);
      expect(page.headers.get('x-robots-tag')).toBe('noindex');
      expect(meta(page.text, 'robots')).toBe('noindex');
      const gallery = await viewer.get(`/api/v1/events/${event.id}/photos`);
      expect(gallery.headers.get('x-robots-tag')).toBe('noindex');
    });
  }
});
