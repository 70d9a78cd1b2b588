// The sections of `npm run bench` that measure EPU's own machinery rather than
// a request path against a twin: uploads, thumbnails, queue latency, exports.
// Each takes the bench's context (scripts/bench.mjs); figures are printed,
// never asserted.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { fmt, machine, percentile, root } from './lib.mjs';

const dist = (p) => import(path.join(root, 'dist/src', p));
const MiB = 1024 * 1024;

/** A JPEG of about `mib` MiB: a photo-like gradient with noise, which JPEG cannot squeeze much. */
export async function makeJpeg(width, height, quality = 92) {
  const noise = await sharp({ create: { width, height, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .png()
    .toBuffer();
  return sharp(noise).jpeg({ quality }).toBuffer();
}

const rssKiB = (pid, field = 'VmRSS') => {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
};

export async function uploadSection(ctx) {
  const { base, owner, figure } = ctx;
  ctx.log('\n== upload: large valid JPEGs streamed through POST /api/v1/events/:id/photos; RSS of the web process sampled every 20 ms');
  const webPid = ctx.epuWebPid();
  const eventId = await ctx.createEvent(200, null);
  const image = await makeJpeg(4000, 3000, 95);
  if (image.length > 25 * MiB) throw new Error('bench image is above MAX_UPLOAD_BYTES');
  const upload = async () => {
    const form = new FormData();
    form.set('file', new Blob([image], { type: 'image/jpeg' }), 'bench.jpg');
    const response = await fetch(`${base}/api/v1/events/${eventId}/photos`, {
      method: 'POST',
      headers: { cookie: owner.cookie },
      body: form,
    });
    if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  };
  await upload(); // warm-up
  const before = rssKiB(webPid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKiB(webPid));
  }, 20);
  const count = 6;
  const t0 = performance.now();
  for (let i = 0; i < count; i += 2) await Promise.all([upload(), upload()]);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  figure(
    'upload throughput (2 concurrent uploads)',
    fmt((count * image.length) / MiB / seconds, 1),
    'MiB/s',
    `${count} × ${fmt(image.length / MiB, 1)} MiB JPEG in ${fmt(seconds, 2)} s`,
  );
  figure(
    'web process RSS during uploads',
    `${fmt(before / 1024, 0)} → peak ${fmt(peak / 1024, 0)}`,
    'MiB',
    `peak − before = ${fmt((peak - before) / 1024, 0)} MiB for ${fmt((2 * image.length) / MiB, 0)} MiB in flight`,
  );
}

export async function thumbsSection(ctx) {
  const { figure } = ctx;
  ctx.log("\n== thumbnails: the worker's photos.process job (built code) on 12 MP JPEGs, in this process, storage in memory");
  const { processPhotoJob } = await dist('features/photos/photos.jobs.js');
  const { Readable } = await import('node:stream');
  const originals = [];
  for (let i = 0; i < 3; i++) originals.push(await makeJpeg(4000, 3000, 85));
  const objects = new Map();
  const storage = {
    async get(key) {
      const body = objects.get(key);
      return body
        ? { body: Readable.from([body]), bytes: body.length, contentType: 'image/jpeg', etag: '"x"', lastModified: new Date() }
        : null;
    },
    async put(key, body) {
      objects.set(key, body);
      return { bytes: body.length, sha256: '' };
    },
    async delete(key) {
      objects.delete(key);
    },
  };
  let done = 0;
  const repo = {
    async findById(id) {
      return { id, status: 'processing', original_key: `originals/${Number(id) % originals.length}.jpg` };
    },
    async markReady() {
      done++;
      return true;
    },
    async markFailed(id, reason) {
      throw new Error(`photo ${id} failed: ${reason}`);
    },
  };
  originals.forEach((body, i) => objects.set(`originals/${i}.jpg`, body));
  const logger = { warn() {}, info() {}, error() {}, debug() {} };
  // No web process here keeps pages, so there is nobody to tell that a gallery changed.
  const pages = { announce: async () => undefined };
  const job = processPhotoJob({ repo, storage, logger, pages });
  await job({ payload: { photoId: '0' }, attempt: 1 }); // warm-up
  done = 0;
  const n = 12;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  // As the worker runs them: several jobs at once (WORKER_CONCURRENCY defaults to 4).
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < n) await job({ payload: { photoId: String(next++) }, attempt: 1 });
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  figure(
    'photos processed per CPU-second (400 px + 1600 px WebP each, 12 MP JPEG in)',
    fmt(done / cpuSeconds, 2),
    '/CPU-s',
    `${done} photos, ${fmt(cpuSeconds, 1)} CPU-s, ${fmt(wall, 1)} s wall = ${fmt(done / wall, 2)}/s on ${machine().split(',')[0]}`,
  );
}

export async function queueSection(ctx) {
  const { db, databaseUrl, figure } = ctx;
  ctx.log('\n== queue: no-op jobs enqueued one every 20 ms; a worker (the built queue code, WORKER_CONCURRENCY 4) runs them');
  await waitForIdle(db);
  const { createQueue, createWorker } = await dist('platform/queue/index.js');
  const { createPool, createKysely } = await dist('platform/db/pool.js');
  const pool = createPool({ connectionString: databaseUrl, max: 6, statementTimeoutMs: 0, applicationName: 'epu-bench-queue' });
  const logger = {
    warn() {},
    info() {},
    error() {},
    debug() {},
    child() {
      return this;
    },
  };
  const { createNotifier } = await dist('platform/db/notifier.js');
  // Wake-ups go out through the notifier after each enqueue commits, as in the app (decision 0027).
  const { Type } = await import('typebox');
  const queue = createQueue({
    db: createKysely(pool),
    pool,
    jobs: { 'bench.noop': Type.Object({ i: Type.Number() }) },
    logger,
    notifier: createNotifier({ pool }),
  });
  const worker = createWorker({
    queue,
    pool,
    handlers: { 'bench.noop': async () => undefined },
    concurrency: 4,
    pollIntervalMs: 1000,
    leaseSeconds: 30,
    logger,
  });
  worker.start();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const k = 200;
  const ids = [];
  for (let i = 0; i < k; i++) {
    ids.push(await queue.enqueue('bench.noop', { i }));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const deadline = Date.now() + 30_000;
  let rows = [];
  while (Date.now() < deadline) {
    ({ rows } = await db.query(
      `SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM jobs WHERE id = ANY($1::uuid[]) AND started_at IS NOT NULL`,
      [ids],
    ));
    if (rows.length === k) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await worker.stop?.();
  await pool.end();
  const ms = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
  figure(
    'queue latency, enqueue to start (created_at → started_at)',
    `p50 ${fmt(percentile(ms, 50))}, p95 ${fmt(percentile(ms, 95))}`,
    'ms',
    `${ms.length}/${k} started; created_at has millisecond precision`,
  );
}

/** Waits until no photo is processing, so leftover thumbnail work does not load the next figure. */
async function waitForIdle(db, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const {
      rows: [r],
    } = await db.query(
      `SELECT (SELECT count(*) FROM photos WHERE status = 'processing') + (SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') AND run_at <= now() AND name <> 'bench.noop') AS busy`,
    );
    if (Number(r.busy) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function exportSection(ctx) {
  const { db, base, owner, figure, storageRoot, SECRET_KEY } = ctx;
  ctx.log('\n== export: POST /api/v1/events/:id/exports of an event with 24 photos (originals of about 2.5 MiB), timed until ready');
  await waitForIdle(db);
  const { createFileStorage } = await dist('platform/storage/file-storage.js');
  const { createKeyring } = await dist('platform/security/keyring.js');
  const { newObjectKey } = await dist('platform/storage/storage.js');
  const storage = createFileStorage({ root: storageRoot, publicUrl: new URL(base), keyring: createKeyring([SECRET_KEY]) });
  const eventId = await ctx.createEvent(300, null);
  const m = 24;
  const bodies = [await makeJpeg(2000, 1500, 95), await makeJpeg(2000, 1500, 94)];
  for (let i = 0; i < m; i++) {
    const key = newObjectKey('originals', 'jpg');
    const body = bodies[i % 2];
    const stored = await storage.put(key, body, { contentType: 'image/jpeg' });
    await db.query(
      `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, sha256, width, height, ready_at)
       VALUES ($1, $2, 'ready', $3, $3, $3, 'image/jpeg', $4, $5, 2000, 1500, now())`,
      [eventId, owner.id, key, stored.bytes, stored.sha256],
    );
  }
  const started = performance.now();
  const response = await fetch(`${base}/api/v1/events/${eventId}/exports`, { method: 'POST', headers: { cookie: owner.cookie } });
  const { export: created } = await response.json();
  let status = created;
  while (status.status !== 'ready' && status.status !== 'failed' && performance.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    status = (await (await fetch(`${base}/api/v1/exports/${created.id}`, { headers: { cookie: owner.cookie } })).json()).export;
  }
  const seconds = (performance.now() - started) / 1000;
  if (status.status !== 'ready') throw new Error(`export ended ${status.status}`);
  const {
    rows: [job],
  } = await db.query(
    `SELECT extract(epoch FROM finished_at - started_at) AS s FROM jobs WHERE name = 'exports.build' ORDER BY created_at DESC LIMIT 1`,
  );
  figure(
    'export throughput (zip of 24 originals, request to ready)',
    fmt(status.bytes / MiB / seconds, 1),
    'MiB/s',
    `${fmt(status.bytes / MiB, 1)} MiB in ${fmt(seconds, 2)} s; the job itself ${fmt(Number(job?.s), 2)} s = ${fmt(status.bytes / MiB / Number(job?.s), 1)} MiB/s`,
  );
}
