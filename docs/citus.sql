-- The Citus layout of a fieldvisit database: one county per shard (issue 26; docs/operations.md,
-- "Counties on Citus"). Run on the coordinator, after the server's migrations, with no server
-- running:  psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f docs/citus.sql
--
-- Part 1 is plain PostgreSQL and runs anywhere: each unique key of a busy table takes its county,
-- as Citus requires of a distributed table (a key must include the distribution column). The id
-- stays the leading column, so the server's lookups by id keep their index. Part 2 (the Citus
-- calls) runs only where the citus extension is installed; elsewhere it says so and does nothing.
-- tests/tests/citus_layout.rs runs this file on plain PostgreSQL and then the server on it.

BEGIN;

-- Part 1: keys that name the county.

-- Foreign keys between busy tables go first; they come back below with the county in them, so a
-- visit and its household, an event and its ticket stay on one shard (co-located joins).
ALTER TABLE visits DROP CONSTRAINT visits_household_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT tickets_household_id_fkey;
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_ticket_id_fkey;
-- Tables that stay on the coordinator cannot reference a distributed table; the push writer
-- writes them in the same transaction as the rows they name.
ALTER TABLE household_versions DROP CONSTRAINT household_versions_household_id_fkey;
ALTER TABLE channel_outbox DROP CONSTRAINT channel_outbox_alert_id_fkey;

ALTER TABLE households DROP CONSTRAINT households_pkey, ADD PRIMARY KEY (id, county_id);
ALTER TABLE visits DROP CONSTRAINT visits_pkey, ADD PRIMARY KEY (id, county_id);
ALTER TABLE tickets DROP CONSTRAINT tickets_pkey, ADD PRIMARY KEY (id, county_id);
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_pkey, ADD PRIMARY KEY (id, county_id);
-- An alert fires once per (ticket, kind, stage, cycle, level); a ticket has one county, so the
-- wider key allows nothing more.
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey, ADD PRIMARY KEY (id, county_id);
ALTER TABLE alerts DROP CONSTRAINT alerts_ticket_id_kind_stage_cycle_level_key,
    ADD UNIQUE (ticket_id, kind, stage, cycle, level, county_id);

ALTER TABLE visits ADD FOREIGN KEY (household_id, county_id) REFERENCES households (id, county_id);
ALTER TABLE tickets ADD FOREIGN KEY (household_id, county_id) REFERENCES households (id, county_id);
ALTER TABLE ticket_events ADD FOREIGN KEY (ticket_id, county_id) REFERENCES tickets (id, county_id);

-- Part 2: distribution (Citus only).
DO $citus$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE NOTICE 'citus is not installed: keys changed, no table distributed';
        RETURN;
    END IF;
    -- Small, read by every request's scope check and every push: a copy on every node.
    PERFORM create_reference_table('areas');
    PERFORM create_reference_table('teams');
    PERFORM create_reference_table('users');
    PERFORM create_reference_table('devices');
    PERFORM create_reference_table('policies');
    PERFORM create_reference_table('checklist_templates');
    PERFORM create_reference_table('channels');
    -- The busy tables, one county per shard group, co-located so that a household's visits and
    -- tickets, a ticket's events and alerts join on one node.
    PERFORM create_distributed_table('households', 'county_id');
    PERFORM create_distributed_table('visits', 'county_id', colocate_with => 'households');
    PERFORM create_distributed_table('tickets', 'county_id', colocate_with => 'households');
    PERFORM create_distributed_table('ticket_events', 'county_id', colocate_with => 'households');
    PERFORM create_distributed_table('alerts', 'county_id', colocate_with => 'households');
    -- Everything else (sessions, change_seq, removals, tallies, outboxes, blobs) stays on the
    -- coordinator: see docs/operations.md for what a province would move next.
END
$citus$;

COMMIT;
