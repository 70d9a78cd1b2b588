// Prometheus metrics for every EPU process, served on METRICS_PORT only (never
// the public port). The names are a contract: the alert rules and the dashboard
// in deploy/observability/ are written against them. Labels stay low-cardinality:
// route templates, status codes, job names, cache names; never ids or raw paths.
// This file is the registry and the platform's own metrics; the rest lives next to it:
// http-metrics.ts (Fastify hooks), query-timing.ts (pool gauges, query latency),
// scrape.ts (figures read at scrape time), metrics-server.ts (METRICS_PORT).
// A feature's own figures (backups, integrity) are registered by the feature through gauge().
import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type { Gauge } from 'prom-client';

export type MetricsRole = 'web' | 'worker' | 'functions' | 'cli' | 'start';

export interface MetricsOptions {
  role: MetricsRole;
  version: string;
  gitSha: string | undefined;
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

/** A gauge of a feature's own, registered through Metrics.gauge. */
export interface GaugeSpec<Label extends string> {
  name: string;
  help: string;
  labelNames?: readonly Label[];
  /**
   * How a cluster's primary combines its workers' values. `max` for facts about the
   * database, the same in every process of a cluster (not summed over them).
   */
  aggregator?: 'sum' | 'max' | 'min' | 'average' | 'first' | 'omit';
}

const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
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
  /**
   * A gauge of the caller's own, read after the scrape hooks ran (so a hook may set it).
   * Registering a name again returns the gauge already registered under it.
   */
  gauge<Label extends string = never>(spec: GaugeSpec<Label>): Gauge<Label>;
  /** Adds a pool whose connections the pool gauges report (summed over pools, e.g. primary and replica). */
  addPool(pool: pg.Pool): void;
  /** Runs before each scrape, all in parallel; the scrape waits for them. */
  onScrape(collect: () => Promise<void> | void): void;
}

/** Requests observed since prom-client last heard of them: at most this many wait. */
const HTTP_OBSERVATIONS_HELD = 1000;

/**
 * Finished HTTP requests wait here and reach prom-client in runs: before any
 * read of the registry (the metrics' collect), and every
 * HTTP_OBSERVATIONS_HELD requests. prom-client's labelled observe finds its
 * bucket by the bound's number as a property name, and in the gallery's
 * profile, among the number-to-text work of rendering a response, that cost
 * 20-30 µs a request; in a run of its own it costs about 1 µs (decision 0050).
 */
function deferredHttpObservations(
  requests: Counter<'method' | 'route' | 'status'>,
  duration: Histogram<'method' | 'route' | 'status_class'>,
) {
  const held: { method: string; route: string; status: number; seconds: number }[] = [];
  const flush = () => {
    for (const { method, route, status, seconds } of held) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route, status_class: `${Math.floor(status / 100)}xx` }, seconds);
    }
    held.length = 0;
  };
  return {
    add(method: string, route: string, status: number, seconds: number) {
      held.push({ method, route, status, seconds });
      if (held.length >= HTTP_OBSERVATIONS_HELD) flush();
    },
    flush,
  };
}

/** A timestamp as Prometheus wants it: Unix seconds. */
export function unixSeconds(at: Date | number): number {
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
  const gauge = <Label extends string = never>(spec: GaugeSpec<Label>): Gauge<Label> =>
    (registry.getSingleMetric(spec.name) as Gauge<Label> | undefined) ??
    new Gauge<Label>({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      registers: [registry],
      collect: runScrapeHooks,
      ...(spec.aggregator ? { aggregator: spec.aggregator } : {}),
    });

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
    collect: () => http.flush(),
  });
  const httpDuration = new Histogram({
    name: 'epu_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response.',
    labelNames: ['method', 'route', 'status_class'],
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
    collect: () => http.flush(),
  });
  const http = deferredHttpObservations(httpRequests, httpDuration);
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

  const queueJobs = gauge({ name: 'epu_queue_jobs', help: 'Jobs in the queue by state.', labelNames: ['state'], aggregator: 'max' });
  const oldestQueued = gauge({
    name: 'epu_queue_oldest_queued_age_seconds',
    help: 'How long the oldest due job has waited to start; 0 when none waits.',
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

  return {
    role: options.role,
    registry,
    observeHttp: (method, route, status, elapsed) => http.add(METHODS.has(method) ? method : 'OTHER', route, status, elapsed),
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
    gauge,
    addPool: (pool) => void pools.add(pool),
    onScrape: (hook) => void scrapeHooks.push(hook),
  };
}
