// Builds the runtime image's file tree with scripts/build-image-dir.sh (the
// Dockerfile's steps, no Docker engine needed) and runs every process type from
// it against a real PostgreSQL, as the container would run them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabaseName } from '../../tests/support/database.js';

const root = path.resolve(import.meta.dirname, '../..');
const BUILD_INPUTS = [
  'Dockerfile',
  'scripts/build-image-dir.sh',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'bin',
  'src',
  'migrations',
  'public',
];

function listFiles(entry: string): string[] {
  const full = path.join(root, entry);
  if (!fs.statSync(full).isDirectory()) return [entry];
  return fs
    .readdirSync(full, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(entry, name))
    .filter((name) => fs.statSync(path.join(root, name)).isFile())
    .sort();
}

/** Builds from earlier inputs, left a day ago or more (a run in progress uses its own for minutes). */
function pruneOldBuilds(keep: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of fs.readdirSync(os.tmpdir())) {
    const dir = path.join(os.tmpdir(), name);
    if (!/^epu-image-[0-9a-f]{16}$/.test(name) || dir === keep) continue;
    const marker = path.join(dir, '.complete');
    if (fs.existsSync(marker) && fs.statSync(marker).mtimeMs < dayAgo) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One build per set of inputs: a rerun with the same sources and lockfile reuses it, like Docker's layer cache. */
function imageDir(): string {
  const hash = crypto.createHash('sha256');
  for (const file of BUILD_INPUTS.flatMap(listFiles)) {
    hash
      .update(file)
      .update('\0')
      .update(fs.readFileSync(path.join(root, file)));
  }
  const cacheDir = path.join(os.tmpdir(), `epu-image-${hash.digest('hex').slice(0, 16)}`);
  const done = path.join(cacheDir, '.complete');
  if (!fs.existsSync(done)) {
    const result = spawnSync('bash', [path.join(root, 'scripts/build-image-dir.sh'), cacheDir], { encoding: 'utf8', timeout: 15 * 60_000 });
    if (result.status !== 0) {
      fs.rmSync(cacheDir, { recursive: true, force: true });
      throw new Error(`build-image-dir.sh failed (${result.status}):\n${result.stderr.slice(-4000)}`);
    }
    // The build stage is only needed to produce the image; dropping it keeps the cache small.
    fs.rmSync(path.join(cacheDir, 'build'), { recursive: true, force: true });
    fs.writeFileSync(done, new Date().toISOString());
    pruneOldBuilds(cacheDir);
  }
  return path.join(cacheDir, 'image');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(dir: string, args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, ['bin/epu.js', ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(what: string, check: () => Promise<boolean> | boolean, running: Running, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (running.child.exitCode !== null) throw new Error(`exited (${running.child.exitCode}) before ${what}:\n${running.output()}`);
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}:\n${running.output()}`);
}

async function stop(running: Running): Promise<number | null> {
  running.child.kill('SIGTERM');
  return running.exited;
}

function hasLogLine(running: Running, message: string): boolean {
  return running
    .output()
    .split('\n')
    .some((line) => {
      try {
        return (JSON.parse(line) as { msg?: string }).msg === message;
      } catch {
        return false;
      }
    });
}

describe('container image layout', () => {
  let dir: string;
  let databaseUrl: string;
  let databaseName: string;
  let env: NodeJS.ProcessEnv;
  const started: Running[] = [];

  beforeAll(async () => {
    dir = imageDir();
    // An empty database, so `migrate` does real work rather than finding the test template's schema.
    const adminUrl = inject('adminDatabaseUrl');
    databaseName = `epu_test_image_${crypto.randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${databaseName}`);
    await admin.end();
    databaseUrl = withDatabaseName(adminUrl, databaseName);
    const port = await freePort();
    env = {
      PATH: process.env.PATH,
      HOME: os.tmpdir(),
      APP_ENV: 'production',
      NODE_ENV: 'production',
      SECRET_KEY: crypto.randomBytes(48).toString('base64'),
      DATABASE_URL: databaseUrl,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      // Plain HTTP on loopback: production refuses an http:// PUBLIC_URL without it.
      TLS_AT_PROXY: 'true',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      FUNCTIONS_PORT: String(await freePort()),
      EPU_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'epu-image-data-')),
      LOG_LEVEL: 'info',
    };
  }, 16 * 60_000);

  afterAll(async () => {
    for (const running of started) if (running.child.exitCode === null) running.child.kill('SIGKILL');
    if (env?.EPU_DATA_DIR) fs.rmSync(env.EPU_DATA_DIR, { recursive: true, force: true });
    if (!databaseName) return;
    const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin.end();
  });

  it('holds only what the runtime stage copies', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['bin', 'dist', 'migrations', 'node_modules', 'package.json', 'public']);
    expect(fs.existsSync(path.join(dir, 'dist/src/entrypoints/cli.js'))).toBe(true);
  });

  it('has no devDependencies in node_modules', () => {
    // The lockfile marks every package reached only through devDependencies with `dev: true`;
    // some direct devDependencies (ajv, yaml, @types/node) are also needed at run time and stay.
    const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([location, entry]) => location.startsWith('node_modules/') && entry.dev)
      .map(([location]) => location);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter((location) => fs.existsSync(path.join(dir, location)))).toEqual([]);
    for (const name of ['typescript', 'vitest', 'playwright-core', 'squawk-cli', 'kubernetes-models', 's3rver', '@action-validator/cli']) {
      expect(fs.existsSync(path.join(dir, 'node_modules', name)), name).toBe(false);
    }
  });

  it('carries no secrets, tests or TypeScript sources', () => {
    const all = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => !name.startsWith('node_modules'));
    expect(all.filter((name) => /(^|\/)\.env(\.|$)/.test(name))).toEqual([]);
    expect(all.filter((name) => /\.test\.(ts|js)$/.test(name))).toEqual([]);
    expect(all.filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))).toEqual([]);
    for (const absent of ['src', 'tests', 'infra', 'deploy', '.git', '.epu', 'tsconfig.json']) {
      expect(fs.existsSync(path.join(dir, absent)), absent).toBe(false);
    }
  });

  it('runs as `epu <command>` from PATH, as infra/ starts it (entrypoint overridden with "epu")', async () => {
    // The Dockerfile links /usr/local/bin/epu to /app/bin/epu.js; here a link on PATH stands in for it.
    expect(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toMatch(/^RUN ln -sf \/app\/bin\/epu\.js \/usr\/local\/bin\/epu\b/m);
    expect(fs.statSync(path.join(dir, 'bin/epu.js')).mode & 0o111).toBe(0o111);
    const pathDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-image-path-'));
    try {
      fs.symlinkSync(path.join(dir, 'bin/epu.js'), path.join(pathDir, 'epu'));
      const child = spawn('epu', ['help'], {
        cwd: os.tmpdir(),
        env: { ...env, PATH: `${pathDir}:${env.PATH}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (chunk) => (output += chunk));
      child.stderr!.on('data', (chunk) => (output += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, output).toBe(0);
      expect(output).toMatch(/^usage: epu <command>/);
    } finally {
      fs.rmSync(pathDir, { recursive: true, force: true });
    }
  });

  it('migrates an empty database and exits 0', async () => {
    const migrate = run(dir, ['migrate'], env);
    expect(await migrate.exited, migrate.output()).toBe(0);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
  });

  it('serves web: /healthz 200, then a clean exit on SIGTERM', async () => {
    const web = run(dir, ['web'], env);
    started.push(web);
    await until(
      '/healthz 200',
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${env.PORT}/healthz`)).status === 200;
        } catch {
          return false;
        }
      },
      web,
    );
    const livez = await fetch(`http://127.0.0.1:${env.PORT}/livez`);
    expect(livez.status).toBe(200);
    expect(await stop(web), web.output()).toBe(0);
  });

  it.each([
    ['worker', 'worker ready'],
    ['functions', 'functions ready'],
  ])('runs %s until ready, then exits 0 on SIGTERM', async (command, readyLine) => {
    const proc = run(dir, [command], env);
    started.push(proc);
    await until(`"${readyLine}"`, () => hasLogLine(proc, readyLine), proc);
    expect(await stop(proc), proc.output()).toBe(0);
  });
});
