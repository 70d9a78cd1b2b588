import { Type } from 'typebox';
import type { App } from '../../platform/http/server.js';
import { ACCESS, errorResponses, Timestamp } from '../../platform/http/api-schema.js';
import type { Auth } from '../accounts/auth.service.js';
import { PRIVATE } from '../../platform/http/cache-control.js';
import type { StatsService } from './stats.service.js';

const Count = Type.Integer({ minimum: 0 });
const StatsSchema = Type.Object({
  computedAt: Type.Union([Timestamp, Type.Null()], { description: 'Null until the job has run once.' }),
  totals: Type.Object({ users: Count, events: Count, bookings: Count, photos: Count, storageBytes: Count }),
  daily: Type.Array(Type.Object({ day: Type.String({ format: 'date' }), signups: Count, bookings: Count, uploads: Count })),
});

export function statsRoutes(app: App, deps: { stats: StatsService; auth: Auth }): void {
  app.get(
    '/api/v1/admin/stats',
    {
      schema: {
        summary: 'Totals and the daily series, as the stats.aggregate job last computed them',
        tags: ['admin'],
        security: ACCESS.signedIn,
        response: { 200: StatsSchema, ...errorResponses('forbidden') },
      },
    },
    async (request, reply) => {
      await deps.auth.requireAdmin(request);
      // Never kept by the browser either: the next aggregate must show on the next request.
      reply.header('cache-control', PRIVATE);
      return deps.stats.read();
    },
  );
}
