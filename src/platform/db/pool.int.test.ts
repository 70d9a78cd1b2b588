import pg from 'pg';
import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, queryRows, type TestDatabase } from '../../../tests/support/database.js';
import { createKysely, createPool, fixedRows } from './pool.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

const preparedOn = async (client: pg.PoolClient) =>
  (await client.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY statement')).rows.map(
    (row) => row.statement,
  );

describe('DATABASE_PREPARED_STATEMENTS', () => {
  it('runs statements with parameters as named prepared statements, the first `limit` distinct ones only', async () => {
    const pool = createPool({ connectionString: database.url, max: 1, statementTimeoutMs: 0, applicationName: 't', preparedStatements: 2 });
    try {
      const db = createKysely(pool);
      for (let i = 0; i < 3; i++) {
        // Kysely, pool.query with values and a raw client: all go through the same Client.
        expect((await db.selectFrom('users').select('id').where('email', '=', `a${i}@x`).execute()).length).toBe(0);
        expect((await pool.query<{ n: number }>('SELECT $1::int + 1 AS n', [i])).rows[0]?.n).toBe(i + 1);
        expect((await sql<{ n: number }>`SELECT ${i}::int * 2 AS n`.execute(db)).rows[0]?.n).toBe(i * 2);
      }
      // Without parameters: nothing to prepare (BEGIN, COMMIT, multi-statement batches keep the simple protocol).
      await pool.query('SELECT 1; SELECT 2');
      const client = await pool.connect();
      try {
        const prepared = await preparedOn(client);
        // Two names only: the third distinct text ran unnamed, and still answered right above.
        expect(prepared).toHaveLength(2);
        expect(prepared.some((text) => text.includes('from "users"'))).toBe(true);
        expect(prepared.some((text) => text.includes('$1::int + 1'))).toBe(true);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it('prepares nothing at 0 (for a transaction-mode pooler)', async () => {
    const pool = createPool({ connectionString: database.url, max: 1, statementTimeoutMs: 0, applicationName: 't', preparedStatements: 0 });
    try {
      await pool.query('SELECT $1::int AS n', [1]);
      const client = await pool.connect();
      try {
        expect(await preparedOn(client)).toEqual([]);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });
});

/** A pool of one connection with prepared statements, ended after `test`. */
const withPool = async (test: (pool: pg.Pool) => Promise<void>) => {
  const pool = createPool({ connectionString: database.url, max: 1, statementTimeoutMs: 0, applicationName: 't', preparedStatements: 10 });
  try {
    await test(pool);
  } finally {
    await pool.end();
  }
};

describe("EPU's client: a query without a callback", () => {
  it(
    "answers as pg's own promise form would, whatever the call's shape",
    () =>
      withPool(async (pool) => {
        const client = await pool.connect();
        expect((await client.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
        expect((await client.query('SELECT $1::int AS n', [2])).rows).toEqual([{ n: 2 }]);
        expect((await client.query({ text: 'SELECT $1::int AS n', values: [3] })).rows).toEqual([{ n: 3 }]);
        // An absent callback passed on (undefined, null) is no callback: the promise still answers, named or not.
        const loose = client.query.bind(client) as unknown as (...args: unknown[]) => Promise<pg.QueryResult>;
        expect((await loose('SELECT $1::int AS n', [4], undefined)).rows).toEqual([{ n: 4 }]);
        expect((await loose('SELECT 4 AS n', [], undefined)).rows).toEqual([{ n: 4 }]);
        expect((await loose('SELECT 4 AS n', null, null)).rows).toEqual([{ n: 4 }]);
        // Options of the config reach pg.
        expect((await client.query({ text: 'SELECT 4 AS n', rowMode: 'array' })).rows).toEqual([[4]]);
        // What pg refuses at once, it still refuses at once.
        expect(() => loose(null)).toThrow(TypeError);
        // A callback, and a submittable (a cursor, a stream), go to pg as given.
        const viaCallback = await new Promise((resolve, reject) =>
          client.query('SELECT 5 AS n', (error, result) => (error ? reject(error) : resolve(result.rows))),
        );
        expect(viaCallback).toEqual([{ n: 5 }]);
        const viaConfigCallback = await new Promise((resolve, reject) => {
          const config = {
            text: 'SELECT 5 AS n',
            callback: (error: Error | null, result: pg.QueryResult) => (error ? reject(error) : resolve(result.rows)),
          };
          expect(loose(config)).toBeUndefined();
        });
        expect(viaConfigCallback).toEqual([{ n: 5 }]);
        const submitted = new pg.Query('SELECT 6 AS n');
        const ended = new Promise((resolve, reject) => submitted.on('end', (result) => resolve(result.rows)).on('error', reject));
        expect(client.query(submitted)).toBe(submitted);
        expect(await ended).toEqual([{ n: 6 }]);
        client.release();
      }),
    10_000,
  );

  it("rejects with PostgreSQL's error, its stack leading back to the caller", () =>
    withPool(async (pool) => {
      const failed = await createKysely(pool)
        .executeQuery(CompiledQuery.raw('SELECT no_such_column FROM users WHERE id = $1', [1]))
        .catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: '42703' });
      expect((failed as Error).stack).toContain('pool.int.test');
      // The connection is still usable after the error.
      expect((await pool.query('SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
    }));
});

describe('fixedRows: a fixed statement straight to the pool', () => {
  it('answers on the pool, and inside a transaction answers in that transaction', () =>
    withPool(async (pool) => {
      const db = createKysely(pool);
      expect(await fixedRows(db, 'SELECT $1::int + 1 AS n', [1])).toEqual([{ n: 2 }]);
      // With one connection, a statement that went to the pool from inside the transaction would wait for the transaction's.
      await db.transaction().execute(async (tx) => {
        await sql`CREATE TEMPORARY TABLE seen_in_tx (n int) ON COMMIT DROP`.execute(tx);
        await sql`INSERT INTO seen_in_tx VALUES (3)`.execute(tx);
        expect(await fixedRows(tx, 'SELECT n FROM seen_in_tx WHERE n = $1', [3])).toEqual([{ n: 3 }]);
      });
    }));

  it("rejects with PostgreSQL's error and the caller's stack, and keeps the connection", () =>
    withPool(async (pool) => {
      const db = createKysely(pool);
      const backend = () => fixedRows<{ pid: number }>(db, 'SELECT pg_backend_pid() AS pid WHERE $1::int = 1', [1]);
      const before = await backend();
      // A refused value, as hostile input brings: the client's fault, not the connection's.
      const failed = await fixedRows(db, 'SELECT $1::uuid AS id', ['not-a-uuid']).catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: '22P02' });
      expect((failed as Error).stack).toContain('pool.int.test');
      // Released, not dropped: the same session answers next (pg-pool's pool.query would have closed it).
      expect(await backend()).toEqual(before);
      expect(pool.totalCount).toBe(1);
    }));

  it('settles and releases when a client throws instead of rejecting', async () => {
    // A fault EPU's client cannot produce: a Client class whose query throws at once.
    class ThrowingClient extends pg.Client {
      override query(): never {
        throw new Error('refused at once');
      }
    }
    const pool = new pg.Pool({ connectionString: database.url, max: 1, Client: ThrowingClient });
    try {
      await expect(fixedRows(createKysely(pool), 'SELECT $1::int AS n', [1])).rejects.toThrow('refused at once');
      expect(pool.idleCount).toBe(1);
    } finally {
      await pool.end();
    }
  });
});

describe('a connection lost while checked out', () => {
  it('does not crash the process: the pool drops it and the next query gets a fresh one', async () => {
    const pool = createPool({
      connectionString: database.url,
      max: 1,
      statementTimeoutMs: 0,
      applicationName: 'epu-lost',
      preparedStatements: 0,
    });
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Between two statements (inside a transaction, say) the server ends the session: no query is there to take the error.
      await queryRows(database.url, 'SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      expect((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n).toBe(1);
    } finally {
      await pool.end();
    }
  });
});

describe('timestamptz values (timestamps.ts reads them)', () => {
  it('come back as the same instants in any session time zone, down to the millisecond', async () => {
    const pool = createPool({ connectionString: database.url, max: 1, statementTimeoutMs: 0, applicationName: 't' });
    try {
      const client = await pool.connect();
      try {
        const instants = ['2026-12-07T08:35:30.123Z', '2024-02-29T23:59:59.999Z', '1999-12-31T23:30:00.000Z', '0100-03-01T00:00:00.000Z'];
        // UTC, whole hours east and west, half and three-quarter hours, and one with historic offsets in seconds (LMT).
        for (const zone of ['UTC', 'Europe/Berlin', 'America/Los_Angeles', 'Asia/Kolkata', 'America/St_Johns', 'Asia/Kathmandu']) {
          await client.query(`SET TimeZone = '${zone}'`);
          const { rows } = await client.query<{ at: Date; text: string }>(
            'SELECT at, at::text AS text FROM unnest($1::timestamptz[]) WITH ORDINALITY AS t(at, n) ORDER BY n',
            [instants],
          );
          expect(
            rows.map((row) => row.at.toISOString()),
            `${zone}: ${rows.map((row) => row.text).join(', ')}`,
          ).toEqual(instants);
        }
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });
});
