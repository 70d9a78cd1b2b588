import crypto from 'node:crypto';
import http from 'node:http';
import querystring from 'node:querystring';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../observability/logger.js';
import { accessLineWriter } from '../observability/access-log.js';
import { AppError, ERRORS, errorBody, type ErrorCode } from './errors.js';
import { captureError } from '../observability/sentry.js';
import { runWithRequestContext } from './request-context.js';

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

/** Error pages may read who is signed in (their menu), hence a promise. */
export interface ErrorPageRenderer {
  notFound(request: FastifyRequest): string | Promise<string>;
  error(request: FastifyRequest, status: number, message: string): string | Promise<string>;
}

export interface HttpServerOptions {
  logger: Logger;
  bodyLimit: number;
  /**
   * The whole request, headers and body, must arrive within this, or it is
   * answered 408 request_timeout and the connection closes: a body trickled
   * in one byte at a time cannot hold a connection open for ever.
   */
  requestTimeoutMs: number;
  /** Behind a load balancer the client address comes from X-Forwarded-For. */
  trustProxy: boolean | number;
  errorPages: ErrorPageRenderer;
  /**
   * Headers every response carries (the security headers), computed once. The
   * first hook copies them onto each reply; a framework error (a malformed URL)
   * is answered before any hook runs, so it sets them itself.
   */
  headers?: Readonly<Record<string, string>>;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Answers what Node refuses before any route runs (a request too slow to
 * arrive, headers too large, bytes that are not HTTP) in EPU's error format
 * with the security headers, then closes. Like Node's own handler, it writes
 * nothing once a response has started on the connection.
 */
export function clientErrorResponder(headers: Readonly<Record<string, string>> = {}) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const code: ErrorCode =
        error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'request_timeout'
          : error.code === 'HPE_HEADER_OVERFLOW'
            ? 'headers_too_large'
            : 'validation_failed';
      const { status } = ERRORS[code];
      const message = code === 'validation_failed' ? 'The request is not valid HTTP.' : ERRORS[code].message;
      const body = JSON.stringify(errorBody(code, message));
      const lines = [
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`,
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
        'content-type: application/json; charset=utf-8',
        `content-length: ${Buffer.byteLength(body)}`,
        // Every answer carries one; this request never got an id of its own.
        `x-request-id: ${crypto.randomUUID()}`,
        'connection: close',
      ];
      socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}

/** Each parameter's first value; `parsed` has an array for a name given more than once. */
function firstValues(parsed: querystring.ParsedUrlQuery): Record<string, string> {
  const first: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(parsed)) first[name] = Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  return first;
}

/** An API client asks for JSON; a browser navigating gets pages. */
export function wantsJson(request: FastifyRequest): boolean {
  if (request.url.startsWith('/api/')) return true;
  const accept = request.headers.accept ?? '';
  return !accept.includes('text/html');
}

/** The AppError for an error that is the client's (a malformed or oversized body, a failed validation), or null. */
export function clientError(error: FastifyError): AppError | null {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('too_large', 'The request body is larger than allowed.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_type', 'Send the body as application/json.');
    case 'FST_ERR_VALIDATION': {
      const details = (error.validation ?? []).map((issue) => ({
        field:
          (issue.instancePath || '/').slice(1).replace(/\//g, '.') || (issue.params as { missingProperty?: string })?.missingProperty || '',
        problem: issue.message ?? 'is not valid',
      }));
      return new AppError('validation_failed', undefined, { details });
    }
  }
  // Text PostgreSQL cannot store (a NUL, 22021; a character the database's encoding lacks, 22P05) is the
  // client's: whichever field carried it, the statement failed before writing and its transaction rolls back.
  if (TEXT_THE_DATABASE_REFUSES.has((error as { code?: string }).code ?? '')) {
    return new AppError('validation_failed', 'The request holds characters that cannot be stored, such as NUL.');
  }
  // Parser errors such as a malformed body raise plain 4xx errors (SyntaxError from JSON.parse).
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) return new AppError('invalid_json');
  // Anything else Fastify, Node or a plugin raises with a 4xx status is the client's too (@fastify/static's
  // refusal of a path out of its root, Node's "aborted" for a body cut short): the catalogue's code for it.
  const status = error.statusCode ?? 0;
  if (status >= 400 && status < 500) return new AppError(CLIENT_ERROR_CODES[status] ?? 'validation_failed');
  return null;
}

const TEXT_THE_DATABASE_REFUSES = new Set(['22021', '22P05']);

/** The catalogue's code for a client error raised with only a status. */
const CLIENT_ERROR_CODES: Partial<Record<number, ErrorCode>> = {
  401: 'not_signed_in',
  403: 'forbidden',
  404: 'not_found',
  406: 'unsupported_type',
  408: 'request_timeout',
  409: 'conflict',
  413: 'too_large',
  415: 'unsupported_type',
  429: 'rate_limited',
  431: 'headers_too_large',
};

/**
 * Fastify with the cross-cutting behaviour every EPU HTTP server shares:
 * request ids, logs without personal data, and errors that are always a stable
 * code and never a stack trace.
 */
export function createHttpServer(options: HttpServerOptions): App {
  const headers = options.headers ?? {};
  // The access line's fields are chosen below and hold no personal data, so it
  // skips the redaction pass, which costs several times the line itself.
  const writeAccessLine = accessLineWriter(options.logger);
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit,
    requestTimeout: options.requestTimeoutMs,
    http: {
      // Node looks for overdue requests this often (30 s by default): a fraction of the timeout, so it is kept to closely.
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(options.requestTimeoutMs / 4))),
      // Node enforces neither timeout while the headers' one (60 s by default) is the longer.
      headersTimeout: Math.min(60_000, options.requestTimeoutMs),
    },
    clientErrorHandler: clientErrorResponder(headers),
    trustProxy:
      typeof options.trustProxy === 'number' ? (_address: string, hop: number) => hop < (options.trustProxy as number) : options.trustProxy,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
    },
    // A parameter given twice (`?a=1&a=2`) is taken once, at its first value: every query schema and
    // page reads one string per name, and an array reaching a handler or the database was a 500.
    routerOptions: { querystringParser: (text) => firstValues(querystring.parse(text)) },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    // request.log is the server's logger itself: a child per request (with its redaction setup) cost more than
    // many a handler. Lines logged while serving a request get its id from the request context instead (app.ts).
    childLoggerFactory: (logger) => logger,
    return503OnClosing: true,
    // Fastify's own answers (a malformed URL, an over-long parameter) in EPU's error format, with its headers.
    frameworkErrors: (error, request, reply) => {
      reply.headers({ ...headers, 'x-request-id': request.id });
      // sendError sends the answer; the reply it hands back is thenable, and Fastify waits for nothing here.
      if (error.code === 'FST_ERR_BAD_URL') void sendError(request, reply, 400, 'validation_failed', 'The address is not valid.');
      else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH')
        void sendError(request, reply, 400, 'validation_failed', 'The address is too long.');
      else {
        request.log.error({ err: error, requestId: request.id }, 'framework error');
        void sendError(request, reply, 500, 'internal_error', ERRORS.internal_error.message);
      }
    },
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // Synchronous hooks (a done callback, no promise) on every request: they run
  // on each of them, so they stay as cheap as a plain function call.
  // Headers first: routes, 404s and errors alike carry them, and a handler that
  // sets one of them later (the /media/ route's sandboxing CSP) wins.
  // Then the rest of the request runs in its request context, so work it causes
  // (log lines, audit entries, jobs) knows its id.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    reply.header('x-request-id', request.id);
    runWithRequestContext({ requestId: request.id }, done);
  });

  // One line per request, without the query string (signed links carry tokens there).
  app.addHook('onResponse', (request, reply, done) => {
    const path = request.url;
    const query = path.indexOf('?');
    writeAccessLine({
      requestId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      path: query < 0 ? path : path.slice(0, query),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    });
    done();
  });

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const known = error instanceof AppError ? error : clientError(error);
    if (known) {
      for (const [name, value] of Object.entries(known.headers)) reply.header(name, value);
      return sendError(request, reply, known.status, known.code, known.message, known.details);
    }
    request.log.error({ err: error }, 'unhandled error');
    captureError(error, { requestId: request.id, route: request.routeOptions.url ?? 'unmatched' });
    return sendError(
      request,
      reply,
      500,
      'internal_error',
      `${ERRORS.internal_error.message} Quote request id ${request.id} if you report it.`,
    );
  });

  app.setNotFoundHandler(async (request, reply) => {
    if (wantsJson(request)) return reply.code(404).send(errorBody('not_found', ERRORS.not_found.message));
    return reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send(await options.errorPages.notFound(request));
  });

  async function sendError(request: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string, details?: unknown) {
    reply.code(status);
    if (wantsJson(request)) return reply.type('application/json; charset=utf-8').send(errorBody(code, message, details));
    return reply.type('text/html; charset=utf-8').send(await options.errorPages.error(request, status, message));
  }

  return app;
}
