ALTER TABLE sync_batches ALTER COLUMN response SET COMPRESSION default;
CREATE INDEX visits_area_received ON visits(area_path, received_at);
CREATE INDEX households_area_path ON households(area_path);
CREATE INDEX tickets_area_path ON tickets(area_path);
CREATE INDEX tickets_team ON tickets(team_id);
