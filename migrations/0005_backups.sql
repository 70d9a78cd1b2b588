-- Restore drills (src/features/backups): each `epu drill` records its outcome
-- here, for the admin page and the drill-age metric. The backups themselves
-- live in object storage with their manifests, so that listing them does not
-- need the database they are meant to replace. See docs/decisions/0009-logical-backups.md.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE backup_drills (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  backup_id text NOT NULL,
  ran_at timestamptz NOT NULL DEFAULT now(),
  ok boolean NOT NULL,
  duration_ms integer NOT NULL CHECK (duration_ms >= 0),
  -- Per-table expected and restored rows and checksums, and the failure reason if any.
  report jsonb NOT NULL CHECK (jsonb_typeof(report) = 'object')
);
CREATE INDEX backup_drills_ran_at_idx ON backup_drills (ran_at DESC);
