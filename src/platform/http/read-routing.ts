import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/pool.js';
import type { Keyring } from '../security/keyring.js';
import type { App } from './server.js';

/** Set after a signed-in caller's write: until it expires, that caller's reads go to the primary. */
export const RECENT_WRITE_COOKIE = 'epu_rw';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Where one request's read-heavy queries go. Services take it as an argument;
 * without one they read the primary and skip shared caches (what writes,
 * jobs and the CLI need).
 */
export interface Reads {
  /** The replica, or the primary for a caller who wrote in the last REPLICA_STICKY_SECONDS. */
  db: Db;
  /**
   * False for a recent writer: a shared cache may have been refilled from a
   * replica that had not yet seen their write.
   */
  cacheable: boolean;
}

export type ReadsFor = (request: FastifyRequest) => Reads;

/**
 * Read-your-writes without server state. After any successful unsafe request
 * by a signed-in caller, the reply sets a short-lived sealed cookie holding
 * its expiry; while it is valid, that caller's reads go to the primary and
 * past caches. Everyone else reads the replica. Without a replica every read
 * goes to the primary and no cookie is set.
 */
export function createReadRouting(
  app: App,
  options: {
    primary: Db;
    replica: Db | null;
    keyring: Keyring;
    stickySeconds: number;
    secure: boolean;
    isSignedIn: (request: FastifyRequest) => boolean;
  },
): ReadsFor {
  const { primary, replica, keyring } = options;
  if (!replica) {
    const always: Reads = { db: primary, cacheable: true };
    return () => always;
  }

  app.addHook('onSend', async (request, reply) => {
    if (SAFE_METHODS.has(request.method) || reply.statusCode >= 400 || !options.isSignedIn(request)) return;
    reply.setCookie(RECENT_WRITE_COOKIE, keyring.seal({ recentWriteUntil: Date.now() + options.stickySeconds * 1000 }), {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: options.secure,
      maxAge: options.stickySeconds,
    });
  });

  const recentWriter = (request: FastifyRequest) => {
    const token = request.cookies[RECENT_WRITE_COOKIE];
    if (!token) return false;
    const until = keyring.unseal<{ recentWriteUntil?: unknown }>(token)?.value?.recentWriteUntil;
    return typeof until === 'number' && until > Date.now();
  };
  const fromReplica: Reads = { db: replica, cacheable: true };
  const fromPrimary: Reads = { db: primary, cacheable: false };
  return (request) => (recentWriter(request) ? fromPrimary : fromReplica);
}
