import type { Config } from '../config/env.js';
import { createJobHandlers, createServices, SCHEDULES } from '../app.js';
import { checkHealth } from '../platform/http/health.js';
import { onShutdownSignal } from '../platform/lifecycle.js';
import { createWorker } from '../platform/queue/index.js';
import { collectBackupAges } from '../features/backups/backups.metrics.js';
import { collectIntegrityProblems } from '../features/integrity/integrity.metrics.js';
import { collectQueueDepth } from '../platform/observability/scrape.js';
import { closePlatform, openPlatform, startOperationsPort } from './server-process.js';

/** `epu worker`: background jobs and schedules. Any number can run; each job runs once at a time. */
export async function runWorker(config: Config): Promise<void> {
  const { logger, platform } = await openPlatform(config, 'worker');
  const services = createServices(platform);
  const worker = createWorker({
    queue: platform.queue,
    pool: platform.pool,
    handlers: createJobHandlers(platform, services),
    concurrency: config.workerConcurrency,
    logger,
    onJobFinished: (info) => platform.metrics.jobFinished(info),
  });
  let shuttingDown = false;
  // The worker serves no traffic: its health (the HEALTHCHECK, the Kubernetes probes) is on the operations port.
  const health = () =>
    checkHealth(
      {
        database: async () => (await platform.pool.query('SELECT 1'), 'ok'),
        heartbeat: () => worker.checkHeartbeat(),
        notifications: () => worker.checkNotifications(),
      },
      { isShuttingDown: () => shuttingDown, log: logger },
    );
  const metricsServer = await startOperationsPort(config, platform, health);
  collectQueueDepth(platform.queue, platform.metrics, { logger });
  const { backups, integrity } = services;
  collectBackupAges(backups, platform.metrics, { copies: platform.backupCopyStorage !== null, logger });
  collectIntegrityProblems(integrity.latestProblemCounts, platform.metrics, { logger });
  // Every worker registers them (an upsert): a changed cron takes effect with the next release.
  for (const [name, cron] of Object.entries(SCHEDULES)) await platform.queue.setSchedule(name, cron);

  onShutdownSignal(logger, config.shutdownTimeoutMs, async () => {
    shuttingDown = true;
    // Running jobs get the budget to finish; the rest are handed back to the queue.
    await worker.stop({ graceMs: config.shutdownTimeoutMs });
    await closePlatform(metricsServer, platform);
  });
  worker.start();
  logger.info({ concurrency: config.workerConcurrency, workerId: worker.id }, 'worker ready');
}
