-- Booked counts kept by the booking transaction itself, and no NOTIFY inside
-- write transactions. See docs/decisions/0003-bookings-without-a-hot-row.md
-- and docs/decisions/0027-notifications-after-commit.md.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- An event's confirmed bookings, spread over up to 64 rows ("stripes") so that
-- concurrent bookings of one event update different rows instead of queueing
-- on one counter (the hot row decision 0003 avoids). The count is the sum of
-- the event's rows: at most 64 index entries, however many bookings it has.
CREATE TABLE event_booking_counts (
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  stripe integer NOT NULL CHECK (stripe >= 0 AND stripe < 64),
  -- One stripe may go below zero (a booking counted on one stripe, cancelled on
  -- another); only the sum means anything.
  booked integer NOT NULL,
  PRIMARY KEY (event_id, stripe)
);

-- Maintained by a trigger, so every path that changes a confirmed booking
-- (booking, cancelling, account erasure, retention, restore of older backups)
-- keeps the count in the same transaction. The stripe is the connection's:
-- two transactions at once never share a connection, so they only meet on a
-- stripe when their backends' pids fall on the same one of 64.
CREATE FUNCTION event_booking_counts_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  delta integer := 0;
  target uuid;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'confirmed' THEN
    delta := delta - 1;
    target := OLD.event_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'confirmed' THEN
    delta := delta + 1;
    target := NEW.event_id;
  END IF;
  -- A booking deleted with its event (ON DELETE CASCADE) has no count left to keep.
  IF delta = 0 OR NOT EXISTS (SELECT 1 FROM events WHERE id = target) THEN
    RETURN NULL;
  END IF;
  INSERT INTO event_booking_counts AS c (event_id, stripe, booked)
  VALUES (target, pg_backend_pid() % 64, delta)
  ON CONFLICT (event_id, stripe) DO UPDATE SET booked = c.booked + EXCLUDED.booked;
  RETURN NULL;
END;
$$;
CREATE TRIGGER bookings_count_insert AFTER INSERT ON bookings
  FOR EACH ROW WHEN (NEW.status = 'confirmed')
  EXECUTE FUNCTION event_booking_counts_apply();
CREATE TRIGGER bookings_count_update AFTER UPDATE OF status, event_id ON bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.event_id IS DISTINCT FROM NEW.event_id)
  EXECUTE FUNCTION event_booking_counts_apply();
CREATE TRIGGER bookings_count_delete AFTER DELETE ON bookings
  FOR EACH ROW WHEN (OLD.status = 'confirmed')
  EXECUTE FUNCTION event_booking_counts_apply();

-- The counts of the bookings already there. The triggers above hold a lock on
-- bookings from here to the commit, so no booking slips between the two.
INSERT INTO event_booking_counts (event_id, stripe, booked)
SELECT event_id, 0, count(*) FROM bookings WHERE status = 'confirmed' GROUP BY event_id;

-- Jobs no longer NOTIFY from inside the enqueuing transaction: a transaction
-- that notifies holds one cluster-wide lock from its pre-commit to the end of
-- its WAL flush, which queued every booking commit behind the previous one.
-- The enqueuing process notifies after its commit instead (platform/db/notifier.ts).
DROP TRIGGER jobs_notify_insert ON jobs;
DROP TRIGGER jobs_notify_requeue ON jobs;
DROP FUNCTION jobs_notify();
