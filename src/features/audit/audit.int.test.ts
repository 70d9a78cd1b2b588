import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { multipart, png } from '../../../tests/support/images.js';
import { freePort } from '../../../tests/support/process.js';
import { createFunctionHandlers } from '../../app.js';
import { createFunctionsServer } from '../../platform/functions/server.js';
import { newCloudEvent } from '../../platform/functions/cloud-event.js';

async function auditRows(t: TestApp, where = 'true', params: unknown[] = []) {
  return (await t.platform.pool.query(`SELECT * FROM audit_log WHERE ${where} ORDER BY at`, params)).rows;
}

describe('audit trail (functions in-process)', () => {
  let t: TestApp;
  let worker: ReturnType<typeof startTestWorker>;
  beforeAll(async () => {
    t = await startTestApp();
    worker = startTestWorker(t);
  });
  afterAll(async () => {
    await worker.stop({ graceMs: 1000 });
    await t.close();
  });

  it('records each listed action exactly once, with actor, subject and request id, and no personal data', async () => {
    const rid = (name: string) => ({ 'x-request-id': `audit-${name}` });
    const client = new Client(t.url);
    const email = 'audited.person@example.test';
    const signup = await client.post('/api/v1/auth/signup', { email, password: 'audited password', name: 'Audited' }, rid('signup'));
    const userId = signup.body.user.id;
    await client.post('/api/v1/auth/login', { email, password: 'audited password' }, rid('login'));
    await client.post(
      '/api/v1/me/password',
      { currentPassword: 'audited password', newPassword: 'audited password 2' },
      rid('password-change'),
    );
    const event = (
      await client.post(
        '/api/v1/events',
        { title: 'Audited event', startsAt: futureIso(), capacity: 5, visibility: 'public' },
        rid('event-create'),
      )
    ).body;
    await client.request('PATCH', `/api/v1/events/${event.id}`, { json: { title: 'Renamed' }, headers: rid('event-update') });
    const guest = await signUp(t.url);
    const booking = (await guest.client.post(`/api/v1/events/${event.id}/bookings`, undefined, rid('booking-create'))).body.booking;
    await guest.client.request('DELETE', `/api/v1/events/${event.id}/bookings/me`, { headers: rid('booking-cancel') });
    const { body, contentType } = multipart([['file', 'a.png', 'image/png', await png(30, 30)]]);
    const photo = (
      await client.request('POST', `/api/v1/events/${event.id}/photos`, {
        body,
        headers: { 'content-type': contentType, ...rid('photo-upload') },
      })
    ).body.photo;
    await client.request('DELETE', `/api/v1/photos/${photo.id}`, { headers: rid('photo-delete') });
    const exported = (await client.post(`/api/v1/events/${event.id}/exports`, undefined, rid('export-request'))).body.export;
    await client.request('DELETE', `/api/v1/events/${event.id}`, { headers: rid('event-delete') });
    await t.services.accounts.setRole(guest.user.id, 'admin', userId);

    const expected: [string, string, string, string | null][] = [
      ['user.signup', userId, userId, 'audit-signup'],
      ['user.login', userId, userId, 'audit-login'],
      ['user.password_change', userId, userId, 'audit-password-change'],
      ['event.create', userId, event.id, 'audit-event-create'],
      ['event.update', userId, event.id, 'audit-event-update'],
      ['booking.create', guest.user.id, booking.id, 'audit-booking-create'],
      ['booking.cancel', guest.user.id, booking.id, 'audit-booking-cancel'],
      ['photo.upload', userId, photo.id, 'audit-photo-upload'],
      ['photo.delete', userId, photo.id, 'audit-photo-delete'],
      ['export.request', userId, exported.id, 'audit-export-request'],
      ['event.delete', userId, event.id, 'audit-event-delete'],
      ['user.role_change', userId, guest.user.id, null],
    ];
    const rows = await eventually(
      async () => {
        const found = await auditRows(t, `actor_id = ANY($1)`, [[userId, guest.user.id]]);
        return found.length >= expected.length + 1 ? found : undefined; // + the guest's own signup
      },
      30_000,
      'every audit row',
    );
    // One outbox job per action too (the audit row is idempotent on the event id, so a second job for one action would be a second row);
    // bookings write their row with the booking and no job (decision 0047).
    const { rows: jobs } = await t.platform.pool.query(
      `SELECT payload #>> '{event,data,action}' AS action, payload #>> '{event,data,subjectId}' AS subject_id
         FROM jobs WHERE name = 'functions.deliver' AND payload #>> '{event,type}' = 'com.epu.audit.v1'`,
    );
    for (const [action, actorId, subjectId, requestId] of expected) {
      const matching = rows.filter((row) => row.action === action && row.subject_id === subjectId);
      expect(matching, action).toHaveLength(1);
      expect(matching[0].actor_id, action).toBe(actorId);
      if (requestId) expect(matching[0].request_id, action).toBe(requestId);
      expect(
        jobs.filter((job) => job.action === action && job.subject_id === subjectId),
        action,
      ).toHaveLength(action.startsWith('booking.') ? 0 : 1);
    }
    const everything = JSON.stringify(await auditRows(t));
    expect(everything).not.toContain(email);
    expect(everything).not.toContain('audited password');
    expect(everything).not.toContain('127.0.0.1');
  });

  it('quotes the request on the entries of invites, flags, account deletion and a booking from the event page', async () => {
    const rid = (name: string) => ({ 'x-request-id': `audit-2-${name}` });
    const admin = await signUp(t.url);
    await t.services.accounts.setRole(admin.user.id, 'admin');
    await admin.client.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    const event = (
      await admin.client.post('/api/v1/events', {
        title: 'Audited private event',
        startsAt: futureIso(),
        capacity: 5,
        visibility: 'private',
      })
    ).body;
    const created = await admin.client.post(`/api/v1/events/${event.id}/invites`, {}, rid('invite-create'));
    expect(created.status).toBe(201);
    const inviteId = created.body.invite.id;
    expect(
      (await admin.client.request('DELETE', `/api/v1/events/${event.id}/invites/${inviteId}`, { headers: rid('invite-revoke') })).status,
    ).toBe(204);
    const flagged = await admin.client.request('PUT', '/api/v1/admin/flags/audit.request-id', {
      json: { enabled: true },
      headers: rid('flag'),
    });
    expect(flagged.status).toBe(200);
    const open = (
      await admin.client.post('/api/v1/events', { title: 'Audited open event', startsAt: futureIso(), capacity: 5, visibility: 'public' })
    ).body;
    const guest = await signUp(t.url);
    expect((await guest.client.request('POST', `/events/${open.id}/book`, { form: {}, headers: rid('form-booking') })).status).toBe(303);
    expect(
      (await guest.client.request('DELETE', '/api/v1/me', { json: { password: guest.password }, headers: rid('account-delete') })).status,
    ).toBe(204);

    const expected: [string, string, string][] = [
      ['invite.create', event.id, 'audit-2-invite-create'],
      ['invite.revoke', event.id, 'audit-2-invite-revoke'],
      ['flag.update', 'audit.request-id', 'audit-2-flag'],
      ['booking.create', guest.user.id, 'audit-2-form-booking'],
      ['user.delete', guest.user.id, 'audit-2-account-delete'],
    ];
    const rows = await eventually(
      async () => {
        const found = await auditRows(t, `request_id LIKE 'audit-2-%'`);
        return found.length >= expected.length ? found : undefined;
      },
      30_000,
      'the audit rows of the second round',
    );
    for (const [action, subjectOrActor, requestId] of expected) {
      const matching = rows.filter((row) => row.action === action && row.request_id === requestId);
      expect(matching, action).toHaveLength(1);
      expect([matching[0].subject_id, matching[0].actor_id], action).toContain(subjectOrActor);
    }
  });

  it('is append-only: updates, deletes and truncation are refused by the database', async () => {
    const [row] = await eventually(async () => {
      const found = await auditRows(t);
      return found.length ? found : undefined;
    });
    await expect(t.platform.pool.query(`UPDATE audit_log SET action = 'forged' WHERE id = $1`, [row.id])).rejects.toThrow(/append-only/);
    await expect(t.platform.pool.query(`DELETE FROM audit_log WHERE id = $1`, [row.id])).rejects.toThrow(/append-only/);
    await expect(t.platform.pool.query(`TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
    // Even the retention switch cannot remove an entry younger than 30 days.
    const client = await t.platform.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL epu.audit_retention = 'on'`);
      await expect(client.query(`DELETE FROM audit_log WHERE id = $1`, [row.id])).rejects.toThrow(/append-only/);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('writes one row when the same event is delivered twice', async () => {
    const handlers = createFunctionHandlers(t.platform);
    const event = newCloudEvent('com.epu.audit.v1', 'test', {
      action: 'user.login',
      actorId: null,
      subjectType: 'user',
      subjectId: 'twice',
      requestId: null,
      at: new Date().toISOString(),
    });
    await handlers.auditLog(event as never);
    await handlers.auditLog(event as never);
    expect(await auditRows(t, `subject_id = 'twice'`)).toHaveLength(1);
  });

  it('answers 403 to non-admins and filters by action, actor and subject for admins', async () => {
    const admin = await signUp(t.url);
    await t.services.accounts.setRole(admin.user.id, 'admin');
    await admin.client.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    const user = await signUp(t.url);
    expect((await user.client.get('/api/v1/admin/audit')).status).toBe(403);
    expect((await new Client(t.url).get('/api/v1/admin/audit')).status).toBe(401);
    const mine = await eventually(async () => {
      const page = await admin.client.get(`/api/v1/admin/audit?actorId=${user.user.id}&action=user.signup`);
      return page.body.items.length === 1 ? page.body : undefined;
    });
    expect(Object.keys(mine.items[0]).sort()).toEqual(['action', 'actorId', 'at', 'id', 'requestId', 'subjectId', 'subjectType']);
    expect(mine.items[0]).toMatchObject({ action: 'user.signup', actorId: user.user.id, subjectType: 'user', subjectId: user.user.id });
    const bySubject = await admin.client.get(`/api/v1/admin/audit?subjectType=user&subjectId=${user.user.id}`);
    expect(bySubject.body.items.every((item: { subjectId: string }) => item.subjectId === user.user.id)).toBe(true);
    expect((await admin.client.get('/api/v1/admin/audit?action=nonsense')).status).toBe(400);
    const newestFirst = (await admin.client.get('/api/v1/admin/audit?limit=5')).body.items.map((i: { at: string }) => i.at);
    expect([...newestFirst].sort().reverse()).toEqual(newestFirst);
  });
});

describe('functions over HTTP (FUNCTIONS_URL)', () => {
  it('delivers audit events as CloudEvents with a token, and a down function loses nothing: delivery retries until it is back', async () => {
    const port = await freePort();
    const t = await startTestApp({ FUNCTIONS_URL: `http://127.0.0.1:${port}`, FUNCTIONS_TOKEN: 'a-shared-function-token-for-tests' });
    const worker = startTestWorker(t, { retryBaseMs: 100 });
    let server: ReturnType<typeof createFunctionsServer> | undefined;
    try {
      const { user } = await signUp(t.url);
      // Nothing listens yet: the delivery fails and is retried.
      await eventually(
        async () => {
          const { rows } = await t.platform.pool.query(
            `SELECT attempts FROM jobs WHERE name = 'functions.deliver' AND attempts >= 2 LIMIT 1`,
          );
          return rows.length ? true : undefined;
        },
        20_000,
        'a failed delivery',
      );
      expect(await auditRows(t, 'actor_id = $1', [user.id])).toHaveLength(0);

      server = createFunctionsServer({
        handlers: createFunctionHandlers(t.platform),
        token: t.platform.functionsToken,
        logger: t.platform.logger,
        isShuttingDown: () => false,
        databaseCheck: async () => 'ok',
      });
      await server.listen({ host: '127.0.0.1', port });
      const rows = await eventually(
        async () => {
          const found = await auditRows(t, 'actor_id = $1', [user.id]);
          return found.length ? found : undefined;
        },
        30_000,
        'the audit row after the function came back',
      );
      expect(rows.map((r) => r.action)).toEqual(['user.signup']);

      const refused = await fetch(`http://127.0.0.1:${port}/auditLog`, {
        method: 'POST',
        headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' },
        body: '{}',
      });
      expect(refused.status).toBe(401);
      const malformed = await fetch(`http://127.0.0.1:${port}/auditLog`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.platform.functionsToken}`, 'content-type': 'text/plain' },
        body: 'nope',
      });
      expect(malformed.status).toBe(400);
    } finally {
      await worker.stop({ graceMs: 1000 });
      await server?.close();
      await t.close();
    }
  });
});
