import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';
import { formFields } from '../../../tests/support/forms.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ DEFAULT_TIME_ZONE: 'America/New_York' });
});
afterAll(() => t.close());

const html = { accept: 'text/html' };

describe('event time zones in the API', () => {
  it('keeps the IANA zone an event is created in, and the instance default without one', async () => {
    const { client } = await signUp(t.url);
    const berlin = await client.post('/api/v1/events', {
      title: 'Berlin',
      startsAt: '2031-01-10T18:00:00+01:00',
      capacity: null,
      visibility: 'public',
      timeZone: 'Europe/Berlin',
    });
    expect(berlin.status).toBe(201);
    expect(berlin.body).toMatchObject({ startsAt: '2031-01-10T17:00:00.000Z', timeZone: 'Europe/Berlin' });
    const plain = await client.post('/api/v1/events', {
      title: 'Default',
      startsAt: '2031-01-10T18:00:00Z',
      capacity: null,
      visibility: 'public',
    });
    expect(plain.body.timeZone).toBe('America/New_York');
    const moved = await client.patch(`/api/v1/events/${berlin.body.id}`, { timeZone: 'asia/tokyo' });
    expect(moved.status).toBe(200);
    // The zone is how the instant is shown; changing it moves nothing.
    expect(moved.body).toMatchObject({ startsAt: '2031-01-10T17:00:00.000Z', timeZone: 'Asia/Tokyo' });
  });

  it('refuses a zone that is not an IANA name with 400 validation_failed on the field', async () => {
    const { client } = await signUp(t.url);
    for (const timeZone of ['Mars/Olympus_Mons', '+01:00', '', 'x'.repeat(80)]) {
      const response = await client.post('/api/v1/events', {
        title: 'Nowhere',
        startsAt: '2031-01-10T18:00:00Z',
        capacity: null,
        visibility: 'public',
        timeZone,
      });
      expect(response.status, timeZone).toBe(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(JSON.stringify(response.body.error.details), timeZone).toContain('timeZone');
    }
  });
});

describe('event time zones in the pages without JavaScript', () => {
  it('reads typed times on the chosen clock and shows them back on it, with the weekday, zone and duration', async () => {
    const { client } = await signUp(t.url);
    const created = await client.request('POST', '/events', {
      form: {
        title: 'Winter party',
        startsAt: '2031-01-10T18:00',
        endsAt: '2031-01-10T21:30',
        timeZone: 'Europe/Berlin',
        capacity: '',
        visibility: 'public',
      },
    });
    expect(created.status).toBe(303);
    const id = created.headers.get('location')!.split('/').pop()!;
    const api = await client.get(`/api/v1/events/${id}`);
    expect(api.body).toMatchObject({ startsAt: '2031-01-10T17:00:00.000Z', endsAt: '2031-01-10T20:30:00.000Z', timeZone: 'Europe/Berlin' });
    const page = await new Client(t.url).get(`/events/${id}`, html);
    expect(page.text).toMatch(/Friday,? 10 January 2031, 18:00<\/time>/);
    expect(page.text).toContain('>21:30</time>');
    expect(page.text).toContain('Berlin time (GMT+1)');
    expect(page.text).toContain('3 hours 30 minutes');
    // The reader's own time is the script's to add.
    expect(page.text).toMatch(
      /<p\s+class="viewer-time"\s+data-viewer-time\s+data-start="2031-01-10T17:00:00.000Z"\s+data-end="2031-01-10T20:30:00.000Z"\s+data-zone="Europe\/Berlin"\s+data-long\s+hidden/,
    );
    const home = await new Client(t.url).get('/', html);
    expect(home.text).toMatch(/Fri 10 Jan 2031, 18:00<\/time>\s*<span class="zone">Berlin time \(GMT\+1\)<\/span\s*>/);
  });

  it('saves an untouched edit without moving the event, even a start with seconds the form cannot show', async () => {
    const { client } = await signUp(t.url);
    const created = await client.post('/api/v1/events', {
      title: 'Summer',
      description: 'Line one\nLine two',
      startsAt: '2031-07-10T18:00:30+02:00',
      endsAt: '2031-07-10T23:00:00+02:00',
      capacity: 5,
      visibility: 'public',
      timeZone: 'Europe/Berlin',
    });
    const before = created.body;
    const edit = await client.get(`/events/${before.id}/edit`, html);
    const fields = formFields(edit.text, `/events/${before.id}/edit`);
    expect(fields).toMatchObject({ startsAt: '2031-07-10T18:00', endsAt: '2031-07-10T23:00', timeZone: 'Europe/Berlin', capacity: '5' });
    for (let save = 0; save < 3; save++) {
      // A browser sends a textarea's line breaks as CRLF.
      const saved = await client.request('POST', `/events/${before.id}/edit`, {
        form: { ...fields, description: fields.description!.replace(/\n/g, '\r\n') },
      });
      expect(saved.status).toBe(303);
    }
    const after = (await client.get(`/api/v1/events/${before.id}`)).body;
    expect(after).toEqual(before);
  });

  it('moves the event only by what was typed: a new start on the same clock, or the same wall time on a new clock', async () => {
    const { client } = await signUp(t.url);
    const { body: event } = await client.post('/api/v1/events', {
      title: 'Moving',
      startsAt: '2031-01-10T18:00:00+01:00',
      capacity: null,
      visibility: 'public',
      timeZone: 'Europe/Berlin',
    });
    const action = `/events/${event.id}/edit`;
    const fields = formFields((await client.get(action, html)).text, action);
    await client.request('POST', action, { form: { ...fields, startsAt: '2031-01-10T19:15' } });
    expect((await client.get(`/api/v1/events/${event.id}`)).body.startsAt).toBe('2031-01-10T18:15:00.000Z');
    await client.request('POST', action, { form: { ...fields, startsAt: '2031-01-10T19:15', timeZone: 'America/New_York' } });
    expect((await client.get(`/api/v1/events/${event.id}`)).body).toMatchObject({
      startsAt: '2031-01-11T00:15:00.000Z',
      timeZone: 'America/New_York',
    });
  });

  it('offers the instance default zone on a new form, and every zone Intl knows', async () => {
    const { client } = await signUp(t.url);
    const form = (await client.get('/events/new', html)).text;
    expect(formFields(form, '/events').timeZone).toBe('America/New_York');
    expect(form).toContain('<option value="Asia/Tokyo"');
    expect(form).toContain('data-browser-zone');
    expect(form).toMatch(/<label for="timeZone">Time zone<\/label>/);
  });

  it('refuses a time that does not exist or an unknown zone next to the field, keeping what was typed', async () => {
    const { client } = await signUp(t.url);
    const refused = await client.request('POST', '/events', {
      form: { title: 'Typo', startsAt: '2031-02-30T18:00', endsAt: '', timeZone: 'Europe/Berlin', capacity: '', visibility: 'public' },
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('Enter the date and time the event starts.');
    expect(refused.text).toMatch(/id="startsAt" aria-invalid="true" aria-describedby="startsAt-error"/);
    expect(refused.text).toContain('value="2031-02-30T18:00"');
    const zone = await client.request('POST', '/events', {
      form: { title: 'Typo', startsAt: '2031-02-10T18:00', endsAt: '', timeZone: 'Mars/Base', capacity: '', visibility: 'public' },
    });
    expect(zone.status).toBe(400);
    expect(zone.text).toContain('Choose a time zone from the list.');
    expect(zone.text).toContain('<option value="Mars/Base"  selected>');
  });
});
