import type { Logger } from './observability/logger.js';

/**
 * Runs `shutdown` once on the first SIGTERM or SIGINT, then exits 0. A second
 * signal, or a shutdown that overruns its budget, exits at once with 1 so that
 * an operator is never stuck with a process that will not stop.
 */
export function onShutdownSignal(logger: Logger, budgetMs: number, shutdown: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ budgetMs }, 'shutdown overran its budget: exiting');
      process.exit(1);
    }, budgetMs + 5_000);
    timer.unref();
    shutdown(signal).then(
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
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
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
