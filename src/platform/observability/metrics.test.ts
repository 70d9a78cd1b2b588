import type { Histogram } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHttpServer, type App } from '../http/server.js';
import { AppError } from '../http/errors.js';
import type { HealthReport } from '../http/health.js';
import { createLogger } from './logger.js';
import { samples } from '../../../tests/support/metrics.js';
import { instrumentHttp } from './http-metrics.js';
import { createMetrics, type Metrics, type QueueCounts } from './metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { collectQueueDepth } from './scrape.js';

const logger = createLogger({ level: 'silent', pretty: false, name: 'metrics-test' });

describe('HTTP metrics through a real Fastify server', () => {
  let app: App;
  let metrics: Metrics;
  let base: string;
  let release: () => void = () => undefined;

  beforeAll(async () => {
    metrics = createMetrics({ role: 'web', version: '1.2.3', gitSha: 'abc123' });
    app = createHttpServer({
      requestTimeoutMs: 60_000,
      logger,
      bodyLimit: 1024,
      trustProxy: false,
      errorPages: { notFound: () => 'not found', error: () => 'error' },
    });
    instrumentHttp(app, metrics);
    app.get('/api/v1/events/:id', async (request) => ({ id: (request.params as { id: string }).id }));
    app.get('/api/v1/boom', async () => {
      throw new Error('kaboom');
    });
    app.get('/api/v1/forbidden', async () => {
      throw new AppError('forbidden');
    });
    app.get('/slow', async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return 'done';
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    release();
    // undici keeps the connections alive; nothing here needs a graceful close.
    app.server.closeAllConnections();
    await app.close();
  });

  it('counts requests by route template and status, never by raw path', async () => {
    for (const id of ['evt_1', 'evt_2', 'evt_3']) expect((await fetch(`${base}/api/v1/events/${id}?secret=x`)).status).toBe(200);
    expect((await fetch(`${base}/api/v1/boom`)).status).toBe(500);
    expect((await fetch(`${base}/api/v1/forbidden`)).status).toBe(403);
    expect((await fetch(`${base}/no/such/page/evt_4`)).status).toBe(404);

    const text = await metrics.registry.metrics();
    const requests = samples(text, 'epu_http_requests_total');
    expect(requests.get('{method="GET",route="/api/v1/events/:id",status="200"}')).toBe(3);
    expect(requests.get('{method="GET",route="/api/v1/boom",status="500"}')).toBe(1);
    expect(requests.get('{method="GET",route="/api/v1/forbidden",status="403"}')).toBe(1);
    expect(requests.get('{method="GET",route="unmatched",status="404"}')).toBe(1);

    const durations = samples(text, 'epu_http_request_duration_seconds_count');
    expect(durations.get('{method="GET",route="/api/v1/events/:id",status_class="2xx"}')).toBe(3);
    expect(durations.get('{method="GET",route="/api/v1/boom",status_class="5xx"}')).toBe(1);
    expect(durations.get('{method="GET",route="unmatched",status_class="4xx"}')).toBe(1);
    const buckets = [...samples(text, 'epu_http_request_duration_seconds_bucket').keys()]
      .filter((labels) => labels.includes('route="/api/v1/events/:id"'))
      .map((labels) => labels.match(/le="([^"]+)"/)![1]);
    expect(buckets).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);

    // No id, no raw path, no query string in any label of any EPU metric.
    const epuLines = text.split('\n').filter((line) => line.startsWith('epu_'));
    for (const leak of ['evt_', '/no/such', 'secret']) expect(epuLines.filter((line) => line.includes(leak))).toEqual([]);
  });

  it('tracks requests in flight, including aborted ones', async () => {
    const inFlight = async () => samples(await metrics.registry.metrics(), 'epu_http_requests_in_flight').get('');
    expect(await inFlight()).toBe(0);
    const controller = new AbortController();
    const pending = fetch(`${base}/slow`, { signal: controller.signal }).catch(() => 'aborted');
    await expect.poll(inFlight).toBe(1);
    controller.abort();
    expect(await pending).toBe('aborted');
    await expect.poll(inFlight).toBe(0);
    release();
  });

  it('reports the build and the process', async () => {
    const text = await metrics.registry.metrics();
    expect(samples(text, 'epu_build_info').get('{version="1.2.3",git_sha="abc123"}')).toBe(1);
    expect(samples(text, 'process_cpu_user_seconds_total').size).toBe(1);
    expect(samples(text, 'nodejs_eventloop_lag_seconds').size).toBe(1);
  });
});

describe('HTTP observations', () => {
  it('reach prom-client in runs: at a read of the registry, or once 1,000 wait, never more', async () => {
    const metrics = createMetrics({ role: 'web', version: '1.0.0', gitSha: undefined });
    const histogram = metrics.registry.getSingleMetric('epu_http_request_duration_seconds') as Histogram;
    const observe = vi.spyOn(histogram, 'observe');
    try {
      for (let i = 0; i < 999; i++) metrics.observeHttp('GET', '/api/v1/events', 200, 0.002);
      expect(observe).not.toHaveBeenCalled();
      metrics.observeHttp('GET', '/api/v1/events', 200, 0.002);
      expect(observe).toHaveBeenCalledTimes(1000);
      metrics.observeHttp('POST', '/api/v1/events', 201, 0.3);
      const text = await metrics.registry.metrics();
      expect(observe).toHaveBeenCalledTimes(1001);
      expect(text).toContain('epu_http_requests_total{method="GET",route="/api/v1/events",status="200"} 1000');
      expect(text).toContain(
        'epu_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/api/v1/events",status_class="2xx"} 1',
      );
      expect(text).toContain('epu_http_request_duration_seconds_sum{method="POST",route="/api/v1/events",status_class="2xx"} 0.3');
      // Read again with nothing new: nothing counted twice.
      const again = await metrics.registry.metrics();
      expect(again).toContain('epu_http_requests_total{method="GET",route="/api/v1/events",status="200"} 1000');
      expect(again).toContain('epu_http_request_duration_seconds_count{method="GET",route="/api/v1/events",status_class="2xx"} 1000');
      expect(observe).toHaveBeenCalledTimes(1001);
    } finally {
      observe.mockRestore();
    }
  });
});

describe('helpers', () => {
  it('records jobs, caches, uploads and storage errors', async () => {
    const metrics = createMetrics({ role: 'worker', version: '1.0.0', gitSha: undefined });
    metrics.jobFinished({ name: 'photos.thumbnail', outcome: 'completed', durationMs: 1500, queueLatencyMs: 200 });
    metrics.jobFinished({ name: 'photos.thumbnail', outcome: 'dead', durationMs: 10, queueLatencyMs: 0 });
    metrics.cacheHit('events', true);
    metrics.cacheHit('events', false);
    metrics.cacheHit('events', true);
    metrics.uploadBytes(1000);
    metrics.uploadBytes(24);
    metrics.storageError('put');

    const text = await metrics.registry.metrics();
    expect(samples(text, 'epu_jobs_total').get('{queue_job="photos.thumbnail",outcome="completed"}')).toBe(1);
    expect(samples(text, 'epu_jobs_total').get('{queue_job="photos.thumbnail",outcome="dead"}')).toBe(1);
    expect(samples(text, 'epu_job_duration_seconds_sum').get('{queue_job="photos.thumbnail"}')).toBeCloseTo(1.51);
    expect(samples(text, 'epu_job_queue_latency_seconds_sum').get('{queue_job="photos.thumbnail"}')).toBeCloseTo(0.2);
    expect(samples(text, 'epu_cache_requests_total').get('{cache="events",result="hit"}')).toBe(2);
    expect(samples(text, 'epu_cache_requests_total').get('{cache="events",result="miss"}')).toBe(1);
    expect(samples(text, 'epu_upload_bytes_total').get('')).toBe(1024);
    expect(samples(text, 'epu_storage_errors_total').get('{operation="put"}')).toBe(1);
    expect(samples(text, 'epu_build_info').get('{version="1.0.0",git_sha="unknown"}')).toBe(1);
  });

  it("registers a caller's own gauges, once per name, read after the scrape hooks ran", async () => {
    const metrics = createMetrics({ role: 'worker', version: '1.0.0', gitSha: undefined });
    const spec = { name: 'epu_test_things', help: 'Things.', labelNames: ['kind'] as const, aggregator: 'max' as const };
    const things = metrics.gauge(spec);
    expect(metrics.gauge(spec)).toBe(things);
    metrics.onScrape(() => things.set({ kind: 'read' }, 3));
    things.set({ kind: 'set' }, 1);

    const text = await metrics.registry.metrics();
    expect(text).toContain('# HELP epu_test_things Things.');
    expect(samples(text, 'epu_test_things')).toEqual(
      new Map([
        ['{kind="set"}', 1],
        ['{kind="read"}', 3],
      ]),
    );
  });

  it('reads queue depth at scrape time, at most once per cache window, and survives a failing count', async () => {
    const metrics = createMetrics({ role: 'worker', version: '1.0.0', gitSha: undefined });
    let calls = 0;
    let fail = false;
    const queue = {
      async counts(): Promise<QueueCounts> {
        calls++;
        if (fail) throw new Error('database down');
        return { queued: 5 + calls, running: 2, completed: 40, dead: 1, oldestQueuedAgeSeconds: 12.5 };
      },
    };
    collectQueueDepth(queue, metrics, { ttlMs: 200, logger });
    expect(calls).toBe(0);

    const first = await metrics.registry.metrics();
    await metrics.registry.metrics();
    expect(calls).toBe(1);
    expect(samples(first, 'epu_queue_jobs')).toEqual(
      new Map([
        ['{state="queued"}', 6],
        ['{state="running"}', 2],
        ['{state="completed"}', 40],
        ['{state="dead"}', 1],
      ]),
    );
    expect(samples(first, 'epu_queue_oldest_queued_age_seconds').get('')).toBe(12.5);

    await new Promise((resolve) => setTimeout(resolve, 250));
    fail = true;
    const stale = await metrics.registry.metrics();
    expect(calls).toBe(2);
    expect(samples(stale, 'epu_queue_jobs').get('{state="queued"}')).toBe(6);
  });
});

describe('metrics server', () => {
  let server: MetricsServer;
  let metrics: Metrics;

  beforeAll(async () => {
    metrics = createMetrics({ role: 'web', version: '1.0.0', gitSha: 'deadbeef' });
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, logger });
  });
  afterAll(() => server.close());

  it('serves GET /metrics in Prometheus text format on its own port', async () => {
    metrics.observeHttp('GET', '/livez', 200, 0.001);
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('# TYPE epu_http_requests_total counter');
    expect(text).toContain('epu_http_requests_total{method="GET",route="/livez",status="200"} 1');
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
  });

  it('answers 404 everywhere else (no /livez nor /healthz without a health report)', async () => {
    for (const path of ['/', '/metrics/x', '/livez', '/api/v1/events']) {
      expect((await fetch(`http://127.0.0.1:${server.port}${path}`)).status).toBe(404);
    }
    expect((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status).toBe(404);
  });

  it("serves the role's health: /livez 200, /healthz 200 or 503 with the report", async () => {
    let report: HealthReport | Error = { status: 'ok', checks: { heartbeat: 'ok' } };
    const health = async () => {
      if (report instanceof Error) throw report;
      return report;
    };
    const ops = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, logger, health });
    const get = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${ops.port}${path}`);
      return { status: response.status, cache: response.headers.get('cache-control'), body: await response.json() };
    };
    try {
      expect(await get('/livez')).toEqual({ status: 200, cache: 'no-store', body: { status: 'ok' } });
      expect(await get('/healthz')).toEqual({ status: 200, cache: 'no-store', body: report });
      report = { status: 'failing', checks: { heartbeat: 'failing: no round trip to the queue for 40 s (the lease is 30 s)' } };
      expect(await get('/healthz')).toEqual({ status: 503, cache: 'no-store', body: report });
      report = { status: 'shutting_down', checks: { shutdown: 'in progress' } };
      expect((await get('/healthz')).status).toBe(503);
      report = new Error('boom');
      expect(await get('/healthz')).toMatchObject({ status: 503, body: { status: 'failing', checks: { health: 'failing: boom' } } });
      expect((await get('/livez')).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ops.port}/metrics`)).status).toBe(200);
    } finally {
      await ops.close();
    }
  });

  it('closes, even with a keep-alive connection open', async () => {
    const other = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, logger });
    await fetch(`http://127.0.0.1:${other.port}/metrics`).then((response) => response.text());
    await other.close();
    await expect(fetch(`http://127.0.0.1:${other.port}/metrics`)).rejects.toThrow();
  });
});
