import type { Config } from '../config/env.js';
import { createPlatform, createRootLogger } from '../app.js';
import { ensureSchemaCurrent } from '../platform/db/migrate.js';
import { onShutdownSignal } from '../platform/lifecycle.js';

/** `epu worker`: background jobs and schedules. */
export async function runWorker(config: Config): Promise<void> {
  const logger = createRootLogger(config, 'worker');
  const platform = await createPlatform(config, 'worker', logger);
  await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger });
  // Keeps the process alive until a signal; the job runner lands with the queue.
  const idle = setInterval(() => undefined, 60_000);
  onShutdownSignal(logger, config.shutdownTimeoutMs, async () => {
    clearInterval(idle);
    await platform.close();
  });
  logger.info({ concurrency: config.workerConcurrency }, 'worker ready');
}
