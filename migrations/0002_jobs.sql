-- The job queue (src/platform/queue): background jobs with leases, retries and
-- cron schedules, in PostgreSQL so that an enqueue can share the caller's
-- transaction. See docs/decisions/0005-job-queue.md.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
  run_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  -- The lease: a running job whose lease has passed belongs to a dead worker
  -- and is handed to another one.
  locked_until timestamptz,
  last_error text,
  -- Idempotency or singleton key: at most one queued or running job per key.
  key text,
  -- W3C trace context carrier of the enqueuing request.
  trace jsonb,
  -- Millisecond precision: the admin list's keyset cursors carry JavaScript dates.
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE UNIQUE INDEX jobs_active_key ON jobs (key) WHERE key IS NOT NULL AND status IN ('queued', 'running');
-- The claim query: due queued jobs in run_at order.
CREATE INDEX jobs_status_run_at_idx ON jobs (status, run_at);
-- Finding running jobs whose lease has expired.
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE status = 'running';
-- The admin list, newest first, all or by status; and the retention sweep.
CREATE INDEX jobs_created_idx ON jobs (created_at, id);
CREATE INDEX jobs_status_created_idx ON jobs (status, created_at, id);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Idle workers LISTEN on epu_jobs, so a job that can run now wakes them at
-- once; polling covers jobs that become due later. NOTIFY is sent at commit,
-- so a rolled-back enqueue wakes nobody.
CREATE FUNCTION jobs_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('epu_jobs', NEW.name);
  RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
  FOR EACH ROW WHEN (NEW.status = 'queued' AND NEW.run_at <= clock_timestamp())
  EXECUTE FUNCTION jobs_notify();
CREATE TRIGGER jobs_notify_requeue AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NEW.status = 'queued' AND OLD.status <> 'queued' AND NEW.run_at <= clock_timestamp())
  EXECUTE FUNCTION jobs_notify();

-- Cron schedules: every worker's scheduler claims a due slot with one
-- conditional UPDATE, so each slot fires once however many workers run.
CREATE TABLE job_schedules (
  name text PRIMARY KEY,
  cron text NOT NULL,
  next_run_at timestamptz NOT NULL,
  last_run_at timestamptz
);
