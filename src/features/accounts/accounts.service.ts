import crypto from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { Type } from 'typebox';
import type { Queue } from '../../platform/queue/index.js';
import { AppError } from '../../platform/http/errors.js';
import { retryAfterSeconds } from '../../platform/rate-limit.js';
import type { AccountsRepository, UserRow, UserWithPassword } from './accounts.repository.js';
import type { LoginThrottle } from './login-throttle.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import type { AliasableExpression, Expression, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { decoyPasswordHash, hashPassword, verifyPassword } from './passwords.js';

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: 'user' | 'admin';
}

export const toPublicUser = (user: UserRow): PublicUser => ({ id: user.id, email: user.email, name: user.name, role: user.role });

export interface SignedIn {
  user: PublicUser;
  sessionId: string;
}

const UNIQUE_VIOLATION = '23505';

/** Sends a password reset link to an address, if an account uses it (the worker decides, so a request cannot tell). */
export const PASSWORD_RESET_MAIL_JOB = 'accounts.password_reset_mail';
export const PasswordResetMailPayload = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 254 }) },
  { additionalProperties: false },
);

/** How long a reset link works after it was sent. */
export const RESET_LINK_MINUTES = 30;
/** A reset link's token: 32 random bytes, base64url; it exists only in the mail, the table keeps its sha256. */
export const RESET_TOKEN = /^[A-Za-z0-9_-]{43}$/;
export const resetTokenHash = (token: string) => crypto.createHash('sha256').update(token).digest();

/**
 * The one spelling of an email that identifies an account: every use (the
 * throttle's key, the lookup) goes through this, so " Ada@x " and "ada@x" can
 * neither reach different counters nor different accounts.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function createAccountsService(deps: {
  repo: AccountsRepository;
  throttle: LoginThrottle;
  /** Sign-ups per client address (SIGNUP_RATE_LIMIT an hour). */
  signupLimiter: RateLimiterAbstract;
  sessionTtlDays: number;
  audit: AuditRecorder;
  queue: Queue<{ [PASSWORD_RESET_MAIL_JOB]: typeof PasswordResetMailPayload }>;
  /** Reset requests per client address and per email address (both 429 when used up, known address or not). */
  resetLimiters: { byAddress: RateLimiterAbstract; byAccount: RateLimiterAbstract };
}) {
  const { repo, throttle, audit } = deps;
  const sessionExpiry = () => new Date(Date.now() + deps.sessionTtlDays * 86_400_000);

  /** A new session for the user; with `executor` (the action's transaction) it commits with the action and its audit entry. */
  async function startSession(user: UserRow, executor?: Transaction<Database>): Promise<SignedIn> {
    const sessionId = await repo.createSession(user.id, sessionExpiry(), executor);
    return { user: toPublicUser(user), sessionId };
  }

  /**
   * Verifies a password under the login throttle: the attempt is counted
   * before the hash is checked (throttle.begin), and a right password clears
   * the account's count. Without a user a decoy hash is checked, so a missing
   * account takes as long. `email` is normalised.
   */
  async function passwordMatches(user: UserWithPassword | undefined, password: string, email: string, address: string): Promise<boolean> {
    await throttle.begin(email, address);
    const valid = await verifyPassword(user?.password_hash ?? (await decoyPasswordHash()), password);
    if (!user || !valid) return false;
    await throttle.succeeded(email, address);
    return true;
  }

  /** The signed-in user's account with its hash, after their current password was checked like a login (403 wrong_password). */
  async function confirmCurrentPassword(input: { user: PublicUser; password: string; address: string }): Promise<UserWithPassword> {
    const email = normalizeEmail(input.user.email);
    const user = await repo.findByEmail(email);
    if (!user || user.id !== input.user.id) throw new AppError('not_signed_in');
    if (!(await passwordMatches(user, input.password, email, input.address))) throw new AppError('wrong_password');
    return user;
  }

  return {
    sessionMaxAgeSeconds: deps.sessionTtlDays * 86_400,

    /**
     * The user, its session and its `user.signup` audit entry commit together or not at all.
     * With `address` (a request's client) the sign-up counts against that address's hourly limit first.
     */
    async signup(input: { email: string; name: string; password: string }, address?: string): Promise<SignedIn> {
      if (address !== undefined) {
        await deps.signupLimiter.consume(address).catch((rejection) => {
          throw new AppError('rate_limited', 'Too many sign-ups from your network; wait and try again.', {
            headers: { 'retry-after': String(retryAfterSeconds(rejection)) },
          });
        });
      }
      const passwordHash = await hashPassword(input.password);
      try {
        return await repo.transaction(async (tx) => {
          const user = await repo.insertUser({ email: input.email.trim(), name: input.name.trim(), passwordHash }, tx);
          await audit.record({ action: 'user.signup', actorId: user.id, subjectType: 'user', subjectId: user.id }, tx);
          return startSession(user, tx);
        });
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new AppError('email_taken');
        throw error;
      }
    },

    async login(input: { email: string; password: string; address: string }): Promise<SignedIn> {
      const email = normalizeEmail(input.email);
      const user = await repo.findByEmail(email);
      const matches = await passwordMatches(user, input.password, email, input.address);
      if (!user || !matches) throw new AppError('invalid_credentials');
      // The session and its `user.login` audit entry commit together.
      return repo.transaction(async (tx) => {
        await audit.record({ action: 'user.login', actorId: user.id, subjectType: 'user', subjectId: user.id }, tx);
        return startSession(user, tx);
      });
    },

    logout(sessionId: string): Promise<void> {
      return repo.revokeSession(sessionId);
    },

    async userForSession(sessionId: string, userId: string): Promise<PublicUser | null> {
      const user = await repo.findSessionUser(sessionId, userId);
      return user ? toPublicUser(user) : null;
    },

    /** userForSession, and `extra` of the user read in the same statement (see auth.currentUserWith). */
    async userForSessionWith<T>(
      sessionId: string,
      userId: string,
      extra: (userId: Expression<string>) => AliasableExpression<T>,
    ): Promise<{ user: PublicUser; extra: T } | null> {
      const row = await repo.findSessionUserWith(sessionId, userId, extra);
      return row ? { user: toPublicUser(row), extra: row.extra } : null;
    },

    /**
     * The current password is checked like a login (same throttle), so a stolen
     * session alone cannot take the account over. The new password ends every
     * session; the caller gets a fresh one, committed with its audit entry.
     */
    async changePassword(input: { user: PublicUser; currentPassword: string; newPassword: string; address: string }): Promise<SignedIn> {
      const user = await confirmCurrentPassword({ user: input.user, password: input.currentPassword, address: input.address });
      const passwordHash = await hashPassword(input.newPassword);
      return repo.transaction(async (tx) => {
        await repo.updatePassword(user.id, passwordHash, tx);
        await repo.revokeAllSessions(user.id, tx);
        await audit.record({ action: 'user.password_change', actorId: user.id, subjectType: 'user', subjectId: user.id }, tx);
        return startSession(user, tx);
      });
    },

    /**
     * For actions a stolen session alone must not do (deleting the account):
     * the current password, checked like a login (same throttle); 403 wrong_password.
     */
    async confirmPassword(input: { user: PublicUser; password: string; address: string }): Promise<void> {
      await confirmCurrentPassword(input);
    },

    /**
     * Asks for a reset link to be mailed to `email`. The answer is the same
     * whether an account uses the address or not, and so is the work: the job is
     * queued either way and the worker looks the account up (no enumeration by
     * answer or by time). Counted per client address and per email address.
     */
    async requestPasswordReset(input: { email: string; address: string }): Promise<void> {
      const email = normalizeEmail(input.email);
      for (const [limiter, key] of [
        [deps.resetLimiters.byAddress, input.address],
        [deps.resetLimiters.byAccount, email],
      ] as const) {
        await limiter.consume(key).catch((rejection) => {
          throw new AppError('rate_limited', 'Too many password reset requests; wait and try again.', {
            headers: { 'retry-after': String(retryAfterSeconds(rejection)) },
          });
        });
      }
      // One queued mail per address at a time: asking again while it waits sends it once.
      await deps.queue.enqueue(PASSWORD_RESET_MAIL_JOB, { email }, { key: `${PASSWORD_RESET_MAIL_JOB}:${email}` });
    },

    /** Whether a reset link would still work (the form is shown only for one that would). */
    async resetLinkWorks(token: unknown): Promise<boolean> {
      return typeof token === 'string' && RESET_TOKEN.test(token) && (await repo.resetLinkWorks(resetTokenHash(token)));
    },

    /**
     * Sets a new password through a reset link: the link is spent (once, even
     * under concurrent submissions), every session of the account ends, and the
     * caller gets a fresh one, all committed with the audit entry. 400
     * invalid_reset_link for a malformed, unknown, spent or expired link.
     */
    async resetPassword(input: { token: unknown; newPassword: string }): Promise<SignedIn> {
      const { token } = input;
      // Checked before hashing the password: a made-up link costs a lookup, not a password hash.
      if (typeof token !== 'string' || !RESET_TOKEN.test(token) || !(await repo.resetLinkWorks(resetTokenHash(token)))) {
        throw new AppError('invalid_reset_link');
      }
      const passwordHash = await hashPassword(input.newPassword);
      return repo.transaction(async (tx) => {
        const user = await repo.spendPasswordReset(resetTokenHash(token), tx);
        if (!user) throw new AppError('invalid_reset_link');
        await repo.updatePassword(user.id, passwordHash, tx);
        await repo.revokeAllSessions(user.id, tx);
        await audit.record(
          { action: 'user.password_change', actorId: user.id, subjectType: 'user', subjectId: user.id, metadata: { via: 'reset' } },
          tx,
        );
        return startSession(user, tx);
      });
    },

    /** A role change ends every session of that user, so no cookie outlives its privileges. */
    async setRole(userId: string, role: 'user' | 'admin', actorId: string | null = null): Promise<void> {
      await repo.transaction(async (tx) => {
        await repo.updateRole(userId, role, tx);
        await repo.revokeAllSessions(userId, tx);
        await audit.record({ action: 'user.role_change', actorId, subjectType: 'user', subjectId: userId, metadata: { role } }, tx);
      });
    },

    /** `epu admin create`: creates an admin, or promotes (and re-passwords) an existing user. */
    async createOrPromoteAdmin(input: { email: string; password: string; name?: string }): Promise<{ user: PublicUser; created: boolean }> {
      const existing = await repo.findByEmail(normalizeEmail(input.email));
      const passwordHash = await hashPassword(input.password);
      if (existing) {
        await repo.transaction(async (tx) => {
          await repo.updatePassword(existing.id, passwordHash, tx);
          await repo.updateRole(existing.id, 'admin', tx);
          await repo.revokeAllSessions(existing.id, tx);
          await audit.record(
            {
              action: 'user.role_change',
              actorId: null,
              subjectType: 'user',
              subjectId: existing.id,
              metadata: { role: 'admin', via: 'cli' },
            },
            tx,
          );
        });
        return { user: { ...toPublicUser(existing), role: 'admin' }, created: false };
      }
      const user = await repo.transaction(async (tx) => {
        const inserted = await repo.insertUser(
          { email: input.email.trim(), name: input.name ?? input.email.split('@')[0]!, passwordHash, role: 'admin' },
          tx,
        );
        await audit.record(
          {
            action: 'user.role_change',
            actorId: null,
            subjectType: 'user',
            subjectId: inserted.id,
            metadata: { role: 'admin', via: 'cli' },
          },
          tx,
        );
        return inserted;
      });
      return { user: toPublicUser(user), created: true };
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
