-- Stats report tables, integrity runs, and what retention and account deletion
-- need. See docs/decisions/0010-retention-and-gdpr.md and 0011-stats-and-integrity.md.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Written only by the stats.aggregate job; /admin/stats reads them as they are.
-- Days are UTC. A day is recomputed until the day after it has passed, then it
-- keeps what happened on it even if rows are deleted later.
CREATE TABLE stats_daily (
  day date PRIMARY KEY,
  signups integer NOT NULL CHECK (signups >= 0),
  bookings integer NOT NULL CHECK (bookings >= 0),
  uploads integer NOT NULL CHECK (uploads >= 0),
  computed_at timestamptz NOT NULL
);

-- Exactly one row (id is always true).
CREATE TABLE stats_totals (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  users bigint NOT NULL,
  events bigint NOT NULL,
  bookings bigint NOT NULL,
  photos bigint NOT NULL,
  storage_bytes bigint NOT NULL,
  computed_at timestamptz NOT NULL
);

-- One row per integrity check run (job or `epu check`): problems per check,
-- with a few sample ids, for the admin page and the metrics.
CREATE TABLE integrity_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  ran_at timestamptz NOT NULL DEFAULT now(),
  ok boolean NOT NULL,
  problems jsonb NOT NULL CHECK (jsonb_typeof(problems) = 'object')
);
CREATE INDEX integrity_runs_ran_at_idx ON integrity_runs (ran_at DESC);

-- Set when the account is deleted (DELETE /me): the row is anonymised at once
-- and removed by the retention sweep after RETENTION_DELETED_ACCOUNT_DAYS.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;

-- Range scans by creation time, so the stats job counts a day by reading that
-- day's index entries instead of whole tables, and totals are index-only
-- counts (photos carries bytes for the storage sum). These are plain builds in
-- the migration's transaction: each holds a SHARE lock (writes to the table
-- wait) for as long as the build takes, about a second per million rows. On a
-- database where that is too long, create the same indexes first by hand with
-- CREATE INDEX CONCURRENTLY; IF NOT EXISTS then makes these statements no-ops.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS users_live_created_at_idx ON users (created_at) WHERE deleted_at IS NULL;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS bookings_created_at_idx ON bookings (created_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS photos_created_at_idx ON photos (created_at) INCLUDE (bytes);
-- The retention sweep: sessions that ended (revoked or expired) before a cutoff.
-- LEAST ignores NULL, so this is the revocation time if any, else the expiry.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS sessions_ended_at_idx ON sessions (LEAST(revoked_at, expires_at));
