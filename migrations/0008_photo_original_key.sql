-- epu:no-transaction
-- The photoUploaded function finds a photo by its object key when a bucket's
-- own "object finalized" event triggers it (Cloud Run functions with Eventarc).
-- Built concurrently: photos may be large, and uploads must not wait on it.
-- (The runner does not wrap files marked epu:no-transaction in a transaction.)
SET lock_timeout = '5s';
SET statement_timeout = '0';

-- squawk-ignore ban-concurrent-index-creation-in-transaction
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS photos_original_key_key ON photos (original_key);

RESET lock_timeout;
RESET statement_timeout;
