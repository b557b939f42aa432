-- Compliance's satisfaction share at season scale (issue 22): each ticket keeps the satisfaction
-- of its latest event carrying one (by time, then id), written with its projection by the push
-- writer, compared by `fieldvisit check` and rebuilt by `fieldvisit check --repair`. The report
-- read it from the events, one index probe per ticket (100,000 for a season).
ALTER TABLE tickets ADD COLUMN latest_satisfaction TEXT;
UPDATE tickets SET latest_satisfaction = (
    SELECT e.satisfaction FROM ticket_events e
    WHERE e.ticket_id = tickets.id AND e.satisfaction IS NOT NULL
    ORDER BY e.occurred_at DESC, e.id COLLATE "C" DESC LIMIT 1);
-- Only that lookup read this index; every event insert paid for it.
DROP INDEX ticket_events_satisfaction;
