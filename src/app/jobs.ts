// What the worker and the functions host run: job handlers, schedules and function handlers.
import { runWithExtractedContext } from '../platform/observability/tracing.js';
import type { JobHandler, JobHandlers } from '../platform/queue/index.js';
import { deliverJobHandler, DELIVER_JOB } from '../platform/functions/dispatcher.js';
import { createFunctionsInvoker, type FunctionName } from '../platform/functions/invoker.js';
import type { EpuFunction } from '../platform/functions/cloud-event.js';
import { createAuditLogFunction } from '../features/audit/audit.functions.js';
import { createPhotoUploadedFunction, PROCESS_PHOTO_JOB } from '../features/photos/photos.functions.js';
import { processPhotoJob, REMOVE_LOCATION_JOB, removeLocationJob } from '../features/photos/photos.jobs.js';
import { BUILD_EXPORT_JOB } from '../features/exports/exports.service.js';
import { buildExportJob } from '../features/exports/exports.jobs.js';
import { BACKUP_COPY_JOB, BACKUP_CREATE_JOB } from '../features/backups/backups.service.js';
import { createBackupCopyJob, createBackupJob } from '../features/backups/backups.jobs.js';
import { STATS_AGGREGATE_JOB } from '../features/stats/stats.service.js';
import { statsAggregateJob } from '../features/stats/stats.jobs.js';
import { INTEGRITY_CHECK_JOB } from '../features/integrity/integrity.service.js';
import { integrityCheckJob } from '../features/integrity/integrity.jobs.js';
import { integrityMetrics } from '../features/integrity/integrity.metrics.js';
import { RETENTION_SWEEP_JOB } from '../features/retention/retention.service.js';
import { retentionSweepJob } from '../features/retention/retention.jobs.js';
import { PASSWORD_RESET_MAIL_JOB } from '../features/accounts/accounts.service.js';
import { passwordResetMailJob } from '../features/accounts/accounts.jobs.js';
import { BOOKING_MAIL_JOB } from '../features/bookings/bookings.service.js';
import { bookingMailJob } from '../features/bookings/bookings.jobs.js';
import type { Jobs } from './job-payloads.js';
import type { Platform } from './platform.js';
import { createRepositories, createServices, type Repositories } from './services.js';

/** The function handlers (functions-framework signatures), run by `epu functions` or in-process. */
export function createFunctionHandlers(
  platform: Platform,
  repos: Pick<Repositories, 'audit' | 'photos'> = createRepositories(platform.db),
): Record<FunctionName, EpuFunction<any>> {
  const { logger } = platform;
  return {
    auditLog: createAuditLogFunction({ repo: repos.audit, logger }),
    photoUploaded: createPhotoUploadedFunction({
      repo: repos.photos,
      storage: platform.storage,
      queue: platform.queue,
      logger,
      maxImagePixels: platform.config.maxImagePixels,
    }),
  };
}

/** Cron schedules (UTC) that every worker registers at start; each slot enqueues its job once, however many workers run. */
export const SCHEDULES: Partial<Record<keyof Jobs, string>> = {
  [BACKUP_CREATE_JOB]: '0 3 * * *',
  [STATS_AGGREGATE_JOB]: '*/5 * * * *',
  [INTEGRITY_CHECK_JOB]: '30 2 * * *',
  [RETENTION_SWEEP_JOB]: '15 * * * *',
};

/** Every job the worker runs, by name. */
export function createJobHandlers(platform: Platform, services = createServices(platform)): JobHandlers<Jobs> {
  const { config, logger, storage } = platform;
  const repos = services.repositories;
  let functionHandlers: Record<FunctionName, EpuFunction<any>> | undefined;
  const invoker = createFunctionsInvoker({
    functionsUrl: config.functionsUrl,
    token: platform.functionsToken,
    handlers: () => (functionHandlers ??= createFunctionHandlers(platform, repos)),
    logger,
  });
  const handlers: JobHandlers<Jobs> = {
    [DELIVER_JOB]: deliverJobHandler(invoker),
    [PROCESS_PHOTO_JOB]: processPhotoJob({ repo: repos.photos, storage, logger, pages: platform.pages }),
    [REMOVE_LOCATION_JOB]: removeLocationJob({ repo: repos.photos, storage, logger }),
    [BUILD_EXPORT_JOB]: buildExportJob({
      repo: repos.exports,
      events: services.events,
      photos: services.photos,
      storage,
      exportHours: config.retention.exportHours,
      logger,
    }),
    [BACKUP_CREATE_JOB]: createBackupJob({ backups: services.backups, logger }),
    [BACKUP_COPY_JOB]: createBackupCopyJob({ backups: services.backups, logger }),
    [STATS_AGGREGATE_JOB]: statsAggregateJob({ repo: repos.stats, logger }),
    [INTEGRITY_CHECK_JOB]: integrityCheckJob({ integrity: services.integrity, metrics: integrityMetrics(platform.metrics), logger }),
    [RETENTION_SWEEP_JOB]: retentionSweepJob(services.retention),
    [PASSWORD_RESET_MAIL_JOB]: passwordResetMailJob({ repo: repos.accounts, mailer: platform.mailer, publicUrl: config.publicUrl }),
    [BOOKING_MAIL_JOB]: bookingMailJob({
      repo: repos.bookings,
      events: services.events,
      mailer: platform.mailer,
      publicUrl: config.publicUrl,
      mailFrom: config.mailFrom,
    }),
  };
  // Each run continues the trace of the request that enqueued it: the same handlers, each wrapped.
  return Object.fromEntries(
    Object.entries<JobHandler<never>>(handlers).map(([name, handler]) => [
      name,
      ((job, signal) =>
        runWithExtractedContext(job.trace, `job ${name}`, () => handler(job, signal), {
          attributes: { 'epu.job.attempt': job.attempt },
        })) satisfies JobHandler<never>,
    ]),
  ) as JobHandlers<Jobs>;
}
