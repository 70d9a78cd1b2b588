import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AliasableExpression, Expression } from 'kysely';
import { AppError } from '../../platform/http/errors.js';
import type { SessionCookies } from '../../platform/http/cookies.js';
import type { AccountsService, PublicUser, SignedIn } from './accounts.service.js';

/** A session as its cookie claims it, before the database has said whether it is live. */
export interface ClaimedSession {
  sessionId: string;
  userId: string;
  /** Sealed with an older SECRET_KEY: re-sealed once found live. */
  stale: boolean;
}

const resolved = new WeakMap<FastifyRequest, Promise<{ user: PublicUser; sessionId: string } | null>>();

/**
 * Who is calling, resolved once per request and only when a handler asks:
 * anonymous requests (most public reads) cost no database round trip.
 */
export function createAuth(accounts: AccountsService, cookies: SessionCookies) {
  function session(request: FastifyRequest, reply?: FastifyReply) {
    let pending = resolved.get(request);
    if (!pending) {
      pending = (async () => {
        const cookie = cookies.read(request);
        if (!cookie) return null;
        const user = await accounts.userForSession(cookie.claim.sid, cookie.claim.uid);
        if (!user) return null;
        // Sealed with an older SECRET_KEY: re-seal with the newest so the old key can be retired.
        if (cookie.stale && reply) cookies.write(reply, cookie.claim, accounts.sessionMaxAgeSeconds);
        return { user, sessionId: cookie.claim.sid };
      })();
      resolved.set(request, pending);
    }
    return pending;
  }

  async function currentUser(request: FastifyRequest, reply?: FastifyReply): Promise<PublicUser | null> {
    return (await session(request, reply))?.user ?? null;
  }

  return {
    /**
     * currentUser, and `extra` of that user computed in the same statement, so
     * a page that needs one fact about the caller (their booking of the event
     * shown) pays one round trip, not two. `extra` is undefined when nobody is
     * signed in, or when this request had already read its session (the caller
     * then asks for it on its own).
     */
    async currentUserWith<T>(
      request: FastifyRequest,
      reply: FastifyReply,
      extra: (userId: Expression<string>) => AliasableExpression<T>,
    ): Promise<{ user: PublicUser | null; extra?: T }> {
      const cookie = cookies.read(request);
      if (!cookie || resolved.has(request)) return { user: await currentUser(request, reply) };
      const found = accounts.userForSessionWith(cookie.claim.sid, cookie.claim.uid, extra);
      resolved.set(
        request,
        found.then((result) => {
          if (!result) return null;
          if (cookie.stale) cookies.write(reply, cookie.claim, accounts.sessionMaxAgeSeconds);
          return { user: result.user, sessionId: cookie.claim.sid };
        }),
      );
      const result = await found;
      return result ?? { user: null };
    },
    currentUser,
    async requireUser(request: FastifyRequest, reply?: FastifyReply): Promise<PublicUser> {
      const current = await session(request, reply);
      if (!current) throw new AppError('not_signed_in');
      return current.user;
    },
    /**
     * The caller for one statement that checks their session itself, instead
     * of a round trip to read the session first: the user and the session the
     * cookie claims (the statement finds the user only while that session is live).
     * Throws not_signed_in without a cookie; a dead session is the statement's to find.
     */
    checkedCaller(request: FastifyRequest, reply: FastifyReply) {
      const cookie = cookies.read(request);
      if (!cookie) throw new AppError('not_signed_in');
      // Sealed with an older SECRET_KEY: re-sealed with the newest (the claim is unchanged, so this grants nothing).
      if (cookie.stale) cookies.write(reply, cookie.claim, accounts.sessionMaxAgeSeconds);
      const { sid, uid } = cookie.claim;
      return { id: uid, checked: { sessionId: sid } };
    },
    /**
     * The session the cookie claims, not yet checked, for one statement that
     * checks it along with its own work (a signed-in event page's gallery) and
     * reports what it found with `settle`. Null without a cookie that opens,
     * or once this request's session is read.
     */
    claimedSession(request: FastifyRequest): ClaimedSession | null {
      const cookie = resolved.has(request) ? null : cookies.read(request);
      return cookie && { sessionId: cookie.claim.sid, userId: cookie.claim.uid, stale: cookie.stale };
    },
    /**
     * What a statement found of a claimedSession (its user, or null for a dead
     * session): the rest of the request asks no more. A live session's cookie
     * sealed with an older key is re-sealed with the newest, as on every read.
     */
    settle(request: FastifyRequest, reply: FastifyReply, session: ClaimedSession, user: PublicUser | null): void {
      if (user && session.stale) cookies.write(reply, { sid: session.sessionId, uid: session.userId }, accounts.sessionMaxAgeSeconds);
      resolved.set(request, Promise.resolve(user && { user, sessionId: session.sessionId }));
    },
    async requireAdmin(request: FastifyRequest): Promise<PublicUser> {
      const current = await session(request);
      if (!current) throw new AppError('not_signed_in');
      if (current.user.role !== 'admin') throw new AppError('forbidden', 'This needs the admin role.');
      return current.user;
    },
    signIn(reply: FastifyReply, signedIn: SignedIn): void {
      cookies.write(reply, { sid: signedIn.sessionId, uid: signedIn.user.id }, accounts.sessionMaxAgeSeconds);
    },
    async signOut(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      const cookie = cookies.read(request);
      if (cookie) await accounts.logout(cookie.claim.sid);
      cookies.clear(reply);
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;
