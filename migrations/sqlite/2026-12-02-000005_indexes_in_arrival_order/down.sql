DROP INDEX tickets_household;
DROP INDEX visits_household;
CREATE INDEX visits_household ON visits(household_id, visited_at);
DROP INDEX visits_area_received;
CREATE INDEX visits_area_time ON visits(area_path, visited_at);
