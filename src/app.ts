// Composition root: builds the platform (clients for the dials) from config,
// hands each feature only what it uses, and closes everything in reverse order.
import type pg from 'pg';
import type { FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { Config } from './config/env.js';
import { ensureEmbeddedPostgres } from './platform/db/embedded.js';
import { createKysely, createPool, type Db } from './platform/db/pool.js';
import { createNotifier } from './platform/db/notifier.js';
import { createLogger, logContextMixin, type Logger } from './platform/observability/logger.js';
import { createKeyring, resolveSecretKeys, type Keyring } from './platform/security/keyring.js';
import { postgresLimiterFactory, redisLimiterFactory, type LimiterFactory } from './platform/rate-limit.js';
import { createRedisConnection, redisNamespace } from './platform/redis.js';
import { createCache, type Cache } from './platform/cache/index.js';
import { createPublicPageCache, PAGE_TAGS, type PublicPageCache } from './platform/http/public-pages.js';
import { createReplica, type Replica } from './platform/db/replica.js';
import { createReadRouting } from './platform/http/read-routing.js';
import { createHttpServer, type App } from './platform/http/server.js';
import { registerCompression } from './platform/http/compression.js';
import { crossSiteRefusal } from './platform/http/cross-site.js';
import { securityHeaders } from './platform/http/security-headers.js';
import { createSessionCookies, SESSION_COOKIE } from './platform/http/cookies.js';
import { healthRoutes } from './platform/http/health.js';
import { registerApiDocument } from './platform/http/openapi.js';
import { checkAnswersAgainstSchemas } from './platform/http/answer-check.js';
import { packageJson, publicDir } from './platform/paths.js';
import { createMetrics, instrumentHttp, instrumentPool, type Metrics } from './platform/observability/metrics.js';
import { runWithExtractedContext } from './platform/observability/tracing.js';
import { createStorage } from './platform/storage/create-storage.js';
import { mediaRoutes } from './platform/storage/media.routes.js';
import type { ObjectStorage, StorageHooks } from './platform/storage/storage.js';
import { createQueue, type JobHandler, type Queue } from './platform/queue/index.js';
import { createFunctionsDispatcher, deliverJobHandler, DELIVER_JOB, type FunctionsDispatcher } from './platform/functions/dispatcher.js';
import { createFunctionsInvoker, type FunctionName } from './platform/functions/invoker.js';
import type { EpuFunction } from './platform/functions/cloud-event.js';
import { errorPage } from './ui/layout.js';
import { createAccountsRepository } from './features/accounts/accounts.repository.js';
import { createAccountsService, type AccountsService } from './features/accounts/accounts.service.js';
import { createLoginThrottle } from './features/accounts/login-throttle.js';
import { createAuth } from './features/accounts/auth.service.js';
import { accountsRoutes } from './features/accounts/accounts.routes.js';
import { meRoutes } from './features/accounts/me.routes.js';
import { createEventsRepository } from './features/events/events.repository.js';
import { createEventsService } from './features/events/events.service.js';
import { createInvitesRepository } from './features/events/invites.repository.js';
import { createInvitesService, type InvitesService } from './features/events/invites.service.js';
import { invitesRoutes } from './features/events/invites.routes.js';
import { createInvitePasses, INVITES_COOKIE } from './features/events/invite-passes.js';
import { eventsRoutes } from './features/events/events.routes.js';
import { createBookingsRepository } from './features/bookings/bookings.repository.js';
import { createBookingsService } from './features/bookings/bookings.service.js';
import { bookingsRoutes } from './features/bookings/bookings.routes.js';
import { createAuditRecorder, createAuditService, type AuditService } from './features/audit/audit.service.js';
import { createAuditRepository } from './features/audit/audit.repository.js';
import { createAuditLogFunction } from './features/audit/audit.functions.js';
import { auditRoutes } from './features/audit/audit.routes.js';
import { adminRoutes } from './features/admin/admin.routes.js';
import { createPhotosRepository } from './features/photos/photos.repository.js';
import { createPhotosService, deleteObjects, type PhotosService } from './features/photos/photos.service.js';
import { createPhotoUploadedFunction, PROCESS_PHOTO_JOB } from './features/photos/photos.functions.js';
import { processPhotoJob, REMOVE_LOCATION_JOB, removeLocationJob, renderRenditions } from './features/photos/photos.jobs.js';
import { photosRoutes } from './features/photos/photos.routes.js';
import { galleryPosition, gallerySection, photoAlt } from './features/photos/views/gallery.js';
import { createExportsRepository } from './features/exports/exports.repository.js';
import { BUILD_EXPORT_JOB, createExportsService, type ExportsService } from './features/exports/exports.service.js';
import { buildExportJob } from './features/exports/exports.jobs.js';
import { exportsRoutes } from './features/exports/exports.routes.js';
import { createChangeBus, type ChangeBus } from './platform/pubsub/index.js';
import { createFlagsRepository } from './features/flags/flags.repository.js';
import { createFlagsService, FLAGS, type FlagsService } from './features/flags/flags.service.js';
import { flagsRoutes } from './features/flags/flags.routes.js';
import { createDrillsRepository } from './features/backups/backups.repository.js';
import { BACKUP_COPY_JOB, BACKUP_CREATE_JOB, createBackupsService, type BackupsService } from './features/backups/backups.service.js';
import { createBackupCopyJob, createBackupJob } from './features/backups/backups.jobs.js';
import { backupsAdminSection } from './features/backups/views/backups-section.js';
import { createStatsRepository } from './features/stats/stats.repository.js';
import { createStatsService, STATS_AGGREGATE_JOB, type StatsService } from './features/stats/stats.service.js';
import { statsAggregateJob } from './features/stats/stats.jobs.js';
import { statsRoutes } from './features/stats/stats.routes.js';
import { statsSection } from './features/stats/views/stats-section.js';
import { createIntegrityRepository } from './features/integrity/integrity.repository.js';
import { createIntegrityService, INTEGRITY_CHECK_JOB, type IntegrityService } from './features/integrity/integrity.service.js';
import { integrityCheckJob } from './features/integrity/integrity.jobs.js';
import { integritySection } from './features/integrity/views/integrity-section.js';
import { createRetentionRepository } from './features/retention/retention.repository.js';
import {
  createRetentionService,
  RETENTION_SWEEP_JOB,
  retentionPolicy,
  type RetentionService,
} from './features/retention/retention.service.js';
import { retentionSweepJob } from './features/retention/retention.jobs.js';
import { retentionRoutes } from './features/retention/retention.routes.js';
import { apiReferenceRoutes } from './features/api-reference/api-reference.routes.js';

export type ProcessRole = 'web' | 'worker' | 'functions' | 'cli' | 'start';

export interface Platform {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  pool: pg.Pool;
  db: Db;
  /** Where read-heavy queries go: the replica (DATABASE_REPLICA_URL), else the primary. Per request, see platform/http/read-routing. */
  readDb: Db;
  replica: Replica | null;
  /** Hot reads: an in-process LRU, or Redis shared by every replica when REDIS_URL is set. */
  cache: Cache;
  keyring: Keyring;
  limiters: LimiterFactory;
  /** Change announcements between processes (flags): PostgreSQL LISTEN/NOTIFY, or Redis pub/sub when REDIS_URL is set. */
  bus: ChangeBus;
  /** Anonymous public pages kept by web processes; every process announces the changes that affect them. */
  pages: PublicPageCache;
  metrics: Metrics;
  storage: ObjectStorage;
  /** Where backups go: `storage` itself, or BACKUP_STORAGE_URL's store when set. */
  backupStorage: ObjectStorage;
  /** BACKUP_COPY_URL's store in a second region, or null. */
  backupCopyStorage: ObjectStorage | null;
  queue: Queue;
  /** Function calls go out through the queue (an outbox); see platform/functions. */
  dispatcher: FunctionsDispatcher;
  /** Shared by callers and the functions host: FUNCTIONS_TOKEN, or derived from SECRET_KEY. */
  functionsToken: string;
  /** Closes clients in reverse order of creation. */
  close(): Promise<void>;
}

export function createRootLogger(config: Config, role: ProcessRole): Logger {
  return createLogger({ level: config.logLevel, pretty: config.logPretty, name: `epu-${role}`, mixin: logContextMixin });
}

/** BACKUP_STORAGE_URL's store: the S3 settings of STORAGE_URL, never a CDN (backups are private). */
export function createBackupStorage(config: Config, keyring: Keyring, logger: Logger): ObjectStorage {
  return createStorage({ ...config, storageUrl: config.backupStorageUrl ?? config.storageUrl, cdnBaseUrl: undefined }, keyring, logger);
}

/** BACKUP_COPY_URL's store in a second region, with its own S3 settings; null when backups are not copied. */
export function createBackupCopyStorage(config: Config, keyring: Keyring, logger: Logger, hooks: StorageHooks = {}): ObjectStorage | null {
  if (!config.backupCopy) return null;
  return createStorage({ ...config, ...config.backupCopy, cdnBaseUrl: undefined }, keyring, logger, hooks);
}

export async function createPlatform(config: Config, role: ProcessRole, logger = createRootLogger(config, role)): Promise<Platform> {
  const closers: (() => Promise<void>)[] = [];
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded = await ensureEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, logger });
      databaseUrl = embedded.url;
      closers.push(embedded.stop);
    }
    const pool = createPool({
      connectionString: databaseUrl,
      max: config.databasePoolMax,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
      applicationName: `epu-${role}`,
      preparedStatements: config.databasePreparedStatements,
    });
    closers.push(() => pool.end());
    // Right after the pool: query timing covers the connections opened from here on.
    const metrics = createMetrics({ role, version: packageJson.version, gitSha: config.gitSha, backupCopies: Boolean(config.backupCopy) });
    instrumentPool(pool, metrics);
    let replica: Replica | null = null;
    if (config.databaseReplicaUrl) {
      const replicaPool = createPool({
        connectionString: config.databaseReplicaUrl,
        max: config.databasePoolMax,
        statementTimeoutMs: config.databaseStatementTimeoutMs,
        applicationName: `epu-${role}-replica`,
        preparedStatements: config.databasePreparedStatements,
        // Soon enough to read from the primary instead while the replica does not answer.
        connectionTimeoutMs: 2_000,
      });
      closers.push(() => replicaPool.end());
      instrumentPool(replicaPool, metrics);
      replica = createReplica({ primary: pool, replica: replicaPool, logger: logger.child({ component: 'replica' }) });
    }
    // NOTIFY for job wake-ups and page announcements, always after the writing transaction commits.
    const notifier = createNotifier({ pool });
    closers.push(() => notifier.flush());
    const bus = createChangeBus({ redisUrl: config.redisUrl, databaseUrl, notifier, logger });
    closers.push(() => bus.close());
    const db = createKysely(pool);
    const namespace = redisNamespace(databaseUrl);
    // One fail-fast connection for the cache and the rate limits; the bus keeps its own two.
    const redis = config.redisUrl
      ? createRedisConnection({
          url: config.redisUrl,
          name: `epu-${role}:${namespace}`,
          logger,
          commandTimeoutMs: config.redisCommandTimeoutMs,
        })
      : null;
    if (redis) closers.push(async () => redis.disconnect());
    const cache = createCache({ redis, namespace, logger, onLookup: metrics.cacheHit });
    const postgresLimiters = postgresLimiterFactory(pool);
    const keyring = createKeyring(resolveSecretKeys(config));
    const storage = createStorage(config, keyring, logger, { onError: (operation) => metrics.storageError(operation) });
    closers.push(() => storage.close());
    const backupStorage = config.backupStorageUrl ? createBackupStorage(config, keyring, logger) : storage;
    if (backupStorage !== storage) closers.push(() => backupStorage.close());
    const backupCopyStorage = createBackupCopyStorage(config, keyring, logger, { onError: (operation) => metrics.storageError(operation) });
    if (backupCopyStorage) closers.push(() => backupCopyStorage.close());
    const queue = createQueue({ db, pool, logger, notifier });
    const pages = createPublicPageCache({
      bus,
      logger,
      ttlSeconds: config.publicPageCacheSeconds,
      onLookup: (hit) => metrics.cacheHit('page', hit),
    });
    closers.push(async () => pages.stop());

    return {
      config,
      logger,
      databaseUrl,
      pool,
      db,
      readDb: replica?.db ?? db,
      replica,
      cache,
      keyring,
      limiters: redis ? redisLimiterFactory(redis, namespace, postgresLimiters) : postgresLimiters,
      bus,
      pages,
      metrics,
      storage,
      backupStorage,
      backupCopyStorage,
      queue,
      dispatcher: createFunctionsDispatcher(queue),
      functionsToken: config.functionsToken ?? keyring.sign('functions', 'epu-functions-invoke'),
      async close() {
        for (const close of closers.reverse()) await close().catch((error) => logger.warn({ err: error }, 'error while closing'));
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

export interface Services {
  accounts: AccountsService;
  events: ReturnType<typeof createEventsService>;
  bookings: ReturnType<typeof createBookingsService>;
  invites: InvitesService;
  audit: AuditService;
  photos: PhotosService;
  exports: ExportsService;
  flags: FlagsService;
  backups: BackupsService;
  stats: StatsService;
  integrity: IntegrityService;
  retention: RetentionService;
}

function createBackups(platform: Platform): BackupsService {
  return createBackupsService({
    databaseUrl: platform.databaseUrl,
    storage: platform.backupStorage,
    drills: createDrillsRepository(platform.db),
    keep: platform.config.backupKeep,
    logger: platform.logger,
    onBackupSuccess: (at) => platform.metrics.setBackupSuccess(at),
    onDrillSuccess: (at) => platform.metrics.setDrillSuccess(at),
    copyStorage: platform.backupCopyStorage,
    // A job of its own: a slow or failing copy to the other region is retried without taking the backup again.
    onBackupWritten: platform.backupCopyStorage
      ? async (manifest) =>
          void (await platform.queue.enqueue(BACKUP_COPY_JOB, { backupId: manifest.id }, { key: `${BACKUP_COPY_JOB}:${manifest.id}` }))
      : undefined,
    onCopyVerified: (at) => platform.metrics.setBackupCopySuccess(at),
    renderDerived: renderRenditions,
  });
}

/** The features' services, shared by the web, the worker and the CLI. */
export function createServices(platform: Platform): Services {
  const { db, config } = platform;
  const audit = createAudit(platform);
  const accounts = createAccountsService({
    repo: createAccountsRepository(db),
    throttle: createLoginThrottle(platform.limiters),
    signupLimiter: platform.limiters({ keyPrefix: 'signup-address', points: config.signupRateLimit, durationSeconds: 3600 }),
    sessionTtlDays: config.sessionTtlDays,
    audit,
  });
  const photosRepo = createPhotosRepository(db);
  const invitesRepo = createInvitesRepository(db);
  const events = createEventsService({
    repo: createEventsRepository(db),
    audit,
    cache: platform.cache,
    cacheTtlSeconds: config.cacheTtlSeconds,
    defaultTimeZone: config.defaultTimeZone,
    pages: platform.pages,
    objects: {
      keysOf: (eventId, tx) => photosRepo.objectKeysOfEvent(eventId, tx),
      remove: (keys) => deleteObjects(platform.storage, keys),
    },
    invites: invitesRepo,
  });
  const bookings = createBookingsService({ repo: createBookingsRepository(db), events, audit });
  const photos = createPhotosService({
    db,
    repo: photosRepo,
    storage: platform.storage,
    events,
    dispatcher: platform.dispatcher,
    audit,
    pages: platform.pages,
    uploadLimiter: platform.limiters({ keyPrefix: 'uploads', points: config.uploadRateLimit, durationSeconds: 600 }),
    maxUploadBytes: config.maxUploadBytes,
    maxImagePixels: config.maxImagePixels,
    source: config.publicUrl.origin,
    onStored: (bytes) => platform.metrics.uploadBytes(bytes),
  });
  const exports = createExportsService({
    db,
    repo: createExportsRepository(db),
    queue: platform.queue,
    storage: platform.storage,
    events,
    audit,
    limiter: platform.limiters({ keyPrefix: 'exports', points: config.exportRateLimit, durationSeconds: 3600 }),
  });
  const flags = createFlagsService({
    repo: createFlagsRepository(db),
    bus: platform.bus,
    logger: platform.logger,
    recordAudit: ({ requestId: _requestId, ...entry }, executor) => audit.record(entry, executor),
    // Pages may show flagged parts; every process reloads flags by itself, so each drops its own pages.
    onChange: () => platform.pages.drop(PAGE_TAGS.all),
  });
  const stats = createStatsService({ repo: createStatsRepository(db), logger: platform.logger });
  return {
    accounts,
    events,
    bookings,
    invites: createInvitesService({ repo: invitesRepo, events, audit, publicUrl: config.publicUrl }),
    audit,
    photos,
    exports,
    flags,
    backups: createBackups(platform),
    stats,
    integrity: createIntegrity(platform),
    retention: createRetention(platform, { audit, exports, photos }),
  };
}

function createAudit(platform: Platform): AuditService {
  return createAuditService({
    recorder: createAuditRecorder(platform.dispatcher, platform.config.publicUrl.origin),
    repo: createAuditRepository(platform.db),
  });
}

function createIntegrity(platform: Platform): IntegrityService {
  return createIntegrityService({ repo: createIntegrityRepository(platform.db), storage: platform.storage, logger: platform.logger });
}

function createRetention(platform: Platform, { audit, exports, photos }: Pick<Services, 'audit' | 'exports' | 'photos'>): RetentionService {
  const { db } = platform;
  return createRetentionService({
    db,
    repo: createRetentionRepository(db),
    exports,
    photos,
    queue: platform.queue,
    storage: platform.storage,
    audit,
    pages: platform.pages,
    policy: retentionPolicy(platform.config),
    logger: platform.logger,
  });
}

/** The function handlers (functions-framework signatures), run by `epu functions` or in-process. */
export function createFunctionHandlers(platform: Platform): Record<FunctionName, EpuFunction<any>> {
  const { db, logger } = platform;
  return {
    auditLog: createAuditLogFunction({ repo: createAuditRepository(db), logger }),
    photoUploaded: createPhotoUploadedFunction({
      repo: createPhotosRepository(db),
      storage: platform.storage,
      queue: platform.queue,
      logger,
      maxImagePixels: platform.config.maxImagePixels,
    }),
  };
}

/** Cron schedules (UTC) that every worker registers at start; each slot enqueues its job once, however many workers run. */
export const SCHEDULES: Record<string, string> = {
  [BACKUP_CREATE_JOB]: '0 3 * * *',
  [STATS_AGGREGATE_JOB]: '*/5 * * * *',
  [INTEGRITY_CHECK_JOB]: '30 2 * * *',
  [RETENTION_SWEEP_JOB]: '15 * * * *',
};

/** Every job the worker runs, by name. */
export function createJobHandlers(platform: Platform, services = createServices(platform)): Record<string, JobHandler> {
  const { db, config, logger, storage } = platform;
  let functionHandlers: Record<FunctionName, EpuFunction<any>> | undefined;
  const invoker = createFunctionsInvoker({
    functionsUrl: config.functionsUrl,
    token: platform.functionsToken,
    handlers: () => (functionHandlers ??= createFunctionHandlers(platform)),
    logger,
  });
  const photosRepo = createPhotosRepository(db);
  const handlers: Record<string, JobHandler> = {
    [DELIVER_JOB]: deliverJobHandler(invoker),
    [PROCESS_PHOTO_JOB]: processPhotoJob({ repo: photosRepo, storage, logger, pages: platform.pages }),
    [REMOVE_LOCATION_JOB]: removeLocationJob({ repo: photosRepo, storage, logger }),
    [BUILD_EXPORT_JOB]: buildExportJob({
      repo: createExportsRepository(db),
      events: services.events,
      photos: services.photos,
      storage,
      exportHours: config.retention.exportHours,
      logger,
    }),
    [BACKUP_CREATE_JOB]: createBackupJob({ backups: services.backups, logger }),
    [BACKUP_COPY_JOB]: createBackupCopyJob({ backups: services.backups, logger }),
    [STATS_AGGREGATE_JOB]: statsAggregateJob({ repo: createStatsRepository(db), logger }),
    [INTEGRITY_CHECK_JOB]: integrityCheckJob({ integrity: services.integrity, metrics: platform.metrics, logger }),
    [RETENTION_SWEEP_JOB]: retentionSweepJob(services.retention),
  };
  // Each run continues the trace of the request that enqueued it.
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      ((job, signal) =>
        runWithExtractedContext(job.trace, `job ${name}`, () => handler(job, signal), {
          attributes: { 'epu.job.attempt': job.attempt },
        })) satisfies JobHandler,
    ]),
  );
}

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

  // Error pages keep a signed-in reader's menu; when the session cannot be read (the database is the error), the signed-out one.
  const menuViewer = (request: FastifyRequest) => auth.currentUser(request).catch(() => null);
  const headers = webSecurityHeaders(config);
  const app = createHttpServer({
    logger: platform.logger,
    headers,
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
  await app.register(fastifyMultipart, { limits: { fileSize: config.maxUploadBytes }, throwFileSizeLimit: true });
  await app.register(fastifyStatic, { root: publicDir, prefix: '/assets/', maxAge: '365d', immutable: true, index: false });
  app.addHook('onRequest', (request, _reply, done) => done(crossSiteRefusal(request, config.publicUrl.origin) ?? undefined));
  const reads = createReadRouting(app, {
    primary: platform.db,
    replica: platform.replica?.db ?? null,
    keyring,
    stickySeconds: config.replicaStickySeconds,
    secure: https,
    isSignedIn: (request) => cookies.read(request) !== null,
  });
  if (platform.storage.driver === 'file') mediaRoutes(app, { storage: platform.storage, keyring });
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
  accountsRoutes(app, { accounts: services.accounts, auth, publicUrl: config.publicUrl });
  // The photos.uploads flag can switch uploads off (say, during a storage incident) without a deploy.
  const uploadsEnabled = (viewer: { id: string } | null) => services.flags.isEnabled(FLAGS.photosUploads, viewer?.id ?? null);
  eventsRoutes(app, {
    events: services.events,
    bookings: services.bookings,
    auth,
    flags: services.flags,
    reads,
    publicUrl: config.publicUrl,
    invites: services.invites,
    passes,
    pageSections: async (event, viewer, query, pageReads, viewerBooked, invites) => {
      const [gallery, canUpload, uploadsOn] = await Promise.all([
        services.photos.gallery(event.id, viewer, { limit: 24, cursor: query.photos }, pageReads, invites),
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
    },
  });
  photosRoutes(app, {
    photos: services.photos,
    auth,
    maxUploadBytes: config.maxUploadBytes,
    uploadsEnabled,
    reads,
    invites: (request) => passes.read(request),
  });
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
  bookingsRoutes(app, { bookings: services.bookings, events: services.events, auth, invites: (request) => passes.read(request) });
  meRoutes(app, { auth, bookings: services.bookings, events: services.events, exports: services.exports });
  statsRoutes(app, { stats: services.stats, auth });
  retentionRoutes(app, { retention: services.retention, accounts: services.accounts, auth });
  apiReferenceRoutes(app, { auth });
  return app;
}
