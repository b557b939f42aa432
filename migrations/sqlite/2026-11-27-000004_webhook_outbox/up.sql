-- Delivery state of the optional alert webhook (FIELDVISIT_WEBHOOK_URL), one row per alert to send.
-- The delivery task enqueues alerts itself (id > the largest alert_id here) and retries with
-- exponential backoff; `next_attempt_at` also serves as a claim so two instances never send the
-- same row at once. Times are epoch milliseconds.
CREATE TABLE webhook_outbox (
    alert_id        BIGINT PRIMARY KEY NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(delivered_at, next_attempt_at);
