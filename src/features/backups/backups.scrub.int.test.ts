// `epu scrub` as an operator refreshes staging: production (media and backups
// in one bucket) is backed up and scrubbed into staging's bucket, and staging
// restores the copy with `epu restore`. Every command is the built binary as a
// real process, against real PostgreSQL and a real S3-compatible server.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { eventually, startTestApp, startTestWorker, testEnv, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { withDatabaseName, queryRows as sql, type TestDatabase } from '../../../tests/support/database.js';
import { jpegWithExif, multipart, png } from '../../../tests/support/images.js';
import { runEpu } from '../../../tests/support/process.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';
import { createStorage } from '../../platform/storage/create-storage.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import { verifyPassword } from '../accounts/passwords.js';
import { parseManifest } from './backups.manifest.js';
import { DROPPED_TABLES, SCRUBBED_EMAIL_DOMAIN } from './personal-data.js';

const PASSWORD = 'correct horse battery staple 42';
const REQUEST_ID = 'req-philippa-nightingale-0001';
/** What production holds about people, as fragments to look for anywhere in the scrubbed copy. */
const PERSONAL = [
  'zebulon',
  'quartermaine',
  'philippa',
  'nightingale',
  'private-mail',
  '07700 900123',
  'maple crescent',
  'springfield',
  'turns forty',
  REQUEST_ID,
];

async function emptyDatabase(label: string): Promise<TestDatabase> {
  const admin = inject('adminDatabaseUrl');
  const name = `${inject('databasePrefix')}_${label}_${crypto.randomBytes(4).toString('hex')}`;
  await sql(admin, `CREATE DATABASE ${name}`);
  return {
    url: withDatabaseName(admin, name),
    name,
    drop: async () => void (await sql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function tables(url: string): Promise<string[]> {
  const rows = await sql<{ name: string }>(
    url,
    `SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

/** Every table's rows as text (all columns at once), matched against each fragment: `table: fragment` per hit. */
async function findPersonal(url: string, fragments: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const table of await tables(url)) {
    for (const fragment of fragments) {
      const [row] = await sql<{ n: number }>(
        url,
        `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(table)} AS t WHERE t::text ILIKE $1`,
        [`%${fragment}%`],
      );
      if (row!.n > 0) hits.push(`${table}: ${fragment}`);
    }
  }
  return hits;
}

async function counts(url: string): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of await tables(url))
    result[table] = (await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(table)}`))[0]!.n;
  return result;
}

async function readAll(storage: ObjectStorage, key: string): Promise<Buffer> {
  const object = await storage.get(key);
  if (!object) throw new Error(`${key} is missing`);
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// Each command is a process of its own with its own connections: on a busy machine a scrub takes minutes.
const COMMAND_TIMEOUT_MS = 600_000;

/** The relations, dates and capacities a scrub must keep, as rows to compare between production and staging. */
const KEPT = {
  users: 'SELECT id, role, created_at, deleted_at FROM users ORDER BY id',
  events: 'SELECT id, owner_id, starts_at, ends_at, capacity, visibility, created_at FROM events ORDER BY id',
  bookings: 'SELECT id, event_id, user_id, status, created_at, cancelled_at FROM bookings ORDER BY id',
  event_places: 'SELECT event_id, place_no, booking_id FROM event_places ORDER BY event_id, place_no',
  photos:
    'SELECT id, event_id, uploader_id, status, width, height, content_type, original_key, thumbnail_key, display_key, taken_at, created_at FROM photos ORDER BY id',
  audit_log: 'SELECT id, at, action, actor_id, subject_type, subject_id FROM audit_log ORDER BY id',
};

describe('epu scrub: a scrubbed copy of production for staging', () => {
  let s3: TestS3;
  let production: TestApp;
  let productionEnv: Record<string, string>;
  let staging: TestDatabase;
  let stagingEnv: Record<string, string>;
  let stagingMedia: ObjectStorage;
  let stagingBackups: ObjectStorage;
  let backupId: string;
  let scrubbedId: string;
  let eventId: string;
  const productionHashes: string[] = [];

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: 2 });
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
    production = await startTestApp(s3.env);
    const worker = startTestWorker(production);

    const headers = { 'x-request-id': REQUEST_ID };
    const owner = await signUp(production.url, {
      email: 'Zebulon.Quartermaine@private-mail.test',
      name: 'Zebulon Quartermaine',
      password: PASSWORD,
    });
    const guest = new Client(production.url);
    expect(
      (
        await guest.post(
          '/api/v1/auth/signup',
          { email: 'philippa.nightingale@private-mail.test', name: 'Philippa Nightingale', password: PASSWORD },
          headers,
        )
      ).status,
    ).toBe(201);
    const created = await owner.client.post('/api/v1/events', {
      title: 'Zebulon turns forty',
      description: 'Ring Zebulon on 07700 900123 for the door code',
      venue: '12 Maple Crescent, Springfield',
      startsAt: futureIso(),
      capacity: 3,
      visibility: 'unlisted',
    });
    expect(created.status).toBe(201);
    eventId = created.body.id;
    const booking = await guest.post(`/api/v1/events/${eventId}/bookings`, undefined, headers);
    expect(booking.status).toBe(201);
    // An invite link: a staging copy gets none (its token would open the event there).
    expect((await owner.client.post(`/api/v1/events/${eventId}/invites`, {})).status).toBe(201);
    for (const [name, type, bytes] of [
      ['party.jpg', 'image/jpeg', await jpegWithExif(640, 480)],
      ['plan.png', 'image/png', await png(320, 200)],
    ] as const) {
      const { body, contentType } = multipart([['file', name, type, bytes]]);
      expect(
        (await owner.client.request('POST', `/api/v1/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } })).status,
      ).toBe(202);
    }
    await eventually(async () => {
      const { rows } = await production.platform.pool.query(`SELECT count(*)::int AS n FROM photos WHERE status = 'ready'`);
      return rows[0].n === 2 ? true : undefined;
    });
    // A photo whose metadata was never read (its upload still processing).
    await production.platform.storage.put('originals/2024/01/0e9c5e4e-0000-4000-8000-000000000001.jpg', await jpegWithExif(80, 60), {
      contentType: 'image/jpeg',
    });
    await production.platform.pool.query(
      `INSERT INTO photos (event_id, uploader_id, status, original_key, content_type, bytes) VALUES ($1, $2, 'processing', 'originals/2024/01/0e9c5e4e-0000-4000-8000-000000000001.jpg', 'image/jpeg', 1)`,
      [eventId, owner.user.id],
    );
    const exported = await owner.client.post(`/api/v1/events/${eventId}/exports`);
    await eventually(async () =>
      (await owner.client.get(`/api/v1/exports/${exported.body.export.id}`)).body.export.status === 'ready' ? true : undefined,
    );
    // A password reset link, mailed by the worker: a staging copy gets none (it would set a password there).
    expect((await new Client(production.url).post('/api/v1/auth/password-reset', { email: owner.email })).status).toBe(202);
    await eventually(async () => {
      const { rows } = await production.platform.pool.query(`SELECT count(*)::int AS n FROM password_resets`);
      return rows[0].n === 1 ? true : undefined;
    });
    // A failed sign-in: the limiter keeps a row keyed by the address.
    expect((await new Client(production.url).post('/api/v1/auth/login', { email: owner.email, password: 'wrong password' })).status).toBe(
      401,
    );
    // Audit metadata with something personal under a key the application never writes.
    await production.platform.pool.query(
      `INSERT INTO audit_log (id, action, actor_id, subject_type, subject_id, request_id, metadata)
       VALUES (gen_random_uuid(), 'booking.create', $1, 'booking', $2, $3, $4)`,
      [owner.user.id, booking.body.booking.id, REQUEST_ID, JSON.stringify({ eventId, note: 'philippa.nightingale@private-mail.test' })],
    );
    await eventually(async () => {
      const { rows } = await production.platform.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE request_id = $1`, [REQUEST_ID]);
      return rows[0].n >= 3 ? true : undefined;
    });
    await worker.stop();
    const { rows } = await production.platform.pool.query<{ password_hash: string }>('SELECT password_hash FROM users');
    productionHashes.push(...rows.map((row) => row.password_hash));
    const photos = await production.platform.pool.query<{ sha256: string }>('SELECT sha256 FROM photos WHERE sha256 IS NOT NULL');
    productionHashes.push(...photos.rows.map((row) => row.sha256));

    productionEnv = testEnv(production.database, s3.env);
    staging = await emptyDatabase('staging');
    const stagingDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-staging-media-'));
    stagingEnv = testEnv(staging, { ...s3.env, STORAGE_URL: `file://${stagingDir}`, BACKUP_STORAGE_URL: `s3://${s3.buckets[1]}` });
    const stagingConfig = { ...production.config, storageUrl: `file://${stagingDir}`, cdnBaseUrl: undefined };
    stagingMedia = createStorage(stagingConfig, production.platform.keyring, production.platform.logger);
    stagingBackups = createStorage(
      { ...production.config, storageUrl: `s3://${s3.buckets[1]}`, cdnBaseUrl: undefined },
      production.platform.keyring,
      production.platform.logger,
    );
  }, COMMAND_TIMEOUT_MS);

  afterAll(async () => {
    await stagingMedia?.close();
    await stagingBackups?.close();
    await production?.close();
    await staging?.drop();
    await s3?.close();
    vi.unstubAllEnvs();
  });

  it('finds the planted values in production (so the scan below can find them)', async () => {
    const hits = await findPersonal(production.database.url, PERSONAL);
    for (const table of ['users', 'events', 'audit_log', 'rate_limits', 'jobs'])
      expect(
        hits.some((hit) => hit.startsWith(`${table}:`)),
        table,
      ).toBe(true);
  });

  it(
    '`epu scrub` writes a scrubbed copy into staging’s bucket, with progress, and production keeps only its own backup',
    async () => {
      const backup = await runEpu(['backup'], productionEnv);
      expect(backup.code, backup.output).toBe(0);
      backupId = backup.lines.at(-1)!.backupId as string;

      const scrub = await runEpu(['scrub', backupId, '--to', `s3://${s3.buckets[1]}`], productionEnv);
      expect(scrub.code, scrub.output).toBe(0);
      const result = scrub.lines.at(-1)!;
      expect(result).toMatchObject({
        kind: 'result',
        sourceBackupId: backupId,
        photosReplaced: 3,
        photosWithoutDimensions: 1,
        renditions: 4,
        mediaObjects: 7,
      });
      scrubbedId = result.backupId as string;
      expect(scrubbedId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}-scrubbed$/);
      expect(scrub.lines.some((line) => line.kind === 'step' && /users: email, name, password_hash replaced/.test(line.message))).toBe(
        true,
      );
      expect(scrub.lines.some((line) => line.kind === 'step' && /^photos: 3\/3 replaced/.test(line.message))).toBe(true);

      const manifest = parseManifest((await readAll(stagingBackups, `backups/${scrubbedId}/manifest.json`)).toString(), scrubbedId);
      expect(manifest.scrubbed).toEqual({ sourceBackupId: backupId, droppedTables: Object.keys(DROPPED_TABLES) });
      const listedProduction = await runEpu(['backups'], productionEnv);
      expect(listedProduction.lines.filter((line) => line.kind === 'step').map((line) => line.id)).toEqual([backupId]);
      const listedStaging = await runEpu(['backups'], stagingEnv);
      expect(listedStaging.lines.filter((line) => line.kind === 'step')).toEqual([
        expect.objectContaining({
          id: scrubbedId,
          scrubbedFrom: backupId,
          message: expect.stringContaining(`scrubbed copy of ${backupId}`),
        }),
      ]);
    },
    COMMAND_TIMEOUT_MS,
  );

  it('holds none of the personal values in any object of the copy', async () => {
    const found: string[] = [];
    let objects = 0;
    expect(scrubbedId).toBeDefined();
    for await (const object of stagingBackups.list(`backups/${scrubbedId}/`)) {
      objects++;
      let bytes = await readAll(stagingBackups, object.key);
      if (object.key.endsWith('.gz')) bytes = zlib.gunzipSync(bytes);
      const text = bytes.toString('latin1').toLowerCase();
      for (const value of [...PERSONAL, ...productionHashes]) if (text.includes(value.toLowerCase())) found.push(`${object.key}: ${value}`);
    }
    expect(found).toEqual([]);
    expect(objects).toBeGreaterThan(10);
  });

  it(
    '`epu restore` loads it into staging with none of the personal values in any column of any table',
    async () => {
      const restore = await runEpu(['restore', scrubbedId, '--database-url', staging.url], stagingEnv);
      expect(restore.code, restore.output).toBe(0);
      expect(restore.lines.some((line) => line.kind === 'step' && line.message === 'media: 7/7 objects')).toBe(true);
      expect(await findPersonal(staging.url, [...PERSONAL, ...productionHashes])).toEqual([]);
    },
    COMMAND_TIMEOUT_MS,
  );

  it('keeps every count, relation, date and capacity, and empties only the dropped tables', async () => {
    const before = await counts(production.database.url);
    const after = await counts(staging.url);
    const expected = Object.fromEntries(Object.entries(before).map(([table, n]) => [table, table in DROPPED_TABLES ? 0 : n]));
    expect(after).toEqual(expected);
    for (const table of Object.keys(DROPPED_TABLES)) expect(before[table], table).toBeGreaterThan(0);
    for (const [name, query] of Object.entries(KEPT))
      expect(await sql(staging.url, query), name).toEqual(await sql(production.database.url, query));
  });

  it('replaces people with unique fake ones that cannot sign in, and keeps only safe audit metadata', async () => {
    const users = await sql<{ email: string; name: string; password_hash: string }>(
      staging.url,
      'SELECT email, name, password_hash FROM users',
    );
    expect(new Set(users.map((user) => user.email)).size).toBe(users.length);
    for (const user of users) {
      expect(user.email.endsWith(`@${SCRUBBED_EMAIL_DOMAIN}`)).toBe(true);
      expect(user.name).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
      expect(await verifyPassword(user.password_hash, PASSWORD)).toBe(false);
    }
    const audit = await sql<{ request_id: string | null; metadata: Record<string, unknown> }>(
      staging.url,
      `SELECT request_id, metadata FROM audit_log WHERE action = 'booking.create'`,
    );
    expect(audit.length).toBeGreaterThanOrEqual(2);
    for (const entry of audit) {
      expect(entry.request_id).toBeNull();
      expect(entry.metadata).toEqual({ eventId });
    }
  });

  it('puts placeholders of each photo’s size and type in staging’s media store, and staging serves them with a clean integrity check', async () => {
    const photos = await sql<{
      id: string;
      status: string;
      width: number | null;
      height: number | null;
      content_type: string;
      original_key: string;
      thumbnail_key: string | null;
      bytes: string;
      sha256: string;
    }>(staging.url, 'SELECT id, status, width, height, content_type, original_key, thumbnail_key, bytes::text, sha256 FROM photos');
    expect(photos).toHaveLength(3);
    for (const photo of photos) {
      const original = await readAll(stagingMedia, photo.original_key);
      const meta = await sharp(original).metadata();
      expect(`image/${meta.format === 'jpeg' ? 'jpeg' : meta.format}`).toBe(photo.content_type);
      if (photo.width) expect([meta.width, meta.height]).toEqual([photo.width, photo.height]);
      expect(Number(photo.bytes)).toBe(original.length);
      expect(photo.sha256).toBe(crypto.createHash('sha256').update(original).digest('hex'));
      expect(meta.exif).toBeUndefined();
      if (photo.thumbnail_key) expect((await sharp(await readAll(stagingMedia, photo.thumbnail_key)).metadata()).format).toBe('webp');
    }

    const app = await startTestApp({ STORAGE_URL: stagingEnv.STORAGE_URL! }, staging);
    try {
      const [{ email }] = (await sql<{ email: string }>(
        staging.url,
        `SELECT email FROM users WHERE role = 'user' ORDER BY created_at LIMIT 1`,
      )) as [{ email: string }];
      for (const address of [email, 'Zebulon.Quartermaine@private-mail.test'])
        expect((await new Client(app.url).post('/api/v1/auth/login', { email: address, password: PASSWORD })).status).toBe(401);
      const integrity = await app.services.integrity.run();
      expect(integrity.checks.missing_objects).toEqual({ problems: 0, samples: [] });
      expect(integrity.checks.over_capacity.problems + integrity.checks.event_places.problems).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('a scrubbed copy kept beside the backups', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
    await signUp(t.url, { name: 'Someone Real' });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('is listed as such, never drilled or counted as the latest backup, and pruned apart from the backups', async () => {
    const { manifest } = await t.services.backups.create();
    const lastBackup = await t.services.backups.lastBackupAt();
    const scrubbed = await t.services.backups.scrub(manifest.id);
    expect((await t.services.backups.list()).map((backup) => [backup.id, backup.scrubbedFrom])).toEqual([
      [scrubbed.backupId, manifest.id],
      [manifest.id, null],
    ]);
    expect(await t.services.backups.lastBackupAt()).toEqual(lastBackup);
    const drill = await t.services.backups.drill();
    expect(drill).toMatchObject({ ok: true, backupId: manifest.id });
    expect(await t.services.backups.prune()).toEqual([]);
    const scratchPrefix = `epu_scrub_${manifest.id.toLowerCase().replace(/[^a-z0-9]/g, '')}_`;
    expect(await sql(t.database.url, `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [scratchPrefix])).toEqual([]);
  });
});
