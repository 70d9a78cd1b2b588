-- Invite links to private and unlisted events (docs/decisions/0030-invite-links.md).
-- Only a hash of each link's token is kept: a copy of the database (a backup,
-- a scrubbed staging copy) holds no working link. A new table: no lock on any
-- other beyond the foreign keys' brief ones.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE event_invites (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  -- sha256 of the token: 32 bytes.
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX event_invites_event_idx ON event_invites (event_id, created_at DESC);
