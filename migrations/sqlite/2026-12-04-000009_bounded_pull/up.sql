-- Contract 1.1, bounded first pull: each household carries when it was last visited and how often,
-- kept by the push writer as visits are applied, so a new phone knows every door's state without
-- downloading the history (`fieldvisit check` compares them with the visits).
ALTER TABLE households ADD COLUMN last_visited_at BIGINT;
ALTER TABLE households ADD COLUMN visit_count BIGINT NOT NULL DEFAULT 0;
UPDATE households SET
    last_visited_at = (SELECT MAX(v.visited_at) FROM visits v WHERE v.household_id = households.id),
    visit_count = (SELECT COUNT(*) FROM visits v WHERE v.household_id = households.id);

-- A narrow scope's pull page reads one area's rows in sequence order, and a handler's page the
-- team's tickets (see server/src/sync/pull.rs): each page reads about the rows it returns.
CREATE INDEX households_area_seq ON households(area_path, seq);
CREATE INDEX visits_area_seq ON visits(area_path, seq);
CREATE INDEX tickets_area_seq ON tickets(area_path, seq);
CREATE INDEX ticket_events_area_seq ON ticket_events(area_path, seq);
CREATE INDEX tickets_team_seq ON tickets(team_id, seq);
