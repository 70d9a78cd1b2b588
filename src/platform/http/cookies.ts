import type { FastifyReply, FastifyRequest } from 'fastify';
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

/** The session cookie: sealed (encrypted and authenticated), HttpOnly, SameSite=Lax, Secure under https. */
export function createSessionCookies(keyring: Keyring, secure: boolean): SessionCookies {
  const base = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure };
  return {
    read(request) {
      const token = request.cookies[SESSION_COOKIE];
      if (!token) return null;
      const opened = keyring.unseal<SessionClaim>(token);
      if (!opened || typeof opened.value?.sid !== 'string' || typeof opened.value?.uid !== 'string') return null;
      return { claim: opened.value, stale: opened.stale };
    },
    write(reply, claim, maxAgeSeconds) {
      reply.setCookie(SESSION_COOKIE, keyring.seal(claim), { ...base, maxAge: maxAgeSeconds });
    },
    clear(reply) {
      reply.clearCookie(SESSION_COOKIE, base);
    },
  };
}
