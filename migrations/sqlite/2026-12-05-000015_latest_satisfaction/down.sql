DROP INDEX tickets_report_facts;
CREATE INDEX ticket_events_satisfaction ON ticket_events(ticket_id, occurred_at, seq, satisfaction)
    WHERE satisfaction IS NOT NULL;
ALTER TABLE tickets DROP COLUMN latest_satisfaction;
