-- An event's ready photos, counted as the booked counts are (migration 0010),
-- so that the photo viewer's "Photo 37 of 4,900" reads a few rows instead of
-- counting every ready photo of the event on each view. See
-- docs/decisions/0063-the-photo-viewer-counts-few-rows.md.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Photos turn ready in the renditions job, a few at a time per worker, so 16
-- stripes keep workers apart; the count is the sum of the event's rows.
CREATE TABLE event_photo_counts (
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  stripe integer NOT NULL CHECK (stripe >= 0 AND stripe < 16),
  -- One stripe may go below zero (counted on one stripe, deleted on another);
  -- only the sum means anything.
  ready integer NOT NULL,
  PRIMARY KEY (event_id, stripe)
);

-- Maintained by a trigger, so every path that changes a ready photo (the
-- renditions job, deletion, account erasure, retention, an event's deletion)
-- keeps the count in the same transaction. A photo moved to another event
-- leaves one count and joins the other.
CREATE FUNCTION event_photo_counts_add(target uuid, delta integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- A photo deleted with its event (ON DELETE CASCADE) has no count left to keep.
  IF NOT EXISTS (SELECT 1 FROM events WHERE id = target) THEN
    RETURN;
  END IF;
  INSERT INTO event_photo_counts AS c (event_id, stripe, ready)
  VALUES (target, pg_backend_pid() % 16, delta)
  ON CONFLICT (event_id, stripe) DO UPDATE SET ready = c.ready + EXCLUDED.ready;
END;
$$;
CREATE FUNCTION event_photo_counts_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'ready' THEN
    PERFORM event_photo_counts_add(OLD.event_id, -1);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'ready' THEN
    PERFORM event_photo_counts_add(NEW.event_id, 1);
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER photos_count_insert AFTER INSERT ON photos
  FOR EACH ROW WHEN (NEW.status = 'ready')
  EXECUTE FUNCTION event_photo_counts_apply();
CREATE TRIGGER photos_count_update AFTER UPDATE OF status, event_id ON photos
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.event_id IS DISTINCT FROM NEW.event_id)
  EXECUTE FUNCTION event_photo_counts_apply();
CREATE TRIGGER photos_count_delete AFTER DELETE ON photos
  FOR EACH ROW WHEN (OLD.status = 'ready')
  EXECUTE FUNCTION event_photo_counts_apply();

-- The counts of the photos already there. The triggers above hold a lock on
-- photos from here to the commit, so no photo turns ready between the two.
INSERT INTO event_photo_counts (event_id, stripe, ready)
SELECT event_id, 0, count(*) FROM photos WHERE status = 'ready' GROUP BY event_id;
