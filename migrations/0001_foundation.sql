-- Accounts, sessions, events, bookings: the foundation every later feature builds on.
-- Every migration sets bounded lock and statement timeouts, so a blocked
-- release fails fast instead of stalling the traffic queued behind its lock.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  name text NOT NULL,
  password_hash text NOT NULL,
  role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A session row per login: the cookie carries its id, so logout, a password
-- change or a role change can end sessions even though cookies are stateless.
CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE,
  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  venue text NOT NULL DEFAULT '',
  starts_at timestamptz NOT NULL,
  ends_at timestamptz,
  capacity integer CHECK (capacity IS NULL OR capacity >= 0),
  visibility text NOT NULL CHECK (visibility IN ('public', 'unlisted', 'private')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at IS NULL OR ends_at >= starts_at)
);
-- Keyset pagination of the upcoming public list and of an owner's own events.
CREATE INDEX events_public_upcoming_idx ON events (starts_at, id) WHERE visibility = 'public';
CREATE INDEX events_owner_upcoming_idx ON events (owner_id, starts_at, id);

CREATE TABLE bookings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
  -- Millisecond precision: keyset cursors carry JavaScript dates, which hold no microseconds.
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  cancelled_at timestamptz
);
CREATE UNIQUE INDEX bookings_one_confirmed_per_user_key ON bookings (event_id, user_id) WHERE status = 'confirmed';
CREATE INDEX bookings_event_confirmed_idx ON bookings (event_id, created_at, id) WHERE status = 'confirmed';
CREATE INDEX bookings_user_idx ON bookings (user_id, created_at, id);

-- One row per place of a capped event. A booking is confirmed only by claiming
-- a free place in the same transaction (FOR UPDATE SKIP LOCKED), so bookings
-- of one event do not queue on a single counter row and can never exceed
-- capacity: there are exactly `capacity` places to claim. See docs/decisions.
CREATE TABLE event_places (
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  place_no integer NOT NULL,
  booking_id uuid UNIQUE REFERENCES bookings (id) ON DELETE SET NULL,
  PRIMARY KEY (event_id, place_no)
);
CREATE INDEX event_places_free_idx ON event_places (event_id, place_no) WHERE booking_id IS NULL;

-- Shared counters of rate-limiter-flexible's PostgreSQL store (login throttling
-- without Redis); the library's own schema, created here so migrations own it.
CREATE TABLE rate_limits (
  key text PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
