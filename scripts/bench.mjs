#!/usr/bin/env node
// `npm run bench`: EPU against an honest yardstick. EPU runs as users run it
// (`epu start`, APP_ENV=production, every production middleware on) on the
// embedded PostgreSQL, on data of realistic volume (scripts/bench/fixture.mjs,
// generated once and kept under scripts/bench/.data/). Each request path is
// measured on EPU and on its twin (scripts/bench/twin/: node:http + pg written
// from scratch for the same response) in the same run, on the same database.
// Per path and side: req/s, p95, server CPU and PostgreSQL CPU per request,
// and the ratios against the targets of issue 12, each printed met or NOT met.
//   --only livez,reads,bookings,concurrency,designs,upload,thumbs,queue,export,startup,replicas,gc,links
//   --paths list,gallery,gallery-later,page,page-signed-in,media   (reads; default all)
//   --duration S (10)  --warm-up S (3): unmeasured load before each side's first round on a path  --connections N (64)  --port-base P (default: free ports; P, P+1, ... otherwise)
//   --bookings-warm-up N (2000): unmeasured bookings on each side's hot event before its run (at least --connections, and
//     at most half a run's fresh users): after 500, V8 was still compiling EPU's booking path through the run (decision 0065)
//   --repeat N (3): livez and reads measure each path N times, the sides taking turns, and judge each target on the
//     median of the N rounds' ratios: on a shared machine one round of the same request can move by half
//   --cpu-prof: each EPU run with the page cache off (livez, reads, bookings) gets a fresh `node --cpu-prof` web; prints its
//     top self-time functions and keeps the profile in $TMPDIR/epu-bench-profiles
//   --perf: Linux perf samples the twin, plain Fastify and EPU's page-cache-off web (all threads, the kernel included) during
//     each measured run, and each path prints both sides' server CPU per request by module, side by side (decision 0061)
//   --no-statements: PostgreSQL without pg_stat_statements (on by default: it names the statements behind a missed target)
//   --designs-bookings N (4000): bookings per design in the database-level designs section
// Figures are printed, never asserted.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { benchBookings } from './bench/bookings.mjs';
import {
  compareResponses,
  measure,
  newestProfile,
  printHeader,
  printResult,
  printCpuSplit,
  printStatements,
  target,
  topFunctions,
} from './bench/compare.mjs';
import { DEFAULT_VOLUME, ids, postmasterPid, prepareDatabase } from './bench/fixture.mjs';
import { childrenOf, fmt, machine, portAllocator, root, row, spawnProcess, tempDir, waitForHttp, waitForLine } from './bench/lib.mjs';
import { gcSurvivalSection } from './bench/gc-survival.mjs';
import { signedLinksSection } from './bench/signed-links.mjs';
import { PERF_NODE_ARGS, printModules } from './bench/perf-split.mjs';
import { benchReplicas } from './bench/replicas.mjs';
import { exportSection, queueSection, thumbsSection, uploadSection } from './bench/system.mjs';
import { seal, sessionKeys } from './bench/twin/session.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const list = (value) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SECTIONS = [
  'livez',
  'reads',
  'bookings',
  'concurrency',
  'designs',
  'upload',
  'thumbs',
  'queue',
  'export',
  'startup',
  'replicas',
  'gc',
  'links',
];
const only = new Set(list(flag('only', SECTIONS.join(','))));
for (const name of only) if (!SECTIONS.includes(name)) throw new Error(`--only: unknown section ${name} (known: ${SECTIONS.join(', ')})`);
const repeat = Number(flag('repeat', 3));
if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat: a whole number of rounds, 1 or more');
const warmSeconds = Number(flag('warm-up', 3));
if (!(Number.isFinite(warmSeconds) && warmSeconds > 0)) throw new Error('--warm-up: seconds of unmeasured load, more than 0');
const PATHS = ['list', 'gallery', 'gallery-later', 'page', 'page-signed-in', 'media'];
const paths = list(flag('paths', PATHS.join(',')));
for (const name of paths) if (!PATHS.includes(name)) throw new Error(`--paths: unknown path ${name} (known: ${PATHS.join(', ')})`);
const bookingsWarmUp = Number(flag('bookings-warm-up', 2000));
const portBase = flag('port-base') === undefined ? undefined : Number(flag('port-base'));
const cpuProf = args.includes('--cpu-prof');
const perfSplit = args.includes('--perf');
/** Node's options for the sides perf samples (none without --perf). */
const perfArgs = perfSplit ? PERF_NODE_ARGS : [];
// --cpu-prof measures a profiled web of its own, which perf would not sample.
if (cpuProf && perfSplit) throw new Error('--cpu-prof and --perf: one at a time');
// A key production accepts, new each run: the bench seals its session cookies with it.
const SECRET_KEY = crypto.randomBytes(48).toString('base64');
const volume = DEFAULT_VOLUME;
const fixtureIds = ids(volume);
const keys = sessionKeys(SECRET_KEY);
const cookieOf = (claim) => `epu_session=${seal(keys, claim)}`;

const connections = Number(flag('connections', 64));
/** Fresh users each booking run may use up (one hot event per run, and half an event's worth left over). */
const bookersPerRun = Math.floor(volume.bookers / (volume.hotEvents + 0.5));
// autocannon refuses fewer requests than connections; the measured run needs the rest of the run's users.
if (!Number.isInteger(bookingsWarmUp) || bookingsWarmUp < connections || bookingsWarmUp > bookersPerRun / 2)
  throw new Error(`--bookings-warm-up: a whole number of bookings from --connections (${connections}) to ${Math.floor(bookersPerRun / 2)}`);

const nextPort = portAllocator(portBase);
const runDir = tempDir('run');
fs.chmodSync(runDir, 0o755);
const logFile = path.join(runDir, 'processes.log');
const cleanup = [];
/** Processes started with PERF_NODE_ARGS: Node writes their JIT's names to /tmp/perf-<pid>.map, whatever TMPDIR says. */
const perfMapPids = [];
cleanup.push(async () => perfMapPids.forEach((pid) => fs.rmSync(`/tmp/perf-${pid}.map`, { force: true })));
const figures = [];

const ctx = {
  duration: Number(flag('duration', 10)),
  warmSeconds,
  connections,
  repeat,
  statements: !args.includes('--no-statements'),
  perf: perfSplit,
  perfDir: runDir,
  targets: [],
  SECRET_KEY,
  log: (line) => console.log(line),
  figure(name, value, unit, note = '') {
    figures.push({ name, value, unit, note });
    console.log(`  ${name}: ${value} ${unit}${note ? `  (${note})` : ''}`);
  },
};

/** The environment EPU runs with here: production, every default a user gets, only ports and places chosen. */
const epuEnv = (extra = {}) => ({
  APP_ENV: 'production',
  HOST: '127.0.0.1',
  DATABASE_URL: ctx.databaseUrl,
  EPU_DATA_DIR: path.join(runDir, 'epu'),
  PUBLIC_URL: ctx.base,
  // Plain HTTP on loopback: production refuses an http:// PUBLIC_URL without it.
  TLS_AT_PROXY: 'true',
  SECRET_KEY,
  LOG_LEVEL: 'info',
  LOG_PRETTY: 'false',
  SHUTDOWN_DRAIN_MS: '0',
  WEB_CONCURRENCY: '1',
  ...extra,
});

/** An `epu web` on the bench database and EPU's storage, on a port of its own. */
async function spawnWeb(env = {}, nodeArgs = []) {
  const port = await nextPort();
  const web = spawnProcess(
    process.execPath,
    [...nodeArgs, path.join(root, 'bin/epu.js'), 'web'],
    epuEnv({ PORT: String(port), METRICS_PORT: String(await nextPort()), ...env }),
    logFile,
  );
  cleanup.push(() => web.stop());
  if (nodeArgs.includes(PERF_NODE_ARGS[0])) perfMapPids.push(web.child.pid);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`);
  return { web, url, pids: () => [web.child.pid] };
}

async function main() {
  // Every process the bench starts (EPU's, the twin, plain Fastify) runs with the Node options EPU's image and
  // `epu start` give theirs (src/platform/node-runtime.ts): the same runtime on both sides of a comparison.
  const { withRuntimeOptions } = await import(path.join(root, 'dist/src/platform/node-runtime.js'));
  process.env.NODE_OPTIONS = withRuntimeOptions(process.env.NODE_OPTIONS);
  console.log(`EPU benchmark on ${machine()}; sections: ${[...only].join(', ')}; processes log to ${logFile}`);
  console.log('Figures from a machine shared with other work are not meaningful in absolute terms; compare sides within one run.\n');
  const needsEpu = [...only].some((s) => !['thumbs', 'replicas', 'links'].includes(s));
  if (needsEpu) await startSystem();
  if (only.has('startup')) await startupSection();
  if (only.has('livez')) await livezSection();
  if (only.has('reads')) await readsSection();
  if (only.has('bookings')) await bookingsSection();
  if (only.has('concurrency')) await concurrencySection();
  if (only.has('designs')) await designsSection();
  if (only.has('upload')) await uploadSection(ctx);
  if (only.has('thumbs')) await thumbsSection(ctx);
  if (only.has('queue')) await queueSection(ctx);
  if (only.has('export')) await exportSection(ctx);
  if (only.has('gc')) await gcSurvivalSection(ctx, { eventId: fixtureIds.galleryEvent });
  if (only.has('links')) await signedLinksSection(ctx);
  // nginx in front of 1 and 2 `epu web` on a PostgreSQL of its own: throughput ratio (docs/decisions/0014).
  if (only.has('replicas'))
    await benchReplicas({
      duration: ctx.duration,
      connections: ctx.connections,
      figure: ctx.figure,
      nextPort,
      log: (line) => console.log(line.replace(/^\nreplicas:/, '\n== replicas:')),
    });

  console.log('\n== summary');
  for (const f of figures) console.log(row([f.name, `${f.value} ${f.unit}`], [78, 24]));
  if (ctx.targets.length) {
    console.log('\n== targets (issue 12; page cache off unless said)');
    for (const t of ctx.targets)
      console.log(row([t.name, `${fmt(t.value, 2)}x ${t.atMost ? '<=' : '>='} ${t.limit}x`, t.met ? 'met' : 'NOT met'], [78, 16, 8]));
  }
}

/**
 * The ports of one `epu start`: the web's, METRICS_PORT and the two after it (the worker's and the
 * functions' metrics), FUNCTIONS_PORT and EMBEDDED_PG_PORT. epu start refuses to start when two of them
 * are the same, and free ports drawn one at a time can be: drawn again until all six differ.
 */
async function startPorts() {
  for (;;) {
    const web = await nextPort();
    const metrics = await nextPort();
    if (portBase !== undefined) await Promise.all([nextPort(), nextPort()]);
    const functions = await nextPort();
    const postgres = await nextPort();
    if (new Set([web, metrics, metrics + 1, metrics + 2, functions, postgres]).size === 6) return { web, metrics, functions, postgres };
  }
}

/** The bench's PostgreSQL with its data, `epu start` on it, the page-cache-off web, the twin and the plain Fastify. */
async function startSystem() {
  console.log('== setup');
  const database = await prepareDatabase({ port: await nextPort(), volume, statements: ctx.statements, log: ctx.log });
  cleanup.push(() => database.stop());
  ctx.databaseUrl = database.url;
  ctx.postmasterPid = postmasterPid(database.pgDataDir);
  ctx.db = new pg.Pool({ connectionString: database.url, max: 4, application_name: 'bench' });
  // The database stops before this pool ends at cleanup: its idle connections' termination is expected.
  ctx.db.on('error', () => undefined);
  cleanup.push(() => ctx.db.end());
  const ports = await startPorts();
  ctx.base = `http://127.0.0.1:${ports.web}`;
  ctx.storageRoot = path.join(runDir, 'epu', 'storage');
  ctx.epu = spawnProcess(
    process.execPath,
    [path.join(root, 'bin/epu.js'), 'start'],
    epuEnv({ PORT: String(ports.web), METRICS_PORT: String(ports.metrics), FUNCTIONS_PORT: String(ports.functions) }),
    logFile,
  );
  cleanup.push(() => ctx.epu.stop());
  await waitForHttp(`${ctx.base}/healthz`);
  ctx.epuWebPid = () =>
    childrenOf(ctx.epu.child.pid).find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('web'));
  ctx.databaseUrl = database.url;
  ctx.owner = await signUp('bench-owner@example.test');
  ctx.createEvent = createEvent;

  const twinPort = await nextPort();
  const twin = spawnProcess(
    process.execPath,
    [...perfArgs, path.join(root, 'scripts/bench/twin/server.mjs')],
    {
      PORT: String(twinPort),
      DATABASE_URL: database.url,
      PUBLIC_URL: ctx.base,
      SECRET_KEY,
      POOL_MAX: '10', // EPU's default DATABASE_POOL_MAX
      PUBLIC_DIR: path.join(root, 'public'),
    },
    logFile,
  );
  cleanup.push(() => twin.stop());
  if (perfSplit) perfMapPids.push(twin.child.pid);
  const fastifyPort = await nextPort();
  const fastify = spawnProcess(
    process.execPath,
    [...perfArgs, path.join(root, 'scripts/bench/fastify-livez.mjs')],
    { PORT: String(fastifyPort) },
    logFile,
  );
  cleanup.push(() => fastify.stop());
  if (perfSplit) perfMapPids.push(fastify.child.pid);
  const uncached = await spawnWeb({ PUBLIC_PAGE_CACHE_SECONDS: '0' }, perfArgs);
  await waitForHttp(`http://127.0.0.1:${twinPort}/livez`);
  await waitForHttp(`http://127.0.0.1:${fastifyPort}/livez`);
  ctx.sides = {
    twin: { name: 'twin', url: `http://127.0.0.1:${twinPort}`, pids: () => [twin.child.pid], perf: perfSplit },
    fastify: { name: 'plain Fastify', url: `http://127.0.0.1:${fastifyPort}`, pids: () => [fastify.child.pid], perf: perfSplit },
    epuOff: { name: 'EPU, page cache off', url: uncached.url, pids: uncached.pids, perf: perfSplit },
    epuOn: { name: 'EPU, page cache on', url: ctx.base, pids: () => [ctx.epuWebPid()] },
  };

  // Both sides must read the same cookies: EPU opens the one sealed by the twin's own code.
  const me = await fetch(`${ctx.base}/api/v1/me`, { headers: { cookie: cookieOf(fixtureIds.viewer) } });
  const user = me.ok ? (await me.json()).user : null;
  if (user?.id !== fixtureIds.viewer.uid)
    throw new Error(`EPU did not accept the twin-sealed session cookie (GET /api/v1/me answered ${me.status})`);
  console.log(
    `  EPU (${ctx.base}; page cache off: ${uncached.url}), twin, plain Fastify up; data from ${database.regenerated ? 'a fresh' : 'the kept'} template of ${database.generatedAt}; pg_stat_statements ${ctx.statements ? 'on' : 'off'}; the twin's sealed cookie opens in EPU`,
  );
}

async function signUp(email) {
  const response = await fetch(`${ctx.base}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'bench password', name: 'Bench Owner' }),
  });
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { cookie, id: (await response.json()).user.id };
}

async function createEvent(i, capacity, visibility = 'public') {
  const response = await fetch(`${ctx.base}/api/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: ctx.owner.cookie },
    body: JSON.stringify({
      title: `Bench event ${i}`,
      description: 'Seeded by npm run bench.',
      venue: 'Hall',
      startsAt: new Date(Date.now() + (i + 1) * 3_600_000).toISOString(),
      capacity,
      visibility,
    }),
  });
  return (await response.json()).id;
}

const keptProfiles = path.join(os.tmpdir(), 'epu-bench-profiles');

/** With --cpu-prof: a fresh profiled page-cache-off web for one run, its profile read when it exits. */
async function profiledSide() {
  const dir = path.join(runDir, 'profiles');
  fs.mkdirSync(dir, { recursive: true });
  const web = await spawnWeb({ PUBLIC_PAGE_CACHE_SECONDS: '0' }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  return {
    side: { name: 'EPU, page cache off (profiled)', url: web.url, pids: web.pids },
    async report(log) {
      await web.web.stop();
      const written = newestProfile(dir);
      if (!written) return log('    (no CPU profile was written)');
      // Kept after the run's directory goes, for a closer look (chrome://inspect, speedscope).
      const file = path.join(keptProfiles, path.basename(written));
      fs.mkdirSync(keptProfiles, { recursive: true });
      fs.copyFileSync(written, file);
      log(`    top self-time functions of the profiled EPU web (${file}):`);
      for (const f of topFunctions(file)) log(`      ${fmt(f.share * 100, 1).padStart(5)}%  ${f.name}`);
    },
  };
}

/** A row's path, with its round when --repeat runs more than one. */
const roundName = (name, round) => (ctx.repeat > 1 ? `${name} #${round}` : name);
/**
 * The index of the median value; for an even count, of the upper of the two
 * middle ones (the less flattering ratio, and a round that was measured).
 */
function medianIndex(values) {
  const order = values.map((value, i) => [value, i]).sort((a, b) => a[0] - b[0]);
  return order[Math.floor(order.length / 2)][1];
}
const medianOf = (values) => values[medianIndex(values)];

async function livezSection() {
  ctx.log(`\n== livez: GET /livez, ${ctx.connections} connections, ${ctx.duration} s per side after ${ctx.warmSeconds} s of warm-up`);
  const { twin, fastify, epuOff, epuOn } = ctx.sides;
  await compareResponses(ctx.log, 'GET /livez', [epuOff, twin], { path: '/livez' });
  printHeader(ctx.log);
  const rounds = [];
  const profiled = cpuProf ? await profiledSide() : null;
  for (let round = 1; round <= ctx.repeat; round++) {
    const results = {};
    for (const [key, side] of Object.entries({ twin, fastify, epuOff: profiled?.side ?? epuOff, epuOn })) {
      results[key] = await measure(ctx, side, { path: '/livez' }, { warm: round === 1 ? undefined : 0 });
      printResult(ctx.log, roundName('GET /livez', round), side.name, results[key], key.startsWith('epu') ? results.fastify : null);
    }
    rounds.push(results);
  }
  await profiled?.report(ctx.log);
  ctx.log('  (EPU/twin CPU column: against the plain Fastify route)');
  const ratiosOf = (key) => rounds.map((r) => r[key].serverMs / r.fastify.serverMs);
  const median = rounds[medianIndex(ratiosOf('epuOff'))];
  printServerCpu(median.epuOff, median.fastify, 'plain Fastify');
  printModules(ctx.log, median.epuOff, median.fastify, 'plain Fastify');
  for (const key of ['epuOff', 'epuOn'])
    target(ctx, `/livez server CPU, ${ctx.sides[key].name} / plain Fastify`, medianOf(ratiosOf(key)), 2);
  const results = rounds[medianIndex(rounds.map((r) => r.epuOn.serverMs))];
  ctx.figure('GET /livez, twin (node:http)', fmt(results.twin.rps, 0), 'req/s', `${fmt(results.twin.serverMs, 3)} ms CPU/request`);
  ctx.figure('GET /livez, EPU', fmt(results.epuOn.rps, 0), 'req/s', `${fmt(results.epuOn.serverMs, 3)} ms CPU/request`);
}

/** Where each side's server CPU went in the round that stands for a path (why a target is missed), and how to name the functions. */
function printServerCpu(epu, twin, twinName = 'twin') {
  printCpuSplit(ctx.log, 'EPU', epu);
  printCpuSplit(ctx.log, twinName, twin);
  ctx.log(
    `    (functions: --cpu-prof samples EPU's main thread; perf with --perf-basic-prof charges the kernel and every thread to the request, decision 0057)`,
  );
}

/** The read paths: [key, name, request, anonymous]. */
async function readPaths() {
  const gallery = fixtureIds.galleryEvent;
  const { rows } = await ctx.db.query(
    `SELECT created_at, id FROM photos WHERE event_id = $1 AND status = 'ready' ORDER BY created_at DESC, id DESC`,
    [gallery],
  );
  // Later pages start after a random photo: cursors as the API hands them out (base64url of [createdAt, id]).
  const cursors = Array.from({ length: 2000 }, () => {
    const r = rows[20 + Math.floor(Math.random() * (rows.length - 40))];
    return Buffer.from(JSON.stringify([r.created_at.toISOString(), r.id])).toString('base64url');
  });
  const laterPath = () => `/api/v1/events/${gallery}/photos?cursor=${cursors[Math.floor(Math.random() * cursors.length)]}`;
  const viewerCookie = cookieOf(fixtureIds.viewer);
  return [
    ['list', 'GET /api/v1/events', { path: '/api/v1/events' }, true],
    ['gallery', 'GET /api/v1/events/:id/photos', { path: `/api/v1/events/${gallery}/photos` }, true],
    [
      'gallery-later',
      'GET .../photos?cursor= (random)',
      { path: laterPath(), requests: [{ setupRequest: (request) => ({ ...request, path: laterPath() }) }] },
      true,
    ],
    ['page', 'GET /events/:id (anonymous)', { path: `/events/${gallery}`, headers: { accept: 'text/html' } }, true],
    [
      'page-signed-in',
      'GET /events/:id (signed in)',
      { path: `/events/${gallery}`, headers: { accept: 'text/html', cookie: viewerCookie } },
      false,
    ],
  ].filter(([key]) => paths.includes(key));
}

async function readsSection() {
  ctx.log(
    `\n== reads: EPU (page cache off, and on for anonymous paths) against the twin; ${ctx.connections} connections, ${ctx.duration} s per side after ${ctx.warmSeconds} s of warm-up`,
  );
  const { twin, epuOff, epuOn } = ctx.sides;
  const measured = await readPaths();
  for (const [, name, request] of measured) await compareResponses(ctx.log, name, [epuOff, twin], request);
  printHeader(ctx.log);
  for (const [, name, request, anonymous] of measured) {
    const profiled = cpuProf ? await profiledSide() : null;
    const rounds = [];
    for (let round = 1; round <= ctx.repeat; round++) {
      // Each side warms up once per path; later rounds find it warm.
      const warm = round === 1 ? undefined : 0;
      const twinResult = await measure(ctx, twin, request, { warm });
      printResult(ctx.log, roundName(name, round), twin.name, twinResult, null);
      const off = await measure(ctx, profiled?.side ?? epuOff, request, { warm });
      printResult(ctx.log, roundName(name, round), epuOff.name, off, twinResult);
      const on = anonymous ? await measure(ctx, epuOn, request, { warm }) : null;
      if (on) printResult(ctx.log, roundName(name, round), epuOn.name, on, twinResult);
      rounds.push({ twinResult, off, on });
    }
    // The round whose server ratio is the median stands for the path (its statements, its figures).
    const serverRatios = rounds.map((r) => r.off.serverMs / r.twinResult.serverMs);
    const { twinResult, off, on } = rounds[medianIndex(serverRatios)];
    if (ctx.repeat > 1)
      ctx.log(`  ${name}: server ratios of the ${ctx.repeat} rounds ${serverRatios.map((x) => `${fmt(x, 2)}x`).join(', ')}`);
    printServerCpu(off, twinResult);
    printModules(ctx.log, off, twinResult, 'twin');
    target(ctx, `${name}: server CPU/request, EPU / twin`, medianOf(serverRatios), 1.3);
    target(ctx, `${name}: PostgreSQL CPU/request, EPU / twin`, medianOf(rounds.map((r) => r.off.pgMs / r.twinResult.pgMs)), 1.2, {
      explain: () => {
        printStatements(ctx.log, 'EPU', off);
        printStatements(ctx.log, 'twin', twinResult);
      },
    });
    await profiled?.report(ctx.log);
    ctx.figure(`${name}, EPU page cache off`, fmt(off.rps, 0), 'req/s', `p95 ${fmt(off.p95)} ms; twin ${fmt(twinResult.rps, 0)} req/s`);
    if (on)
      ctx.figure(
        `${name}, EPU page cache on (cached)`,
        fmt(on.rps, 0),
        'req/s',
        `p95 ${fmt(on.p95)} ms, ${fmt(on.serverMs, 3)} ms CPU/request`,
      );
  }
  if (paths.includes('media')) await mediaPath();
}

/** A signed thumbnail from the file driver's /media/ route: EPU only (no twin serves files). */
async function mediaPath() {
  const { epuOn } = ctx.sides;
  const response = await fetch(`${epuOn.url}/api/v1/events/${fixtureIds.galleryEvent}/photos`);
  const url = new URL((await response.json()).items[0].thumbnailUrl);
  const key = decodeURIComponent(url.pathname.replace(/^\/media\//, ''));
  const { createFileStorage } = await import(path.join(root, 'dist/src/platform/storage/file-storage.js'));
  const { createKeyring } = await import(path.join(root, 'dist/src/platform/security/keyring.js'));
  const storage = createFileStorage({ root: ctx.storageRoot, publicUrl: new URL(ctx.base), keyring: createKeyring([SECRET_KEY]) });
  // A 400 px WebP of a smooth picture, about the size of a real photo's thumbnail, written as the photos job writes it.
  const noise = await sharp({ create: { width: 400, height: 300, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .png()
    .toBuffer();
  await storage.put(key, await sharp(noise).blur(2).webp({ quality: 80 }).toBuffer(), {
    contentType: 'image/webp',
    cacheControl: 'public, max-age=31536000, immutable',
  });
  const result = await measure(ctx, epuOn, { path: url.pathname + url.search });
  printResult(ctx.log, 'GET /media/derived/... (thumbnail)', 'EPU (no twin)', result, null);
  ctx.figure(
    'GET /media/derived/... (signed thumbnail), EPU',
    fmt(result.rps, 0),
    'req/s',
    `p95 ${fmt(result.p95)} ms, ${fmt(result.serverMs, 3)} ms CPU/request`,
  );
}

/** Fresh users for booking runs: each run takes the next range of the fixture's bookers. */
let nextBooker = 1;
function bookers(count) {
  const first = nextBooker;
  nextBooker += count;
  if (nextBooker - 1 > volume.bookers) throw new Error('the fixture has no fresh bookers left for another run');
  let i = first;
  const created = [];
  return {
    count,
    /** Ids of the bookings answered 201. */
    created,
    request: (eventId) => ({
      requests: [
        {
          method: 'POST',
          path: `/api/v1/events/${eventId}/bookings`,
          setupRequest: (request) => ({ ...request, headers: { ...request.headers, cookie: cookieOf(fixtureIds.booker(i++)) } }),
          onResponse: (status, body) => status === 201 && created.push(JSON.parse(body).booking.id),
        },
      ],
    }),
  };
}

/**
 * One booking run on a hot event, a fresh user per request; then the
 * guarantees: every 201 is a confirmed booking holding a place, never above
 * capacity. Requests still in flight when the load stops may book without
 * their 201 being read: counted apart, at most one per connection and run.
 */
async function bookingRun(side, eventId) {
  const users = bookers(bookersPerRun);
  const warm = bookingsWarmUp;
  const startedAt = new Date();
  const r = await measure(ctx, side, users.request(eventId), { warm, maxRequests: users.count - warm });
  if (r.requests >= users.count - warm)
    ctx.log(
      `  ${side.name}: the run used up its ${users.count - warm} fresh users before ${ctx.duration} s: a shorter run than the other side's`,
    );
  r.bookingsPerSecond = ((r.statuses[201] ?? 0) / Math.max(1, r.requests)) * r.rps;
  const {
    rows: [check],
  } = await ctx.db.query(
    `SELECT (SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'confirmed')::int AS confirmed,
            (SELECT count(*) FROM bookings WHERE id = ANY($2::uuid[]) AND event_id = $1 AND status = 'confirmed')::int AS answered,
            (SELECT count(*) FROM event_places WHERE event_id = $1 AND booking_id IS NOT NULL)::int AS places,
            (SELECT capacity FROM events WHERE id = $1) AS capacity`,
    [eventId, users.created],
  );
  const unanswered = check.confirmed - volume.hotBookings - users.created.length;
  r.check = {
    ...check,
    created: users.created.length,
    unanswered,
    ok:
      check.answered === users.created.length &&
      unanswered >= 0 &&
      unanswered <= 2 * ctx.connections &&
      check.places === check.confirmed &&
      check.confirmed <= check.capacity,
  };
  r.startedAt = startedAt;
  if (r.requests === 0) ctx.log(`  ${side.name}: no booking answered within the run; give it a longer --duration`);
  return r;
}

const describeCheck = (c) =>
  `${c.answered}/${c.created} answered bookings confirmed, ${c.unanswered} more booked by requests cut off at the end of the load, places taken ${c.places} = confirmed ${c.confirmed} <= capacity ${c.capacity}: ${c.ok ? 'ok' : 'MISMATCH'}`;

/** Audit entries of a run's bookings (EPU writes them in the booking statement; waits in case they come later). */
async function auditedShare(eventId, since, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let row;
  do {
    ({
      rows: [row],
    } = await ctx.db.query(
      `SELECT count(*)::int AS bookings, count(a.id)::int AS audited FROM bookings b
       LEFT JOIN audit_log a ON a.subject_type = 'booking' AND a.subject_id = b.id::text
       WHERE b.event_id = $1 AND b.created_at >= $2`,
      [eventId, since],
    ));
    if (row.audited === row.bookings) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  } while (Date.now() < deadline);
  return row;
}

async function bookingsSection() {
  ctx.log(
    `\n== bookings: POST /api/v1/events/:id/bookings over HTTP on a hot event (${volume.hotBookings.toLocaleString('en')} bookings before ${bookingsWarmUp.toLocaleString('en')} unmeasured ones, one identical event per side), a fresh signed-in user per request; ${ctx.connections} connections, ${ctx.duration} s`,
  );
  const { twin, epuOff } = ctx.sides;
  const [twinEvent, epuEvent] = fixtureIds.hotEvents;
  const profiled = cpuProf ? await profiledSide() : null;
  const epuSide = { ...(profiled?.side ?? epuOff), background: () => [ctx.epu.child.pid] };
  printHeader(ctx.log);
  const t = await bookingRun(twin, twinEvent);
  printResult(ctx.log, 'POST .../bookings', twin.name, t, null);
  const e = await bookingRun(epuSide, epuEvent);
  printResult(ctx.log, 'POST .../bookings', 'EPU', e, t);
  printModules(ctx.log, e, t, 'twin');
  await profiled?.report(ctx.log);
  for (const [label, r, eventId] of [
    ['twin', t, twinEvent],
    ['EPU', e, epuEvent],
  ]) {
    const audit = await auditedShare(eventId, r.startedAt);
    ctx.log(
      `  ${label}: ${fmt(r.bookingsPerSecond, 0)} bookings/s, statuses ${JSON.stringify(r.statuses)}; ${describeCheck(r.check)}; audit entries ${audit.audited}/${audit.bookings}`,
    );
  }
  ctx.log(`  EPU's other processes (worker, functions, idle web of epu start): ${fmt(e.backgroundMs, 3)} ms CPU per booking`);
  target(ctx, 'bookings/s over HTTP on one hot event, EPU / twin', e.bookingsPerSecond / t.bookingsPerSecond, 0.8, {
    atMost: false,
    explain: () => {
      printStatements(ctx.log, 'EPU', e);
      printStatements(ctx.log, 'twin', t);
    },
  });
  ctx.figure('bookings over HTTP, one hot event, twin', fmt(t.bookingsPerSecond, 0), '/s', `p95 ${fmt(t.p95)} ms`);
  ctx.figure('bookings over HTTP, one hot event, EPU', fmt(e.bookingsPerSecond, 0), '/s', `p95 ${fmt(e.p95)} ms`);
}

async function concurrencySection() {
  ctx.log(
    `\n== concurrency: EPU web at WEB_CONCURRENCY 1 and 2 on this machine (page cache off); ${ctx.connections} connections, ${ctx.duration} s`,
  );
  const measured = (await readPaths()).filter(([key]) => key === 'gallery' || key === 'page');
  const [, , c1Event, c2Event] = fixtureIds.hotEvents;
  printHeader(ctx.log);
  for (const [n, eventId] of [
    [1, c1Event],
    [2, c2Event],
  ]) {
    const web = await spawnWeb({ PUBLIC_PAGE_CACHE_SECONDS: '0', WEB_CONCURRENCY: String(n) });
    const side = { name: `EPU, WEB_CONCURRENCY=${n}`, url: web.url, pids: web.pids };
    for (const [, name, request] of measured) {
      const r = await measure(ctx, side, request);
      printResult(ctx.log, name, side.name, r, null);
      ctx.figure(`${name}, WEB_CONCURRENCY=${n}`, fmt(r.rps, 0), 'req/s', `p95 ${fmt(r.p95)} ms`);
    }
    const b = await bookingRun(side, eventId);
    printResult(ctx.log, 'POST .../bookings', side.name, b, null);
    ctx.figure(
      `bookings over HTTP, WEB_CONCURRENCY=${n}`,
      fmt(b.bookingsPerSecond, 0),
      '/s',
      `p95 ${fmt(b.p95)} ms; ${b.check.ok ? 'guarantees held' : 'MISMATCH'}`,
    );
    await web.web.stop();
  }
}

async function designsSection() {
  const total = Number(flag('designs-bookings', 4000));
  ctx.log(
    `\n== designs: one hot event, ${total} bookings per design, ${ctx.connections} pg connections (database level, the app's transaction shape)`,
  );
  const result = await benchBookings({ databaseUrl: ctx.databaseUrl, total, connections: ctx.connections });
  const widths = [34, 9, 11, 8, 8, 8, 10, 26];
  ctx.log(row(['design', 'bookings', 'bookings/s', 'p50 ms', 'p95 ms', 'p99 ms', 'refused', 'confirmed / capacity'], widths));
  for (const [name, r] of [
    ['counter row (UPDATE ... +1)', result.counter],
    ['places (FOR UPDATE SKIP LOCKED)', result.places],
  ]) {
    const capacity = `${r.confirmed}/${result.capacity} ${r.withinCapacity ? 'ok' : 'EXCEEDED OR SHORT'}`;
    ctx.log(row([name, r.attempts, fmt(r.rate, 0), fmt(r.p50), fmt(r.p95), fmt(r.p99), `${r.refused}/256`, capacity], widths));
  }
  ctx.figure('bookings/s, counter row design (database level)', fmt(result.counter.rate, 0), '/s', `p95 ${fmt(result.counter.p95)} ms`);
  ctx.figure('bookings/s, places design (database level)', fmt(result.places.rate, 0), '/s', `p95 ${fmt(result.places.p95)} ms`);
}

async function startupSection() {
  ctx.log('\n== startup');
  // A fresh data dir of its own: initdb of an embedded PostgreSQL, migrations, three processes.
  const dataDir = tempDir('startup');
  fs.chmodSync(dataDir, 0o755);
  const ports = await startPorts();
  const port = ports.web;
  const started = performance.now();
  const fresh = spawnProcess(
    process.execPath,
    [path.join(root, 'bin/epu.js'), 'start'],
    {
      EPU_DATA_DIR: dataDir,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      METRICS_PORT: String(ports.metrics),
      FUNCTIONS_PORT: String(ports.functions),
      EMBEDDED_PG_PORT: String(ports.postgres),
      SECRET_KEY,
      LOG_PRETTY: 'false',
    },
    logFile,
  );
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    ctx.figure(
      '`epu start` to /healthz 200, fresh data dir',
      fmt((performance.now() - started) / 1000, 2),
      's',
      'initdb, migrations, three processes',
    );
  } finally {
    await fresh.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const webPort = await nextPort();
  const web = spawnProcess(
    process.execPath,
    [path.join(root, 'bin/epu.js'), 'web'],
    epuEnv({ PORT: String(webPort), METRICS_PORT: String(await nextPort()) }),
    null,
  );
  try {
    const t0 = performance.now();
    await waitForLine(web.child.stdout, /"msg":"web ready"/);
    const ready = (performance.now() - t0) / 1000;
    await waitForHttp(`http://127.0.0.1:${webPort}/healthz`);
    ctx.figure(
      '`epu web` to "web ready" (database up)',
      fmt(ready, 2),
      's',
      `/healthz 200 after ${fmt((performance.now() - t0) / 1000, 2)} s`,
    );
  } finally {
    await web.stop();
  }
}

async function stopAll() {
  for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
  cleanup.length = 0;
}
// Interrupted: stop what the bench started before going.
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the processes the bench started`);
    // Exits once the processes are stopped, whether or not stopping one failed.
    void stopAll().finally(() => process.exit(130));
  });

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  throw error;
} finally {
  await stopAll();
  // On failure the processes' log outlives the run dir, for the reason.
  if (failed && fs.existsSync(logFile)) {
    const kept = path.join(path.dirname(runDir), `epu-bench-failed-${process.pid}.log`);
    fs.copyFileSync(logFile, kept);
    console.error(`the processes' log: ${kept}`);
  }
  fs.rmSync(runDir, { recursive: true, force: true });
}
