// `npm run bench -- --perf`: where each side's server CPU goes, per request,
// EPU's and its yardstick's side by side (decision 0061). Linux `perf` samples
// every thread of the server on the cpu-clock, the kernel included, while the
// measured load runs; node runs with --perf-basic-prof so that compiled
// functions have names. Each sample counts once: for V8's other threads (the
// garbage collector's helpers, the JIT compiler), for the garbage collector
// or the compiler on the main thread, for the kernel (system calls,
// interrupts), for JSON and regular expressions (the same work whoever calls
// it), and otherwise for the module of the nearest JavaScript frame, the
// builtins it called included. A function inlined into another counts for the
// one it was inlined into (a hook inlined into Fastify's hook runner counts as
// Fastify), a function still in the interpreter for the compiled one that
// called it, and the map Node appends to can name an address after code freed
// since (a module that does no work per request then shows a few µs): read
// the kinds as where the time is, and a module's row as a lead, not a bill.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { fmt, row } from './lib.mjs';

const run = promisify(execFile);

/**
 * Node's option for the sides that perf samples: a map of JIT code to function names in /tmp/perf-PID.map.
 * Not --interpreted-frames-native-stack: its per-function copies of the interpreter's entry are freed
 * with the bytecode, and their addresses, reused, were named after code long gone (yaml, loaded at start,
 * at 10-20 µs a request).
 */
export const PERF_NODE_ARGS = ['--perf-basic-prof'];

const GC_FRAME = /Scavenger|Heap::|MarkCompact|ConcurrentMarking|Sweeper|Evacuat|GCTracer/;
const COMPILER_FRAME = /compiler::|Compiler::|Maglev|Turbofan|CompileLazy|BytecodeGenerator/;
const KERNEL_ADDRESS = /^\s*ffffffff/;
/** Builtins that do one job whoever calls them, named for the job rather than charged to the caller. */
const NAMED_WORK = [
  [/JsonStringif/, 'JSON.stringify'],
  [/JsonParse/, 'JSON.parse'],
  [/RegExp/, 'regular expressions'],
];
/** How long perf may take to write its recording after SIGINT before it is killed. */
const STOP_TIMEOUT_MS = 30_000;

/**
 * Why perf cannot sample the kernel here, or null when it can. Without the right, perf does not
 * refuse: it samples user space alone (the event becomes cpu-clock:u) and the kernel row would read 0.
 */
function samplingRefusal() {
  if (process.getuid?.() === 0) return null;
  const paranoid = Number(fs.readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'));
  return paranoid <= 1 ? null : `kernel.perf_event_paranoid is ${paranoid}: perf may not sample the kernel (run as root, or set it to 1)`;
}

/**
 * Starts sampling process `pid` (all its threads, on the cpu-clock, so that a sample's period is
 * nanoseconds of CPU whatever counters the machine has) into `file`. `end()` stops the recording, so
 * that the caller reads its counters before `split(requests)` spends seconds reading the recording:
 * `{ modules }` (µs of CPU per request by module), or `{ reason }` when perf is missing or may not sample.
 */
export function startPerf(pid, file) {
  let refusal;
  try {
    refusal = samplingRefusal();
  } catch (error) {
    refusal = `perf_event_paranoid: ${error.message}`;
  }
  if (refusal) return { end: async () => undefined, split: async () => ({ reason: refusal }) };
  const recorder = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-p', String(pid), '-o', file, '--quiet'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  recorder.stderr.on('data', (chunk) => (errors += chunk));
  const exited = new Promise((resolve) => {
    recorder.once('error', (error) => resolve({ error }));
    recorder.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let ended;
  const end = () => {
    if (ended) return ended;
    recorder.kill('SIGINT');
    const killer = setTimeout(() => recorder.kill('SIGKILL'), STOP_TIMEOUT_MS);
    ended = exited.finally(() => clearTimeout(killer));
    return ended;
  };
  return {
    end: async () => void (await end()),
    async split(requests) {
      const { error, code, signal } = await end();
      try {
        if (error) return { reason: `perf: ${error.message}` };
        // perf leaves an empty file behind when it refuses to sample.
        const recorded = fs.existsSync(file) && fs.statSync(file).size > 0;
        if (!recorded || (code !== 0 && signal !== 'SIGINT'))
          return { reason: `perf record: ${errors.trim().split('\n')[0] || `exit ${code ?? signal}`}` };
        const { stdout } = await run('perf', ['script', '-i', file, '-F', 'tid,period,ip,sym'], { maxBuffer: 256 * 1024 * 1024 });
        return { modules: modulesPerRequest(stdout, pid, requests) };
      } catch (failure) {
        // A recording perf could not read back (cut short, too large): the path's figures stand without it.
        return { reason: `perf script: ${(failure.stderr || failure.message).trim().split('\n')[0]}` };
      } finally {
        fs.rmSync(file, { force: true });
      }
    },
  };
}

/** µs of CPU per request by module, from `perf script -F tid,period,ip,sym` of process `pid`. */
export function modulesPerRequest(script, pid, requests) {
  const modules = new Map();
  for (const sample of script.split('\n\n')) {
    const lines = sample.trim().split('\n');
    if (lines.length < 2) continue;
    const [tid, period] = lines[0].trim().split(/\s+/);
    const frames = lines.slice(1).map((line) => line.trim().replace(/^[0-9a-f]+\s+/, ''));
    const name = categorize(frames, { mainThread: String(tid) === String(pid), inKernel: KERNEL_ADDRESS.test(lines[1]) });
    modules.set(name, (modules.get(name) ?? 0) + Number(period));
  }
  const total = [...modules.values()].reduce((sum, ns) => sum + ns, 0);
  modules.set('total', total);
  return new Map([...modules].map(([name, ns]) => [name, ns / 1000 / Math.max(1, requests)]));
}

function categorize(frames, { mainThread, inKernel }) {
  const gc = frames.some((frame) => GC_FRAME.test(frame));
  const compiler = !gc && frames.some((frame) => COMPILER_FRAME.test(frame));
  if (!mainThread) return `other threads: ${gc ? 'garbage collector' : compiler ? 'JIT compiler' : 'other'}`;
  if (gc) return 'garbage collector';
  if (compiler) return 'JIT compiler';
  if (inKernel) return 'kernel (system calls, interrupts)';
  const firstJs = frames.findIndex((frame) => frame.startsWith('JS:'));
  // JSON's and the regular expressions' own frames lie below the JavaScript that called them.
  const native = firstJs < 0 ? frames : frames.slice(0, firstJs);
  const named = NAMED_WORK.find(([pattern]) => native.some((frame) => pattern.test(frame)));
  if (named) return named[1];
  return firstJs < 0 ? '(no JavaScript on the stack)' : moduleOf(frames[firstJs]);
}

/**
 * A package's name (the innermost node_modules: a package's own dependency counts as itself),
 * `node:events`, EPU's source file, a yardstick's file (`scripts/bench/...`), or generated code
 * (`new Function`: the validators Fastify compiles), which has no file.
 */
function moduleOf(frame) {
  const found = frame.match(/.*node_modules\/((?:@[^/]+\/)?[^/]+)|(node:[\w/]+)|dist\/(src\/[^:]+)|(scripts\/bench\/[^:]+)/);
  return found?.[1] ?? found?.[2] ?? found?.[3] ?? found?.[4] ?? '(generated JavaScript, no file)';
}

/** The coarse kind of a module: the side's own code, packages, Node's core, or one of the named kinds of work. */
export function kindOf(name) {
  if (name.startsWith('src/') || name.startsWith('scripts/bench/')) return 'own code (EPU: src/; the yardsticks: scripts/bench/)';
  if (name.startsWith('node:')) return "Node's core (node:*)";
  if (name.endsWith('garbage collector')) return 'garbage collector (every thread)';
  if (name.endsWith('JIT compiler')) return 'JIT compiler (every thread)';
  if (name.startsWith('JSON.') || name === 'regular expressions') return 'JSON and regular expressions';
  if (name.startsWith('kernel') || name.startsWith('(') || name.startsWith('other threads')) return name;
  return 'packages (node_modules)';
}

/** The modules of both sides' runs (measure's `perf`): by kind, then the modules with the largest differences. */
export function printModules(log, epu, yardstick, yardstickName, count = 12) {
  const [mine, theirs] = [epu.perf?.modules, yardstick.perf?.modules];
  if (!mine || !theirs) {
    const reason = epu.perf?.reason ?? yardstick.perf?.reason;
    if (reason) log(`    (no perf split: ${reason})`);
    return;
  }
  const widths = [52, 10, 14, 10];
  const table = (title, sides, limit) => {
    const rows = [...new Set([...sides[0].keys(), ...sides[1].keys()])]
      .filter((name) => name !== 'total')
      .map((name) => ({ name, epu: sides[0].get(name) ?? 0, other: sides[1].get(name) ?? 0 }))
      .sort((a, b) => Math.abs(b.epu - b.other) - Math.abs(a.epu - a.other))
      .slice(0, limit);
    log(`    ${title}`);
    log(`      ${row(['', 'EPU', yardstickName, 'EPU - it'], widths)}`);
    for (const r of rows) log(`      ${row([r.name, fmt(r.epu, 1), fmt(r.other, 1), fmt(r.epu - r.other, 1)], widths)}`);
  };
  const byKind = (modules) => {
    const kinds = new Map();
    for (const [name, us] of modules) if (name !== 'total') kinds.set(kindOf(name), (kinds.get(kindOf(name)) ?? 0) + us);
    return kinds;
  };
  table('server CPU per request by kind, µs (perf, every thread):', [byKind(mine), byKind(theirs)], Infinity);
  log(
    `      ${row(['total sampled', fmt(mine.get('total'), 1), fmt(theirs.get('total'), 1), fmt(mine.get('total') - theirs.get('total'), 1)], widths)}`,
  );
  table('the modules that differ most, µs per request:', [mine, theirs], count);
}
