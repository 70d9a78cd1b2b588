// Scratch databases for work that must not touch a live one: a drill restores
// into one to prove a backup, a scrub restores into one to rewrite it.
import crypto from 'node:crypto';
import pg from 'pg';
import { connect, countTables, resetSchema } from './backups.repository.js';
import { RestoreRefusedError } from './backups.restore.js';

export interface ScratchDatabase {
  url: string;
  name: string;
  /** Drops the database it created, or empties the one it was given. */
  drop(): Promise<void>;
}

function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || '(default)';
}

/** A scratch database on the source's server, created through its maintenance database and dropped afterwards. */
export async function createScratchDatabase(sourceUrl: string, purpose: 'drill' | 'scrub', backupId: string): Promise<ScratchDatabase> {
  const name = `epu_${purpose}_${backupId.toLowerCase().replace(/[^a-z0-9]/g, '')}_${crypto.randomBytes(2).toString('hex')}`;
  const maintenanceUrl = withDatabaseName(sourceUrl, 'postgres');
  const run = async (sql: string) => {
    const admin = new pg.Client({ connectionString: maintenanceUrl, application_name: `epu-${purpose}` });
    await admin.connect();
    try {
      await admin.query(sql);
    } finally {
      await admin.end().catch(() => undefined);
    }
  };
  try {
    await run(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    throw new Error(
      `could not create the scratch database ${name} (${(error as Error).message}); give the ${purpose} one with --database-url`,
      { cause: error },
    );
  }
  return {
    url: withDatabaseName(sourceUrl, name),
    name,
    drop: () => run(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  };
}

/** A database the operator named for scratch work: checked empty first, so that only our own copy is ever removed from it. */
export async function givenScratchDatabase(url: string, purpose: 'drill' | 'scrub'): Promise<ScratchDatabase> {
  const name = databaseName(url);
  const withClient = async <T>(work: (client: pg.Client) => Promise<T>) => {
    const client = await connect(url, `epu-${purpose}`);
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const existing = await withClient(countTables);
  if (existing.count > 0) {
    throw new RestoreRefusedError(
      `the ${purpose} database ${name} is not empty (${existing.count} tables, e.g. ${existing.examples.join(', ')}); give the ${purpose} an empty database`,
    );
  }
  return { url, name, drop: () => withClient(resetSchema) };
}

/** The given database, or a new one on the source's server. */
export function scratchDatabase(options: {
  given: string | undefined;
  sourceUrl: string;
  purpose: 'drill' | 'scrub';
  backupId: string;
}): Promise<ScratchDatabase> {
  return options.given
    ? givenScratchDatabase(options.given, options.purpose)
    : createScratchDatabase(options.sourceUrl, options.purpose, options.backupId);
}
