import type { App } from '../../platform/http/server.js';
import type { Auth } from '../accounts/auth.js';
import { STATS_CACHE_SECONDS, type StatsService } from './stats.service.js';

export function statsRoutes(app: App, deps: { stats: StatsService; auth: Auth }): void {
  app.get('/api/v1/admin/stats', async (request, reply) => {
    await deps.auth.requireAdmin(request);
    reply.header('cache-control', `private, max-age=${STATS_CACHE_SECONDS}`);
    return deps.stats.read();
  });
}
