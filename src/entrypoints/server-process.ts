// What the long-running roles (`epu web`, `epu worker`, `epu functions`) do alike
// at their start and at the end of their shutdown; what each serves is its own.
import type { Config } from '../config/env.js';
import { createPlatform, createRootLogger, type Platform } from '../app.js';
import { ensureSchemaCurrent } from '../platform/db/migrate.js';
import type { HealthReport } from '../platform/http/health.js';
import type { Logger } from '../platform/observability/logger.js';
import { startMetricsServer, type MetricsServer } from '../platform/observability/metrics-server.js';
import { stopTelemetry } from '../platform/observability/telemetry.js';

/** The role's logger and platform, once the database schema is current. */
export async function openPlatform(config: Config, role: 'web' | 'worker' | 'functions'): Promise<{ logger: Logger; platform: Platform }> {
  const logger = createRootLogger(config, role);
  const platform = await createPlatform(config, role, logger);
  await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger });
  return { logger, platform };
}

/** The operations port (METRICS_PORT, never the public one): this process's metrics and the role's `/healthz`. */
export function startOperationsPort(config: Config, platform: Platform, health: () => Promise<HealthReport>): Promise<MetricsServer> {
  return startMetricsServer({ host: config.host, port: config.metricsPort, metrics: platform.metrics, logger: platform.logger, health });
}

/** The last steps of a shutdown, once the role's own work has stopped: the operations port, the clients, then telemetry. */
export async function closePlatform(metricsServer: MetricsServer | null, platform: Platform): Promise<void> {
  await metricsServer?.close();
  await platform.close();
  await stopTelemetry();
}
