import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import { cacheFor } from '../../platform/http/cache-control.js';
import { lingerOnClose } from '../../platform/http/lingering-close.js';
import type { ReadsFor } from '../../platform/http/read-routing.js';
import { parsePageQuery } from '../../platform/http/pagination.js';
import type { Auth } from '../accounts/auth.js';
import { EventParams } from '../events/events.schema.js';
import type { EventRow } from '../events/events.repository.js';
import { eventPageTags } from '../events/events.routes.js';
import type { Viewer } from '../events/events.service.js';
import type { PhotoJson, PhotosService } from './photos.service.js';
import { viewerPage } from './views/viewer.js';

const PhotoParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const ViewerParams = Type.Object({ id: Type.String({ maxLength: 64 }), photoId: Type.String({ maxLength: 64 }) });
// Multipart framing (boundaries, part headers) on top of the file's own bytes.
const MULTIPART_OVERHEAD = 64 * 1024;

type Stored = Awaited<ReturnType<PhotosService['storeUpload']>>;

/**
 * Reads the multipart body part by part: each file named "file" is streamed
 * into storage as it arrives. `multiple: false` (the API) refuses a second file.
 */
async function receiveFiles(
  request: FastifyRequest,
  photos: PhotosService,
  event: EventRow,
  viewer: Viewer,
  options: { multiple: boolean; maxBytes: number },
): Promise<Stored[]> {
  const stored: Stored[] = [];
  try {
    // One byte past the limit reaches storage.put, whose own limit then stops the transfer at once;
    // at exactly the limit the parser would silently discard the rest until the body ends.
    const parts = request.parts({ limits: { fileSize: options.maxBytes + 1, files: options.multiple ? 50 : 2, fields: 10, parts: 60 } });
    for await (const part of parts) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'file') {
        part.file.resume();
        throw new AppError('validation_failed', 'Send the image in a field named "file".', {
          details: [{ field: part.fieldname, problem: 'unexpected file field' }],
        });
      }
      if (!options.multiple && stored.length === 1) {
        part.file.resume();
        throw new AppError('validation_failed', 'Send one file per request.', {
          details: [{ field: 'file', problem: 'more than one file' }],
        });
      }
      stored.push(await photos.storeUpload(event, viewer, { stream: part.file, truncated: () => part.file.truncated }));
    }
  } catch (error) {
    await Promise.all(stored.map((s) => s.discard()));
    if ((error as { code?: string }).code === 'FST_FILES_LIMIT') throw new AppError('validation_failed', 'Too many files in one request.');
    throw error;
  }
  if (stored.length === 0)
    throw new AppError('validation_failed', 'Attach an image in a field named "file".', {
      details: [{ field: 'file', problem: 'is required' }],
    });
  return stored;
}

export function photosRoutes(
  app: App,
  deps: {
    photos: PhotosService;
    auth: Auth;
    maxUploadBytes: number;
    uploadsEnabled: (viewer: Viewer) => Promise<boolean>;
    reads: ReadsFor;
  },
): void {
  const { photos, auth } = deps;

  /** Refuses what can be refused before reading the body; a refused upload closes the connection instead of draining it. */
  async function startUpload(request: FastifyRequest<{ Params: { id: string } }>, viewer: Viewer): Promise<EventRow> {
    if (!request.isMultipart()) throw new AppError('unsupported_type', 'Send the image as multipart/form-data in a field named "file".');
    if (!(await deps.uploadsEnabled(viewer))) throw new AppError('forbidden', 'Uploads are switched off for now.');
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > deps.maxUploadBytes + MULTIPART_OVERHEAD) {
      throw new AppError('too_large', `The file is larger than ${Math.floor(deps.maxUploadBytes / 1024 / 1024)} MiB.`);
    }
    return photos.authorizeUpload(request.params.id, viewer);
  }

  /** A refused body (413, 415) may still be arriving: the connection closes after the answer, lingering so the client reads it. */
  function closeAfterRefusal(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
    if (!(error instanceof AppError) || (error.status !== 413 && error.status !== 415)) return;
    lingerOnClose(request.raw);
    reply.header('connection', 'close');
  }

  app.post('/api/v1/events/:id/photos', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    try {
      const event = await startUpload(request, viewer);
      const [upload] = await receiveFiles(request, photos, event, viewer, { multiple: false, maxBytes: deps.maxUploadBytes });
      return reply.code(202).send({ photo: await upload!.commit() });
    } catch (error) {
      closeAfterRefusal(request, reply, error);
      throw error;
    }
  });

  app.get(
    '/api/v1/events/:id/photos',
    { schema: { params: EventParams }, config: { publicPage: eventPageTags } },
    async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      const page = await photos.gallery(request.params.id, viewer, parsePageQuery(request.query), deps.reads(request));
      // Public galleries may be cached briefly by a CDN; signed URLs inside stay valid past that.
      cacheFor(reply, page.event.visibility === 'public' && !viewer);
      return { items: page.items, nextCursor: page.nextCursor };
    },
  );

  // The photo viewer: one page per photo, in its event's anonymous page cache (the event's tag covers its photos).
  app.get(
    '/events/:id/photos/:photoId',
    { schema: { params: ViewerParams }, config: { publicPage: eventPageTags } },
    async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      const shown = await photos.inViewer(request.params.id, request.params.photoId, viewer, deps.reads(request));
      cacheFor(reply, shown.event.visibility === 'public' && !viewer);
      return reply.type('text/html; charset=utf-8').send(viewerPage({ viewer, shown }));
    },
  );

  app.get('/api/v1/photos/:id', { schema: { params: PhotoParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    reply.header('cache-control', 'private, no-store');
    return photos.get(request.params.id, viewer);
  });

  app.delete('/api/v1/photos/:id', { schema: { params: PhotoParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    await photos.delete(request.params.id, viewer);
    return reply.code(204).send();
  });

  // Forms: several files at once without JavaScript; the script adds progress bars.
  app.post('/events/:id/photos', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}`, 303);
    let uploaded: PhotoJson[];
    try {
      const event = await startUpload(request, viewer);
      const stored = await receiveFiles(request, photos, event, viewer, { multiple: true, maxBytes: deps.maxUploadBytes });
      uploaded = [];
      for (const upload of stored) uploaded.push(await upload.commit());
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      closeAfterRefusal(request, reply, error);
      return reply.redirect(`/events/${encodeURIComponent(request.params.id)}?upload=${error.code}#gallery`, 303);
    }
    return reply.redirect(`/events/${encodeURIComponent(request.params.id)}?upload=uploaded&count=${uploaded.length}#gallery`, 303);
  });

  app.post('/photos/:id/delete', { schema: { params: PhotoParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const photo = await photos.get(request.params.id, viewer);
    await photos.delete(request.params.id, viewer);
    return reply.redirect(`/events/${photo.eventId}#gallery`, 303);
  });
}
