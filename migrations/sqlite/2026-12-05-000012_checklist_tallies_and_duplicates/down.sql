DROP INDEX removals_area;
DROP INDEX households_area_dedup;
ALTER TABLE households DROP COLUMN dedup_key;
DROP TABLE checklist_tallies;
ALTER TABLE visits DROP COLUMN checklist_template_version;
ALTER TABLE visits DROP COLUMN checklist_template_id;
