import { Kysely, PostgresDialect, sql } from 'kysely';
import { Type } from 'typebox';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { anyPayloadJobs, useQueueHarness } from '../../../tests/support/queue.js';
import { startTcpProxy } from '../../../tests/support/tcp-proxy.js';
import { createNotifier } from '../db/notifier.js';
import { createQueue, createWorker, JobPayloadError, type JobContext, type JobFinishedInfo } from './index.js';

const JOBS = {
  // A job with a payload schema, as the app's are (src/app/job-payloads.ts).
  'typed.run': Type.Object({ photoId: Type.String() }, { additionalProperties: false }),
  ...anyPayloadJobs(
    'after.stop',
    'basic.run',
    'delayed.run',
    'finishing.run',
    'flaky.run',
    'heartbeat.run',
    'interrupted.run',
    'limited.run',
    'long.run',
    'mine.only',
    'notified.run',
    'odd.failure',
    'poison.run',
    'shared.run',
    'someone.else',
    'stolen.run',
    'stranded.run',
  ),
};
const h = useQueueHarness('worker-test', JOBS);

// Short leases and polls keep the suite fast; each test uses job names of its own.
const startWorker = h.startWorker;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
}

async function row(id: string) {
  return (await h.queue.get(id))!;
}

describe('running jobs', () => {
  it('runs an enqueued job to completed, handing the handler its payload, attempt and trace', async () => {
    const seen: JobContext[] = [];
    const finished: JobFinishedInfo[] = [];
    startWorker({ handlers: { 'basic.run': async (job) => void seen.push(job) }, onJobFinished: (info) => finished.push(info) });
    const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const id = await h.queue.enqueue('basic.run', { photoId: 'p9' }, { trace });

    const job = await h.queue.waitFor(id, { timeoutMs: 20_000 });
    expect(job).toMatchObject({ status: 'completed', attempts: 1, lockedBy: null, lockedUntil: null, lastError: null });
    expect(job.startedAt).not.toBeNull();
    expect(job.finishedAt!.getTime()).toBeGreaterThanOrEqual(job.startedAt!.getTime());
    expect(seen).toEqual([{ id, name: 'basic.run', payload: { photoId: 'p9' }, attempt: 1, trace }]);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ name: 'basic.run', outcome: 'completed' });
    expect(finished[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(finished[0]!.queueLatencyMs).toBeGreaterThanOrEqual(0);
  });

  it('leaves jobs it has no handler for to other workers', async () => {
    startWorker({ handlers: { 'mine.only': async () => undefined } });
    const other = await h.queue.enqueue('someone.else', {});
    const mine = await h.queue.enqueue('mine.only', {});
    await h.queue.waitFor(mine, { timeoutMs: 20_000 });
    await sleep(300);
    expect((await row(other)).status).toBe('queued');
  });

  it('does not run a job before its runAt', async () => {
    const ran: number[] = [];
    startWorker({ handlers: { 'delayed.run': async () => void ran.push(Date.now()) } });
    const runAt = new Date(Date.now() + 1_500);
    const id = await h.queue.enqueue('delayed.run', {}, { runAt });
    await h.queue.waitFor(id, { timeoutMs: 20_000 });
    expect(ran[0]).toBeGreaterThanOrEqual(runAt.getTime());
  });

  it('never runs more jobs at once than its concurrency', async () => {
    let active = 0;
    let peak = 0;
    startWorker({
      concurrency: 3,
      handlers: {
        'limited.run': async () => {
          active++;
          peak = Math.max(peak, active);
          await sleep(150);
          active--;
        },
      },
    });
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => h.queue.enqueue('limited.run', { i })));
    for (const id of ids) expect((await h.queue.waitFor(id, { timeoutMs: 30_000 })).status).toBe('completed');
    expect(peak).toBe(3);
  });

  it('shares jobs among workers so that each runs exactly once', async () => {
    const runs = new Map<string, number>();
    const handlers = { 'shared.run': async (job: JobContext) => void runs.set(job.id, (runs.get(job.id) ?? 0) + 1) };
    for (let i = 0; i < 3; i++) startWorker({ handlers, concurrency: 4 });
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => h.queue.enqueue('shared.run', { i })));
    for (const id of ids) await h.queue.waitFor(id, { timeoutMs: 30_000 });
    expect(runs.size).toBe(40);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
  });
});

describe('failures', () => {
  it('retries a failing job with growing delays, ends it dead with last_error, and runs it again after retryDead', async () => {
    const baseMs = 200;
    const startedAt: number[] = [];
    const outcomes: string[] = [];
    let healthy = false;
    startWorker({
      retryBaseMs: baseMs,
      handlers: {
        'flaky.run': async (job) => {
          startedAt.push(Date.now());
          if (!healthy) throw new Error(`the image service is down (attempt ${job.attempt})`);
        },
      },
      onJobFinished: (info) => outcomes.push(info.outcome),
    });
    const id = await h.queue.enqueue('flaky.run', {}, { maxAttempts: 4 });

    const dead = await h.queue.waitFor(id, { timeoutMs: 30_000 });
    expect(dead).toMatchObject({ status: 'dead', attempts: 4, lockedBy: null });
    expect(dead.lastError).toContain('the image service is down (attempt 4)');
    expect(dead.finishedAt).not.toBeNull();
    expect(outcomes).toEqual(['retry', 'retry', 'retry', 'dead']);
    // Each wait is at least the planned delay less its 20% jitter: 160, 320, 640 ms.
    const gaps = startedAt.slice(1).map((time, i) => time - startedAt[i]!);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(baseMs * 2 ** i * 0.8 - 5));

    healthy = true;
    expect(await h.queue.retryDead(id)).toBe(true);
    const revived = await h.queue.waitFor(id, { timeoutMs: 20_000 });
    expect(revived).toMatchObject({ status: 'completed', attempts: 1 });
    expect(startedAt).toHaveLength(5);
  });

  it('records a thrown non-Error too', async () => {
    startWorker({
      handlers: {
        'odd.failure': async () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- what a handler throwing a non-Error does is under test
          throw 'plain string';
        },
      },
    });
    const id = await h.queue.enqueue('odd.failure', {}, { maxAttempts: 1 });
    expect(await h.queue.waitFor(id, { timeoutMs: 20_000 })).toMatchObject({ status: 'dead', lastError: 'plain string' });
  });
});

describe('leases', () => {
  async function strandJob(name: keyof typeof JOBS, attempts = 1, maxAttempts = 5): Promise<string> {
    const id = await h.queue.enqueue(name, {}, { maxAttempts });
    // What a worker that died mid-job leaves behind once its lease has run out.
    await sql`UPDATE jobs SET status = 'running', attempts = ${attempts}, locked_by = 'ghost-worker', started_at = now() - interval '10 seconds',
      locked_until = now() - interval '1 second' WHERE id = ${id}`.execute(h.db);
    return id;
  }

  it('reclaims a running job whose lease expired and runs it as the next attempt', async () => {
    const attempts: number[] = [];
    const id = await strandJob('stranded.run');
    startWorker({ handlers: { 'stranded.run': async (job) => void attempts.push(job.attempt) } });
    const job = await h.queue.waitFor(id, { timeoutMs: 20_000 });
    expect(job).toMatchObject({ status: 'completed', attempts: 2 });
    expect(job.lastError).toMatch(/lease expired: worker ghost-worker/);
    expect(attempts).toEqual([2]);
  });

  it('ends a job dead when its expired lease was its last attempt', async () => {
    const ran: string[] = [];
    const id = await strandJob('poison.run', 3, 3);
    startWorker({ handlers: { 'poison.run': async (job) => void ran.push(job.id) } });
    const job = await h.queue.waitFor(id, { timeoutMs: 20_000 });
    expect(job).toMatchObject({ status: 'dead', attempts: 3 });
    expect(job.lastError).toMatch(/lease expired/);
    expect(ran).toEqual([]);
  });

  it('keeps a long job leased with heartbeats, so nobody else takes it', async () => {
    const runs: string[] = [];
    const handlers = {
      'long.run': async (job: JobContext) => {
        runs.push(job.id);
        await sleep(3_000);
      },
    };
    startWorker({ handlers, leaseSeconds: 1 });
    startWorker({ handlers, leaseSeconds: 1 });
    const id = await h.queue.enqueue('long.run', {});
    const job = await h.queue.waitFor(id, { timeoutMs: 30_000 });
    expect(job).toMatchObject({ status: 'completed', attempts: 1 });
    expect(runs).toEqual([id]);
  });

  it('aborts a handler whose lease was taken away, and records nothing for it', async () => {
    let abortReason: unknown;
    const worker = startWorker({
      handlers: {
        'stolen.run': async (_job, signal) => {
          await untilAborted(signal).catch((error: unknown) => {
            abortReason = error;
            throw error;
          });
        },
      },
    });
    const id = await h.queue.enqueue('stolen.run', {});
    await expect.poll(async () => (await row(id)).lockedBy, { timeout: 10_000 }).toBe(worker.id);
    await sql`UPDATE jobs SET locked_by = 'another-worker' WHERE id = ${id}`.execute(h.db);
    await expect.poll(() => abortReason, { timeout: 10_000 }).toBeInstanceOf(Error);
    expect((abortReason as Error).message).toMatch(/lease was lost/);
    await sleep(200);
    expect(await row(id)).toMatchObject({ status: 'running', lockedBy: 'another-worker', lastError: null });
  });
});

describe('stopping', () => {
  it('lets a job that finishes within the grace period complete', async () => {
    const worker = startWorker({ handlers: { 'finishing.run': () => sleep(500) } });
    const id = await h.queue.enqueue('finishing.run', {});
    await expect.poll(async () => (await row(id)).status, { timeout: 10_000 }).toBe('running');
    await worker.stop({ graceMs: 10_000 });
    expect(await row(id)).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('aborts an unfinished job after the grace period and releases it, so another worker takes it at once', async () => {
    let aborted = false;
    const first = startWorker({
      handlers: {
        'interrupted.run': async (_job, signal) => {
          await untilAborted(signal).catch((error: unknown) => {
            aborted = true;
            throw error;
          });
        },
      },
    });
    const id = await h.queue.enqueue('interrupted.run', {});
    await expect.poll(async () => (await row(id)).status, { timeout: 10_000 }).toBe('running');
    await first.stop({ graceMs: 200 });
    expect(aborted).toBe(true);
    expect(await row(id)).toMatchObject({ status: 'queued', attempts: 0, lockedBy: null, lockedUntil: null });

    const attempts: number[] = [];
    startWorker({ handlers: { 'interrupted.run': async (job) => void attempts.push(job.attempt) } });
    expect(await h.queue.waitFor(id, { timeoutMs: 20_000 })).toMatchObject({ status: 'completed', attempts: 1 });
    expect(attempts).toEqual([1]);
  });

  it('stops claiming: a job enqueued after stop stays queued', async () => {
    const worker = startWorker({ handlers: { 'after.stop': async () => undefined } });
    await worker.stop();
    const id = await h.queue.enqueue('after.stop', {});
    await sleep(300);
    expect((await row(id)).status).toBe('queued');
  });
});

describe('notifications', () => {
  async function listenerPid(): Promise<number | undefined> {
    const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'epu-jobs-listener' AND query LIKE 'LISTEN%'`.execute(h.db);
    return rows[0]?.pid;
  }

  it('wakes on NOTIFY without polling, and listens again after its connection is killed', async () => {
    // A poll interval far beyond the test's timeouts: only a notification can start these jobs.
    startWorker({ pollIntervalMs: 600_000, handlers: { 'notified.run': async () => undefined } });
    await expect.poll(listenerPid, { timeout: 10_000 }).toBeTypeOf('number');
    const before = (await listenerPid())!;
    await sleep(100);

    const first = await h.queue.enqueue('notified.run', {});
    expect((await h.queue.waitFor(first, { timeoutMs: 10_000 })).status).toBe('completed');

    await sql`SELECT pg_terminate_backend(${before})`.execute(h.db);
    await expect.poll(async () => (await listenerPid()) ?? before, { timeout: 10_000 }).not.toBe(before);
    await sleep(100);
    const second = await h.queue.enqueue('notified.run', {});
    expect((await h.queue.waitFor(second, { timeoutMs: 10_000 })).status).toBe('completed');
  });
});

describe('health', () => {
  it('has a heartbeat while its loop reaches the queue, loses it a lease period after the database goes, and gets it back', async () => {
    // The worker's own queue and pool reach the database through a proxy the test can cut.
    const target = new URL(h.database.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const proxied = new URL(h.database.url);
    proxied.port = String(proxy.port);
    const pool = new pg.Pool({ connectionString: proxied.href, max: 4 });
    // The cut resets every connection, idle or checked out between two queries: neither may crash the run.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    const queue = createQueue({ db, pool, jobs: JOBS, logger: h.logger, notifier: createNotifier({ pool }) });
    const worker = createWorker({
      queue,
      pool,
      handlers: { 'heartbeat.run': async () => undefined },
      concurrency: 1,
      leaseSeconds: 1,
      pollIntervalMs: 100,
      logger: h.logger,
    });
    const heartbeat = () => worker.checkHeartbeat().then(String, (error: Error) => error.message);
    try {
      expect(await heartbeat()).toBe('the worker is new');
      worker.start();
      await expect.poll(heartbeat, { timeout: 10_000 }).toBe('ok');
      await expect.poll(() => worker.checkNotifications(), { timeout: 10_000 }).toBe('ok');

      await proxy.cut();
      await expect.poll(heartbeat, { timeout: 10_000 }).toMatch(/^no round trip to the queue for \d+ s \(the lease is 1 s\)$/);
      expect(await worker.checkNotifications()).toBe('degraded');

      await proxy.restore();
      await expect.poll(heartbeat, { timeout: 10_000 }).toBe('ok');
      await worker.stop({ graceMs: 0 });
      expect(await heartbeat()).toBe('the worker is stopped');
    } finally {
      await worker.stop({ graceMs: 0 });
      await proxy.close();
      await db.destroy();
    }
  });
});

describe('payloads', () => {
  it("refuses to enqueue a payload that is not its job's, or a job that does not exist, and writes nothing", async () => {
    await expect(h.queue.enqueue('typed.run', { photoId: 7 } as never)).rejects.toThrow(
      new JobPayloadError('the payload of job typed.run is not valid: /photoId must be string'),
    );
    await expect(h.queue.enqueue('no.such.job' as never, {} as never)).rejects.toThrow(JobPayloadError);
    await expect(h.queue.enqueue('no.such.job' as never, {} as never)).rejects.toThrow(
      /^there is no job named "no.such.job" \(known jobs: after.stop, /,
    );
    expect(() => h.queue.outbox('typed.run', {} as never)).toThrow(
      'the payload of job typed.run is not valid: the payload must have required properties photoId',
    );
    const written = await sql<{ n: number }>`SELECT count(*)::int AS n FROM jobs WHERE name IN ('typed.run', 'no.such.job')`.execute(h.db);
    expect(written.rows[0]!.n).toBe(0);
  });

  it("buries a stored job whose payload is not its job's (dead at once, with the reason) and goes on with the next", async () => {
    const seen: string[] = [];
    const finished: JobFinishedInfo[] = [];
    startWorker({
      handlers: { 'typed.run': async (job) => void seen.push(job.payload.photoId) },
      onJobFinished: (info) => finished.push(info),
    });
    // Written by hand (or by an older release), not through enqueue, which would refuse it.
    const { rows } = await sql<{ id: string }>`INSERT INTO jobs (name, payload) VALUES ('typed.run', '{"photo": 1}') RETURNING id`.execute(
      h.db,
    );
    const stored = rows[0]!.id;
    const next = await h.queue.enqueue('typed.run', { photoId: 'p1' });

    expect(await h.queue.waitFor(stored, { timeoutMs: 20_000 })).toMatchObject({
      status: 'dead',
      attempts: 1,
      lastError:
        'JobPayloadError: the payload of job typed.run is not valid: the payload must have required properties photoId; the payload must not have additional properties (photo)',
    });
    expect(await h.queue.waitFor(next, { timeoutMs: 20_000 })).toMatchObject({ status: 'completed' });
    expect(seen).toEqual(['p1']);
    expect(finished.map((info) => info.outcome).sort()).toEqual(['completed', 'dead']);
  });
});
