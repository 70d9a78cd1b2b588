import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Keyring } from '../security/keyring.js';

export interface SessionClaim {
  /** sessions.id: the row that logout and password or role changes revoke. */
  sid: string;
  uid: string;
}

export const SESSION_COOKIE = 'epu_session';

export interface SessionCookies {
  read(request: FastifyRequest): { claim: SessionClaim; stale: boolean } | null;
  write(reply: FastifyReply, claim: SessionClaim, maxAgeSeconds: number): void;
  clear(reply: FastifyReply): void;
}

type OpenedCookie = { claim: SessionClaim; stale: boolean };

/**
 * How many opened session cookies a process remembers. A browser sends the
 * same cookie with every request, and opening it (AES-256-GCM) cost about
 * 45 µs of a signed-in request's CPU under load. Only cookies that opened are
 * kept, and only in the form this server writes them (canonical base64url,
 * at most REMEMBERED_TOKEN_LENGTH characters): a decoder skips characters
 * outside the alphabet, so one valid cookie can be spelt in countless ways,
 * each of which still opens but none of which is kept. That bounds the memo
 * to a few megabytes. Whether the session is live is still asked of the
 * database on every request.
 */
const OPENED_COOKIES = 10_000;
const REMEMBERED_TOKEN_LENGTH = 512;

const isCanonical = (token: string, bytes: Buffer) => token.length <= REMEMBERED_TOKEN_LENGTH && bytes.toString('base64url') === token;

/** The session cookie: sealed (encrypted and authenticated), HttpOnly, SameSite=Lax, Secure under https. */
export function createSessionCookies(keyring: Keyring, secure: boolean): SessionCookies {
  const base = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure };
  // By the whole sealed token: the same token always opens to the same claim, under the same keys.
  const opened = new LRUCache<string, OpenedCookie>({ max: OPENED_COOKIES });
  return {
    read(request) {
      const token = request.cookies[SESSION_COOKIE];
      if (!token) return null;
      const known = opened.get(token);
      if (known) return known;
      const unsealed = keyring.unseal<SessionClaim>(token);
      if (!unsealed || typeof unsealed.value?.sid !== 'string' || typeof unsealed.value?.uid !== 'string') return null;
      // Frozen: one object answers every request that carries this token.
      const cookie = Object.freeze({ claim: Object.freeze(unsealed.value), stale: unsealed.stale });
      if (isCanonical(token, Buffer.from(token, 'base64url'))) opened.set(token, cookie);
      return cookie;
    },
    write(reply, claim, maxAgeSeconds) {
      reply.setCookie(SESSION_COOKIE, keyring.seal(claim), { ...base, maxAge: maxAgeSeconds });
    },
    clear(reply) {
      reply.clearCookie(SESSION_COOKIE, base);
    },
  };
}
