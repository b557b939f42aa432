-- The checklist report (contract 1.1) reads tallies the push writer keeps, never the season's
-- visits: per template, grid, local day (in the policy's timezone, days since 1970-01-01), item
-- and answer, how many visits gave it. `answer` is 'true'/'false' for bool items, the choice for
-- choice items, the number as JSON for number items (p10/p50 come from these counts exactly) and
-- '' for text items; item '' counts the visits themselves. The key leads with the day, so a report
-- reads the window's rows whatever the season's length.
CREATE TABLE checklist_tallies (
    template_id TEXT NOT NULL,
    area_path   TEXT NOT NULL,
    day         INTEGER NOT NULL,
    item        TEXT NOT NULL,
    answer      TEXT NOT NULL,
    visits      BIGINT NOT NULL,
    PRIMARY KEY (template_id, day, area_path, item, answer)
);

-- The template version a visit was filled from (NULL: none), as pull returns it.
ALTER TABLE visits ADD COLUMN checklist_template_id TEXT;
ALTER TABLE visits ADD COLUMN checklist_template_version INTEGER;

-- Duplicate households (contract 1.1): the normalised address and head's name, kept by the push
-- writer, looked up per grid through the index when a new household arrives. Existing rows are
-- filled in at start (the normalisation is the server's, not SQL's).
ALTER TABLE households ADD COLUMN dedup_key TEXT;
CREATE INDEX households_area_dedup ON households(area_id, dedup_key);
-- Household removals (a merge) reach every phone whose scope holds them.
CREATE INDEX removals_area ON removals(area_path, seq);
