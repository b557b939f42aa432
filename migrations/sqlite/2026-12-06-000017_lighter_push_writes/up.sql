-- No query reads visits by (area_path, received_at) since the first pull and the reports moved to
-- visits_visited; every push still paid for the index, one of six on its busiest table.
DROP INDEX visits_area_received;

-- Each the first column of another index on the same table (households_area_seq, tickets_area_seq,
-- tickets_team_seq), which serves the same lookups; a ticket has twelve indexes, and a re-folded
-- ticket's update (its seq changes) writes an entry into each.
DROP INDEX households_area_path;
DROP INDEX tickets_area_path;
DROP INDEX tickets_team;
