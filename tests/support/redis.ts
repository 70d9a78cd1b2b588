import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './process.js';
import { findTool } from './tools.mjs';

/** Whether something answers PING on the port (a Redis that is up and not paused). */
export function redisAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface TestRedis {
  port: number;
  url: string;
  /** SIGSTOP: the process hangs with its sockets open, as an overloaded or frozen Redis does. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGTERM and wait for the exit: connections close, the port refuses. */
  stop(): Promise<void>;
  /** A fresh, empty server on the same port. */
  start(): Promise<void>;
}

/**
 * A redis-server of this test's own on a free port, without persistence, for
 * fault tests: never the machine's shared Redis. Stop it with stop(); the
 * process is also killed when the test process exits.
 */
export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;

  const start = async () => {
    const server = spawn(
      findTool('redis-server') ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    child = server;
    const killOnExit = () => server.kill('SIGKILL');
    process.once('exit', killOnExit);
    server.once('exit', () => process.off('exit', killOnExit));
    const deadline = Date.now() + 10_000;
    while (!(await redisAnswers(port))) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const running = () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error('redis-server is not running');
    return child;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => void running().kill('SIGSTOP'),
    resume: () => void running().kill('SIGCONT'),
    async stop() {
      const server = child;
      if (!server || server.exitCode !== null || server.signalCode !== null) return;
      const exited = new Promise((resolve) => server.once('exit', resolve));
      // A paused server only acts on SIGTERM once it runs again.
      server.kill('SIGCONT');
      server.kill('SIGTERM');
      await exited;
    },
    start,
  };
}
