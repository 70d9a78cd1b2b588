#!/usr/bin/env node
// `npm run loadtest -- [--url URL] [--users N] [--duration S] ...`
//
// Runs the Locust profile in loadtest/locustfile.py headless against an EPU and
// judges it against the SLOs: p95 under 200 ms and errors under 0.1 % over the
// whole mix (seed 003). Without --url it starts its own EPU on embedded defaults
// (temporary data directory, free loopback ports), reports the RSS of every EPU
// process before and after the load, waits for background work to drain and
// checks that no job was lost, then stops that EPU by PID. Exit status: 0 all
// SLOs met, 1 an SLO or the job check failed, 2 the run itself could not happen.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAX_DURATION_S = 900;
const USAGE = `usage: npm run loadtest -- [options]

  --url URL             target EPU (default: start one on embedded defaults, loopback only)
  --allow-remote        allow a --url that is not a loopback address
  --users N             concurrent simulated users (default 50)
  --spawn-rate R        users started per second (default: users/5, at least 1)
  --duration S          seconds of load, at most ${MAX_DURATION_S} (default 60)
  --wait MIN-MAX        think time between a user's tasks in seconds (default 0.5-2.0)
  --slo-p95-ms MS       p95 over all requests must stay under this (default 200)
  --slo-error-rate F    failed/total must stay under this fraction (default 0.001)
  --min-rps N           also require this many requests per second overall (default: no check)
  --drain-timeout S     own EPU: seconds to wait for queued work after the load (default 60)
  --database-url URL    with --url: the target's database, for the job check (read-only queries)
  --locust PATH         the locust executable (default /usr/bin/locust, else locust on PATH)
  --keep                keep the temporary directory (CSV files, logs, own EPU's data)
`;

function fail(message, code = 2) {
  process.stderr.write(`loadtest: ${message}\n`);
  process.exit(code);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        url: { type: 'string' },
        'allow-remote': { type: 'boolean', default: false },
        users: { type: 'string', default: '50' },
        'spawn-rate': { type: 'string' },
        duration: { type: 'string', default: '60' },
        wait: { type: 'string', default: '0.5-2.0' },
        'slo-p95-ms': { type: 'string', default: '200' },
        'slo-error-rate': { type: 'string', default: '0.001' },
        'min-rps': { type: 'string' },
        'drain-timeout': { type: 'string', default: '60' },
        'database-url': { type: 'string' },
        locust: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail(`${error.message}\n${USAGE}`);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const number = (name, { min = 0, max = Infinity, integer = false } = {}) => {
    const raw = parsed[name];
    const value = Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      fail(`--${name} expects ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
  const users = number('users', { min: 1, max: 100_000, integer: true });
  const duration = number('duration', { min: 1, max: MAX_DURATION_S, integer: true });
  if (!/^\d+(\.\d+)?-\d+(\.\d+)?$/.test(parsed.wait) || Number(parsed.wait.split('-')[0]) > Number(parsed.wait.split('-')[1])) {
    fail(`--wait expects MIN-MAX in seconds, e.g. 0.5-2.0, got "${parsed.wait}"`);
  }
  let url;
  if (parsed.url !== undefined) {
    try {
      url = new URL(parsed.url);
    } catch {
      fail(`--url is not a URL: "${parsed.url}"`);
    }
    if (!['http:', 'https:'].includes(url.protocol)) fail(`--url must be http(s), got ${url.protocol}`);
    if (!isLoopback(url.hostname) && !parsed['allow-remote']) {
      fail(`--url ${url.origin} is not a loopback address; pass --allow-remote to load-test another machine on purpose`);
    }
  }
  if (parsed['database-url'] && !url) fail('--database-url only goes with --url (an own EPU is checked through its own database)');
  return {
    url: url ? url.origin : undefined,
    users,
    spawnRate: parsed['spawn-rate'] !== undefined ? number('spawn-rate', { min: 0.1, max: 10_000 }) : Math.max(1, Math.ceil(users / 5)),
    duration,
    wait: parsed.wait,
    sloP95Ms: number('slo-p95-ms', { min: 1 }),
    sloErrorRate: number('slo-error-rate', { min: 0, max: 1 }),
    minRps: parsed['min-rps'] !== undefined ? number('min-rps', { min: 0 }) : undefined,
    drainTimeout: number('drain-timeout', { min: 0, max: 600 }),
    databaseUrl: parsed['database-url'],
    locust: parsed.locust ?? (fs.existsSync('/usr/bin/locust') ? '/usr/bin/locust' : 'locust'),
    keep: parsed.keep,
  };
}

function isLoopback(hostname) {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ processes we own

/** Every process this run started, stopped by PID (its process group) on any exit. */
const owned = new Set();
let tempDir;
let keepTemp = false;

function startOwned(label, command, args, spawnOptions) {
  const child = spawn(command, args, { ...spawnOptions, detached: true });
  const entry = { label, child, exited: false, code: null, signal: null };
  entry.done = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      Object.assign(entry, { exited: true, code, signal });
      resolve(entry);
    });
    child.once('error', (error) => {
      Object.assign(entry, { exited: true, code: null, error });
      resolve(entry);
    });
  });
  owned.add(entry);
  return entry;
}

function signalGroup(entry, signal) {
  if (entry.exited || !entry.child.pid) return;
  try {
    process.kill(-entry.child.pid, signal); // the group led by our child: nothing else
  } catch {
    try {
      process.kill(entry.child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, then SIGKILL after graceMs; also kills descendants we recorded that outlived the leader. */
async function stopOwned(entry, graceMs, knownPids = []) {
  signalGroup(entry, 'SIGTERM');
  const timer = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([entry.done, timer])) === 'timeout') {
    process.stderr.write(`loadtest: ${entry.label} (pid ${entry.child.pid}) did not stop in ${graceMs / 1000}s; killing it\n`);
    signalGroup(entry, 'SIGKILL');
    await Promise.race([entry.done, sleep(5000)]);
  }
  for (const pid of knownPids) {
    if (pidAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  owned.delete(entry);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let cleaningUp;
async function cleanup() {
  cleaningUp ??= (async () => {
    for (const entry of [...owned].reverse()) await stopOwned(entry, entry.label === 'EPU' ? 30_000 : 10_000, entry.descendants ?? []);
    if (tempDir && !keepTemp) fs.rmSync(tempDir, { recursive: true, force: true });
    else if (tempDir) process.stdout.write(`kept: ${tempDir}\n`);
  })();
  return cleaningUp;
}

// First signal: stop Locust early and report what it measured, then stop EPU.
// A second signal: stop everything at once.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) {
      process.stderr.write(`loadtest: ${signal} again; stopping everything now\n`);
      // Exits once cleaned up, whether or not the cleanup failed.
      void cleanup().finally(() => process.exit(130));
      return;
    }
    interrupted = true;
    process.stderr.write(`loadtest: ${signal}; stopping the load early (again to abort)\n`);
    const locust = [...owned].find((entry) => entry.label === 'locust');
    if (locust) signalGroup(locust, 'SIGTERM');
  });
}

// ------------------------------------------------------------------ own EPU

async function portsFree(base, count) {
  for (let port = base; port < base + count; port++) {
    const free = await new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

/** Six consecutive free loopback ports: web, metrics of web/worker/functions, functions, PostgreSQL. */
async function pickPorts() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    if (await portsFree(base, 6)) return { web: base, metrics: base + 1, functions: base + 4, postgres: base + 5 };
  }
  throw new Error('no six consecutive free ports found on 127.0.0.1');
}

function ensureBuilt() {
  if (fs.existsSync(path.join(root, 'dist', 'src', 'entrypoints', 'cli.js'))) return;
  process.stdout.write('building (dist/ is missing): npm run build\n');
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) fail('npm run build failed');
}

async function startEpu(dir) {
  ensureBuilt();
  const ports = await pickPorts();
  const dataDir = path.join(dir, 'epu-data');
  const url = `http://127.0.0.1:${ports.web}`;
  const env = { ...process.env };
  // Embedded defaults: none of the scaled dials, whatever the caller's shell holds.
  for (const name of [
    'DATABASE_URL',
    'DATABASE_REPLICA_URL',
    'STORAGE_URL',
    'REDIS_URL',
    'FUNCTIONS_URL',
    'CDN_BASE_URL',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'SENTRY_DSN',
    'SMTP_URL',
    'SECRET_KEY',
    'HOST',
  ]) {
    delete env[name];
  }
  Object.assign(env, {
    APP_ENV: 'development',
    EPU_DATA_DIR: dataDir,
    PORT: String(ports.web),
    PUBLIC_URL: url,
    METRICS_PORT: String(ports.metrics),
    FUNCTIONS_PORT: String(ports.functions),
    EMBEDDED_PG_PORT: String(ports.postgres),
    LOG_LEVEL: process.env.LOADTEST_EPU_LOG_LEVEL ?? 'warn',
    LOG_PRETTY: 'false',
    // Every simulated user signs up from 127.0.0.1: the per-address signup limit would refuse all but the first few.
    SIGNUP_RATE_LIMIT: '1000000',
  });
  const log = fs.openSync(path.join(dir, 'epu.log'), 'a');
  // cwd is the temporary directory so that no .env of the checkout leaks in.
  const epu = startOwned('EPU', process.execPath, [path.join(root, 'bin', 'epu.js'), 'start'], {
    cwd: dir,
    env,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  process.stdout.write(`starting EPU (pid ${epu.child.pid}) on ${url}, data in ${dataDir}\n`);
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (interrupted) throw new Error('interrupted while EPU was starting');
    if (epu.exited)
      throw new Error(
        `EPU exited (code ${epu.code}, signal ${epu.signal}) before it was healthy; see ${tailFile(path.join(dir, 'epu.log'))}`,
      );
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return { entry: epu, url, dataDir, ports };
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  throw new Error(`EPU was not healthy within 180s; see ${tailFile(path.join(dir, 'epu.log'))}`);
}

function tailFile(file, lines = 15) {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return `${file}:\n${text}`;
  } catch {
    return file;
  }
}

// ------------------------------------------------------------------ RSS from /proc

function readProc(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => {
      const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'));
      return match ? Number(match[1]) : 0;
    };
    const ppid = Number(status.match(/^PPid:\s+(\d+)/m)?.[1] ?? 0);
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, ppid, rssKb: field('VmRSS'), hwmKb: field('VmHWM'), pssKb: pssKbOf(pid), cpuSeconds: cpuSecondsOf(pid), cmdline };
  } catch {
    return undefined; // gone
  }
}

// Proportional set size: shared pages divided among the processes that map them.
// PostgreSQL's backends all map the shared buffers, so their summed RSS counts
// those pages once per backend; their summed PSS counts them once.
function pssKbOf(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

// utime + stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (USER_HZ, 100 on Linux).
function cpuSecondsOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function processTree(rootPid) {
  const all = [];
  for (const name of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(name)) {
      const info = readProc(Number(name));
      if (info) all.push(info);
    }
  }
  const byParent = new Map();
  for (const info of all) byParent.set(info.ppid, [...(byParent.get(info.ppid) ?? []), info]);
  const tree = [];
  const queue = all.filter((info) => info.pid === rootPid);
  while (queue.length) {
    const info = queue.shift();
    tree.push(info);
    queue.push(...(byParent.get(info.pid) ?? []));
  }
  return tree;
}

/** A stable name per process: the epu command for node, the title PostgreSQL gives its processes. */
function roleOf(info, rootPid) {
  const [exe, ...args] = info.cmdline;
  if (info.pid === rootPid) return 'epu start';
  const epuIndex = args.findIndex((arg) => arg.endsWith(path.join('bin', 'epu.js')));
  if (epuIndex >= 0) return `epu ${args[epuIndex + 1] ?? ''}`.trim();
  const title = info.cmdline.join(' ');
  if (/postgres:\s/.test(title)) return `postgres: ${title.replace(/^.*postgres:\s*/, '').replace(/\s.*$/, '')}`;
  if (path.basename(exe ?? '') === 'postgres') return 'postgres (postmaster)';
  return path.basename(exe ?? `pid ${info.pid}`);
}

function rssSnapshot(rootPid) {
  return processTree(rootPid).map((info) => ({ ...info, role: roleOf(info, rootPid) }));
}

const mb = (kb) => (kb / 1024).toFixed(1);

const roleGroup = (p) =>
  p.role.startsWith('postgres: ') && !/checkpointer|background|walwriter|autovacuum|logical|writer/.test(p.role)
    ? 'postgres: client backends'
    : p.role;

function groupByRole(snapshot) {
  const map = new Map();
  for (const p of snapshot) {
    const k = roleGroup(p);
    const g = map.get(k) ?? { pids: [], rssKb: 0, pssKb: 0, hwmKb: 0, cpuSeconds: 0 };
    g.pids.push(p.pid);
    g.rssKb += p.rssKb;
    g.pssKb += p.pssKb;
    g.hwmKb = Math.max(g.hwmKb, p.hwmKb);
    g.cpuSeconds += p.cpuSeconds;
    map.set(k, g);
  }
  return map;
}

/**
 * RSS and CPU of every EPU process, and of the load generator: where the
 * machine's two cores went decides what a latency figure means.
 */
function printRss(start, end, locustCpuSeconds) {
  process.stdout.write(
    '\nEPU processes: RSS (VmRSS from /proc/<pid>/status; peak = VmHWM at the end) and CPU seconds used during the run\n',
  );
  const before = groupByRole(start);
  const after = groupByRole(end);
  const rows = [['process', 'pid(s)', 'start MB', 'end MB', 'peak MB', 'CPU s']];
  // Client backends come and go: count those alive at the end from zero when they were not there at the start.
  const cpuOf = (snapshot, pids) => snapshot.filter((p) => pids.has(p.pid)).reduce((sum, p) => sum + p.cpuSeconds, 0);
  for (const k of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(k);
    const b = after.get(k);
    const pids = [...new Set([...(a?.pids ?? []), ...(b?.pids ?? [])])];
    const pidText = pids.length > 3 ? `${pids.length} processes` : pids.join(',');
    const endPids = new Set(b?.pids ?? []);
    const cpu = b ? cpuOf(end, endPids) - cpuOf(start, endPids) : 0;
    rows.push([k, pidText, a ? mb(a.rssKb) : '-', b ? mb(b.rssKb) : '-', b ? mb(b.hwmKb) : '-', cpu.toFixed(1)]);
  }
  const total = (snapshot) => mb(snapshot.reduce((sum, p) => sum + p.rssKb, 0));
  rows.push(['total', '', total(start), total(end), '', '']);
  if (locustCpuSeconds !== undefined) rows.push(['locust (load generator)', '', '', '', '', locustCpuSeconds.toFixed(1)]);
  printTable(rows, [false, false, true, true, true, true]);
}

/** RSS per role every few seconds during the load, so a steady climb shows apart from warm-up. */
function startRssSampler(rootPid, durationS) {
  const everyMs = Math.max(5, Math.round(durationS / 10)) * 1000;
  const startedAt = Date.now();
  const samples = [];
  const take = () => samples.push({ at: Math.round((Date.now() - startedAt) / 1000), roles: groupByRole(rssSnapshot(rootPid)) });
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

function printRssOverTime(samples) {
  const roles = ['epu web', 'epu worker', 'epu functions'].filter((role) => samples.some((s) => s.roles.has(role)));
  process.stdout.write(
    '\nRSS over the run, MB (postgres = all its processes: summed RSS, and summed PSS, which counts shared buffers once)\n',
  );
  const rows = [['t s', ...roles, 'postgres RSS', 'postgres PSS']];
  for (const sample of samples) {
    const postgres = [...sample.roles].filter(([k]) => k.startsWith('postgres')).map(([, g]) => g);
    const sum = (field) => postgres.reduce((total, g) => total + g[field], 0);
    rows.push([
      sample.at,
      ...roles.map((role) => (sample.roles.has(role) ? mb(sample.roles.get(role).rssKb) : '-')),
      mb(sum('rssKb')),
      mb(sum('pssKb')),
    ]);
  }
  printTable(
    rows,
    rows[0].map(() => true),
  );
}

// ------------------------------------------------------------------ jobs: nothing lost

const PENDING = new Set(['created', 'retry', 'active', 'queued', 'running', 'pending', 'processing', 'scheduled', 'available', 'locked']);
const DEAD = new Set(['failed', 'dead', 'error', 'errored', 'expired', 'discarded']);

async function jobCounts(databaseUrl) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl, statement_timeout: 10_000 });
  await client.connect();
  try {
    // Whatever queue EPU runs on: tables named like jobs with a state/status column,
    // plus the user-visible outcomes of background work (photos, exports).
    const { rows: tables } = await client.query(`
      SELECT c.table_schema, c.table_name, c.column_name,
        EXISTS (SELECT 1 FROM information_schema.columns r
                WHERE r.table_schema = c.table_schema AND r.table_name = c.table_name AND r.column_name = 'run_at') AS has_run_at
      FROM information_schema.columns c
      JOIN information_schema.tables t USING (table_schema, table_name)
      WHERE t.table_type = 'BASE TABLE'
        AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
        AND c.column_name IN ('state', 'status')
        AND (c.table_name ~ 'job' OR c.table_name IN ('photos', 'exports'))
      ORDER BY 1, 2`);
    const result = [];
    for (const { table_schema: schema, table_name: table, column_name: column, has_run_at: hasRunAt } of tables) {
      const ident = (s) => `"${s.replaceAll('"', '""')}"`;
      // A queue keeps future runs (retries after a backoff, cron schedules) as queued rows: those are not late.
      const state = hasRunAt
        ? `CASE WHEN ${ident(column)}::text IN ('queued', 'created', 'retry', 'scheduled') AND run_at > now() THEN 'scheduled later' ELSE ${ident(column)}::text END`
        : `${ident(column)}::text`;
      const { rows } = await client.query(
        `SELECT ${state} AS state, count(*)::int AS n FROM ${ident(schema)}.${ident(table)} GROUP BY 1 ORDER BY 1`,
      );
      const byState = Object.fromEntries(rows.map((row) => [row.state, row.n]));
      const pending = rows.filter((row) => PENDING.has(row.state)).reduce((sum, row) => sum + row.n, 0);
      const dead = rows.filter((row) => DEAD.has(row.state)).reduce((sum, row) => sum + row.n, 0);
      // Must drain to zero: the user-visible tables, and a queue whose due work can be told from its future work.
      result.push({ table: `${schema}.${table}`, byState, pending, dead, mustDrain: ['photos', 'exports'].includes(table) || hasRunAt });
    }
    return result;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkJobs(databaseUrl, drainTimeoutS, baseline = []) {
  process.stdout.write(
    `\nJobs (read from the database; the contract's admin API has no jobs endpoint), after waiting up to ${drainTimeoutS}s for due work to drain\n`,
  );
  const deadline = Date.now() + drainTimeoutS * 1000;
  const started = Date.now();
  let counts;
  for (;;) {
    counts = await jobCounts(databaseUrl);
    const pending = counts.filter((c) => c.mustDrain).reduce((sum, c) => sum + c.pending, 0);
    if (pending === 0 || Date.now() >= deadline) break;
    await sleep(1000);
  }
  if (counts.length === 0) {
    process.stdout.write('  no job, photo or export tables found: nothing to check yet\n');
    return { ok: true };
  }
  const deadBefore = (table) => baseline.find((c) => c.table === table)?.dead ?? 0;
  const rows = [['table', 'states', 'pending', 'failed/dead', 'new failed/dead']];
  for (const c of counts) {
    rows.push([
      c.table,
      Object.entries(c.byState)
        .map(([state, n]) => `${state}=${n}`)
        .join(' ') || '(empty)',
      String(c.pending),
      String(c.dead),
      String(c.dead - deadBefore(c.table)),
    ]);
  }
  printTable(rows, [false, false, true, true, true]);
  const stuck = counts.filter((c) => c.mustDrain && c.pending > 0);
  const dead = counts.filter((c) => c.dead - deadBefore(c.table) > 0);
  const problems = [
    ...stuck.map((c) => `${c.table}: ${c.pending} due but not done ${drainTimeoutS}s after the load stopped`),
    ...dead.map((c) => `${c.table}: ${c.dead - deadBefore(c.table)} failed/dead during the run`),
  ];
  if (problems.length) process.stdout.write(`  JOB CHECK FAILED: ${problems.join('; ')}\n`);
  else process.stdout.write(`  job check ok: queue drained in ${((Date.now() - started) / 1000).toFixed(1)}s, no job failed or dead\n`);
  return { ok: problems.length === 0 };
}

// ------------------------------------------------------------------ Locust and its CSV

function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...body] = rows.filter((r) => r.length > 1 || r[0] !== '');
  return (body ?? []).map((r) => Object.fromEntries((header ?? []).map((name, index) => [name, r[index]])));
}

function readCsv(file) {
  return fs.existsSync(file) ? parseCsv(fs.readFileSync(file, 'utf8')) : [];
}

function printTable(rows, rightAligned) {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => String(row[col]).length)));
  for (const [index, row] of rows.entries()) {
    const line = row
      .map((cell, col) => (rightAligned[col] ? String(cell).padStart(widths[col]) : String(cell).padEnd(widths[col])))
      .join('  ');
    process.stdout.write(`  ${line.trimEnd()}\n`);
    if (index === 0) process.stdout.write(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  }
}

async function runLocust(opts, host, dir) {
  const csvPrefix = path.join(dir, 'stats');
  const logFile = path.join(dir, 'locust.log');
  const args = [
    '-f',
    path.join(root, 'loadtest', 'locustfile.py'),
    '--headless',
    '--host',
    host,
    '-u',
    String(opts.users),
    '-r',
    String(opts.spawnRate),
    '-t',
    `${opts.duration}s`,
    '--csv',
    csvPrefix,
    '--only-summary',
    '--stop-timeout',
    '5',
    '--loglevel',
    'WARNING',
    '--logfile',
    logFile,
  ];
  process.stdout.write(
    `running locust: ${opts.users} users (spawn ${opts.spawnRate}/s) for ${opts.duration}s against ${host}, think time ${opts.wait}s\n`,
  );
  const out = fs.openSync(path.join(dir, 'locust.out'), 'a');
  const env = { ...process.env, EPU_LOADTEST_WAIT: opts.wait, PYTHONUNBUFFERED: '1' };
  const locust = startOwned('locust', opts.locust, args, { cwd: root, env, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  // Locust's CPU, read while it runs (a process that has exited has no /proc entry to read).
  let locustCpuSeconds = 0;
  const locustCpu = setInterval(() => {
    locustCpuSeconds = Math.max(
      locustCpuSeconds,
      processTree(locust.child.pid).reduce((sum, p) => sum + p.cpuSeconds, 0),
    );
  }, 1000);
  // Seeding (a few hundred requests) plus the run plus Locust's own stop; then we stop it.
  const limitMs = (opts.duration + 180) * 1000;
  const outcome = await Promise.race([locust.done, sleep(limitMs).then(() => 'timeout')]);
  if (outcome === 'timeout') {
    process.stderr.write(`loadtest: locust ran past ${limitMs / 1000}s; stopping it\n`);
    await stopOwned(locust, 10_000);
  } else owned.delete(locust);
  clearInterval(locustCpu);
  if (locust.error) throw new Error(`could not run ${opts.locust}: ${locust.error.message} (Debian: apt-get install python3-locust)`);
  const output = fs.existsSync(path.join(dir, 'locust.out')) ? fs.readFileSync(path.join(dir, 'locust.out'), 'utf8') : '';
  const logText = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  const seedLine = output.split('\n').find((line) => line.startsWith('EPU-LOADTEST seed '));
  const warnings = logText
    .split('\n')
    .filter((line) => /CPU usage|Traceback|Error|error/.test(line))
    .slice(0, 10);
  return {
    locustCpuSeconds,
    timedOut: outcome === 'timeout',
    exitCode: locust.code,
    // The final files are written by the locustfile at exit; the periodic ones miss the last second.
    stats: readCsv(`${csvPrefix}_final_stats.csv`).length ? readCsv(`${csvPrefix}_final_stats.csv`) : readCsv(`${csvPrefix}_stats.csv`),
    failures: fs.existsSync(`${csvPrefix}_final_failures.csv`)
      ? readCsv(`${csvPrefix}_final_failures.csv`)
      : readCsv(`${csvPrefix}_failures.csv`),
    seed: seedLine ? JSON.parse(seedLine.slice('EPU-LOADTEST seed '.length)) : undefined,
    warnings,
    tail: [output, logText].join('\n').trim().split('\n').slice(-20).join('\n'),
  };
}

const num = (value) => {
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
};
const ms = (value) => (value === undefined ? '-' : String(Math.round(value)));
const pct = (rate) => `${(rate * 100).toFixed(rate > 0 && rate < 0.001 ? 3 : 2)}%`;

function report(opts, result) {
  const endpoints = result.stats.filter((row) => row.Name !== 'Aggregated');
  const total = result.stats.find((row) => row.Name === 'Aggregated');
  if (!total || num(total['Request Count']) === 0) {
    process.stdout.write(`\nno requests were recorded. Locust said:\n${result.tail}\n`);
    return { ok: false };
  }
  endpoints.sort((a, b) => num(b['Request Count']) - num(a['Request Count']));
  const rows = [['endpoint', 'requests', 'rps', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'error rate', 'note']];
  for (const row of [...endpoints, total]) {
    const requests = num(row['Request Count']);
    const failed = num(row['Failure Count']);
    const p95 = num(row['95%']);
    const flags = [failed > 0 ? 'FAILING' : '', p95 !== undefined && p95 >= opts.sloP95Ms && row !== total ? `p95>=${opts.sloP95Ms}` : '']
      .filter(Boolean)
      .join(' ');
    rows.push([
      row === total ? 'ALL (aggregated)' : `${row.Type} ${row.Name}`,
      String(requests),
      (num(row['Requests/s']) ?? 0).toFixed(1),
      ms(num(row['50%'])),
      ms(p95),
      ms(num(row['99%'])),
      String(failed),
      pct(requests ? failed / requests : 0),
      flags,
    ]);
  }
  process.stdout.write('\nPer endpoint (requests named by route template)\n');
  printTable(rows, [false, true, true, true, true, true, true, true, false]);

  if (result.failures.length) {
    process.stdout.write('\nFailures by endpoint and cause\n');
    const failureRows = [['endpoint', 'occurrences', 'cause']];
    for (const f of result.failures.sort((a, b) => num(b.Occurrences) - num(a.Occurrences))) {
      let cause = String(f.Error).replace(/^CatchResponseError\('?|'?\)$/g, '');
      if (/^404\b/.test(cause)) cause += '  <- the endpoint is missing or the resource is gone';
      if (/^(0\b|ConnectionRefused|ConnectionReset)/i.test(cause)) cause += '  <- connection error';
      failureRows.push([`${f.Method} ${f.Name}`, String(f.Occurrences), cause]);
    }
    printTable(failureRows, [false, true, false]);
  }

  const requests = num(total['Request Count']);
  const failed = num(total['Failure Count']);
  const errorRate = failed / requests;
  const p95 = num(total['95%']);
  const rps = num(total['Requests/s']) ?? 0;
  process.stdout.write(
    `\nOverall: ${requests} requests, ${rps.toFixed(1)} req/s, p50 ${ms(num(total['50%']))} ms, p95 ${ms(p95)} ms, p99 ${ms(num(total['99%']))} ms, ${failed} errors (${pct(errorRate)})\n`,
  );
  const verdicts = [
    [`p95 ${ms(p95)} ms < ${opts.sloP95Ms} ms`, p95 !== undefined && p95 < opts.sloP95Ms],
    [`error rate ${pct(errorRate)} < ${pct(opts.sloErrorRate)}`, errorRate < opts.sloErrorRate],
  ];
  if (opts.minRps !== undefined) verdicts.push([`throughput ${rps.toFixed(1)} req/s >= ${opts.minRps}`, rps >= opts.minRps]);
  for (const [text, ok] of verdicts) process.stdout.write(`SLO ${ok ? 'met   ' : 'BROKEN'}: ${text}\n`);
  const failing = endpoints.filter((row) => num(row['Failure Count']) > 0).map((row) => `${row.Type} ${row.Name}`);
  if (failing.length) process.stdout.write(`endpoints with errors: ${failing.join(', ')}\n`);
  return { ok: verdicts.every(([, ok]) => ok) };
}

// ------------------------------------------------------------------ main

async function main() {
  const opts = options();
  keepTemp = opts.keep;
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-loadtest-'));
  // Traversable: as root, the embedded PostgreSQL runs as the "postgres" user and must reach its data.
  fs.chmodSync(tempDir, 0o755);
  let exitCode = 0;
  try {
    let host = opts.url;
    let epu;
    let rssStart;
    let databaseUrl = opts.databaseUrl;
    if (!host) {
      epu = await startEpu(tempDir);
      host = epu.url;
      const password = fs.readFileSync(path.join(epu.dataDir, 'pg-password'), 'utf8').trim();
      databaseUrl = `postgres://epu:${encodeURIComponent(password)}@127.0.0.1:${epu.ports.postgres}/epu`;
      rssStart = rssSnapshot(epu.entry.child.pid);
      epu.entry.descendants = rssStart.map((p) => p.pid);
    }
    let jobBaseline = [];
    if (databaseUrl) jobBaseline = await jobCounts(databaseUrl).catch(() => []);
    if (interrupted) throw new Error('interrupted before the load started');
    const sampler = epu ? startRssSampler(epu.entry.child.pid, opts.duration) : undefined;
    const result = await runLocust(opts, host, tempDir);
    const rssSamples = sampler?.stop();
    if (result.seed) {
      const s = result.seed;
      process.stdout.write(
        `seed: ${s.organisers} organisers, ${s.events} events, ${s.photos} photos${s.problems.length ? `; problems: ${s.problems.join('; ')}` : ''}\n`,
      );
    }
    for (const line of result.warnings) process.stdout.write(`locust: ${line}\n`);
    if (result.timedOut) process.stdout.write('locust had to be stopped by the runner; the figures cover what it recorded\n');
    const verdict = report(opts, result);
    if (!verdict.ok) exitCode = 1;

    if (epu) {
      const rssEnd = rssSnapshot(epu.entry.child.pid);
      epu.entry.descendants = [...new Set([...epu.entry.descendants, ...rssEnd.map((p) => p.pid)])];
      printRss(rssStart, rssEnd, result.locustCpuSeconds);
      printRssOverTime(rssSamples);
    }
    if (interrupted) {
      process.stdout.write('\nJobs: not checked (interrupted)\n');
    } else if (databaseUrl) {
      try {
        const jobs = await checkJobs(databaseUrl, opts.drainTimeout, jobBaseline);
        if (!jobs.ok) exitCode = 1;
      } catch (error) {
        process.stdout.write(`\nJobs: could not be checked (${error.message})\n`);
      }
    } else {
      process.stdout.write('\nJobs: not checked (pass --database-url to check a target this runner did not start)\n');
    }
    if (epu) {
      const grown = rssSnapshot(epu.entry.child.pid);
      epu.entry.descendants = [...new Set([...epu.entry.descendants, ...grown.map((p) => p.pid)])];
      await stopOwned(epu.entry, 30_000, epu.entry.descendants);
      process.stdout.write(`stopped EPU (pid ${epu.entry.child.pid})\n`);
    }
    if (interrupted) exitCode = 130;
    process.stdout.write(
      interrupted ? '\nRESULT: interrupted\n' : exitCode === 0 ? '\nRESULT: all SLOs met\n' : '\nRESULT: FAILED (see above)\n',
    );
  } catch (error) {
    process.stderr.write(`loadtest: ${error.message}\n`);
    if (interrupted) exitCode = 130;
    else {
      keepTemp = true; // the logs are what is needed to see why
      exitCode = 2;
    }
  } finally {
    await cleanup();
  }
  process.exit(exitCode);
}

await main();
