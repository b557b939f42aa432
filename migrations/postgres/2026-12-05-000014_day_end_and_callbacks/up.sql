-- Day-end clearance (事不过夜): a `day_end` alert is about an area, not a ticket. Its row keeps
-- the table's unique key meaningful without a rebuild: `ticket_id` holds the area's id and `cycle`
-- the local day (days since 1970-01-01 in the policy's timezone), so (area, kind, day) fires once
-- whichever tracker instance gets there first. `payload` is the alert's JSON detail (the open
-- tickets); NULL on every ticket alert.
ALTER TABLE alerts ADD COLUMN payload TEXT;

-- The callback list (回访): closed tickets, oldest close first.
CREATE INDEX tickets_status_closed ON tickets(status, closed_at);
