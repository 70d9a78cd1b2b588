import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';
import { setTraceRoute } from './tracing.js';

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
