-- Compliance's satisfaction share at season scale (issue 22): each ticket keeps the satisfaction
-- of its latest event carrying one (by time, then id), written with its projection by the push
-- writer, compared by `fieldvisit check` and rebuilt by `fieldvisit check --repair`. The report
-- read it from the events, one index probe per ticket (100,000 for a season).
ALTER TABLE tickets ADD COLUMN latest_satisfaction TEXT;
UPDATE tickets SET latest_satisfaction = (
    SELECT e.satisfaction FROM ticket_events e
    WHERE e.ticket_id = tickets.id AND e.satisfaction IS NOT NULL
    ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1);
-- Only that lookup read this index; every event insert paid for it.
DROP INDEX ticket_events_satisfaction;
-- Compliance reads these columns of a period's tickets from this index alone, not from the
-- wide rows (the projection's JSON): a season's 100,000 tickets in about two thirds of the time.
-- SQLite only: a PostgreSQL index row is limited to about 2.7 kB, which a ticket reopened
-- often enough would pass with its stage times.
CREATE INDEX tickets_report_facts ON tickets(reported_at, area_path, team_id, effective_category, received_at,
    status, closed_at, resolved_on_the_spot, latest_satisfaction, stage_times);
