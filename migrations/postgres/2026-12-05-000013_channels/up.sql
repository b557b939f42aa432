-- Delivery channels of alerts (webhooks and the WeCom, DingTalk and Feishu group robots), managed by
-- admins through /api/v1/channels. A channel belongs to an area and receives the alerts of tickets
-- within it, narrowed by its filter (teams, alert types, lowest escalation level; an empty list
-- means any). `secret` signs deliveries; neither it nor `url` is ever returned in full.
-- `enqueued_to`: alerts up to this id were matched against the channel already (the delivery
-- task's cursor; a new channel starts at the newest alert, so it is not flooded with history).
CREATE TABLE channels (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    area_id     TEXT NOT NULL REFERENCES areas(id),
    area_path   TEXT COLLATE "C" NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT,
    teams       TEXT NOT NULL,
    alert_types TEXT NOT NULL,
    min_level   INTEGER NOT NULL,
    enabled     BOOLEAN NOT NULL,
    enqueued_to BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX channels_area ON channels(area_path);

-- One row per (channel, alert) to send: the webhook outbox of before, per channel. The channel ''
-- is the implicit one of FIELDVISIT_WEBHOOK_URL; its rows are the old outbox's.
CREATE TABLE channel_outbox (
    channel_id      TEXT NOT NULL,
    alert_id        BIGINT NOT NULL REFERENCES alerts(id),
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    PRIMARY KEY (channel_id, alert_id)
);
CREATE INDEX channel_outbox_due ON channel_outbox(delivered_at, next_attempt_at);
INSERT INTO channel_outbox (channel_id, alert_id, attempts, next_attempt_at, delivered_at, last_error)
    SELECT '', alert_id, attempts, next_attempt_at, delivered_at, last_error FROM webhook_outbox;
DROP TABLE webhook_outbox;
