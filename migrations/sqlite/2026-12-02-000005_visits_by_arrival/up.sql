-- Visits in an area are found by when they arrived, not when they happened. Phones send visits
-- out of time order (offline spells, wrong clocks), so an index on (area_path, visited_at) took
-- each new visit into a random page of its area's range; arrival times only grow, so each area's
-- new entries go to the end of its range. A visit's time is never later than its arrival plus
-- the clock tolerance (a push refuses later ones), so "visited since T" reads the entries that
-- arrived since T minus the largest tolerance (db::reports).
DROP INDEX visits_area_time;
CREATE INDEX visits_area_received ON visits(area_path, received_at);
