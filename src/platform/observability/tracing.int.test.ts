// Auto-instrumentation patches node:http and pg as they load, so tracing starts
// before pg is imported: the static imports here do not load it, and the
// modules that do (the HTTP server, the pool, the test database) are imported
// dynamically after initTracing. This file runs in a process of its own
// (vitest's forks pool isolates test files), so no other file loaded pg first.
import { Writable } from 'node:stream';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions, logContextMixin } from './logger.js';
import { currentTraceId, initTracing, injectTraceContext, runWithExtractedContext, shutdownTracing, withSpan } from './tracing.js';

const exporter = new InMemorySpanExporter();
const lines: Record<string, unknown>[] = [];
const logger = pino(
  loggerOptions({ level: 'info', pretty: false, name: 'tracing-test', mixin: logContextMixin }),
  new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe('a trace from an HTTP request through a job into a function', () => {
  let close: () => Promise<void>;
  let url: string;
  let query: (text: string) => Promise<unknown>;
  // What the queue stores in the job's `trace` jsonb column.
  const jobRows: { name: string; trace: string }[] = [];

  beforeAll(async () => {
    const tracing = await initTracing({
      serviceName: 'epu-test',
      spanProcessor: new SimpleSpanProcessor(exporter),
    });
    expect(tracing.enabled).toBe(true);

    const { createHttpServer } = await import('../http/server.js');
    const { createMetrics } = await import('./metrics.js');
    const { instrumentHttp } = await import('./http-metrics.js');
    const { createPool } = await import('../db/pool.js');
    const { createTestDatabase } = await import('../../../tests/support/database.js');
    const database = await createTestDatabase();
    const pool = createPool({ connectionString: database.url, max: 2, statementTimeoutMs: 0, applicationName: 'epu-tracing-test' });
    query = (text) => pool.query(text);

    const app = createHttpServer({
      logger,
      requestTimeoutMs: 60_000,
      bodyLimit: 1024,
      trustProxy: false,
      errorPages: { notFound: () => '', error: () => '' },
    });
    instrumentHttp(app, createMetrics({ role: 'web', version: '1.0.0', gitSha: undefined }));
    app.post('/api/v1/events/:id/exports', async (request, reply) => {
      await pool.query('SELECT 1 AS in_request');
      request.log.info('export requested');
      jobRows.push({ name: 'exports.create', trace: JSON.stringify(injectTraceContext()) });
      return reply.code(202).send({ export: { status: 'queued' } });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    close = async () => {
      app.server.closeAllConnections();
      await app.close();
      await pool.end();
      await database.drop();
    };
  });

  afterAll(async () => {
    await close?.();
    await shutdownTracing();
  });

  it('keeps one trace id and a parent chain from the request to the function', async () => {
    exporter.reset();
    const response = await fetch(`${url}/api/v1/events/evt_1/exports`, { method: 'POST', headers: { 'x-request-id': 'req-trace-1' } });
    expect(response.status).toBe(202);

    // The worker: the job's carrier, as read back from the database.
    const carrier = JSON.parse(jobRows.at(-1)!.trace) as Record<string, string>;
    expect(carrier.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    let cloudEvent: Record<string, unknown> = {};
    await runWithExtractedContext(carrier, 'job exports.create', async () => {
      logger.info('job running');
      await query('SELECT 2 AS in_job');
      // The function call: trace context as CloudEvent extension attributes.
      cloudEvent = { specversion: '1.0', id: 'ce-1', source: '/epu/worker', type: 'epu.export.ready', data: {}, ...injectTraceContext() };
    });
    expect(cloudEvent.traceparent).toMatch(/^00-/);

    // The function, possibly in another process: only the event crosses.
    const received = JSON.parse(JSON.stringify(cloudEvent)) as Record<string, unknown>;
    await runWithExtractedContext(
      received,
      'function export-ready',
      async () => {
        logger.info('function running');
        await withSpan('storage put', async () => undefined, { 'epu.storage.operation': 'put' }, SpanKind.CLIENT);
      },
      { kind: SpanKind.SERVER },
    );

    const spans = exporter.getFinishedSpans();
    const byName = (name: string) =>
      spans.find((span) => span.name === name) ?? expect.fail(`no span named ${name} in ${spans.map((s) => s.name).join(', ')}`);
    const request = spans.find((span) => span.kind === SpanKind.SERVER && span.instrumentationScope.name.includes('http'));
    expect(request, 'the incoming request span').toBeDefined();
    expect(request!.name).toBe('POST /api/v1/events/:id/exports');
    expect(parentOf(request!)).toBeUndefined();
    const job = byName('job exports.create');
    const fn = byName('function export-ready');
    const storage = byName('storage put');

    // One trace for all of it.
    const traceId = request!.spanContext().traceId;
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));

    // A parent chain: storage → function → job → request.
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const chain: string[] = [];
    for (let span: ReadableSpan | undefined = storage; span; span = byId.get(parentOf(span) ?? '')) chain.push(span.name);
    expect(chain).toEqual(['storage put', 'function export-ready', 'job exports.create', 'POST /api/v1/events/:id/exports']);
    expect(job.kind).toBe(SpanKind.CONSUMER);
    expect(fn.kind).toBe(SpanKind.SERVER);

    // SQL spans sit inside the request and inside the job.
    const sqlSpans = spans.filter(
      (span) =>
        span.instrumentationScope.name.includes('pg') &&
        String(span.attributes['db.statement'] ?? span.attributes['db.query.text'] ?? '').includes('SELECT'),
    );
    const inRequest = sqlSpans.find((span) =>
      String(span.attributes['db.statement'] ?? span.attributes['db.query.text']).includes('in_request'),
    );
    const inJob = sqlSpans.find((span) => String(span.attributes['db.statement'] ?? span.attributes['db.query.text']).includes('in_job'));
    expect(inRequest, 'an SQL span in the request').toBeDefined();
    expect(inJob && parentOf(inJob)).toBe(job.spanContext().spanId);

    // Every log line carries the trace id, and the span it was written in.
    const requestLine = lines.find((line) => line.msg === 'export requested')!;
    expect(requestLine.traceId).toBe(traceId);
    expect(requestLine.requestId).toBe('req-trace-1');
    expect(lines.find((line) => line.msg === 'job running')).toMatchObject({ traceId, spanId: job.spanContext().spanId });
    expect(lines.find((line) => line.msg === 'function running')).toMatchObject({ traceId, spanId: fn.spanContext().spanId });
  });

  it('starts a new trace without a carrier, and records a failure on the span', async () => {
    exporter.reset();
    expect(injectTraceContext()).toEqual({});
    expect(currentTraceId()).toBeUndefined();
    let inside: string | undefined;
    await expect(
      runWithExtractedContext(null, 'job stats.aggregate', async () => {
        inside = currentTraceId();
        throw new Error('no stats today');
      }),
    ).rejects.toThrow('no stats today');
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe(inside);
    expect(parentOf(span!)).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((event) => event.name)).toContain('exception');
  });

  it('does not trace probes', async () => {
    exporter.reset();
    await fetch(`${url}/livez`).then((response) => response.text());
    expect(exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER)).toEqual([]);
  });
});
