import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { anyPayloadJobs } from '../../../tests/support/queue.js';
import { packageRoot } from '../paths.js';
import { createLogger } from '../observability/logger.js';
import { createQueue, type Queue } from './index.js';

const CHILD = path.join(packageRoot, 'tests/support/queue-worker-child.mjs');
const SOURCE_DIR = path.join(packageRoot, 'src/platform/queue');
const BUILT_DIR = path.join(packageRoot, 'dist/src/platform/queue');

let database: TestDatabase;
let pool: pg.Pool;
let db: Kysely<any>;
const JOBS = anyPayloadJobs('crash.test');
let queue: Queue<typeof JOBS>;
const children: ChildProcess[] = [];

// The child runs the built module: a stale build would test old code.
function assertBuildIsCurrent(): void {
  const newest = (dir: string, suffix: RegExp) =>
    Math.max(
      ...fs
        .readdirSync(dir)
        .filter((file) => suffix.test(file))
        .map((file) => fs.statSync(path.join(dir, file)).mtimeMs),
    );
  // The build info counts too: a build may leave an output untouched when its JavaScript did not change.
  const buildInfo = path.join(packageRoot, 'dist/.tsbuildinfo.build');
  const built = fs.existsSync(path.join(BUILT_DIR, 'index.js'))
    ? Math.max(newest(BUILT_DIR, /\.js$/), fs.existsSync(buildInfo) ? fs.statSync(buildInfo).mtimeMs : 0)
    : 0;
  if (built < newest(SOURCE_DIR, /^(?!.*\.test\.ts$).*\.ts$/)) {
    throw new Error('dist/src/platform/queue is missing or older than its source: run `npm run build` first (npm test does)');
  }
}

beforeAll(async () => {
  assertBuildIsCurrent();
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 5 });
  // The database is dropped WITH (FORCE) at the end: a connection it ends must not crash the run.
  pool.on('error', () => undefined);
  db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  queue = createQueue({ db, pool, jobs: JOBS, logger: createLogger({ level: 'silent', pretty: false, name: 'crash-test' }) });
  await sql`CREATE TABLE queue_crash_markers (job_id uuid NOT NULL, attempt integer NOT NULL, pid integer NOT NULL, at timestamptz NOT NULL DEFAULT now())`.execute(
    db,
  );
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await db?.destroy();
  await database?.drop();
});

interface Child {
  process: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

async function startChild(mode: 'hang' | 'complete'): Promise<Child> {
  const child = spawn(process.execPath, [CHILD, database.url, mode], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await expect.poll(() => output, { timeout: 20_000 }).toContain('ready');
  return { process: child, exited, output: () => output };
}

async function markers(id: string) {
  const { rows } = await sql<{
    attempt: number;
    pid: number;
  }>`SELECT attempt, pid FROM queue_crash_markers WHERE job_id = ${id} ORDER BY at`.execute(db);
  return rows;
}

describe('a worker process killed mid-job', () => {
  it('loses no job: after SIGKILL its lease expires and another process runs the job as attempt 2', async () => {
    const id = await queue.enqueue('crash.test', { note: 'survives a SIGKILL' });

    const doomed = await startChild('hang');
    await expect.poll(() => markers(id), { timeout: 20_000 }).toHaveLength(1);
    expect(await queue.get(id)).toMatchObject({ status: 'running', attempts: 1, lockedBy: `child-hang-${doomed.process.pid}` });

    doomed.process.kill('SIGKILL');
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Nobody released it: the job still looks taken until its lease runs out.
    expect((await queue.get(id))!.status).toBe('running');

    const rescuer = await startChild('complete');
    const job = await queue.waitFor(id, { timeoutMs: 30_000 });
    expect(job).toMatchObject({ status: 'completed', attempts: 2, lockedBy: null });
    expect(job.lastError).toMatch(new RegExp(`lease expired: worker child-hang-${doomed.process.pid}`));
    expect(await markers(id)).toEqual([
      { attempt: 1, pid: doomed.process.pid },
      { attempt: 2, pid: rescuer.process.pid },
    ]);

    rescuer.process.kill('SIGTERM');
    expect(await rescuer.exited, rescuer.output()).toEqual({ code: 0, signal: null });
  });
});
