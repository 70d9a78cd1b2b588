// OpenTelemetry traces, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT
// is set. The helpers below only use @opentelemetry/api, which does nothing until
// initTracing() registers the SDK: with tracing off they cost next to nothing and
// callers never need to ask whether it is on.
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

export type { SpanProcessor };

export interface TracingOptions {
  serviceName: string;
  serviceVersion?: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans go to `<endpoint>/v1/traces`. */
  otlpEndpoint?: string;
  /** Tests: an in-process processor (SimpleSpanProcessor over InMemorySpanExporter) instead of the OTLP export. */
  spanProcessor?: SpanProcessor;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Sends the spans still buffered; call it last in the shutdown. */
  shutdown(): Promise<void>;
}

const TRACER = 'epu';
// Incoming requests nobody needs a trace of: probes and scrapes, several a second per replica.
const UNTRACED_PATHS = new Set(['/livez', '/healthz', '/metrics', '/favicon.ico']);
// Added to the instrumentation's own list (sig, X-Amz-Signature, ...): our signed links and one-time tokens.
const SECRET_QUERY_PARAMS = [
  'sig',
  'token',
  'code',
  'Signature',
  'AWSAccessKeyId',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
];

let active: Tracing | null = null;

/**
 * Starts the OpenTelemetry trace SDK with HTTP, pg and ioredis instrumentation.
 * It must run before pg or ioredis are imported: their modules are patched as
 * they load (ESM imports through an import-in-the-middle loader hook registered
 * here, CommonJS requires through require-in-the-middle). Fastify is not
 * instrumented: `setTraceRoute` (called by metrics.ts's instrumentHttp) names
 * the HTTP span after the route template, without a span per hook.
 * Traces only, over OTLP/HTTP: the tracer provider and the one exporter are
 * assembled here rather than through @opentelemetry/sdk-node, which brings
 * every exporter (gRPC, protobuf, Zipkin, Prometheus, logs, metrics) along.
 * Without an endpoint or a processor it does nothing.
 */
export async function initTracing(options: TracingOptions): Promise<Tracing> {
  if (active) return active;
  if (!options.otlpEndpoint && !options.spanProcessor) return { enabled: false, shutdown: async () => undefined };

  // Only the modules an instrumentation asks for go through the hook; the rest load as usual.
  const { register } = await import('node:module');
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);

  const [
    { NodeTracerProvider },
    { BatchSpanProcessor },
    { registerInstrumentations },
    { CompositePropagator, W3CTraceContextPropagator, W3CBaggagePropagator },
    resources,
    http,
    pg,
    ioredis,
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
  ]);
  const spanProcessors: SpanProcessor[] = [];
  if (options.spanProcessor) spanProcessors.push(options.spanProcessor);
  if (options.otlpEndpoint) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const exporter = new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/+$/, '')}/v1/traces` });
    spanProcessors.push(new BatchSpanProcessor(exporter));
  }

  // As the SDK would describe the process: OTEL_RESOURCE_ATTRIBUTES, the process and the host, then our name and version.
  const resource = resources
    .defaultResource()
    .merge(resources.detectResources({ detectors: [resources.envDetector, resources.processDetector, resources.hostDetector] }))
    .merge(
      resources.resourceFromAttributes({
        'service.name': options.serviceName,
        ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
      }),
    );
  const provider = new NodeTracerProvider({ resource, spanProcessors });
  // The AsyncLocalStorage context manager, W3C trace context and baggage: what carries a trace across awaits and processes.
  provider.register({
    propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  });
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new http.HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0]!),
        redactedQueryParams: SECRET_QUERY_PARAMS,
        redactedQueryParamsServer: SECRET_QUERY_PARAMS,
      }),
      // Only inside a request or job: the worker's polling and LISTEN would otherwise make a root trace a second.
      new pg.PgInstrumentation({ requireParentSpan: true }),
      // The command name only: keys and values can hold personal data.
      new ioredis.IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  await waitForAllMessagesAcknowledged();

  let stopped: Promise<void> | null = null;
  active = {
    enabled: true,
    shutdown: () => (stopped ??= provider.shutdown().catch(() => undefined)),
  };
  return active;
}

/** Ends the tracing started by initTracing, sending what is buffered; does nothing when it is off. */
export async function shutdownTracing(): Promise<void> {
  await active?.shutdown();
}

/**
 * The active trace context as W3C `traceparent` (and `tracestate`) entries:
 * store it in a job's `trace` column or as a CloudEvent's extension
 * attributes. Empty when tracing is off or no span is active.
 */
export function injectTraceContext(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/**
 * Runs `fn` in a new span that continues the trace in `carrier` (a job's
 * `trace`, a CloudEvent with `traceparent`), or starts a trace if there is none.
 * The span ends when `fn` settles and records a thrown error.
 */
export function runWithExtractedContext<T>(
  carrier: Record<string, unknown> | null | undefined,
  name: string,
  fn: (span: Span) => Promise<T> | T,
  options: { kind?: SpanKind; attributes?: Attributes } = {},
): Promise<T> {
  const parent = carrier ? propagation.extract(ROOT_CONTEXT, carrier, carrierGetter) : ROOT_CONTEXT;
  return inSpan(name, { kind: options.kind ?? SpanKind.CONSUMER, attributes: options.attributes }, parent, fn);
}

/** Runs `fn` in a child span of the active one: storage calls, exports, anything worth seeing in a trace. */
export function withSpan<T>(
  name: string,
  fn: (span: Span) => Promise<T> | T,
  attributes?: Attributes,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return inSpan(name, { kind, attributes }, context.active(), fn);
}

/**
 * Names the incoming request's span after its route template
 * (`POST /api/v1/events/:id/exports`) and sets `http.route`; call it from a
 * Fastify onRequest hook. Does nothing outside a traced request.
 */
export function setTraceRoute(route: string): void {
  const rpc = getRPCMetadata(context.active());
  if (rpc?.type === RPCType.HTTP) rpc.route = route;
}

/** The id of the active trace, for logs, error reports and support; undefined outside a span. */
export function currentTraceId(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

// Carriers are plain objects whose values may be anything (a whole CloudEvent): only strings count.
const carrierGetter = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

async function inSpan<T>(
  name: string,
  options: { kind: SpanKind; attributes?: Attributes },
  parent: ReturnType<typeof context.active>,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return trace.getTracer(TRACER).startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
