import { describe, expect, it } from 'vitest';

// The bench's scripts are plain JavaScript: imported by path, typed here by what the test uses.
const perfSplit = '../scripts/bench/perf-split.mjs';
const { kindOf, modulesPerRequest } = (await import(perfSplit)) as {
  modulesPerRequest: (script: string, pid: number, requests: number) => Map<string, number>;
  kindOf: (module: string) => string;
};

/** One sample as `perf script -F tid,period,ip,sym` prints it: the thread and period, then the stack from the leaf up. */
const sample = (tid: number, frames: string[]) =>
  [
    `    ${tid}    1000000`,
    ...frames.map((frame, i) => `\t${frame.startsWith('k:') ? 'ffffffff8100' : '7f70'}${i}00 ${frame.replace(/^k:/, '')}`),
  ].join('\n');

describe('the bench perf split (--perf)', () => {
  const pid = 4242;
  const script = [
    // JavaScript's own time: its module.
    sample(pid, [
      'JS:*toJsonList file:///w/dist/src/features/photos/photos.service.js:31:30',
      'JS:*gallery file:///w/dist/src/features/photos/photos.service.js:217:22',
    ]),
    // A builtin called from JavaScript: the module that called it.
    sample(pid, ['Builtins_KeyedLoadIC_Megamorphic', 'JS:*routeHandler /w/node_modules/fastify/lib/route.js:465:25']),
    sample(pid, ['Builtins_LoadIC', 'JS:*emit node:events:471:44']),
    // A package's own dependency counts as itself.
    sample(pid, ['JS:*ucs2length /w/node_modules/@fastify/ajv-compiler/node_modules/ajv/dist/runtime/ucs2length.js:8:20']),
    // JSON and regular expressions: the work, whoever calls it.
    sample(pid, ['v8::internal::JsonStringifier::SerializeString', 'JS:*Reply.send /w/node_modules/fastify/lib/reply.js:156:33']),
    sample(pid, ['v8::internal::JsonStringifier::SerializeString', 'JS:*gallery file:///w/scripts/bench/twin/server.mjs:182:23']),
    sample(pid, ['RegExp:[^\\t\\x20-\\x7e\\x80-\\xff]', 'JS:*processHeader node:_http_outgoing:546:23']),
    // JSON's own frame below another native one (a property lookup it made): still JSON's.
    sample(pid, [
      'v8::internal::LookupIterator::Start',
      'v8::internal::JsonStringifier::Serialize_',
      'JS:*gallery file:///w/scripts/bench/twin/server.mjs:182:23',
    ]),
    // A yardstick's own file, and code generated with new Function (no file).
    sample(pid, ['JS:*handler file:///w/scripts/bench/fastify-livez.mjs:6:3']),
    sample(pid, ['JS:* :1:20', 'JS:*validate /w/node_modules/fastify/lib/validation.js:1:1']),
    // The kernel, whatever JavaScript made the system call.
    sample(pid, ['k:tcp_sendmsg', 'k:do_writev', '__GI___writev', 'JS:*clearBuffer node:internal/streams/writable:744:21']),
    // The garbage collector and the compiler on the main thread, wherever they interrupted.
    sample(pid, ['v8::internal::Scavenger::ScavengeObject', 'v8::internal::Heap::Scavenge', 'JS:*emit node:events:471:44']),
    sample(pid, ['v8::internal::compiler::PipelineImpl::Run', 'Builtins_CompileLazy', 'JS:*emit node:events:471:44']),
    // V8's other threads.
    sample(pid + 1, ['v8::internal::Scavenger::Process', 'v8::internal::ScavengerCollector::JobTask::Run']),
    sample(pid + 2, ['v8::internal::compiler::GraphReducer::ReduceNode']),
    sample(pid + 2, ['k:finish_task_switch.isra.0', 'pthread_cond_wait']),
    // Native code with no JavaScript above it.
    sample(pid, ['uv__io_poll', 'uv_run']),
  ].join('\n\n');

  it('charges each sample once, to its module or its kind of work, in µs per request', () => {
    // 17 samples of 1 ms over 10 requests: 100 µs per sample per request.
    const modules = Object.fromEntries(modulesPerRequest(script, pid, 10));
    expect(modules).toEqual({
      'src/features/photos/photos.service.js': 100,
      fastify: 100,
      'node:events': 100,
      ajv: 100,
      'JSON.stringify': 300,
      'scripts/bench/fastify-livez.mjs': 100,
      '(generated JavaScript, no file)': 100,
      'regular expressions': 100,
      'kernel (system calls, interrupts)': 100,
      'garbage collector': 100,
      'JIT compiler': 100,
      'other threads: garbage collector': 100,
      'other threads: JIT compiler': 100,
      'other threads: other': 100,
      '(no JavaScript on the stack)': 100,
      total: 1700,
    });
  });

  it('groups modules by kind: own code, packages, Node, and the named kinds of work', () => {
    expect(
      [
        'src/features/photos/photos.service.js',
        'scripts/bench/twin/server.mjs',
        'scripts/bench/fastify-livez.mjs',
        'fastify',
        '@fastify/cookie',
        'node:events',
        'JSON.stringify',
        'regular expressions',
        'garbage collector',
        'other threads: garbage collector',
        'other threads: JIT compiler',
        'kernel (system calls, interrupts)',
        '(generated JavaScript, no file)',
      ].map(kindOf),
    ).toEqual([
      'own code (EPU: src/; the yardsticks: scripts/bench/)',
      'own code (EPU: src/; the yardsticks: scripts/bench/)',
      'own code (EPU: src/; the yardsticks: scripts/bench/)',
      'packages (node_modules)',
      'packages (node_modules)',
      "Node's core (node:*)",
      'JSON and regular expressions',
      'JSON and regular expressions',
      'garbage collector (every thread)',
      'garbage collector (every thread)',
      'JIT compiler (every thread)',
      'kernel (system calls, interrupts)',
      '(generated JavaScript, no file)',
    ]);
  });
});
