-- The change sequence: every stored household, visit, ticket, event, area and team carries the
-- `seq` of its last change. Writers bump this one row inside their transaction, so its row lock
-- orders commits by sequence and a pull (seq > cursor) never skips a change (docs/protocol.md).
CREATE TABLE change_seq (
    id     INTEGER PRIMARY KEY NOT NULL,
    value  BIGINT NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

ALTER TABLE areas ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE teams ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;

-- Deadline policies, versioned; a ticket keeps the version in force when it was reported.
CREATE TABLE policies (
    version     INTEGER PRIMARY KEY NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT
);

CREATE TABLE households (
    id          TEXT PRIMARY KEY NOT NULL,
    area_id     TEXT NOT NULL REFERENCES areas(id),
    area_path   TEXT NOT NULL,
    address     TEXT NOT NULL,
    head_name   TEXT NOT NULL,
    phone       TEXT,
    heating     TEXT NOT NULL,
    tags        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    seq         BIGINT NOT NULL
);
CREATE INDEX households_area_path ON households(area_path);
CREATE INDEX households_seq ON households(seq);

-- Every version's fields, so a stale edit can be merged against what the phone last saw.
CREATE TABLE household_versions (
    household_id TEXT NOT NULL REFERENCES households(id),
    version      BIGINT NOT NULL,
    fields       TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (household_id, version)
);

CREATE TABLE visits (
    id                 TEXT PRIMARY KEY NOT NULL,
    household_id       TEXT NOT NULL REFERENCES households(id),
    area_id            TEXT NOT NULL,
    area_path          TEXT NOT NULL,
    visited_at         BIGINT NOT NULL,
    device_visited_at  BIGINT NOT NULL,
    received_at        BIGINT NOT NULL,
    clock_verified     BOOLEAN NOT NULL,
    indoor_temp_c      DOUBLE PRECISION,
    checklist          TEXT NOT NULL,
    service_card_given BOOLEAN,
    notes              TEXT,
    lat                DOUBLE PRECISION,
    lon                DOUBLE PRECISION,
    photos             TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    device_id          TEXT NOT NULL,
    content_hash       TEXT NOT NULL,
    seq                BIGINT NOT NULL
);
CREATE INDEX visits_household ON visits(household_id, visited_at);
CREATE INDEX visits_area_time ON visits(area_path, visited_at);
CREATE INDEX visits_seq ON visits(seq);

CREATE TABLE tickets (
    id                   TEXT PRIMARY KEY NOT NULL,
    household_id         TEXT NOT NULL REFERENCES households(id),
    visit_id             TEXT,
    area_id              TEXT NOT NULL,
    area_path            TEXT NOT NULL,
    category             TEXT NOT NULL,
    severity             TEXT NOT NULL,
    description          TEXT NOT NULL,
    reported_at          BIGINT NOT NULL,
    device_reported_at   BIGINT NOT NULL,
    received_at          BIGINT NOT NULL,
    clock_verified       BOOLEAN NOT NULL,
    resolved_on_the_spot BOOLEAN NOT NULL,
    photos               TEXT NOT NULL,
    reporter_id          TEXT NOT NULL,
    device_id            TEXT NOT NULL,
    content_hash         TEXT NOT NULL,
    policy_version       INTEGER NOT NULL,
    -- The projection of the deadline fold, stored with the event that changed it.
    status               TEXT NOT NULL,
    stage                TEXT NOT NULL,
    team_id              TEXT,
    effective_category   TEXT NOT NULL,
    projection           TEXT NOT NULL,
    current_due_at       BIGINT,
    next_deadline_at     BIGINT,
    closed_at            BIGINT,
    last_event_received_at BIGINT,
    version              BIGINT NOT NULL,
    seq                  BIGINT NOT NULL
);
CREATE INDEX tickets_area_path ON tickets(area_path);
CREATE INDEX tickets_team ON tickets(team_id);
CREATE INDEX tickets_seq ON tickets(seq);
CREATE INDEX tickets_open_due ON tickets(status, current_due_at);
CREATE INDEX tickets_next_deadline ON tickets(next_deadline_at);
CREATE INDEX tickets_reported ON tickets(reported_at);

CREATE TABLE ticket_events (
    id                  TEXT PRIMARY KEY NOT NULL,
    ticket_id           TEXT NOT NULL REFERENCES tickets(id),
    area_path           TEXT NOT NULL,
    event_type          TEXT NOT NULL,
    occurred_at         BIGINT NOT NULL,
    device_occurred_at  BIGINT NOT NULL,
    received_at         BIGINT NOT NULL,
    clock_verified      BOOLEAN NOT NULL,
    category            TEXT,
    team_id             TEXT,
    note                TEXT,
    satisfaction        TEXT,
    user_id             TEXT NOT NULL,
    device_id           TEXT NOT NULL,
    content_hash        TEXT NOT NULL,
    seq                 BIGINT NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, occurred_at);
CREATE INDEX ticket_events_seq ON ticket_events(seq);

-- A record leaving a scope it was pulled into (a ticket re-dispatched away from a team).
CREATE TABLE removals (
    seq          BIGINT PRIMARY KEY NOT NULL,
    record_type  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    team_id      TEXT,
    area_path    TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX removals_team ON removals(team_id, seq);

-- Receipts: a replayed batch_id gets the stored answer.
CREATE TABLE sync_batches (
    batch_id    TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    response    TEXT NOT NULL
);

CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    uploader_id  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Which records name which photo, with their scope, so reading a photo is one indexed check.
CREATE TABLE record_photos (
    sha256      TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    area_path   TEXT NOT NULL,
    PRIMARY KEY (sha256, record_type, record_id)
);
