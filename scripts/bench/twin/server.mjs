// The bench's twin: each job EPU's hot paths do, written from scratch the way a
// performance engineer would write it, with node:http and pg only (no EPU
// code, no EPU SQL): one prepared statement per request, the minimum columns,
// the same response contract (JSON fields, HTML content, cursors, signed
// /media/ links). No framework, logs, metrics, security headers or caches
// beyond remembering this hour's link signatures, as EPU's file storage does.
//   GET  /livez
//   GET  /api/v1/events                       first page of upcoming public events
//   GET  /api/v1/events/:id/photos[?cursor=]  gallery JSON (anonymous)
//   GET  /events/:id                          event page with its gallery (anonymous, or a signed-in attendee)
//   POST /api/v1/events/:id/bookings          session check, capacity-safe claim, booking and audit row: one statement, one commit
// The bookedCount is the sum of the event's rows in event_booking_counts,
// which the schema keeps up to date in every booking's own transaction (a
// trigger): the cheapest read the schema offers, as any engineer would use.
// Environment: PORT, DATABASE_URL, PUBLIC_URL, SECRET_KEY, POOL_MAX, PUBLIC_DIR, MAX_UPLOAD_MIB.
import crypto from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { assetLinks, renderEventPage } from './page.mjs';
import { open, sessionKeys, sessionToken } from './session.mjs';

const env = process.env;
pg.types.setTypeParser(20, Number); // bigint columns (photo bytes) as numbers
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.POOL_MAX ?? 10), application_name: 'bench-twin' });
const keys = sessionKeys(env.SECRET_KEY);
const mediaKey = Buffer.from(crypto.hkdfSync('sha256', env.SECRET_KEY.split(',')[0].trim(), 'epu', 'epu-media-v1', 32));
const mediaBase = `${env.PUBLIC_URL.replace(/\/+$/, '')}/media/`;
const assets = assetLinks(env.PUBLIC_DIR);
const maxUploadMiB = Number(env.MAX_UPLOAD_MIB ?? 25);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Links expire at the end of the next full hour, so a key's link is the same all hour: sign each once per hour.
let linkHour = 0;
let links = new Map();
function signedUrl(key, expiresAt) {
  if (expiresAt !== linkHour || links.size > 50_000) {
    linkHour = expiresAt;
    links = new Map();
  }
  let url = links.get(key);
  if (url === undefined) {
    const sig = crypto
      .createHmac('sha256', mediaKey)
      .update(JSON.stringify([key, expiresAt, null]))
      .digest('base64url');
    url = `${mediaBase}${key}?exp=${expiresAt}&sig=${sig}`;
    links.set(key, url);
  }
  return url;
}
const linkExpiry = () => (Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 3_600_000) / 1000;

const cursorOf = (date, id) => Buffer.from(JSON.stringify([date.toISOString(), id])).toString('base64url');
function parseCursor(cursor) {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return typeof at === 'string' && !Number.isNaN(Date.parse(at)) && UUID.test(id) ? [at, id] : null;
  } catch {
    return null;
  }
}

const PHOTO_COLUMNS = `p.id AS photo_id, p.uploader_id, up.name AS uploader_name, p.width, p.height, p.bytes, p.content_type, p.taken_at, p.thumbnail_key, p.display_key, p.original_key, p.location_shared, p.created_at AS photo_created_at`;
const READY_PHOTOS = (after, event = 'e') => `SELECT ${PHOTO_COLUMNS} FROM photos p LEFT JOIN users up ON up.id = p.uploader_id
  WHERE p.event_id = ${event}.id AND p.status = 'ready'${after ? ' AND (p.created_at, p.id) < ($3::timestamptz, $4::uuid)' : ''}
  ORDER BY p.created_at DESC, p.id DESC LIMIT $2`;
const STATEMENTS = {
  list: `SELECT e.id, e.slug, e.title, e.description, e.venue, e.starts_at, e.ends_at, e.capacity, e.visibility, e.time_zone, e.cover_photo_id, e.owner_id, o.name AS owner_name,
      e.created_at, e.updated_at, (SELECT COALESCE(sum(c.booked), 0) FROM event_booking_counts c WHERE c.event_id = e.id)::int AS booked
    FROM events e JOIN users o ON o.id = e.owner_id
    WHERE e.visibility = 'public' AND e.starts_at >= now() ORDER BY e.starts_at, e.id LIMIT 21`,
  // One row per photo, or one row with null photo columns: the event's visibility tells 404 from an empty gallery.
  gallery: `SELECT e.visibility, p.* FROM events e LEFT JOIN LATERAL (${READY_PHOTOS(false)}) p ON true WHERE e.id = $1`,
  galleryAfter: `SELECT e.visibility, p.* FROM events e LEFT JOIN LATERAL (${READY_PHOTOS(true)}) p ON true WHERE e.id = $1`,
  // The event (counted once, hence MATERIALIZED), the viewer behind the session if it is live, whether they booked, the uploads flag, the photos.
  page: `WITH viewer AS MATERIALIZED (
      SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = $3 AND s.user_id = $4 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.deleted_at IS NULL),
    ev AS MATERIALIZED (
      SELECT e.id, e.title, e.description, e.venue, e.starts_at, e.ends_at, e.time_zone, e.capacity, e.visibility, e.owner_id, o.name AS owner_name,
        (SELECT COALESCE(sum(c.booked), 0) FROM event_booking_counts c WHERE c.event_id = e.id)::int AS booked,
        EXISTS (SELECT 1 FROM bookings b JOIN viewer v ON v.id = b.user_id WHERE b.event_id = e.id AND b.status = 'confirmed') AS viewer_booked
      FROM events e JOIN users o ON o.id = e.owner_id WHERE e.id = $1)
    SELECT ev.*, v.id AS viewer_id, v.name AS viewer_name, v.role AS viewer_role,
      (SELECT enabled AND rollout_percentage = 100 FROM feature_flags WHERE name = 'photos.uploads') AS uploads, p.*
    FROM ev LEFT JOIN viewer v ON true LEFT JOIN LATERAL (${READY_PHOTOS(false, 'ev')}) p ON true`,
  book: bookStatement('SKIP LOCKED'),
  // Every free place is locked by bookings in flight: wait for them, one may roll back.
  bookWaiting: bookStatement(''),
  existing: `SELECT id, created_at FROM bookings WHERE event_id = $1 AND user_id = $2 AND status = 'confirmed'`,
};

/** The whole booking as one statement: one round trip, one transaction, one commit. */
function bookStatement(lockMode) {
  return `WITH viewer AS (
      SELECT s.user_id AS id, u.role FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.deleted_at IS NULL),
    existing AS (
      SELECT b.id, b.created_at FROM bookings b JOIN viewer v ON v.id = b.user_id WHERE b.event_id = $3 AND b.status = 'confirmed'),
    ev AS (
      SELECT e.id, e.capacity, e.starts_at > now() AS open FROM events e, viewer v
      WHERE e.id = $3 AND (e.visibility <> 'private' OR e.owner_id = v.id OR v.role = 'admin' OR EXISTS (SELECT 1 FROM existing))),
    place AS (
      SELECT p.place_no FROM event_places p
      WHERE p.event_id = $3 AND p.booking_id IS NULL AND EXISTS (SELECT 1 FROM ev WHERE ev.open) AND NOT EXISTS (SELECT 1 FROM existing)
      ORDER BY p.place_no LIMIT 1 FOR UPDATE ${lockMode}),
    booking AS (
      INSERT INTO bookings (event_id, user_id, status)
      SELECT ev.id, v.id, 'confirmed' FROM ev, viewer v
      WHERE ev.open AND NOT EXISTS (SELECT 1 FROM existing) AND (ev.capacity IS NULL OR EXISTS (SELECT 1 FROM place))
      RETURNING id, created_at),
    claim AS (
      UPDATE event_places p SET booking_id = booking.id FROM booking, place WHERE p.event_id = $3 AND p.place_no = place.place_no),
    audit AS (
      INSERT INTO audit_log (id, action, actor_id, subject_type, subject_id, request_id, metadata)
      SELECT gen_random_uuid(), 'booking.create', $2, 'booking', booking.id::text, $4, jsonb_build_object('eventId', $3::text) FROM booking)
    SELECT EXISTS (SELECT 1 FROM viewer) AS signed_in, ev.capacity, ev.open,
      COALESCE(b.id, x.id) AS booking_id, COALESCE(b.created_at, x.created_at) AS created_at, b.id IS NOT NULL AS created
    FROM (SELECT 1) AS one LEFT JOIN ev ON true LEFT JOIN booking b ON true LEFT JOIN existing x ON true`;
}

const query = (name, values) => pool.query({ name, text: STATEMENTS[name], values });

function photoJson(row, eventId, expiresAt) {
  return {
    id: row.photo_id,
    eventId,
    uploaderId: row.uploader_id,
    uploader: row.uploader_id && row.uploader_name ? { id: row.uploader_id, name: row.uploader_name } : null,
    status: 'ready',
    width: row.width,
    height: row.height,
    bytes: row.bytes,
    contentType: row.content_type,
    takenAt: row.taken_at === null ? null : row.taken_at.toISOString(),
    thumbnailUrl: signedUrl(row.thumbnail_key, expiresAt),
    url: signedUrl(row.original_key, expiresAt),
    displayUrl: signedUrl(row.display_key, expiresAt),
    failureReason: null,
    locationShared: row.location_shared,
    createdAt: row.photo_created_at.toISOString(),
  };
}

const PUBLIC = 'public, max-age=30, stale-while-revalidate=300';
const PRIVATE = 'private, no-store';
const JSON_TYPE = 'application/json; charset=utf-8';
function send(response, status, type, body, cacheControl) {
  response.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': cacheControl,
    vary: 'Cookie',
  });
  response.end(body);
}
const fail = (response, status, code) => send(response, status, JSON_TYPE, JSON.stringify({ error: { code, message: code } }), PRIVATE);

async function list(response) {
  const { rows } = await query('list', []);
  const items = rows.slice(0, 20).map((r) => ({
    id: r.id,
    slug: r.slug,
    title: r.title,
    description: r.description,
    venue: r.venue,
    startsAt: r.starts_at.toISOString(),
    endsAt: r.ends_at === null ? null : r.ends_at.toISOString(),
    capacity: r.capacity,
    bookedCount: r.booked,
    visibility: r.visibility,
    timeZone: r.time_zone,
    cover: r.cover_photo_id ? { photoId: r.cover_photo_id } : null,
    owner: { id: r.owner_id, name: r.owner_name },
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  }));
  const last = rows.length > 20 ? rows[19] : null;
  send(response, 200, JSON_TYPE, JSON.stringify({ items, nextCursor: last && cursorOf(last.starts_at, last.id) }), PUBLIC);
}

async function gallery(response, eventId, search) {
  const params = new URLSearchParams(search);
  const limit = params.has('limit') ? Number(params.get('limit')) : 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return fail(response, 400, 'validation_failed');
  const cursor = params.get('cursor');
  const after = cursor ? parseCursor(cursor) : null;
  if (cursor && !after) return fail(response, 400, 'invalid_cursor');
  const { rows } = after
    ? await query('galleryAfter', [eventId, limit + 1, after[0], after[1]])
    : await query('gallery', [eventId, limit + 1]);
  if (rows.length === 0 || rows[0].visibility === 'private') return fail(response, 404, 'not_found');
  const photos = rows[0].photo_id === null ? [] : rows;
  const expiresAt = linkExpiry();
  const items = photos.slice(0, limit).map((r) => photoJson(r, eventId, expiresAt));
  const last = photos.length > limit ? photos[limit - 1] : null;
  const body = JSON.stringify({ items, nextCursor: last && cursorOf(last.photo_created_at, last.photo_id) });
  send(response, 200, JSON_TYPE, body, rows[0].visibility === 'public' ? PUBLIC : PRIVATE);
}

async function eventPage(request, response, eventId) {
  const token = sessionToken(request.headers.cookie);
  const claim = token ? open(keys, token) : null;
  const { rows } = await query('page', [eventId, 25, claim?.sid ?? null, claim && UUID.test(claim.uid) ? claim.uid : null]);
  const e = rows[0];
  const viewer = e?.viewer_id ? { id: e.viewer_id, name: e.viewer_name, role: e.viewer_role, booked: e.viewer_booked } : null;
  if (!e || (e.visibility === 'private' && !(viewer && (viewer.booked || viewer.id === e.owner_id || viewer.role === 'admin'))))
    return send(response, 404, 'text/html; charset=utf-8', 'not found', PRIVATE);
  if (viewer && (viewer.id === e.owner_id || viewer.role === 'admin'))
    return send(response, 501, 'text/plain', 'the twin does not render the host view', PRIVATE);
  const photos = e.photo_id === null ? [] : rows;
  const expiresAt = linkExpiry();
  const shown = photos.slice(0, 24).map((r) => ({
    id: r.photo_id,
    uploaderName: r.uploader_name,
    width: r.width,
    height: r.height,
    takenAt: r.taken_at,
    createdAt: r.photo_created_at,
    thumbnailUrl: signedUrl(r.thumbnail_key, expiresAt),
    displayUrl: signedUrl(r.display_key, expiresAt),
  }));
  const last = photos.length > 24 ? photos[23] : null;
  const body = renderEventPage({
    assets,
    event: {
      id: e.id,
      title: e.title,
      description: e.description,
      venue: e.venue,
      startsAt: e.starts_at,
      endsAt: e.ends_at,
      timeZone: e.time_zone,
      capacity: e.capacity,
      booked: e.booked,
      visibility: e.visibility,
      ownerName: e.owner_name,
      ownerId: e.owner_id,
    },
    viewer,
    photos: shown,
    nextCursor: last && cursorOf(last.photo_created_at, last.photo_id),
    uploadsEnabled: e.uploads === true,
    maxUploadMiB,
    publicUrl: env.PUBLIC_URL,
  });
  send(response, 200, 'text/html; charset=utf-8', body, !viewer && e.visibility === 'public' ? PUBLIC : PRIVATE);
}

async function book(request, response, eventId) {
  const token = sessionToken(request.headers.cookie);
  const claim = token ? open(keys, token) : null;
  if (!claim || !UUID.test(claim.sid) || !UUID.test(claim.uid)) return fail(response, 401, 'not_signed_in');
  const requestId = request.headers['x-request-id'] ?? crypto.randomUUID();
  const values = [claim.sid, claim.uid, eventId, requestId];
  let r;
  try {
    r = (await query('book', values)).rows[0];
    if (r.signed_in && r.open && r.booking_id === null && r.capacity !== null) r = (await query('bookWaiting', values)).rows[0];
  } catch (error) {
    if (error.code !== '23505') throw error; // the same user booking twice at once: one wins, the other answers with it
    const { rows } = await query('existing', [eventId, claim.uid]);
    r = { signed_in: true, open: true, booking_id: rows[0]?.id ?? null, created_at: rows[0]?.created_at, created: false };
    if (!r.booking_id) throw error;
  }
  if (!r.signed_in) return fail(response, 401, 'not_signed_in');
  if (r.open === null) return fail(response, 404, 'not_found');
  if (r.booking_id === null) return fail(response, 409, r.open ? 'event_full' : 'booking_closed');
  const booking = { id: r.booking_id, status: 'confirmed', eventId, createdAt: r.created_at.toISOString() };
  send(response, r.created ? 201 : 200, JSON_TYPE, JSON.stringify({ booking }), PRIVATE);
}

const LIVEZ = JSON.stringify({ status: 'ok' });
async function handle(request, response) {
  try {
    const url = request.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const parts = path.split('/');
    if (request.method === 'GET' && path === '/livez') return send(response, 200, JSON_TYPE, LIVEZ, 'no-store');
    if (request.method === 'GET' && path === '/api/v1/events') return await list(response);
    if (parts.length === 6 && parts[1] === 'api' && parts[3] === 'events' && UUID.test(parts[4])) {
      if (request.method === 'GET' && parts[5] === 'photos') return await gallery(response, parts[4], q < 0 ? '' : url.slice(q + 1));
      if (request.method === 'POST' && parts[5] === 'bookings') return await book(request, response, parts[4]);
    }
    if (request.method === 'GET' && parts.length === 3 && parts[1] === 'events' && UUID.test(parts[2]))
      return await eventPage(request, response, parts[2]);
    send(response, 404, 'text/plain', 'not found', PRIVATE);
  } catch (error) {
    process.stderr.write(`twin: ${error.stack}\n`);
    if (!response.headersSent) send(response, 500, 'text/plain', 'internal error', PRIVATE);
  }
}
// handle() catches its own errors: its promise never rejects.
const server = http.createServer((request, response) => void handle(request, response));
server.keepAliveTimeout = 65_000;
server.listen(Number(env.PORT), '127.0.0.1', () => process.stdout.write('twin ready\n'));
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
