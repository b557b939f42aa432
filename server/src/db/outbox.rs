//! The delivery outbox: one row per (channel, alert) to send, with its delivery state. The channel
//! [`IMPLICIT`] is `FIELDVISIT_WEBHOOK_URL`'s; the others are rows of `channels`.
//!
//! Rows are added by the delivery task itself (`enqueue_implicit`: every alert after the newest
//! one already here; `enqueue`: the alerts a channel's filter matched), not by the write paths
//! that store alerts; see `crate::deadlines::channels::delivery` for why. The primary key (channel, alert) is what
//! keeps one alert from being queued twice for a channel.

use diesel::prelude::*;
use fieldvisit_sync_protocol::time::Millis;

use super::alerts::AlertRow;
use super::schema::{alerts, channel_outbox};
use super::DbConn;

/// The channel id of `FIELDVISIT_WEBHOOK_URL`, which has no row in `channels`.
pub const IMPLICIT: &str = "";

/// Alerts enqueued per statement; `enqueue` is called again while a batch comes back full.
pub const ENQUEUE_BATCH: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = channel_outbox)]
pub struct OutboxRow {
    pub channel_id: String,
    pub alert_id: i64,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = channel_outbox)]
struct NewRow<'a> {
    channel_id: &'a str,
    alert_id: i64,
    attempts: i32,
    next_attempt_at: i64,
}

/// How one delivery attempt went, as the task records it.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered,
    /// Failed: `attempts` is the new count, `error` the status or error text (no secrets).
    Failed {
        attempts: i32,
        next_attempt_at: Millis,
        error: String,
    },
    /// Not tried: the channel's rate limit is reached; due again at `next_attempt_at`.
    Postponed {
        next_attempt_at: Millis,
    },
}

/// The newest alert id in the implicit channel's outbox, if any.
pub fn newest(conn: &mut DbConn) -> QueryResult<Option<i64>> {
    channel_outbox::table
        .filter(channel_outbox::channel_id.eq(IMPLICIT))
        .select(diesel::dsl::max(channel_outbox::alert_id))
        .first(conn)
}

/// Whether alerts were stored after the newest one in the outbox (after `start_after` while it
/// is empty): a read, so a round with nothing new takes no write lock.
pub fn has_new(conn: &mut DbConn, start_after: i64) -> QueryResult<bool> {
    let after = newest(conn)?.unwrap_or(start_after);
    Ok(super::alerts::last_id(conn)? > after)
}

/// Enqueues up to [`ENQUEUE_BATCH`] alerts stored after the newest one in the outbox (after
/// `start_after` while the outbox is empty), due at `now`. Call it inside `db::transaction`: that
/// lock orders it after every transaction that stored an alert, and alert ids commit in id order,
/// so `id > newest` never skips one. Unlike the other alert readers it needs no horizon
/// (`db::seq::Horizon`): its own commit waits for the disk (`synchronous=FULL`), which syncs the
/// WAL up to these alerts before any of them is sent. Returns how many alerts it found.
pub fn enqueue_implicit(conn: &mut DbConn, start_after: i64, now: Millis) -> QueryResult<usize> {
    let after = newest(conn)?.unwrap_or(start_after);
    let ids: Vec<i64> = alerts::table
        .filter(alerts::id.gt(after))
        .order(alerts::id)
        .limit(ENQUEUE_BATCH)
        .select(alerts::id)
        .load(conn)?;
    // One row per statement (SQLite cannot batch with ON CONFLICT); the conflict clause is a
    // backstop for two instances, which the transaction lock already orders.
    enqueue(conn, IMPLICIT, &ids, now)?;
    Ok(ids.len())
}

/// Queues `alert_ids` for `channel_id`, due at `now`; an alert queued already is left as it is.
pub fn enqueue(conn: &mut DbConn, channel_id: &str, alert_ids: &[i64], now: Millis) -> QueryResult<()> {
    for &alert_id in alert_ids {
        let row = NewRow { channel_id, alert_id, attempts: 0, next_attempt_at: now };
        crate::with_conn!(conn, c => diesel::insert_into(channel_outbox::table).values(&row).on_conflict_do_nothing().execute(c))?;
    }
    Ok(())
}

/// Claims up to `limit` undelivered rows due at `now` and returns them with their alerts, oldest
/// due first (then by channel and alert). A claim moves `next_attempt_at` to `lease_until`, so another
/// instance (or this one after a crash) retries the row only once the lease has passed. Call it
/// inside `db::transaction`.
pub fn claim_due(
    conn: &mut DbConn,
    now: Millis,
    limit: i64,
    lease_until: Millis,
) -> QueryResult<Vec<(String, AlertRow, i32)>> {
    let q = channel_outbox::table
        .filter(channel_outbox::delivered_at.is_null())
        .filter(channel_outbox::next_attempt_at.le(now))
        .order((channel_outbox::next_attempt_at, channel_outbox::channel_id, channel_outbox::alert_id))
        .limit(limit)
        .select((channel_outbox::channel_id, channel_outbox::alert_id));
    let keys: Vec<(String, i64)> = match conn {
        // Instances split the due rows instead of queueing on them.
        DbConn::Pg(c) => q.for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => q.load(c)?,
    };
    let mut out = Vec::with_capacity(keys.len());
    for (channel_id, alert_id) in keys {
        let row = channel_outbox::table.find((&channel_id, alert_id));
        diesel::update(row).set(channel_outbox::next_attempt_at.eq(lease_until)).execute(conn)?;
        let (alert, attempts) =
            row.inner_join(alerts::table).select((AlertRow::as_select(), channel_outbox::attempts)).first(conn)?;
        out.push((channel_id, alert, attempts));
    }
    // Per channel in alert order: the order a group chat reads them in.
    out.sort_by(|a, b| (&a.0, a.1.id).cmp(&(&b.0, b.1.id)));
    Ok(out)
}

/// Records the outcome of one attempt on (`channel_id`, `alert_id`) at `now`.
pub fn record(
    conn: &mut DbConn,
    channel_id: &str,
    alert_id: i64,
    outcome: &Outcome,
    now: Millis,
) -> QueryResult<usize> {
    let row = channel_outbox::table.find((channel_id, alert_id));
    match outcome {
        // `last_error` stays: it says why a delivered alert needed retries.
        Outcome::Delivered => diesel::update(row).set(channel_outbox::delivered_at.eq(now)).execute(conn),
        Outcome::Failed { attempts, next_attempt_at, error } => diesel::update(row)
            .set((
                channel_outbox::attempts.eq(attempts),
                channel_outbox::next_attempt_at.eq(next_attempt_at),
                channel_outbox::last_error.eq(error),
            ))
            .execute(conn),
        Outcome::Postponed { next_attempt_at } => {
            diesel::update(row).set(channel_outbox::next_attempt_at.eq(next_attempt_at)).execute(conn)
        }
    }
}

/// The earliest `next_attempt_at` of an undelivered row: when the task has work next.
pub fn next_due(conn: &mut DbConn) -> QueryResult<Option<Millis>> {
    channel_outbox::table
        .filter(channel_outbox::delivered_at.is_null())
        .select(diesel::dsl::min(channel_outbox::next_attempt_at))
        .first(conn)
}

/// One alert's row in the implicit channel's outbox, if it was enqueued.
pub fn get(conn: &mut DbConn, alert_id: i64) -> QueryResult<Option<OutboxRow>> {
    get_for(conn, IMPLICIT, alert_id)
}

/// One alert's row in a channel's outbox, if it was enqueued.
pub fn get_for(conn: &mut DbConn, channel_id: &str, alert_id: i64) -> QueryResult<Option<OutboxRow>> {
    channel_outbox::table.find((channel_id, alert_id)).select(OutboxRow::as_select()).first(conn).optional()
}

/// Every row of a channel, by alert id.
pub fn of_channel(conn: &mut DbConn, channel_id: &str) -> QueryResult<Vec<OutboxRow>> {
    channel_outbox::table
        .filter(channel_outbox::channel_id.eq(channel_id))
        .order(channel_outbox::alert_id)
        .select(OutboxRow::as_select())
        .load(conn)
}
