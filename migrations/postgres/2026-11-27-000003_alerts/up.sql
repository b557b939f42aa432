-- Alerts of the deadline tracker. The unique key makes each alert fire once per ticket, stage,
-- cycle, kind and level, even when two tracker instances race (INSERT ... ON CONFLICT DO NOTHING).
-- `at` is when the alert was due to fire (its schedule time), `fired_at` when it was stored.
CREATE TABLE alerts (
    id         BIGSERIAL PRIMARY KEY NOT NULL,
    ticket_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    stage      TEXT NOT NULL,
    cycle      INTEGER NOT NULL,
    level      INTEGER NOT NULL,
    due_at     BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    fired_at   BIGINT NOT NULL,
    area_path  TEXT COLLATE "C" NOT NULL,
    team_id    TEXT,
    UNIQUE (ticket_id, kind, stage, cycle, level)
);
CREATE INDEX alerts_area_id ON alerts(area_path, id);
