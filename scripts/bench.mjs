#!/usr/bin/env node
// `npm run bench`: starts EPU on its embedded defaults (`epu start`, fresh data
// dir), seeds data and prints figures. HTTP figures are compared with bare
// handlers measured in the same run, as ratios, since the machine is noisy.
//   --only http,bookings,upload,thumbs,queue,export,startup,replicas   a subset (default: all)
//   --duration S (10)  --connections N (64)  --rounds R (1): HTTP runs per target, alternating
//   --paths list,gallery,page,media: which HTTP read paths (default all four; media, a signed
//     thumbnail of the file driver's /media/ route, has no bare handler and is measured EPU-only)
//   --bookings N (4000): bookings per design at the database level
//   --cpu-prof DIR: the http section loads an extra `node --cpu-prof bin/epu.js web` (profile written to DIR)
//   --explain: print EXPLAIN (ANALYZE, BUFFERS) of the hot read queries on the seeded data (http section)
// Figures are printed, never asserted.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { benchBookings } from './bench/bookings.mjs';
import { benchReplicas } from './bench/replicas.mjs';
import { fmt, freePort, load, machine, percentile, root, row, spawnProcess, tempDir, waitForHttp, waitForLine } from './bench/lib.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SECTIONS = ['http', 'bookings', 'upload', 'thumbs', 'queue', 'export', 'startup', 'replicas'];
const only = new Set(
  flag('only', SECTIONS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
for (const name of only) if (!SECTIONS.includes(name)) throw new Error(`--only: unknown section ${name} (known: ${SECTIONS.join(', ')})`);
const duration = Number(flag('duration', 10));
const connections = Number(flag('connections', 64));
const rounds = Number(flag('rounds', 1));
const bookingsTotal = Number(flag('bookings', 4000));
const SECRET_KEY = 'bench-secret-key-bench-secret-key-bench-secret-key';
const MiB = 1024 * 1024;

const dist = (p) => import(path.join(root, 'dist/src', p));
const { createKeyring } = await dist('platform/security/keyring.js');
const { newObjectKey } = await dist('platform/storage/storage.js');

const dataDir = tempDir('data');
const storageRoot = path.join(dataDir, 'storage');
const ports = {
  web: await freePort(),
  bare: await freePort(),
  floor: await freePort(),
  pg: await freePort(),
  metrics: await freePort(),
  functions: await freePort(),
  web2: await freePort(),
  web3: await freePort(),
};
const base = `http://127.0.0.1:${ports.web}`;
const logFile = path.join(dataDir, 'epu.log');
const cleanup = [];
const figures = [];
const figure = (name, value, unit, note = '') => {
  figures.push({ name, value, unit, note });
  console.log(`  ${name}: ${value} ${unit}${note ? `  (${note})` : ''}`);
};

async function main() {
  console.log(`EPU benchmark on ${machine()}; sections: ${[...only].join(', ')}; logs in ${logFile}\n`);
  const startedAt = Date.now();
  const epu = spawnProcess(
    process.execPath,
    [path.join(root, 'bin/epu.js'), 'start'],
    {
      EPU_DATA_DIR: dataDir,
      PORT: String(ports.web),
      PUBLIC_URL: base,
      METRICS_PORT: String(ports.metrics),
      FUNCTIONS_PORT: String(ports.functions),
      EMBEDDED_PG_PORT: String(ports.pg),
      SECRET_KEY,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      DATABASE_POOL_MAX: '20',
    },
    logFile,
  );
  cleanup.push(() => epu.stop());
  await waitForHttp(`${base}/healthz`);
  const coldStart = (Date.now() - startedAt) / 1000;
  const password = fs.readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim();
  const databaseUrl = `postgres://epu:${encodeURIComponent(password)}@127.0.0.1:${ports.pg}/epu`;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  cleanup.push(() => db.end());
  const owner = await signUp('bench-owner@example.test');

  if (only.has('startup')) {
    console.log('== startup');
    figure(
      '`epu start` (what `npm start` runs after its build) to /healthz 200, fresh data dir',
      fmt(coldStart, 2),
      's',
      'initdb of the embedded PostgreSQL, migrations, three processes',
    );
    const web = spawnProcess(
      process.execPath,
      [path.join(root, 'bin/epu.js'), 'web'],
      {
        DATABASE_URL: databaseUrl,
        EPU_DATA_DIR: dataDir,
        PORT: String(ports.web2),
        METRICS_PORT: String(await freePort()),
        SECRET_KEY,
        LOG_LEVEL: 'info',
        LOG_PRETTY: 'false',
      },
      null,
    );
    cleanup.push(() => web.stop());
    const t0 = performance.now();
    await waitForLine(web.child.stdout, /"msg":"web ready"/);
    const ready = (performance.now() - t0) / 1000;
    await waitForHttp(`http://127.0.0.1:${ports.web2}/healthz`);
    const healthy = (performance.now() - t0) / 1000;
    await web.stop();
    figure('`epu web` to "web ready" (database already up)', fmt(ready, 2), 's', `/healthz 200 after ${fmt(healthy, 2)} s`);
  }
  if (only.has('http')) await httpSection(epu, databaseUrl, db, owner);
  if (only.has('bookings')) await bookingsSection(databaseUrl, db, owner);
  if (only.has('upload')) await uploadSection(epu, owner);
  if (only.has('thumbs')) await thumbsSection();
  if (only.has('queue')) await queueSection(db, databaseUrl);
  if (only.has('export')) await exportSection(db, owner);
  // nginx in front of 1 and 2 `epu web` on a PostgreSQL of its own: throughput ratio (docs/decisions/0014).
  if (only.has('replicas'))
    await benchReplicas({ duration, connections, figure, log: (line) => console.log(line.replace(/^\nreplicas:/, '\n== replicas:')) });

  console.log('\n== summary');
  for (const f of figures) console.log(row([f.name, `${f.value} ${f.unit}`], [70, 20]));
}

async function signUp(email) {
  const response = await fetch(`${base}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'bench password', name: 'Bench Owner' }),
  });
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { cookie, id: (await response.json()).user.id };
}

async function createEvent(owner, i, capacity, visibility = 'public') {
  const response = await fetch(`${base}/api/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: owner.cookie },
    body: JSON.stringify({
      title: `Bench event ${i}`,
      description: 'Seeded by npm run bench: a few words about the event, the room and the programme.',
      venue: 'Hall',
      startsAt: new Date(Date.now() + (i + 1) * 3_600_000).toISOString(),
      capacity,
      visibility,
    }),
  });
  return (await response.json()).id;
}

/** Ready photo rows with their derived keys (the objects need not exist to sign links to them). */
async function seedReadyPhotos(db, eventId, uploaderId, count) {
  for (let i = 0; i < count; i++) {
    await db.query(
      `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, sha256, width, height, created_at, ready_at)
       VALUES ($1, $2, 'ready', $3, $4, $5, 'image/jpeg', 2400000, repeat('a', 64), 4000, 3000, date_trunc('milliseconds', now()) - make_interval(secs => $6), now())`,
      [eventId, uploaderId, newObjectKey('originals', 'jpg'), newObjectKey('derived', 'webp'), newObjectKey('derived', 'webp'), i],
    );
  }
}

async function httpSection(epu, databaseUrl, db, owner) {
  console.log(
    `\n== http: EPU (every production middleware, anonymous viewer) against bare node:http + pg handlers; ${connections} connections, ${duration} s per run, ${rounds} round(s)`,
  );
  const ids = [];
  for (let i = 0; i < 30; i++) ids.push(await createEvent(owner, i, 100));
  await seedReadyPhotos(db, ids[0], owner.id, 30);
  // Bookings on the page's event, so its count is not trivially zero.
  await db.query(
    `WITH u AS (INSERT INTO users (email, name, password_hash) SELECT 'bench-guest-' || n || '@example.test', 'Guest ' || n, 'x' FROM generate_series(1, 40) AS n RETURNING id),
    b AS (INSERT INTO bookings (event_id, user_id, status) SELECT $1, id, 'confirmed' FROM u RETURNING id)
    UPDATE event_places p SET booking_id = b.id FROM (SELECT id, row_number() OVER () AS n FROM b) b WHERE p.event_id = $1 AND p.place_no = b.n`,
    [ids[0]],
  );
  await seedVolume(db);
  await db.query('ANALYZE');
  if (args.includes('--explain')) await explainReads(db, ids[0], owner.id);

  const floor = spawnProcess(process.execPath, [path.join(root, 'scripts/bench/floor-server.mjs')], { PORT: String(ports.floor) }, logFile);
  cleanup.push(() => floor.stop());
  const bare = spawnProcess(
    process.execPath,
    [path.join(root, 'scripts/bench/bare-reads.mjs')],
    {
      PORT: String(ports.bare),
      DATABASE_URL: databaseUrl,
      PUBLIC_URL: base,
      STORAGE_ROOT: storageRoot,
      SECRET_KEY,
      POOL_MAX: '20',
    },
    logFile,
  );
  cleanup.push(() => bare.stop());
  await waitForHttp(`http://127.0.0.1:${ports.floor}/`);
  await waitForHttp(`http://127.0.0.1:${ports.bare}/api/v1/events`);

  /** Another `epu web` on the same database and storage as the one under test, on `port`. */
  const spawnWeb = async (port, env, nodeArgs = []) =>
    spawnProcess(
      process.execPath,
      [...nodeArgs, path.join(root, 'bin/epu.js'), 'web'],
      {
        DATABASE_URL: databaseUrl,
        EPU_DATA_DIR: dataDir,
        PORT: String(port),
        PUBLIC_URL: base,
        METRICS_PORT: String(await freePort()),
        SECRET_KEY,
        LOG_LEVEL: 'info',
        LOG_PRETTY: 'false',
        DATABASE_POOL_MAX: '20',
        ...env,
      },
      logFile,
    );

  // Profiling: the same web process type, started by hand under --cpu-prof (NODE_OPTIONS may not carry it).
  let target = base;
  let webPid = webPidOf(epu);
  let profiled;
  if (flag('cpu-prof')) {
    const web = await spawnWeb(ports.web2, {}, [`--cpu-prof`, `--cpu-prof-dir=${path.resolve(flag('cpu-prof'))}`]);
    cleanup.push(() => web.stop());
    profiled = web;
    target = `http://127.0.0.1:${ports.web2}`;
    webPid = web.child.pid;
    await waitForHttp(`${target}/healthz`);
  }
  // The same web with the public page cache off (decision 0016): what a miss costs, next to what a hit costs.
  const uncached = await spawnWeb(ports.web3, { PUBLIC_PAGE_CACHE_SECONDS: '0' });
  cleanup.push(() => uncached.stop());
  const uncachedBase = `http://127.0.0.1:${ports.web3}`;
  await waitForHttp(`${uncachedBase}/healthz`);
  const wanted = flag('paths', 'list,gallery,page,media').split(',');
  // [key, name, path, headers, has a bare twin]
  const known = [
    ['list', 'GET /api/v1/events', '/api/v1/events', {}, true],
    ['gallery', 'GET /api/v1/events/:id/photos', `/api/v1/events/${ids[0]}/photos`, {}, true],
    ['page', 'GET /events/:id (page)', `/events/${ids[0]}`, { accept: 'text/html' }, true],
    ['media', 'GET /media/derived/... (thumbnail)', null, {}, false],
  ];
  for (const key of wanted)
    if (!known.some(([k]) => k === key)) throw new Error(`--paths: unknown path ${key} (known: ${known.map(([k]) => k).join(', ')})`);
  const paths = known.filter(([key]) => wanted.includes(key)).map(([, ...rest]) => rest);
  const media = paths.find(([, p]) => p === null);
  if (media) media[1] = await seedThumbnail(target, ids[0]);
  // Same bytes: the bare handlers exist to do exactly EPU's work, minus the framework.
  for (const [name, p, headers, hasBare] of paths) {
    if (!hasBare) {
      const a = await fetch(`${target}${p}`, { headers });
      const body = Buffer.from(await a.arrayBuffer());
      console.log(
        `  ${name}: EPU ${a.status} ${a.headers.get('content-type')} ${body.length} bytes, no bare handler (EPU-only figures); EPU cache-control: ${a.headers.get('cache-control')}`,
      );
      if (a.status !== 200) throw new Error(`${name}: ${p} answered ${a.status}`);
      continue;
    }
    const [a, b] = await Promise.all([fetch(`${target}${p}`, { headers }), fetch(`http://127.0.0.1:${ports.bare}${p}`, { headers })]);
    const [ta, tb] = [await a.text(), await b.text()];
    console.log(
      `  ${name}: EPU ${ta.length} bytes, bare ${tb.length} bytes, ${ta === tb ? 'identical' : 'DIFFERENT'}; EPU cache-control: ${a.headers.get('cache-control')}; vary: ${a.headers.get('vary')}`,
    );
  }

  const floorResult = await load({ url: `http://127.0.0.1:${ports.floor}/`, connections, duration });
  const results = [['bare node:http, fixed body (floor)', floorResult, null]];
  for (const [name, p, headers, hasBare] of paths) {
    const ratios = [];
    const cpuRatios = [];
    let last;
    if (!hasBare) {
      const cpu = [];
      for (let r = 0; r < rounds; r++) {
        await load({ url: `${target}${p}`, connections, amount: 1500, headers });
        last = await loadWithCpu(webPid, { url: `${target}${p}`, connections, duration, headers });
        results.push([`${name} EPU`, last, null]);
        cpu.push(last.cpuMsPerRequest);
      }
      figure(
        `${name}: EPU CPU per request (server process)`,
        cpu.map((x) => fmt(x, 3)).join(', '),
        'ms',
        `EPU ${fmt(last.rps, 0)} req/s, p95 ${fmt(last.p95)} ms; no bare handler`,
      );
      continue;
    }
    const missRatios = [];
    let lastMiss;
    for (let r = 0; r < rounds; r++) {
      // An unrecorded warm-up of a fixed number of requests each (the JIT needs requests, not seconds), then bare and EPU back to back.
      await load({ url: `http://127.0.0.1:${ports.bare}${p}`, connections, amount: 1500, headers });
      const bareResult = await loadWithCpu(bare.child.pid, { url: `http://127.0.0.1:${ports.bare}${p}`, connections, duration, headers });
      await load({ url: `${target}${p}`, connections, amount: 1500, headers });
      const epuResult = await loadWithCpu(webPid, { url: `${target}${p}`, connections, duration, headers });
      ratios.push(epuResult.rps / bareResult.rps);
      cpuRatios.push(bareResult.cpuMsPerRequest / epuResult.cpuMsPerRequest);
      await load({ url: `${uncachedBase}${p}`, connections, amount: 1500, headers });
      const missResult = await loadWithCpu(uncached.child.pid, { url: `${uncachedBase}${p}`, connections, duration, headers });
      missRatios.push(missResult.rps / bareResult.rps);
      results.push(
        [`${name} bare`, bareResult, null],
        [`${name} EPU`, epuResult, epuResult.rps / bareResult.rps],
        [`${name} EPU, page cache off`, missResult, missResult.rps / bareResult.rps],
      );
      last = epuResult;
      lastMiss = missResult;
    }
    figure(
      `${name}: EPU/bare throughput`,
      ratios.map((x) => fmt(x, 2)).join(', '),
      '×',
      `EPU ${fmt(last.rps, 0)} req/s, p95 ${fmt(last.p95)} ms`,
    );
    figure(
      `${name}: bare/EPU CPU per request (server process)`,
      cpuRatios.map((x) => fmt(x, 2)).join(', '),
      '×',
      `EPU ${fmt(last.cpuMsPerRequest, 3)} ms CPU per request`,
    );
    figure(
      `${name}: EPU with the page cache off/bare throughput`,
      missRatios.map((x) => fmt(x, 2)).join(', '),
      '×',
      `${fmt(lastMiss.rps, 0)} req/s, p95 ${fmt(lastMiss.p95)} ms, ${fmt(lastMiss.cpuMsPerRequest, 3)} ms CPU per request`,
    );
  }
  await uncached.stop();
  const widths = [52, 9, 8, 8, 8, 8, 8, 11, 10];
  console.log('\n' + row(['endpoint', 'requests', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'CPU ms/req', 'EPU/bare'], widths));
  for (const [name, r, ratio] of results) {
    console.log(
      row(
        [
          name,
          r.requests,
          fmt(r.rps, 0),
          fmt(r.p50),
          fmt(r.p95),
          fmt(r.p99),
          r.errors + (r.non2xx ? ` (${r.non2xx} non-2xx)` : ''),
          r.cpuMsPerRequest === undefined ? '' : fmt(r.cpuMsPerRequest, 3),
          ratio === null ? '' : fmt(ratio, 2),
        ],
        widths,
      ),
    );
  }
  await bare.stop();
  await floor.stop();
  if (profiled) {
    await profiled.stop(); // the profile is written as it exits
    console.log(`CPU profile of the EPU web process in ${path.resolve(flag('cpu-prof'))}`);
  }
}

/**
 * A real thumbnail behind the first photo of the gallery's JSON: the seeded rows
 * name derived keys whose objects do not exist, so one is written the way the
 * photos job writes it (file driver: the object and its sidecar under the data
 * dir). Returns the signed URL's path and query, as a browser would request it.
 */
async function seedThumbnail(target, eventId) {
  const response = await fetch(`${target}/api/v1/events/${eventId}/photos`);
  const url = new URL((await response.json()).items[0].thumbnailUrl);
  const key = decodeURIComponent(url.pathname.replace(/^\/media\//, ''));
  const { createFileStorage } = await dist('platform/storage/file-storage.js');
  const storage = createFileStorage({ root: storageRoot, publicUrl: new URL(base), keyring: createKeyring([SECRET_KEY]) });
  // A 400 px WebP of a smooth picture, about the size of a real photo's thumbnail.
  const noise = await sharp({ create: { width: 400, height: 300, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .png()
    .toBuffer();
  const thumbnail = await sharp(noise).blur(2).webp({ quality: 80 }).toBuffer();
  await storage.put(key, thumbnail, { contentType: 'image/webp', cacheControl: 'public, max-age=31536000, immutable' });
  return url.pathname + url.search;
}

/**
 * Volume behind the measured rows, so plans are the ones a real database gets:
 * 5 000 later public events (after the first pages), 1 000 users, 40 000
 * bookings and 20 000 ready photos on other events.
 */
async function seedVolume(db) {
  await db.query(`
    WITH hosts AS (INSERT INTO users (email, name, password_hash)
        SELECT 'bench-volume-' || n || '@example.test', 'Volume ' || n, 'x' FROM generate_series(1, 1000) AS n RETURNING id),
      numbered AS (SELECT id, row_number() OVER () AS n FROM hosts),
      ev AS (INSERT INTO events (slug, owner_id, title, description, starts_at, capacity, visibility)
        SELECT 'bench-volume-' || g, (SELECT id FROM numbered WHERE n = 1 + g % 1000), 'Volume event ' || g, 'Later', now() + interval '60 days' + g * interval '1 hour', NULL,
               CASE WHEN g % 10 = 0 THEN 'private' ELSE 'public' END
        FROM generate_series(1, 5000) AS g RETURNING id),
      evn AS (SELECT id, row_number() OVER () AS n FROM ev),
      bk AS (INSERT INTO bookings (event_id, user_id, status)
        SELECT evn.id, numbered.id, CASE WHEN numbered.n % 9 = 0 THEN 'cancelled' ELSE 'confirmed' END
        FROM evn JOIN numbered ON numbered.n BETWEEN 1 + (evn.n * 7) % 990 AND 8 + (evn.n * 7) % 990 RETURNING 1)
    INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, width, height, created_at)
      SELECT evn.id, NULL, CASE WHEN p % 10 = 0 THEN 'processing' ELSE 'ready' END, 'originals/2030/01/v' || evn.n || '-' || p || '.jpg',
             'derived/2030/01/vt' || evn.n || '-' || p || '.webp', 'derived/2030/01/vd' || evn.n || '-' || p || '.webp', 'image/jpeg', 1000, 800, 600, now() - p * interval '1 minute'
      FROM evn, generate_series(1, 4) AS p`);
}

/** The plans of the hot reads, with the parameters the app sends (docs/decisions/0013-read-paths.md). */
async function explainReads(db, eventId, ownerId) {
  const { EVENT_QUERIES } = await dist('features/events/events.repository.js');
  const { PHOTO_QUERIES } = await dist('features/photos/photos.repository.js');
  const {
    rows: [last],
  } = await db.query(`SELECT starts_at, id FROM events WHERE visibility = 'public' ORDER BY starts_at, id OFFSET 19 LIMIT 1`);
  const {
    rows: [photo],
  } = await db.query(
    `SELECT created_at, id FROM photos WHERE event_id = $1 AND status = 'ready' ORDER BY created_at DESC, id DESC OFFSET 19 LIMIT 1`,
    [eventId],
  );
  const plans = [
    ['GET /api/v1/events (first page)', EVENT_QUERIES.upcomingPublic, [new Date(), 21]],
    ['GET /api/v1/events (next page)', EVENT_QUERIES.upcomingPublicAfter, [new Date(), last.starts_at.toISOString(), last.id, 21]],
    ['GET /events/:id and the gallery: the event', EVENT_QUERIES.byId, [eventId]],
    ['GET /api/v1/events/:id/photos (first page)', PHOTO_QUERIES.ready, [eventId, 21]],
    ['GET /api/v1/events/:id/photos (next page)', PHOTO_QUERIES.readyBefore, [eventId, photo.created_at.toISOString(), photo.id, 21]],
  ];
  for (const [name, text, params] of plans) {
    const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, params);
    console.log(`\n-- ${name}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
  console.log('');
}

async function bookingsSection(databaseUrl, db, owner) {
  console.log(
    `\n== bookings: one hot event, ${bookingsTotal} bookings per design, ${connections} pg connections (database level, the app's transaction shape)`,
  );
  const result = await benchBookings({ databaseUrl, total: bookingsTotal, connections });
  const widths = [34, 9, 11, 8, 8, 8, 10, 26];
  console.log(row(['design', 'bookings', 'bookings/s', 'p50 ms', 'p95 ms', 'p99 ms', 'refused', 'confirmed / capacity'], widths));
  for (const [name, r] of [
    ['counter row (UPDATE ... +1)', result.counter],
    ['places (FOR UPDATE SKIP LOCKED)', result.places],
  ]) {
    console.log(
      row(
        [
          name,
          r.attempts,
          fmt(r.rate, 0),
          fmt(r.p50),
          fmt(r.p95),
          fmt(r.p99),
          `${r.refused}/256`,
          `${r.confirmed}/${result.capacity} ${r.withinCapacity ? 'ok' : 'EXCEEDED OR SHORT'}`,
        ],
        widths,
      ),
    );
  }
  figure(
    'bookings/s, counter row design',
    fmt(result.counter.rate, 0),
    '/s',
    `p50 ${fmt(result.counter.p50)} ms, p95 ${fmt(result.counter.p95)} ms`,
  );
  figure(
    'bookings/s, places design (the app)',
    fmt(result.places.rate, 0),
    '/s',
    `p50 ${fmt(result.places.p50)} ms, p95 ${fmt(result.places.p95)} ms`,
  );
  figure(
    'places / counter ratio',
    fmt(result.places.rate / result.counter.rate, 2),
    '×',
    `never above capacity: counter ${result.counter.withinCapacity ? 'yes' : 'NO'}, places ${result.places.withinCapacity ? 'yes' : 'NO'}`,
  );

  // Through HTTP as well: the whole request path, signed-in users in SQL rather than argon2 hashes.
  const hotEventId = await createEvent(owner, 99, 100_000);
  const users = 1000;
  const { rows } = await db.query(
    `WITH u AS (INSERT INTO users (email, name, password_hash) SELECT 'bench-http-' || n || '@example.test', 'Bench ' || n, 'x' FROM generate_series(1, $1) AS n RETURNING id)
     INSERT INTO sessions (user_id, expires_at) SELECT id, now() + interval '1 day' FROM u RETURNING id, user_id`,
    [users],
  );
  const keyring = createKeyring([SECRET_KEY]);
  const cookies = rows.map((r) => `epu_session=${keyring.seal({ sid: r.id, uid: r.user_id })}`);
  let next = 0;
  const http = await load({
    url: base,
    connections,
    amount: cookies.length,
    requests: [
      {
        method: 'POST',
        path: `/api/v1/events/${hotEventId}/bookings`,
        setupRequest: (request) => ({ ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length] } }),
      },
    ],
  });
  figure(
    'POST /api/v1/events/:id/bookings (HTTP, places design, one hot event)',
    fmt(http.rps, 0),
    'req/s',
    `p50 ${fmt(http.p50)} ms, p95 ${fmt(http.p95)} ms, ${http.errors} errors`,
  );
}

/** A JPEG of about `mib` MiB: a photo-like gradient with noise, which JPEG cannot squeeze much. */
async function makeJpeg(width, height, quality = 92) {
  const noise = await sharp({ create: { width, height, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .png()
    .toBuffer();
  return sharp(noise).jpeg({ quality }).toBuffer();
}

/** The web child of `epu start`. */
const webPidOf = (epu) =>
  childrenOf(epu.child.pid).find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('web'));

function childrenOf(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Load plus the CPU time the server process spent per request: comparable even when other work shares the machine. */
async function loadWithCpu(pid, options) {
  const before = cpuSeconds(pid);
  const result = await load(options);
  result.cpuMsPerRequest = ((cpuSeconds(pid) - before) * 1000) / Math.max(1, result.requests);
  return result;
}

const rssKiB = (pid, field = 'VmRSS') => {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
};

async function uploadSection(epu, owner) {
  console.log('\n== upload: large valid JPEGs streamed through POST /api/v1/events/:id/photos; RSS of the web process sampled every 20 ms');
  const webPid = webPidOf(epu);
  const eventId = await createEvent(owner, 200, null);
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

async function thumbsSection() {
  console.log("\n== thumbnails: the worker's photos.process job (built code) on 12 MP JPEGs, in this process, storage in memory");
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

async function queueSection(db, databaseUrl) {
  console.log('\n== queue: no-op jobs enqueued one every 20 ms; a worker (the built queue code, WORKER_CONCURRENCY 4) runs them');
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
  const queue = createQueue({ db: createKysely(pool), pool, logger });
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

async function exportSection(db, owner) {
  console.log('\n== export: POST /api/v1/events/:id/exports of an event with 24 photos (originals of about 2.5 MiB), timed until ready');
  await waitForIdle(db);
  const { createFileStorage } = await dist('platform/storage/file-storage.js');
  const storage = createFileStorage({ root: storageRoot, publicUrl: new URL(base), keyring: createKeyring([SECRET_KEY]) });
  const eventId = await createEvent(owner, 300, null);
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

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  throw error;
} finally {
  for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
  // On failure the log outlives the data dir, for the reason.
  if (failed && fs.existsSync(logFile)) {
    const kept = path.join(path.dirname(dataDir), `epu-bench-failed-${process.pid}.log`);
    fs.copyFileSync(logFile, kept);
    console.error(`EPU's log: ${kept}`);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}
