-- Versioned checklist templates (contract 1.1), one line of versions per county like the policy:
-- `county_id` NULL is the default every county without its own version reads. Version numbers
-- are unique per template id, so (id, version) alone names the version a visit was filled from.
CREATE TABLE checklist_templates (
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    county_id   TEXT,
    name        TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    items       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX checklist_templates_by_seq ON checklist_templates (seq);
