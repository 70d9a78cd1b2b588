import { sql, type AliasableExpression, type Expression, type RawBuilder, type Transaction } from 'kysely';
import { fixedRows, type Db, type Executor } from '../../platform/db/pool.js';
import type { Database } from '../../platform/db/schema.js';
import { transaction } from '../../platform/db/transaction.js';
import { liveSessionFrom } from './accounts.types.js';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  role: 'user' | 'admin';
  created_at: Date;
}

export interface UserWithPassword extends UserRow {
  password_hash: string;
}

const USER_COLUMNS = ['users.id', 'users.email', 'users.name', 'users.role', 'users.created_at'] as const;
const USER_FIELDS = USER_COLUMNS.join(', ');

/** The user of a live session (`$1` the session, `$2` the user it claims): fixed text, no query building per request. */
const SESSION_USER = `SELECT ${USER_FIELDS} ${liveSessionFrom('$1', '$2')}`;

// The same check composed into other statements (the query builder numbers their parameters).
const [BEFORE_SESSION_ID, BEFORE_USER_ID, AFTER_USER_ID] = liveSessionFrom('\u0000', '\u0000').split('\u0000') as [string, string, string];
const liveSession = <Row>(sessionId: string, userId: string, columns: RawBuilder<unknown>) =>
  sql<Row>`SELECT ${columns} ${sql.raw(BEFORE_SESSION_ID)}${sessionId}${sql.raw(BEFORE_USER_ID)}${userId}${sql.raw(AFTER_USER_ID)}`;

export function createAccountsRepository(db: Db) {
  return {
    /** Runs `work` in one transaction; pass its `tx` to the writes (and to audit.record) that must commit together. */
    transaction<T>(work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
      return transaction(db, work);
    },

    async insertUser(
      user: { email: string; name: string; passwordHash: string; role?: 'user' | 'admin' },
      executor: Executor = db,
    ): Promise<UserRow> {
      return executor
        .insertInto('users')
        .values({ email: user.email, name: user.name, password_hash: user.passwordHash, role: user.role ?? 'user' })
        .returning(USER_COLUMNS)
        .executeTakeFirstOrThrow();
    },

    async findByEmail(email: string): Promise<UserWithPassword | undefined> {
      return (
        db
          .selectFrom('users')
          .select([...USER_COLUMNS, 'users.password_hash'])
          .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
          // A deleted account can never sign in again.
          .where('users.deleted_at', 'is', null)
          .executeTakeFirst()
      );
    },

    async findById(id: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
    },

    async updateRole(id: string, role: 'user' | 'admin', executor: Executor = db): Promise<void> {
      await executor.updateTable('users').set({ role, updated_at: new Date() }).where('id', '=', id).execute();
    },

    async updatePassword(id: string, passwordHash: string, executor: Executor = db): Promise<void> {
      await executor.updateTable('users').set({ password_hash: passwordHash, updated_at: new Date() }).where('id', '=', id).execute();
    },

    async createSession(userId: string, expiresAt: Date, executor: Executor = db): Promise<string> {
      const row = await executor
        .insertInto('sessions')
        .values({ user_id: userId, expires_at: expiresAt })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    /** The user behind a live session: not revoked, not expired, belonging to the claimed user, whose account is not deleted. */
    async findSessionUser(sessionId: string, userId: string): Promise<UserRow | undefined> {
      return (await fixedRows<UserRow>(db, SESSION_USER, [sessionId, userId]))[0];
    },

    /** findSessionUser with one more column, `extra`, computed from the user's id in the same statement. */
    async findSessionUserWith<T>(sessionId: string, userId: string, extra: (userId: Expression<string>) => AliasableExpression<T>) {
      const columns = sql`${sql.raw(USER_FIELDS)}, ${extra(sql.ref<string>('users.id'))} AS extra`;
      const { rows } = await liveSession<UserRow & { extra: T }>(sessionId, userId, columns).execute(db);
      return rows[0];
    },

    async revokeSession(sessionId: string): Promise<void> {
      await db
        .updateTable('sessions')
        .set({ revoked_at: new Date() })
        .where('id', '=', sessionId)
        .where('revoked_at', 'is', null)
        .execute();
    },

    /** A new reset link's hash for the user; their spent and expired ones go (a user keeps a handful at most). */
    async insertPasswordReset(userId: string, tokenHash: Buffer, expiresAt: Date): Promise<void> {
      await transaction(db, async (tx) => {
        await tx
          .deleteFrom('password_resets')
          .where('user_id', '=', userId)
          .where((eb) => eb.or([eb('used_at', 'is not', null), eb('expires_at', '<=', new Date())]))
          .execute();
        await tx.insertInto('password_resets').values({ user_id: userId, token_hash: tokenHash, expires_at: expiresAt }).execute();
      });
    },

    /** Whether a reset link is unused, unexpired and its account not deleted. */
    async resetLinkWorks(tokenHash: Buffer): Promise<boolean> {
      const row = await db
        .selectFrom('password_resets as r')
        .innerJoin('users', 'users.id', 'r.user_id')
        .select('r.id')
        .where('r.token_hash', '=', tokenHash)
        .where('r.used_at', 'is', null)
        .where('r.expires_at', '>', new Date())
        .where('users.deleted_at', 'is', null)
        .executeTakeFirst();
      return row !== undefined;
    },

    /**
     * Spends a reset link: marks it used if it is unused, unexpired and its
     * account not deleted, and returns that account; one UPDATE, so two
     * submissions of one link cannot both succeed. Every other link of the
     * account is spent with it.
     */
    async spendPasswordReset(tokenHash: Buffer, executor: Executor): Promise<UserRow | undefined> {
      const spent = await executor
        .updateTable('password_resets')
        .set({ used_at: new Date() })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', new Date())
        .returning('user_id')
        .executeTakeFirst();
      if (!spent) return undefined;
      await executor
        .updateTable('password_resets')
        .set({ used_at: new Date() })
        .where('user_id', '=', spent.user_id)
        .where('used_at', 'is', null)
        .execute();
      return executor
        .selectFrom('users')
        .select(USER_COLUMNS)
        .where('id', '=', spent.user_id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
    },

    async revokeAllSessions(userId: string, executor: Executor = db): Promise<void> {
      await executor
        .updateTable('sessions')
        .set({ revoked_at: new Date() })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .execute();
    },
  };
}

export type AccountsRepository = ReturnType<typeof createAccountsRepository>;
