import net from 'node:net';
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
  let closingConnections = false;
  const services = createServices(platform);
  collectDataSafety(
    {
      lastBackupAt: services.backups.lastBackupAt,
      lastDrillAt: services.backups.lastDrillAt,
      lastCopiedBackupAt: services.backups.lastCopiedBackupAt,
    },
    platform.metrics,
    { logger },
  );
  const app = await buildWebApp(platform, services, { isShuttingDown: () => shuttingDown });
  app.addHook('onSend', async (_request, reply) => {
    if (closingConnections) reply.header('connection', 'close');
  });

  onShutdownSignal(logger, config.shutdownTimeoutMs, async () => {
    // /healthz answers 503 from now on, so a load balancer stops routing here;
    // requests already accepted run to completion within the budget.
    shuttingDown = true;
    if (config.shutdownDrainMs) {
      // 1. Serve as before while load balancers that watch /healthz stop routing here.
      await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
      // 2. For proxies that do not (open-source nginx): refuse new connections,
      //    which a proxy retries on another replica (safe even for a POST: it
      //    never arrived), and end each kept-alive connection after its next
      //    response. Then wait as long again, so a proxy closes its idle
      //    connections itself (its keepalive timeout is shorter) instead of
      //    racing a request against app.close() closing them: a POST reset
      //    mid-way cannot be retried. docs/decisions/0014-replicas-behind-a-proxy.md
      closingConnections = true;
      net.Server.prototype.close.call(app.server);
      await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
    }
    const drained = await within(app.close(), config.shutdownTimeoutMs);
    if (!drained) {
      logger.warn(
        { budgetMs: config.shutdownTimeoutMs },
        'requests still running at the end of the shutdown budget; closing their connections',
      );
      app.server.closeAllConnections();
    }
    await metricsServer.close();
    await platform.close();
    await stopTelemetry();
  });

  await app.listen({ host: config.host, port: config.port });
  logger.info({ url: config.publicUrl.href, port: (app.server.address() as { port: number }).port }, 'web ready');
}
