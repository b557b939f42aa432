ALTER TABLE policies DROP COLUMN county_id;
ALTER TABLE ticket_events DROP COLUMN author_role;
ALTER TABLE record_photos DROP COLUMN author_id;
DROP TABLE blob_uploaders;
