import { pipeline, Readable } from 'node:stream';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../../platform/http/errors.js';
import { PRIVATE_IMMUTABLE } from '../../platform/http/cache-control.js';
import { decodeCursor, isUuid, type Page, type PageRequest, toPage } from '../../platform/http/pagination.js';
import type { Db } from '../../platform/db/pool.js';
import type { ContentChanges } from '../../platform/http/public-pages.js';
import type { Reads } from '../../platform/http/read-routing.js';
import { newCloudEvent } from '../../platform/functions/cloud-event.js';
import type { FunctionsDispatcher } from '../../platform/functions/dispatcher.js';
import { retryAfterSeconds } from '../../platform/rate-limit.js';
import { newObjectKey, ObjectTooLargeError, type ObjectStorage } from '../../platform/storage/storage.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import type { EventRow } from '../events/events.types.js';
import type { Viewer } from '../accounts/accounts.types.js';
import type { PublicUser } from '../accounts/accounts.service.js';
import { EVENT_PAGES, type EventsService, isOwnerOrAdmin } from '../events/events.service.js';
import {
  IMAGE_TYPES,
  ImageCompletenessCheck,
  type ImageType,
  IncompleteImageError,
  PixelLimitCheck,
  SNIFF_BYTES,
  sniffUploadType,
  TooManyPixelsError,
} from './image-check.js';
import type { GalleryPhotoRow, PhotoRow, PhotosRepository } from './photos.repository.js';
import { transaction } from '../../platform/db/transaction.js';
import { isoString } from '../../platform/iso-time.js';

export interface PhotoJson {
  id: string;
  eventId: string;
  uploaderId: string | null;
  /** Who uploaded it (null once their account is gone). */
  uploader: { id: string; name: string } | null;
  status: 'processing' | 'ready' | 'failed';
  width: number | null;
  height: number | null;
  bytes: number;
  contentType: string;
  takenAt: string | null;
  thumbnailUrl: string | null;
  /** The original, as uploaded (private: always a signed, expiring URL). */
  url: string | null;
  /** A 1600 px rendition for viewing in a page. */
  displayUrl: string | null;
  failureReason: string | null;
  /** The uploader chose to share where it was taken: the original keeps its location (decision 0037). */
  locationShared: boolean;
  createdAt: string;
}

/** What the uploader chooses for the files of one upload. */
export interface UploadChoices {
  /** Keep where the photos were taken in their originals, for everyone who may download them; off unless chosen. */
  locationShared: boolean;
}

export interface PhotoUploadedData {
  photoId: string;
  key: string;
  contentType: string;
  bytes: number;
}

export const PHOTO_UPLOADED_EVENT_TYPE = 'google.cloud.storage.object.v1.finalized';

/** Signed URLs expire at the end of the next full hour, so a URL stays the same for an hour and caches well. */
export function signedUrlLifetimeSeconds(now = Date.now()): number {
  const hour = 3_600_000;
  return Math.ceil((Math.ceil(now / hour) * hour + hour - now) / 1000);
}

/** An upload whose bytes arrive as a stream (a multipart file part). */
export interface IncomingFile {
  stream: Readable;
  /** True when the multipart parser cut the file at the size limit (busboy's `truncated`). */
  truncated?: () => boolean;
  /**
   * After a refusal, what becomes of the file's remaining bytes: destroyed
   * unless this says otherwise (a batch drains them to read the next file).
   */
  skipRest?: () => void;
}

/** Decision 0042: the prebuilt sharp (libvips) reads HEIF but has no HEVC decoder, so an iPhone's HEIC cannot become renditions. */
export const HEIC_REFUSAL =
  'HEIC photos are not supported on this server; export as JPEG (on an iPhone: Settings, Camera, Formats, Most Compatible).';

export function createPhotosService(deps: {
  db: Db;
  repo: PhotosRepository;
  storage: ObjectStorage;
  events: EventsService;
  dispatcher: FunctionsDispatcher;
  audit: AuditRecorder;
  /** Anonymous galleries: a deleted photo leaves them. */
  pages: ContentChanges;
  /** One point per file (UPLOAD_RATE_LIMIT per 10 minutes). */
  uploadLimiter: RateLimiterAbstract;
  maxUploadBytes: number;
  maxImagePixels: number;
  source: string;
  /** Counts stored upload bytes (metrics). */
  onStored?: (bytes: number) => void;
}) {
  const { repo, storage, events } = deps;

  /** A gallery page (`limit` + 1 rows read, to know whether another follows) as the API answers it. */
  async function galleryPage(rows: GalleryPhotoRow[], page: PageRequest, event: EventRow): Promise<Page<PhotoJson>> {
    const pageOfRows = toPage(
      rows,
      page.limit,
      (row) => [isoString(row.created_at), row.id],
      (row) => row,
    );
    return { items: await toJsonList(pageOfRows.items, event), nextCursor: pageOfRows.nextCursor };
  }

  /**
   * Photos as the API shows them. Every link of the list is signed in one call: a gallery page has about 70.
   * A gallery's rows leave out what its query fixes: they are the event's own, and ready.
   */
  async function toJsonList(
    rows: readonly (PhotoRow | GalleryPhotoRow)[],
    event: Pick<EventRow, 'id' | 'visibility'>,
  ): Promise<PhotoJson[]> {
    const toSign: string[] = [];
    // A link is known at once (a CDN URL for a public event's derived image), or is its place in the signing call.
    const link = (key: string | null, derived: boolean): string | number | null => {
      if (!key) return null;
      const cdnUrl = derived && event.visibility === 'public' ? storage.publicUrl(key) : null;
      return cdnUrl ?? toSign.push(key) - 1;
    };
    const statusOf = (row: PhotoRow | GalleryPhotoRow) => ('status' in row ? row.status : 'ready');
    const links = rows.map((row) =>
      statusOf(row) === 'ready' ? [link(row.thumbnail_key, true), link(row.display_key, true), link(row.original_key, false)] : [],
    );
    const signed = await storage.signedUrls(toSign, { expiresInSeconds: signedUrlLifetimeSeconds() });
    const resolve = (value: string | number | null | undefined) => (typeof value === 'number' ? signed[value]! : (value ?? null));
    return rows.map((row, i) => {
      const [thumbnailUrl, displayUrl, url] = links[i]!.map(resolve);
      const status = statusOf(row);
      return {
        id: row.id,
        eventId: 'event_id' in row ? row.event_id : event.id,
        uploaderId: row.uploader_id,
        uploader: row.uploader_id && row.uploader_name ? { id: row.uploader_id, name: row.uploader_name } : null,
        status,
        width: row.width,
        height: row.height,
        bytes: row.bytes,
        contentType: row.content_type,
        takenAt: row.taken_at ? isoString(row.taken_at) : null,
        thumbnailUrl: thumbnailUrl ?? null,
        url: url ?? null,
        displayUrl: displayUrl ?? null,
        failureReason: status === 'failed' && 'failure_reason' in row ? row.failure_reason : null,
        locationShared: row.location_shared,
        createdAt: isoString(row.created_at),
      };
    });
  }

  async function toJson(row: PhotoRow, event: Pick<EventRow, 'id' | 'visibility'>): Promise<PhotoJson> {
    return (await toJsonList([row], event))[0]!;
  }

  /** The host, an admin, or someone with a booking (`booked`, when the caller has read it already). */
  async function canContribute(event: EventRow, viewer: Viewer, booked?: Promise<boolean>): Promise<boolean> {
    return isOwnerOrAdmin(event, viewer) || (booked ?? events.isAttendee(event.id, viewer.id));
  }

  /** The photo and its event, if the viewer may see the event (`invites`: the visitor's invite pass). */
  async function getVisible(
    photoId: string,
    viewer: Viewer | null,
    invites?: readonly string[],
  ): Promise<{ photo: PhotoRow; event: EventRow }> {
    const photo = isUuid(photoId) ? await repo.findById(photoId) : undefined;
    if (!photo) throw new AppError('not_found', 'No such photo.');
    const event = await events.getVisible(photo.event_id, viewer, undefined, invites).catch(() => {
      throw new AppError('not_found', 'No such photo.');
    });
    return { photo, event };
  }

  /** A photo its uploader, the event's host or an admin may delete: 404 to whoever cannot see it, 403 to others. */
  async function mayDelete(photoId: string, viewer: Viewer): Promise<{ photo: PhotoRow; event: EventRow }> {
    const found = await getVisible(photoId, viewer);
    if (!managesPhoto(found.photo, found.event, viewer))
      throw new AppError('forbidden', 'Only the uploader, the host or an admin can delete this photo.');
    return found;
  }

  /** Takes one file's point from the viewer's upload limit, or throws 429. */
  async function chargeUpload(viewer: Viewer): Promise<void> {
    await deps.uploadLimiter.consume(viewer.id).catch((rejection) => {
      throw new AppError('rate_limited', 'Too many uploads; wait and try again.', {
        headers: { 'retry-after': String(retryAfterSeconds(rejection)) },
      });
    });
  }

  return {
    toJson,

    /**
     * Checks everything that can be checked before a byte of the body is read,
     * and takes the first file's point: a user at the limit sends nothing.
     */
    async authorizeUpload(eventId: string, viewer: Viewer): Promise<EventRow> {
      const event = await events.getVisible(eventId, viewer);
      if (!(await canContribute(event, viewer)))
        throw new AppError('forbidden', 'Only the host, an admin or someone with a booking can add photos.');
      await chargeUpload(viewer);
      return event;
    },

    /** Each file after a request's first takes a point of its own, before it is stored. */
    chargeUpload,

    /**
     * Streams one file into storage under a fresh key while sniffing its type
     * and checking it is whole; only then records the photo and emits the
     * photoUploaded event, in one transaction. Any failure leaves no object and no row.
     */
    async storeUpload(
      event: EventRow,
      viewer: Viewer & { name?: string },
      file: IncomingFile,
    ): Promise<{ row: PhotoRow; discard(): Promise<void>; commit(choices?: UploadChoices): Promise<PhotoJson> }> {
      const { head, rest } = await readHead(file.stream, SNIFF_BYTES);
      const skipRest = file.skipRest ?? (() => rest.destroy());
      if (head.length === 0) {
        skipRest();
        throw new AppError('validation_failed', 'The file is empty.', { details: [{ field: 'file', problem: 'is empty' }] });
      }
      const type = await sniffUploadType(head);
      if (type === 'heic') {
        skipRest();
        throw new AppError('unsupported_type', HEIC_REFUSAL, { details: [{ field: 'file', problem: 'heic_not_supported' }] });
      }
      if (!type) {
        skipRest();
        throw new AppError('unsupported_type', 'Upload a JPEG, PNG, WebP, AVIF or GIF image.');
      }
      const key = newObjectKey('originals', IMAGE_TYPES[type]);
      // pipeline, not pipe: an error upstream (a client gone, the size limit) must reach storage.put and end it.
      const checked = new ImageCompletenessCheck(type);
      const sized = new PixelLimitCheck(type, deps.maxImagePixels);
      pipeline(Readable.from(prepend(head, rest)), checked, sized, () => undefined);
      let stored;
      try {
        stored = await deps.storage.put(key, sized, {
          contentType: type,
          maxBytes: deps.maxUploadBytes,
          cacheControl: PRIVATE_IMMUTABLE,
        });
      } catch (error) {
        skipRest();
        // A file cut at the size limit also looks incomplete: the size is the real reason.
        throw uploadError(file.truncated?.() ? new ObjectTooLargeError(deps.maxUploadBytes) : error, deps.maxUploadBytes);
      }
      deps.onStored?.(stored.bytes);
      const row: PhotoRow = {
        id: '',
        event_id: event.id,
        uploader_id: viewer.id,
        status: 'processing',
        original_key: key,
        thumbnail_key: null,
        display_key: null,
        content_type: type,
        bytes: stored.bytes,
        sha256: stored.sha256,
        width: null,
        height: null,
        orientation: null,
        taken_at: null,
        failure_reason: null,
        location_shared: false,
        created_at: new Date(),
      };
      return {
        row,
        discard: () => deps.storage.delete(key),
        commit: async (choices = { locationShared: false }) => {
          try {
            const inserted = await transaction(deps.db, async (tx) => {
              const photo = await repo.insert(tx, {
                eventId: event.id,
                uploaderId: viewer.id,
                originalKey: key,
                contentType: type,
                bytes: stored.bytes,
                sha256: stored.sha256,
                locationShared: choices.locationShared,
              });
              const data: PhotoUploadedData = { photoId: photo.id, key, contentType: type, bytes: stored.bytes };
              await deps.dispatcher.emit('photoUploaded', newCloudEvent(PHOTO_UPLOADED_EVENT_TYPE, deps.source, data), tx);
              await deps.audit.record(
                {
                  action: 'photo.upload',
                  actorId: viewer.id,
                  subjectType: 'photo',
                  subjectId: photo.id,
                  metadata: { eventId: event.id, bytes: stored.bytes, locationShared: choices.locationShared },
                },
                tx,
              );
              return photo;
            });
            return toJson({ ...inserted, uploader_name: viewer.name ?? null }, event);
          } catch (error) {
            await deps.storage.delete(key).catch(() => undefined);
            throw error;
          }
        },
      };
    },

    async get(photoId: string, viewer: Viewer | null, invites?: readonly string[]): Promise<PhotoJson> {
      const { photo, event } = await getVisible(photoId, viewer, invites);
      // Photos still processing or failed are seen only by those who may manage them.
      if (photo.status !== 'ready' && !managesPhoto(photo, event, viewer)) {
        throw new AppError('not_found', 'No such photo.');
      }
      return toJson(photo, event);
    },

    /** `reads`: where a read-heavy request reads (platform/http/read-routing.ts); the primary without it. */
    async gallery(
      eventId: string,
      viewer: Viewer | null,
      page: PageRequest,
      reads?: Reads,
      invites?: readonly string[],
    ): Promise<Page<PhotoJson> & { event: EventRow }> {
      const event = await events.getVisible(eventId, viewer, reads, invites);
      const rows = await repo.listReady(event.id, page.limit, page.cursor ? decodeCursor(page.cursor) : undefined, reads?.db);
      return { ...(await galleryPage(rows, page, event)), event };
    },

    /**
     * gallery() for a signed-in page of an event its viewer may see whoever
     * they are (the caller checked): the page and its viewer (the session's
     * user while it is live, and their booking of the event) in one
     * statement, on the primary, where sessions are always read.
     */
    async galleryWithViewer(
      event: EventRow,
      session: { sessionId: string; userId: string },
      page: PageRequest,
    ): Promise<Page<PhotoJson> & { viewer: { user: PublicUser; bookingId: string | null } | null }> {
      const { viewer, photos } = await repo.listReadyWithViewer(
        event.id,
        page.limit,
        page.cursor ? decodeCursor(page.cursor) : undefined,
        session,
      );
      return {
        ...(await galleryPage(photos, page, event)),
        viewer: viewer && {
          user: { id: viewer.id, email: viewer.email, name: viewer.name, role: viewer.role },
          bookingId: viewer.booking_id,
        },
      };
    },

    canContribute,

    /**
     * What the photo viewer shows: a ready photo of the event, its neighbours in
     * gallery order, and a download under a readable file name: the original for
     * those who may have it (managesPhoto), else the display rendition, which
     * carries no metadata.
     */
    async inViewer(
      eventId: string,
      photoId: string,
      viewer: Viewer | null,
      reads?: Reads,
      invites?: readonly string[],
    ): Promise<ViewerPhoto> {
      const event = await events.getVisible(eventId, viewer, reads, invites);
      const row = isUuid(photoId) ? await repo.findInViewer(event.id, photoId, reads?.db) : undefined;
      if (!row) throw new AppError('not_found', 'No such photo.');
      const original = managesPhoto(row, event, viewer);
      const name = downloadName(event, row, original);
      const [photo, downloadUrl] = await Promise.all([
        toJson(row, event),
        storage.signedUrl(original ? row.original_key : row.display_key!, {
          expiresInSeconds: signedUrlLifetimeSeconds(),
          downloadName: name,
        }),
      ]);
      return {
        event,
        photo,
        cover: { mayChoose: isOwnerOrAdmin(event, viewer), isCover: event.cover_photo_id === row.id },
        newerId: row.newer_id,
        olderId: row.older_id,
        position: row.newer_count + 1,
        total: row.ready_count,
        download: { url: downloadUrl, name, original },
        canDelete: managesPhoto(row, event, viewer),
      };
    },

    /**
     * Where a ready photo of an event is seen (its thumbnail or display
     * rendition), for whoever may see the event: a cover's picture on event
     * cards and in link previews. A public event's derived images may have a
     * CDN address; others are signed and expire.
     */
    async pictureUrl(
      eventId: string,
      photoId: string,
      size: 'thumbnail' | 'display',
      viewer: Viewer | null,
      reads?: Reads,
      invites?: readonly string[],
    ): Promise<{ url: string; event: EventRow }> {
      const event = await events.getVisible(eventId, viewer, reads, invites);
      const row = isUuid(photoId) ? await repo.findById(photoId) : undefined;
      const key =
        row?.event_id === event.id && row.status === 'ready' ? (size === 'thumbnail' ? row.thumbnail_key : row.display_key) : null;
      if (!key) throw new AppError('not_found', 'No such photo.');
      const cdnUrl = event.visibility === 'public' ? storage.publicUrl(key) : null;
      return { url: cdnUrl ?? (await storage.signedUrl(key, { expiresInSeconds: signedUrlLifetimeSeconds() })), event };
    },

    /** A photo as its confirmation page shows it, for whoever may delete it (as `delete`: 404 unseen, 403 not theirs). */
    async deletable(photoId: string, viewer: Viewer): Promise<PhotoJson> {
      const { photo, event } = await mayDelete(photoId, viewer);
      return toJson(photo, event);
    },

    /** Uploader, event owner or admin; the row goes first, then its objects. */
    async delete(photoId: string, viewer: Viewer): Promise<void> {
      const { photo, event } = await mayDelete(photoId, viewer);
      // The row and its audit entry commit together; the objects go after.
      const deleted = await transaction(deps.db, async (tx) => {
        const row = await repo.deleteById(photo.id, tx);
        if (row)
          await deps.audit.record(
            { action: 'photo.delete', actorId: viewer.id, subjectType: 'photo', subjectId: photo.id, metadata: { eventId: event.id } },
            tx,
          );
        return row;
      });
      if (!deleted) return;
      // The cover's photo: the database cleared the cover (ON DELETE SET NULL), so the event's cached copies and the lists' go too.
      if (event.cover_photo_id === photo.id) await events.invalidate(event.id);
      else deps.pages.announce(EVENT_PAGES.event(event.id));
      await deleteObjects(storage, [deleted.original_key, deleted.thumbnail_key, deleted.display_key]);
    },

    /** The originals an export carries (an event's photos, or a user's uploads): a file name each and where it is stored. */
    async originals(of: { eventId: string } | { uploaderId: string }): Promise<{ name: string; key: string }[]> {
      const rows = 'eventId' in of ? await repo.listByEvent(of.eventId) : await repo.listByUploader(of.uploaderId);
      return rows.map((photo) => ({
        name: `${photo.id}.${IMAGE_TYPES[photo.content_type as ImageType] ?? 'bin'}`,
        key: photo.original_key,
      }));
    },

    /** Photos whose processing never settled (retention: for example the delivery of their event died). */
    failStuck: (olderThan: Date) => repo.failStuck(olderThan),
  };
}

export type PhotosService = ReturnType<typeof createPhotosService>;

export interface ViewerPhoto {
  event: EventRow;
  photo: PhotoJson;
  /** Gallery order is newest first: "newer" is the previous photo, "older" the next. */
  newerId: string | null;
  olderId: string | null;
  /** 1-based, newest first, as the gallery numbers its photos. */
  position: number;
  total: number;
  download: { url: string; name: string; original: boolean };
  canDelete: boolean;
  /** Whether the viewer may make it the event's cover (its host, an admin), and whether it is. */
  cover: { mayChoose: boolean; isCover: boolean };
}

/**
 * The uploader and those who run the event (its host, an admin) manage a photo:
 * they see it before it is ready, may delete it, and get the full-size original
 * (its camera metadata kept, less the location, which photoUploaded removes:
 * location.ts) as the download; everyone else downloads the display rendition,
 * which the worker writes without metadata.
 */
function managesPhoto(photo: Pick<PhotoRow, 'uploader_id'>, event: EventRow, viewer: Viewer | null): boolean {
  return viewer !== null && (photo.uploader_id === viewer.id || isOwnerOrAdmin(event, viewer));
}

/** `garden-party-20240506-070809.jpg`: the event's slug without its random suffix, and when the photo was taken (or added). */
export function downloadName(
  event: Pick<EventRow, 'slug'>,
  photo: Pick<PhotoRow, 'taken_at' | 'created_at' | 'content_type'>,
  original: boolean,
): string {
  const base = event.slug.replace(/-[0-9a-f]{8}$/, '') || 'photo';
  const when = (photo.taken_at ?? photo.created_at).toISOString().replace(/[-:]/g, '').slice(0, 15).replace('T', '-');
  const extension = original ? (IMAGE_TYPES[photo.content_type as ImageType] ?? 'img') : 'webp';
  return `${base}-${when}.${extension}`;
}

/** Missing objects are fine; other failures leave orphans for the integrity check and retention sweep. */
export async function deleteObjects(storage: ObjectStorage, keys: (string | null)[]): Promise<void> {
  await Promise.all(keys.filter((key): key is string => Boolean(key)).map((key) => storage.delete(key).catch(() => undefined)));
}

function uploadError(error: unknown, maxBytes: number): unknown {
  const code = (error as { code?: string }).code;
  if (error instanceof ObjectTooLargeError || code === 'FST_REQ_FILE_TOO_LARGE') {
    return new AppError('too_large', `The file is larger than ${Math.floor(maxBytes / 1024 / 1024)} MiB.`);
  }
  if (error instanceof IncompleteImageError) return new AppError('unsupported_type', 'The image is truncated or incomplete.');
  if (error instanceof TooManyPixelsError) return new AppError('too_large', `${error.message[0]!.toUpperCase()}${error.message.slice(1)}.`);
  return error;
}

/** Reads at least `size` bytes (or the whole stream if shorter) and returns them with the remaining stream. */
async function readHead(stream: Readable, size: number): Promise<{ head: Buffer; rest: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  // Leaving this loop early must not destroy the stream: the rest is read next.
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= size) break;
  }
  return { head: Buffer.concat(chunks), rest: stream };
}

async function* prepend(head: Buffer, rest: Readable): AsyncGenerator<Buffer> {
  yield head;
  if (rest.readableEnded || rest.destroyed) return;
  // A refusal mid-file ends this early: the rest is then the caller's to destroy or drain (IncomingFile.skipRest).
  for await (const chunk of rest.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
}
