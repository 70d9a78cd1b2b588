// The job queue: PostgreSQL-backed jobs with leases, retries and cron schedules.
// See docs/decisions/0005-job-queue.md.
export { createQueue, type EnqueueOptions, type OutboxJob, type Queue, type QueueDependencies } from './queue.js';
export {
  createWorker,
  type JobContext,
  type JobFinishedInfo,
  type JobHandler,
  type JobHandlers,
  type JobSummary,
  type Worker,
  type WorkerOptions,
} from './worker.js';
export type { Job, JobCounts } from './jobs.repository.js';
export { JobPayloadError, ScheduledRun, type JobPayloads, type PayloadOf } from './payloads.js';
export type { JobStatus } from '../db/schema.js';
