-- An event's cover: one of its own ready photos, chosen by its host (decision
-- 0042). Deleting the photo clears the cover. A nullable column without a
-- default adds no rewrite. Events and photos now point at each other: the key
-- is deferrable, so a restore (one transaction, tables in key order) loads
-- events before photos and checks this key at COMMIT; deferrable keys do not
-- order the load (features/backups/backups.repository.ts). The key's check and the index read the events
-- table once, under a lock that holds writes to events (and the key's, to
-- photos) for that read: one pass over a table of a row per event, every
-- value still null.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore adding-foreign-key-constraint
ALTER TABLE events ADD COLUMN cover_photo_id uuid REFERENCES photos (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
-- Deleting a photo looks for the events it covers (ON DELETE SET NULL): an index lookup, not a scan per photo.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX events_cover_photo_idx ON events (cover_photo_id) WHERE cover_photo_id IS NOT NULL;
