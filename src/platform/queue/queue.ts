import type { Kysely, Transaction } from 'kysely';
import type pg from 'pg';
import type { JobStatus } from '../db/schema.js';
import type { StatementWrite } from '../db/statement-write.js';
import type { Page } from '../http/pagination.js';
import type { Logger } from '../observability/logger.js';
import {
  createJobsRepository,
  jobInsertFrom,
  jobRowValues,
  type Job,
  type JobCounts,
  type JobsRepository,
  type QueueDatabase,
} from './jobs.repository.js';
import { nextSlot } from './schedule.js';
import { injectTraceContext } from '../observability/tracing.js';
import type { Notifier } from '../db/notifier.js';
import { afterCommit } from '../db/transaction.js';
import { JOBS_CHANNEL } from './listener.js';
import { JobPayloadError, payloadProblem, type JobPayloads, type PayloadOf } from './payloads.js';

export interface EnqueueOptions {
  /** Not before this time; default now. */
  runAt?: Date;
  /** Default 5. */
  maxAttempts?: number;
  /** While a job with this key is queued or running, enqueueing again returns that job's id. */
  key?: string;
  /** W3C trace context carrier (traceparent, tracestate), handed to the handler as-is. */
  trace?: Record<string, string>;
  /** The caller's transaction: the job exists only if that transaction commits. */
  executor?: Kysely<any> | Transaction<any>;
}

/**
 * A job written by the caller's own statement, in the same statement as the
 * change it belongs to (an outbox row without a transaction round trip).
 */
export type OutboxJob = StatementWrite;

/** Jobs named in `J` (see payloads.ts); a payload that is not its job's throws JobPayloadError. */
export interface Queue<J extends JobPayloads = JobPayloads> {
  enqueue<N extends keyof J & string>(name: N, payload: PayloadOf<J, N>, options?: EnqueueOptions): Promise<string>;
  /** A job for the caller's statement to write (see OutboxJob); `executor` does not apply. */
  outbox<N extends keyof J & string>(name: N, payload: PayloadOf<J, N>, options?: Omit<EnqueueOptions, 'executor'>): OutboxJob;
  get(id: string): Promise<Job | null>;
  /** Newest first, for the admin page; `before` is the previous page's `nextCursor`. */
  list(options: { status?: JobStatus; limit: number; before?: string }): Promise<Page<Job>>;
  counts(): Promise<JobCounts>;
  retryDead(id: string): Promise<boolean>;
  /** Resolves with the job once it is completed or dead; rejects after `timeoutMs`. */
  waitFor(id: string, options: { timeoutMs: number; pollMs?: number }): Promise<Job>;
  deleteFinishedBefore(date: Date): Promise<number>;
  /** Registers or updates a cron schedule (UTC) that enqueues job `name` once per slot. */
  setSchedule(name: string, cron: string): Promise<void>;
}

export interface QueueDependencies<J extends JobPayloads> {
  db: Kysely<any>;
  /** Every job this queue takes, with its payload's schema. */
  jobs: J;
  pool: pg.Pool;
  logger: Logger;
  /** Wakes idle workers once a due job is committed (see platform/db/notifier.ts); without it they find it by polling. */
  notifier?: Notifier;
}

/** How long a wake-up waits when the enqueuing transaction was not opened by platform/db `transaction`, whose commit it cannot see. */
const BLIND_WAKE_DELAY_MS = 100;

// The worker reaches the queue's SQL and job map through here, so that they stay out of the public interface.
const internals = new WeakMap<Queue<any>, { repository: JobsRepository; jobs: JobPayloads }>();

export function internalsOf(queue: Queue<any>): { repository: JobsRepository; jobs: JobPayloads } {
  const found = internals.get(queue);
  if (!found) throw new Error('not a queue made by createQueue');
  return found;
}

/** The enqueuing request's trace, so the job's run continues it; null when tracing is off. */
function activeTrace(): Record<string, string> | undefined {
  const carrier = injectTraceContext();
  return Object.keys(carrier).length ? carrier : undefined;
}

function checkJob(jobs: JobPayloads, name: string, payload: unknown, options: EnqueueOptions): void {
  const problem = payloadProblem(jobs, name, payload);
  if (problem) throw new JobPayloadError(problem);
  if (options.maxAttempts !== undefined && (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1)) {
    throw new Error(`maxAttempts must be a whole number of at least 1, not ${options.maxAttempts}`);
  }
}

export function createQueue<J extends JobPayloads>({ db, jobs, logger, notifier }: QueueDependencies<J>): Queue<J> {
  const repository = createJobsRepository(db as Kysely<QueueDatabase>);
  let warnedBlind = false;

  const wake = (name: string) => {
    notifier?.notify(JOBS_CHANNEL, name).catch((error: Error) => logger.warn({ err: error }, 'could not wake workers; they will poll'));
  };
  /** Wakes workers for a due job once the enqueue is committed; never inside the enqueuing transaction (no NOTIFY there). */
  const wakeAfterCommit = (name: string, executor: Kysely<any>) => {
    if (afterCommit(executor, () => wake(name))) return;
    if (!warnedBlind) {
      warnedBlind = true;
      logger.warn({ jobName: name }, 'a job was enqueued in a transaction not opened by platform/db transaction(): workers wake late');
    }
    setTimeout(() => wake(name), BLIND_WAKE_DELAY_MS).unref();
  };

  const queue: Queue<J> = {
    async enqueue(name, payload, options = {}) {
      checkJob(jobs, name, payload, options);
      const id = await repository.insert(
        { name, payload, runAt: options.runAt, maxAttempts: options.maxAttempts, key: options.key, trace: options.trace ?? activeTrace() },
        options.executor as Kysely<QueueDatabase> | undefined,
      );
      logger.debug({ job: id, jobName: name, key: options.key }, 'job enqueued');
      if (!options.runAt || options.runAt.getTime() <= Date.now()) wakeAfterCommit(name, options.executor ?? db);
      return id;
    },

    outbox(name, payload, options = {}) {
      checkJob(jobs, name, payload, options);
      const job = {
        name,
        payload,
        runAt: options.runAt,
        maxAttempts: options.maxAttempts,
        key: options.key,
        trace: options.trace ?? activeTrace(),
      };
      return {
        kind: 'job',
        insertFrom: jobInsertFrom,
        values: jobRowValues(job),
        written: () => {
          if (!options.runAt || options.runAt.getTime() <= Date.now()) wake(name);
        },
      };
    },

    get: (id) => repository.findById(id),

    list: ({ status, limit, before }) => repository.list({ status, limit, cursor: before }),

    counts: () => repository.counts(),

    async retryDead(id) {
      const retried = await repository.retryDead(id);
      if (retried) wake(retried);
      return retried !== null;
    },

    async waitFor(id, { timeoutMs, pollMs = 250 }) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await repository.findById(id);
        if (!job) throw new Error(`there is no job ${id}`);
        if (job.status === 'completed' || job.status === 'dead') return job;
        if (Date.now() >= deadline) throw new Error(`job ${id} (${job.name}) is still ${job.status} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
      }
    },

    deleteFinishedBefore: (date) => repository.deleteFinishedBefore(date),

    async setSchedule(name, cron) {
      let next: Date;
      try {
        next = nextSlot(cron, new Date());
      } catch (error) {
        throw new Error(`the schedule of ${name} is not a valid cron expression: ${cron}`, { cause: error });
      }
      await repository.upsertSchedule(name, cron, next);
    },
  };
  internals.set(queue, { repository, jobs });
  return queue;
}
