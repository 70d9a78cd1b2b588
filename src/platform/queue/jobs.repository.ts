import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { JobSchedulesTable, JobsTable, JobStatus } from '../db/schema.js';
import { decodeCursor, isUuid, toPage, type Page } from '../http/pagination.js';
import { transaction } from '../db/transaction.js';
import { parameters } from '../db/statement-write.js';

export interface QueueDatabase {
  jobs: JobsTable;
  job_schedules: JobSchedulesTable;
}

export type QueueExecutor = Kysely<QueueDatabase> | Transaction<QueueDatabase>;

export interface Job {
  id: string;
  name: string;
  payload: unknown;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  lockedBy: string | null;
  lockedUntil: Date | null;
  lastError: string | null;
  key: string | null;
  trace: Record<string, string> | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A job as the worker holds it while it runs: `attempts` is this run's attempt number. */
export interface ClaimedJob {
  id: string;
  name: string;
  payload: unknown;
  attempts: number;
  trace: Record<string, string> | null;
  runAt: Date;
  startedAt: Date;
}

export interface NewJob {
  name: string;
  payload: unknown;
  runAt?: Date;
  maxAttempts?: number;
  key?: string;
  trace?: Record<string, string>;
}

export interface JobCounts {
  queued: number;
  running: number;
  completed: number;
  dead: number;
  /** Seconds the oldest due, still queued job has waited; 0 when none waits. */
  oldestQueuedAgeSeconds: number;
}

export type JobsRepository = ReturnType<typeof createJobsRepository>;

function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    name: row.name,
    payload: row.payload,
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: row.run_at,
    lockedBy: row.locked_by,
    lockedUntil: row.locked_until,
    lastError: row.last_error,
    key: row.key,
    trace: row.trace,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

const ACTIVE: JobStatus[] = ['queued', 'running'];

/**
 * An INSERT of a job (its values: jobRowValues) for each row of `source` (a CTE of the caller's
 * statement; no row, no job), for a data-modifying WITH clause: the job is
 * written by the same statement as the change it belongs to. A job whose key
 * is held by a queued or running one is not added (as `insert` returns that one).
 */
export function jobInsertFrom(source: string, first: number): string {
  const $ = parameters(first);
  return `INSERT INTO jobs (name, payload, run_at, max_attempts, key, trace)
    SELECT ${$(0)}, ${$(1)}::jsonb, COALESCE(${$(2)}::timestamptz, now()), ${$(3)}::int, ${$(4)}, ${$(5)}::jsonb
    FROM "${source}"
    ON CONFLICT (key) WHERE key IS NOT NULL AND status IN ('queued', 'running') DO NOTHING`;
}

/** The values of jobInsertFrom's parameters, in order. */
export const jobRowValues = (job: NewJob): unknown[] => [
  job.name,
  JSON.stringify(job.payload ?? {}),
  job.runAt ?? null,
  job.maxAttempts ?? 5,
  job.key ?? null,
  job.trace ? JSON.stringify(job.trace) : null,
];

export function createJobsRepository(db: Kysely<QueueDatabase>) {
  return {
    inTransaction<T>(work: (trx: Transaction<QueueDatabase>) => Promise<T>): Promise<T> {
      return transaction(db, work);
    },

    /**
     * Inserts a job, or returns the id of the queued or running job that holds
     * the same key. Loops because that job may finish between the two statements.
     */
    async insert(job: NewJob, executor: QueueExecutor = db): Promise<string> {
      const values = {
        name: job.name,
        payload: JSON.stringify(job.payload ?? {}),
        ...(job.runAt ? { run_at: job.runAt } : {}),
        ...(job.maxAttempts ? { max_attempts: job.maxAttempts } : {}),
        key: job.key ?? null,
        trace: job.trace ? JSON.stringify(job.trace) : null,
      };
      if (!job.key) {
        const row = await executor.insertInto('jobs').values(values).returning('id').executeTakeFirstOrThrow();
        return row.id;
      }
      for (let attempt = 0; attempt < 5; attempt++) {
        const inserted = await executor
          .insertInto('jobs')
          .values(values)
          // The arbiter repeats the partial index's predicate as literals: as parameters, a prepared
          // statement's generic plan (DATABASE_PREPARED_STATEMENTS) could not infer the index.
          .onConflict((conflict) =>
            conflict
              .column('key')
              .where(sql<boolean>`key IS NOT NULL AND status IN ('queued', 'running')`)
              .doNothing(),
          )
          .returning('id')
          .executeTakeFirst();
        if (inserted) return inserted.id;
        const existing = await executor
          .selectFrom('jobs')
          .select('id')
          .where('key', '=', job.key)
          .where('status', 'in', ACTIVE)
          .executeTakeFirst();
        if (existing) return existing.id;
      }
      throw new Error(`could not enqueue job ${job.name} with key ${job.key}: the key kept changing hands`);
    },

    async findById(id: string): Promise<Job | null> {
      if (!isUuid(id)) return null;
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toJob(row) : null;
    },

    /** Newest first, keyset-paginated by (created_at, id). */
    async list(options: { status?: JobStatus; limit: number; cursor?: string }): Promise<Page<Job>> {
      let query = db.selectFrom('jobs').selectAll();
      if (options.status) query = query.where('status', '=', options.status);
      if (options.cursor) {
        const [createdAt, id] = decodeCursor(options.cursor);
        query = query.where(sql<boolean>`(created_at, id) < (${new Date(createdAt)}, ${id}::uuid)`);
      }
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit + 1)
        .execute();
      return toPage(rows, options.limit, (row) => [row.created_at.toISOString(), row.id], toJob);
    },

    async counts(): Promise<JobCounts> {
      // ::int because pg hands back bigint as a string unless a parser for it is installed.
      const byStatus = await db
        .selectFrom('jobs')
        .select(['status', sql<number>`count(*)::int`.as('count')])
        .groupBy('status')
        .execute();
      const oldest = await db
        .selectFrom('jobs')
        .select(sql<number | null>`extract(epoch FROM now() - min(run_at))::float8`.as('age'))
        .where('status', '=', 'queued')
        .where('run_at', '<=', sql<Date>`now()`)
        .executeTakeFirst();
      const count = (status: JobStatus) => byStatus.find((row) => row.status === status)?.count ?? 0;
      return {
        queued: count('queued'),
        running: count('running'),
        completed: count('completed'),
        dead: count('dead'),
        oldestQueuedAgeSeconds: Math.max(0, oldest?.age ?? 0),
      };
    },

    /** Queues a dead job again from its first attempt; its name, or null when there is no such dead job. */
    async retryDead(id: string): Promise<string | null> {
      if (!isUuid(id)) return null;
      const row = await db
        .updateTable('jobs')
        .set({ status: 'queued', attempts: 0, run_at: sql<Date>`now()`, finished_at: null, locked_by: null, locked_until: null })
        .where('id', '=', id)
        .where('status', '=', 'dead')
        .returning('name')
        .executeTakeFirst();
      return row?.name ?? null;
    },

    /** Deletes completed and dead jobs finished before `date`, in batches so no transaction grows large. */
    async deleteFinishedBefore(date: Date, batchSize = 5_000): Promise<number> {
      let deleted = 0;
      for (;;) {
        const result = await db
          .deleteFrom('jobs')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('jobs')
              .select('id')
              .where('finished_at', '<', date)
              .where('status', 'in', ['completed', 'dead'])
              .limit(batchSize),
          )
          .executeTakeFirst();
        const count = Number(result.numDeletedRows);
        deleted += count;
        if (count < batchSize) return deleted;
      }
    },

    /**
     * Takes up to `limit` due jobs for this worker, oldest first. SKIP LOCKED lets
     * workers claim side by side without waiting on each other's rows.
     */
    async claim(options: { workerId: string; names: string[]; limit: number; leaseSeconds: number }): Promise<ClaimedJob[]> {
      const { rows } = await sql<{
        id: string;
        name: string;
        payload: unknown;
        attempts: number;
        trace: Record<string, string> | null;
        run_at: Date;
        started_at: Date;
      }>`
        UPDATE jobs
        SET status = 'running',
            attempts = attempts + 1,
            locked_by = ${options.workerId},
            locked_until = now() + make_interval(secs => ${options.leaseSeconds}),
            started_at = now()
        WHERE id IN (
          SELECT id FROM jobs
          WHERE status = 'queued' AND run_at <= now() AND name = ANY(${options.names}::text[])
          ORDER BY run_at
          LIMIT ${options.limit}
          FOR UPDATE SKIP LOCKED
        )
        RETURNING id, name, payload, attempts, trace, run_at, started_at`.execute(db);
      return rows.map((row) => ({
        id: row.id,
        name: row.name,
        payload: row.payload,
        attempts: row.attempts,
        trace: row.trace,
        runAt: row.run_at,
        startedAt: row.started_at,
      }));
    },

    /**
     * Running jobs whose lease has passed belong to a worker that died (SIGKILL,
     * OOM, lost node): they go back to the queue, or to dead when that was their
     * last attempt, so that a job that kills its worker cannot loop forever.
     */
    async reclaimExpired(): Promise<{ id: string; name: string; status: JobStatus; previousWorker: string | null }[]> {
      const { rows } = await sql<{ id: string; name: string; status: JobStatus; previous_worker: string | null }>`
        UPDATE jobs AS j
        SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'queued' END,
            finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
            last_error = 'lease expired: worker ' || coalesce(j.locked_by, '?') || ' stopped heartbeating (crashed or was killed)',
            run_at = now(),
            locked_by = NULL,
            locked_until = NULL
        FROM (
          SELECT id, locked_by FROM jobs
          WHERE status = 'running' AND locked_until < now()
          FOR UPDATE SKIP LOCKED
        ) AS expired
        WHERE j.id = expired.id
        RETURNING j.id, j.name, j.status, expired.locked_by AS previous_worker`.execute(db);
      return rows.map((row) => ({ id: row.id, name: row.name, status: row.status, previousWorker: row.previous_worker }));
    },

    /** Extends the leases this worker still holds and returns their ids; a missing id was lost. */
    async heartbeat(workerId: string, ids: string[], leaseSeconds: number): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const rows = await db
        .updateTable('jobs')
        .set({ locked_until: sql<Date>`now() + make_interval(secs => ${leaseSeconds})` })
        .where('id', 'in', ids)
        .where('locked_by', '=', workerId)
        .where('status', '=', 'running')
        .returning('id')
        .execute();
      return new Set(rows.map((row) => row.id));
    },

    /**
     * Marks finished runs completed in one statement, and returns the
     * `id:attempt` of those that were: a run missing from the answer lost its
     * lease meanwhile, and its job is another worker's.
     */
    async completeMany(workerId: string, runs: readonly { id: string; attempt: number }[]): Promise<Set<string>> {
      const { rows } = await sql<{ id: string; attempts: number }>`
        UPDATE jobs AS j
        SET status = 'completed', finished_at = now(), locked_by = NULL, locked_until = NULL
        FROM unnest(${runs.map((run) => run.id)}::uuid[], ${runs.map((run) => run.attempt)}::int[]) AS finished(id, attempt)
        WHERE j.id = finished.id AND j.attempts = finished.attempt AND j.status = 'running' AND j.locked_by = ${workerId}
        RETURNING j.id, j.attempts`.execute(db);
      return new Set(rows.map((row) => `${row.id}:${row.attempts}`));
    },

    /** Queued again after `retryDelayMs`, or dead after the last attempt; dead at once when `retryDelayMs` is null. */
    async fail(
      id: string,
      workerId: string,
      attempt: number,
      error: string,
      retryDelayMs: number | null,
    ): Promise<'queued' | 'dead' | null> {
      const last = retryDelayMs === null ? sql<boolean>`true` : sql<boolean>`attempts >= max_attempts`;
      const row = await db
        .updateTable('jobs')
        .set({
          status: sql<JobStatus>`CASE WHEN ${last} THEN 'dead' ELSE 'queued' END`,
          run_at: sql<Date>`CASE WHEN ${last} THEN run_at ELSE now() + make_interval(secs => ${(retryDelayMs ?? 0) / 1000}) END`,
          finished_at: sql<Date | null>`CASE WHEN ${last} THEN now() END`,
          last_error: error,
          locked_by: null,
          locked_until: null,
        })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .where('locked_by', '=', workerId)
        .where('attempts', '=', attempt)
        .returning('status')
        .executeTakeFirst();
      return row ? (row.status as 'queued' | 'dead') : null;
    },

    /**
     * Hands unfinished jobs back at shutdown: queued and due at once, and the
     * interrupted run does not count as an attempt because the job did not fail.
     */
    async release(workerId: string, ids: string[]): Promise<number> {
      if (ids.length === 0) return 0;
      const result = await db
        .updateTable('jobs')
        .set({ status: 'queued', attempts: sql<number>`attempts - 1`, run_at: sql<Date>`now()`, locked_by: null, locked_until: null })
        .where('id', 'in', ids)
        .where('locked_by', '=', workerId)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    /** Creates a schedule, or changes its expression; re-registering the same expression keeps its next slot. */
    async upsertSchedule(name: string, cron: string, nextRunAt: Date): Promise<void> {
      await db
        .insertInto('job_schedules')
        .values({ name, cron, next_run_at: nextRunAt })
        .onConflict((conflict) =>
          conflict
            .column('name')
            .doUpdateSet((eb) => ({ cron: eb.ref('excluded.cron'), next_run_at: eb.ref('excluded.next_run_at') }))
            .where('job_schedules.cron', '<>', (eb) => eb.ref('excluded.cron')),
        )
        .execute();
    },

    async dueSchedules(): Promise<Selectable<JobSchedulesTable>[]> {
      return db
        .selectFrom('job_schedules')
        .selectAll()
        .where('next_run_at', '<=', sql<Date>`now()`)
        .execute();
    },

    /**
     * Moves a due schedule on to `nextRunAt` and returns the slot it claimed, or
     * null when another worker claimed it first. The row lock serialises
     * workers; the loser re-reads the moved row and finds nothing due.
     */
    async claimScheduleSlot(executor: QueueExecutor, name: string, nextRunAt: Date): Promise<Date | null> {
      const { rows } = await sql<{ slot: Date }>`
        UPDATE job_schedules AS s
        SET next_run_at = ${nextRunAt}, last_run_at = now()
        FROM (SELECT name, next_run_at FROM job_schedules WHERE name = ${name} FOR UPDATE) AS due
        WHERE s.name = due.name AND due.next_run_at <= now()
        RETURNING due.next_run_at AS slot`.execute(executor);
      return rows[0]?.slot ?? null;
    },
  };
}
