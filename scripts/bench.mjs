#!/usr/bin/env node
// `npm run bench`: starts EPU on its embedded defaults, seeds data, and prints
// throughput and latency of the main endpoints next to a bare node:http server
// measured in the same run (the machine's floor), as ratios.
//   --duration S (default 10)   --connections N (default 64)
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { fmt, freePort, load, machine, root, row, spawnProcess, tempDir, waitForHttp } from './bench/lib.mjs';
import { benchReplicas } from './bench/replicas.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const duration = Number(flag('duration', 10));
const connections = Number(flag('connections', 64));
const SECRET_KEY = 'bench-secret-key-bench-secret-key-bench-secret-key';

const { createKeyring } = await import(path.join(root, 'dist/src/platform/security/keyring.js'));

const dataDir = tempDir('data');
const ports = { web: await freePort(), floor: await freePort(), pg: await freePort(), metrics: await freePort(), functions: await freePort() };
const logFile = path.join(dataDir, 'epu.log');
const results = [];
const cleanup = [];

async function main() {
  console.log(`EPU benchmark on ${machine()}; ${connections} connections, ${duration}s per run; logs in ${logFile}\n`);

  const floor = spawnProcess(process.execPath, [path.join(root, 'scripts/bench/floor-server.mjs')], { PORT: String(ports.floor) }, logFile);
  cleanup.push(() => floor.stop());
  await waitForHttp(`http://127.0.0.1:${ports.floor}/`);

  const startedAt = Date.now();
  const epu = spawnProcess(process.execPath, [path.join(root, 'bin/epu.js'), 'start'], {
    EPU_DATA_DIR: dataDir,
    PORT: String(ports.web),
    METRICS_PORT: String(ports.metrics),
    FUNCTIONS_PORT: String(ports.functions),
    EMBEDDED_PG_PORT: String(ports.pg),
    SECRET_KEY,
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    DATABASE_POOL_MAX: '20',
  }, logFile);
  cleanup.push(() => epu.stop());
  const base = `http://127.0.0.1:${ports.web}`;
  await waitForHttp(`${base}/healthz`);
  const startSeconds = (Date.now() - startedAt) / 1000;

  const seed = await seedData(base);

  const floorResult = await load({ url: `http://127.0.0.1:${ports.floor}/`, connections, duration });
  results.push(['bare node:http (floor)', floorResult]);
  results.push(['GET /api/v1/events', await load({ url: `${base}/api/v1/events`, connections, duration })]);
  results.push(['GET /events/:id (page)', await load({ url: `${base}/events/${seed.eventId}`, connections, duration, headers: { accept: 'text/html' } })]);
  let next = 0;
  results.push([
    'POST /api/v1/events/:id/bookings',
    await load({
      url: base,
      connections,
      amount: seed.cookies.length,
      requests: [{ method: 'POST', path: `/api/v1/events/${seed.hotEventId}/bookings`, setupRequest: (request) => ({ ...request, headers: { ...request.headers, cookie: seed.cookies[next++ % seed.cookies.length] } }) }],
    }),
  ]);

  const widths = [34, 10, 10, 9, 9, 9, 8, 10];
  console.log(row(['endpoint', 'requests', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'vs floor'], widths));
  for (const [name, r] of results) {
    console.log(row([name, r.requests, fmt(r.rps, 0), fmt(r.p50), fmt(r.p95), fmt(r.p99), r.errors + (r.non2xx ? ` (${r.non2xx} non-2xx)` : ''), fmt(r.rps / floorResult.rps, 2)], widths));
  }
  console.log(`\nnpm start to healthy (embedded PostgreSQL initialised from scratch): ${fmt(startSeconds)} s`);
  // nginx in front of 1 and 2 `epu web` on a PostgreSQL of its own: throughput ratio (docs/decisions/0014).
  await benchReplicas({ duration, connections });
}

async function seedData(base) {
  const signup = await fetch(`${base}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench-owner@example.test', password: 'bench password', name: 'Bench Owner' }),
  });
  const cookie = signup.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const create = async (i, capacity) => {
    const response = await fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ title: `Bench event ${i}`, description: 'Seeded by npm run bench', venue: 'Hall', startsAt: new Date(Date.now() + (i + 1) * 3_600_000).toISOString(), capacity, visibility: 'public' }),
    });
    return (await response.json()).id;
  };
  const ids = [];
  for (let i = 0; i < 30; i++) ids.push(await create(i, 100));
  const hotEventId = await create(99, 100_000);

  // Thousands of signed-in users without thousands of argon2 hashes: rows and sessions in SQL.
  const password = fs.readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim();
  const db = new pg.Client({ connectionString: `postgres://epu:${encodeURIComponent(password)}@127.0.0.1:${ports.pg}/epu` });
  await db.connect();
  const users = Math.max(2000, duration * 800);
  const { rows } = await db.query(
    `WITH u AS (INSERT INTO users (email, name, password_hash)
       SELECT 'bench-' || n || '@example.test', 'Bench ' || n, 'not-a-login' FROM generate_series(1, $1) AS n RETURNING id)
     INSERT INTO sessions (user_id, expires_at) SELECT id, now() + interval '1 day' FROM u RETURNING id, user_id`,
    [users],
  );
  await db.end();
  const keyring = createKeyring([SECRET_KEY]);
  const cookies = rows.map((r) => `epu_session=${keyring.seal({ sid: r.id, uid: r.user_id })}`);
  return { eventId: ids[0], hotEventId, cookies };
}

try {
  await main();
} finally {
  for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
}
