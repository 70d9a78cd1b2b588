import type { Config } from '../config/env.js';
import { createFunctionHandlers } from '../app.js';
import { listenerHealth, listeningPort } from '../platform/http/health.js';
import { onShutdownSignal, within } from '../platform/lifecycle.js';
import { createFunctionsServer } from '../platform/functions/server.js';
import { createGoogleIdentityVerifier } from '../platform/functions/google-identity.js';
import { closePlatform, openPlatform, startOperationsPort } from './server-process.js';

/** `epu functions`: the function handlers, served as CloudEvents over HTTP (what FUNCTIONS_URL points at). */
export async function runFunctions(config: Config): Promise<void> {
  const { logger, platform } = await openPlatform(config, 'functions');
  let shuttingDown = false;
  const server = createFunctionsServer({
    handlers: createFunctionHandlers(platform),
    token: platform.functionsToken,
    googleIdentity: config.functionsGoogle && createGoogleIdentityVerifier(config.functionsGoogle),
    logger,
    isShuttingDown: () => shuttingDown,
    databaseCheck: async () => (await platform.pool.query('SELECT 1'), 'ok'),
  });
  // The operations port relays the listener's own /healthz: healthy means it accepts connections and reaches the database.
  const health = listenerHealth(() => (server.server.listening ? { host: config.host, port: listeningPort(server.server) } : null));
  const metricsServer = await startOperationsPort(config, platform, health);

  onShutdownSignal(logger, config.shutdownTimeoutMs, async () => {
    shuttingDown = true;
    if (!(await within(server.close(), config.shutdownTimeoutMs))) server.server.closeAllConnections();
    await closePlatform(metricsServer, platform);
  });
  await server.listen({ host: config.host, port: config.functionsPort });
  logger.info({ port: listeningPort(server.server) }, 'functions ready');
}
