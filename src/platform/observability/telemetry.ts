// Starts tracing and error reporting for a process, before the modules they
// instrument are loaded; the entry point (cli.ts) calls it first thing.
import type { Config } from '../../config/env.js';
import { packageJson } from '../paths.js';
import { closeSentry, initSentry } from './sentry.js';
import { initTracing, shutdownTracing } from './tracing.js';

/**
 * Tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set, Sentry when SENTRY_DSN is
 * set; nothing otherwise. Call it before importing anything that loads
 * fastify, pg or ioredis, so that their instrumentation can patch them.
 */
export async function startTelemetry(config: Config, serviceName: string): Promise<void> {
  await initTracing({ serviceName, serviceVersion: packageJson.version, otlpEndpoint: config.otlpEndpoint });
  await initSentry({ dsn: config.sentryDsn, environment: config.appEnv, release: config.gitSha ?? packageJson.version });
}

/** Sends buffered spans and error reports; the last step of a shutdown. */
export async function stopTelemetry(): Promise<void> {
  await Promise.all([shutdownTracing(), closeSentry()]);
}
