import { AppError } from '../../platform/http/errors.js';
import type { AccountsRepository, UserRow } from './accounts.repository.js';
import type { LoginThrottle } from './login-throttle.js';
import type { AuditRecorder } from '../audit/audit.recorder.js';
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

export function createAccountsService(deps: { repo: AccountsRepository; throttle: LoginThrottle; sessionTtlDays: number; audit: AuditRecorder }) {
  const { repo, throttle, audit } = deps;
  const sessionExpiry = () => new Date(Date.now() + deps.sessionTtlDays * 86_400_000);

  async function startSession(user: UserRow): Promise<SignedIn> {
    const sessionId = await repo.createSession(user.id, sessionExpiry());
    return { user: toPublicUser(user), sessionId };
  }

  return {
    sessionMaxAgeSeconds: deps.sessionTtlDays * 86_400,

    async signup(input: { email: string; name: string; password: string }): Promise<SignedIn> {
      const passwordHash = await hashPassword(input.password);
      let user: UserRow;
      try {
        user = await repo.insertUser({ email: input.email.trim(), name: input.name.trim(), passwordHash });
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new AppError('email_taken');
        throw error;
      }
      await audit.record({ action: 'user.signup', actorId: user.id, subjectType: 'user', subjectId: user.id });
      return startSession(user);
    },

    async login(input: { email: string; password: string; address: string }): Promise<SignedIn> {
      await throttle.check(input.email, input.address);
      const user = await repo.findByEmail(input.email.trim());
      const valid = await verifyPassword(user?.password_hash ?? (await decoyPasswordHash()), input.password);
      if (!user || !valid) {
        await throttle.recordFailure(input.email, input.address);
        throw new AppError('invalid_credentials');
      }
      await throttle.recordSuccess(input.email);
      await audit.record({ action: 'user.login', actorId: user.id, subjectType: 'user', subjectId: user.id });
      return startSession(user);
    },

    logout(sessionId: string): Promise<void> {
      return repo.revokeSession(sessionId);
    },

    async userForSession(sessionId: string, userId: string): Promise<PublicUser | null> {
      const user = await repo.findSessionUser(sessionId, userId);
      return user ? toPublicUser(user) : null;
    },

    /** A new password ends every session, including the one that changed it. */
    async changePassword(userId: string, newPassword: string): Promise<void> {
      await repo.updatePassword(userId, await hashPassword(newPassword));
      await repo.revokeAllSessions(userId);
    },

    /** A role change ends every session of that user, so no cookie outlives its privileges. */
    async setRole(userId: string, role: 'user' | 'admin', actorId: string | null = null): Promise<void> {
      await repo.updateRole(userId, role);
      await repo.revokeAllSessions(userId);
      await audit.record({ action: 'user.role_change', actorId, subjectType: 'user', subjectId: userId, metadata: { role } });
    },

    /** `epu admin create`: creates an admin, or promotes (and re-passwords) an existing user. */
    async createOrPromoteAdmin(input: { email: string; password: string; name?: string }): Promise<{ user: PublicUser; created: boolean }> {
      const existing = await repo.findByEmail(input.email.trim());
      if (existing) {
        await repo.updatePassword(existing.id, await hashPassword(input.password));
        await repo.updateRole(existing.id, 'admin');
        await repo.revokeAllSessions(existing.id);
        await audit.record({ action: 'user.role_change', actorId: null, subjectType: 'user', subjectId: existing.id, metadata: { role: 'admin', via: 'cli' } });
        return { user: { ...toPublicUser(existing), role: 'admin' }, created: false };
      }
      const user = await repo.insertUser({
        email: input.email.trim(),
        name: input.name ?? input.email.split('@')[0]!,
        passwordHash: await hashPassword(input.password),
        role: 'admin',
      });
      await audit.record({ action: 'user.role_change', actorId: null, subjectType: 'user', subjectId: user.id, metadata: { role: 'admin', via: 'cli' } });
      return { user: toPublicUser(user), created: true };
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
