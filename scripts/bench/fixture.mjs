// The bench's data: an embedded PostgreSQL cluster kept under
// scripts/bench/.data/ (git-ignored) with a template database generated once
// with SQL (generate_series) straight into EPU's tables, after its migrations.
// Each run clones the template into a fresh working database (FILE_COPY: a
// file copy, seconds), so every run starts from the same rows. The template is
// generated again when the migrations, this generator or the volume change, or
// when it is older than 30 days (sessions and event times are relative to it).
//
// Ids are deterministic (md5 of a label cast to uuid), so the bench and the
// twin find rows without carrying lists around: member n is md5('m' || n),
// event k md5('e' || k), booker n md5('b' || n) with session md5('bs' || n).
// This is fixture setup, not a measured path: it may write EPU's tables.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { root } from './lib.mjs';

const dist = (p) => import(path.join(root, 'dist/src', p));

export const DATA_DIR = path.join(root, 'scripts', 'bench', '.data');
const TEMPLATE = 'epu_bench_template';
export const WORKING = 'epu_bench';
const MAX_AGE_DAYS = 30;

/** Volume by default: what the issue asks for as a floor. */
export const DEFAULT_VOLUME = {
  members: 25_000,
  hosts: 200,
  events: 1_000,
  photos: 200_000,
  galleryPhotos: 5_000,
  /** Bookings on each hot event before the run (one hot event per booking run: twin, EPU, EPU at WEB_CONCURRENCY 1 and 2, so each books an identical event). */
  hotBookings: 20_000,
  hotEvents: 4,
  /** Bookings (30 per event, 1 in 10 cancelled) on every other event. */
  bookingsPerEvent: 30,
  galleryBookings: 120,
  /** Users with a session who have booked nothing: one per booking request. */
  bookers: 80_000,
  auditEntries: 50_000,
};

export const uuidOf = (label) => {
  const h = crypto.createHash('md5').update(label).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** Event numbers: 1 is the gallery event, 2..1+hotEvents the hot booking events. */
export const ids = (volume) => ({
  galleryEvent: uuidOf('e1'),
  hotEvents: Array.from({ length: volume.hotEvents }, (_, i) => uuidOf(`e${i + 2}`)),
  /** A member who booked the gallery event: the signed-in viewer. */
  viewer: {
    uid: uuidOf(`m${volume.members - volume.galleryBookings + 1}`),
    sid: uuidOf(`s${volume.members - volume.galleryBookings + 1}`),
  },
  booker: (n) => ({ uid: uuidOf(`b${n}`), sid: uuidOf(`bs${n}`) }),
});

function generationSql(v) {
  const hot = v.hotEvents;
  const firstOther = hot + 2;
  const viewerFrom = v.members - v.galleryBookings + 1;
  // Separate statements, with ANALYZE before the joins: fresh tables have no statistics, and the planner would loop.
  return `
INSERT INTO users (id, email, name, password_hash, created_at)
  SELECT md5('m' || n)::uuid, 'member-' || n || '@bench.invalid', 'Member ' || n, 'x', now() - (n % 700) * interval '1 day'
  FROM generate_series(1, ${v.members}) AS n;
INSERT INTO users (id, email, name, password_hash)
  SELECT md5('b' || n)::uuid, 'booker-' || n || '@bench.invalid', 'Booker ' || n, 'x' FROM generate_series(1, ${v.bookers}) AS n;
INSERT INTO sessions (id, user_id, expires_at)
  SELECT md5('s' || n)::uuid, md5('m' || n)::uuid, now() + interval '365 days' FROM generate_series(1, ${v.members}) AS n;
INSERT INTO sessions (id, user_id, expires_at)
  SELECT md5('bs' || n)::uuid, md5('b' || n)::uuid, now() + interval '365 days' FROM generate_series(1, ${v.bookers}) AS n;

-- Event 1: the gallery event (public, in two days). 2..${hot + 1}: the hot booking events (public, in 45 days,
-- after the list's first pages). The rest: spread from 30 days ago to a year ahead; 1 in 20 private, 1 in 20 unlisted.
INSERT INTO events (id, slug, owner_id, title, description, venue, starts_at, ends_at, capacity, visibility, created_at, updated_at)
  SELECT md5('e' || k)::uuid, 'bench-event-' || k, md5('m' || (1 + k % ${v.hosts}))::uuid,
    CASE WHEN k = 1 THEN 'Gallery night' WHEN k <= ${hot + 1} THEN 'Hot event ' || k ELSE 'Bench event ' || k END,
    'A few words about the event, the room and the programme of evening ' || k || '.', 'Hall ' || (k % 40), s, s + interval '3 hours',
    CASE WHEN k = 1 THEN 500 WHEN k <= ${hot + 1} THEN 100000 WHEN k % 2 = 0 THEN NULL ELSE 30 + (k * 13) % 470 END,
    CASE WHEN k <= ${hot + 1} THEN 'public' WHEN k % 20 = 7 THEN 'private' WHEN k % 20 = 13 THEN 'unlisted' ELSE 'public' END,
    now() - interval '40 days', now() - interval '40 days'
  FROM generate_series(1, ${v.events}) AS k,
    LATERAL (SELECT date_trunc('minute', CASE WHEN k = 1 THEN now() + interval '2 days'
      WHEN k <= ${hot + 1} THEN now() + interval '45 days' + k * interval '1 minute'
      ELSE now() + ((k * 7919) % 395 - 30) * interval '1 day' + (k % 24) * interval '1 hour' END) AS s) AS t;

INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, sha256, width, height, taken_at, created_at, ready_at)
  SELECT md5('e1')::uuid, md5('m' || (1 + 1 % ${v.hosts}))::uuid, 'ready',
    'originals/2026/01/' || gen_random_uuid() || '.jpg', 'derived/2026/01/' || gen_random_uuid() || '.webp', 'derived/2026/01/' || gen_random_uuid() || '.webp',
    'image/jpeg', 2000000 + p * 7, repeat('a', 64), CASE WHEN p % 3 = 0 THEN 3000 ELSE 4000 END, CASE WHEN p % 3 = 0 THEN 4000 ELSE 3000 END,
    CASE WHEN p % 4 = 0 THEN now() - interval '3 days' - p * interval '1 minute' END,
    date_trunc('milliseconds', now()) - p * interval '1 second', now()
  FROM generate_series(1, ${v.galleryPhotos}) AS p;
INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, sha256, width, height, failure_reason, created_at, ready_at)
  SELECT md5('e' || (${firstOther} + p % ${v.events - firstOther + 1}))::uuid, md5('m' || (1 + p % ${v.members}))::uuid, st,
    'originals/2026/01/' || gen_random_uuid() || '.jpg',
    CASE WHEN st = 'ready' THEN 'derived/2026/01/' || gen_random_uuid() || '.webp' END,
    CASE WHEN st = 'ready' THEN 'derived/2026/01/' || gen_random_uuid() || '.webp' END,
    'image/jpeg', 1500000 + p, repeat('b', 64), 4000, 3000, CASE WHEN st = 'failed' THEN 'unreadable image' END,
    date_trunc('milliseconds', now()) - p * interval '1 second', CASE WHEN st = 'ready' THEN now() END
  FROM generate_series(1, ${v.photos - v.galleryPhotos}) AS p,
    LATERAL (SELECT CASE WHEN p % 100 < 90 THEN 'ready' WHEN p % 100 < 97 THEN 'processing' ELSE 'failed' END AS st) AS s;

INSERT INTO bookings (event_id, user_id, status, created_at)
  SELECT md5('e' || k)::uuid, md5('m' || n)::uuid, 'confirmed', date_trunc('milliseconds', now()) - interval '20 days' + n * interval '10 ms'
  FROM generate_series(2, ${hot + 1}) AS k, generate_series(1, ${v.hotBookings}) AS n;
INSERT INTO bookings (event_id, user_id, status, created_at)
  SELECT md5('e1')::uuid, md5('m' || n)::uuid, 'confirmed', date_trunc('milliseconds', now()) - interval '10 days' + n * interval '1 second'
  FROM generate_series(${viewerFrom}, ${v.members}) AS n;
INSERT INTO bookings (event_id, user_id, status, created_at, cancelled_at)
  SELECT md5('e' || k)::uuid, md5('m' || (1 + (k * 37 + j * 101) % ${v.members}))::uuid,
    CASE WHEN j % 10 = 0 THEN 'cancelled' ELSE 'confirmed' END,
    date_trunc('milliseconds', now()) - interval '30 days' + (k * 100 + j) * interval '1 second',
    CASE WHEN j % 10 = 0 THEN now() - interval '1 day' END
  FROM generate_series(${firstOther}, ${v.events}) AS k, generate_series(1, ${v.bookingsPerEvent}) AS j;
ANALYZE users, events, bookings, photos;

-- A capped event has exactly capacity places; each confirmed booking holds one.
INSERT INTO event_places (event_id, place_no, booking_id)
  SELECT e.id, n, b.id
  FROM events e CROSS JOIN LATERAL generate_series(1, e.capacity) AS n
  LEFT JOIN (SELECT id, event_id, row_number() OVER (PARTITION BY event_id ORDER BY created_at, id) AS rn FROM bookings WHERE status = 'confirmed') b
    ON b.event_id = e.id AND b.rn = n
  WHERE e.capacity IS NOT NULL;

INSERT INTO audit_log (id, at, action, actor_id, subject_type, subject_id, request_id, metadata)
  SELECT gen_random_uuid(), date_trunc('milliseconds', now()) - n * interval '1 minute', 'booking.create', md5('m' || (1 + n % ${v.members}))::uuid,
    'booking', gen_random_uuid()::text, 'req-' || n, jsonb_build_object('eventId', md5('e' || (1 + n % ${v.events}))::uuid)
  FROM generate_series(1, ${v.auditEntries}) AS n;
`
    .split(/;\n/)
    .map((statement) => statement.trim())
    .filter(Boolean);
}

/** What makes a generated template reusable: the migrations, the generating SQL, the volume. */
async function fixtureKey(volume) {
  const { readMigrations } = await dist('platform/db/migrate.js');
  const hash = crypto.createHash('sha256');
  for (const m of readMigrations()) hash.update(`${m.version}:${m.checksum}\n`);
  hash.update(generationSql(volume).join(';\n'));
  hash.update(JSON.stringify(volume));
  return hash.digest('hex').slice(0, 16);
}

const quiet = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return this;
  },
};

/**
 * Starts the bench's embedded PostgreSQL (EPU's own way, so the same settings
 * a user gets), with pg_stat_statements loaded when `statements` is true
 * (restarting it once if that changed), makes sure the template is current,
 * and clones it into a fresh working database. Returns { url, adminUrl,
 * dataDir, stop, generatedAt, regenerated }.
 */
export async function prepareDatabase({ port, volume = DEFAULT_VOLUME, statements = true, log = console.log }) {
  const { ensureEmbeddedPostgres } = await dist('platform/db/embedded.js');
  const { migrate } = await dist('platform/db/migrate.js');
  fs.mkdirSync(DATA_DIR, { recursive: true, mode: 0o755 });
  const release = lock();
  let database = await ensureEmbeddedPostgres({ dataDir: DATA_DIR, port, logger: quiet });
  if (!database.owned) log(`  (an embedded PostgreSQL was already running on port ${port} for ${DATA_DIR}; using it as it is)`);
  const adminUrl = database.url.replace(/\/epu$/, '/postgres');
  const admin = async (fn) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };

  const wanted = statements ? 'pg_stat_statements' : '';
  const loaded = await admin(async (c) => (await c.query('SHOW shared_preload_libraries')).rows[0].shared_preload_libraries);
  if (loaded !== wanted && database.owned) {
    await admin((c) =>
      c.query(
        statements ? `ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'` : 'ALTER SYSTEM RESET shared_preload_libraries',
      ),
    );
    await database.stop();
    database = await ensureEmbeddedPostgres({ dataDir: DATA_DIR, port, logger: quiet });
  }

  const key = await fixtureKey(volume);
  const recordFile = path.join(DATA_DIR, 'fixture.json');
  const record = fs.existsSync(recordFile) ? JSON.parse(fs.readFileSync(recordFile, 'utf8')) : null;
  const exists = await admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE])).rowCount > 0);
  const fresh = record && record.key === key && exists && Date.now() - Date.parse(record.generatedAt) < MAX_AGE_DAYS * 86_400_000;
  const templateUrl = database.url.replace(/\/epu$/, `/${TEMPLATE}`);
  let regenerated = false;
  if (!fresh) {
    const started = performance.now();
    log(
      `  generating the bench data (${volume.photos.toLocaleString('en')} photos, ${volume.events} events, ${(volume.hotBookings * volume.hotEvents + volume.bookingsPerEvent * (volume.events - volume.hotEvents - 1) + volume.galleryBookings).toLocaleString('en')} bookings); kept in ${DATA_DIR} for the next runs`,
    );
    await admin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${TEMPLATE}`);
    });
    await migrate(templateUrl, quiet);
    const client = new pg.Client({ connectionString: templateUrl });
    await client.connect();
    try {
      if (statements) await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await client.query('SET synchronous_commit = off');
      for (const statement of generationSql(volume)) {
        const t0 = performance.now();
        await client.query(statement);
        if (process.env.BENCH_DEBUG)
          log(`    ${((performance.now() - t0) / 1000).toFixed(1)} s: ${statement.replace(/\s+/g, ' ').slice(0, 70)}`);
      }
      await client.query('VACUUM (ANALYZE)');
      await client.query('CHECKPOINT');
    } finally {
      await client.end();
    }
    fs.writeFileSync(recordFile, JSON.stringify({ key, generatedAt: new Date().toISOString(), volume }, null, 2) + '\n');
    regenerated = true;
    log(`  generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const generatedAt = fresh ? record.generatedAt : JSON.parse(fs.readFileSync(recordFile, 'utf8')).generatedAt;

  // A fresh working copy; the events move forward by the template's age, so "upcoming" means the same as on the day it was made.
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${WORKING} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${WORKING} TEMPLATE ${TEMPLATE} STRATEGY FILE_COPY`);
  });
  const url = database.url.replace(/\/epu$/, `/${WORKING}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `UPDATE events SET starts_at = starts_at + shift, ends_at = ends_at + shift
       FROM (SELECT make_interval(mins => floor(extract(epoch FROM now() - $1::timestamptz) / 60)::int) AS shift) AS s`,
      [generatedAt],
    );
    if (statements) await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  } finally {
    await client.end();
  }
  return {
    url,
    adminUrl,
    dataDir: DATA_DIR,
    pgDataDir: path.join(DATA_DIR, 'pg'),
    async stop() {
      await database.stop();
      release();
    },
    generatedAt,
    regenerated,
    statements,
  };
}

/** One bench at a time owns the data directory: a second one would drop the first one's working database. */
function lock() {
  const file = path.join(DATA_DIR, 'bench.pid');
  try {
    const holder = Number(fs.readFileSync(file, 'utf8'));
    process.kill(holder, 0);
    throw new Error(`another bench (pid ${holder}) is using ${DATA_DIR}; wait for it to finish`);
  } catch (error) {
    if (error.code !== 'ENOENT' && error.code !== 'ESRCH') throw error;
  }
  fs.writeFileSync(file, String(process.pid));
  return () => fs.rmSync(file, { force: true });
}

/** The postmaster's pid (first line of postmaster.pid). */
export function postmasterPid(pgDataDir) {
  return Number(fs.readFileSync(path.join(pgDataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}
