import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { anyPayloadJobs } from '../../../tests/support/queue.js';
import { createLogger } from '../observability/logger.js';
import { createQueue, type Queue } from './index.js';
import { createNotifier } from '../db/notifier.js';
import { createKysely, createPool } from '../db/pool.js';
import { transaction } from '../db/transaction.js';

let database: TestDatabase;
let pool: pg.Pool;
let db: Kysely<any>;
const JOBS = anyPayloadJobs(
  'after.commit',
  'awaited',
  'batch',
  'blind.transaction',
  'committed',
  'counted',
  'exports.build',
  'fragile',
  'kept?',
  'later',
  'listed',
  'not.yet',
  'photos.thumbnail',
  'rolled.back',
  'singleton',
  'stats.aggregate',
);
let queue: Queue<typeof JOBS>;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 5 });
  // The database is dropped WITH (FORCE) at the end: a connection it ends must not crash the run.
  pool.on('error', () => undefined);
  db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  queue = createQueue({
    db,
    pool,
    jobs: JOBS,
    logger: createLogger({ level: 'silent', pretty: false, name: 'queue-test' }),
    notifier: createNotifier({ pool }),
  });
});
afterAll(async () => {
  await db.destroy();
  await database.drop();
});
beforeEach(async () => {
  await sql`DELETE FROM jobs`.execute(db);
});

describe('enqueue', () => {
  it('stores a queued job with its payload, trace and defaults, due now', async () => {
    const trace = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    const id = await queue.enqueue('photos.thumbnail', { photoId: 'p1', sizes: [320, 1280] }, { trace });
    const job = await queue.get(id);
    expect(job).toMatchObject({
      id,
      name: 'photos.thumbnail',
      payload: { photoId: 'p1', sizes: [320, 1280] },
      status: 'queued',
      attempts: 0,
      maxAttempts: 5,
      trace,
      key: null,
      lockedBy: null,
      lastError: null,
      finishedAt: null,
    });
    expect(job!.runAt.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
  });

  it('keeps a payload that is a bare array or string as JSON', async () => {
    const list = await queue.enqueue('batch', [1, 2, 3]);
    const text = await queue.enqueue('batch', 'just text');
    expect((await queue.get(list))!.payload).toEqual([1, 2, 3]);
    expect((await queue.get(text))!.payload).toBe('just text');
  });

  it('takes runAt and maxAttempts, and refuses a maxAttempts below 1', async () => {
    const runAt = new Date(Date.now() + 3_600_000);
    const id = await queue.enqueue('later', {}, { runAt, maxAttempts: 2 });
    expect(await queue.get(id)).toMatchObject({ runAt, maxAttempts: 2 });
    await expect(queue.enqueue('later', {}, { maxAttempts: 0 })).rejects.toThrow(/maxAttempts/);
  });

  it('with the same key twice, keeps one job and returns its id both times', async () => {
    const first = await queue.enqueue('stats.aggregate', { n: 1 }, { key: 'stats' });
    const second = await queue.enqueue('stats.aggregate', { n: 2 }, { key: 'stats' });
    expect(second).toBe(first);
    const { rows } = await sql<{ count: number }>`SELECT count(*)::int AS count FROM jobs WHERE key = 'stats'`.execute(db);
    expect(rows[0]!.count).toBe(1);
    expect((await queue.get(first))!.payload).toEqual({ n: 1 });
  });

  it('accepts the key again once the job holding it has finished', async () => {
    const first = await queue.enqueue('exports.build', {}, { key: 'export:e1' });
    await sql`UPDATE jobs SET status = 'completed', finished_at = now() WHERE id = ${first}`.execute(db);
    const second = await queue.enqueue('exports.build', {}, { key: 'export:e1' });
    expect(second).not.toBe(first);
  });

  it('gives concurrent enqueues with one key one job', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => queue.enqueue('singleton', {}, { key: 'only-one' })));
    expect(new Set(ids).size).toBe(1);
  });

  it('takes keyed jobs on a connection whose statements are prepared, past the switch to a generic plan', async () => {
    // PostgreSQL plans a prepared statement generically from its sixth run on; the ON CONFLICT
    // arbiter must still match the partial unique index then (DATABASE_PREPARED_STATEMENTS).
    const preparing = createPool({
      connectionString: database.url,
      max: 1,
      statementTimeoutMs: 0,
      applicationName: 't',
      preparedStatements: 50,
    });
    try {
      const prepared = createQueue({
        db: createKysely(preparing) as Kysely<any>,
        pool: preparing,
        jobs: JOBS,
        logger: createLogger({ level: 'silent', pretty: false, name: 'queue-test' }),
        notifier: createNotifier({ pool: preparing }),
      });
      for (let i = 0; i < 8; i++) {
        const first = await prepared.enqueue('exports.build', {}, { key: `prepared:${i}` });
        expect(await prepared.enqueue('exports.build', {}, { key: `prepared:${i}` })).toBe(first);
      }
    } finally {
      await preparing.end();
    }
  });

  it('inside a transaction that rolls back, leaves no job (the outbox)', async () => {
    const failure = new Error('the business write failed');
    let enqueued = '';
    await expect(
      transaction(db, async (trx) => {
        enqueued = await queue.enqueue('exports.build', { exportId: 'x' }, { executor: trx });
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(enqueued).not.toBe('');
    expect(await queue.get(enqueued)).toBeNull();
    expect((await queue.counts()).queued).toBe(0);
  });

  it('inside a transaction that commits, stores the job with it', async () => {
    const id = await transaction(db, (trx) => queue.enqueue('exports.build', { exportId: 'y' }, { executor: trx }));
    expect((await queue.get(id))!.status).toBe('queued');
  });

  /**
   * A connection LISTENing on the jobs channel, with what it received of the jobs named `ours`. Others are an
   * earlier test's: the notifier sends after a short window, and under load that can reach the next test's listener.
   */
  async function jobsListener(ours: readonly string[]) {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const received: string[] = [];
    client.on('notification', (message) => ours.includes(message.payload ?? '') && received.push(message.payload!));
    await client.query('LISTEN epu_jobs');
    return { received, close: () => client.end() };
  }

  it('wakes listeners on commit only: a rolled-back enqueue sends no notification', async () => {
    const listener = await jobsListener(['rolled.back', 'not.yet', 'committed']);
    try {
      // What an earlier test's notifier sends late is not this test's.
      await sql`SELECT pg_notify('epu_jobs', 'exports.build')`.execute(db);
      await transaction(db, async (trx) => {
        await queue.enqueue('rolled.back', {}, { executor: trx });
        throw new Error('rollback');
      }).catch(() => undefined);
      await queue.enqueue('not.yet', {}, { runAt: new Date(Date.now() + 60_000) });
      await queue.enqueue('committed', {});
      await expect.poll(() => listener.received, { timeout: 5_000 }).toContain('committed');
      expect(listener.received).toEqual(['committed']);
    } finally {
      await listener.close();
    }
  });

  it('notifies from outside the enqueuing transaction, once it has committed', async () => {
    // No trigger notifies: a NOTIFY in a write transaction holds a cluster-wide lock through its commit's WAL flush.
    const notifying = await sql<{ tgname: string }>`SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE NOT t.tgisinternal AND p.prosrc ILIKE '%notify%'`.execute(db);
    expect(notifying.rows).toEqual([]);

    const listener = await jobsListener(['after.commit']);
    try {
      let insideTransaction = 'not run';
      const id = await transaction(db, async (trx) => {
        const enqueued = await queue.enqueue('after.commit', {}, { executor: trx });
        // Longer than the notifier's window: had it sent anything, the (autocommitted) NOTIFY would have arrived by now.
        await new Promise((resolve) => setTimeout(resolve, 200));
        insideTransaction = listener.received.join(',');
        return enqueued;
      });
      expect(insideTransaction).toBe('');
      await expect.poll(() => listener.received, { timeout: 5_000 }).toEqual(['after.commit']);
      expect((await queue.get(id))!.status).toBe('queued');
    } finally {
      await listener.close();
    }
  });

  it('still wakes workers, a little later, for a job enqueued in a transaction opened without platform/db transaction()', async () => {
    const listener = await jobsListener(['blind.transaction']);
    try {
      await db.transaction().execute((trx) => queue.enqueue('blind.transaction', {}, { executor: trx }));
      await expect.poll(() => listener.received, { timeout: 5_000 }).toEqual(['blind.transaction']);
    } finally {
      await listener.close();
    }
  });
});

describe('reading jobs', () => {
  it('get answers null for an unknown or malformed id', async () => {
    expect(await queue.get('00000000-0000-4000-8000-000000000000')).toBeNull();
    expect(await queue.get('not-a-uuid')).toBeNull();
  });

  it('lists newest first, page by page, and by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await queue.enqueue('listed', { i }));
    await sql`UPDATE jobs SET status = 'dead', finished_at = now() WHERE id IN (${ids[1]}, ${ids[4]})`.execute(db);

    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await queue.list({ limit: 3, before });
      seen.push(...page.items.map((job) => job.id));
      if (!page.nextCursor) break;
      before = page.nextCursor;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(ids));
    const created = await Promise.all(seen.map(async (id) => (await queue.get(id))!.createdAt.getTime()));
    expect(created).toEqual([...created].sort((a, b) => b - a));

    const dead = await queue.list({ status: 'dead', limit: 10 });
    expect(dead.items.map((job) => job.id).sort()).toEqual([ids[1], ids[4]].sort());
    expect(dead.nextCursor).toBeNull();
  });

  it('refuses a forged cursor', async () => {
    await expect(queue.list({ limit: 5, before: 'bm90IGEgY3Vyc29y' })).rejects.toMatchObject({ code: 'invalid_cursor' });
  });

  it('counts jobs per status and the age of the oldest due queued job', async () => {
    expect(await queue.counts()).toEqual({ queued: 0, running: 0, completed: 0, dead: 0, oldestQueuedAgeSeconds: 0 });
    const old = await queue.enqueue('counted', {});
    await queue.enqueue('counted', {}, { runAt: new Date(Date.now() + 3_600_000) });
    const running = await queue.enqueue('counted', {});
    const done = await queue.enqueue('counted', {});
    await sql`UPDATE jobs SET run_at = now() - interval '90 seconds' WHERE id = ${old}`.execute(db);
    await sql`UPDATE jobs SET status = 'running', locked_by = 'w', locked_until = now() + interval '1 minute' WHERE id = ${running}`.execute(
      db,
    );
    await sql`UPDATE jobs SET status = 'completed', finished_at = now() WHERE id = ${done}`.execute(db);

    const counts = await queue.counts();
    expect(counts).toMatchObject({ queued: 2, running: 1, completed: 1, dead: 0 });
    expect(counts.oldestQueuedAgeSeconds).toBeGreaterThanOrEqual(90);
    expect(counts.oldestQueuedAgeSeconds).toBeLessThan(3_600);
  });

  it('waitFor resolves with the finished job, and rejects when time runs out', async () => {
    const id = await queue.enqueue('awaited', {});
    await expect(queue.waitFor(id, { timeoutMs: 300, pollMs: 50 })).rejects.toThrow(/still queued/);
    setTimeout(() => void sql`UPDATE jobs SET status = 'completed', finished_at = now() WHERE id = ${id}`.execute(db), 200);
    expect(await queue.waitFor(id, { timeoutMs: 10_000, pollMs: 50 })).toMatchObject({ id, status: 'completed' });
    await expect(queue.waitFor('00000000-0000-4000-8000-000000000000', { timeoutMs: 100 })).rejects.toThrow(/no job/);
  });
});

describe('maintenance', () => {
  it('retryDead puts a dead job back in the queue with its attempts reset, and only a dead one', async () => {
    const id = await queue.enqueue('fragile', {});
    expect(await queue.retryDead(id)).toBe(false);
    await sql`UPDATE jobs SET status = 'dead', attempts = 5, last_error = 'boom', finished_at = now() WHERE id = ${id}`.execute(db);
    expect(await queue.retryDead(id)).toBe(true);
    expect(await queue.get(id)).toMatchObject({ status: 'queued', attempts: 0, finishedAt: null, lastError: 'boom' });
  });

  it('deleteFinishedBefore removes completed and dead jobs finished before the date, and nothing else', async () => {
    const oldDone = await queue.enqueue('kept?', {});
    const oldDead = await queue.enqueue('kept?', {});
    const recentDone = await queue.enqueue('kept?', {});
    const queued = await queue.enqueue('kept?', {});
    await sql`UPDATE jobs SET status = 'completed', finished_at = now() - interval '40 days' WHERE id = ${oldDone}`.execute(db);
    await sql`UPDATE jobs SET status = 'dead', finished_at = now() - interval '40 days' WHERE id = ${oldDead}`.execute(db);
    await sql`UPDATE jobs SET status = 'completed', finished_at = now() - interval '1 day' WHERE id = ${recentDone}`.execute(db);

    const deleted = await queue.deleteFinishedBefore(new Date(Date.now() - 30 * 86_400_000));
    expect(deleted).toBe(2);
    expect(await queue.get(oldDone)).toBeNull();
    expect(await queue.get(oldDead)).toBeNull();
    expect(await queue.get(recentDone)).not.toBeNull();
    expect(await queue.get(queued)).not.toBeNull();
  });

  it('setSchedule registers a cron schedule, keeps its next slot when re-registered unchanged, and refuses bad cron', async () => {
    await queue.setSchedule('stats.aggregate', '*/5 * * * *');
    const read = () =>
      sql<{ cron: string; next_run_at: Date }>`SELECT cron, next_run_at FROM job_schedules WHERE name = 'stats.aggregate'`.execute(db);
    const first = (await read()).rows[0]!;
    expect(first.cron).toBe('*/5 * * * *');
    expect(first.next_run_at.getTime()).toBeGreaterThan(Date.now() - 1_000);
    expect(first.next_run_at.getUTCMinutes() % 5).toBe(0);

    await sql`UPDATE job_schedules SET next_run_at = next_run_at + interval '1 hour' WHERE name = 'stats.aggregate'`.execute(db);
    const moved = (await read()).rows[0]!.next_run_at;
    await queue.setSchedule('stats.aggregate', '*/5 * * * *');
    expect((await read()).rows[0]!.next_run_at).toEqual(moved);

    await queue.setSchedule('stats.aggregate', '0 4 * * *');
    const changed = (await read()).rows[0]!;
    expect(changed.cron).toBe('0 4 * * *');
    expect(changed.next_run_at.getUTCHours()).toBe(4);

    await expect(queue.setSchedule('broken', 'not cron')).rejects.toThrow(/not a valid cron expression/);
  });
});
