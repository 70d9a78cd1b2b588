// `npm run bench` section "replicas": the same endpoints through Debian's nginx
// in front of one `epu web`, then in front of two, on one PostgreSQL, on this
// machine; prints req/s and latency for each and the throughput ratio of two
// replicas to one. Also one run straight at a replica, for the proxy's own cost.
// Runs standalone too: node scripts/bench/replicas.mjs [--duration S] [--connections N]
// Figures are printed, never asserted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmt, freePort, load, machine, root, row, spawnProcess, tempDir, waitForHttp } from './lib.mjs';
import { nginxBinary, startNginx } from '../../tests/replicas/nginx.mjs';

const SECRET_KEY = 'bench-secret-key-bench-secret-key-bench-secret-key';
const dist = (p) => import(path.join(root, 'dist/src', p));

/**
 * options: { duration = 10, connections = 64, log = console.log, figure?, nextPort? } where
 * figure(name, value, unit, note) records a headline figure (bench.mjs's summary) and
 * nextPort() hands out the ports to use (default: any free one).
 * Returns the rows it printed (for a summary) or null when nginx is missing.
 */
export async function benchReplicas(options = {}) {
  const { duration = 10, connections = 64, log = console.log, figure, nextPort = freePort } = options;
  if (!nginxBinary) {
    log('replicas: skipped, nginx is not installed (apt-get install nginx)');
    return null;
  }
  const cleanup = [];
  const dataDir = tempDir('replicas');
  const logFile = path.join(dataDir, 'epu.log');
  // As root the embedded PostgreSQL runs as the "postgres" user, which must reach its data dir.
  fs.chmodSync(dataDir, 0o755);
  try {
    log(
      `\nreplicas: nginx in front of 1 and 2 \`epu web\` processes on ${machine()}; ${connections} connections, ${duration}s per run; logs in ${logFile}`,
    );

    // One PostgreSQL for every replica: the embedded server, owned by this script.
    const { ensureEmbeddedPostgres } = await dist('platform/db/embedded.js');
    const { migrate } = await dist('platform/db/migrate.js');
    const { createLogger } = await dist('platform/observability/logger.js');
    const logger = createLogger({ level: 'warn', pretty: false, name: 'bench-replicas' });
    const database = await ensureEmbeddedPostgres({ dataDir: path.join(dataDir, 'db'), port: await nextPort(), logger });
    cleanup.push(() => database.stop());
    await migrate(database.url, logger);

    const ports = { nginx1: await nextPort(), nginx2: await nextPort(), web: [await nextPort(), await nextPort()] };
    const storage = path.join(dataDir, 'storage');
    fs.mkdirSync(storage);
    const webs = [];
    for (const [i, port] of ports.web.entries()) {
      const web = spawnProcess(
        process.execPath,
        [path.join(root, 'bin/epu.js'), 'web'],
        {
          DATABASE_URL: database.url,
          DATABASE_POOL_MAX: '20',
          STORAGE_URL: `file://${storage}`,
          EPU_DATA_DIR: path.join(dataDir, `web-${i + 1}`),
          SECRET_KEY,
          PUBLIC_URL: `http://127.0.0.1:${ports.nginx2}`,
          PORT: String(port),
          METRICS_PORT: String(await nextPort()),
          TRUST_PROXY_HOPS: '1',
          LOG_LEVEL: 'info',
          LOG_PRETTY: 'false',
        },
        logFile,
      );
      cleanup.push(() => web.stop());
      webs.push(web);
    }
    await Promise.all(ports.web.map((port) => waitForHttp(`http://127.0.0.1:${port}/healthz`)));
    // Both replicas run during every measurement (the second one idle in the 1-replica runs),
    // so the only difference is where nginx sends requests. nginx gets a worker per core.
    const one = await startNginx({ port: ports.nginx1, upstreams: [ports.web[0]], workerProcesses: 'auto', accessLog: false });
    cleanup.push(() => one.stop());
    const two = await startNginx({ port: ports.nginx2, upstreams: ports.web, workerProcesses: 'auto', accessLog: false });
    cleanup.push(() => two.stop());

    const eventId = await seed(`http://127.0.0.1:${ports.web[0]}`);
    const targets = [
      { name: 'GET /api/v1/events', path: '/api/v1/events', headers: { accept: 'application/json' } },
      { name: 'GET /events/:id (page)', path: `/events/${eventId}`, headers: { accept: 'text/html' } },
    ];
    const setups = [
      { name: 'direct, 1 replica', base: `http://127.0.0.1:${ports.web[0]}` },
      { name: 'nginx, 1 replica', base: one.url },
      { name: 'nginx, 2 replicas', base: two.url },
    ];
    const results = [];
    for (const target of targets) {
      // A short warm-up per setup (JIT, pools, nginx keepalive connections) is not measured.
      for (const setup of setups) await load({ url: setup.base + target.path, connections, duration: 2, headers: target.headers });
      for (const setup of setups) {
        const result = await load({ url: setup.base + target.path, connections, duration, headers: target.headers });
        results.push({ target: target.name, setup: setup.name, ...result });
      }
    }

    const widths = [26, 20, 10, 9, 9, 9, 9, 8];
    log(row(['endpoint', 'setup', 'requests', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors'], widths));
    const codesOf = (r) =>
      Object.entries(r.errorCodes)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
    for (const r of results) {
      log(
        row(
          [
            r.target,
            r.setup,
            r.requests,
            fmt(r.rps, 0),
            fmt(r.p50),
            fmt(r.p95),
            fmt(r.p99),
            r.errors + (r.non2xx ? ` (${r.non2xx} non-2xx)` : '') + (codesOf(r) ? ` (${codesOf(r)})` : ''),
          ],
          widths,
        ),
      );
    }
    if (results.some((r) => r.setup.startsWith('nginx') && r.errorCodes.ECONNRESET)) {
      // Measured: with keepalive_requests raised, or with wrk (which honours the close), these are 0.
      log(
        'ECONNRESET behind nginx: nginx closes a client connection after keepalive_requests (1000) responses, and autocannon' +
          ' writes its next request on it before it sees the close (RFC 9112 §9.6); a browser retries such a GET.' +
          (results.every((r) => Object.keys(r.statuses).every((status) => Number(status) < 500)) ? ' No response was a 5xx.' : ''),
      );
    }
    const cores = os.cpus().length;
    log('');
    for (const target of targets) {
      const of = (setup) => results.find((r) => r.target === target.name && r.setup === setup);
      const ratio = of('nginx, 2 replicas').rps / of('nginx, 1 replica').rps;
      const proxy = of('nginx, 1 replica').rps / of('direct, 1 replica').rps;
      log(`${target.name}: 2 replicas / 1 replica = ${fmt(ratio, 2)}× throughput; nginx in front of 1 replica = ${fmt(proxy, 2)}× direct`);
      figure?.(
        `${target.name}: throughput of 2 replicas / 1 behind nginx`,
        fmt(ratio, 2),
        '×',
        `${fmt(of('nginx, 2 replicas').rps, 0)} vs ${fmt(of('nginx, 1 replica').rps, 0)} req/s on ${os.cpus().length} cores`,
      );
    }
    log(
      `(${cores} core${cores === 1 ? '' : 's'}: the replicas, nginx, PostgreSQL and the load generator share them. A second replica adds` +
        ` throughput only while one Node.js process leaves cores idle; with ${cores <= 2 ? 'two cores one replica and the rest already use them, so expect a ratio near or below 1' : 'more cores than busy processes the ratio approaches 2'}.)`,
    );
    return results;
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** An owner and 30 public events, created through the API; returns the id of one of them. */
async function seed(base) {
  const signup = await fetch(`${base}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench-replicas@example.test', password: 'bench password', name: 'Bench Owner' }),
  });
  if (signup.status !== 201) throw new Error(`seed signup: ${signup.status} ${await signup.text()}`);
  const cookie = signup.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  let first;
  for (let i = 0; i < 30; i++) {
    const response = await fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({
        title: `Replica bench ${i}`,
        description: 'Seeded by npm run bench',
        venue: 'Hall',
        startsAt: new Date(Date.now() + (i + 1) * 3_600_000).toISOString(),
        capacity: 100,
        visibility: 'public',
      }),
    });
    if (response.status !== 201) throw new Error(`seed event: ${response.status} ${await response.text()}`);
    first ??= (await response.json()).id;
  }
  return first;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const flag = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  await benchReplicas({ duration: flag('duration', 10), connections: flag('connections', 64) });
}
