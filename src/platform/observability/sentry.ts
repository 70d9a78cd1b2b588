// Error reports to Sentry when SENTRY_DSN is set. Reports carry the request id,
// route and trace id so that they lead to the logs and the trace; they never
// carry personal data: no cookies, headers, bodies, query strings, user fields
// or addresses, and email addresses are masked in messages.
import type { Breadcrumb, ErrorEvent, NodeOptions } from '@sentry/node';
import { currentTraceId } from './tracing.js';

type SentryModule = typeof import('@sentry/node');

export interface SentryOptions {
  dsn: string | undefined;
  environment: string;
  release: string;
  /** Tests: a transport that records envelopes instead of sending them. */
  transport?: NodeOptions['transport'];
}

let sentry: SentryModule | null = null;

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const REQUEST_ID_HEADER = 'x-request-id';

function mask(text: string | undefined): string | undefined {
  return text?.replace(EMAIL, '[email]');
}

function withoutQuery(url: string | undefined): string | undefined {
  return url?.split('?')[0];
}

function scrubBreadcrumb(crumb: Breadcrumb): Breadcrumb {
  const data = crumb.data;
  return {
    ...crumb,
    message: mask(crumb.message),
    // Outgoing request URLs may be presigned storage links: keep the method, the path and the status only.
    data: data
      ? {
          ...(typeof data.method === 'string' ? { method: data.method } : {}),
          ...(typeof data.url === 'string' ? { url: withoutQuery(data.url) } : {}),
          ...(typeof data.status_code === 'number' ? { status_code: data.status_code } : {}),
        }
      : undefined,
  };
}

/**
 * Sentry's `beforeSend`: strips what could identify a person and keeps what
 * leads to the logs (request id, route, trace id as tags). Exported for tests.
 */
export function scrubEvent(event: ErrorEvent): ErrorEvent {
  const request = event.request;
  const headerRequestId = request?.headers?.[REQUEST_ID_HEADER] ?? request?.headers?.['X-Request-Id'];
  const tags = { ...event.tags };
  if (!tags.request_id && headerRequestId) tags.request_id = headerRequestId;

  const scrubbed: ErrorEvent = {
    ...event,
    tags,
    message: mask(event.message),
    user: undefined,
    request: request ? { method: request.method, url: withoutQuery(request.url) } : undefined,
    breadcrumbs: event.breadcrumbs?.map(scrubBreadcrumb),
  };
  if (event.logentry) scrubbed.logentry = { ...event.logentry, message: mask(event.logentry.message) };
  if (event.exception?.values) {
    scrubbed.exception = { ...event.exception, values: event.exception.values.map((value) => ({ ...value, value: mask(value.value) })) };
  }
  if (!scrubbed.user) delete scrubbed.user;
  if (!scrubbed.request) delete scrubbed.request;
  return scrubbed;
}

/** Starts reporting errors to Sentry when a DSN is set; does nothing otherwise. */
export async function initSentry(options: SentryOptions): Promise<boolean> {
  if (!options.dsn) return false;
  if (sentry) return true;
  const module = await import('@sentry/node');
  module.init({
    dsn: options.dsn,
    environment: options.environment,
    release: options.release,
    // Sentry 11's successor to `sendDefaultPii: false`: collect no user, cookie, header, body, query or variable data.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      databaseQueryData: false,
      queues: false,
      stackFrameVariables: false,
      genAI: { inputs: false, outputs: false },
      mcp: { inputs: false, outputs: false },
    },
    includeLocalVariables: false,
    // Traces go to OpenTelemetry (tracing.ts); Sentry gets errors only and leaves the tracer provider alone.
    tracesSampleRate: undefined,
    enableOpenTelemetrySetup: false,
    enableRuntimeChannelInjection: false,
    maxBreadcrumbs: 30,
    // captureError reports a request's failure itself, with the request id, route and trace id. Sentry's
    // Fastify integration would report it first without them, and its deduplication would drop ours.
    integrations: (defaults) => defaults.filter((integration) => integration.name !== 'Fastify'),
    beforeSend: (event) => scrubEvent(event),
    beforeBreadcrumb: (crumb) => scrubBreadcrumb(crumb),
    ...(options.transport ? { transport: options.transport } : {}),
  });
  sentry = module;
  return true;
}

export interface ErrorContext {
  requestId?: string;
  /** The route template, never the raw path. */
  route?: string;
  /** A job name or another low-cardinality tag worth filtering on. */
  job?: string;
}

/** Reports an unexpected error, tagged so that it leads to the logs and the trace. Does nothing without Sentry. */
export function captureError(error: unknown, errorContext: ErrorContext = {}): void {
  if (!sentry) return;
  const traceId = currentTraceId();
  sentry.withScope((scope) => {
    if (errorContext.requestId) scope.setTag('request_id', errorContext.requestId);
    if (errorContext.route) scope.setTag('route', errorContext.route);
    if (errorContext.job) scope.setTag('job', errorContext.job);
    if (traceId) scope.setTag('trace_id', traceId);
    sentry!.captureException(error);
  });
}

/** Sends the reports still queued; call it during shutdown. */
export async function closeSentry(timeoutMs = 2_000): Promise<void> {
  if (!sentry) return;
  await sentry.close(timeoutMs);
  sentry = null;
}
