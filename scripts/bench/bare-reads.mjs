// The bare handlers that `npm run bench` measures EPU's hot read paths against:
// node:http and pg only (no framework, no logging, metrics, security headers
// or sessions), running the very SQL strings the repositories run and
// rendering the same bytes with EPU's own built view and mapping code, for an
// anonymous viewer of a public event:
//   GET /api/v1/events               GET /api/v1/events/:id/photos
//   GET /events/:id                  (the HTML page with its gallery)
// Environment: PORT, DATABASE_URL, PUBLIC_URL, STORAGE_ROOT, SECRET_KEY, POOL_MAX.
import http from 'node:http';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const dist = (p) => import(path.join(root, 'dist/src', p));
const { EVENT_QUERIES } = await dist('features/events/events.repository.js');
const { PHOTO_QUERIES } = await dist('features/photos/photos.repository.js');
const { toEventJson } = await dist('features/events/events.service.js');
const { signedUrlLifetimeSeconds } = await dist('features/photos/photos.service.js');
const { eventPage } = await dist('features/events/views/event-pages.js');
const { gallerySection } = await dist('features/photos/views/gallery.js');
const { encodeCursor } = await dist('platform/http/pagination.js');
const { createKeyring } = await dist('platform/security/keyring.js');
const { createFileStorage } = await dist('platform/storage/file-storage.js');

pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 20) });
const storage = createFileStorage({
  root: process.env.STORAGE_ROOT,
  publicUrl: new URL(process.env.PUBLIC_URL),
  keyring: createKeyring([process.env.SECRET_KEY]),
});
const MAX_UPLOAD_MIB = 25;
const cacheable = 'public, max-age=30, stale-while-revalidate=300';

function page(rows, limit, key) {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeCursor(key(items.at(-1))) : null };
}

async function photoJson(row) {
  const lifetime = { expiresInSeconds: signedUrlLifetimeSeconds() };
  const [thumbnailUrl, displayUrl, url] = await Promise.all([
    storage.signedUrl(row.thumbnail_key, lifetime),
    storage.signedUrl(row.display_key, lifetime),
    storage.signedUrl(row.original_key, lifetime),
  ]);
  return {
    id: row.id,
    eventId: row.event_id,
    uploaderId: row.uploader_id,
    uploader: row.uploader_id && row.uploader_name ? { id: row.uploader_id, name: row.uploader_name } : null,
    status: row.status,
    width: row.width,
    height: row.height,
    bytes: row.bytes,
    contentType: row.content_type,
    takenAt: row.taken_at?.toISOString() ?? null,
    thumbnailUrl,
    url,
    displayUrl,
    failureReason: null,
    createdAt: row.created_at.toISOString(),
  };
}

async function gallery(eventId, limit) {
  const {
    rows: [event],
  } = await pool.query(EVENT_QUERIES.byId, [eventId]);
  if (!event || event.visibility !== 'public') return null;
  const { rows } = await pool.query(PHOTO_QUERIES.ready, [event.id, limit + 1]);
  const p = page(rows, limit, (r) => [r.created_at.toISOString(), r.id]);
  return { event, items: await Promise.all(p.items.map(photoJson)), nextCursor: p.nextCursor };
}

function send(response, status, type, body, cacheControl) {
  response.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': cacheControl,
    vary: 'Cookie',
  });
  response.end(body);
}

const server = http.createServer(async (request, response) => {
  try {
    const url = request.url ?? '/';
    let match;
    if (url === '/api/v1/events') {
      const { rows } = await pool.query(EVENT_QUERIES.upcomingPublic, [new Date(), 21]);
      const p = page(rows, 20, (r) => [r.starts_at.toISOString(), r.id]);
      return send(
        response,
        200,
        'application/json; charset=utf-8',
        JSON.stringify({ items: p.items.map(toEventJson), nextCursor: p.nextCursor }),
        cacheable,
      );
    }
    if ((match = /^\/api\/v1\/events\/([0-9a-f-]{36})\/photos$/.exec(url))) {
      const g = await gallery(match[1], 20);
      if (!g) return send(response, 404, 'application/json; charset=utf-8', '{}', 'no-store');
      return send(
        response,
        200,
        'application/json; charset=utf-8',
        JSON.stringify({ items: g.items, nextCursor: g.nextCursor }),
        cacheable,
      );
    }
    if ((match = /^\/events\/([0-9a-f-]{36})$/.exec(url))) {
      const g = await gallery(match[1], 24);
      if (!g) return send(response, 404, 'text/html; charset=utf-8', 'not found', 'no-store');
      const extra = gallerySection({
        eventId: g.event.id,
        photos: g.items,
        nextCursor: g.nextCursor,
        canUpload: false,
        uploadsEnabled: true,
        maxUploadMiB: MAX_UPLOAD_MIB,
      });
      const body = eventPage({
        viewer: null,
        event: toEventJson(g.event),
        canManage: false,
        myBooking: null,
        attendees: null,
        notice: undefined,
        problem: undefined,
        extra,
      });
      return send(response, 200, 'text/html; charset=utf-8', body, cacheable);
    }
    send(response, 404, 'text/plain', 'not found', 'no-store');
  } catch (error) {
    send(response, 500, 'text/plain', String(error), 'no-store');
  }
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('bare handlers ready\n'));
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
