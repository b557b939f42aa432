-- Counties side by side (issue 26): every busy per-record table names its county, the column a
-- Citus cluster distributes on (docs/citus.sql). A row's county is the shallowest area of kind
-- 'county' whose path holds the row's area_path, else the root (areas under no county): the
-- holder whose policy governs it (`db::policies::PolicyBook::county_of`). The push writer fills
-- it from there; `fieldvisit check` compares it with area_path and `--repair` sets it again.
-- No index here: nothing on one node reads by county (a county's scope is its area_path range),
-- and every index costs ingest. The Citus layout puts county_id first in each primary key.
ALTER TABLE households ADD COLUMN county_id TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN county_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN county_id TEXT NOT NULL DEFAULT '';
ALTER TABLE ticket_events ADD COLUMN county_id TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN county_id TEXT NOT NULL DEFAULT '';
UPDATE households SET county_id = COALESCE(
    (SELECT a.id FROM areas a WHERE a.kind = 'county' AND substr(households.area_path, 1, length(a.path)) = a.path
     ORDER BY a.depth LIMIT 1),
    (SELECT a.id FROM areas a WHERE a.parent_id IS NULL AND substr(households.area_path, 1, length(a.path)) = a.path),
    '');
UPDATE visits SET county_id = COALESCE(
    (SELECT a.id FROM areas a WHERE a.kind = 'county' AND substr(visits.area_path, 1, length(a.path)) = a.path
     ORDER BY a.depth LIMIT 1),
    (SELECT a.id FROM areas a WHERE a.parent_id IS NULL AND substr(visits.area_path, 1, length(a.path)) = a.path),
    '');
UPDATE tickets SET county_id = COALESCE(
    (SELECT a.id FROM areas a WHERE a.kind = 'county' AND substr(tickets.area_path, 1, length(a.path)) = a.path
     ORDER BY a.depth LIMIT 1),
    (SELECT a.id FROM areas a WHERE a.parent_id IS NULL AND substr(tickets.area_path, 1, length(a.path)) = a.path),
    '');
UPDATE ticket_events SET county_id = COALESCE(
    (SELECT a.id FROM areas a WHERE a.kind = 'county' AND substr(ticket_events.area_path, 1, length(a.path)) = a.path
     ORDER BY a.depth LIMIT 1),
    (SELECT a.id FROM areas a WHERE a.parent_id IS NULL AND substr(ticket_events.area_path, 1, length(a.path)) = a.path),
    '');
UPDATE alerts SET county_id = COALESCE(
    (SELECT a.id FROM areas a WHERE a.kind = 'county' AND substr(alerts.area_path, 1, length(a.path)) = a.path
     ORDER BY a.depth LIMIT 1),
    (SELECT a.id FROM areas a WHERE a.parent_id IS NULL AND substr(alerts.area_path, 1, length(a.path)) = a.path),
    '');
