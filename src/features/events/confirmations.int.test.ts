// Destructive actions ask first, without JavaScript too: each form's POST
// without `confirm=yes` changes nothing and answers with the confirmation
// page's address; the page says what will be lost and posts the confirmed
// form. Also: what the event page offers once an event has started or ended,
// or to its host, the warning for a start in the past, and error pages for a
// signed-in reader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { seedGallery } from '../../../tests/support/gallery.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const html = { accept: 'text/html' };

async function hostedEvent(fields: Record<string, unknown> = {}) {
  const host = await signUp(t.url, { name: 'Hazel Host' });
  const created = await host.client.post('/api/v1/events', {
    title: 'Garden party',
    startsAt: futureIso(3),
    capacity: 10,
    visibility: 'public',
    ...fields,
  });
  expect(created.status).toBe(201);
  return { host, event: created.body as { id: string } };
}

/** Sets an event's times directly: the API refuses nothing in the past, but a form would ask first. */
async function moveEvent(id: string, startsAt: Date, endsAt: Date | null) {
  await t.platform.pool.query('UPDATE events SET starts_at = $2, ends_at = $3 WHERE id = $1', [id, startsAt, endsAt]);
  await t.services.events.invalidate(id);
}

describe('confirm before destroying', () => {
  it('deletes an event only from its confirmation page, which names what goes with it', async () => {
    const { host, event } = await hostedEvent();
    const guest = await signUp(t.url);
    expect((await guest.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);

    const unconfirmed = await host.client.request('POST', `/events/${event.id}/delete`, { form: {} });
    expect(unconfirmed.status).toBe(303);
    expect(unconfirmed.headers.get('location')).toBe(`/events/${event.id}/delete`);
    expect((await host.client.get(`/api/v1/events/${event.id}`)).status).toBe(200);

    const page = await host.client.get(`/events/${event.id}/delete`, html);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('private, no-store');
    expect(page.text).toContain('Delete “Garden party”?');
    expect(page.text).toContain('its 1 booking and all its photos');
    expect(page.text).toMatch(
      /<form method="post" action="\/events\/[0-9a-f-]{36}\/delete"[^>]*>\s*<input type="hidden" name="confirm" value="yes">/,
    );
    expect(page.text).toContain(`href="/events/${event.id}">Keep the event</a>`);
    // Only the host or an admin gets the page.
    expect((await guest.client.get(`/events/${event.id}/delete`, html)).status).toBe(403);
    expect((await new Client(t.url).get(`/events/${event.id}/delete`, html)).headers.get('location')).toBe(
      `/login?next=/events/${event.id}/delete`,
    );

    const confirmed = await host.client.request('POST', `/events/${event.id}/delete`, { form: { confirm: 'yes' } });
    expect(confirmed.headers.get('location')).toBe('/me?notice=event-deleted');
    expect((await host.client.get(`/api/v1/events/${event.id}`)).status).toBe(404);
  });

  it('cancels a booking only from its confirmation page', async () => {
    const { event } = await hostedEvent();
    const guest = await signUp(t.url);
    expect((await guest.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);

    const unconfirmed = await guest.client.request('POST', `/events/${event.id}/cancel`, { form: {} });
    expect(unconfirmed.headers.get('location')).toBe(`/events/${event.id}/cancel`);
    expect((await guest.client.get(`/api/v1/events/${event.id}`)).body.bookedCount).toBe(1);

    const page = await guest.client.get(`/events/${event.id}/cancel`, html);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Cancel your place at “Garden party”?');
    expect(page.text).toContain('name="confirm" value="yes"');
    expect(page.text).toContain(`href="/events/${event.id}">Keep my place</a>`);

    const confirmed = await guest.client.request('POST', `/events/${event.id}/cancel`, { form: { confirm: 'yes' } });
    expect(confirmed.headers.get('location')).toBe(`/events/${event.id}?notice=cancelled`);
    expect((await guest.client.get(`/api/v1/events/${event.id}`)).body.bookedCount).toBe(0);
    // Nothing left to cancel: back to the event.
    expect((await guest.client.get(`/events/${event.id}/cancel`, html)).headers.get('location')).toBe(`/events/${event.id}`);
  });

  it('deletes a photo only from its confirmation page, for its uploader, the host or an admin', async () => {
    const worker = startTestWorker(t);
    try {
      const { host, event } = await hostedEvent();
      const [photoId] = await seedGallery(t, host.client, event.id, 1);
      const viewerPage = await host.client.get(`/events/${event.id}/photos/${photoId}`, html);
      expect(viewerPage.text).toContain(`href="/photos/${photoId}/delete"`);

      const unconfirmed = await host.client.request('POST', `/photos/${photoId}/delete`, { form: {} });
      expect(unconfirmed.headers.get('location')).toBe(`/photos/${photoId}/delete`);
      expect((await host.client.get(`/api/v1/photos/${photoId}`)).status).toBe(200);

      const page = await host.client.get(`/photos/${photoId}/delete`, html);
      expect(page.status).toBe(200);
      expect(page.text).toContain('Delete this photo?');
      expect(page.text).toMatch(/<img [^>]*alt="The photo to delete"/);
      expect(page.text).toContain(`href="/events/${event.id}/photos/${photoId}">Keep the photo</a>`);
      const stranger = await signUp(t.url);
      expect((await stranger.client.get(`/photos/${photoId}/delete`, html)).status).toBe(403);

      const confirmed = await host.client.request('POST', `/photos/${photoId}/delete`, { form: { confirm: 'yes' } });
      expect(confirmed.headers.get('location')).toBe(`/events/${event.id}#gallery`);
      expect((await host.client.get(`/api/v1/photos/${photoId}`)).status).toBe(404);
    } finally {
      await worker.stop();
    }
  }, 120_000);

  it('keeps the cross-site guard on the confirmed forms', async () => {
    const { host, event } = await hostedEvent();
    const forged = await host.client.request('POST', `/events/${event.id}/delete`, {
      form: { confirm: 'yes' },
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(forged.status).toBe(403);
    expect((await host.client.get(`/api/v1/events/${event.id}`)).status).toBe(200);
  });

  it('links the page buttons to the confirmation pages instead of posting at once', async () => {
    const { host, event } = await hostedEvent();
    const guest = await signUp(t.url);
    await guest.client.post(`/api/v1/events/${event.id}/bookings`);
    expect((await host.client.get(`/events/${event.id}`, html)).text).toContain(
      `<a class="button danger" href="/events/${event.id}/delete">Delete event</a>`,
    );
    expect((await guest.client.get(`/events/${event.id}`, html)).text).toContain(
      `<a class="button secondary" href="/events/${event.id}/cancel">Cancel my booking</a>`,
    );
  });
});

describe('what the event page offers', () => {
  it('offers its host Manage instead of Book a place; others still book', async () => {
    const { host, event } = await hostedEvent();
    const own = (await host.client.get(`/events/${event.id}`, html)).text;
    expect(own).not.toContain('Book a place');
    expect(own).toContain(`<a class="button" href="/events/${event.id}/edit">Manage</a>`);
    expect(own).toContain("You're hosting");
    const guest = await signUp(t.url);
    const theirs = (await guest.client.get(`/events/${event.id}`, html)).text;
    expect(theirs).toContain('Book a place');
    expect(theirs).not.toContain('>Manage<');
  });

  it('offers no booking once the event has started, and says when it has ended', async () => {
    const { event } = await hostedEvent();
    const guest = await signUp(t.url);
    const booked = await signUp(t.url);
    await booked.client.post(`/api/v1/events/${event.id}/bookings`);
    const hour = 3_600_000;

    await moveEvent(event.id, new Date(Date.now() - hour), new Date(Date.now() + hour));
    const started = (await guest.client.get(`/events/${event.id}`, html)).text;
    expect(started).not.toContain('Book a place');
    expect(started).toContain('Happening now: bookings are closed');
    const attending = (await booked.client.get(`/events/${event.id}`, html)).text;
    expect(attending).toContain("You're going");
    expect(attending).not.toContain('Cancel my booking');
    const anonymous = (await new Client(t.url).get(`/events/${event.id}`, html)).text;
    expect(anonymous).not.toContain('Sign in to book');

    await moveEvent(event.id, new Date(Date.now() - 3 * hour), new Date(Date.now() - hour));
    const ended = (await guest.client.get(`/events/${event.id}`, html)).text;
    expect(ended).toContain('This event has ended');
    expect(ended).not.toContain('Book a place');
    expect((await booked.client.get(`/events/${event.id}`, html)).text).toContain('You went');
    expect((await new Client(t.url).get(`/events/${event.id}`, html)).text).toContain('This event has ended');

    // Without an end, it has ended once it has started.
    await moveEvent(event.id, new Date(Date.now() - hour), null);
    expect((await guest.client.get(`/events/${event.id}`, html)).text).toContain('This event has ended');
  });

  it('asks before creating an event that starts in the past, keeping what was typed', async () => {
    const { client } = await signUp(t.url);
    const form = { title: 'Last week', startsAt: '2020-03-01T18:00', endsAt: '', capacity: '', visibility: 'public', timeZone: 'UTC' };
    const asked = await client.request('POST', '/events', { form });
    expect(asked.status).toBe(200);
    expect(asked.text).toContain('This start is in the past.');
    expect(asked.text).toMatch(/<div class="past-warning" data-past-warning\s*>/);
    expect(asked.text).toContain('value="Last week"');
    const stored = () => t.platform.pool.query("SELECT count(*)::int AS n FROM events WHERE title = 'Last week'");
    expect((await stored()).rows[0].n).toBe(0);
    const confirmed = await client.request('POST', '/events', { form: { ...form, confirmPast: 'yes' } });
    expect(confirmed.status).toBe(303);
    const page = (await client.get(confirmed.headers.get('location')!, html)).text;
    expect(page).toContain('This event has ended');
  });
});

describe('error pages for a signed-in reader', () => {
  it('keep the signed-in menu on 404 and 403 pages; anonymous readers get the signed-out one', async () => {
    const { event } = await hostedEvent();
    const reader = await signUp(t.url, { name: 'Rita Reader' });
    const missing = await reader.client.get('/no/such/page', html);
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('>Rita Reader</a>');
    expect(missing.text).toContain('Sign out');
    expect(missing.text).not.toContain('>Sign in</a>');
    const unknownEvent = await reader.client.get('/events/00000000-0000-4000-8000-000000000000', html);
    expect(unknownEvent.status).toBe(404);
    expect(unknownEvent.text).toContain('>Rita Reader</a>');
    const forbidden = await reader.client.get(`/events/${event.id}/edit`, html);
    expect(forbidden.status).toBe(403);
    expect(forbidden.text).toContain('>Rita Reader</a>');
    const anonymous = await new Client(t.url).get('/no/such/page', html);
    expect(anonymous.text).toContain('>Sign in</a>');
    expect(anonymous.text).not.toContain('Sign out');
  });
});
