import Fastify, { LogController, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { HTTP, type CloudEvent } from 'cloudevents';
import { SpanKind } from '@opentelemetry/api';
import type { Logger } from '../observability/logger.js';
import { runWithExtractedContext } from '../observability/tracing.js';
import { captureError } from '../observability/sentry.js';
import { AppError, errorBody } from '../http/errors.js';
import { checkHealth, type HealthCheck } from '../http/health.js';
import { lingerOnClose } from '../http/lingering-close.js';
import { clientError } from '../http/server.js';
import type { EpuFunction } from './cloud-event.js';
import { type GoogleIdentityVerifier, SigningKeysUnavailableError } from './google-identity.js';
import { bearerCredentials, FUNCTION_NAMES, type FunctionName, tokenMatches } from './invoker.js';

/** The function storage events trigger (Eventarc on GCP), the one a Google identity may call. */
const STORAGE_TRIGGERED: FunctionName = 'photoUploaded';

/** The most a CloudEvent may weigh: EPU's own are a few hundred bytes, a storage notification a few KiB. */
export const FUNCTIONS_BODY_LIMIT = 1024 * 1024;

/**
 * The functions host: `POST /<name>` with a CloudEvent (binary or structured
 * mode) runs that handler. Callers must present the shared bearer token
 * (`Authorization: Bearer <FUNCTIONS_TOKEN>`), checked before a byte of the
 * body is read; a body over FUNCTIONS_BODY_LIMIT answers 413.
 * On Cloud Run functions the same handlers are registered with the
 * functions-framework instead (src/functions/index.ts).
 */
export function createFunctionsServer(options: {
  handlers: Record<FunctionName, EpuFunction<any>>;
  token: string;
  /** Set (FUNCTIONS_GOOGLE_AUDIENCE): storage events may also come with a Google-signed identity token (Eventarc). */
  googleIdentity?: GoogleIdentityVerifier;
  logger: Logger;
  isShuttingDown: () => boolean;
  databaseCheck: HealthCheck;
}) {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: FUNCTIONS_BODY_LIMIT,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/healthz', async (request, reply) => {
    const report = await checkHealth({ database: options.databaseCheck }, { isShuttingDown: options.isShuttingDown, log: request.log });
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  /**
   * The shared token for any function; a Google identity token (verified: google-identity.ts)
   * only for photoUploaded, the function a storage trigger calls.
   */
  const authenticated = async (request: FastifyRequest): Promise<boolean> => {
    if (tokenMatches(options.token, request.headers.authorization)) return true;
    const credentials = bearerCredentials(request.headers.authorization);
    const name = (request.params as { name?: string }).name;
    if (!options.googleIdentity || credentials === undefined || name !== STORAGE_TRIGGERED) return false;
    return (await options.googleIdentity.verify(credentials)) !== null;
  };

  // onRequest runs before the body is read: an unauthenticated caller cannot make the host read (or buffer) anything.
  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    let allowed: boolean;
    try {
      allowed = await authenticated(request);
    } catch (error) {
      if (!(error instanceof SigningKeysUnavailableError)) throw error;
      // Not the caller's fault: Eventarc retries a 503.
      request.log.warn({ err: error }, 'Google signing keys unavailable');
      lingerOnClose(request.raw);
      return reply.code(503).header('connection', 'close').send(errorBody('unavailable', 'Cannot check the identity token now; retry.'));
    }
    if (allowed) return;
    // The body may still be arriving: close after the answer, reading and dropping the rest so the caller sees the 401.
    lingerOnClose(request.raw);
    return reply
      .code(401)
      .headers({ 'www-authenticate': 'Bearer', connection: 'close' })
      .send(errorBody('not_signed_in', 'A valid function token is required: Authorization: Bearer <token>.'));
  };

  app.post<{ Params: { name: string } }>('/:name', { onRequest: authenticate }, async (request, reply) => {
    const name = request.params.name as FunctionName;
    if (!FUNCTION_NAMES.includes(name)) return reply.code(404).send(errorBody('not_found', 'No such function.'));
    let event: CloudEvent<unknown>;
    try {
      event = HTTP.toEvent({ headers: request.headers, body: request.body }) as CloudEvent<unknown>;
    } catch (error) {
      return reply.code(400).send(errorBody('validation_failed', `Not a CloudEvent: ${(error as Error).message}`));
    }
    const started = Date.now();
    await runWithExtractedContext(
      event as unknown as Record<string, unknown>,
      `function ${name}`,
      () => options.handlers[name](event as never),
      { kind: SpanKind.SERVER },
    );
    request.log.info({ function: name, eventId: event.id, ms: Date.now() - started }, 'function ran');
    return reply.code(204).send();
  });

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    // The caller's mistake (an oversized or malformed body): its 4xx, never a 500 that would be retried.
    const known = error instanceof AppError ? error : clientError(error);
    if (known) return reply.code(known.status).send(errorBody(known.code, known.message));
    request.log.error({ err: error }, 'function failed');
    captureError(error, { requestId: request.id, route: request.routeOptions.url ?? 'unmatched' });
    return reply.code(500).send(errorBody('internal_error', 'The function failed; the caller will retry.'));
  });
  return app;
}
