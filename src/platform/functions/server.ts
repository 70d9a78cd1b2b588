import Fastify, { LogController } from 'fastify';
import { HTTP, type CloudEvent } from 'cloudevents';
import { SpanKind } from '@opentelemetry/api';
import type { Logger } from '../observability/logger.js';
import { runWithExtractedContext } from '../observability/tracing.js';
import { captureError } from '../observability/sentry.js';
import { errorBody } from '../http/errors.js';
import { checkHealth, type HealthCheck } from '../http/health.js';
import type { EpuFunction } from './cloud-event.js';
import { FUNCTION_NAMES, type FunctionName, tokenMatches } from './invoker.js';

/**
 * The functions host: `POST /<name>` with a CloudEvent (binary or structured
 * mode) runs that handler. Callers must present the shared bearer token.
 * On Cloud Run functions the same handlers are registered with the
 * functions-framework instead (src/functions/index.ts).
 */
export function createFunctionsServer(options: {
  handlers: Record<FunctionName, EpuFunction<any>>;
  token: string;
  logger: Logger;
  isShuttingDown: () => boolean;
  databaseCheck: HealthCheck;
}) {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: 1024 * 1024,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/healthz', async (_request, reply) => {
    const report = await checkHealth({ database: options.databaseCheck }, { isShuttingDown: options.isShuttingDown });
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  app.post<{ Params: { name: string } }>('/:name', async (request, reply) => {
    if (!tokenMatches(options.token, request.headers.authorization))
      return reply.code(401).send(errorBody('not_signed_in', 'A valid function token is required.'));
    const name = request.params.name as FunctionName;
    if (!FUNCTION_NAMES.includes(name)) return reply.code(404).send(errorBody('not_found', 'No such function.'));
    let event: CloudEvent<unknown>;
    try {
      event = HTTP.toEvent({ headers: request.headers, body: request.body as string }) as CloudEvent<unknown>;
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

  app.setErrorHandler(async (error, request, reply) => {
    request.log.error({ err: error }, 'function failed');
    captureError(error, { requestId: request.id, route: request.routeOptions.url ?? 'unmatched' });
    return reply.code(500).send(errorBody('internal_error', 'The function failed; the caller will retry.'));
  });
  return app;
}
