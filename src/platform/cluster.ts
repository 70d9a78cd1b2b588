import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './observability/logger.js';

/** What a primary sends a worker to begin its graceful shutdown (see onShutdownSignal). */
export const STOP_MESSAGE = 'epu:stop';

export interface Workers {
  /** Tells every worker to stop gracefully and waits for them; true when each exited 0. */
  stop(): Promise<boolean>;
}

// A worker that lived this long before crashing was healthy: its replacement starts at once.
const HEALTHY_AFTER_MS = 30_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Runs `count` copies of this process's command as cluster workers that share
 * its listening port. The primary accepts connections and hands them out
 * round-robin (the kernel's own balancing piles them on a few workers); each
 * worker is a whole process with its own database pool. A worker that exits
 * unasked is replaced, at once the first time and then with a growing delay
 * while replacements keep crashing. `onListening` runs once every worker
 * listens.
 */
export function startWorkers(options: { count: number; logger: Logger; onListening?: () => void }): Workers {
  const { count, logger } = options;
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const startedAt = new Map<number, number>();
  let stopping = false;
  let crashes = 0;
  let listening = 0;
  const exitCodes: number[] = [];
  let allExited: () => void = () => undefined;
  const exited = new Promise<void>((resolve) => (allExited = resolve));

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    worker.once('listening', () => {
      if (++listening === count) options.onListening?.();
    });
  };

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? Date.now());
    startedAt.delete(worker.id);
    if (stopping) {
      exitCodes.push(code ?? 1);
      if (startedAt.size === 0) allExited();
      return;
    }
    crashes = lived >= HEALTHY_AFTER_MS ? 1 : crashes + 1;
    const delay = crashes <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** (crashes - 2));
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'web process exited; replacing it');
    setTimeout(() => !stopping && fork(), delay).unref();
  });

  for (let i = 0; i < count; i++) fork();

  return {
    async stop() {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      if (workers.length === 0) return true;
      for (const worker of workers) {
        if (worker.isConnected()) worker.send(STOP_MESSAGE);
        else worker.process.kill('SIGTERM');
      }
      await exited;
      return exitCodes.every((code) => code === 0);
    },
  };
}

/** In a worker: begin `stop` when the primary says so, or when the primary is gone. */
export function stopWhenPrimaryAsks(stop: (reason: string) => void): void {
  process.on('message', (message) => {
    if (message === STOP_MESSAGE) stop('asked by the primary');
  });
  process.on('disconnect', () => stop('the primary is gone'));
}
