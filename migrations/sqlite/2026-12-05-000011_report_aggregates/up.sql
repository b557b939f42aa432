-- Reports at season scale (issue 22): what the compliance, daily and temperature reports read is
-- kept by the push writer in the same transaction as the rows it derives from, so a report reads
-- about the rows of its answer, not the season. `fieldvisit check` compares each with what it is
-- derived from; `fieldvisit check --repair` rebuilds it.

-- Each stage of a ticket's projection as `name:started:due:completed` (empty when null), `;`
-- between stages in the projection's order: compliance and daily read these instead of parsing
-- every ticket's JSON.
ALTER TABLE tickets ADD COLUMN stage_times TEXT NOT NULL DEFAULT '';
UPDATE tickets SET stage_times = COALESCE((
    SELECT group_concat(
        json_extract(s.value, '$.name') || ':' || COALESCE(json_extract(s.value, '$.started_at'), '') || ':'
            || COALESCE(json_extract(s.value, '$.due_at'), '') || ':' || COALESCE(json_extract(s.value, '$.completed_at'), ''),
        ';')
    FROM json_each(tickets.projection, '$.stages') s), '');
-- Daily clearance reads the tickets closed since the day began, not every ticket reported before it.
CREATE INDEX tickets_closed ON tickets(closed_at);
-- Compliance's satisfaction share reads each ticket's events that carry one, from the index alone.
CREATE INDEX ticket_events_satisfaction ON ticket_events(ticket_id, occurred_at, seq, satisfaction)
    WHERE satisfaction IS NOT NULL;

-- Each household's latest measured visit (the colder reading when two share the time): the
-- temperature report's "households below the standard".
ALTER TABLE households ADD COLUMN last_measured_at BIGINT;
ALTER TABLE households ADD COLUMN last_temp_c DOUBLE PRECISION;
UPDATE households SET last_measured_at =
    (SELECT MAX(v.visited_at) FROM visits v WHERE v.household_id = households.id AND v.indoor_temp_c IS NOT NULL);
UPDATE households SET last_temp_c = (SELECT MIN(v.indoor_temp_c) FROM visits v
    WHERE v.household_id = households.id AND v.indoor_temp_c IS NOT NULL AND v.visited_at = households.last_measured_at);

-- Measured visits per area, UTC day of the visit and reading in tenths of a degree: exact
-- percentiles over whole days without reading the visits.
CREATE TABLE temperature_tally (
    area_path TEXT NOT NULL,
    day       BIGINT NOT NULL,
    tenths    INTEGER NOT NULL,
    visits    BIGINT NOT NULL,
    PRIMARY KEY (area_path, day, tenths)
);
INSERT INTO temperature_tally (area_path, day, tenths, visits)
    SELECT area_path, visited_at / 86400000, CAST(round(indoor_temp_c * 10) AS INTEGER), COUNT(*)
    FROM visits WHERE indoor_temp_c IS NOT NULL
    GROUP BY area_path, visited_at / 86400000, CAST(round(indoor_temp_c * 10) AS INTEGER);
-- The part of a report's first day before midnight is read from the visits by their time.
CREATE INDEX visits_visited ON visits(visited_at);
