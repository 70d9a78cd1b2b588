import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../src/platform/paths.js';

export interface EpuProcess {
  child: ChildProcess;
  output: () => string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the built `epu <command>` as a real process (the test runner builds first). */
export function spawnEpu(args: string[], env: Record<string, string>, cwd = packageRoot): EpuProcess {
  const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'epu.js'), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    waitForLog(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(match[0]);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern} in output:\n${output.slice(-3000)}`));
        }, timeoutMs);
        listeners.add(check);
        // `exited` resolves on exit and never rejects.
        void exited.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited before ${pattern}; output:\n${output.slice(-3000)}`));
          }
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * The ports handed out in this process. Once a probe's socket is closed its port is free again, and the kernel
 * may give it to the next probe: a process started with PORT and METRICS_PORT from two calls then failed with
 * EADDRINUSE on its second listener (seen in CI).
 */
const handedOut = new Set<number>();

/** A port nothing listens on now, never one this process has been given before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

async function unusedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** One JSON line of an ops command's output (platform/cli/reporter.ts). */
export interface CliLine {
  command: string;
  kind: 'step' | 'result' | 'error';
  message: string;
  [field: string]: unknown;
}

/** Runs `epu <args>` to its end: the exit code, the JSON lines it printed and all its output. */
export async function runEpu(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; lines: CliLine[]; output: string }> {
  const child = spawnEpu(args, env);
  // 'exit' may come before the last output is read: the pipes close after it.
  const closed = new Promise((resolve) => child.child.once('close', resolve));
  const { code } = await child.exited;
  await closed;
  const output = child.output();
  const lines = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as CliLine);
  return { code, lines, output };
}
