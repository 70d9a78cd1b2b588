// The list of personal columns (personal-data.ts) against the schema the
// migrations build: a migration that adds a text column fails here until the
// column is classified, and a scrub refuses a database with such a column.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { connect } from './backups.repository.js';
import { scrubDatabase } from './backups.scrub.js';
import { DROPPED_TABLES, PERSONAL_COLUMNS, SAFE_COLUMNS, tableNames, textColumns, unclassifiedColumns } from './personal-data.js';

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url, 'personal-data-test');
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('the list of personal columns', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('classifies every text column of every table the migrations create', async () => {
    // A failure here names the column: add it to PERSONAL_COLUMNS (with its replacement) or SAFE_COLUMNS in personal-data.ts.
    expect(await withClient(database.url, unclassifiedColumns)).toEqual([]);
  });

  it('names only columns and tables that exist, each in one place', async () => {
    const columns = await withClient(database.url, textColumns);
    const existing = new Set(columns.map((column) => `${column.table}.${column.column}`));
    const tables = new Set(await withClient(database.url, tableNames));
    for (const table of Object.keys(DROPPED_TABLES)) expect(tables, `dropped table ${table}`).toContain(table);
    const personal = Object.entries(PERSONAL_COLUMNS).flatMap(([table, cols]) => Object.keys(cols).map((column) => `${table}.${column}`));
    const safe = Object.entries(SAFE_COLUMNS).flatMap(([table, cols]) => cols.map((column) => `${table}.${column}`));
    for (const name of [...personal, ...safe]) expect(existing, name).toContain(name);
    expect(personal.filter((name) => safe.includes(name))).toEqual([]);
    expect([...personal, ...safe].filter((name) => name.split('.')[0]! in DROPPED_TABLES)).toEqual([]);
  });

  it('notices a new text or json column, and the scrub refuses the database without changing a row', async () => {
    const scratch = await createTestDatabase();
    try {
      await withClient(scratch.url, async (client) => {
        await client.query(`INSERT INTO users (email, name, password_hash) VALUES ('kept@example.test', 'Kept Name', 'x')`);
        await client.query('ALTER TABLE users ADD COLUMN nickname text');
        await client.query(`ALTER TABLE events ADD COLUMN extras jsonb NOT NULL DEFAULT '{}'`);
        await client.query('CREATE TABLE guest_notes (id uuid PRIMARY KEY, note varchar(200), score integer)');
        expect(await unclassifiedColumns(client)).toEqual([
          'events.extras (jsonb)',
          'guest_notes.note (character varying)',
          'users.nickname (text)',
        ]);
        await expect(scrubDatabase(client, () => undefined)).rejects.toThrow(
          /refusing to scrub: events\.extras \(jsonb\), guest_notes\.note \(character varying\), users\.nickname \(text\) are classified neither personal nor safe/,
        );
        const { rows } = await client.query('SELECT email, name FROM users');
        expect(rows).toEqual([{ email: 'kept@example.test', name: 'Kept Name' }]);
      });
    } finally {
      await scratch.drop();
    }
  });
});
