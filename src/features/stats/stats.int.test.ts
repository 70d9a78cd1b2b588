import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, testEnv, type TestApp } from '../../../tests/support/app.js';
import { runEpu } from '../../../tests/support/process.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { createStatsRepository, utcDay } from './stats.repository.js';
import { aggregateStats } from './stats.service.js';

const DAY = 86_400_000;

describe('stats', () => {
  let t: TestApp;
  let admin: Client;
  let member: Awaited<ReturnType<typeof signUp>>;
  const now = new Date();
  const today = utcDay(now);
  const yesterday = utcDay(new Date(now.getTime() - DAY));
  const lastWeek = utcDay(new Date(now.getTime() - 7 * DAY));

  async function insertPhoto(eventId: string, uploaderId: string, bytes: number, createdAt: Date) {
    await sql`INSERT INTO photos (event_id, uploader_id, original_key, content_type, bytes, created_at)
      VALUES (${eventId}, ${uploaderId}, ${`originals/2024/01/${crypto.randomUUID()}.jpg`}, 'image/jpeg', ${bytes}, ${createdAt})`.execute(
      t.platform.db,
    );
  }

  beforeAll(async () => {
    t = await startTestApp();
    await t.services.accounts.createOrPromoteAdmin({ email: 'stats-admin@example.test', password: 'correct horse battery', name: 'Admin' });
    admin = new Client(t.url);
    expect((await admin.post('/api/v1/auth/login', { email: 'stats-admin@example.test', password: 'correct horse battery' })).status).toBe(
      200,
    );

    // Today: member and guest sign up, one event, two bookings (one later cancelled), one upload.
    member = await signUp(t.url, { name: 'Member' });
    const guest = await signUp(t.url, { name: 'Guest' });
    const eventId = (
      await member.client.post('/api/v1/events', { title: 'Stats night', startsAt: futureIso(), capacity: 10, visibility: 'public' })
    ).body.id;
    expect((await member.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    expect((await guest.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    expect((await guest.client.delete(`/api/v1/events/${eventId}/bookings/me`)).status).toBe(204);
    await insertPhoto(eventId, member.user.id, 1000, now);
    // Yesterday: the admin signed up and uploaded two photos. A week ago: one upload.
    await sql`UPDATE users SET created_at = ${new Date(now.getTime() - DAY)} WHERE email = 'stats-admin@example.test'`.execute(
      t.platform.db,
    );
    await insertPhoto(eventId, member.user.id, 2000, new Date(now.getTime() - DAY));
    await insertPhoto(eventId, member.user.id, 3000, new Date(now.getTime() - DAY));
    await insertPhoto(eventId, member.user.id, 4000, new Date(now.getTime() - 7 * DAY));
    // A deleted account counts nowhere.
    await sql`INSERT INTO users (email, name, password_hash, deleted_at) VALUES ('deleted-x@invalid', 'Deleted user', '!', now())`.execute(
      t.platform.db,
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  const dailyRows = () =>
    sql<{
      day: string;
      signups: number;
      bookings: number;
      uploads: number;
    }>`SELECT to_char(day, 'YYYY-MM-DD') AS day, signups, bookings, uploads FROM stats_daily ORDER BY day`
      .execute(t.platform.db)
      .then((r) => r.rows);

  it('backfills every day from the first activity on its first run, with totals, and gives the same rows when run again', async () => {
    const repo = createStatsRepository(t.platform.db);
    const first = await aggregateStats(repo, now);
    expect(first).toMatchObject({ from: lastWeek, to: today, days: 8 });
    expect(first.totals).toEqual({ users: 3, events: 1, bookings: 1, photos: 4, storageBytes: 10_000 });
    const rows = await dailyRows();
    expect(rows).toHaveLength(8);
    expect(rows[0]).toEqual({ day: lastWeek, signups: 0, bookings: 0, uploads: 1 });
    expect(rows.find((r) => r.day === yesterday)).toEqual({ day: yesterday, signups: 1, bookings: 0, uploads: 2 });
    expect(rows.find((r) => r.day === today)).toEqual({ day: today, signups: 2, bookings: 2, uploads: 1 });
    expect(rows.slice(1, 6).every((r) => r.signups + r.bookings + r.uploads === 0)).toBe(true);

    // The second run recounts only yesterday and today, to the same figures.
    const second = await aggregateStats(repo, now);
    expect(second).toMatchObject({ from: yesterday, to: today, days: 2, totals: first.totals });
    expect(await dailyRows()).toEqual(rows);
  });

  it('answers GET /admin/stats per the contract to admins only (401 anonymous, 403 members)', async () => {
    expect((await new Client(t.url).get('/api/v1/admin/stats')).status).toBe(401);
    const forbidden = await member.client.get('/api/v1/admin/stats');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');

    const response = await admin.get('/api/v1/admin/stats');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual(['computedAt', 'daily', 'totals']);
    expect(response.body.computedAt).toBe(now.toISOString());
    expect(response.body.totals).toEqual({ users: 3, events: 1, bookings: 1, photos: 4, storageBytes: 10_000 });
    expect(response.body.daily).toHaveLength(8);
    expect(response.body.daily.at(-1)).toEqual({ day: today, signups: 2, bookings: 2, uploads: 1 });
  });

  it('shows a finished aggregate at once in every web process, and no browser keeps an older copy', async () => {
    // A second web process on the same database, with a cache of its own.
    const other = await startTestApp({}, t.database);
    try {
      const otherAdmin = new Client(other.url);
      await otherAdmin.post('/api/v1/auth/login', { email: 'stats-admin@example.test', password: 'correct horse battery' });
      for (const client of [admin, otherAdmin]) {
        const before = await client.get('/api/v1/admin/stats');
        expect(before.body.totals.users).toBe(3);
        expect(before.headers.get('cache-control')).toBe('private, no-store');
      }
      await signUp(t.url, { name: 'Latecomer' });
      // As an operator would: `epu jobs run stats.aggregate`, a process of its own.
      const run = await runEpu(['jobs', 'run', 'stats.aggregate'], testEnv(t.database, { EPU_DATA_DIR: t.config.dataDir }));
      expect(run.code, run.output).toBe(0);
      const { rows } = await sql<{ computed_at: Date }>`SELECT computed_at FROM stats_totals`.execute(t.platform.db);
      for (const client of [admin, otherAdmin]) {
        const after = await client.get('/api/v1/admin/stats');
        expect(after.body.computedAt).toBe(rows[0]!.computed_at.toISOString());
        expect(after.body.totals.users).toBe(4);
        const page = await client.request('GET', '/admin', { headers: { accept: 'text/html' } });
        expect(page.text).toContain(`datetime="${rows[0]!.computed_at.toISOString()}"`);
      }
    } finally {
      await other.close();
    }
  });

  it('shows the figures on /admin with a chart per series, its numbers as a table, and when they were computed', async () => {
    const page = await admin.request('GET', '/admin', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-stats');
    const long = (day: string) =>
      new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(new Date(day));
    const short = (day: string) =>
      new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' }).format(new Date(day));
    const uploads = page.text.slice(
      page.text.indexOf('<svg class="chart-svg" id="chart-uploads-chart"'),
      page.text.indexOf('</svg>', page.text.indexOf('id="chart-uploads-chart"')),
    );
    expect(uploads).toContain(
      `role="img" aria-label="Uploads per day from ${long(lastWeek)} to ${long(today)}: 4 in all, at most 2 in a day (${long(yesterday)})"`,
    );
    // The y axis' values, the first and last dates, the value over each bar, and a title per bar.
    expect(uploads).toMatch(/text-anchor="end">0<\/text>[\s\S]*text-anchor="end">1<\/text>[\s\S]*text-anchor="end">2<\/text>/);
    expect(uploads).toContain(`text-anchor="middle">${short(lastWeek)}</text>`);
    expect(uploads).toContain(`text-anchor="middle">${short(today)}</text>`);
    expect([...uploads.matchAll(/<text class="chart-value"[^>]*>(\d+)<\/text>/g)].map((m) => m[1])).toEqual(['1', '2', '1']);
    expect(uploads).toContain(`<title>${long(yesterday)}: 2 uploads</title>`);
    expect(page.text).toContain('Daily numbers');
    expect(page.text).toContain('Computed at');
  });
});
