-- Contract 1.1: photo access within scope, stages completed only by roles that may, one policy
-- per county.

-- Who uploaded which photo's bytes: every user who PUT them (an idempotent re-upload by another
-- user adds that user). A record grants access to a photo only when its author is among them.
CREATE TABLE blob_uploaders (
    sha256      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (sha256, user_id)
);
INSERT INTO blob_uploaders (sha256, user_id, created_at) SELECT sha256, uploader_id, created_at FROM blobs;

-- The author of the record that names a photo.
ALTER TABLE record_photos ADD COLUMN author_id TEXT NOT NULL DEFAULT '';
UPDATE record_photos SET author_id = COALESCE((SELECT v.user_id FROM visits v WHERE v.id = record_photos.record_id), '')
    WHERE record_type = 'visit';
UPDATE record_photos SET author_id = COALESCE((SELECT t.reporter_id FROM tickets t WHERE t.id = record_photos.record_id), '')
    WHERE record_type = 'ticket';

-- The role of an event's author when it was written, so a re-fold decides which stages it may
-- complete the same way however the user's role changes later. '' (unknown) completes as before.
ALTER TABLE ticket_events ADD COLUMN author_role TEXT NOT NULL DEFAULT '';
UPDATE ticket_events SET author_role = COALESCE((SELECT u.role FROM users u WHERE u.id = ticket_events.user_id), '');

-- The county a policy version belongs to; NULL: the default for every county without its own.
ALTER TABLE policies ADD COLUMN county_id TEXT;
