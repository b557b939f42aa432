ALTER TABLE households DROP COLUMN county_id;
ALTER TABLE visits DROP COLUMN county_id;
ALTER TABLE tickets DROP COLUMN county_id;
ALTER TABLE ticket_events DROP COLUMN county_id;
ALTER TABLE alerts DROP COLUMN county_id;
