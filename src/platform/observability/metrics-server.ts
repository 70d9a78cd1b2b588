import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import type { HealthReport } from '../http/health.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** What a metrics server serves: a process's registry, or a cluster's workers summed up. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * A cluster worker's metrics go to its primary (over the cluster's IPC), which
 * serves every worker's together on METRICS_PORT: the workers share the
 * public port but cannot share that one.
 */
export function reportToClusterPrimary(metrics: Metrics): void {
  AggregatorRegistry.setRegistries([metrics.registry]);
  new AggregatorRegistry(); // starts answering the primary's requests
}

/** The primary's view: each scrape asks every worker and sums counters and histograms (gauges as each metric says). */
export function clusterMetrics(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
}

/**
 * The process's operations port (METRICS_PORT), never the public one:
 * `GET /metrics` in Prometheus text format and, for a long-running role,
 * `GET /livez` (200 while the process answers) and `GET /healthz` (the role's
 * own health: 200, or 503 naming the failing check). The container
 * HEALTHCHECK (bin/healthcheck.js) and the Kubernetes probes of the worker ask
 * here, so every role answers on the same port. Everything else is 404.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  metrics: { registry: MetricsSource };
  logger: Logger;
  health?: () => Promise<HealthReport>;
}): Promise<MetricsServer> {
  const { registry } = options.metrics;
  const { health } = options;
  const send = (response: http.ServerResponse, status: number, body: unknown) =>
    response
      .writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
      .end(JSON.stringify(body));
  const server = http.createServer((request, response) => {
    const path = request.url?.split('?')[0];
    const read = request.method === 'GET' || request.method === 'HEAD';
    if (read && health && path === '/livez') return send(response, 200, { status: 'ok' });
    if (read && health && path === '/healthz') {
      health().then(
        (report) => send(response, report.status === 'ok' ? 200 : 503, report),
        (error: unknown) => send(response, 503, { status: 'failing', checks: { health: `failing: ${(error as Error).message}` } }),
      );
      return;
    }
    if (!read || path !== '/metrics') {
      response
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`Not found: metrics are at GET /metrics${health ? ', health at GET /livez and /healthz' : ''}\n`);
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        options.logger.error({ err: error }, 'could not collect metrics');
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('could not collect metrics\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port, path: '/metrics' }, 'metrics listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
