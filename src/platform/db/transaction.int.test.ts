import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { afterCommit, transaction } from './transaction.js';

let database: TestDatabase;
let db: Kysely<any>;

beforeAll(async () => {
  database = await createTestDatabase();
  db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 3 }) }) });
  await sql`CREATE TABLE marks (id int)`.execute(db);
});
afterAll(async () => {
  await db.destroy();
  await database.drop();
});

const committedMarks = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM marks`.execute(db)).rows[0]!.n;

describe('transaction and afterCommit', () => {
  it('runs the hooks once the transaction has committed, where its writes are visible to everyone', async () => {
    const seen: number[] = [];
    await transaction(db, async (tx) => {
      await sql`INSERT INTO marks VALUES (1)`.execute(tx);
      expect(afterCommit(tx, () => void committedMarks().then((n) => seen.push(n)))).toBe(true);
      expect(seen).toEqual([]);
    });
    await expect.poll(() => seen).toEqual([1]);
  });

  it('never runs them when the transaction rolls back', async () => {
    let ran = false;
    await expect(
      transaction(db, async (tx) => {
        afterCommit(tx, () => (ran = true));
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(ran).toBe(false);
  });

  it('runs a hook at once outside a transaction, and refuses one for a transaction it did not open', async () => {
    let ran = false;
    expect(afterCommit(db, () => (ran = true))).toBe(true);
    expect(ran).toBe(true);
    await db.transaction().execute(async (tx) => {
      expect(afterCommit(tx, () => undefined)).toBe(false);
    });
  });

  it('keeps the isolation level asked for', async () => {
    const level = await transaction(db, (tx) => sql<{ l: string }>`SELECT current_setting('transaction_isolation') AS l`.execute(tx), {
      isolationLevel: 'repeatable read',
    });
    expect(level.rows[0]!.l).toBe('repeatable read');
  });
});

describe('the code base', () => {
  const files = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((entry) => (entry.isDirectory() ? files(path.join(dir, entry.name)) : [path.join(dir, entry.name)]))
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  const sources = files(path.resolve(import.meta.dirname, '../..')).map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }));

  it('opens every transaction through platform/db transaction(), so work after its commit is never lost', () => {
    const offenders = sources.filter(
      ({ file, text }) => /\.transaction\(\)/.test(text) && !file.endsWith(path.join('db', 'transaction.ts')),
    );
    expect(offenders.map(({ file }) => path.relative(process.cwd(), file))).toEqual([]);
  });

  it('sends NOTIFY only from platform/db/notifier.ts, which runs after commits', () => {
    const offenders = sources.filter(({ file, text }) => /pg_notify\s*\(|[`'"]\s*NOTIFY\s/i.test(text) && !file.endsWith('notifier.ts'));
    expect(offenders.map(({ file }) => path.relative(process.cwd(), file))).toEqual([]);
  });
});
