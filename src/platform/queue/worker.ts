import crypto from 'node:crypto';
import os from 'node:os';
import type pg from 'pg';
import { within } from '../lifecycle.js';
import type { Logger } from '../observability/logger.js';
import { captureError } from '../observability/sentry.js';
import { retryDelayMs } from './backoff.js';
import type { ClaimedJob } from './jobs.repository.js';
import { batchedCompletions } from './completions.js';
import { createJobListener } from './listener.js';
import { internalsOf, type Queue } from './queue.js';
import { JobPayloadError, payloadProblem, type JobPayloads, type PayloadOf } from './payloads.js';
import { nextSlot } from './schedule.js';

export interface JobContext<P = unknown> {
  id: string;
  name: string;
  /** Checked against the job's schema before the handler runs. */
  payload: P;
  /** 1 on the first run, 2 on the first retry, and so on. */
  attempt: number;
  trace: Record<string, string> | null;
}

/** What a run did, in figures (say, rows removed); `epu jobs run` prints it. */
export type JobSummary = Record<string, unknown>;

/**
 * Aborts the signal when the worker is stopping (after its grace period) or lost the job's lease.
 * May resolve with a summary of what the run did.
 */
export type JobHandler<P = unknown> = (job: JobContext<P>, signal: AbortSignal) => Promise<JobSummary | void>;

/** A handler for every job of `J`, each taking its own payload. */
export type JobHandlers<J extends JobPayloads> = { [N in keyof J]: JobHandler<PayloadOf<J, N>> };

export interface JobFinishedInfo {
  name: string;
  outcome: 'completed' | 'retry' | 'dead';
  durationMs: number;
  /** From the time the job was due to the time a worker took it. */
  queueLatencyMs: number;
}

export interface WorkerOptions<J extends JobPayloads> {
  queue: Queue<J>;
  pool: pg.Pool;
  /** The jobs this worker runs (all of the queue's, or some). */
  handlers: Partial<JobHandlers<J>>;
  concurrency: number;
  /** How long a job stays this worker's without a heartbeat: how soon a killed worker's job runs again. */
  leaseSeconds?: number;
  /** Fallback when notifications are missed, and the pace of the scheduler and of lease reclaiming. */
  pollIntervalMs?: number;
  workerId?: string;
  /** First retry delay; each further retry doubles it. */
  retryBaseMs?: number;
  logger: Logger;
  onJobFinished?: (info: JobFinishedInfo) => void;
}

export interface Worker {
  readonly id: string;
  start(): void;
  /** Stops claiming, lets running jobs finish for `graceMs`, then aborts them and hands back the unfinished. */
  stop(options?: { graceMs?: number }): Promise<void>;
  /**
   * The worker's heartbeat, a health check: 'ok' while its loop reached the
   * queue within one lease period; past that, the leases of its running jobs
   * have lapsed and other workers take them over, so it throws.
   */
  checkHeartbeat(): Promise<'ok'>;
  /** 'ok' while job notifications arrive; 'degraded' while the listener reconnects (polling keeps jobs moving). */
  checkNotifications(): Promise<'ok' | 'degraded'>;
}

// After the abort, handlers get this long to give up before their jobs are released anyway.
const ABORT_WAIT_MS = 5_000;
const MAX_ERROR_LENGTH = 8_000;

interface RunningJob {
  job: ClaimedJob;
  controller: AbortController;
  abortedFor: 'shutdown' | 'lease-lost' | null;
  done: Promise<void>;
}

/** A sleep that a wake-up cuts short; a wake-up while awake is kept for the next sleep. */
function createWake() {
  let pending = false;
  let sleeper: (() => void) | null = null;
  return {
    wake(): void {
      pending = true;
      sleeper?.();
    },
    clear(): void {
      pending = false;
    },
    sleep(ms: number): Promise<void> {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          sleeper = null;
          pending = false;
          resolve();
        }
        sleeper = done;
      });
    },
  };
}

function describeError(error: unknown): string {
  if (error instanceof JobPayloadError) return `${error.name}: ${error.message}`;
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}

export function createWorker<J extends JobPayloads>(options: WorkerOptions<J>): Worker {
  const { queue, pool, handlers, concurrency, logger, onJobFinished } = options;
  const leaseSeconds = options.leaseSeconds ?? 30;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const retryBaseMs = options.retryBaseMs ?? 2_000;
  const workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  const names = Object.keys(handlers);
  const { repository, jobs } = internalsOf(queue);
  const log = logger.child({ worker: workerId });
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`concurrency must be a whole number of at least 1, not ${concurrency}`);
  if (!(leaseSeconds > 0)) throw new Error(`leaseSeconds must be positive, not ${leaseSeconds}`);

  // Keyed by id and attempt: after a lost lease the same job may be claimed again while the old run winds down.
  const running = new Map<string, RunningJob>();
  let state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  let claimLoop: Promise<void> = Promise.resolve();
  let scheduleLoop: Promise<void> = Promise.resolve();
  let heartbeatTimer: NodeJS.Timeout | undefined;
  // When the claim loop last completed a round trip to the queue (null before the first).
  let lastRoundTripAt: number | null = null;

  const completions = batchedCompletions((runs) => repository.completeMany(workerId, runs));
  const claimWake = createWake();
  const scheduleWake = createWake();

  const listener = createJobListener({
    pool,
    logger: log,
    onJob: (name) => {
      if (Object.hasOwn(handlers, name)) claimWake.wake();
    },
    onListening: () => claimWake.wake(),
  });

  async function reclaimExpiredLeases(): Promise<void> {
    for (const job of await repository.reclaimExpired()) {
      log.warn(
        { job: job.id, jobName: job.name, previousWorker: job.previousWorker, status: job.status },
        'reclaimed a job whose lease expired',
      );
    }
  }

  async function runClaimLoop(): Promise<void> {
    let lastReclaim = 0;
    while (state === 'running') {
      try {
        if (Date.now() - lastReclaim >= pollIntervalMs) {
          lastReclaim = Date.now();
          await reclaimExpiredLeases();
          lastRoundTripAt = Date.now();
        }
        const free = concurrency - running.size;
        if (free > 0) {
          claimWake.clear();
          const claimed = await repository.claim({ workerId, names, limit: free, leaseSeconds });
          lastRoundTripAt = Date.now();
          for (const job of claimed) startJob(job);
          // A full batch suggests more are waiting: claim again as soon as a slot frees up.
          if (claimed.length === free) continue;
        }
      } catch (error) {
        log.error({ err: error }, 'could not claim jobs; trying again');
      }
      await claimWake.sleep(pollIntervalMs);
    }
  }

  function startJob(job: ClaimedJob): void {
    const key = `${job.id}:${job.attempts}`;
    const entry: RunningJob = { job, controller: new AbortController(), abortedFor: null, done: Promise.resolve() };
    entry.done = runJob(entry).finally(() => {
      running.delete(key);
      claimWake.wake();
    });
    running.set(key, entry);
  }

  async function runJob(entry: RunningJob): Promise<void> {
    const { job, controller } = entry;
    const jobLog = log.child({ job: job.id, jobName: job.name, attempt: job.attempts });
    const handler = handlers[job.name] as JobHandler;
    const started = performance.now();
    const context: JobContext = { id: job.id, name: job.name, payload: job.payload, attempt: job.attempts, trace: job.trace };
    let outcome: JobFinishedInfo['outcome'] | null;
    try {
      let failure: { error: unknown } | null = null;
      try {
        // A stored payload that is not the job's (written by hand, or by an older release) would fail every attempt the same way.
        const problem = payloadProblem(jobs, job.name, job.payload);
        if (problem) throw new JobPayloadError(problem);
        await handler(context, controller.signal);
      } catch (error) {
        failure = { error };
      }
      if (!failure) {
        outcome = (await completions.complete({ id: job.id, attempt: job.attempts })) ? 'completed' : null;
      } else if (entry.abortedFor === 'shutdown') {
        await repository.release(workerId, [job.id]);
        jobLog.info('job interrupted by shutdown and released');
        return;
      } else if (entry.abortedFor === 'lease-lost') {
        jobLog.warn({ err: failure.error }, 'job stopped after its lease was lost; another worker runs it');
        return;
      } else {
        // A payload that is not the job's is dead at once: another attempt would fail the same way.
        const delayMs = failure.error instanceof JobPayloadError ? null : retryDelayMs(job.attempts, retryBaseMs);
        const status = await repository.fail(job.id, workerId, job.attempts, describeError(failure.error), delayMs);
        outcome = status === 'dead' ? 'dead' : status === 'queued' ? 'retry' : null;
        if (outcome === 'dead') {
          jobLog.error({ err: failure.error }, 'job failed for the last time: dead');
          captureError(failure.error, { job: job.name });
        } else if (outcome === 'retry') jobLog.warn({ err: failure.error, retryInMs: delayMs }, 'job failed; it will be retried');
      }
    } catch (error) {
      // The database is unreachable: the lease runs out and another attempt follows.
      jobLog.error({ err: error }, 'could not record the outcome of a job');
      return;
    }
    if (outcome === null) {
      jobLog.warn('job finished after its lease was lost; its outcome was not recorded');
      return;
    }
    if (outcome === 'completed') jobLog.debug('job completed');
    try {
      onJobFinished?.({
        name: job.name,
        outcome,
        durationMs: performance.now() - started,
        queueLatencyMs: Math.max(0, job.startedAt.getTime() - job.runAt.getTime()),
      });
    } catch (error) {
      jobLog.warn({ err: error }, 'the onJobFinished hook threw');
    }
  }

  async function heartbeat(): Promise<void> {
    const entries = [...running.values()].filter((entry) => entry.abortedFor === null);
    if (entries.length === 0) return;
    try {
      const held = await repository.heartbeat(workerId, [...new Set(entries.map((entry) => entry.job.id))], leaseSeconds);
      for (const entry of entries) {
        if (held.has(entry.job.id) || !running.has(`${entry.job.id}:${entry.job.attempts}`)) continue;
        log.warn({ job: entry.job.id, jobName: entry.job.name }, 'lost the lease of a running job: aborting it');
        entry.abortedFor = 'lease-lost';
        entry.controller.abort(new Error('the job lease was lost'));
      }
    } catch (error) {
      log.error({ err: error }, 'could not extend job leases');
    }
  }

  async function fireDueSchedules(): Promise<void> {
    for (const schedule of await repository.dueSchedules()) {
      let next: Date;
      try {
        const now = new Date();
        next = nextSlot(schedule.cron, schedule.next_run_at > now ? schedule.next_run_at : now);
      } catch (error) {
        log.error({ err: error, schedule: schedule.name, cron: schedule.cron }, 'schedule has an invalid cron expression');
        continue;
      }
      // Moving the schedule on and enqueueing its job commit together: a slot is never lost nor fired twice.
      const fired = await repository.inTransaction(async (trx) => {
        const slot = await repository.claimScheduleSlot(trx, schedule.name, next);
        if (!slot) return null;
        const scheduledFor = slot.toISOString();
        const id = await repository.insert(
          { name: schedule.name, payload: { scheduledFor }, key: `schedule:${schedule.name}:${scheduledFor}` },
          trx,
        );
        return { id, scheduledFor };
      });
      if (fired) {
        log.info({ schedule: schedule.name, job: fired.id, scheduledFor: fired.scheduledFor, nextRunAt: next }, 'schedule fired');
        // This worker fired it, so it need not wait for a poll; others learn of it by polling.
        if (Object.hasOwn(handlers, schedule.name)) claimWake.wake();
      }
    }
  }

  async function runScheduleLoop(): Promise<void> {
    while (state === 'running') {
      try {
        await fireDueSchedules();
      } catch (error) {
        log.error({ err: error }, 'could not run due schedules');
      }
      await scheduleWake.sleep(pollIntervalMs);
    }
  }

  return {
    id: workerId,

    start() {
      if (state !== 'new') throw new Error('a worker starts once');
      state = 'running';
      listener.start();
      heartbeatTimer = setInterval(() => void heartbeat(), (leaseSeconds * 1000) / 3);
      claimLoop = runClaimLoop();
      scheduleLoop = runScheduleLoop();
      log.info({ jobs: names, concurrency, leaseSeconds }, 'worker started');
    },

    async stop({ graceMs = 10_000 } = {}) {
      if (state !== 'running') return;
      state = 'stopping';
      claimWake.wake();
      scheduleWake.wake();
      await Promise.all([claimLoop, scheduleLoop]);
      await listener.stop();

      const settled = () => Promise.allSettled([...running.values()].map((entry) => entry.done));
      if (!(await within(settled(), graceMs))) {
        for (const entry of running.values()) {
          entry.abortedFor = 'shutdown';
          entry.controller.abort(new Error('the worker is shutting down'));
        }
        if (!(await within(settled(), ABORT_WAIT_MS))) {
          const stuck = [...running.values()].map((entry) => entry.job.id);
          const released = await repository.release(workerId, stuck);
          log.warn({ jobs: stuck, released }, 'handlers ignored the abort: their jobs were released anyway');
        }
      }
      clearInterval(heartbeatTimer);
      state = 'stopped';
      log.info('worker stopped');
    },

    async checkHeartbeat() {
      if (state !== 'running') throw new Error(`the worker is ${state}`);
      if (lastRoundTripAt === null) throw new Error('no round trip to the queue yet');
      const silentMs = Date.now() - lastRoundTripAt;
      if (silentMs > leaseSeconds * 1000)
        throw new Error(`no round trip to the queue for ${Math.round(silentMs / 1000)} s (the lease is ${leaseSeconds} s)`);
      return 'ok';
    },

    async checkNotifications() {
      return listener.isListening() ? 'ok' : 'degraded';
    },
  };
}
