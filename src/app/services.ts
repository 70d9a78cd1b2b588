// The features' services, each given only what it uses; every repository is built once per process.
import { PAGE_TAGS } from '../platform/http/public-pages.js';
import { createAccountsRepository } from '../features/accounts/accounts.repository.js';
import { createAccountsService, type AccountsService } from '../features/accounts/accounts.service.js';
import { createLoginThrottle } from '../features/accounts/login-throttle.js';
import { createEventsRepository } from '../features/events/events.repository.js';
import { createEventsService, type EventsService } from '../features/events/events.service.js';
import { createInvitesRepository } from '../features/events/invites.repository.js';
import { createInvitesService, type InvitesService } from '../features/events/invites.service.js';
import { createBookingsRepository } from '../features/bookings/bookings.repository.js';
import { createBookingsService, type BookingsService } from '../features/bookings/bookings.service.js';
import { createAuditRecorder, createAuditService, type AuditService } from '../features/audit/audit.service.js';
import { createAuditRepository } from '../features/audit/audit.repository.js';
import { createPhotosRepository } from '../features/photos/photos.repository.js';
import { createPhotosService, deleteObjects, type PhotosService } from '../features/photos/photos.service.js';
import { renderRenditions } from '../features/photos/photos.jobs.js';
import { createExportsRepository } from '../features/exports/exports.repository.js';
import { createExportsService, type ExportsService } from '../features/exports/exports.service.js';
import { createFlagsRepository } from '../features/flags/flags.repository.js';
import { createFlagsService, type FlagsService } from '../features/flags/flags.service.js';
import { createDrillsRepository } from '../features/backups/backups.repository.js';
import { backupMetrics } from '../features/backups/backups.metrics.js';
import { BACKUP_COPY_JOB, createBackupsService, type BackupsService } from '../features/backups/backups.service.js';
import { createStatsRepository } from '../features/stats/stats.repository.js';
import { createStatsService, type StatsService } from '../features/stats/stats.service.js';
import { createIntegrityRepository } from '../features/integrity/integrity.repository.js';
import { createIntegrityService, type IntegrityService } from '../features/integrity/integrity.service.js';
import { createRetentionRepository } from '../features/retention/retention.repository.js';
import { createRetentionService, retentionPolicy, type RetentionService } from '../features/retention/retention.service.js';
import type { Db } from '../platform/db/pool.js';
import type { Platform } from './platform.js';

/** Every feature's repository, built once per process and shared by its services, jobs and functions. */
export function createRepositories(db: Db) {
  return {
    accounts: createAccountsRepository(db),
    events: createEventsRepository(db),
    invites: createInvitesRepository(db),
    bookings: createBookingsRepository(db),
    audit: createAuditRepository(db),
    photos: createPhotosRepository(db),
    exports: createExportsRepository(db),
    flags: createFlagsRepository(db),
    drills: createDrillsRepository(db),
    stats: createStatsRepository(db),
    integrity: createIntegrityRepository(db),
    retention: createRetentionRepository(db),
  };
}

export type Repositories = ReturnType<typeof createRepositories>;

export interface Services {
  /** The repositories the services were built on, for the jobs and functions of the same process. */
  repositories: Repositories;
  accounts: AccountsService;
  events: EventsService;
  bookings: BookingsService;
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

/** The features' services, shared by the web, the worker and the CLI. */
export function createServices(platform: Platform, repos = createRepositories(platform.db)): Services {
  const { config, logger } = platform;
  const audit = createAuditService({
    recorder: createAuditRecorder(platform.dispatcher, config.publicUrl.origin, repos.audit),
    repo: repos.audit,
  });
  const events = createEvents(platform, repos, audit);
  const photos = createPhotos(platform, repos, { audit, events });
  const exports = createExportsService({
    db: platform.db,
    repo: repos.exports,
    queue: platform.queue,
    storage: platform.storage,
    events,
    audit,
    limiter: platform.limiters({ keyPrefix: 'exports', points: config.exportRateLimit, durationSeconds: 3600 }),
  });
  return {
    repositories: repos,
    accounts: createAccountsService({
      repo: repos.accounts,
      throttle: createLoginThrottle(platform.limiters),
      signupLimiter: platform.limiters({ keyPrefix: 'signup-address', points: config.signupRateLimit, durationSeconds: 3600 }),
      sessionTtlDays: config.sessionTtlDays,
      audit,
      queue: platform.queue,
      resetLimiters: {
        byAddress: platform.limiters({ keyPrefix: 'reset-address', points: 20, durationSeconds: 3600 }),
        byAccount: platform.limiters({ keyPrefix: 'reset-account', points: 3, durationSeconds: 3600 }),
      },
    }),
    events,
    bookings: createBookingsService({
      repo: repos.bookings,
      events,
      audit,
      queue: platform.queue,
      mailOn: platform.mailer.transport !== 'off',
    }),
    invites: createInvitesService({ repo: repos.invites, events, audit, publicUrl: config.publicUrl }),
    audit,
    photos,
    exports,
    flags: createFlagsService({
      repo: repos.flags,
      bus: platform.bus,
      logger,
      recordAudit: ({ requestId: _requestId, ...entry }, executor) => audit.record(entry, executor),
      // Pages may show flagged parts; every process reloads flags by itself, so each drops its own pages.
      onChange: () => platform.pages.drop(PAGE_TAGS.all),
    }),
    backups: createBackups(platform, repos),
    stats: createStatsService({ repo: repos.stats, logger }),
    integrity: createIntegrityService({ repo: repos.integrity, storage: platform.storage, logger }),
    retention: createRetention(platform, repos, { audit, exports, photos }),
  };
}

function createEvents(platform: Platform, repos: Repositories, audit: AuditService): EventsService {
  const { config } = platform;
  return createEventsService({
    repo: repos.events,
    audit,
    cache: platform.cache,
    cacheTtlSeconds: config.cacheTtlSeconds,
    defaultTimeZone: config.defaultTimeZone,
    pages: platform.pages,
    objects: {
      keysOf: (eventId, tx) => repos.photos.objectKeysOfEvent(eventId, tx),
      remove: (keys) => deleteObjects(platform.storage, keys),
    },
    invites: repos.invites,
  });
}

function createPhotos(platform: Platform, repos: Repositories, { audit, events }: Pick<Services, 'audit' | 'events'>): PhotosService {
  const { config } = platform;
  return createPhotosService({
    db: platform.db,
    repo: repos.photos,
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
}

function createBackups(platform: Platform, repos: Repositories): BackupsService {
  const metrics = backupMetrics(platform.metrics, { copies: platform.backupCopyStorage !== null });
  return createBackupsService({
    databaseUrl: platform.databaseUrl,
    storage: platform.backupStorage,
    drills: repos.drills,
    keep: platform.config.backupKeep,
    logger: platform.logger,
    onBackupSuccess: metrics.backupSucceeded,
    onDrillSuccess: metrics.drillSucceeded,
    copyStorage: platform.backupCopyStorage,
    // A job of its own: a slow or failing copy to the other region is retried without taking the backup again.
    onBackupWritten: platform.backupCopyStorage
      ? async (manifest) =>
          void (await platform.queue.enqueue(BACKUP_COPY_JOB, { backupId: manifest.id }, { key: `${BACKUP_COPY_JOB}:${manifest.id}` }))
      : undefined,
    onCopyVerified: metrics.copyVerified,
    renderDerived: renderRenditions,
  });
}

function createRetention(
  platform: Platform,
  repos: Repositories,
  { audit, exports, photos }: Pick<Services, 'audit' | 'exports' | 'photos'>,
): RetentionService {
  return createRetentionService({
    db: platform.db,
    repo: repos.retention,
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
