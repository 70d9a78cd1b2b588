import type { FastifyRequest } from 'fastify';
import { AppError } from './errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The refusal for an unsafe request that a browser marks as coming from
 * another site, or null. Synchronous: it runs on every request.
 * Browsers send Sec-Fetch-Site on every request and Origin on unsafe ones, and
 * a page cannot forge either:
 *  - Sec-Fetch-Site present: only `same-origin` (and `none`, a user's own
 *    action) pass; `same-site` (a sibling subdomain) and `cross-site` are
 *    refused, whatever Origin says, since the browser's own verdict wins.
 *  - Only Origin: it must be PUBLIC_URL's origin exactly, scheme included; the
 *    Host header is never consulted (a client chooses it).
 *  - Neither (curl, server-to-server): no cross-site threat, since such a
 *    client holds its own cookies.
 * With SameSite=Lax cookies this protects forms and cookie-authenticated JSON
 * alike without tokens (docs/decisions/0004-cross-site-protection.md).
 */
export function crossSiteRefusal(request: Pick<FastifyRequest, 'method' | 'headers'>, publicOrigin: string): AppError | null {
  if (SAFE_METHODS.has(request.method)) return null;
  const fetchSite = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  if (fetchSite !== undefined) {
    if (fetchSite === 'same-origin' || fetchSite === 'none') return null;
  } else if (origin === undefined || origin === publicOrigin) {
    return null;
  }
  return new AppError('cross_site_request');
}
