import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Keyring } from '../../platform/security/keyring.js';
import { isUuid } from '../../platform/http/pagination.js';

/**
 * The invites a browser has opened, as a sealed cookie of invite ids (never
 * tokens): the link's token leaves the address bar at once, and whether each
 * invite still lets its holder in is checked on every use (revocation,
 * expiry). Anonymous visitors hold one too, so they can look before signing
 * up; it survives signing in and up.
 */
export const INVITES_COOKIE = 'epu_invites';
/** The newest invites kept; an older one falls out (its link can be opened again). */
const MAX_PASSES = 20;
const MAX_AGE_SECONDS = 90 * 24 * 3600;

export interface InvitePasses {
  read(request: FastifyRequest): string[];
  add(request: FastifyRequest, reply: FastifyReply, inviteId: string): void;
}

export function createInvitePasses(keyring: Keyring, secure: boolean): InvitePasses {
  const read = (request: FastifyRequest): string[] => {
    const sealed = request.cookies[INVITES_COOKIE];
    const opened = sealed ? keyring.unseal<unknown>(sealed) : null;
    return Array.isArray(opened?.value) ? opened.value.filter((id): id is string => typeof id === 'string' && isUuid(id)) : [];
  };
  return {
    read,
    add(request, reply, inviteId) {
      const ids = [inviteId, ...read(request).filter((id) => id !== inviteId)].slice(0, MAX_PASSES);
      reply.setCookie(INVITES_COOKIE, keyring.seal(ids), { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: MAX_AGE_SECONDS });
    },
  };
}
