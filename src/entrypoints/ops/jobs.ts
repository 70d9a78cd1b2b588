import type { Config } from '../../config/env.js';
import { createJobHandlers, createPlatform, createRootLogger } from '../../app.js';
import { parseCommandArgs, subcommandOf } from '../../platform/cli/args.js';
import { createReporter, type Reporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { ownEntry } from '../../platform/own-entry.js';
import { createWorker, JobPayloadError, type JobHandler, type JobStatus, type JobSummary } from '../../platform/queue/index.js';
import type { Jobs } from '../../app/job-payloads.js';

const USAGE = 'usage: epu jobs run NAME | epu jobs list [--status queued|running|completed|dead] | epu jobs retry JOB_ID';

/**
 * `epu jobs run NAME` enqueues the job and runs it in this process (a worker
 * elsewhere may take it first; either way the command waits for the outcome).
 */
export async function runJobs(config: Config, args: string[]): Promise<void> {
  const report: Reporter = createReporter('jobs');
  const { values, positionals } = parseCommandArgs(args, { status: { type: 'string' } }, USAGE);
  const {
    subcommand: verb,
    operands: [argument],
  } = subcommandOf(positionals, { run: ['NAME'], list: [], retry: ['JOB_ID'] }, USAGE);
  const platform = await createPlatform(config, 'cli', createRootLogger({ ...config, logLevel: 'warn' }, 'cli'));
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    const { queue } = platform;
    if (verb === 'run' && argument) {
      const handlers = createJobHandlers(platform);
      const handler = ownEntry(handlers, argument) as JobHandler<never> | undefined;
      if (!handler) report.fail(`no job named "${argument}"; known jobs: ${Object.keys(handlers).sort().join(', ')}`);
      const name = argument as keyof Jobs;
      let id: string;
      try {
        id = await queue.enqueue(name, { requestedBy: 'cli' }, { maxAttempts: 1 });
      } catch (error) {
        if (!(error instanceof JobPayloadError)) throw error;
        report.fail(`${argument} runs on a payload of its own and cannot be started by hand (${error.message})`);
      }
      report.step(`running ${argument}`, { jobId: id });
      // The summary is there when this process ran the job (not when a worker elsewhere took it first).
      let summary: JobSummary | void = undefined;
      const capture: JobHandler<never> = async (job, signal) => (summary = await handler(job, signal));
      const worker = createWorker({
        queue,
        pool: platform.pool,
        handlers: { [name]: capture },
        concurrency: 1,
        pollIntervalMs: 200,
        logger: platform.logger,
      });
      worker.start();
      try {
        const job = await queue.waitFor(id, { timeoutMs: 30 * 60_000 });
        if (job.status !== 'completed') report.fail(`${argument} failed: ${job.lastError ?? job.status}`, { jobId: id });
        report.result(`${argument} completed`, { jobId: id, ...(summary ?? {}) });
      } finally {
        await worker.stop({ graceMs: 1_000 });
      }
    } else if (verb === 'list') {
      const status = values.status as JobStatus | undefined;
      const page = await queue.list({ status, limit: 50 });
      for (const job of page.items)
        report.step(`${job.name} ${job.status}`, { id: job.id, attempts: job.attempts, lastError: job.lastError ?? undefined });
      report.result(`${page.items.length} job(s)`, (await queue.counts()) as unknown as Record<string, unknown>);
    } else if (verb === 'retry' && argument) {
      if (!(await queue.retryDead(argument))) report.fail(`job ${argument} is not dead (or does not exist)`);
      report.result('queued again', { id: argument });
    } else {
      report.fail(USAGE);
    }
  } finally {
    await platform.close();
  }
}
