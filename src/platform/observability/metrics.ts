// Prometheus metrics for every EPU process, served on METRICS_PORT only (never
// the public port). The names are a contract: the alert rules and the dashboard
// in deploy/observability/ are written against them. Labels stay low-cardinality:
// route templates, status codes, job names, cache names; never ids or raw paths.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { HealthReport } from '../http/health.js';
import type { Logger } from './logger.js';
import { setTraceRoute } from './tracing.js';

export type MetricsRole = 'web' | 'worker' | 'functions' | 'cli' | 'start';

export interface MetricsOptions {
  role: MetricsRole;
  version: string;
  gitSha: string | undefined;
  /** Backups are copied to a second region (BACKUP_COPY_URL): report the newest verified copy's age. */
  backupCopies?: boolean;
}

/** What the queue's worker reports when a job run ends (structurally the queue's JobFinishedInfo). */
export interface JobFinished {
  name: string;
  outcome: 'completed' | 'retry' | 'dead';
  durationMs: number;
  queueLatencyMs: number;
}

/** Structurally the queue's JobCounts. */
export interface QueueCounts {
  queued: number;
  running: number;
  completed: number;
  dead: number;
  oldestQueuedAgeSeconds: number;
}

export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const QUERY_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const JOB_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const JOB_LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

// Node's HTTP parser only accepts known methods, but a fixed set keeps the label bounded whatever sits in front.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface Metrics {
  readonly role: MetricsRole;
  readonly registry: Registry;
  /** One finished HTTP request; `route` is a route template or `unmatched`. */
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  httpStarted(): void;
  httpEnded(): void;
  cacheHit(cache: string, hit: boolean): void;
  uploadBytes(bytes: number): void;
  storageError(operation: string): void;
  queryDuration(seconds: number): void;
  jobFinished(info: JobFinished): void;
  setQueueCounts(counts: QueueCounts): void;
  setBackupSuccess(at: Date | number): void;
  setDrillSuccess(at: Date | number): void;
  /** When the newest verified copy in the second region was taken (only with MetricsOptions.backupCopies). */
  setBackupCopySuccess(at: Date | number): void;
  setIntegrityProblems(check: string, problems: number): void;
  /** Adds a pool whose connections the pool gauges report (summed over pools, e.g. primary and replica). */
  addPool(pool: pg.Pool): void;
  /** Runs before each scrape, all in parallel; the scrape waits for them. */
  onScrape(collect: () => Promise<void> | void): void;
}

function seconds(at: Date | number): number {
  return (typeof at === 'number' ? at : at.getTime()) / 1000;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const pools = new Set<pg.Pool>();
  const scrapeHooks: (() => Promise<void> | void)[] = [];
  let scrape: Promise<void> | null = null;
  // Several gauges share one round of scrape hooks: the first collect starts it, the others wait for it.
  const runScrapeHooks = () => {
    scrape ??= Promise.allSettled(scrapeHooks.map(async (hook) => hook())).then(() => {
      scrape = null;
    });
    return scrape;
  };

  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'epu_build_info',
    help: 'Always 1; the labels say which build is running.',
    labelNames: ['version', 'git_sha'],
    registers: [registry],
    aggregator: 'first',
  }).set({ version: options.version, git_sha: options.gitSha ?? 'unknown' }, 1);

  const httpRequests = new Counter({
    name: 'epu_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'epu_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response.',
    labelNames: ['method', 'route', 'status_class'],
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  const httpInFlight = new Gauge({ name: 'epu_http_requests_in_flight', help: 'HTTP requests being served now.', registers: [registry] });

  new Gauge({
    name: 'epu_db_pool_connections',
    help: 'Database pool connections: total open, idle, and callers waiting for one.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      let total = 0;
      let idle = 0;
      let waiting = 0;
      for (const pool of pools) {
        total += pool.totalCount;
        idle += pool.idleCount;
        waiting += pool.waitingCount;
      }
      this.set({ state: 'total' }, total);
      this.set({ state: 'idle' }, idle);
      this.set({ state: 'waiting' }, waiting);
    },
  });
  new Gauge({
    name: 'epu_db_pool_max',
    help: 'Most connections the database pools of this process may open.',
    registers: [registry],
    collect() {
      let max = 0;
      for (const pool of pools) max += pool.options.max ?? 10;
      this.set(max);
    },
  });
  const queryDuration = new Histogram({
    name: 'epu_db_query_duration_seconds',
    help: 'Database query time as the application sees it, including waiting for the server.',
    buckets: QUERY_DURATION_BUCKETS,
    registers: [registry],
  });

  const queueJobs = new Gauge({
    name: 'epu_queue_jobs',
    help: 'Jobs in the queue by state.',
    labelNames: ['state'],
    registers: [registry],
    collect: runScrapeHooks,
    // Facts about the database, the same in every process of a cluster: not summed over them.
    aggregator: 'max',
  });
  const oldestQueued = new Gauge({
    name: 'epu_queue_oldest_queued_age_seconds',
    help: 'How long the oldest due job has waited to start; 0 when none waits.',
    registers: [registry],
    collect: runScrapeHooks,
    // Facts about the database, the same in every process of a cluster: not summed over them.
    aggregator: 'max',
  });
  const jobs = new Counter({
    name: 'epu_jobs_total',
    help: 'Job runs by job name and outcome (completed, retry, dead).',
    labelNames: ['queue_job', 'outcome'],
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'epu_job_duration_seconds',
    help: 'Time a job run took, by job name.',
    labelNames: ['queue_job'],
    buckets: JOB_DURATION_BUCKETS,
    registers: [registry],
  });
  const jobLatency = new Histogram({
    name: 'epu_job_queue_latency_seconds',
    help: 'Time from a job being due to a worker taking it, by job name.',
    labelNames: ['queue_job'],
    buckets: JOB_LATENCY_BUCKETS,
    registers: [registry],
  });

  const cacheRequests = new Counter({
    name: 'epu_cache_requests_total',
    help: 'Cache lookups by cache and result (hit, miss).',
    labelNames: ['cache', 'result'],
    registers: [registry],
  });
  const uploadBytes = new Counter({
    name: 'epu_upload_bytes_total',
    help: 'Bytes of photos accepted from uploads.',
    registers: [registry],
  });
  const storageErrors = new Counter({
    name: 'epu_storage_errors_total',
    help: 'Object storage operations that failed, by operation.',
    labelNames: ['operation'],
    registers: [registry],
  });
  // 0 until known: the alerts treat "never" as very old, and take the max over processes.
  const backupSuccess = new Gauge({
    name: 'epu_backup_last_success_timestamp_seconds',
    help: 'Unix time of the last successful backup; 0 when not known.',
    registers: [registry],
    collect: runScrapeHooks,
    // Facts about the database, the same in every process of a cluster: not summed over them.
    aggregator: 'max',
  });
  const drillSuccess = new Gauge({
    name: 'epu_drill_last_success_timestamp_seconds',
    help: 'Unix time of the last successful restore drill; 0 when not known.',
    registers: [registry],
    collect: runScrapeHooks,
    // Facts about the database, the same in every process of a cluster: not summed over them.
    aggregator: 'max',
  });
  // Only where copies are made: without a second region there is no copy to be old.
  const copySuccess = options.backupCopies
    ? new Gauge({
        name: 'epu_backup_copy_last_success_timestamp_seconds',
        help: 'Unix time the newest backup with a verified copy in the second region (BACKUP_COPY_URL) was taken; 0 when not known.',
        registers: [registry],
        collect: runScrapeHooks,
      })
    : null;
  const integrityProblems = new Gauge({
    name: 'epu_integrity_problems',
    help: 'Problems found by the last integrity check, by check.',
    labelNames: ['check'],
    registers: [registry],
    collect: runScrapeHooks,
    // Facts about the database, the same in every process of a cluster: not summed over them.
    aggregator: 'max',
  });

  return {
    role: options.role,
    registry,
    observeHttp(method, route, status, elapsed) {
      const m = METHODS.has(method) ? method : 'OTHER';
      httpRequests.inc({ method: m, route, status: String(status) });
      httpDuration.observe({ method: m, route, status_class: `${Math.floor(status / 100)}xx` }, elapsed);
    },
    httpStarted: () => httpInFlight.inc(),
    httpEnded: () => httpInFlight.dec(),
    cacheHit: (cache, hit) => cacheRequests.inc({ cache, result: hit ? 'hit' : 'miss' }),
    uploadBytes: (bytes) => uploadBytes.inc(bytes),
    storageError: (operation) => storageErrors.inc({ operation }),
    queryDuration: (elapsed) => queryDuration.observe(elapsed),
    jobFinished(info) {
      jobs.inc({ queue_job: info.name, outcome: info.outcome });
      jobDuration.observe({ queue_job: info.name }, info.durationMs / 1000);
      jobLatency.observe({ queue_job: info.name }, info.queueLatencyMs / 1000);
    },
    setQueueCounts(counts) {
      queueJobs.set({ state: 'queued' }, counts.queued);
      queueJobs.set({ state: 'running' }, counts.running);
      queueJobs.set({ state: 'completed' }, counts.completed);
      queueJobs.set({ state: 'dead' }, counts.dead);
      oldestQueued.set(counts.oldestQueuedAgeSeconds);
    },
    setBackupSuccess: (at) => backupSuccess.set(seconds(at)),
    setDrillSuccess: (at) => drillSuccess.set(seconds(at)),
    setBackupCopySuccess: (at) => copySuccess?.set(seconds(at)),
    setIntegrityProblems: (check, problems) => integrityProblems.set({ check }, problems),
    addPool: (pool) => void pools.add(pool),
    onScrape: (hook) => void scrapeHooks.push(hook),
  };
}

/**
 * Request count, latency and in-flight gauge for a Fastify app. The route label
 * is the route template (`/api/v1/events/:id`), `unmatched` for 404s. With
 * tracing on, the request's span is named after the route template too.
 */
export function instrumentHttp(app: FastifyInstance<any, any, any, any, any>, metrics: Metrics): void {
  app.addHook('onRequest', (request, reply, done) => {
    metrics.httpStarted();
    const route = request.routeOptions.url;
    if (route) setTraceRoute(route);
    // 'close' fires for finished and for aborted responses alike, so the gauge never drifts.
    reply.raw.once('close', metrics.httpEnded);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

type QueryFunction = (...args: unknown[]) => unknown;

/** Times every query of a client, whether called with a callback (pool.query) or as a promise (Kysely). */
function timeQueries(client: pg.PoolClient, metrics: Metrics): void {
  const target = client as unknown as { query: QueryFunction };
  const query = target.query;
  target.query = function timedQuery(this: unknown, ...args: unknown[]) {
    const started = performance.now();
    const observe = () => metrics.queryDuration((performance.now() - started) / 1000);
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = function (this: unknown, ...results: unknown[]) {
        observe();
        return (callback as QueryFunction).apply(this, results);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    // Streams (COPY, cursors) are not timed: they last as long as their reader.
    if (result instanceof Promise) result.then(observe, observe);
    return result;
  };
}

/**
 * Pool gauges read at scrape time, and query latency for every connection the
 * pool opens from now on: call it right after creating the pool.
 */
export function instrumentPool(pool: pg.Pool, metrics: Metrics): void {
  metrics.addPool(pool);
  pool.on('connect', (client) => timeQueries(client, metrics));
}

/** Something that counts jobs, such as the queue. */
export interface CountsJobs {
  counts(): Promise<QueueCounts>;
}

/**
 * Returns `fetch`, memoised for `ttlMs`: Prometheus scraping every replica at
 * once costs one query per interval, not one per scrape.
 */
export function cached<T>(fetch: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let value: Promise<T> | null = null;
  let fetchedAt = 0;
  return () => {
    if (!value || performance.now() - fetchedAt >= ttlMs) {
      fetchedAt = performance.now();
      value = fetch();
      // A failure is not kept: the next scrape tries again.
      value.catch(() => {
        value = null;
      });
    }
    return value;
  };
}

/** Queue depth read from the queue at scrape time, at most once every `ttlMs` (default 2 s). */
export function collectQueueDepth(queue: CountsJobs, metrics: Metrics, options: { ttlMs?: number; logger?: Logger } = {}): void {
  const counts = cached(() => queue.counts(), options.ttlMs ?? 2_000);
  metrics.onScrape(async () => {
    try {
      metrics.setQueueCounts(await counts());
    } catch (error) {
      // The scrape still answers, with the last known counts.
      options.logger?.warn({ err: error }, 'could not count queued jobs for metrics');
    }
  });
}

export interface DataSafetySources {
  lastBackupAt?: () => Promise<Date | null>;
  lastDrillAt?: () => Promise<Date | null>;
  lastCopiedBackupAt?: () => Promise<Date | null>;
  /** Problems per check, as the last integrity run found them. */
  integrityProblems?: () => Promise<Record<string, number>>;
}

/**
 * Backup and drill age and integrity problems read from the database at scrape
 * time (cached for `ttlMs`, default 30 s), so that a restarted process reports
 * the truth rather than 0 until the next backup.
 */
export function collectDataSafety(sources: DataSafetySources, metrics: Metrics, options: { ttlMs?: number; logger?: Logger } = {}): void {
  const ttlMs = options.ttlMs ?? 30_000;
  const read = cached(
    async () =>
      Promise.all([
        sources.lastBackupAt?.() ?? null,
        sources.lastDrillAt?.() ?? null,
        sources.integrityProblems?.() ?? null,
        sources.lastCopiedBackupAt?.() ?? null,
      ]),
    ttlMs,
  );
  metrics.onScrape(async () => {
    try {
      const [backup, drill, problems, copy] = await read();
      if (backup) metrics.setBackupSuccess(backup);
      if (drill) metrics.setDrillSuccess(drill);
      if (copy) metrics.setBackupCopySuccess(copy);
      for (const [check, count] of Object.entries(problems ?? {})) metrics.setIntegrityProblems(check, count);
    } catch (error) {
      options.logger?.warn({ err: error }, 'could not read backup, drill and integrity figures for metrics');
    }
  });
}

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
