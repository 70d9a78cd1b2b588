import crypto from 'node:crypto';
import zlib from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { SCHEDULES } from '../../app.js';
import { renderRenditions } from '../photos/photos.jobs.js';
import { readMigrations } from '../../platform/db/migrate.js';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { createTestDatabase, withDatabaseName, type TestDatabase } from '../../../tests/support/database.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';
import { manifestKey, type BackupManifest } from './backups.manifest.js';
import { createDrillsRepository } from './backups.repository.js';
import { RestoreRefusedError } from './backups.restore.js';
import { BACKUP_CREATE_JOB, createBackupsService } from './backups.service.js';

// Text that COPY must escape (tab, newline, backslash) and that is not ASCII.
const AWKWARD = 'Tab\there, line\nbreak, back\\slash, "quotes", café 🎉, \\N not null';

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An empty database on the test server (no schema at all), as an operator would create for a restore. */
async function createEmptyDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `${inject('databasePrefix')}_restore_${crypto.randomBytes(4).toString('hex')}`;
  const run = async (sql: string) => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(sql);
    } finally {
      await admin.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  return { url: withDatabaseName(adminUrl, name), name, drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function rowCounts(url: string, tables: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = Number((await query<{ n: string }>(url, `SELECT count(*)::text AS n FROM "${table}"`))[0]!.n);
  return counts;
}

async function databaseExists(name: string): Promise<boolean> {
  return (await query(inject('adminDatabaseUrl'), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;
}

/** Users, a session, an event with awkward text, a booking, an audit entry and a job: every kind of row the app writes. */
async function seed(t: TestApp) {
  const owner = await signUp(t.url, { name: AWKWARD });
  const guest = await signUp(t.url);
  const created = await owner.client.post('/api/v1/events', {
    title: 'Backup party',
    description: AWKWARD,
    venue: 'Hall',
    startsAt: futureIso(),
    capacity: 5,
    visibility: 'public',
  });
  expect(created.status).toBe(201);
  expect((await guest.client.post(`/api/v1/events/${created.body.id}/bookings`)).status).toBe(201);
  await t.platform.pool.query(
    `INSERT INTO audit_log (id, action, actor_id, subject_type, subject_id, metadata) VALUES (gen_random_uuid(), 'event.create', $1, 'event', $2, $3)`,
    [owner.user.id, created.body.id, JSON.stringify({ note: AWKWARD })],
  );
  return { owner, guest, eventId: created.body.id as string };
}

/** Stores `bytes` over a backup object, as a storage fault or a tampering would. */
async function overwrite(t: TestApp, key: string, bytes: Buffer): Promise<void> {
  await t.platform.backupStorage.put(key, bytes, { contentType: 'application/gzip' });
}

// file: backups beside the media on local disk (the embedded default).
// s3: media on disk, backups in a bucket of their own (BACKUP_STORAGE_URL) on an S3-compatible server.
for (const driver of ['file', 's3'] as const) {
  describe(`backups with ${driver} storage`, () => {
    let t: TestApp;
    let s3: TestS3 | undefined;
    let seeded: Awaited<ReturnType<typeof seed>>;
    let manifest: BackupManifest;
    const progress: string[] = [];

    beforeAll(async () => {
      let env: Record<string, string> = {};
      if (driver === 's3') {
        s3 = await startS3rver();
        vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
        vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
        const { STORAGE_URL, ...s3Settings } = s3.env;
        env = { ...s3Settings, BACKUP_STORAGE_URL: STORAGE_URL! };
      }
      t = await startTestApp(env);
      seeded = await seed(t);
      ({ manifest } = await t.services.backups.create((message) => progress.push(message)));
    });

    afterAll(async () => {
      await t?.close();
      await s3?.close();
      vi.unstubAllEnvs();
    });

    it('writes every table of one snapshot with counts, checksums and object hashes in the manifest', async () => {
      expect(manifest.schemaVersion).toBe(readMigrations().at(-1)!.version);
      expect(manifest.postgresVersion).toMatch(/^\d+/);
      const names = manifest.tables.map((table) => table.name);
      for (const table of [
        'users',
        'sessions',
        'events',
        'bookings',
        'event_places',
        'jobs',
        'job_schedules',
        'audit_log',
        'photos',
        'exports',
        'feature_flags',
        'rate_limits',
        'backup_drills',
      ]) {
        expect(names).toContain(table);
      }
      expect(names).not.toContain('schema_migrations');
      // Foreign-key order, so a restore can load table by table.
      expect(names.indexOf('users')).toBeLessThan(names.indexOf('events'));
      expect(names.indexOf('events')).toBeLessThan(names.indexOf('bookings'));
      expect(names.indexOf('bookings')).toBeLessThan(names.indexOf('event_places'));

      const counts = await rowCounts(t.database.url, names);
      for (const table of manifest.tables) {
        expect(table.rows, table.name).toBe(counts[table.name]);
        expect(table.checksum).toMatch(/^-?\d+$/);
        const stored = await t.platform.backupStorage.get(table.key);
        const bytes = await readAll(stored!.body);
        expect(bytes.length).toBe(table.bytes);
        expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(table.sha256);
      }
      expect(counts.users).toBe(2);
      expect(counts.event_places).toBe(5);
      expect(manifest.totalBytes).toBe(manifest.tables.reduce((sum, table) => sum + table.bytes, 0));
      expect(manifest.totalRows).toBe(Object.values(counts).reduce((sum, n) => sum + n, 0));

      const stored = JSON.parse(
        (await readAll((await t.platform.backupStorage.get(manifestKey(manifest.id)))!.body)).toString(),
      ) as BackupManifest;
      expect(stored).toEqual(manifest);
      // Progress: a line per table, numbered.
      expect(progress.filter((line) => /^\[\d+\/\d+\] /.test(line))).toHaveLength(manifest.tables.length);
      expect((await t.services.backups.list()).map((backup) => backup.id)).toContain(manifest.id);
      expect(await t.services.backups.lastBackupAt()).toBeInstanceOf(Date);
      if (driver === 's3') {
        expect(t.platform.backupStorage.driver).toBe('s3');
        for await (const object of t.platform.storage.list('backups/'))
          expect.unreachable(`backup object ${object.key} in the media store`);
      }
    });

    it('restores into an empty database with identical counts and checksums, and the app works on it', async () => {
      const target = await createEmptyDatabase();
      try {
        const report = await t.services.backups.restore(manifest.id, target.url, { force: false });
        expect(report.reason).toBeUndefined();
        expect(report.ok).toBe(true);
        for (const check of report.tables) {
          expect(check.ok, check.table).toBe(true);
          expect(check.rows).toBe(check.expectedRows);
          expect(check.checksum).toBe(check.expectedChecksum);
        }
        const names = manifest.tables.map((table) => table.name);
        expect(await rowCounts(target.url, names)).toEqual(Object.fromEntries(manifest.tables.map((table) => [table.name, table.rows])));
        const versions = await query<{ version: string }>(target.url, 'SELECT max(version) AS version FROM schema_migrations');
        expect(versions[0]!.version).toBe(manifest.schemaVersion);

        const restored = await startTestApp({}, target);
        try {
          const client = new Client(restored.url);
          const login = await client.post('/api/v1/auth/login', { email: seeded.owner.email, password: seeded.owner.password });
          expect(login.status).toBe(200);
          expect(login.body.user.name).toBe(AWKWARD);
          const event = await client.get(`/api/v1/events/${seeded.eventId}`);
          expect(event.body.description).toBe(AWKWARD);
          expect(event.body.bookedCount).toBe(1);
        } finally {
          await restored.close();
        }
      } finally {
        await target.drop();
      }
    });

    it('refuses a target that has tables unless forced, and then replaces it', async () => {
      const target = await createTestDatabase();
      try {
        await expect(t.services.backups.restore(manifest.id, target.url, { force: false })).rejects.toThrow(RestoreRefusedError);
        await expect(t.services.backups.restore(manifest.id, target.url, { force: false })).rejects.toThrow(/not empty .*--force/);
        const report = await t.services.backups.restore(manifest.id, target.url, { force: true });
        expect(report.ok).toBe(true);
        expect((await rowCounts(target.url, ['users'])).users).toBe(2);
      } finally {
        await target.drop();
      }
    });

    it('drills the newest backup in a scratch database, records the result and removes the scratch database', async () => {
      const drill = await t.services.backups.drill();
      expect(drill.reason).toBeUndefined();
      expect(drill.ok).toBe(true);
      expect(drill.backupId).toBe((await t.services.backups.list())[0]!.id);
      expect(drill.tables.every((check) => check.ok)).toBe(true);
      expect(await databaseExists(drill.scratchDatabase)).toBe(false);
      const [latest] = await t.services.backups.latestDrills(1);
      expect(latest).toMatchObject({ id: drill.drillId, backupId: drill.backupId, ok: true });
      expect(await t.services.backups.lastDrillAt()).toEqual(latest!.ranAt);
    });

    it('fails a drill when an object changed in storage', async () => {
      const { manifest: fresh } = await t.services.backups.create();
      const users = fresh.tables.find((table) => table.name === 'users')!;
      const bytes = await readAll((await t.platform.backupStorage.get(users.key))!.body);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      await overwrite(t, users.key, bytes);

      const drill = await t.services.backups.drill();
      expect(drill.ok).toBe(false);
      expect(drill.backupId).toBe(fresh.id);
      expect(drill.reason).toMatch(/users\.copy\.gz changed in storage/);
      expect(await databaseExists(drill.scratchDatabase)).toBe(false);
      const [latest] = await t.services.backups.latestDrills(1);
      expect(latest).toMatchObject({ backupId: fresh.id, ok: false });
      expect(latest!.report.reason).toBe(drill.reason);
    });

    it('fails a drill when the restored rows do not match the checksum, even if the object hash was rewritten', async () => {
      const { manifest: fresh } = await t.services.backups.create();
      const users = fresh.tables.find((table) => table.name === 'users')!;
      const text = zlib.gunzipSync(await readAll((await t.platform.backupStorage.get(users.key))!.body)).toString('utf8');
      const tampered = zlib.gzipSync(Buffer.from(text.replace('@example.test', '@example.tesx')));
      await overwrite(t, users.key, tampered);
      // A manifest that agrees with the tampered object: only the row checksum can tell.
      const forged: BackupManifest = {
        ...fresh,
        tables: fresh.tables.map((table) =>
          table.name === 'users'
            ? { ...table, bytes: tampered.length, sha256: crypto.createHash('sha256').update(tampered).digest('hex') }
            : table,
        ),
      };
      await t.platform.backupStorage.put(manifestKey(fresh.id), Buffer.from(JSON.stringify(forged)), { contentType: 'application/json' });

      const drill = await t.services.backups.drill();
      expect(drill.ok).toBe(false);
      expect(drill.reason).toMatch(/users: the checksum of the restored rows does not match/);
      expect(drill.tables.find((check) => check.table === 'users')).toMatchObject({ ok: false, rows: 2, expectedRows: 2 });
      expect(drill.tables.filter((check) => check.table !== 'users').every((check) => check.ok)).toBe(true);
    });

    it('keeps the newest BACKUP_KEEP backups and removes the rest', async () => {
      const keepTwo = createBackupsService({
        databaseUrl: t.platform.databaseUrl,
        storage: t.platform.backupStorage,
        drills: createDrillsRepository(t.platform.db),
        keep: 2,
        logger: t.platform.logger,
        renderDerived: renderRenditions,
        copyStorage: null,
      });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await keepTwo.create()).manifest.id);
      const listed = (await keepTwo.list()).map((backup) => backup.id);
      expect(listed).toEqual([ids[2], ids[1]]);
      const remaining: string[] = [];
      for await (const object of t.platform.backupStorage.list(`backups/${ids[0]}/`)) remaining.push(object.key);
      expect(remaining).toEqual([]);
      expect(await t.platform.backupStorage.get(manifestKey(manifest.id))).toBeNull();
    });

    it('runs as the backup.create job, which is scheduled daily', async () => {
      expect(SCHEDULES[BACKUP_CREATE_JOB]).toBe('0 3 * * *');
      await t.platform.queue.setSchedule(BACKUP_CREATE_JOB, SCHEDULES[BACKUP_CREATE_JOB]!);
      const before = new Set((await t.services.backups.list()).map((backup) => backup.id));
      const worker = startTestWorker(t);
      try {
        const id = await t.platform.queue.enqueue(BACKUP_CREATE_JOB, {}, { maxAttempts: 1 });
        const job = await t.platform.queue.waitFor(id, { timeoutMs: 60_000 });
        expect(job.lastError).toBeNull();
        expect(job.status).toBe('completed');
      } finally {
        await worker.stop({ graceMs: 1_000 });
      }
      const added = await eventually(async () => {
        const found = (await t.services.backups.list()).filter((backup) => !before.has(backup.id));
        return found.length ? found : undefined;
      });
      expect(added).toHaveLength(1);
    });
  });
}
