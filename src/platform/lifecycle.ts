import type { Logger } from './observability/logger.js';

/**
 * Runs `shutdown` once on the first SIGTERM or SIGINT, then exits 0. A second
 * signal, or a shutdown that overruns its budget, exits at once with 1 so that
 * an operator is never stuck with a process that will not stop. Returns a
 * function that begins the same shutdown for another reason (a cluster
 * worker told to stop by its primary); that counts as no signal, so the
 * terminal's Ctrl-C reaching the worker as well does not cut it short.
 */
export function onShutdownSignal(logger: Logger, budgetMs: number, shutdown: (reason: string) => Promise<void>): (reason: string) => void {
  let stopping = false;
  let signals = 0;
  const begin = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ budgetMs }, 'shutdown overran its budget: exiting');
      process.exit(1);
    }, budgetMs + 5_000);
    timer.unref();
    shutdown(reason).then(
      () => {
        logger.info('stopped cleanly');
        logger.flush?.();
        process.exit(0);
      },
      (error) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    begin(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return begin;
}

/** Resolves when `work` settles or after `ms`, whichever comes first; true if it settled. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
