// The SQL of backups: the catalog queries and checksums that a backup and a
// restore run on their own connection (inside the snapshot or the restore's
// transaction), and the backup_drills table.
import pg from 'pg';
import type { Db } from '../../platform/db/pool.js';

export interface CatalogTable {
  name: string;
  columns: string[];
  /** Empty when the table has no primary key. */
  primaryKey: string[];
  /** Tables this one's foreign keys point at (other than itself). */
  /** The tables its foreign keys point at, but for deferrable keys: the restore's transaction checks those at COMMIT (events.cover_photo_id). */
  references: string[];
}

// Row text (and so the checksum and the COPY data) depends on these settings:
// the backup and the restore pin them, so the two sides hash identical text.
const STABLE_OUTPUT = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
  "SET client_encoding = 'UTF8'",
  // A large table takes as long as it takes; a backup or restore must not be cut off.
  'SET statement_timeout = 0',
  'SET idle_in_transaction_session_timeout = 0',
];

/** Applications' own bookkeeping that a restore rebuilds instead of copying. */
export const NOT_COPIED = new Set(['schema_migrations']);

export async function connect(connectionString: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString, application_name: applicationName });
  await client.connect();
  try {
    for (const statement of STABLE_OUTPUT) await client.query(statement);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

const ident = (name: string) => pg.escapeIdentifier(name);
const columnList = (columns: string[]) => columns.map(ident).join(', ');

/** Ordinary and partitioned tables of the current schema (not partitions: their parent copies them), without generated columns. */
export async function listTables(client: pg.ClientBase): Promise<CatalogTable[]> {
  const { rows } = await client.query<CatalogTable>(`
    SELECT c.relname::text AS name,
      (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
      coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS "primaryKey",
      coalesce((SELECT array_agg(DISTINCT t.relname::text) FROM pg_constraint f JOIN pg_class t ON t.oid = f.confrelid
        WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid AND NOT f.condeferrable), '{}') AS "references"
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY c.relname`);
  return rows.filter((table) => !NOT_COPIED.has(table.name));
}

export async function countTables(client: pg.ClientBase): Promise<{ count: number; examples: string[] }> {
  const { rows } = await client.query<{ name: string }>(`
    SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname`);
  return { count: rows.length, examples: rows.slice(0, 3).map((row) => row.name) };
}

export async function schemaVersion(client: pg.ClientBase): Promise<string | null> {
  const { rows } = await client.query<{ version: string | null }>(
    `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN NULL ELSE (SELECT max(version) FROM schema_migrations) END AS version`,
  );
  return rows[0]?.version ?? null;
}

export async function serverVersion(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  return rows[0]!.server_version;
}

export async function listSequences(client: pg.ClientBase): Promise<{ name: string; lastValue: number | null }[]> {
  const { rows } = await client.query<{ name: string; last_value: string | null }>(
    'SELECT sequencename::text AS name, last_value::text FROM pg_sequences WHERE schemaname = current_schema() ORDER BY sequencename',
  );
  return rows.map((row) => ({ name: row.name, lastValue: row.last_value === null ? null : Number(row.last_value) }));
}

export async function setSequence(client: pg.ClientBase, name: string, lastValue: number | null): Promise<void> {
  if (lastValue === null) return;
  await client.query('SELECT setval($1::regclass, $2)', [ident(name), lastValue]);
}

/**
 * Row count and an order-independent content checksum: the sum (as numeric,
 * so it cannot overflow) of the first 64 bits of each row's md5. Constant
 * memory however large the table, unlike hashing one aggregated string (which
 * PostgreSQL caps at 1 GB); any changed, lost or added row changes it.
 */
export async function tableChecksum(client: pg.ClientBase, table: string, columns: string[]): Promise<{ rows: number; checksum: string }> {
  const { rows } = await client.query<{ rows: string; checksum: string }>(
    `SELECT count(*)::text AS rows,
       coalesce(sum(('x' || left(md5(ROW(${columnList(columns)})::text), 16))::bit(64)::bigint), 0)::text AS checksum
     FROM ${ident(table)}`,
  );
  return { rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum };
}

/** Primary-key order: the same data gives the same bytes, and neighbours compress together. */
export function copyOutSql(table: CatalogTable): string {
  const order = table.primaryKey.length ? ` ORDER BY ${columnList(table.primaryKey)}` : '';
  return `COPY (SELECT ${columnList(table.columns)} FROM ${ident(table.name)}${order}) TO STDOUT`;
}

export function copyInSql(table: string, columns: string[]): string {
  return `COPY ${ident(table)} (${columnList(columns)}) FROM STDIN`;
}

/** Tables that hold at least one row (migrations may seed some, e.g. feature_flags). */
export async function nonEmptyTables(client: pg.ClientBase, tables: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const table of tables) {
    const { rows } = await client.query(`SELECT 1 FROM ${ident(table)} LIMIT 1`);
    if (rows.length) found.push(table);
  }
  return found;
}

/**
 * Turns the tables' own triggers off or on (not the foreign-key checks). A
 * restore loads rows as they were: a trigger such as the booked counts' (which
 * adds to event_booking_counts for every booking) would count them twice.
 */
export async function setUserTriggers(client: pg.ClientBase, tables: string[], enabled: boolean): Promise<void> {
  for (const table of tables) await client.query(`ALTER TABLE ${ident(table)} ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
}

export async function truncate(client: pg.ClientBase, tables: string[]): Promise<void> {
  if (tables.length) await client.query(`TRUNCATE ${tables.map(ident).join(', ')}`);
}

/** Everything in the current schema goes: `--force` restores and drill scratch databases start from nothing. */
export async function resetSchema(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
  const schema = ident(rows[0]!.schema);
  await client.query(`DROP SCHEMA ${schema} CASCADE`);
  await client.query(`CREATE SCHEMA ${schema}`);
}

export async function analyze(client: pg.ClientBase): Promise<void> {
  await client.query('ANALYZE');
}

export interface DrillRecord {
  id: string;
  backupId: string;
  ranAt: Date;
  ok: boolean;
  durationMs: number;
  report: Record<string, unknown>;
}

export function createDrillsRepository(db: Db) {
  return {
    async insert(drill: { backupId: string; ok: boolean; durationMs: number; report: Record<string, unknown> }): Promise<string> {
      const row = await db
        .insertInto('backup_drills')
        .values({ backup_id: drill.backupId, ok: drill.ok, duration_ms: drill.durationMs, report: JSON.stringify(drill.report) })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async latest(limit: number): Promise<DrillRecord[]> {
      const rows = await db.selectFrom('backup_drills').selectAll().orderBy('ran_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map((row) => ({
        id: row.id,
        backupId: row.backup_id,
        ranAt: row.ran_at,
        ok: row.ok,
        durationMs: row.duration_ms,
        report: row.report,
      }));
    },

    async lastSuccessAt(): Promise<Date | null> {
      const row = await db
        .selectFrom('backup_drills')
        .select((eb) => eb.fn.max('ran_at').as('at'))
        .where('ok', '=', true)
        .executeTakeFirst();
      return (row?.at as Date | null | undefined) ?? null;
    },
  };
}

export type DrillsRepository = ReturnType<typeof createDrillsRepository>;
