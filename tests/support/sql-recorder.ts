// A Kysely that compiles queries exactly as the PostgreSQL dialect does and
// records them instead of sending them: the SQL of a repository method, with no
// database. Every query answers no rows (a method that needs one fails after
// its first query, which is then still recorded).
import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely';

export interface SqlRecorder<DB> {
  db: Kysely<DB>;
  /** The SQL text of every query `run` sent, in order (transaction control statements are not queries here). */
  record(run: (db: Kysely<DB>) => Promise<unknown>): Promise<string[]>;
}

export function createSqlRecorder<DB>(): SqlRecorder<DB> {
  let recorded: CompiledQuery[] = [];
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      recorded.push(query);
      return { rows: [] };
    },
    // eslint-disable-next-line require-yield
    async *streamQuery() {
      throw new Error('the SQL recorder does not stream');
    },
  };
  const driver: Driver = {
    init: async () => undefined,
    acquireConnection: async () => connection,
    beginTransaction: async () => undefined,
    commitTransaction: async () => undefined,
    rollbackTransaction: async () => undefined,
    releaseConnection: async () => undefined,
    destroy: async () => undefined,
  };
  const db = new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (kysely) => new PostgresIntrospector(kysely),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return {
    db,
    async record(run) {
      recorded = [];
      await run(db).catch(() => undefined);
      return recorded.map((query) => query.sql);
    },
  };
}
