import type { FastifyRequest } from 'fastify';
import { AppError } from './errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses unsafe requests that a browser marks as coming from another site.
 * Browsers send Sec-Fetch-Site and Origin on every unsafe request, and a page
 * cannot forge them; clients that send neither (curl, server-to-server) are no
 * cross-site threat because they hold their own cookies. With SameSite=Lax
 * cookies this protects forms and cookie-authenticated JSON alike without
 * tokens (docs/decisions/0004-cross-site-protection.md).
 */
export function createCrossSiteGuard(publicOrigin: string) {
  return async function crossSiteGuard(request: FastifyRequest): Promise<void> {
    if (SAFE_METHODS.has(request.method)) return;
    const fetchSite = request.headers['sec-fetch-site'];
    if (fetchSite === 'same-origin' || fetchSite === 'none') return;
    const origin = request.headers.origin;
    if (fetchSite === undefined && origin === undefined) return;
    if (origin !== undefined && origin !== 'null') {
      if (origin === publicOrigin) return;
      try {
        if (new URL(origin).host === request.headers.host) return;
      } catch {
        // an unparseable Origin is refused below
      }
    }
    throw new AppError('cross_site_request');
  };
}
