import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { multipart, png } from '../../../tests/support/images.js';
import { recordStatements } from '../../../tests/support/statements.js';

const recording = recordStatements();
let t: TestApp;
let admin: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  t = await startTestApp();
  admin = await signUp(t.url, { name: 'Ada Admin' });
  await t.services.accounts.setRole(admin.user.id, 'admin');
  await admin.client.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
});
afterAll(() => t.close());

async function deadJob(): Promise<string> {
  const id = await t.platform.queue.enqueue('stats.aggregate', {}, { maxAttempts: 1 });
  await t.platform.pool.query(`UPDATE jobs SET status = 'dead', attempts = 1, last_error = 'boom: it broke' WHERE id = $1`, [id]);
  return id;
}

describe('/admin', () => {
  it('is for admins only: sign-in for anonymous visitors, 403 for others', async () => {
    expect((await new Client(t.url).get('/admin', { accept: 'text/html' })).headers.get('location')).toBe('/login?next=/admin');
    const user = await signUp(t.url);
    const refused = await user.client.get('/admin', { accept: 'text/html' });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('This needs the admin role.');
    expect((await user.client.get('/api/v1/admin/jobs')).status).toBe(403);
  });

  it('shows the audit trail with filters and the jobs, and retries a dead job', async () => {
    const id = await deadJob();
    const page = await admin.client.get('/admin', { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h2 id="audit">Audit trail</h2>');
    expect(page.text).toContain('<h2 id="jobs">Jobs</h2>');
    expect(page.text).toContain('boom: it broke');
    expect(page.text).toContain(`action="/admin/jobs/${id}/retry"`);
    expect((await admin.client.get('/admin?action=nonsense', { accept: 'text/html' })).status).toBe(400);
    // A parameter given twice is taken once (its first value), on pages as in the API: found by the fuzz tier as a 500.
    const twice = await admin.client.get(`/admin?subjectId=${id}&subjectId=other`, { accept: 'text/html' });
    expect(twice.status).toBe(200);
    expect((await admin.client.get(`/api/v1/admin/audit?subjectId=a&subjectId=b`)).status).toBe(200);

    const retried = await admin.client.request('POST', `/admin/jobs/${id}/retry`, { form: {} });
    expect(retried.status).toBe(303);
    expect((await t.platform.queue.get(id))!.status).toBe('queued');
    expect((await admin.client.request('POST', `/admin/jobs/${id}/retry`, { form: {} })).status).toBe(404);
  });

  it('lists jobs by state and retries through the API', async () => {
    const id = await deadJob();
    const list = await admin.client.get('/api/v1/admin/jobs?status=dead');
    expect(list.status).toBe(200);
    expect(list.body.items.map((j: { id: string }) => j.id)).toContain(id);
    expect(list.body.counts.dead).toBeGreaterThanOrEqual(1);
    expect((await admin.client.get('/api/v1/admin/jobs?status=weird')).status).toBe(400);
    const retried = await admin.client.post(`/api/v1/admin/jobs/${id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body.job).toMatchObject({ id, status: 'queued' });
    expect((await admin.client.post('/api/v1/admin/jobs/not-an-id/retry')).status).toBe(404);
  });

  it('refuses cross-site form posts', async () => {
    const id = await deadJob();
    const forged = await admin.client.request('POST', `/admin/jobs/${id}/retry`, {
      form: {},
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(forged.status).toBe(403);
    expect((await t.platform.queue.get(id))!.status).toBe('dead');
  });
});

describe('/admin audit trail, as a person reads it', () => {
  const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
  const auditedRows = async (where = 'true', params: unknown[] = []) =>
    (await t.platform.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE ${where}`, params)).rows[0]!.n;
  /** The audit table's rows, each as its cells' text (tags dropped) and its cells' HTML. */
  const auditTable = (page: string) => {
    const table = page.slice(
      page.indexOf('<table class="table stack" id="audit-entries">'),
      page.indexOf('</table>', page.indexOf('id="audit-entries"')),
    );
    return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
      .map((row) =>
        [...row[1]!.matchAll(/<td data-label="([^"]+)">([\s\S]*?)<\/td>/g)].map(([, label, cell]) => ({ label: label!, cell: cell! })),
      )
      .filter((cells) => cells.length > 0);
  };
  const text = (cell: string) => cell.replace(/<[^>]+>/g, '').trim();
  /** Runs `fn` with a worker writing the audit entries, stopped after: a recording then sees only the page's statements. */
  const withWorker = async (fn: () => Promise<void>) => {
    const worker = startTestWorker(t);
    try {
      await fn();
    } finally {
      await worker.stop({ graceMs: 1000 });
    }
  };

  it('names the people, links to the subjects that still exist, and reads them in one query', async () => {
    const host = await signUp(t.url, { name: 'Hana Host' });
    const guest = await signUp(t.url, { name: 'Gil Guest' });
    const event = (
      await host.client.post('/api/v1/events', { title: 'Harbour picnic', startsAt: futureIso(), capacity: 5, visibility: 'private' })
    ).body;
    const { body, contentType } = multipart([['file', 'a.png', 'image/png', await png(30, 30)]]);
    const photo = (
      await host.client.request('POST', `/api/v1/events/${event.id}/photos`, { body, headers: { 'content-type': contentType } })
    ).body.photo;
    await withWorker(async () => {
      const gone = await host.client.post('/api/v1/events', {
        title: 'Called off',
        startsAt: futureIso(),
        capacity: 5,
        visibility: 'public',
      });
      expect(gone.status).toBe(201);
      expect((await host.client.request('DELETE', `/api/v1/events/${gone.body.id}`)).status).toBe(204);
      await eventually(
        async () => ((await auditedRows('subject_id = $1', [gone.body.id])) === 2 ? true : undefined),
        20_000,
        'the entries',
      );
    });

    const page = await admin.client.get('/admin', { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.text).toContain(`<a href="/admin?actorId=${host.user.id}#audit">Hana Host</a>`);
    expect(page.text).toContain(`Account of <a href="/admin?actorId=${guest.user.id}#audit">Gil Guest</a>`);
    expect(page.text).toContain(`Event <a href="/events/${event.id}">Harbour picnic</a>`);
    expect(page.text).toContain(
      `<a href="/events/${event.id}/photos/${photo.id}">Photo</a> in <a href="/events/${event.id}">Harbour picnic</a>`,
    );
    expect(page.text).toContain('<span class="muted">Deleted event</span>');
    expect(page.text).not.toContain('Called off');
    // No more personal data than before: the admin pages show no email anywhere.
    expect(page.text).not.toContain(host.email);
    expect(page.text).not.toContain(guest.email);

    const rows = auditTable(page.text);
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const cells of rows) {
      const by = cells.find((c) => c.label === 'By')!;
      const about = cells.find((c) => c.label === 'About')!;
      // Ids stay in the links, never as the text a person reads.
      expect(text(by.cell)).not.toMatch(UUID);
      expect(text(about.cell)).not.toMatch(UUID);
      expect(text(about.cell)).toMatch(/[A-Za-z]/);
    }

    // One query for the audit page, however many entries it shows: the same statements before and after more activity.
    const before = await recording(() => admin.client.get('/admin', { accept: 'text/html' }));
    await withWorker(async () => {
      const logins = (await auditedRows(`action = 'user.login'`)) + 3;
      for (let i = 0; i < 3; i++) await guest.client.post('/api/v1/auth/login', { email: guest.email, password: guest.password });
      await eventually(async () => ((await auditedRows(`action = 'user.login'`)) === logins ? true : undefined), 20_000, 'the logins');
    });
    const after = await recording(() => admin.client.get('/admin', { accept: 'text/html' }));
    expect(after.filter((statement) => /audit_log/.test(statement))).toHaveLength(1);
    expect(after.length).toBe(before.length);

    // The JSON API keeps CONTRACT.md's fields, and no more.
    const api = await admin.client.get('/api/v1/admin/audit?limit=1');
    expect(Object.keys(api.body.items[0]).sort()).toEqual(['action', 'actorId', 'at', 'id', 'requestId', 'subjectId', 'subjectType']);

    // Paginated as before: the filter and the cursor carry over to older entries.
    const filtered = await admin.client.get(`/admin?actorId=${guest.user.id}`, { accept: 'text/html' });
    expect(auditTable(filtered.text).every((cells) => text(cells.find((c) => c.label === 'By')!.cell) === 'Gil Guest')).toBe(true);
  });
});
