DROP INDEX visits_area_received;
CREATE INDEX visits_area_time ON visits(area_path, visited_at);
