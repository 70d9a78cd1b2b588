// The web app: the HTTP server, its plugins and hooks, and every feature's routes.
import type { FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import type { Config } from '../config/env.js';
import { createReadRouting, type ReadsFor } from '../platform/http/read-routing.js';
import { createHttpServer, type App } from '../platform/http/server.js';
import { registerCompression } from '../platform/http/compression.js';
import { crossSiteRefusal } from '../platform/http/cross-site.js';
import { securityHeaders } from '../platform/http/security-headers.js';
import { createSessionCookies, SESSION_COOKIE } from '../platform/http/cookies.js';
import { healthRoutes } from '../platform/http/health.js';
import { registerApiDocument } from '../platform/http/openapi.js';
import { checkAnswersAgainstSchemas } from '../platform/http/answer-check.js';
import { packageJson, publicDir } from '../platform/paths.js';
import { instrumentHttp } from '../platform/observability/http-metrics.js';
import { mediaRoutes } from '../platform/storage/media.routes.js';
import { errorPage } from '../ui/layout.js';
import { createAuth, type Auth } from '../features/accounts/auth.service.js';
import { accountsRoutes } from '../features/accounts/accounts.routes.js';
import { meRoutes } from '../features/accounts/me.routes.js';
import { invitesRoutes } from '../features/events/invites.routes.js';
import { createInvitePasses, INVITES_COOKIE, type InvitePasses } from '../features/events/invite-passes.js';
import { eventsRoutes, type EventPageSections } from '../features/events/events.routes.js';
import { bookingsRoutes } from '../features/bookings/bookings.routes.js';
import { auditRoutes } from '../features/audit/audit.routes.js';
import { adminRoutes } from '../features/admin/admin.routes.js';
import { photosRoutes } from '../features/photos/photos.routes.js';
import { galleryPosition, gallerySection, photoAlt } from '../features/photos/views/gallery.js';
import type { PhotoJson } from '../features/photos/photos.service.js';
import type { PublicUser } from '../features/accounts/accounts.service.js';
import type { EventRow } from '../features/events/events.types.js';
import type { Page } from '../platform/http/pagination.js';
import { exportsRoutes } from '../features/exports/exports.routes.js';
import { FLAGS } from '../features/flags/flags.service.js';
import { flagsRoutes } from '../features/flags/flags.routes.js';
import { backupsAdminSection } from '../features/backups/views/backups-section.js';
import { statsRoutes } from '../features/stats/stats.routes.js';
import { statsSection } from '../features/stats/views/stats-section.js';
import { integritySection } from '../features/integrity/views/integrity-section.js';
import { retentionRoutes } from '../features/retention/retention.routes.js';
import { apiReferenceRoutes } from '../features/api-reference/api-reference.routes.js';
import { mailboxRoutes } from '../features/mailbox/mailbox.routes.js';
import type { Platform } from './platform.js';
import type { Services } from './services.js';

/** Where images may come from besides this site: the CDN, and the bucket that presigned URLs point at. */
function mediaOrigins(config: Config): string[] {
  const origins = config.cdnBaseUrl ? [new URL(config.cdnBaseUrl).origin] : [];
  if (config.storageUrl?.startsWith('s3:')) origins.push(config.s3Endpoint ? new URL(config.s3Endpoint).origin : 'https://*.amazonaws.com');
  return origins;
}

/** The security headers the web sends with these settings (`epu readiness` compares a deployment's with them). */
export function webSecurityHeaders(config: Config): Readonly<Record<string, string>> {
  return securityHeaders({ https: config.publicUrl.protocol === 'https:', mediaOrigins: mediaOrigins(config) });
}

export interface WebOptions {
  isShuttingDown: () => boolean;
}

export async function buildWebApp(platform: Platform, services: Services, options: WebOptions): Promise<App> {
  const { config, keyring } = platform;
  const https = config.publicUrl.protocol === 'https:';
  const cookies = createSessionCookies(keyring, https);
  const auth = createAuth(services.accounts, cookies);
  const passes = createInvitePasses(keyring, https);
  const app = createWebServer(platform, auth);
  await registerPlugins(app, platform);
  const reads = createReadRouting(app, {
    primary: platform.db,
    replica: platform.replica?.db ?? null,
    keyring,
    stickySeconds: config.replicaStickySeconds,
    secure: https,
    isSignedIn: (request) => cookies.read(request) !== null,
  });
  operationsRoutes(app, platform, options);
  featureRoutes(app, platform, services, { auth, passes, reads });
  return app;
}

/** The server with EPU's error pages, its metrics, compression and the API document (all before any route). */
function createWebServer(platform: Platform, auth: Auth): App {
  const { config } = platform;
  // Error pages keep a signed-in reader's menu; when the session cannot be read (the database is the error), the signed-out one.
  const menuViewer = (request: FastifyRequest) => auth.currentUser(request).catch(() => null);
  const app = createHttpServer({
    logger: platform.logger,
    headers: webSecurityHeaders(config),
    bodyLimit: 100 * 1024,
    requestTimeoutMs: config.requestBodyTimeoutMs,
    trustProxy: config.trustProxyHops > 0 ? config.trustProxyHops : false,
    errorPages: {
      notFound: async (request) =>
        errorPage({
          status: 404,
          title: 'Page not found',
          message: 'There is nothing at this address.',
          viewer: await menuViewer(request),
        }),
      error: async (request, status, message) =>
        errorPage({
          status,
          title: status >= 500 ? 'Something went wrong' : 'That did not work',
          message,
          requestId: request.id,
          viewer: await menuViewer(request),
        }),
    },
  });
  instrumentHttp(app, platform.metrics);
  // Before the routes: it must run before the page cache's route-level hooks, which store what it sends.
  registerCompression(app);
  return app;
}

/** The API document, cookies, forms, uploads, static assets and the cross-site refusal. */
async function registerPlugins(app: App, { config }: Platform): Promise<void> {
  // Before any route: the document is generated from the routes' schemas as they are added.
  await registerApiDocument(app, {
    title: 'EPU API',
    version: packageJson.version,
    description: 'Events, bookings, photo galleries and exports; admin stats, audit and flags.',
    serverUrl: config.publicUrl.origin,
  });
  // In tests every API answer must be one its route's schema (and so the document) lists.
  if (config.appEnv === 'test') checkAnswersAgainstSchemas(app);
  await app.register(fastifyCookie);
  await app.register(fastifyFormbody, { bodyLimit: 100 * 1024 });
  await app.register(fastifyStatic, { root: publicDir, prefix: '/assets/', maxAge: '365d', immutable: true, index: false });
  app.addHook('onRequest', (request, _reply, done) => done(crossSiteRefusal(request, config.publicUrl.origin) ?? undefined));
}

/** Signed media (disk storage), the anonymous page cache and the health endpoints. */
function operationsRoutes(app: App, platform: Platform, options: WebOptions): void {
  const { config } = platform;
  if (platform.storage.driver === 'file') mediaRoutes(app, { storage: platform.storage, keyring: platform.keyring });
  // Anonymous only: a request carrying any session cookie or invite pass, valid or not, is rendered for its
  // viewer (an invite's view is never kept nor served from the anonymous copies: decisions 0016 and 0030).
  platform.pages.register(app, (request) => request.cookies[SESSION_COOKIE] === undefined && request.cookies[INVITES_COOKIE] === undefined);
  healthRoutes(app, {
    checks: {
      database: async () => (await platform.pool.query('SELECT 1'), 'ok'),
      storage: () => platform.storage.check(),
      // Accelerators: 'degraded' while down (requests are still served), never failing.
      ...(config.redisUrl && { redis: () => platform.cache.check() }),
      ...(platform.replica && { replica: platform.replica.check }),
    },
    isShuttingDown: options.isShuttingDown,
    environment: config.appEnv,
    gitSha: config.gitSha,
  });
}

type UploadsEnabled = (viewer: { id: string } | null) => Promise<boolean>;

/** The gallery under an event's page, and the photo that stands for the event in link previews. */
function eventPageSections(platform: Platform, services: Services, uploadsEnabled: UploadsEnabled): EventPageSections {
  const { config } = platform;
  const gallerySections = async (
    event: EventRow,
    viewer: PublicUser | null,
    query: Record<string, string | undefined>,
    gallery: Page<PhotoJson>,
    viewerBooked: Promise<boolean>,
  ) => {
    const [canUpload, uploadsOn] = await Promise.all([
      viewer ? services.photos.canContribute(event, viewer, viewerBooked) : false,
      uploadsEnabled(viewer),
    ]);
    const from = query.photos ? galleryPosition(query.from) : 1;
    // The first photo shown (the newest ready one) stands for the event in link previews.
    const first = gallery.items.find((photo) => photo.displayUrl);
    return {
      body: gallerySection({
        eventId: event.id,
        photos: gallery.items,
        nextCursor: gallery.nextCursor,
        from,
        canUpload,
        uploadsEnabled: uploadsOn,
        maxUploadMiB: Math.floor(config.maxUploadBytes / 1024 / 1024),
      }),
      previewImage: first && {
        url: new URL(first.displayUrl!, config.publicUrl).href,
        alt: photoAlt(first, from + gallery.items.indexOf(first)),
      },
    };
  };
  const galleryPage = (query: Record<string, string | undefined>) => ({ limit: 24, cursor: query.photos });
  return {
    async forViewer(event, viewer, query, pageReads, viewerBooked, invites) {
      const gallery = await services.photos.gallery(event.id, viewer, galleryPage(query), pageReads, invites);
      return gallerySections(event, viewer, query, gallery, viewerBooked);
    },
    async forSession(event, session, query) {
      const gallery = await services.photos.galleryWithViewer(event, session, galleryPage(query));
      const viewer = gallery.viewer;
      return {
        viewer,
        ...(await gallerySections(event, viewer?.user ?? null, query, gallery, Promise.resolve(Boolean(viewer?.bookingId)))),
      };
    },
  };
}

/** Every feature's routes, in the order they answer. */
function featureRoutes(app: App, platform: Platform, services: Services, web: { auth: Auth; passes: InvitePasses; reads: ReadsFor }): void {
  const { config } = platform;
  const { auth, passes, reads } = web;
  accountsRoutes(app, { accounts: services.accounts, auth, publicUrl: config.publicUrl });
  // The photos.uploads flag can switch uploads off (say, during a storage incident) without a deploy.
  const uploadsEnabled: UploadsEnabled = (viewer) => services.flags.isEnabled(FLAGS.photosUploads, viewer?.id ?? null);
  eventsRoutes(app, {
    events: services.events,
    bookings: services.bookings,
    auth,
    flags: services.flags,
    reads,
    publicUrl: config.publicUrl,
    invites: services.invites,
    passes,
    pageSections: eventPageSections(platform, services, uploadsEnabled),
  });
  const invitesOf = (request: FastifyRequest) => passes.read(request);
  photosRoutes(app, { photos: services.photos, auth, maxUploadBytes: config.maxUploadBytes, uploadsEnabled, reads, invites: invitesOf });
  invitesRoutes(app, { invites: services.invites, events: services.events, auth, passes });
  exportsRoutes(app, { exports: services.exports, auth });
  auditRoutes(app, { audit: services.audit, auth });
  adminRoutes(app, {
    auth,
    queue: platform.queue,
    audit: services.audit,
    sections: {
      before: [async () => statsSection(await services.stats.read()), async () => integritySection(await services.integrity.latest())],
      after: [backupsAdminSection(services.backups, config.backupKeep)],
    },
  });
  flagsRoutes(app, { flags: services.flags, auth });
  // Flags are in memory before the first request.
  app.addHook('onReady', () => services.flags.start());
  app.addHook('onReady', () => platform.pages.start());
  bookingsRoutes(app, { bookings: services.bookings, events: services.events, auth, invites: invitesOf });
  meRoutes(app, { auth, bookings: services.bookings, events: services.events, exports: services.exports });
  statsRoutes(app, { stats: services.stats, auth });
  retentionRoutes(app, { retention: services.retention, accounts: services.accounts, auth });
  apiReferenceRoutes(app, { auth });
  // Development and tests without SMTP_URL only: staging and production have no dev mailbox, and these paths are 404.
  if (platform.devMailbox) mailboxRoutes(app, { mailbox: platform.devMailbox, auth });
}
