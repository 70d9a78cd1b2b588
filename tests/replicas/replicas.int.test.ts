// Replicas are interchangeable, proven with real processes: Debian's nginx in
// front of two `epu web` processes and one `epu worker`, all on one PostgreSQL,
// one Redis (a redis-server of this test's own) and one S3-compatible store
// (s3rver). A session and a photo cross replicas; a rolling restart of both
// replicas under continuous load fails no request. Figures are printed, never
// asserted: only counts are.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, testEnv } from '../support/app.js';
import { Client, futureIso, signUp } from '../support/client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { jpegWithExif, multipart } from '../support/images.js';
import { freePort, spawnEpu, type EpuProcess } from '../support/process.js';
import { startS3rver, type TestS3 } from '../support/s3rver.js';
import { eventRequests, percentile, startLoad, type LoadRequest, type Sample } from './load.js';
import { findTool, tierCanRun } from '../support/tools.mjs';
import { renditionSize } from '../../src/features/photos/renditions.js';
import { startNginx, type RunningNginx } from './nginx.mjs';

// Long enough to outlast nginx's upstream keepalive_timeout (1 s) in deploy/nginx/epu.conf.template.
const SHUTDOWN_DRAIN_MS = 1500;
const FAIL_TIMEOUT = '2s';

interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/** A redis-server of this test's own on a free loopback port, without persistence, stopped by its pid. */
async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-redis-'));
  const child: ChildProcess = spawn(
    findTool('redis-server')!,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await eventually(
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => socket.write('PING\r\n'));
        socket.once('data', (data) => {
          socket.destroy();
          resolve(data.toString().startsWith('+PONG') ? true : undefined);
        });
        socket.once('error', () => resolve(undefined));
      }),
    10_000,
    `redis-server on ${port} (${output})`,
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Replica {
  name: string;
  port: number;
  url: string;
  env: Record<string, string>;
  process: EpuProcess;
  /** Every process this replica slot has run, for the exit codes. */
  history: EpuProcess[];
}

describe.skipIf(!tierCanRun('replicas'))('two epu web replicas and a worker behind nginx', () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let s3: TestS3;
  let nginx: RunningNginx;
  let worker: EpuProcess;
  const replicas: Replica[] = [];
  const started: EpuProcess[] = [];

  function launch(replica: Replica): EpuProcess {
    const process = spawnEpu(['web'], replica.env);
    started.push(process);
    replica.process = process;
    replica.history.push(process);
    return process;
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    [redis, s3] = await Promise.all([startRedis(), startS3rver()]);
    const nginxPort = await freePort();
    const publicUrl = `http://127.0.0.1:${nginxPort}`;
    const shared = {
      PUBLIC_URL: publicUrl,
      REDIS_URL: redis.url,
      // One proxy in front: the client address is the last X-Forwarded-For hop.
      TRUST_PROXY_HOPS: '1',
      SHUTDOWN_DRAIN_MS: String(SHUTDOWN_DRAIN_MS),
      // Request lines in the log show which replica served what.
      LOG_LEVEL: 'info',
      ...s3.env,
    };
    for (const name of ['A', 'B']) {
      const port = await freePort();
      // testEnv gives each process its own data dir; SECRET_KEY and DATABASE_URL are the same for all.
      const env = testEnv(database, { ...shared, PORT: String(port), METRICS_PORT: String(await freePort()) });
      const replica: Replica = {
        name,
        port,
        url: `http://127.0.0.1:${port}`,
        env,
        process: undefined as unknown as EpuProcess,
        history: [],
      };
      replicas.push(replica);
      launch(replica);
    }
    worker = spawnEpu(['worker'], testEnv(database, { ...shared, METRICS_PORT: String(await freePort()) }));
    started.push(worker);
    await Promise.all([...replicas.map((r) => r.process.waitForLog(/web ready/)), worker.waitForLog(/worker ready/)]);
    nginx = await startNginx({ port: nginxPort, upstreams: replicas.map((r) => r.port), failTimeout: FAIL_TIMEOUT });
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(started.map((p) => p.stop('SIGKILL')));
    await redis?.stop();
    await s3?.close();
    await database?.drop();
  });

  it('a session made through one replica works on the other, and through nginx', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const viaA = await signUp(a.url);
    const onB = new Client(b.url);
    for (const [name, value] of viaA.client.cookies) onB.cookies.set(name, value);
    const me = await onB.get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(viaA.user.id);

    const viaNginx = await signUp(nginx.url);
    for (const replica of replicas) {
      const direct = new Client(replica.url);
      for (const [name, value] of viaNginx.client.cookies) direct.cookies.set(name, value);
      const answer = await direct.get('/api/v1/me');
      expect(answer.status, `GET /api/v1/me on replica ${replica.name}`).toBe(200);
      expect(answer.body.user.id).toBe(viaNginx.user.id);
    }
  });

  it('a photo uploaded through replica A is processed by the worker and served through replica B', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const owner = await signUp(nginx.url, { name: 'Host' });
    const created = await owner.client.post('/api/v1/events', {
      title: 'Replica party',
      startsAt: futureIso(),
      capacity: 50,
      visibility: 'public',
    });
    expect(
      created.status,
      `${created.text}\n${replicas
        .map((r) =>
          r.process
            .output()
            .split('\n')
            .filter((l) => /unhandled error/.test(l))
            .slice(-3)
            .join('\n'),
        )
        .join('\n')}`,
    ).toBe(201);
    const eventId = created.body.id as string;

    const onA = new Client(a.url);
    const onB = new Client(b.url);
    for (const [name, value] of owner.client.cookies) {
      onA.cookies.set(name, value);
      onB.cookies.set(name, value);
    }
    const original = await jpegWithExif(1024, 768);
    const { body, contentType } = multipart([['file', 'replica.jpg', 'image/jpeg', original]]);
    const uploaded = await onA.request('POST', `/api/v1/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } });
    expect(uploaded.status).toBe(202);
    const photoId = uploaded.body.photo.id as string;

    const photo = await eventually(
      async () => {
        const read = await onB.get(`/api/v1/photos/${photoId}`);
        return read.body.status === 'ready' ? read.body : undefined;
      },
      45_000,
      'the photo to be ready (read through replica B)',
    );
    expect(photo).toMatchObject({ id: photoId, eventId, width: 1024, height: 768, bytes: original.length, contentType: 'image/jpeg' });
    expect(a.process.output()).toMatch(
      new RegExp(`"route":"/api/v1/events/:id/photos","path":"/api/v1/events/${eventId}/photos","status":202`),
    );

    const gallery = await onB.get(`/api/v1/events/${eventId}/photos`);
    expect(gallery.status).toBe(200);
    expect(gallery.body.items.map((p: { id: string }) => p.id)).toContain(photoId);

    // The media URLs point at the shared store (presigned by s3rver's credentials), not at a replica.
    expect(photo.thumbnailUrl.startsWith(s3.endpoint)).toBe(true);
    const thumbnail = await fetch(photo.thumbnailUrl);
    expect(thumbnail.status).toBe(200);
    const thumbBytes = Buffer.from(await thumbnail.arrayBuffer());
    const meta = await sharp(thumbBytes).metadata();
    expect({ width: meta.width, height: meta.height }).toEqual(renditionSize(1024, 768, 'thumbnail'));
    // The original as uploaded, less where it was taken (decision 0033): the same pixels.
    const full = Buffer.from(await (await fetch(photo.url)).arrayBuffer());
    const [served, sent] = await Promise.all([sharp(full).raw().toBuffer(), sharp(original).raw().toBuffer()]);
    expect(served.equals(sent)).toBe(true);
  }, 90_000);

  it('a rolling restart of both replicas under continuous load fails no request', async () => {
    const owner = await signUp(nginx.url, { name: 'Load host' });
    const created = await owner.client.post('/api/v1/events', {
      title: 'Rolling restart',
      startsAt: futureIso(),
      capacity: null,
      visibility: 'public',
    });
    expect(
      created.status,
      `${created.text}\n${replicas
        .map((r) =>
          r.process
            .output()
            .split('\n')
            .filter((l) => /unhandled error/.test(l))
            .slice(-3)
            .join('\n'),
        )
        .join('\n')}`,
    ).toBe(201);
    const eventId = created.body.id as string;
    // A few attendees who book and cancel in turn: unsafe requests in the mix, each loop its own user.
    const LOOPS = 8;
    const attendees = await Promise.all(Array.from({ length: LOOPS }, () => signUp(nginx.url)));

    const next = (loop: number, n: number): LoadRequest => {
      const requests = eventRequests(eventId, attendees[loop]!.client.cookieHeader());
      switch (n % 10) {
        case 3:
          return requests.book;
        case 8:
          return requests.cancel;
        case 0:
        case 2:
        case 5:
        case 7:
          return requests.page;
        default:
          return requests.list;
      }
    };
    const load = startLoad({ baseUrl: nginx.url, rate: 80, loops: LOOPS, maxRequests: 20_000, requestTimeoutMs: 15_000, next });
    const marks: Record<string, number> = {};
    try {
      // Warm: traffic reaches both replicas before anything restarts.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      marks.restartStart = performance.now();
      for (const replica of replicas) {
        const old = replica.process;
        old.child.kill('SIGTERM');
        await old.waitForLog(/shutting down/);
        const exit = await old.exited;
        expect(exit.code, `replica ${replica.name} exit code\n${old.output().slice(-2000)}`).toBe(0);
        expect(old.output()).toMatch(/stopped cleanly/);
        marks[`${replica.name} stopped`] = performance.now();

        const fresh = launch(replica);
        await fresh.waitForLog(/web ready/);
        marks[`${replica.name} ready`] = performance.now();
        // Before the next replica stops, this one must be back in nginx's rotation
        // (after up to fail_timeout): proven by requests of the load reaching it.
        await fresh.waitForLog(/"route":"\/(api\/v1\/)?events(\/:id)?","path":"\/(api\/v1\/)?events[^"]*","status":200/, 30_000);
        marks[`${replica.name} serving`] = performance.now();
      }
      marks.restartEnd = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      await load.stop();
    }

    const samples = load.samples;
    const during = samples.filter((s) => s.startedAt >= marks.restartStart! && s.startedAt <= marks.restartEnd!);
    const failed = samples.filter((s) => !s.ok);
    const latency = (list: Sample[]) => list.map((s) => s.endedAt - s.startedAt);
    const retried = nginx
      .accessLog()
      .split('\n')
      .filter((line) => /upstream=\S+, /.test(line)).length;
    // What nginx saw go wrong upstream (each retried or failed): refused connects, closed or reset connections.
    const upstreamErrors = new Map<string, number>();
    for (const match of nginx.errorLog().matchAll(/\[error\] [^*]*\*\d+ (.*?) while/g)) {
      const reason = match[1]!.replace(/\(\d+: /, '(');
      upstreamErrors.set(reason, (upstreamErrors.get(reason) ?? 0) + 1);
    }
    const byKind = new Map<string, number>();
    for (const s of samples) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
    const t0 = marks.restartStart;
    const lines = [
      `rolling restart of 2 replicas behind nginx (drain ${SHUTDOWN_DRAIN_MS} ms, fail_timeout ${FAIL_TIMEOUT}), load ${LOOPS} loops at 80 req/s target:`,
      `  requests sent ${samples.length} (${[...byKind].map(([k, n]) => `${k}: ${n}`).join(', ')})`,
      `  failed ${failed.length}`,
      `  during the restart (${((marks.restartEnd - t0) / 1000).toFixed(1)} s): ${during.length} requests, p50 ${percentile(latency(during), 50).toFixed(1)} ms, p95 ${percentile(latency(during), 95).toFixed(1)} ms, p99 ${percentile(latency(during), 99).toFixed(1)} ms, max ${Math.max(...latency(during)).toFixed(1)} ms`,
      `  whole run: p95 ${percentile(latency(samples), 95).toFixed(1)} ms; requests nginx passed to a second replica after a refused connect or 503: ${retried}`,
      `  nginx upstream errors: ${[...upstreamErrors].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`,
      `  timeline (s after the first SIGTERM): ${Object.entries(marks)
        .filter(([k]) => k !== 'restartStart')
        .map(([k, v]) => `${k} ${((v - t0) / 1000).toFixed(1)}`)
        .join(', ')} (SIGTERM at ${new Date(performance.timeOrigin + t0).toISOString()})`,
    ];
    console.log(lines.join('\n'));
    const resets = nginx
      .errorLog()
      .split('\n')
      .filter((line) => /reset|prematurely/.test(line));
    if (resets.length) console.log(`nginx retried or failed after a closed connection:\n${resets.join('\n')}`);
    if (failed.length) console.log('failures:', failed.slice(0, 20), '\nnginx error log:\n', nginx.errorLog().slice(-4000));

    expect(samples.length).toBeGreaterThan(100);
    expect(during.length).toBeGreaterThan(0);
    expect(failed.length).toBe(0);
    // The new processes served traffic and nothing answered 5xx anywhere.
    for (const replica of replicas) expect(replica.history.length).toBe(2);
    expect(nginx.accessLog()).not.toMatch(/" 50\d /);
  }, 180_000);
});
