CREATE TABLE webhook_outbox (
    alert_id        BIGINT PRIMARY KEY NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(delivered_at, next_attempt_at);
INSERT INTO webhook_outbox (alert_id, attempts, next_attempt_at, delivered_at, last_error)
    SELECT alert_id, attempts, next_attempt_at, delivered_at, last_error FROM channel_outbox WHERE channel_id = '';
DROP TABLE channel_outbox;
DROP TABLE channels;
