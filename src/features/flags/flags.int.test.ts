import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';
import type { ChangeBus } from '../../platform/pubsub/index.js';
import { createFlagsRepository } from './flags.repository.js';
import { createFlagsService, type FlagAuditEntry, FLAGS } from './flags.service.js';

let t: TestApp;
let admin: Client;
let user: Awaited<ReturnType<typeof signUp>>;

async function signInAdmin(base: string, app: TestApp): Promise<Client> {
  const email = `admin-${Date.now()}@example.test`;
  const password = 'admin password 1';
  await app.services.accounts.createOrPromoteAdmin({ email, password, name: 'Flag Admin' });
  const client = new Client(base);
  const login = await client.post('/api/v1/auth/login', { email, password });
  if (login.status !== 200) throw new Error(`admin login failed: ${login.status} ${login.text}`);
  return client;
}

const html = { accept: 'text/html' };
const COUNTERS = /<ul class="counters" aria-label="Counters">/;

beforeAll(async () => {
  t = await startTestApp();
  admin = await signInAdmin(t.url, t);
  user = await signUp(t.url);
});
afterAll(() => t.close());

describe('flags API', () => {
  it('lists the seeded flags for an admin', async () => {
    const response = await admin.get('/api/v1/admin/flags');
    expect(response.status).toBe(200);
    const names = response.body.items.map((f: { name: string }) => f.name);
    expect(names).toEqual(expect.arrayContaining(['home.counters', 'photos.uploads']));
    const counters = response.body.items.find((f: { name: string }) => f.name === 'home.counters');
    expect(counters).toMatchObject({ enabled: true, rolloutPercentage: 100, state: 'on', metadata: {} });
    expect(new Date(counters.updatedAt).toISOString()).toBe(counters.updatedAt);
  });

  it('answers 401 when not signed in and 403 for a non-admin', async () => {
    const anonymous = new Client(t.url);
    expect((await anonymous.get('/api/v1/admin/flags')).body.error.code).toBe('not_signed_in');
    expect((await anonymous.get('/api/v1/admin/flags')).status).toBe(401);
    expect((await anonymous.request('PUT', '/api/v1/admin/flags/x.y', { json: { enabled: true } })).status).toBe(401);
    const list = await user.client.get('/api/v1/admin/flags');
    expect(list.status).toBe(403);
    expect(list.body.error.code).toBe('forbidden');
    const put = await user.client.request('PUT', '/api/v1/admin/flags/home.counters', { json: { enabled: false, rolloutPercentage: 0 } });
    expect(put.status).toBe(403);
    expect((await admin.get('/api/v1/admin/flags/home.counters')).body.enabled).toBe(true);
  });

  it('creates a flag with PUT and changes it, keeping the percentage when it is left out', async () => {
    const created = await admin.request('PUT', '/api/v1/admin/flags/beta.search', {
      json: { enabled: true, rolloutPercentage: 25, description: 'New search', metadata: { owner: 'search-team', ticket: 42 } },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      name: 'beta.search',
      enabled: true,
      rolloutPercentage: 25,
      state: 'partial',
      description: 'New search',
      metadata: { owner: 'search-team', ticket: 42 },
    });
    const changed = await admin.request('PUT', '/api/v1/admin/flags/beta.search', { json: { enabled: false } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ enabled: false, rolloutPercentage: 25, state: 'off', description: 'New search' });
    expect((await admin.get('/api/v1/admin/flags/beta.search')).body.enabled).toBe(false);
    expect((await admin.get('/api/v1/admin/flags/no.such-flag')).status).toBe(404);
  });

  it('refuses a bad name, percentage or body with 400 validation_failed and stores nothing', async () => {
    const bad = async (name: string, json: unknown) => {
      const response = await admin.request('PUT', `/api/v1/admin/flags/${name}`, { json });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('validation_failed');
      return response.body.error;
    };
    expect((await bad('Bad.Name', { enabled: true })).details[0].field).toBe('name');
    await bad('x', { enabled: true });
    await bad('9lives', { enabled: true });
    await bad('a'.repeat(65), { enabled: true });
    await bad('has%20space', { enabled: true });
    expect((await bad('ok.name', { enabled: true, rolloutPercentage: 101 })).details[0].field).toBe('rolloutPercentage');
    await bad('ok.name', { enabled: true, rolloutPercentage: -1 });
    await bad('ok.name', { enabled: true, rolloutPercentage: 12.5 });
    await bad('ok.name', { enabled: true, rolloutPercentage: '50' });
    await bad('ok.name', { enabled: 'yes' });
    await bad('ok.name', { rolloutPercentage: 50 });
    await bad('ok.name', { enabled: true, surprise: 1 });
    await bad('ok.name', { enabled: true, metadata: { big: 'x'.repeat(9000) } });
    // Nesting deeper than JSON.stringify can recurse (found by the fuzz tier as a 500), sent as raw text.
    const deep = await admin.request('PUT', '/api/v1/admin/flags/ok.name', {
      body: `{"enabled":true,"metadata":{"deep":${'['.repeat(40_000)}${']'.repeat(40_000)}}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(deep.status).toBe(400);
    expect(deep.body.error.code).toBe('validation_failed');
    expect(deep.body.error.details[0].field).toBe('metadata');
    await bad('ok.name', { enabled: true, metadata: { nested: [[[[[[[[[[[['eleven levels']]]]]]]]]]]] } });
    const invalidJson = await admin.request('PUT', '/api/v1/admin/flags/ok.name', {
      body: '{"enabled":',
      headers: { 'content-type': 'application/json' },
    });
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.body.error.code).toBe('invalid_json');
    expect((await admin.get('/api/v1/admin/flags/ok.name')).status).toBe(404);
  });

  it('shows the home counters only while home.counters is on for the viewer, and skips their query when off', async () => {
    const anonymous = new Client(t.url);
    expect((await anonymous.get('/', html)).text).toMatch(COUNTERS);
    expect((await user.client.get('/', html)).text).toMatch(COUNTERS);

    let counted = 0;
    const original = t.services.events.counters;
    t.services.events.counters = () => (counted++, original());
    try {
      expect((await admin.request('PUT', '/api/v1/admin/flags/home.counters', { json: { enabled: false } })).status).toBe(200);
      const off = await anonymous.get('/', html);
      expect(off.status).toBe(200);
      expect(off.text).toContain('<h1>Upcoming events</h1>');
      expect(off.text).not.toMatch(COUNTERS);
      expect((await user.client.get('/', html)).text).not.toMatch(COUNTERS);
      expect(counted).toBe(0);

      // A partial rollout: never for anonymous visitors, for a stable share of users.
      await admin.request('PUT', '/api/v1/admin/flags/home.counters', { json: { enabled: true, rolloutPercentage: 50 } });
      expect((await anonymous.get('/', html)).text).not.toMatch(COUNTERS);
      const users = await Promise.all(Array.from({ length: 16 }, () => signUp(t.url)));
      const seen = await Promise.all(users.map(async (u) => COUNTERS.test((await u.client.get('/', html)).text)));
      const expected = await Promise.all(users.map((u) => t.services.flags.isEnabled(FLAGS.homeCounters, u.user.id)));
      expect(seen).toEqual(expected);
      expect(new Set(seen).size).toBe(2); // some in, some out (all 16 alike: odds 1 in 32 768)
      const again = await Promise.all(users.map(async (u) => COUNTERS.test((await u.client.get('/', html)).text)));
      expect(again).toEqual(seen);
    } finally {
      t.services.events.counters = original;
      await admin.request('PUT', '/api/v1/admin/flags/home.counters', { json: { enabled: true, rolloutPercentage: 100 } });
    }
    expect((await anonymous.get('/', html)).text).toMatch(COUNTERS);
  });
});

describe('flags admin page', () => {
  it('sends anonymous visitors to sign in and refuses non-admins', async () => {
    const anonymous = await new Client(t.url).get('/admin/flags', html);
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toBe('/login?next=/admin/flags');
    const post = await new Client(t.url).request('POST', '/admin/flags/home.counters', { form: { rolloutPercentage: '0' } });
    expect(post.status).toBe(303);
    expect(post.headers.get('location')).toBe('/login?next=/admin/flags');
    const forbidden = await user.client.get('/admin/flags', html);
    expect(forbidden.status).toBe(403);
    expect(forbidden.text).toContain('admin role');
    expect((await user.client.request('POST', '/admin/flags/home.counters', { form: { rolloutPercentage: '0' } })).status).toBe(403);
  });

  it('lists the flags with a form each, saves through the form and says so', async () => {
    const page = await admin.get('/admin/flags', html);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>Feature flags</h1>');
    expect(page.text).toContain('action="/admin/flags/photos.uploads"');
    expect(page.text).toContain('Stale flags');

    const saved = await admin.request('POST', '/admin/flags/photos.uploads', { form: { rolloutPercentage: '30' } });
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe('/admin/flags?notice=saved&flag=photos.uploads');
    const flag = (await admin.get('/api/v1/admin/flags/photos.uploads')).body;
    expect(flag).toMatchObject({ enabled: false, rolloutPercentage: 30 });
    expect((await admin.get(saved.headers.get('location')!, html)).text).toContain('Saved photos.uploads.');

    const restored = await admin.request('POST', '/admin/flags/photos.uploads', { form: { enabled: 'true', rolloutPercentage: '100' } });
    expect(restored.status).toBe(303);
    expect((await admin.get('/api/v1/admin/flags/photos.uploads')).body).toMatchObject({ enabled: true, rolloutPercentage: 100 });

    const bad = await admin.request('POST', '/admin/flags/photos.uploads', { form: { enabled: 'true', rolloutPercentage: '250' } });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('rolloutPercentage');
    expect(bad.text).toContain('<h1>Feature flags</h1>');

    const created = await admin.request('POST', '/admin/flags', {
      form: { name: 'page.made', enabled: 'true', rolloutPercentage: '10', description: 'From the page' },
    });
    expect(created.status).toBe(303);
    expect((await admin.get('/api/v1/admin/flags/page.made')).body).toMatchObject({
      enabled: true,
      rolloutPercentage: 10,
      description: 'From the page',
    });
    const badName = await admin.request('POST', '/admin/flags', { form: { name: 'Nope!', rolloutPercentage: '10' } });
    expect(badName.status).toBe(400);
    expect(badName.text).toContain('value="Nope!"');
  });
});

describe('stale report', () => {
  it('lists flags fully on or fully off for more than 30 days, and a state change restarts the clock', async () => {
    await admin.request('PUT', '/api/v1/admin/flags/old.on', { json: { enabled: true, rolloutPercentage: 100 } });
    await admin.request('PUT', '/api/v1/admin/flags/old.off', { json: { enabled: false } });
    await admin.request('PUT', '/api/v1/admin/flags/old.zero', { json: { enabled: true, rolloutPercentage: 0 } });
    await admin.request('PUT', '/api/v1/admin/flags/old.partial', { json: { enabled: true, rolloutPercentage: 40 } });
    await admin.request('PUT', '/api/v1/admin/flags/young.on', { json: { enabled: true } });
    await t.platform.pool.query(`UPDATE feature_flags SET state_since = now() - interval '31 days' WHERE name LIKE 'old.%'`);
    await t.platform.pool.query(`UPDATE feature_flags SET state_since = now() - interval '29 days' WHERE name = 'young.on'`);

    const report = await admin.get('/api/v1/admin/flags/stale');
    expect(report.status).toBe(200);
    const names = report.body.items.map((f: { name: string }) => f.name).sort();
    expect(names).toEqual(['old.off', 'old.on', 'old.zero']);
    expect(report.body.items.find((f: { name: string }) => f.name === 'old.on')).toMatchObject({ state: 'on', days: 31 });
    expect((await admin.get('/api/v1/admin/flags/stale?days=28')).body.items.map((f: { name: string }) => f.name)).toContain('young.on');
    expect((await admin.get('/api/v1/admin/flags/stale?days=0')).status).toBe(400);
    expect((await user.client.get('/api/v1/admin/flags/stale')).status).toBe(403);

    const page = await admin.get('/admin/flags', html);
    const table = page.text.slice(page.text.indexOf('id="stale-flags"'));
    expect(table).toContain('<code>old.on</code>');
    expect(table).not.toContain('<code>old.partial</code>');

    // A change that keeps the state (still fully off) keeps the clock; a change of state restarts it.
    await admin.request('PUT', '/api/v1/admin/flags/old.off', { json: { enabled: false, rolloutPercentage: 50 } });
    await admin.request('PUT', '/api/v1/admin/flags/old.on', { json: { enabled: true, rolloutPercentage: 60 } });
    await admin.request('PUT', '/api/v1/admin/flags/old.on', { json: { enabled: true, rolloutPercentage: 100 } });
    const after = (await admin.get('/api/v1/admin/flags/stale')).body.items.map((f: { name: string }) => f.name).sort();
    expect(after).toEqual(['old.off', 'old.zero']);
  });
});

describe('flags service', () => {
  const quietBus = (overrides: Partial<ChangeBus> = {}): ChangeBus => ({
    kind: 'postgres',
    publish: async () => undefined,
    subscribe: async () => () => undefined,
    close: async () => undefined,
    ...overrides,
  });

  it('audits each real change exactly once, in the change transaction, and nothing for a no-op', async () => {
    const entries: { entry: FlagAuditEntry; inTransaction: boolean }[] = [];
    const flags = createFlagsService({
      repo: createFlagsRepository(t.platform.db),
      bus: quietBus(),
      logger: t.platform.logger,
      recordAudit: async (entry, executor) => void entries.push({ entry, inTransaction: executor?.isTransaction ?? false }),
    });
    await flags.update('audit.me', { enabled: true, rolloutPercentage: 10 }, { actorId: null, requestId: 'req-1', via: 'cli' });
    await flags.update('audit.me', { enabled: true, rolloutPercentage: 10 }, { actorId: null, requestId: 'req-2', via: 'cli' });
    await flags.update('audit.me', { enabled: true, rolloutPercentage: 20 }, { actorId: null, requestId: 'req-3', via: 'cli' });
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.inTransaction)).toBe(true);
    expect(entries[0]!.entry).toEqual({
      action: 'flag.update',
      actorId: null,
      subjectType: 'flag',
      subjectId: 'audit.me',
      requestId: 'req-1',
      metadata: {
        via: 'cli',
        created: true,
        enabled: true,
        rolloutPercentage: 10,
        previousEnabled: null,
        previousRolloutPercentage: null,
        state: 'partial',
      },
    });
    expect(entries[1]!.entry.metadata).toMatchObject({ created: false, rolloutPercentage: 20, previousRolloutPercentage: 10 });
  });

  it('stores nothing when the audit entry cannot be recorded', async () => {
    const flags = createFlagsService({
      repo: createFlagsRepository(t.platform.db),
      bus: quietBus(),
      logger: t.platform.logger,
      recordAudit: async () => {
        throw new Error('audit store down');
      },
    });
    await expect(flags.update('never.stored', { enabled: true }, { actorId: null, requestId: null, via: 'cli' })).rejects.toThrow(
      'audit store down',
    );
    expect((await admin.get('/api/v1/admin/flags/never.stored')).status).toBe(404);
  });

  it('still stores and audits a change when the announcement fails', async () => {
    const logged: FlagAuditEntry[] = [];
    const flags = createFlagsService({
      repo: createFlagsRepository(t.platform.db),
      bus: quietBus({ publish: async () => Promise.reject(new Error('bus down')) }),
      logger: t.platform.logger,
      recordAudit: async (entry) => void logged.push(entry),
    });
    // A failing announcement does not fail the change.
    const { flag } = await flags.update('bus.down', { enabled: true }, { actorId: null, requestId: null, via: 'api' });
    expect(flag.enabled).toBe(true);
    expect(logged).toHaveLength(1);
  });

  it('reloads its copy when it is older than the refresh interval, even without an announcement', async () => {
    const deaf = createFlagsService({
      repo: createFlagsRepository(t.platform.db),
      bus: quietBus(),
      logger: t.platform.logger,
      recordAudit: async () => undefined,
      refreshIntervalMs: 300,
    });
    await admin.request('PUT', '/api/v1/admin/flags/safety.net', { json: { enabled: true } });
    expect(await deaf.isEnabled('safety.net', null)).toBe(true);
    await admin.request('PUT', '/api/v1/admin/flags/safety.net', { json: { enabled: false } });
    expect(await deaf.isEnabled('safety.net', null)).toBe(true); // its copy is younger than 300 ms
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await deaf.isEnabled('safety.net', null)).toBe(false);
  });

  it('keeps answering from memory while the database is unreachable', async () => {
    let failing = false;
    const repo = createFlagsRepository(t.platform.db);
    const flaky = { ...repo, listAll: () => (failing ? Promise.reject(new Error('connection refused')) : repo.listAll()) };
    const flags = createFlagsService({
      repo: flaky,
      bus: quietBus(),
      logger: t.platform.logger,
      recordAudit: async () => undefined,
      refreshIntervalMs: 1,
    });
    expect(await flags.isEnabled('home.counters', null)).toBe(true);
    failing = true;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await flags.isEnabled('home.counters', null)).toBe(true);
    expect(await flags.isEnabled('missing.flag', null)).toBe(false);
  });
});
