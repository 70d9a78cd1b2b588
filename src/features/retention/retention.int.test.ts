import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, testEnv, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { multipart, png } from '../../../tests/support/images.js';
import { spawnEpu } from '../../../tests/support/process.js';
import { newObjectKey } from '../../platform/storage/storage.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function exists(t: TestApp, key: string): Promise<boolean> {
  return (await t.platform.storage.head(key)) !== null;
}

describe('DELETE /me', () => {
  let t: TestApp;
  let worker: ReturnType<typeof startTestWorker>;

  beforeAll(async () => {
    t = await startTestApp();
    worker = startTestWorker(t);
  });
  afterAll(async () => {
    await worker?.stop({ graceMs: 1000 });
    await t?.close();
  });

  it('ends the session, anonymises the account, frees its places and deletes its photos, exports and hosted events with their objects', async () => {
    const leaving = await signUp(t.url, { name: 'Leaving Person', email: 'leaving@example.test' });
    const host = await signUp(t.url, { name: 'Host' });
    const other = await signUp(t.url, { name: 'Other' });
    const db = t.platform.db;

    // A full one-place event the person booked, and a past event they attended.
    const full = (await host.client.post('/api/v1/events', { title: 'One seat', startsAt: futureIso(), capacity: 1, visibility: 'public' }))
      .body.id;
    expect((await leaving.client.post(`/api/v1/events/${full}/bookings`)).status).toBe(201);
    expect((await other.client.post(`/api/v1/events/${full}/bookings`)).status).toBe(409);
    const past = (
      await host.client.post('/api/v1/events', { title: 'Last year', startsAt: futureIso(), capacity: null, visibility: 'public' })
    ).body.id;
    expect((await leaving.client.post(`/api/v1/events/${past}/bookings`)).status).toBe(201);
    await sql`UPDATE events SET starts_at = now() - interval '30 days' WHERE id = ${past}`.execute(db);

    // A photo they uploaded to the host's event, an event they host with someone else's photo, and an export archive.
    const { body, contentType } = multipart([['file', 'me.png', 'image/png', await png()]]);
    const upload = await leaving.client.request('POST', `/api/v1/events/${full}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    expect(upload.status).toBe(202);
    const hosted = (
      await leaving.client.post('/api/v1/events', { title: 'My party', startsAt: futureIso(), capacity: 5, visibility: 'public' })
    ).body.id;
    expect((await other.client.post(`/api/v1/events/${hosted}/bookings`)).status).toBe(201);
    const othersUpload = multipart([['file', 'party.png', 'image/png', await png()]]);
    expect(
      (
        await other.client.request('POST', `/api/v1/events/${hosted}/photos`, {
          body: othersUpload.body,
          headers: { 'content-type': othersUpload.contentType },
        })
      ).status,
    ).toBe(202);
    const photoKeys = await eventually(
      async () => {
        const rows = await db.selectFrom('photos').select(['id', 'status', 'original_key', 'thumbnail_key', 'display_key']).execute();
        return rows.length === 2 && rows.every((r) => r.status === 'ready')
          ? rows.flatMap((r) => [r.original_key, r.thumbnail_key!, r.display_key!])
          : undefined;
      },
      30_000,
      'both photos to be ready',
    );
    const exportResponse = await leaving.client.post('/api/v1/me/exports');
    expect(exportResponse.status).toBe(202);
    const exportKey = await eventually(
      async () => (await db.selectFrom('exports').select('object_key').executeTakeFirst())?.object_key ?? undefined,
      30_000,
      'the export',
    );
    for (const key of [...photoKeys, exportKey]) expect(await exists(t, key)).toBe(true);

    const deleted = await leaving.client.request('DELETE', '/api/v1/me', { json: { password: leaving.password } });
    expect(deleted.status).toBe(204);

    // The session ended (cookie cleared; the old cookie no longer works either) and the password no longer signs in.
    expect(leaving.client.cookies.size).toBe(0);
    expect((await leaving.client.get('/api/v1/me')).status).toBe(401);
    const login = await new Client(t.url).post('/api/v1/auth/login', { email: 'leaving@example.test', password: leaving.password });
    expect(login.status).toBe(401);

    const row = await db
      .selectFrom('users')
      .select(['email', 'name', 'password_hash', 'deleted_at'])
      .where('id', '=', leaving.user.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ email: `deleted-${leaving.user.id}@invalid`, name: 'Deleted user', password_hash: '!account-deleted' });
    expect(row.deleted_at).toBeInstanceOf(Date);
    const leftovers = await sql<{
      n: number;
    }>`SELECT count(*) AS n FROM users WHERE email ILIKE '%leaving%' OR name = 'Leaving Person'`.execute(db);
    expect(leftovers.rows[0]!.n).toBe(0);
    expect(
      await db.selectFrom('sessions').select('id').where('user_id', '=', leaving.user.id).where('revoked_at', 'is', null).execute(),
    ).toEqual([]);

    // The upcoming booking is cancelled and its place free again; the past one stays as history.
    const bookings = await db
      .selectFrom('bookings')
      .select(['event_id', 'status'])
      .where('user_id', '=', leaving.user.id)
      .orderBy('event_id')
      .execute();
    expect(bookings.find((b) => b.event_id === full)?.status).toBe('cancelled');
    expect(bookings.find((b) => b.event_id === past)?.status).toBe('confirmed');
    expect((await other.client.post(`/api/v1/events/${full}/bookings`)).status).toBe(201);

    // Photos (theirs, and those of the event they hosted), exports and the hosted event are gone, objects included.
    expect(await db.selectFrom('photos').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('exports').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('events').select('id').where('id', '=', hosted).execute()).toEqual([]);
    for (const key of [...photoKeys, exportKey]) expect(await exists(t, key)).toBe(false);

    const audit = await eventually(async () =>
      db.selectFrom('audit_log').select(['actor_id', 'subject_id', 'metadata']).where('action', '=', 'user.delete').executeTakeFirst(),
    );
    expect(audit).toMatchObject({
      actor_id: leaving.user.id,
      subject_id: leaving.user.id,
      metadata: { bookingsCancelled: 1, events: 1, photos: 2, exports: 1 },
    });

    // What is left passes the integrity checks.
    await t.services.stats.aggregate();
    const report = await t.services.integrity.run();
    expect(Object.entries(report.checks).filter(([, c]) => c.problems > 0)).toEqual([]);
  });

  it('asks for a typed confirmation on the /me form', async () => {
    const person = await signUp(t.url, { name: 'Form Person' });
    const page = await person.client.request('GET', '/me', { headers: { accept: 'text/html' } });
    expect(page.text).toContain('action="/me/delete"');
    const unconfirmed = await person.client.request('POST', '/me/delete', { form: { confirm: 'yes' }, headers: { origin: t.url } });
    expect(unconfirmed.status).toBe(303);
    expect(unconfirmed.headers.get('location')).toBe('/me?notice=delete-unconfirmed#account');
    expect((await person.client.get('/api/v1/me')).status).toBe(200);
    const confirmed = await person.client.request('POST', '/me/delete', {
      form: { confirm: 'DELETE', password: person.password },
      headers: { origin: t.url },
    });
    expect(confirmed.status).toBe(303);
    expect((await person.client.get('/api/v1/me')).status).toBe(401);
    const row = await t.platform.db.selectFrom('users').select(['deleted_at']).where('id', '=', person.user.id).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
  });
});

describe('retention.sweep', () => {
  let t: TestApp;

  beforeAll(async () => {
    // The defaults, written out: what each side of the cutoffs below is measured against.
    t = await startTestApp({ RETENTION_AUDIT_DAYS: '365', RETENTION_EXPORT_HOURS: '24', RETENTION_DELETED_ACCOUNT_DAYS: '30' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('removes exactly what the policy says, on both sides of every cutoff, and reports it', async () => {
    const db = t.platform.db;
    const ago = (ms: number) => new Date(Date.now() - ms);
    const host = await signUp(t.url, { name: 'Host' });
    const eventId = (
      await host.client.post('/api/v1/events', { title: 'Kept', startsAt: futureIso(), capacity: null, visibility: 'public' })
    ).body.id;

    // Deleted accounts: 31 days ago goes, 29 days ago stays.
    const deletedUser = (name: string, deletedAt: Date) =>
      sql<{
        id: string;
      }>`INSERT INTO users (email, name, password_hash, deleted_at) VALUES (${`deleted-${name}@invalid`}, 'Deleted user', '!', ${deletedAt}) RETURNING id`
        .execute(db)
        .then((r) => r.rows[0]!.id);
    const oldDeleted = await deletedUser('old', ago(31 * DAY));
    const recentDeleted = await deletedUser('recent', ago(29 * DAY));
    // Audit entries: 366 days old goes, 364 stays.
    const auditEntry = (at: Date) =>
      sql<{
        id: string;
      }>`INSERT INTO audit_log (id, at, action, subject_type, subject_id) VALUES (gen_random_uuid(), ${at}, 'event.create', 'event', 'x') RETURNING id`
        .execute(db)
        .then((r) => r.rows[0]!.id);
    const oldAudit = await auditEntry(ago(366 * DAY));
    const keptAudit = await auditEntry(ago(364 * DAY));
    // Export archives: expired an hour ago goes (the row stays, without its object), expiring in an hour stays.
    const exportWith = async (expiresAt: Date) => {
      const key = newObjectKey('exports', 'zip');
      await t.platform.storage.put(key, Buffer.from('zip'), { contentType: 'application/zip' });
      const row = await db
        .insertInto('exports')
        .values({ requester_id: host.user.id, status: 'ready', object_key: key, bytes: 3, expires_at: expiresAt })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { id: row.id, key };
    };
    const expiredExport = await exportWith(ago(HOUR));
    const liveExport = await exportWith(new Date(Date.now() + HOUR));
    // Photos processing for 61 minutes fail; 59 minutes keep processing.
    const processingPhoto = (createdAt: Date) =>
      sql<{ id: string }>`INSERT INTO photos (event_id, uploader_id, original_key, content_type, bytes, created_at)
        VALUES (${eventId}, ${host.user.id}, ${newObjectKey('originals', 'jpg')}, 'image/jpeg', 1, ${createdAt}) RETURNING id`
        .execute(db)
        .then((r) => r.rows[0]!.id);
    const stuckPhoto = await processingPhoto(ago(61 * 60_000));
    const freshPhoto = await processingPhoto(ago(59 * 60_000));
    // Finished jobs: 8 days ago go, 6 days ago stay.
    const finishedJob = (finishedAt: Date) =>
      sql<{ id: string }>`INSERT INTO jobs (name, status, finished_at) VALUES ('test.done', 'completed', ${finishedAt}) RETURNING id`
        .execute(db)
        .then((r) => r.rows[0]!.id);
    const oldJob = await finishedJob(ago(8 * DAY));
    const recentJob = await finishedJob(ago(6 * DAY));
    // Sessions that ended over a day ago (revoked or expired) go; those that ended within the day, and live ones, stay.
    const session = (expiresAt: Date, revokedAt: Date | null) =>
      db
        .insertInto('sessions')
        .values({ user_id: host.user.id, expires_at: expiresAt, revoked_at: revokedAt })
        .returning('id')
        .executeTakeFirstOrThrow()
        .then((r) => r.id);
    const goneSessions = [await session(ago(25 * HOUR), null), await session(new Date(Date.now() + DAY), ago(25 * HOUR))];
    const keptSessions = [await session(ago(23 * HOUR), null), await session(new Date(Date.now() + DAY), ago(23 * HOUR))];
    // Rate-limit counters whose window passed go; running ones stay.
    await sql`INSERT INTO rate_limits (key, points, expire) VALUES ('test:old', 1, ${Date.now() - 1000}), ('test:live', 1, ${Date.now() + 60_000})`.execute(
      db,
    );

    const report = await t.services.retention.sweep();
    expect(report).toEqual({
      deletedAccounts: 1,
      auditEntries: 1,
      exportObjects: 1,
      stuckPhotosFailed: 1,
      finishedJobs: 1,
      sessions: 2,
      rateLimits: 1,
    });

    const userIds = (await db.selectFrom('users').select('id').execute()).map((r) => r.id);
    expect(userIds).not.toContain(oldDeleted);
    expect(userIds).toContain(recentDeleted);
    const auditIds = (await db.selectFrom('audit_log').select('id').execute()).map((r) => r.id);
    expect(auditIds).not.toContain(oldAudit);
    expect(auditIds).toContain(keptAudit);
    expect(await exists(t, expiredExport.key)).toBe(false);
    expect(await exists(t, liveExport.key)).toBe(true);
    const exportsLeft = await db.selectFrom('exports').select(['id', 'object_key']).orderBy('expires_at').execute();
    expect(exportsLeft).toEqual([
      { id: expiredExport.id, object_key: null },
      { id: liveExport.id, object_key: liveExport.key },
    ]);
    const photoStatus = Object.fromEntries((await db.selectFrom('photos').select(['id', 'status']).execute()).map((r) => [r.id, r.status]));
    expect(photoStatus).toEqual({ [stuckPhoto]: 'failed', [freshPhoto]: 'processing' });
    const jobIds = (await db.selectFrom('jobs').select('id').where('name', '=', 'test.done').execute()).map((r) => r.id);
    expect(jobIds).toEqual([recentJob]);
    expect(jobIds).not.toContain(oldJob);
    const sessionIds = (await db.selectFrom('sessions').select('id').execute()).map((r) => r.id);
    for (const id of goneSessions) expect(sessionIds).not.toContain(id);
    for (const id of keptSessions) expect(sessionIds).toContain(id);
    expect((await sql<{ key: string }>`SELECT key FROM rate_limits WHERE key LIKE 'test:%'`.execute(db)).rows).toEqual([
      { key: 'test:live' },
    ]);
    // The host's own live session still works.
    expect((await host.client.get('/api/v1/me')).status).toBe(200);

    // Nothing more is due: `epu jobs run retention.sweep` prints what it removed, all zeros now.
    const run = spawnEpu(['jobs', 'run', 'retention.sweep'], testEnv(t.database, { EPU_DATA_DIR: t.config.dataDir }));
    const { code } = await run.exited;
    expect(run.output()).toMatch(
      /"message":"retention.sweep completed".*"deletedAccounts":0,"auditEntries":0,"exportObjects":0,"stuckPhotosFailed":0,"finishedJobs":0,"sessions":0,"rateLimits":0/,
    );
    expect(code).toBe(0);
  });

  it('never deletes audit entries younger than 30 days, whatever RETENTION_AUDIT_DAYS says', async () => {
    const short = await startTestApp({ RETENTION_AUDIT_DAYS: '1' }, t.database);
    try {
      expect(short.services.retention.policy.auditDays).toBe(30);
      await sql`INSERT INTO audit_log (id, at, action, subject_type, subject_id) VALUES (gen_random_uuid(), now() - interval '2 days', 'event.create', 'event', 'y')`.execute(
        short.platform.db,
      );
      await short.services.retention.sweep();
      const kept = await sql<{ n: number }>`SELECT count(*) AS n FROM audit_log WHERE subject_id = 'y'`.execute(short.platform.db);
      expect(kept.rows[0]!.n).toBe(1);
    } finally {
      await short.close();
    }
  });
});
