-- No query reads visits by (area_path, received_at) since the first pull and the reports moved to
-- visits_visited; every push still paid for the index, one of six on its busiest table.
DROP INDEX visits_area_received;

-- Each the first column of another index on the same table (households_area_seq, tickets_area_seq,
-- tickets_team_seq), which serves the same lookups; a ticket has twelve indexes, and a re-folded
-- ticket's update (its seq changes) writes an entry into each.
DROP INDEX households_area_path;
DROP INDEX tickets_area_path;
DROP INDEX tickets_team;

-- Each push stores its answer (a few kB of JSON, compressed out of line): pglz took 2.5 % of the
-- writer's backend time; lz4 compresses about as well several times faster. A server built
-- without lz4 keeps pglz.
DO $$
BEGIN
  ALTER TABLE sync_batches ALTER COLUMN response SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END $$;
