import type { FastifyReply } from 'fastify';

// What a CDN (or a browser) may keep. Public pages and lists are the same for
// every anonymous viewer, so a shared cache may serve them for a short while
// and refresh them in the background; anything rendered for a signed-in viewer
// (their name in the header, their booking) is private and never stored.
// Vary: Cookie keeps a cache from answering a signed-in request with the
// anonymous copy. Media (originals and derived images) is private to whoever
// holds the link, whatever the event: a photo's event may be or turn private,
// and a shared cache cannot tell (PRIVATE_IMMUTABLE).

/** Seconds a shared cache may serve an anonymous public page or list as fresh. */
export const PUBLIC_MAX_AGE_SECONDS = 30;
/** Seconds after that it may still serve it while it fetches a fresh copy. */
export const STALE_WHILE_REVALIDATE_SECONDS = 300;

export const PUBLIC_SHORT = `public, max-age=${PUBLIC_MAX_AGE_SECONDS}, stale-while-revalidate=${STALE_WHILE_REVALIDATE_SECONDS}`;
export const PRIVATE = 'private, no-store';
/**
 * Stored images (originals, thumbnails, display renditions) never change under
 * their key, so a browser keeps them for a year; `private`, so no shared cache
 * (a proxy, or a CDN honouring the header) stores one. The CDN of public
 * events' thumbnails (CDN_BASE_URL) caches them by its own policy (infra/).
 */
export const PRIVATE_IMMUTABLE = 'private, max-age=31536000, immutable';

/** Public and briefly cacheable only when `isPublic` (anonymous viewer, public content); private otherwise. */
export function cacheFor(reply: FastifyReply, isPublic: boolean): void {
  reply.header('cache-control', isPublic ? PUBLIC_SHORT : PRIVATE).header('vary', 'Cookie');
}
