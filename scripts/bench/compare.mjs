// The comparisons of `npm run bench`: EPU against its twins (scripts/bench/twin/)
// on the same database, same run. Per path and side: req/s, p95, server CPU
// per request (the server's process tree, from /proc) and PostgreSQL CPU per
// request (every postgres process: the postmaster's tree, reaped backends
// included), then the ratios against the issue's targets, met or NOT met;
// where one is not met, what dominated (pg_stat_statements, --cpu-prof).
import fs from 'node:fs';
import path from 'node:path';
import { fmt, load, row, threadCpuSeconds, treeCpuSeconds } from './lib.mjs';
import { startPerf } from './perf-split.mjs';

/**
 * One measured run: an unrecorded warm-up, then `duration` seconds of load
 * while the server's and PostgreSQL's CPU time are read before and after.
 * The warm-up lasts `ctx.warmSeconds` at full load; `warm` requests instead
 * where every request uses something up (a fresh user per booking), and none
 * with `warm: 0` (a later round of a path whose sides are warm already). By
 * time, not by count: V8's compiler threads kept working for about 4 s into
 * the load on EPU's gallery (decision 0058), so 1,500 requests (under a
 * second) left one-off compilation inside the measured window.
 */
export async function measure(ctx, side, request, { warm, maxRequests } = {}) {
  // autocannon takes the path in the URL (or per request, in `requests`).
  const { path: first = '/', ...rest } = request;
  const options = { url: `${side.url}${first}`, connections: ctx.connections, ...rest };
  const warmResult =
    warm === 0 ? null : await load(warm === undefined ? { ...options, duration: ctx.warmSeconds } : { ...options, amount: warm });
  if (ctx.statements) await ctx.db.query('SELECT pg_stat_statements_reset()');
  const pids = side.pids();
  const server0 = treeCpuSeconds(...pids);
  const threads0 = threadCpuSeconds(...pids);
  const pg0 = treeCpuSeconds(ctx.postmasterPid);
  const background0 = side.background ? treeCpuSeconds(...side.background()) : 0;
  // With --perf, the sides that run with PERF_NODE_ARGS are sampled while the measured load runs.
  const recording = ctx.perf && side.perf ? startPerf(pids[0], path.join(ctx.perfDir, `perf-${pids[0]}-${Date.now()}.data`)) : null;
  const result = await load({ ...options, duration: ctx.duration, ...(maxRequests ? { maxOverallRequests: maxRequests } : {}) });
  // The recording ends with the load; it is read after the counters, which would go on counting meanwhile.
  await recording?.end();
  const perRequest = (seconds) => (seconds * 1000) / Math.max(1, result.requests);
  result.serverMs = perRequest(treeCpuSeconds(...pids) - server0);
  const threads1 = threadCpuSeconds(...pids);
  result.serverSplitMs = Object.fromEntries(Object.keys(threads1).map((key) => [key, perRequest(threads1[key] - threads0[key])]));
  result.pgMs = perRequest(treeCpuSeconds(ctx.postmasterPid) - pg0);
  if (side.background) result.backgroundMs = perRequest(treeCpuSeconds(...side.background()) - background0);
  if (ctx.statements) result.statements = await topStatements(ctx, result.requests);
  if (recording) result.perf = await recording.split(result.requests);
  result.warm = warmResult;
  return result;
}

async function topStatements(ctx, requests) {
  const { rows } = await ctx.db.query(
    `SELECT calls, total_exec_time AS ms, query FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'
     ORDER BY total_exec_time DESC LIMIT 6`,
  );
  return rows.map((r) => ({
    perRequest: Number(r.calls) / Math.max(1, requests),
    msPerRequest: Number(r.ms) / Math.max(1, requests),
    query: r.query.replace(/\s+/g, ' ').slice(0, 150),
  }));
}

const WIDTHS = [34, 22, 8, 8, 9, 11, 10, 12];
export function printHeader(log) {
  log(row(['path', 'side', 'req/s', 'p95 ms', 'errors', 'server ms/r', 'PG ms/r', 'EPU/twin CPU'], WIDTHS));
}

export function printResult(log, name, sideName, r, twin) {
  const ratio = twin ? `${fmt(r.serverMs / twin.serverMs, 2)}x, ${fmt(r.pgMs / twin.pgMs, 2)}x` : '';
  const errors = r.errors + (r.non2xx ? ` (${r.non2xx} non-2xx)` : '');
  log(row([name, sideName, fmt(r.rps, 0), fmt(r.p95), errors, fmt(r.serverMs, 3), fmt(r.pgMs, 3), ratio], WIDTHS));
}

/** A target: `value` (a ratio) against `limit`; `atMost` false means at least. Recorded for the summary. */
export function target(ctx, name, value, limit, { atMost = true, explain } = {}) {
  const met = Number.isFinite(value) && (atMost ? value <= limit : value >= limit);
  ctx.targets.push({ name, value, limit, atMost, met });
  ctx.log(`  target ${name}: ${fmt(value, 2)}x (${atMost ? '<=' : '>='} ${limit}x): ${met ? 'met' : 'NOT met'}`);
  if (!met) explain?.();
}

/** Where a side's server CPU went, per request: its main thread's user and kernel time, and its other threads. */
export function printCpuSplit(log, label, r) {
  const { mainUser, mainSystem, helpers } = r.serverSplitMs;
  log(
    `    server CPU per request, ${label}: ${fmt(r.serverMs * 1000, 0)} µs = main thread ${fmt(mainUser * 1000, 0)} µs in JavaScript and native code + ${fmt(mainSystem * 1000, 0)} µs in the kernel (sockets, log writes) + ${fmt(helpers * 1000, 0)} µs on other threads (V8's GC and compiler helpers)`,
  );
}

/** What dominated a side's run: its top statements per request (pg_stat_statements). */
export function printStatements(log, label, r) {
  if (!r.statements) return;
  log(`    top statements, ${label} (calls per request, exec ms per request):`);
  for (const s of r.statements) log(`      ${fmt(s.perRequest, 2).padStart(6)} ${fmt(s.msPerRequest, 3).padStart(8)}  ${s.query}`);
}

/** Top self-time functions of a .cpuprofile (V8's sampled profile). */
export function topFunctions(file, count = 15) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    const dt = profile.timeDeltas[i] ?? 0;
    const where = frame.url ? `${frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, share: us / total, ms: us / 1000 }));
}

/** Response bodies of two sides, byte for byte; prints sizes (headers too) and where they first differ. */
export async function compareResponses(log, name, sides, request) {
  const answers = [];
  for (const side of sides) {
    const response = await fetch(`${side.url}${request.path}`, { method: request.method ?? 'GET', headers: request.headers });
    const body = Buffer.from(await response.arrayBuffer());
    let headerBytes = 0;
    response.headers.forEach((value, key) => (headerBytes += key.length + value.length + 4));
    answers.push({ side: side.name, status: response.status, body, headerBytes });
  }
  const [a, b] = answers;
  let note;
  if (a.body.equals(b.body)) note = 'identical bodies';
  else {
    let i = 0;
    while (i < a.body.length && a.body[i] === b.body[i]) i++;
    const at = (x) => JSON.stringify(x.body.subarray(Math.max(0, i - 20), i + 40).toString('utf8'));
    note = `bodies DIFFER from byte ${i}: ${a.side} ${at(a)} / ${b.side} ${at(b)}`;
  }
  log(
    `  ${name}: ${answers.map((x) => `${x.side} ${x.status}, ${x.body.length} B body + ${x.headerBytes} B headers`).join('; ')}; ${note}`,
  );
  return answers;
}

export function newestProfile(dir) {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
  return files.sort((x, y) => fs.statSync(y).mtimeMs - fs.statSync(x).mtimeMs)[0];
}
