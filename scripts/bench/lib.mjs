// Shared pieces of `npm run bench`: process control, load generation and
// percentile maths. Figures are printed, never asserted: machines are noisy, so
// compare ratios measured in the same run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Ports for what the bench starts: from `base` upwards when given (--port-base),
 * else any free ones.
 */
export function portAllocator(base) {
  let next = base;
  return async () => (base === undefined ? freePort() : next++);
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs autocannon and returns rps and latency percentiles computed from every response. */
export async function load(options) {
  const latencies = [];
  const statuses = new Map();
  const errorCodes = new Map();
  const instance = autocannon({ connections: 64, duration: 10, pipelining: 1, ...options });
  // A run that reached its request count is timed to its last response: autocannon stops it only at its
  // next one-second sample, so its own finish time rounds such a run up. Any other run keeps autocannon's
  // time, so that a server that stopped answering is not measured over the part it answered.
  const startedAt = performance.now();
  let lastResponseAt = startedAt;
  instance.on('response', (_client, status, _bytes, responseTime) => {
    lastResponseAt = performance.now();
    latencies.push(responseTime);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  });
  instance.on('reqError', (error) => errorCodes.set(error.code ?? error.message, (errorCodes.get(error.code ?? error.message) ?? 0) + 1));
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const countReached = options.maxOverallRequests !== undefined && latencies.length >= options.maxOverallRequests;
  const seconds = (countReached ? (lastResponseAt - startedAt) / 1000 : (result.finish - result.start) / 1000) || result.duration;
  return {
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors: result.errors + result.timeouts + [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0),
    non2xx: result.non2xx,
    statuses: Object.fromEntries(statuses),
    /** Connection-level errors by code (ECONNRESET, ...), counted in `errors`. */
    errorCodes: Object.fromEntries(errorCodes),
  };
}

/** Output goes to `logFile`, or with `logFile` null stays readable on `child.stdout` (see waitForLine). */
export function spawnProcess(command, args, env, logFile) {
  const out = logFile === null ? 'pipe' : fs.openSync(logFile, 'a');
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

export async function waitForHttp(url, timeoutMs = 120_000) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      const response = await fetch(url);
      if (response.ok) return (Date.now() - started) / 1000;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Resolves when a line of `stream` matches `pattern`; the rest of the stream is drained. */
export function waitForLine(stream, pattern, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', (chunk) => {
      if (buffered === null) return;
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      if (lines.some((line) => pattern.test(line))) {
        buffered = null;
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `epu-bench-${name}-`));
}

export function row(cells, widths) {
  return cells.map((cell, i) => String(cell).padEnd(widths[i] ?? 12)).join(' ');
}

export const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export function machine() {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** The fields of a /proc .../stat file after the command name: [0] state, [1] ppid, [11] utime, [12] stime, ... */
function statFields(file) {
  const stat = fs.readFileSync(file, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The processes whose parent is `pid`. */
export function childrenOf(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(`/proc/${entry}/stat`)[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

const CLOCK_TICKS = 100; // USER_HZ

/** utime and stime, in ticks, from a /proc .../stat file. */
function userAndSystemTicks(file) {
  const fields = statFields(file);
  return [Number(fields[11]), Number(fields[12])];
}

/**
 * Where the CPU seconds of `pids` and their live descendants (a cluster's workers) went so far: their main
 * threads' user and kernel time, and the rest of their threads together (V8's compiler and GC helpers, libuv's
 * pool). A thread that has exited still counts in its process's total, so the helpers are the total minus the
 * main thread.
 */
export function threadCpuSeconds(...pids) {
  const split = { mainUser: 0, mainSystem: 0, helpers: 0 };
  const processes = [];
  const visit = (pid) => (processes.push(pid), childrenOf(pid).forEach(visit));
  pids.forEach(visit);
  for (const pid of processes) {
    try {
      const [mainUser, mainSystem] = userAndSystemTicks(`/proc/${pid}/task/${pid}/stat`);
      const [user, system] = userAndSystemTicks(`/proc/${pid}/stat`);
      split.mainUser += mainUser / CLOCK_TICKS;
      split.mainSystem += mainSystem / CLOCK_TICKS;
      split.helpers += (user + system - mainUser - mainSystem) / CLOCK_TICKS;
    } catch {
      // gone
    }
  }
  return split;
}

/**
 * CPU seconds used so far by each of `pids` with every process below it:
 * each live process's utime + stime, plus the children it has already reaped
 * (cutime + cstime), so processes that came and went during a run
 * (PostgreSQL backends) still count.
 */
export function treeCpuSeconds(...pids) {
  const stats = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(`/proc/${entry}/stat`);
      stats.set(Number(entry), {
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
      });
    } catch {
      // gone
    }
  }
  const children = new Map();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let ticks = 0;
  const visit = (pid) => {
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const child of children.get(pid) ?? []) visit(child);
  };
  for (const pid of pids) visit(pid);
  return ticks / CLOCK_TICKS;
}
