DROP INDEX removals_area;
DROP INDEX households_area_dedup;
ALTER TABLE households DROP COLUMN dedup_key;
DROP TABLE checklist_tallies;
