import type { Config } from '../config/env.js';
import { buildWebApp, createPlatform, createRootLogger, createServices } from '../app.js';
import { ensureSchemaCurrent } from '../platform/db/migrate.js';
import { onShutdownSignal, within } from '../platform/lifecycle.js';
import { collectDataSafety, collectQueueDepth, startMetricsServer } from '../platform/observability/metrics.js';
import { stopTelemetry } from '../platform/observability/telemetry.js';

/** `epu web`: the stateless HTTP server. Any replica serves any request and can be stopped at any time. */
export async function runWeb(config: Config): Promise<void> {
  const logger = createRootLogger(config, 'web');
  const platform = await createPlatform(config, 'web', logger);
  await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger });
  // Metrics on their own port (METRICS_PORT), never the public one.
  const metricsServer = await startMetricsServer({ host: config.host, port: config.metricsPort, metrics: platform.metrics, logger });
  collectQueueDepth(platform.queue, platform.metrics, { logger });
  let shuttingDown = false;
  const services = createServices(platform);
  collectDataSafety({ lastBackupAt: services.backups.lastBackupAt, lastDrillAt: services.backups.lastDrillAt }, platform.metrics, { logger });
  const app = await buildWebApp(platform, services, { isShuttingDown: () => shuttingDown });
  // While draining, every response closes its connection: a proxy that keeps
  // connections alive (nginx `keepalive`) then opens new ones, which go to
  // another replica once this one stops listening, and never sends a request
  // down a connection this process is about to close (a POST lost in that race
  // cannot be retried safely). docs/decisions/0014-replicas-behind-a-proxy.md
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });

  onShutdownSignal(logger, config.shutdownTimeoutMs, async () => {
    // /healthz answers 503 from now on, so a load balancer stops routing here;
    // requests already accepted run to completion within the budget.
    shuttingDown = true;
    if (config.shutdownDrainMs) await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
    const drained = await within(app.close(), config.shutdownTimeoutMs);
    if (!drained) {
      logger.warn({ budgetMs: config.shutdownTimeoutMs }, 'requests still running at the end of the shutdown budget; closing their connections');
      app.server.closeAllConnections();
    }
    await metricsServer.close();
    await platform.close();
    await stopTelemetry();
  });

  await app.listen({ host: config.host, port: config.port });
  logger.info({ url: config.publicUrl.href, port: (app.server.address() as { port: number }).port }, 'web ready');
}
