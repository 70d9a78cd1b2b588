-- epu:no-transaction
-- The claim finds due jobs through an index of queued jobs alone
-- (docs/decisions/0029-per-request-cost.md, third revision). The index on
-- (status, run_at) held an entry for every version of every job: a job that
-- went queued, running, completed left three, and until VACUUM came by the
-- claim's scan walked the dead queued ones (20,000 heap visits, 4-11 ms a
-- claim, after 20,000 bookings' audit deliveries). A job leaves the partial
-- index when it is claimed, so claims and completions add no entry to it.
-- Autovacuum visits the queue's table after a few hundred dead rows instead
-- of a fifth of the table: a queue's rows die as fast as they are born.
-- Built concurrently: workers keep claiming meanwhile.
SET lock_timeout = '5s';
SET statement_timeout = '0';

-- squawk-ignore ban-concurrent-index-creation-in-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_queued_run_at_idx ON jobs (run_at) WHERE status = 'queued';

DROP INDEX CONCURRENTLY IF EXISTS jobs_status_run_at_idx;

ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.02);

RESET lock_timeout;
RESET statement_timeout;
