// Booking mail through HTTP: the worker mails the booker a confirmation with an
// iCalendar invitation, then a cancellation that removes it, to a real SMTP server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParsedMail } from 'mailparser';
import { startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { futureIso, signUp } from '../../../tests/support/client.js';
import { startSmtpServer, type TestSmtpServer } from '../../../tests/support/smtp.js';
import { BOOKING_MAIL_JOB } from './bookings.service.js';

let t: TestApp;
let smtp: TestSmtpServer;
let worker: ReturnType<typeof startTestWorker>;
beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ SMTP_URL: smtp.url });
  worker = startTestWorker(t);
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await smtp.close();
});

/** The calendar file's content lines, unfolded (RFC 5545 3.1), as name (with parameters) → value. */
function calendarOf(mail: ParsedMail, filename: string) {
  const attachment = mail.attachments.find((a) => a.filename === filename);
  expect(attachment, `${filename} attached`).toBeDefined();
  const text = attachment!.content.toString('utf8');
  expect(text.startsWith('BEGIN:VCALENDAR\r\n')).toBe(true);
  expect(text.endsWith('END:VCALENDAR\r\n')).toBe(true);
  const lines = text
    .replace(/\r\n[ \t]/g, '')
    .split('\r\n')
    .filter(Boolean);
  const get = (name: string) => lines.find((line) => line.startsWith(`${name}:`) || line.startsWith(`${name};`));
  return { contentType: attachment!.contentType, lines, value: (name: string) => get(name)?.slice(get(name)!.indexOf(':') + 1), line: get };
}

describe('booking mail', () => {
  it('mails a confirmation with an invitation, and a cancellation that removes it (same UID, higher SEQUENCE)', async () => {
    const host = await signUp(t.url, { name: 'Host Hanna' });
    const guest = await signUp(t.url, { name: 'Guest Gil' });
    const startsAt = new Date(Date.now() + 10 * 86_400_000);
    startsAt.setUTCHours(17, 0, 0, 0);
    const endsAt = new Date(startsAt.getTime() + 3 * 3_600_000);
    const created = await host.client.post('/api/v1/events', {
      title: 'Summer party; bring food, please',
      venue: 'Tempelhofer Feld, Berlin',
      startsAt: startsAt.toISOString(),
      endsAt: endsAt.toISOString(),
      timeZone: 'Europe/Berlin',
      capacity: 10,
      visibility: 'public',
    });
    expect(created.status).toBe(201);
    const eventId = created.body.id as string;

    const booked = await guest.client.post(`/api/v1/events/${eventId}/bookings`);
    expect(booked.status).toBe(201);
    const bookingId = booked.body.booking.id as string;
    // Booking again answers with the same booking and mails nothing more.
    expect((await guest.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(200);

    const confirmation = await smtp.messageTo(guest.email, (mail) => mail.subject === 'Booked: Summer party; bring food, please');
    expect(confirmation.text).toContain('Hello Guest Gil');
    expect(confirmation.text).toContain(`${t.url}/events/${eventId}`);
    const invite = calendarOf(confirmation, 'invite.ics');
    expect(invite.contentType).toBe('text/calendar');
    expect(invite.value('METHOD')).toBe('REQUEST');
    expect(invite.value('UID')).toBe(`booking-${bookingId}@127.0.0.1`);
    expect(invite.value('SEQUENCE')).toBe('0');
    expect(invite.value('STATUS')).toBe('CONFIRMED');
    expect(invite.value('DTSTART')).toBe(startsAt.toISOString().replace(/[-:]/g, '').replace('.000', ''));
    expect(invite.value('DTEND')).toBe(endsAt.toISOString().replace(/[-:]/g, '').replace('.000', ''));
    expect(invite.value('SUMMARY')).toBe('Summer party\\; bring food\\, please');
    expect(invite.value('X-WR-TIMEZONE')).toBe('Europe/Berlin');
    expect(invite.line('ATTENDEE')).toContain(`mailto:${guest.email}`);
    expect(invite.line('ORGANIZER')).toContain('CN="Host Hanna"');
    // The host's own address is not handed to the guest.
    expect(invite.lines.join('\n')).not.toContain(host.email);

    expect((await guest.client.delete(`/api/v1/events/${eventId}/bookings/me`)).status).toBe(204);
    const cancellation = await smtp.messageTo(guest.email, (mail) => mail.subject === 'Cancelled: Summer party; bring food, please');
    const cancel = calendarOf(cancellation, 'cancel.ics');
    expect(cancel.value('METHOD')).toBe('CANCEL');
    expect(cancel.value('UID')).toBe(invite.value('UID'));
    expect(Number(cancel.value('SEQUENCE'))).toBeGreaterThan(Number(invite.value('SEQUENCE')));
    expect(cancel.value('STATUS')).toBe('CANCELLED');

    const jobs = await t.platform.pool.query<{ change: string }>(
      `SELECT payload->>'change' AS change FROM jobs WHERE name = $1 AND payload->>'bookingId' = $2 ORDER BY created_at`,
      [BOOKING_MAIL_JOB, bookingId],
    );
    expect(jobs.rows.map((row) => row.change)).toEqual(['confirmed', 'cancelled']);
    expect(smtp.received.filter((mail) => mail.subject?.startsWith('Booked: Summer party'))).toHaveLength(1);
  });
});

describe('booking mail when mail goes nowhere (production without SMTP_URL)', () => {
  let off: TestApp;
  beforeAll(async () => {
    off = await startTestApp({ APP_ENV: 'production', TLS_AT_PROXY: 'true' });
  });
  afterAll(() => off.close());

  it('writes no mail job for a booking or its cancellation, and still writes their audit entries', async () => {
    expect(off.platform.mailer.transport).toBe('off');
    const host = await signUp(off.url, { name: 'Host Hanna' });
    const guest = await signUp(off.url, { name: 'Guest Gil' });
    const created = await host.client.post('/api/v1/events', {
      title: 'Quiet party',
      startsAt: futureIso(10),
      capacity: 10,
      visibility: 'public',
    });
    expect(created.status).toBe(201);
    const eventId = created.body.id as string;
    const booked = await guest.client.post(`/api/v1/events/${eventId}/bookings`);
    expect(booked.status).toBe(201);
    const bookingId = booked.body.booking.id as string;
    expect((await guest.client.delete(`/api/v1/events/${eventId}/bookings/me`)).status).toBe(204);

    const mailJobs = await off.platform.pool.query(`SELECT 1 FROM jobs WHERE name = $1 AND payload->>'bookingId' = $2`, [
      BOOKING_MAIL_JOB,
      bookingId,
    ]);
    expect(mailJobs.rowCount).toBe(0);
    const audit = await off.platform.pool.query<{ action: string }>(`SELECT action FROM audit_log WHERE subject_id = $1`, [bookingId]);
    expect(audit.rows.map((row) => row.action).sort()).toEqual(['booking.cancel', 'booking.create']);
  });
});
