// `npm run bench -- --only gc`: what V8's scavenger finds alive while a process
// reads gallery pages through Kysely, with pg's own promise-form client and with
// EPU's (src/platform/db/pool.ts), and through fixedRows, the way EPU's hot paths
// read (decision 0057). Each read runs in an AsyncLocalStorage context, as a
// request's do in the web. Each side runs in a child process of its own
// (V8's flags and allocation feedback are per process; each gets the bench's Node
// options, as the web does): the gallery statement, 8 at a time, a warm-up and
// then a measured run with `--trace-gc-nvp` switched on, whose per-scavenge
// lines give the pause, the bytes still alive in the young generation and the
// bytes promoted to the old one (decision 0056).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { fmt, root } from './lib.mjs';

const SIDES = { pg: "pg's promise form", epu: "EPU's client", fixed: 'fixedRows' };
const CONCURRENCY = 8;

/** The bench section: every side, their scavenges side by side. */
export async function gcSurvivalSection(ctx, { eventId, queries = 20_000 }) {
  ctx.log(
    `\n== gc: the gallery statement ${queries} times (${CONCURRENCY} at a time) through Kysely and through fixedRows, each side in a process of its own`,
  );
  const results = {};
  for (const side of Object.keys(SIDES)) {
    results[side] = await runChild(side, { DATABASE_URL: ctx.databaseUrl, EVENT_ID: eventId, QUERIES: String(queries) });
    const r = results[side];
    ctx.log(
      `  ${SIDES[side].padEnd(20)} ${r.count} scavenges: mean pause ${fmt(r.pause, 2)} ms, ` +
        `${fmt(r.survived, 3)} MB left alive and ${fmt(r.promoted, 3)} MB promoted per scavenge`,
    );
  }
  ctx.figure(
    'gallery rows, MB promoted per scavenge (Kysely with pg promise form / with EPU client / fixedRows)',
    `${fmt(results.pg.promoted, 3)} / ${fmt(results.epu.promoted, 3)} / ${fmt(results.fixed.promoted, 3)}`,
    'MB',
  );
}

function runChild(side, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', side], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(scavengeFigures(output)) : reject(new Error(`gc child (${side}) exited with ${code}`)),
    );
  });
}

/** Means over the `--trace-gc-nvp` lines of scavenges (gc=s): pause in ms, survived and promoted in MB. */
function scavengeFigures(output) {
  const scavenges = output
    .split('\n')
    .filter((line) => line.includes(' gc=s '))
    .map((line) => Object.fromEntries(line.split(/\s+/).map((pair) => pair.split('='))));
  const mean = (key, scale = 1) => scavenges.reduce((sum, s) => sum + Number(s[key] ?? 0), 0) / Math.max(1, scavenges.length) / scale;
  return { count: scavenges.length, pause: mean('pause'), survived: mean('new_space_survived', 1e6), promoted: mean('promoted', 1e6) };
}

/** In the child: one side's pool and Kysely, the statement in a loop, the scavenges of the second half traced. */
async function child(side) {
  const dist = (p) => import(path.join(root, 'dist/src', p));
  const { default: pg } = await import('pg');
  const { CompiledQuery } = await import('kysely');
  const { AsyncLocalStorage } = await import('node:async_hooks');
  const { createKysely, createPool, fixedRows } = await dist('platform/db/pool.js');
  const { PHOTO_QUERIES } = await dist('features/photos/photos.repository.js');
  const connectionString = process.env.DATABASE_URL;
  // The same pool either way but for its client (pg's own on one side, from EPU's pool settings); no prepared
  // statements on either side, so that only the promise differs.
  const epuPool = createPool({ connectionString, max: 10, statementTimeoutMs: 0, applicationName: 'epu-bench-gc', preparedStatements: 0 });
  const pool = side === 'pg' ? new pg.Pool({ ...epuPool.options, Client: pg.Client }) : epuPool;
  const db = createKysely(pool);
  const values = [process.env.EVENT_ID, 25];
  const statement = CompiledQuery.raw(PHOTO_QUERIES.ready, values);
  const read = side === 'fixed' ? () => fixedRows(db, PHOTO_QUERIES.ready, values) : async () => (await db.executeQuery(statement)).rows;
  const context = new AsyncLocalStorage();
  const run = async (count) => {
    let left = count;
    const loop = async () => {
      while (left-- > 0) if ((await context.run({ read: left }, read)).length === 0) throw new Error('the gallery event has no photos');
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  };
  const queries = Number(process.env.QUERIES);
  await run(queries);
  v8.setFlagsFromString('--trace-gc-nvp');
  await run(queries);
  v8.setFlagsFromString('--no-trace-gc-nvp');
  await db.destroy();
}

if (process.argv[2] === '--child') await child(process.argv[3]);
