import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import { cacheFor, PRIVATE } from '../../platform/http/cache-control.js';
import { html } from '../../platform/http/html.js';
import { confirmed, confirmPage } from '../../ui/confirm.js';
import { lingerOnClose } from '../../platform/http/lingering-close.js';
import type { ReadsFor } from '../../platform/http/read-routing.js';
import { parsePageQuery } from '../../platform/http/pagination.js';
import type { Auth } from '../accounts/auth.service.js';
import type { EventRow } from '../events/events.types.js';
import { eventPageTags, keepOutOfIndex } from '../events/events.service.js';
import type { Viewer } from '../accounts/accounts.types.js';
import type { PhotoJson, PhotosService, UploadChoices } from './photos.service.js';
import { PhotoEnvelope, PhotoParams, PhotoSchema, UploadBody } from './photos.schema.js';
import { ACCESS, errorResponses, IdParams, NoContent, PageOf, PageQuery, REQUEST_BODY_KEY } from '../../platform/http/api-schema.js';
import { viewerPage } from './views/viewer.js';
import { type RefusedFile, uploadResultsPage } from './views/upload-results.js';

const ViewerParams = Type.Object({ id: Type.String({ maxLength: 64 }), photoId: Type.String({ maxLength: 64 }) });
const PictureQuery = Type.Object({ size: Type.Optional(Type.Union([Type.Literal('thumbnail'), Type.Literal('display')])) });
// Multipart framing (boundaries, part headers) on top of the file's own bytes.
const MULTIPART_OVERHEAD = 64 * 1024;
/** Files one form post may carry. */
const BATCH_FILES = 50;

type Stored = Awaited<ReturnType<PhotosService['storeUpload']>>;

/**
 * What to answer when reading the parts failed. The parser fails on the body's
 * framing (no boundary, the body ending before the closing one, a part named
 * `__proto__`): outside storing a file, or by destroying the file being stored
 * with its error. Those are the client's mistake; a storage failure is not.
 */
function uploadRefusal(error: unknown, storing: Readable | null): unknown {
  if (error instanceof AppError) return error;
  if ((error as { code?: string }).code === 'FST_FILES_LIMIT') return new AppError('validation_failed', 'Too many files in one request.');
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 413) return error; // the multipart plugin's other limits: too_large
  if ((status !== undefined && status >= 400 && status < 500) || storing === null || storing.errored) {
    return new AppError('validation_failed', 'The form data is malformed or ended early; send the upload again.', {
      details: [{ field: 'file', problem: 'malformed multipart body' }],
    });
  }
  return error;
}

/** `shareLocation` ("true" or "false", the form's checkbox sends "true"), in any place of the body: the files are committed after it. */
function shareLocationChoice(value: unknown): boolean {
  if (value === 'true' || value === 'false') return value === 'true';
  throw new AppError('validation_failed', 'shareLocation is "true" or "false".', {
    details: [{ field: 'shareLocation', problem: 'must be "true" or "false"' }],
  });
}

/** Refusals that concern one file of a batch (its size, its type, the upload limit), not the request. */
const FILE_REFUSALS: readonly string[] = ['too_large', 'unsupported_type', 'validation_failed', 'rate_limited'];

/**
 * Reads the multipart body part by part: each file named "file" is streamed
 * into storage as it arrives. Without `batch` (the API) one file, whose
 * refusal refuses the request; a batch (the form) goes on past a refused
 * file, draining its bytes, and names it in `refused`.
 */
async function receiveFiles(
  request: FastifyRequest,
  photos: PhotosService,
  event: EventRow,
  viewer: Viewer,
  options: { batch: boolean; maxBytes: number },
): Promise<{ stored: Stored[]; choices: UploadChoices; refused: RefusedFile[] }> {
  const stored: Stored[] = [];
  const refused: RefusedFile[] = [];
  const choices: UploadChoices = { locationShared: false };
  // The file being stored, while it is: an error then may be storage's or the body's.
  let storing: Readable | null = null;
  try {
    // One byte past the limit reaches storage.put, whose own limit then stops the transfer at once;
    // at exactly the limit the parser would silently discard the rest until the body ends.
    // A batch reads on past a file cut at the limit (storage refuses it as too large), so the parser must not fail the request for it.
    // (@fastify/multipart reads throwFileSizeLimit from these options too; its types list busboy's only.)
    const parts = request.parts({
      limits: { fileSize: options.maxBytes + 1, files: options.batch ? BATCH_FILES : 2, fields: 10, parts: BATCH_FILES + 10 },
      throwFileSizeLimit: !options.batch,
    } as Parameters<FastifyRequest['parts']>[0]);
    for await (const part of parts) {
      if (part.type !== 'file') {
        if (part.fieldname === 'shareLocation') choices.locationShared = shareLocationChoice(part.value);
        continue;
      }
      if (part.fieldname !== 'file') {
        part.file.resume();
        throw new AppError('validation_failed', 'Send the image in a field named "file".', {
          details: [{ field: part.fieldname, problem: 'unexpected file field' }],
        });
      }
      if (options.batch) {
        const file = part.file;
        try {
          // The first file's point was taken before the body was read (authorizeUpload).
          if (stored.length + refused.length > 0) await photos.chargeUpload(viewer);
          storing = file;
          stored.push(
            await photos.storeUpload(event, viewer, { stream: file, truncated: () => file.truncated, skipRest: () => file.resume() }),
          );
        } catch (error) {
          if (!(error instanceof AppError) || !FILE_REFUSALS.includes(error.code) || file.errored) throw error;
          file.resume();
          refused.push({ name: part.filename.slice(0, 200) || 'A file without a name', status: error.status, message: error.message });
        }
        storing = null;
        continue;
      }
      if (stored.length === 1) {
        part.file.resume();
        throw new AppError('validation_failed', 'Send one file per request.', {
          details: [{ field: 'file', problem: 'more than one file' }],
        });
      }
      storing = part.file;
      stored.push(await photos.storeUpload(event, viewer, { stream: part.file, truncated: () => part.file.truncated }));
      storing = null;
    }
  } catch (error) {
    await Promise.all(stored.map((s) => s.discard()));
    throw uploadRefusal(error, storing);
  }
  if (stored.length === 0 && refused.length === 0)
    throw new AppError('validation_failed', 'Attach an image in a field named "file".', {
      details: [{ field: 'file', problem: 'is required' }],
    });
  return { stored, choices, refused };
}

export function photosRoutes(
  app: App,
  deps: {
    photos: PhotosService;
    auth: Auth;
    maxUploadBytes: number;
    uploadsEnabled: (viewer: Viewer) => Promise<boolean>;
    reads: ReadsFor;
    /** The visitor's invite pass (events/invite-passes.ts): it opens a private event's gallery too. */
    invites: (request: FastifyRequest) => readonly string[];
  },
): void {
  const { photos, auth } = deps;

  /** Refuses what can be refused before reading the body; a refused upload closes the connection instead of draining it. */
  async function startUpload(request: FastifyRequest<{ Params: { id: string } }>, viewer: Viewer, files = 1): Promise<EventRow> {
    if (!request.isMultipart()) throw new AppError('unsupported_type', 'Send the image as multipart/form-data in a field named "file".');
    if (!(await deps.uploadsEnabled(viewer))) throw new AppError('forbidden', 'Uploads are switched off for now.');
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > deps.maxUploadBytes * files + MULTIPART_OVERHEAD) {
      throw new AppError('too_large', `The file is larger than ${Math.floor(deps.maxUploadBytes / 1024 / 1024)} MiB.`);
    }
    return photos.authorizeUpload(request.params.id, viewer);
  }

  /** A refused body (413, 415, 429) may still be arriving: the connection closes after the answer, lingering so the client reads it. */
  function closeAfterRefusal(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
    if (!(error instanceof AppError) || ![413, 415, 429].includes(error.status)) return;
    lingerOnClose(request.raw);
    reply.header('connection', 'close');
  }

  // Only the upload routes read multipart bodies, so only they are in the multipart plugin's scope: it adds two
  // hooks to every request it covers, /livez and every page included (decision 0052). Elsewhere a multipart body is 415.
  app.register(async (scope) => {
    const uploads = scope.withTypeProvider<TypeBoxTypeProvider>();
    await uploads.register(fastifyMultipart, { limits: { fileSize: deps.maxUploadBytes }, throwFileSizeLimit: true });

    uploads.post(
      '/api/v1/events/:id/photos',
      {
        schema: {
          summary: 'Upload a photo (owner, admin, or a booking holder)',
          description: 'One image in a multipart field named `file`; it is processed in the background.',
          tags: ['photos'],
          security: ACCESS.signedIn,
          params: IdParams,
          [REQUEST_BODY_KEY]: UploadBody,
          response: {
            202: PhotoEnvelope,
            ...errorResponses('not_found', 'forbidden', 'too_large', 'unsupported_type', 'validation_failed', 'rate_limited'),
          },
        },
      },
      async (request, reply) => {
        const viewer = await auth.requireUser(request, reply);
        try {
          const event = await startUpload(request, viewer);
          const { stored, choices } = await receiveFiles(request, photos, event, viewer, { batch: false, maxBytes: deps.maxUploadBytes });
          return reply.code(202).send({ photo: await stored[0]!.commit(choices) });
        } catch (error) {
          closeAfterRefusal(request, reply, error);
          throw error;
        }
      },
    );

    // Forms: several files at once without JavaScript; the script uploads them one by one instead.
    // The good files of a batch are kept; refused ones are named on a page of their own.
    uploads.post('/events/:id/photos', { schema: { params: IdParams } }, async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}`, 303);
      const eventPath = `/events/${encodeURIComponent(request.params.id)}`;
      let uploaded: PhotoJson[];
      let refused: RefusedFile[];
      try {
        const event = await startUpload(request, viewer, BATCH_FILES);
        const received = await receiveFiles(request, photos, event, viewer, { batch: true, maxBytes: deps.maxUploadBytes });
        uploaded = [];
        for (const upload of received.stored) uploaded.push(await upload.commit(received.choices));
        refused = received.refused;
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        closeAfterRefusal(request, reply, error);
        // The problem shows at the top of the page: no fragment to scroll past it.
        return reply.redirect(`${eventPath}?upload=${error.code}`, 303);
      }
      if (refused.length === 0) return reply.redirect(`${eventPath}?upload=uploaded&count=${uploaded.length}#gallery`, 303);
      reply.header('cache-control', PRIVATE);
      return reply
        .code(uploaded.length > 0 ? 200 : refused[0]!.status)
        .type('text/html; charset=utf-8')
        .send(uploadResultsPage({ viewer, eventPath, added: uploaded.length, refused }));
    });
  });

  app.get(
    '/api/v1/events/:id/photos',
    {
      schema: {
        summary: "An event's ready photos, newest first",
        tags: ['photos'],
        security: ACCESS.anyoneOrSignedIn,
        params: IdParams,
        querystring: PageQuery,
        response: { 200: PageOf(PhotoSchema), ...errorResponses('not_found', 'invalid_cursor') },
      },
      config: { publicPage: eventPageTags },
    },
    async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      const page = await photos.gallery(
        request.params.id,
        viewer,
        parsePageQuery(request.query),
        deps.reads(request),
        deps.invites(request),
      );
      // Public galleries may be cached briefly by a CDN; signed URLs inside stay valid past that.
      cacheFor(reply, page.event.visibility === 'public' && !viewer);
      keepOutOfIndex(reply, page.event);
      return { items: page.items, nextCursor: page.nextCursor };
    },
  );

  // The photo viewer: one page per photo, in its event's anonymous page cache (the event's tag covers its photos).
  app.get(
    '/events/:id/photos/:photoId',
    { schema: { params: ViewerParams }, config: { publicPage: eventPageTags } },
    async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      const shown = await photos.inViewer(request.params.id, request.params.photoId, viewer, deps.reads(request), deps.invites(request));
      cacheFor(reply, shown.event.visibility === 'public' && !viewer);
      keepOutOfIndex(reply, shown.event);
      return reply.type('text/html; charset=utf-8').send(viewerPage({ viewer, shown }));
    },
  );

  // An event photo's picture (a cover's, on event cards and in link previews): a redirect to where it is stored.
  app.get('/events/:id/cover/:photoId', { schema: { params: ViewerParams, querystring: PictureQuery } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    const { url, event } = await photos.pictureUrl(
      request.params.id,
      request.params.photoId,
      request.query.size ?? 'thumbnail',
      viewer,
      deps.reads(request),
      deps.invites(request),
    );
    cacheFor(reply, event.visibility === 'public' && !viewer);
    keepOutOfIndex(reply, event);
    return reply.redirect(url, 302);
  });

  app.get(
    '/api/v1/photos/:id',
    {
      schema: {
        summary: 'A photo',
        tags: ['photos'],
        security: ACCESS.anyoneOrSignedIn,
        params: PhotoParams,
        response: { 200: PhotoSchema, ...errorResponses('not_found') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      reply.header('cache-control', 'private, no-store');
      return photos.get(request.params.id, viewer, deps.invites(request));
    },
  );

  app.delete(
    '/api/v1/photos/:id',
    {
      schema: {
        summary: 'Delete a photo (uploader, event owner or admin)',
        tags: ['photos'],
        security: ACCESS.signedIn,
        params: PhotoParams,
        response: { 204: NoContent, ...errorResponses('not_found', 'forbidden') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      await photos.delete(request.params.id, viewer);
      return reply.code(204).send();
    },
  );

  app.get('/photos/:id/delete', { schema: { params: PhotoParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/photos/${encodeURIComponent(request.params.id)}/delete`);
    const photo = await photos.deletable(request.params.id, viewer);
    reply.header('cache-control', PRIVATE);
    return reply.type('text/html; charset=utf-8').send(
      confirmPage({
        viewer,
        heading: 'Delete this photo?',
        body: html`${photo.thumbnailUrl ? html`<p><img class="confirm-photo" src="${photo.thumbnailUrl}" alt="The photo to delete"></p>` : ''}
          <p>It goes from the gallery for everyone, with its original. It cannot be undone.</p>`,
        action: `/photos/${photo.id}/delete`,
        button: 'Delete photo',
        back: { href: `/events/${photo.eventId}/photos/${photo.id}`, label: 'Keep the photo' },
      }),
    );
  });

  app.post('/photos/:id/delete', { schema: { params: PhotoParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    if (!confirmed(request.body)) return reply.redirect(`/photos/${encodeURIComponent(request.params.id)}/delete`, 303);
    const photo = await photos.get(request.params.id, viewer);
    await photos.delete(request.params.id, viewer);
    return reply.redirect(`/events/${photo.eventId}#gallery`, 303);
  });
}
