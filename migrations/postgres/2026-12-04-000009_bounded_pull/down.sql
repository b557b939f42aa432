DROP INDEX tickets_team_seq;
DROP INDEX ticket_events_area_seq;
DROP INDEX tickets_area_seq;
DROP INDEX visits_area_seq;
DROP INDEX households_area_seq;
ALTER TABLE households DROP COLUMN visit_count;
ALTER TABLE households DROP COLUMN last_visited_at;
