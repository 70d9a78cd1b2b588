import cluster from 'node:cluster';
import net from 'node:net';
import { webProcesses, type Config } from '../config/env.js';
import { buildWebApp, createRootLogger, createServices } from '../app.js';
import { startWorkers, stopWhenPrimaryAsks } from '../platform/cluster.js';
import { listenerHealth, listeningPort } from '../platform/http/health.js';
import { onShutdownSignal, within } from '../platform/lifecycle.js';
import { collectBackupAges } from '../features/backups/backups.metrics.js';
import { clusterMetrics, reportToClusterPrimary, startMetricsServer } from '../platform/observability/metrics-server.js';
import { collectQueueDepth } from '../platform/observability/scrape.js';
import { closePlatform, openPlatform, startOperationsPort } from './server-process.js';

/**
 * `epu web`: the stateless HTTP server. Any replica serves any request and can
 * be stopped at any time. With WEB_CONCURRENCY above 1 this process is the
 * primary of that many web processes sharing its port (docs/decisions/0026-web-concurrency.md).
 */
export async function runWeb(config: Config): Promise<void> {
  const processes = webProcesses(config, 'web');
  if (processes > 1 && cluster.isPrimary) return runWebCluster(config, processes);
  return runWebProcess(config);
}

/** The primary: starts the workers, replaces any that die, serves their metrics together, and stops them gracefully. */
async function runWebCluster(config: Config, processes: number): Promise<void> {
  const logger = createRootLogger(config, 'web');
  const metricsServer = await startMetricsServer({
    host: config.host,
    port: config.metricsPort,
    metrics: { registry: clusterMetrics() },
    logger,
    // Whichever web process the shared port hands the probe to answers it.
    health: listenerHealth(() => ({ host: config.host, port: config.port })),
  });
  const workers = startWorkers({
    count: processes,
    logger,
    onListening: () => logger.info({ url: config.publicUrl.href, port: config.port, processes }, 'web ready'),
  });
  // Each worker has the budget of one web process (drain twice, then close); the primary waits for the slowest.
  onShutdownSignal(logger, config.shutdownTimeoutMs + 2 * config.shutdownDrainMs, async () => {
    const clean = await workers.stop();
    await metricsServer.close();
    if (!clean) throw new Error('a web process did not stop cleanly');
  });
}

async function runWebProcess(config: Config): Promise<void> {
  const { logger, platform } = await openPlatform(config, 'web');
  if (cluster.isWorker) reportToClusterPrimary(platform.metrics);
  collectQueueDepth(platform.queue, platform.metrics, { logger });
  let shuttingDown = false;
  let closingConnections = false;
  const services = createServices(platform);
  collectBackupAges(services.backups, platform.metrics, { copies: platform.backupCopyStorage !== null, logger });
  const app = await buildWebApp(platform, services, { isShuttingDown: () => shuttingDown });
  // Metrics on their own port (METRICS_PORT), never the public one; a cluster's primary serves its workers' together.
  // Its /healthz relays the public one (the container HEALTHCHECK asks every role on this port).
  const metricsServer = cluster.isWorker
    ? null
    : await startOperationsPort(
        config,
        platform,
        listenerHealth(() => (app.server.listening ? { host: config.host, port: listeningPort(app.server) } : null)),
      );
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closingConnections) reply.header('connection', 'close');
    done(null, payload);
  });

  const stop = onShutdownSignal(logger, config.shutdownTimeoutMs, async () => {
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
    await closePlatform(metricsServer, platform);
  });
  if (cluster.isWorker) stopWhenPrimaryAsks(stop);

  await app.listen({ host: config.host, port: config.port });
  const port = listeningPort(app.server);
  if (cluster.isWorker) logger.info({ port }, 'web process ready');
  else logger.info({ url: config.publicUrl.href, port }, 'web ready');
}
