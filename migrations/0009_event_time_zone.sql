-- Every event happens in an IANA time zone (decision 0020): pages show its
-- times on that clock and forms read typed times in it. Events from before
-- had none; their times were shown in UTC, so UTC is what they get.
-- A constant default: PostgreSQL 11+ adds the column without rewriting the table.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE events ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
