import type { Config } from '../config/env.js';
import { createPlatform, createRootLogger } from '../app.js';
import { ensureSchemaCurrent } from '../platform/db/migrate.js';
import { onShutdownSignal } from '../platform/lifecycle.js';

/** `epu functions`: the function handlers, served as CloudEvents over HTTP. */
export async function runFunctions(config: Config): Promise<void> {
  const logger = createRootLogger(config, 'functions');
  const platform = await createPlatform(config, 'functions', logger);
  await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger });
  // Keeps the process alive until a signal; the handlers land with the photos feature.
  const idle = setInterval(() => undefined, 60_000);
  onShutdownSignal(logger, config.shutdownTimeoutMs, async () => {
    clearInterval(idle);
    await platform.close();
  });
  logger.info({ port: config.functionsPort }, 'functions ready');
}
