// Every job, by name, with the schema of its payload: the queue refuses to
// enqueue a payload that is not its job's, and the worker buries a stored one
// (dead at once, with the reason). A new job is added here, with its handler
// in createJobHandlers (jobs.ts; the compiler asks for it) and, when it runs
// on a clock, its schedule.
import { DELIVER_JOB, DeliverPayload } from '../platform/functions/dispatcher.js';
import { ScheduledRun, type JobPayloads } from '../platform/queue/index.js';
import { PROCESS_PHOTO_JOB, ProcessPhotoPayload } from '../features/photos/photos.functions.js';
import { REMOVE_LOCATION_JOB } from '../features/photos/photos.jobs.js';
import { BUILD_EXPORT_JOB, BuildExportPayload } from '../features/exports/exports.service.js';
import { BACKUP_COPY_JOB, BACKUP_CREATE_JOB, BackupCopyPayload } from '../features/backups/backups.service.js';
import { STATS_AGGREGATE_JOB } from '../features/stats/stats.service.js';
import { INTEGRITY_CHECK_JOB } from '../features/integrity/integrity.service.js';
import { RETENTION_SWEEP_JOB } from '../features/retention/retention.service.js';
import { PASSWORD_RESET_MAIL_JOB, PasswordResetMailPayload } from '../features/accounts/accounts.service.js';
import { BOOKING_MAIL_JOB, BookingMailPayload } from '../features/bookings/bookings.service.js';

export const JOBS = {
  [DELIVER_JOB]: DeliverPayload,
  [PROCESS_PHOTO_JOB]: ProcessPhotoPayload,
  [REMOVE_LOCATION_JOB]: ScheduledRun,
  [BUILD_EXPORT_JOB]: BuildExportPayload,
  [BACKUP_CREATE_JOB]: ScheduledRun,
  [BACKUP_COPY_JOB]: BackupCopyPayload,
  [STATS_AGGREGATE_JOB]: ScheduledRun,
  [INTEGRITY_CHECK_JOB]: ScheduledRun,
  [RETENTION_SWEEP_JOB]: ScheduledRun,
  [PASSWORD_RESET_MAIL_JOB]: PasswordResetMailPayload,
  [BOOKING_MAIL_JOB]: BookingMailPayload,
} satisfies JobPayloads;

export type Jobs = typeof JOBS;
