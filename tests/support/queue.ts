import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createLogger } from '../../src/platform/observability/logger.js';
import { createNotifier } from '../../src/platform/db/notifier.js';
import { Type, type TUnknown } from 'typebox';
import {
  createQueue,
  createWorker,
  type JobPayloads,
  type Queue,
  type Worker,
  type WorkerOptions,
} from '../../src/platform/queue/index.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/** Jobs for tests of the queue itself: each takes any payload. */
export function anyPayloadJobs<N extends string>(...names: N[]): Record<N, TUnknown> {
  return Object.fromEntries(names.map((name) => [name, Type.Unknown()])) as Record<N, TUnknown>;
}

export interface QueueHarness<J extends JobPayloads> {
  readonly database: TestDatabase;
  readonly pool: pg.Pool;
  readonly db: Kysely<any>;
  readonly queue: Queue<J>;
  readonly logger: ReturnType<typeof createLogger>;
  /** A started worker with short leases and polls (fast tests), stopped after each test. */
  startWorker(options: Partial<WorkerOptions<J>> & Pick<WorkerOptions<J>, 'handlers'>): Worker;
}

/** A queue of `jobs` on a database of the test file's own, with workers cleaned up after every test. */
export function useQueueHarness<J extends JobPayloads>(name: string, jobs: J): QueueHarness<J> {
  const logger = createLogger({ level: 'silent', pretty: false, name });
  const workers: Worker[] = [];
  const harness = { logger } as { -readonly [K in keyof QueueHarness<J>]: QueueHarness<J>[K] };
  harness.startWorker = (options) => {
    const worker = createWorker({
      queue: harness.queue,
      pool: harness.pool,
      concurrency: 2,
      leaseSeconds: 2,
      pollIntervalMs: 100,
      logger,
      ...options,
    });
    worker.start();
    workers.push(worker);
    return worker;
  };
  beforeAll(async () => {
    harness.database = await createTestDatabase();
    harness.pool = new pg.Pool({ connectionString: harness.database.url, max: 20 });
    // The database is dropped WITH (FORCE) at the end: a connection it ends must not crash the run.
    harness.pool.on('error', () => undefined);
    harness.db = new Kysely({ dialect: new PostgresDialect({ pool: harness.pool }) });
    harness.queue = createQueue({ db: harness.db, pool: harness.pool, jobs, logger, notifier: createNotifier({ pool: harness.pool }) });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop({ graceMs: 0 })));
  });
  afterAll(async () => {
    await harness.db.destroy();
    await harness.database.drop();
  });
  return harness;
}
