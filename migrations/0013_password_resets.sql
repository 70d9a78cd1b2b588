-- Password reset links (docs/decisions/0041-mail-and-password-reset.md). Only
-- a hash of each link's token is kept: a copy of the database (a backup, a
-- scrubbed staging copy, which empties the table) holds no working link. A new
-- table: no lock on any other beyond the foreign key's brief one.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE password_resets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- sha256 of the token: 32 bytes.
  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
