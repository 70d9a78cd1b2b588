// The compose stack for real: docker-compose.yml brought up by docker-compose
// (Debian's 1.29) through Podman's Docker-compatible API, with the image this
// tier has just built as every EPU service: two web replicas behind nginx, the
// worker, functions, PostgreSQL, Redis and an S3-compatible store. No registry
// answers here, so deploy/compose/stand-ins.yml swaps the official images for
// stand-ins built on this machine (deploy/compose/stand-ins/Dockerfile:
// PostgreSQL 15, redis-server 7.0 and nginx 1.22 from Debian's packages, s3rver
// from npm for MinIO); docker-compose.yml itself is used as it is. Only the
// services the application needs start (not Prometheus, Grafana or the tracing
// pipeline). Then, under a bounded load through nginx on 127.0.0.1: a rolling
// restart of the web containers, the worker killed with SIGKILL in the middle
// of a photo job and started again, Redis stopped and started. Counts are
// printed and asserted; times only printed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, futureIso, type Client } from '../../tests/support/client.js';
import { multipart } from '../../tests/support/images.js';
import { eventRequests, percentile, startLoad, type LoadRequest, type RunningLoad, type Sample } from '../../tests/replicas/load.js';
import { freePort, podman, podmanOk, type Run } from './podman.js';

const root = path.resolve(import.meta.dirname, '../..');
const image = process.env.EPU_TEST_IMAGE ?? '';
const dockerHost = process.env.DOCKER_HOST ?? '';
if (!image || !dockerHost)
  throw new Error(
    'EPU_TEST_IMAGE and DOCKER_HOST are not set: run the image tests with `npm run test:image`, which builds the images and serves Podman',
  );

/** What the test starts: the application and what it needs (the observability services stay down). */
const SERVICES = ['postgres', 'redis', 'minio', 'minio-init', 'epu-migrate', 'web-1', 'web-2', 'worker', 'functions', 'proxy'];
const LONG_RUNNING = ['postgres', 'redis', 'minio', 'web-1', 'web-2', 'worker', 'functions', 'proxy'];

const project = `epu-stack-test-${process.pid}`;
const envFile = path.join(os.tmpdir(), `${project}.env`);
let composeEnv: NodeJS.ProcessEnv;
let base: string;
let database: pg.Pool;
const report: string[] = [];

/** `docker-compose ARGS` for this test's project, with the stand-ins on top; resolves with its exit code and output. */
function compose(args: string[], timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'docker-compose',
      ['--project-name', project, '--env-file', envFile, '-f', 'docker-compose.yml', '-f', 'deploy/compose/stand-ins.yml', ...args],
      { cwd: root, env: composeEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function composeOk(args: string[], timeoutMs?: number): Promise<string> {
  const run = await compose(args, timeoutMs);
  if (run.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${run.code}:\n${run.stderr}${run.stdout}`.slice(-6000));
  return run.stdout + run.stderr;
}

/** The container compose made for a service (one replica each). */
const container = (service: string) => `${project}_${service}_1`;

async function state(service: string): Promise<{ Running: boolean; Health?: { Status: string }; Healthcheck?: { Status: string } }> {
  return (JSON.parse(await podmanOk(['container', 'inspect', container(service)])) as { State: any }[])[0]!.State;
}

/**
 * Podman runs a container's HEALTHCHECK on its interval through systemd timers, and no systemd runs
 * here: this ticker stands in for that timer, running each long-running service's own check (the
 * one docker-compose.yml gives it) every 10 seconds, the interval docker-compose.yml sets for the EPU
 * services, so that compose's `service_healthy` conditions and the states below move as they would
 * under an engine that schedules them.
 */
function startHealthTicker(): { stop(): Promise<void> } {
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      // One after another, as timers spread over an interval would: not eight node processes at once.
      for (const service of LONG_RUNNING) await podman(['healthcheck', 'run', container(service)], { timeoutMs: 60_000 });
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}
let ticker: { stop(): Promise<void> };

async function healthy(service: string, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = await state(service);
    if ((now.Health ?? now.Healthcheck)?.Status === 'healthy') return;
    if (Date.now() > until) {
      const logs = await compose(['logs', '--tail', '40', service]);
      throw new Error(`${service} is not healthy: ${JSON.stringify(now)}\n${logs.stdout}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** The /healthz a web replica reports on its operations port, read inside its container by the image's own check. */
async function webHealth(service: string): Promise<Record<string, string>> {
  const run = await podman(['exec', container(service), 'node', '/app/bin/healthcheck.js']);
  return (JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { checks: Record<string, string> }).checks;
}

/** A paced, bounded load through nginx: anonymous reads and a signed-in attendee booking and cancelling. */
async function loadThroughNginx(): Promise<RunningLoad> {
  const host = await signUp(base, { name: 'Stack host' });
  const created = await host.client.post('/api/v1/events', { title: 'Stack', startsAt: futureIso(), capacity: null, visibility: 'public' });
  expect(created.status, created.text).toBe(201);
  const eventId = created.body.id as string;
  const LOOPS = 4;
  const attendees: Client[] = (await Promise.all(Array.from({ length: LOOPS }, () => signUp(base)))).map((a) => a.client);
  const next = (loop: number, n: number): LoadRequest => {
    const requests = eventRequests(eventId, attendees[loop]!.cookieHeader());
    switch (n % 6) {
      case 1:
        return requests.book;
      case 4:
        return requests.cancel;
      case 2:
        return requests.page;
      default:
        return requests.list;
    }
  };
  return startLoad({ baseUrl: base, rate: 15, loops: LOOPS, maxRequests: 4000, requestTimeoutMs: 15_000, next });
}

function summary(name: string, samples: Sample[]): string {
  const failed = samples.filter((s) => !s.ok);
  const byKind = new Map<string, number>();
  for (const s of samples) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
  const latency = samples.map((s) => s.endedAt - s.startedAt);
  return (
    `${name}: ${samples.length} requests through nginx (${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
    `${failed.length} failed, p95 ${percentile(latency, 95).toFixed(0)} ms, max ${Math.max(...latency).toFixed(0)} ms` +
    (failed.length ? `\n  first failures: ${JSON.stringify(failed.slice(0, 5))}` : '')
  );
}

/** A large, detailed JPEG (made once): its renditions take the worker long enough to be caught in the middle. */
let largePhotoBytes: Promise<Buffer> | undefined;
function largePhoto(): Promise<Buffer> {
  largePhotoBytes ??= sharp({
    create: { width: 4000, height: 3000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 110, sigma: 50 } },
  })
    .jpeg({ quality: 90 })
    .toBuffer();
  return largePhotoBytes;
}

beforeAll(async () => {
  const httpPort = await freePort();
  const postgresPort = await freePort();
  fs.writeFileSync(
    envFile,
    await new Promise<string>((resolve, reject) => {
      const child = spawn('sh', [path.join(root, 'deploy/compose/secrets.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`secrets.sh exited ${code}`))));
    }),
  );
  composeEnv = {
    ...process.env,
    DOCKER_HOST: dockerHost,
    EPU_IMAGE: image,
    EPU_STACK_HTTP_PORT: String(httpPort),
    EPU_STACK_POSTGRES_PORT: String(postgresPort),
    EPU_STACK_MINIO_CONSOLE_PORT: String(await freePort()),
  };
  base = `http://127.0.0.1:${httpPort}`;
  ticker = startHealthTicker();
  const started = performance.now();
  const up = await compose(['up', '--detach', '--no-build', ...SERVICES], 600_000);
  if (up.code !== 0) {
    const logs = await compose(['logs', '--no-color', '--tail', '30']);
    throw new Error(`docker-compose up exited ${up.code}:\n${up.stderr.slice(-3000)}\n${logs.stdout.slice(-8000)}`);
  }
  for (const service of LONG_RUNNING) await healthy(service);
  report.push(
    `up: ${SERVICES.length} services, every long-running one healthy by its own check, in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  const secrets = Object.fromEntries(
    fs
      .readFileSync(envFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  database = new pg.Pool({
    connectionString: `postgres://epu:${secrets.STACK_POSTGRES_PASSWORD}@127.0.0.1:${postgresPort}/epu`,
    max: 2,
  });
}, 900_000);

afterAll(async () => {
  await ticker?.stop();
  await database?.end();
  if (composeEnv) {
    const down = await compose(['down', '--volumes', '--timeout', '5'], 300_000);
    if (down.code !== 0) report.push(`docker-compose down exited ${down.code}: ${down.stderr.slice(-1000)}`);
  }
  fs.rmSync(envFile, { force: true });
  console.log(`compose stack (${project}):\n  ${report.join('\n  ')}`);
}, 400_000);

describe('the compose stack (docker-compose.yml with stand-ins for the images no registry here serves)', () => {
  it('serves through nginx: both web replicas, the build in /meta, a photo through web, functions, S3 and the worker', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', checks: { database: 'ok', storage: 'ok' } });
    expect(await (await fetch(`${base}/meta`)).json()).toMatchObject({
      name: 'epu',
      environment: 'production',
      gitSha: process.env.EPU_TEST_GIT_SHA,
    });
    // Redis reads 'degraded' for a few seconds after a command of the cache timed out (a busy machine): it must come to 'ok'.
    for (const web of ['web-1', 'web-2']) {
      expect(await webHealth(web)).toMatchObject({ database: 'ok', storage: 'ok' });
      await expect.poll(async () => (await webHealth(web)).redis, { timeout: 60_000, interval: 1000 }).toBe('ok');
    }

    const { client } = await signUp(base);
    const event = await client.post('/api/v1/events', { title: 'Compose', startsAt: futureIso(), capacity: 10, visibility: 'public' });
    expect(event.status, event.text).toBe(201);
    const { body, contentType } = multipart([['file', 'photo.jpg', 'image/jpeg', await largePhoto()]]);
    const uploaded = await client.request('POST', `/api/v1/events/${event.body.id}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    expect(uploaded.status, uploaded.text).toBe(202);
    await expect
      .poll(async () => (await client.get(`/api/v1/photos/${uploaded.body.photo.id}`)).body.status, { timeout: 120_000, interval: 1000 })
      .toBe('ready');
    const photo = (await client.get(`/api/v1/photos/${uploaded.body.photo.id}`)).body;
    expect(photo).toMatchObject({ width: 4000, height: 3000 });
    // The thumbnail's URL names the S3 store by its name on the stack's network: fetched from there.
    const thumbnail = await podmanOk([
      'exec',
      container('proxy'),
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      photo.thumbnailUrl,
    ]);
    expect(thumbnail).toBe('200');
    report.push(
      'a 4000x3000 photo: uploaded through nginx, stored in S3 by a web, read by functions, rendered by the worker, its thumbnail served by S3',
    );
  }, 300_000);

  it('a rolling restart of web-1, then web-2, under load through nginx loses no request', async () => {
    const load = await loadThroughNginx();
    const marks: string[] = [];
    const t0 = performance.now();
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      for (const web of ['web-1', 'web-2']) {
        // SIGTERM, then the container starts again: the web drains, nginx moves to the other replica.
        await composeOk(['restart', '--timeout', '30', web]);
        marks.push(`${web} restarted ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        await healthy(web);
        marks.push(`${web} healthy ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        // Back in nginx's rotation before the next one goes (nginx retries a failed replica after fail_timeout).
        await new Promise((resolve) => setTimeout(resolve, 12_000));
      }
    } finally {
      await load.stop();
    }
    const samples = load.samples;
    report.push(`rolling restart (${marks.join(', ')}); ${summary('load', samples)}`);
    expect(samples.length).toBeGreaterThan(200);
    expect(samples.filter((s) => !s.ok)).toEqual([]);
  }, 400_000);

  it('the worker killed with SIGKILL in the middle of a photo job, then started again, finishes the job', async () => {
    const { client } = await signUp(base);
    const event = await client.post('/api/v1/events', { title: 'Worker crash', startsAt: futureIso(), capacity: 10, visibility: 'public' });
    expect(event.status, event.text).toBe(201);
    const { body, contentType } = multipart([['file', 'big.jpg', 'image/jpeg', await largePhoto()]]);
    const uploaded = await client.request('POST', `/api/v1/events/${event.body.id}/photos`, {
      body,
      headers: { 'content-type': contentType },
    });
    expect(uploaded.status, uploaded.text).toBe(202);
    const photoId = uploaded.body.photo.id as string;
    const job = async () =>
      (
        await database.query<{ status: string; attempts: number; locked_by: string | null; last_error: string | null }>(
          `SELECT status, attempts, locked_by, last_error FROM jobs WHERE name = 'photos.process' AND payload->>'photoId' = $1`,
          [photoId],
        )
      ).rows[0];
    // Caught while the worker holds it, then killed on the spot.
    await expect.poll(async () => (await job())?.status, { timeout: 60_000, interval: 50 }).toBe('running');
    await podmanOk(['kill', '--signal', 'KILL', container('worker')]);
    const killed = await job();
    expect(killed, 'the job was still running when the worker died').toMatchObject({ status: 'running', attempts: 1 });
    expect((await state('worker')).Running).toBe(false);
    const killedAt = performance.now();

    await composeOk(['start', 'worker']);
    await healthy('worker');
    // The new worker reclaims the job once the dead one's lease runs out, and runs it again.
    await expect
      .poll(async () => (await client.get(`/api/v1/photos/${photoId}`)).body.status, { timeout: 180_000, interval: 1000 })
      .toBe('ready');
    const finished = await job();
    expect(finished).toMatchObject({ status: 'completed', attempts: 2 });
    expect(finished!.last_error).toMatch(/lease expired: worker .* stopped heartbeating/);
    report.push(
      `worker SIGKILLed while it held photos.process (attempt 1, ${killed!.locked_by}); started again: attempt 2 completed, ` +
        `the photo ready ${((performance.now() - killedAt) / 1000).toFixed(0)} s after the kill`,
    );
  }, 400_000);

  it('Redis stopped under load fails no request; the webs report it degraded, then ok once it is started again', async () => {
    const load = await loadThroughNginx();
    let stoppedAt = Infinity;
    let startedAt = Infinity;
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await composeOk(['stop', '--timeout', '5', 'redis']);
      stoppedAt = performance.now();
      for (const web of ['web-1', 'web-2'])
        await expect.poll(async () => (await webHealth(web)).redis, { timeout: 60_000, interval: 1000 }).toBe('degraded');
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      startedAt = performance.now();
      await composeOk(['start', 'redis']);
      await healthy('redis');
      for (const web of ['web-1', 'web-2'])
        await expect.poll(async () => (await webHealth(web)).redis, { timeout: 60_000, interval: 1000 }).toBe('ok');
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      await load.stop();
    }
    const during = load.samples.filter((s) => s.startedAt >= stoppedAt && s.startedAt < startedAt);
    report.push(`Redis stopped and started; ${summary('while it was down', during)}; ${summary('whole run', load.samples)}`);
    expect(during.length).toBeGreaterThan(20);
    expect(load.samples.filter((s) => !s.ok)).toEqual([]);
    // Nothing else noticed: every long-running service is still healthy by its own check.
    for (const service of LONG_RUNNING) await healthy(service, 30_000);
  }, 400_000);
});
