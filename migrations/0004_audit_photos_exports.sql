-- Audit trail, photos and exports.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Written only by the auditLog function. `id` is the CloudEvent id, so a
-- delivery retried after a timeout still records the action exactly once.
-- No email, IP or password is ever stored here: actors and subjects are ids.
CREATE TABLE audit_log (
  id uuid PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  action text NOT NULL,
  actor_id uuid,
  subject_type text NOT NULL,
  subject_id text NOT NULL,
  request_id text,
  metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id, at DESC);

-- Append-only for the application: updates are always refused, and deletes
-- only by the retention sweep, which must say so in its transaction
-- (SET LOCAL epu.audit_retention = 'on') and may remove only entries older
-- than 30 days, whatever the configured retention.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND current_setting('epu.audit_retention', true) = 'on'
     AND OLD.at < now() - interval '30 days' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE photos (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  uploader_id uuid REFERENCES users (id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'ready', 'failed')),
  original_key text NOT NULL,
  thumbnail_key text,
  display_key text,
  content_type text NOT NULL,
  bytes bigint NOT NULL,
  sha256 text,
  width integer,
  height integer,
  orientation integer,
  taken_at timestamptz,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  ready_at timestamptz
);
-- The gallery: an event's ready photos, newest first, keyset-paginated.
CREATE INDEX photos_gallery_idx ON photos (event_id, created_at DESC, id DESC) WHERE status = 'ready';
CREATE INDEX photos_event_idx ON photos (event_id);
CREATE INDEX photos_uploader_idx ON photos (uploader_id);
CREATE INDEX photos_processing_idx ON photos (created_at) WHERE status = 'processing';

CREATE TABLE exports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  requester_id uuid REFERENCES users (id) ON DELETE CASCADE,
  -- NULL: the requester's own data (POST /me/exports).
  event_id uuid REFERENCES events (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'ready', 'failed')),
  object_key text,
  bytes bigint,
  error text,
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  ready_at timestamptz,
  expires_at timestamptz
);
CREATE INDEX exports_requester_idx ON exports (requester_id, created_at DESC);
CREATE INDEX exports_expiry_idx ON exports (expires_at) WHERE object_key IS NOT NULL;
