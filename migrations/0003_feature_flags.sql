-- Feature flags (src/features/flags): every process keeps all flags in memory
-- and reloads them when a change is announced on the `epu_flags` channel.
-- See docs/decisions/0007-feature-flags.md.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE feature_flags (
  name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]{1,63}$'),
  enabled boolean NOT NULL DEFAULT false,
  rollout_percentage integer NOT NULL DEFAULT 100 CHECK (rollout_percentage BETWEEN 0 AND 100),
  metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  description text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
  -- When the effective state (fully on, fully off, partial) last changed: the
  -- stale-flag report lists flags fully on or fully off for a long time.
  state_since timestamptz NOT NULL DEFAULT now()
);

INSERT INTO feature_flags (name, enabled, rollout_percentage, description) VALUES
  ('home.counters', true, 100, 'Show the counters block on the home page.'),
  ('photos.uploads', true, 100, 'Accept photo uploads to event galleries (off: the upload form and API refuse new photos).')
ON CONFLICT (name) DO NOTHING;
