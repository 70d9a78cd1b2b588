import type { Selectable } from 'kysely';
import type { PhotosTable } from '../../platform/db/schema.js';
import { fixedRows, type Db, type Executor } from '../../platform/db/pool.js';
import { liveSessionFrom } from '../accounts/accounts.types.js';

/** A photo as the repository returns it: every column but ready_at; reads that join the uploader add their name. */
export type PhotoRow = Omit<Selectable<PhotosTable>, 'ready_at'> & { uploader_name?: string | null };

/** A photo shown in the viewer, with its neighbours in gallery order (newest first) and its place in it. */
export type ViewerPhotoRow = PhotoRow & {
  newer_id: string | null;
  older_id: string | null;
  /** Ready photos of the event newer than this one: its position is this + 1. */
  newer_count: number;
  ready_count: number;
};

const COLUMNS = [
  'id',
  'event_id',
  'uploader_id',
  'status',
  'original_key',
  'thumbnail_key',
  'display_key',
  'content_type',
  'bytes',
  'sha256',
  'width',
  'height',
  'orientation',
  'taken_at',
  'failure_reason',
  'location_shared',
  'created_at',
] as const;

/**
 * What a gallery page reads of each photo: not what its query fixes (the
 * event, the status: ready, so no failure) nor what it never shows (the
 * digest, the EXIF orientation). Each column is work for PostgreSQL and for
 * the parser, on 21 rows a page.
 */
const NOT_IN_GALLERY = [
  'event_id',
  'status',
  'failure_reason',
  'sha256',
  'orientation',
] as const satisfies readonly (typeof COLUMNS)[number][];
const GALLERY_COLUMNS = COLUMNS.filter((column) => !(NOT_IN_GALLERY as readonly string[]).includes(column));

/** A ready photo as a gallery page reads it. */
export type GalleryPhotoRow = Omit<PhotoRow, (typeof NOT_IN_GALLERY)[number]>;

// The uploader's name by join (users' primary key), for the gallery's alt texts and the viewer.
const selectPhotos = (columns: readonly string[]) => `SELECT ${columns.map((column) => `p.${column}`).join(', ')}, u.name AS uploader_name
FROM photos p LEFT JOIN users u ON u.id = p.uploader_id`;
const SELECT_PHOTOS = selectPhotos(COLUMNS);
// Gallery order: (created_at, id) descending, on photos_gallery_idx.
const NEIGHBOURS = (p: string) => `(SELECT n.id FROM photos n WHERE n.event_id = ${p}.event_id AND n.status = 'ready'
    AND (n.created_at, n.id) > (${p}.created_at, ${p}.id) ORDER BY n.created_at, n.id LIMIT 1) AS newer_id,
  (SELECT o.id FROM photos o WHERE o.event_id = ${p}.event_id AND o.status = 'ready'
    AND (o.created_at, o.id) < (${p}.created_at, ${p}.id) ORDER BY o.created_at DESC, o.id DESC LIMIT 1) AS older_id`;
// The photo's place in its gallery and the gallery's size. The size is kept per event (event_photo_counts,
// migration 0017). The newer photos are counted up to half the gallery; a photo past the middle counts its
// older ones instead. The newest photos, where viewers start, read a few index entries, and no view reads the
// gallery more than once: two full counts read up to twice its entries (decision 0063). A count gone out of
// step (written behind the trigger; the integrity check's photo_counts reports it) misnumbers, never fails.
const PLACE = (p: string) => `(SELECT CASE WHEN near.newer <= size.ready / 2 THEN near.newer
      ELSE GREATEST(size.ready - 1 - (SELECT count(*) FROM photos o WHERE o.event_id = ${p}.event_id AND o.status = 'ready'
        AND (o.created_at, o.id) < (${p}.created_at, ${p}.id)), 0) END AS newer_count,
    size.ready AS ready_count
  FROM (SELECT COALESCE(sum(k.ready), 0) AS ready FROM event_photo_counts k WHERE k.event_id = ${p}.event_id) size
  CROSS JOIN LATERAL (SELECT count(*) AS newer FROM (SELECT FROM photos n WHERE n.event_id = ${p}.event_id AND n.status = 'ready'
    AND (n.created_at, n.id) > (${p}.created_at, ${p}.id) LIMIT GREATEST(size.ready, 0) / 2 + 1) newer) near)`;

/**
 * A gallery page of the event `$1`, newest first, on the partial index
 * photos_gallery_idx (event_id, created_at DESC, id DESC) WHERE status = 'ready'.
 * The photos are reached through the event's row: written as `p.event_id = $1`,
 * the plan for a big gallery looked cheaper with the id's own statistics, so
 * PostgreSQL planned every execution of the prepared statement afresh (custom
 * plans, 0.3 ms of planning for 0.1 ms of work); joined on the event's key,
 * one generic plan serves every event (decision 0013).
 */
const galleryPage = (after: string, limit: string) =>
  `SELECT p.* FROM events e CROSS JOIN LATERAL (${selectPhotos(GALLERY_COLUMNS)} WHERE p.event_id = e.id AND p.status = 'ready'${after}
    ORDER BY p.created_at DESC, p.id DESC LIMIT ${limit}) p WHERE e.id = $1`;

/** Who a signed-in event page is for, read with its gallery: the session's user while it is live, and their booking of the event. */
export interface GalleryViewerRow {
  id: string;
  email: string;
  name: string;
  role: 'user' | 'admin';
  booking_id: string | null;
}

type WithViewer<Row> = Partial<Row> & {
  viewer_id: string | null;
  viewer_email: string | null;
  viewer_name: string | null;
  viewer_role: 'user' | 'admin' | null;
  viewer_booking_id: string | null;
};

/**
 * A gallery page of the event `$1` and, in the same statement, the viewer of
 * a signed-in page: the user of the session `sessionId` (claiming `userId`)
 * while it is live, and the id of their confirmed booking of the event. One
 * round trip where the page took two (the session, then the gallery): the
 * second cost the web 0.2-0.3 ms of CPU a page (decision 0054). At least one
 * row: the viewer's columns are null for a dead session, the photo's for an
 * empty page.
 */
const withViewer = (gallery: string, sessionId: string, userId: string) => `WITH viewer AS MATERIALIZED (
    SELECT users.id, users.email, users.name, users.role,
      (SELECT b.id FROM bookings b WHERE b.event_id = $1 AND b.user_id = users.id AND b.status = 'confirmed') AS booking_id
    ${liveSessionFrom(sessionId, userId)})
  SELECT g.*, v.id AS viewer_id, v.email AS viewer_email, v.name AS viewer_name, v.role AS viewer_role, v.booking_id AS viewer_booking_id
  FROM (SELECT) AS one LEFT JOIN viewer v ON true LEFT JOIN (${gallery}) g ON true
  ORDER BY g.created_at DESC, g.id DESC`;

/** Fixed SQL text: no query building per request. */
export const PHOTO_QUERIES = {
  ready: galleryPage('', '$2'),
  readyBefore: galleryPage(' AND (p.created_at, p.id) < ($2::timestamptz, $3::uuid)', '$4'),
  readyWithViewer: withViewer(galleryPage('', '$2'), '$3', '$4'),
  readyBeforeWithViewer: withViewer(galleryPage(' AND (p.created_at, p.id) < ($2::timestamptz, $3::uuid)', '$4'), '$5', '$6'),
  byId: `${SELECT_PHOTOS} WHERE p.id = $1`,
  /** One round trip for the viewer page: the photo, its uploader, its neighbours and its position. */
  inViewer: `SELECT p.*, ${NEIGHBOURS('p')}, place.*
    FROM (${SELECT_PHOTOS} WHERE p.id = $1 AND p.event_id = $2 AND p.status = 'ready') p CROSS JOIN LATERAL ${PLACE('p')} place`,
} as const;

export function createPhotosRepository(db: Db) {
  return {
    insert(
      executor: Executor,
      photo: {
        eventId: string;
        uploaderId: string;
        originalKey: string;
        contentType: string;
        bytes: number;
        sha256: string;
        locationShared: boolean;
      },
    ): Promise<PhotoRow> {
      return executor
        .insertInto('photos')
        .values({
          event_id: photo.eventId,
          uploader_id: photo.uploaderId,
          original_key: photo.originalKey,
          content_type: photo.contentType,
          bytes: photo.bytes,
          sha256: photo.sha256,
          location_shared: photo.locationShared,
        })
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
    },

    async findById(id: string): Promise<PhotoRow | undefined> {
      return (await fixedRows<PhotoRow>(db, PHOTO_QUERIES.byId, [id]))[0];
    },

    /** A ready photo of the event, for the viewer; undefined when it is not (or not yet) in the event's gallery. */
    async findInViewer(eventId: string, photoId: string, executor: Db = db): Promise<ViewerPhotoRow | undefined> {
      return (await fixedRows<ViewerPhotoRow>(executor, PHOTO_QUERIES.inViewer, [photoId, eventId]))[0];
    },

    /** Every stored object of an event's photos (originals and renditions). */
    /** The objects of an event's photos, their rows locked (FOR UPDATE) in `tx` until it ends. */
    async objectKeysOfEvent(eventId: string, tx: Executor): Promise<string[]> {
      const rows = await tx
        .selectFrom('photos')
        .select(['original_key', 'thumbnail_key', 'display_key'])
        .where('event_id', '=', eventId)
        .forUpdate()
        .execute();
      return rows.flatMap((row) => [row.original_key, row.thumbnail_key, row.display_key]).filter((key): key is string => Boolean(key));
    },

    findByOriginalKey(key: string): Promise<PhotoRow | undefined> {
      return db.selectFrom('photos').select(COLUMNS).where('original_key', '=', key).executeTakeFirst();
    },

    /** The gallery page: ready photos, newest first, on the partial index (event_id, created_at DESC, id DESC). */
    async listReady(eventId: string, limit: number, before?: [string, string], executor: Db = db): Promise<GalleryPhotoRow[]> {
      return before
        ? fixedRows<GalleryPhotoRow>(executor, PHOTO_QUERIES.readyBefore, [eventId, before[0], before[1], limit + 1])
        : fixedRows<GalleryPhotoRow>(executor, PHOTO_QUERIES.ready, [eventId, limit + 1]);
    },

    /** listReady, and the viewer behind a session (see withViewer): null when the session is not live. */
    async listReadyWithViewer(
      eventId: string,
      limit: number,
      before: [string, string] | undefined,
      session: { sessionId: string; userId: string },
    ): Promise<{ viewer: GalleryViewerRow | null; photos: GalleryPhotoRow[] }> {
      // On the primary, always: sessions and bookings are never read from a replica (decision 0012).
      const rows = await (before
        ? fixedRows<WithViewer<GalleryPhotoRow>>(db, PHOTO_QUERIES.readyBeforeWithViewer, [
            eventId,
            before[0],
            before[1],
            limit + 1,
            session.sessionId,
            session.userId,
          ])
        : fixedRows<WithViewer<GalleryPhotoRow>>(db, PHOTO_QUERIES.readyWithViewer, [
            eventId,
            limit + 1,
            session.sessionId,
            session.userId,
          ]));
      const first = rows[0];
      const viewer =
        first?.viewer_id != null
          ? {
              id: first.viewer_id,
              email: first.viewer_email!,
              name: first.viewer_name!,
              role: first.viewer_role!,
              booking_id: first.viewer_booking_id,
            }
          : null;
      // The viewer's columns stay on the photos' rows: every reader of a row picks the fields it needs.
      return { viewer, photos: rows.filter((row): row is WithViewer<GalleryPhotoRow> & GalleryPhotoRow => row.id != null) };
    },

    /** Originals whose location is not shared, in id order from after `afterId`: the location sweep's batches. */
    listOriginals(afterId: string | null, limit: number): Promise<Pick<PhotoRow, 'id' | 'original_key' | 'content_type'>[]> {
      let query = db.selectFrom('photos').select(['id', 'original_key', 'content_type']).where('location_shared', '=', false);
      if (afterId) query = query.where('id', '>', afterId);
      return query.orderBy('id').limit(limit).execute();
    },

    /** The original was rewritten in place (its location removed): its digest and size follow. */
    async setOriginalDigest(id: string, sha256: string, bytes: number): Promise<void> {
      await db.updateTable('photos').set({ sha256, bytes }).where('id', '=', id).execute();
    },

    listByUploader(uploaderId: string): Promise<PhotoRow[]> {
      return db.selectFrom('photos').select(COLUMNS).where('uploader_id', '=', uploaderId).orderBy('created_at').execute();
    },

    listByEvent(eventId: string): Promise<PhotoRow[]> {
      return db.selectFrom('photos').select(COLUMNS).where('event_id', '=', eventId).orderBy('created_at').execute();
    },

    async setMetadata(
      id: string,
      meta: {
        width: number;
        height: number;
        orientation: number | null;
        takenAt: Date | null;
        sha256: string;
        bytes: number;
        contentType: string;
      },
    ) {
      await db
        .updateTable('photos')
        .set({
          width: meta.width,
          height: meta.height,
          orientation: meta.orientation,
          taken_at: meta.takenAt,
          sha256: meta.sha256,
          bytes: meta.bytes,
          content_type: meta.contentType,
        })
        .where('id', '=', id)
        .execute();
    },

    /** Only a photo still processing becomes ready; false if it was deleted or already settled. */
    async markReady(id: string, derived: { thumbnailKey: string; displayKey: string }): Promise<boolean> {
      const result = await db
        .updateTable('photos')
        .set({ status: 'ready', thumbnail_key: derived.thumbnailKey, display_key: derived.displayKey, ready_at: new Date() })
        .where('id', '=', id)
        .where('status', '=', 'processing')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async markFailed(id: string, reason: string): Promise<void> {
      await db
        .updateTable('photos')
        .set({ status: 'failed', failure_reason: reason.slice(0, 500) })
        .where('id', '=', id)
        .where('status', '=', 'processing')
        .execute();
    },

    deleteById(id: string, executor: Executor = db): Promise<PhotoRow | undefined> {
      return executor.deleteFrom('photos').where('id', '=', id).returning(COLUMNS).executeTakeFirst();
    },

    /** Photos whose processing never settled (for example the delivery of their event died). */
    async failStuck(olderThan: Date): Promise<number> {
      const result = await db
        .updateTable('photos')
        .set({ status: 'failed', failure_reason: 'processing did not finish in time' })
        .where('status', '=', 'processing')
        .where('created_at', '<', olderThan)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}

export type PhotosRepository = ReturnType<typeof createPhotosRepository>;
