DROP INDEX visits_visited;
DROP TABLE temperature_tally;
ALTER TABLE households DROP COLUMN last_temp_c;
ALTER TABLE households DROP COLUMN last_measured_at;
DROP INDEX ticket_events_satisfaction;
DROP INDEX tickets_closed;
ALTER TABLE tickets DROP COLUMN stage_times;
