// `epu seed` as an operator runs it: the built binary as a real process against
// a database of its own, so exit codes, output and what lands in the database are real.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../../tests/support/app.js';
import { createTestDatabase, queryRows as sql, type TestDatabase } from '../../../tests/support/database.js';
import { runEpu, spawnEpu } from '../../../tests/support/process.js';
import { verifyPassword } from '../../features/accounts/passwords.js';

const epu = (args: string[], env: Record<string, string>) => runEpu(['seed', ...args], env);

const PASSWORD = 'seed-test-password-7f3a9c';

/** Rows in the tables a seed run writes to (and the queue, which uploads and audit entries go through). */
async function written(url: string): Promise<Record<string, number>> {
  const [row] = await sql<Record<string, number>>(
    url,
    `SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM sessions) AS sessions,
            (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM bookings) AS bookings,
            (SELECT count(*)::int FROM photos) AS photos, (SELECT count(*)::int FROM jobs) AS jobs`,
  );
  return row!;
}

const seedUsers = (url: string) =>
  sql<{ id: string; email: string; name: string; password_hash: string }>(
    url,
    `SELECT id, email, name, password_hash FROM users WHERE email LIKE '%@seed.epu.invalid' ORDER BY created_at, email`,
  );

/** A database and settings of the describe block's own, dropped after it. */
function ownDatabase(ready: (database: TestDatabase, env: Record<string, string>) => void): void {
  let database: TestDatabase | undefined;
  let env: Record<string, string> | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    env = testEnv(database, { EPU_SEED_PASSWORD: PASSWORD });
    ready(database, env);
  });
  afterAll(async () => {
    await database?.drop();
    if (env) fs.rmSync(env.EPU_DATA_DIR!, { recursive: true, force: true });
  });
}

describe('epu seed', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  ownDatabase((created, settings) => ([database, env] = [created, settings]));

  it('creates the stated users, events and photos, with bookings that never exceed capacity', { timeout: 120_000 }, async () => {
    const run = await epu(['--users', '12', '--events', '5', '--photos', '2'], env);
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain(PASSWORD);

    // Users: demo-1 … demo-12, argon2-hashed with the given password, no session left open.
    const users = await seedUsers(database.url);
    expect(users.map((u) => u.email).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `demo-${i + 1}@seed.epu.invalid`).sort());
    expect(users[0]!.password_hash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(users[0]!.password_hash, PASSWORD)).toBe(true);
    expect(new Set(users.map((u) => u.name)).size).toBe(12);
    const [{ open }] = (await sql<{ open: number }>(
      database.url,
      'SELECT count(*)::int AS open FROM sessions WHERE revoked_at IS NULL',
    )) as [{ open: number }];
    expect(open).toBe(0);

    // Events: five, owned by demo users, public, unlisted and private, all upcoming.
    const events = await sql<{
      id: string;
      visibility: string;
      capacity: number | null;
      owner_email: string;
      upcoming: boolean;
      confirmed: number;
      places_taken: number;
    }>(
      database.url,
      `SELECT e.id, e.visibility, e.capacity, u.email AS owner_email, e.starts_at > now() AS upcoming,
              (SELECT count(*)::int FROM bookings b WHERE b.event_id = e.id AND b.status = 'confirmed') AS confirmed,
              (SELECT count(*)::int FROM event_places p WHERE p.event_id = e.id AND p.booking_id IS NOT NULL) AS places_taken
       FROM events e JOIN users u ON u.id = e.owner_id`,
    );
    expect(events).toHaveLength(5);
    expect(events.every((e) => e.owner_email.endsWith('@seed.epu.invalid') && e.upcoming)).toBe(true);
    expect(new Set(events.map((e) => e.visibility))).toEqual(new Set(['public', 'unlisted', 'private']));

    // Bookings: within capacity everywhere, at least one event filled to the last place, none on private events.
    for (const event of events) {
      if (event.capacity !== null) {
        expect(event.confirmed).toBeLessThanOrEqual(event.capacity);
        expect(event.places_taken).toBe(event.confirmed);
      }
      if (event.visibility === 'private') expect(event.confirmed).toBe(0);
    }
    expect(events.some((e) => e.capacity !== null && e.confirmed === e.capacity)).toBe(true);
    const totalBookings = events.reduce((sum, e) => sum + e.confirmed, 0);
    expect(totalBookings).toBeGreaterThan(5);

    // Photos: --photos on each of the first three events, through the upload path: stored, queued for the worker.
    const photos = await sql<{ id: string; status: string; content_type: string; original_key: string; bytes: number }>(
      database.url,
      'SELECT id, status, content_type, original_key, bytes FROM photos',
    );
    expect(photos).toHaveLength(6);
    expect(photos.every((p) => p.status === 'processing')).toBe(true);
    expect(new Set(photos.map((p) => p.content_type))).toEqual(new Set(['image/jpeg', 'image/png']));
    for (const photo of photos) expect(fs.statSync(path.join(env.EPU_DATA_DIR!, 'storage', photo.original_key)).size).toBe(photo.bytes);
    const deliveries = await sql<{ photo_id: string }>(
      database.url,
      `SELECT payload->'event'->'data'->>'photoId' AS photo_id FROM jobs WHERE name = 'functions.deliver' AND payload->>'function' = 'photoUploaded'`,
    );
    expect(deliveries.map((d) => d.photo_id).sort()).toEqual(photos.map((p) => p.id).sort());

    // The output says what was made, how to sign in, and that photos wait for a worker.
    expect(run.lines.at(-1)).toMatchObject({
      kind: 'result',
      users: 12,
      usersCreated: 12,
      events: 5,
      eventsCreated: 5,
      bookings: totalBookings,
      photos: 6,
      login: 'demo-1@seed.epu.invalid',
    });
    expect((run.lines.at(-1)!.fullEvents as number) >= 1).toBe(true);
    expect(run.lines.some((l) => /EPU_SEED_PASSWORD/.test(l.message))).toBe(true);
    expect(run.lines.some((l) => /worker/.test(l.message) && /processing/.test(l.message))).toBe(true);
  });

  it('a second run with the same flags exits 0 and adds no users and no events', { timeout: 120_000 }, async () => {
    const before = await written(database.url);
    const run = await epu(['--users', '12', '--events', '5', '--photos', '2'], env);
    expect(run.code, run.output).toBe(0);
    const after = await written(database.url);
    expect(after).toMatchObject({ users: before.users, events: before.events, bookings: before.bookings, photos: before.photos });
    expect(run.lines.at(-1)).toMatchObject({
      kind: 'result',
      message: 'demo data already there; nothing added',
      users: 12,
      usersCreated: 0,
      events: 5,
      eventsCreated: 0,
      bookings: 0,
      photos: 0,
    });
    expect(run.lines.some((l) => /12 demo user\(s\) already there/.test(l.message))).toBe(true);
  });

  it(
    'tops up to larger counts; without a password in test it generates one, shows it once, and it signs in',
    { timeout: 120_000 },
    async () => {
      const { EPU_SEED_PASSWORD: _, ...withoutPassword } = env;
      const run = await epu(['--users', '13', '--events', '6', '--photos', '0'], withoutPassword);
      expect(run.code, run.output).toBe(0);
      expect(run.lines.at(-1)).toMatchObject({ kind: 'result', users: 13, usersCreated: 1, events: 6, eventsCreated: 1, photos: 0 });
      const shown = run.lines.filter((l) => /generated, shown only this once/.test(l.message));
      expect(shown).toHaveLength(1);
      const generated = shown[0]!.message.split(': ').at(-1)!;
      const users = await seedUsers(database.url);
      expect(users).toHaveLength(13);
      const newest = users.find((u) => u.email === 'demo-13@seed.epu.invalid')!;
      expect(await verifyPassword(newest.password_hash, generated)).toBe(true);
      // The users made before keep theirs.
      expect(await verifyPassword(users.find((u) => u.email === 'demo-1@seed.epu.invalid')!.password_hash, PASSWORD)).toBe(true);
    },
  );

  it('a worker turns the seeded photos into thumbnails', { timeout: 120_000 }, async () => {
    const worker = spawnEpu(['worker'], { ...env, LOG_LEVEL: 'info' });
    try {
      await worker.waitForLog(/worker ready/, 60_000);
      let statuses: string[] = [];
      // Waits for the outcome (bounded by the test's timeout); asserts nothing about how long it took.
      for (;;) {
        statuses = (await sql<{ status: string }>(database.url, 'SELECT status FROM photos')).map((p) => p.status);
        if (statuses.every((s) => s !== 'processing')) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(statuses).toEqual(Array(6).fill('ready'));
      const [{ thumbs }] = (await sql<{ thumbs: number }>(database.url, 'SELECT count(thumbnail_key)::int AS thumbs FROM photos')) as [
        { thumbs: number },
      ];
      expect(thumbs).toBe(6);
    } finally {
      await worker.stop();
    }
  });
});

describe('epu seed refuses', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  ownDatabase((created, settings) => ([database, env] = [created, settings]));

  const nothing = { users: 0, sessions: 0, events: 0, bookings: 0, photos: 0, jobs: 0 };
  const storageFiles = () =>
    fs.existsSync(path.join(env.EPU_DATA_DIR!, 'storage'))
      ? fs.readdirSync(path.join(env.EPU_DATA_DIR!, 'storage'), { recursive: true })
      : [];

  it('production without --force: exit 2 with a one-line reason, nothing written', async () => {
    const run = await epu([], { ...env, APP_ENV: 'production', PUBLIC_URL: 'https://epu.example.com' });
    expect(run.code, run.output).toBe(2);
    expect(run.output.trim().split('\n')).toHaveLength(1);
    expect(run.lines[0]).toMatchObject({ kind: 'error' });
    expect(run.lines[0]!.message).toMatch(/production.*--force/);
    expect(await written(database.url)).toEqual(nothing);
    expect(storageFiles()).toEqual([]);
  });

  it('production with --force needs a password given, and then seeds', { timeout: 120_000 }, async () => {
    // A database of its own: this one must stay empty for the other cases.
    const own = await createTestDatabase();
    const ownEnv = testEnv(own, { APP_ENV: 'production', PUBLIC_URL: 'https://epu.example.com' });
    try {
      const refused = await epu(['--force', '--users', '1', '--events', '0'], ownEnv);
      expect(refused.code, refused.output).toBe(2);
      expect(refused.output.trim().split('\n')).toHaveLength(1);
      expect(refused.lines[0]!.message).toMatch(/EPU_SEED_PASSWORD or pass --password-file/);
      expect(await written(own.url)).toEqual(nothing);

      const passwordFile = path.join(ownEnv.EPU_DATA_DIR!, 'seed-password');
      fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
      const run = await epu(['--force', '--users', '1', '--events', '0', '--password-file', passwordFile], ownEnv);
      expect(run.code, run.output).toBe(0);
      expect(run.output).not.toContain(PASSWORD);
      expect(run.lines.some((l) => /production and --force was given/.test(l.message))).toBe(true);
      const [user] = await seedUsers(own.url);
      expect(await verifyPassword(user!.password_hash, PASSWORD)).toBe(true);
    } finally {
      await own.drop();
      fs.rmSync(ownEnv.EPU_DATA_DIR!, { recursive: true, force: true });
    }
  });

  it.concurrent.for<[string[], RegExp]>([
    [['--users', '-3'], /--users expects a whole number.*"-3"/],
    [['--users', 'abc'], /--users expects a whole number.*"abc"/],
    [['--users', '0'], /--users must be from 1 to/],
    [['--events', '1.5'], /--events expects a whole number/],
    [['--photos', '51'], /--photos must be from 0 to 50/],
    [['--users'], /--users expects a whole number.*got nothing/],
    [['--colour', 'red'], /unknown option --colour/],
    [['now'], /unexpected argument "now"/],
    [['--password-file', '/nonexistent/seed-password'], /cannot read --password-file/],
  ])('%j: exit 2 with a one-line reason, nothing written', async ([args, reason], { expect }) => {
    const run = await epu(args, env);
    expect(run.code, run.output).toBe(2);
    expect(run.output.trim().split('\n')).toHaveLength(1);
    expect(run.lines[0]).toMatchObject({ kind: 'error', command: 'seed' });
    expect(run.lines[0]!.message).toMatch(reason);
    expect(await written(database.url)).toEqual(nothing);
  });
});
