import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { anyPayloadJobs, useQueueHarness } from '../../../tests/support/queue.js';
import type { JobContext } from './index.js';

const h = useQueueHarness(
  'schedules-test',
  anyPayloadJobs('broken.cron', 'cleanup.hourly', 'healthy.cron', 'report.daily', 'report.weekly'),
);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function startWorkers(count: number, handlers: Record<string, (job: JobContext) => Promise<void>>): void {
  for (let i = 0; i < count; i++) h.startWorker({ handlers, pollIntervalMs: 50 });
}

async function schedule(name: string) {
  const { rows } = await sql<{
    next_run_at: Date;
    last_run_at: Date | null;
  }>`SELECT next_run_at, last_run_at FROM job_schedules WHERE name = ${name}`.execute(h.db);
  return rows[0]!;
}

async function jobsNamed(name: string) {
  const { rows } = await sql<{ id: string; key: string; payload: { scheduledFor: string }; status: string }>`
    SELECT id, key, payload, status FROM jobs WHERE name = ${name} ORDER BY created_at`.execute(h.db);
  return rows;
}

describe('schedules', () => {
  it('fires a due slot exactly once across three workers started together, and moves on to the next slot', async () => {
    const runs: JobContext[] = [];
    await h.queue.setSchedule('report.daily', '0 3 * * *');
    startWorkers(3, { 'report.daily': async (job) => void runs.push(job) });

    // Three due slots in turn; every worker's scheduler races for each.
    for (let round = 1; round <= 3; round++) {
      await sql`UPDATE job_schedules SET next_run_at = now() - make_interval(mins => ${round}) WHERE name = 'report.daily'`.execute(h.db);
      await expect
        .poll(async () => (await jobsNamed('report.daily')).filter((job) => job.status === 'completed').length, { timeout: 10_000 })
        .toBe(round);
      await sleep(300);
      expect(await jobsNamed('report.daily')).toHaveLength(round);
    }

    expect(runs).toHaveLength(3);
    const jobs = await jobsNamed('report.daily');
    for (const job of jobs) expect(job.key).toBe(`schedule:report.daily:${job.payload.scheduledFor}`);
    expect(new Set(jobs.map((job) => job.key)).size).toBe(3);

    const after = await schedule('report.daily');
    expect(after.last_run_at).not.toBeNull();
    expect(after.next_run_at.getTime()).toBeGreaterThan(Date.now());
    expect(after.next_run_at.getUTCHours()).toBe(3);
    expect(after.next_run_at.getUTCMinutes()).toBe(0);
  });

  it('does not fire a schedule before its slot', async () => {
    await h.queue.setSchedule('report.weekly', '0 6 * * 1');
    startWorkers(2, { 'report.weekly': async () => undefined });
    await sleep(400);
    expect(await jobsNamed('report.weekly')).toHaveLength(0);
  });

  it('fires once for a backlog of missed slots, not once per missed slot', async () => {
    await h.queue.setSchedule('cleanup.hourly', '0 * * * *');
    await sql`UPDATE job_schedules SET next_run_at = now() - interval '3 days' WHERE name = 'cleanup.hourly'`.execute(h.db);
    const started = Date.now();
    startWorkers(2, { 'cleanup.hourly': async () => undefined });
    await expect.poll(async () => (await jobsNamed('cleanup.hourly')).length, { timeout: 10_000 }).toBe(1);
    await sleep(300);
    expect(await jobsNamed('cleanup.hourly')).toHaveLength(1);
    // The next slot after the one that fired, past the whole backlog. Against the start, not the clock now:
    // a run that fires just before the hour gets that hour as its next slot, and the check comes after it.
    expect((await schedule('cleanup.hourly')).next_run_at.getTime()).toBeGreaterThan(started);
  });

  it('skips a schedule whose stored cron is broken and keeps firing the others', async () => {
    await sql`INSERT INTO job_schedules (name, cron, next_run_at) VALUES ('broken.cron', 'not a cron', now() - interval '1 minute')`.execute(
      h.db,
    );
    await h.queue.setSchedule('healthy.cron', '0 5 * * *');
    await sql`UPDATE job_schedules SET next_run_at = now() - interval '1 minute' WHERE name = 'healthy.cron'`.execute(h.db);
    startWorkers(1, { 'healthy.cron': async () => undefined, 'broken.cron': async () => undefined });
    await expect.poll(async () => (await jobsNamed('healthy.cron')).length, { timeout: 10_000 }).toBe(1);
    expect(await jobsNamed('broken.cron')).toHaveLength(0);
  });
});
