// A real worker process for the queue's crash test (src/platform/queue/worker-crash.int.test.ts).
// Runs the BUILT queue (npm run build) so that it is a separate Node process
// that can be SIGKILLed mid-job.
//
//   node tests/support/queue-worker-child.mjs DATABASE_URL hang|complete
//
// Handles `crash.test` jobs: records (job, attempt, pid) in queue_crash_markers,
// then with `hang` sleeps for ten minutes, ignoring aborts; with `complete` returns.
// Prints "ready" once the worker runs; SIGTERM stops it gracefully.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { Type } from 'typebox';
import { createQueue, createWorker } from '../../dist/src/platform/queue/index.js';
import { createLogger } from '../../dist/src/platform/observability/logger.js';

const [databaseUrl = process.env.DATABASE_URL, mode = 'complete'] = process.argv.slice(2);
if (!databaseUrl) throw new Error('usage: queue-worker-child.mjs DATABASE_URL hang|complete');

const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const db = new Kysely({ dialect: new PostgresDialect({ pool }) });
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', pretty: false, name: 'queue-worker-child' });
const queue = createQueue({ db, pool, jobs: { 'crash.test': Type.Unknown() }, logger });
const worker = createWorker({
  queue,
  pool,
  logger,
  concurrency: 1,
  leaseSeconds: 2,
  pollIntervalMs: 200,
  workerId: `child-${mode}-${process.pid}`,
  handlers: {
    'crash.test': async (job) => {
      await pool.query('INSERT INTO queue_crash_markers (job_id, attempt, pid) VALUES ($1, $2, $3)', [job.id, job.attempt, process.pid]);
      if (mode === 'hang') await new Promise((resolve) => setTimeout(resolve, 10 * 60_000));
    },
  },
});

worker.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void (async () => {
    await worker.stop({ graceMs: 1_000 });
    await db.destroy();
    process.exit(0);
  })();
});
