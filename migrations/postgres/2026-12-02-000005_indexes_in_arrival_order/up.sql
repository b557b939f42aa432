-- Visits are indexed in the order they arrive, not the order they happened. Phones send visits
-- out of time order (offline spells, wrong clocks), so an index ending in visited_at took each new
-- visit into a random page of its area's (or household's) range; arrival order only grows, so new
-- entries go to the end of each range, and a commit writes far fewer index pages.

-- A visit's time is never later than its arrival plus the clock tolerance (a push refuses later
-- ones), so "visited since T" reads the entries that arrived since T minus the largest tolerance
-- (db::reports).
DROP INDEX visits_area_time;
CREATE INDEX visits_area_received ON visits(area_path, received_at);

-- By household alone the key is (household_id, rowid), in arrival order; a household's few
-- visits are sorted by time when read.
DROP INDEX visits_household;
CREATE INDEX visits_household ON visits(household_id);

-- A household's tickets (its page on the dashboard) were found by reading every ticket.
CREATE INDEX tickets_household ON tickets(household_id);
