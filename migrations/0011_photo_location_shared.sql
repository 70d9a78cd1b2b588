-- An uploader may choose to share where a photo was taken: photoUploaded then
-- keeps the original's location (decision 0037). Off by default, and for every
-- photo stored before. A constant default adds the column without a rewrite.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE photos ADD COLUMN location_shared boolean NOT NULL DEFAULT false;
