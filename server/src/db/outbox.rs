//! The alert webhook's outbox: one row per alert to send, with its delivery state.
//!
//! Rows are added by the delivery task itself (`enqueue`: every alert after the newest one
//! already here), not by the write paths that store alerts; see `crate::webhook` for why.

use diesel::prelude::*;
use fieldvisit_sync_protocol::time::Millis;

use super::alerts::AlertRow;
use super::schema::{alerts, webhook_outbox};
use super::DbConn;

/// Alerts enqueued per statement; `enqueue` is called again while a batch comes back full.
pub const ENQUEUE_BATCH: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhook_outbox)]
pub struct OutboxRow {
    pub alert_id: i64,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_outbox)]
struct NewRow {
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
}

/// The newest alert id in the outbox, if any.
pub fn newest(conn: &mut DbConn) -> QueryResult<Option<i64>> {
    webhook_outbox::table.select(diesel::dsl::max(webhook_outbox::alert_id)).first(conn)
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
pub fn enqueue(conn: &mut DbConn, start_after: i64, now: Millis) -> QueryResult<usize> {
    let after = newest(conn)?.unwrap_or(start_after);
    let ids: Vec<i64> = alerts::table
        .filter(alerts::id.gt(after))
        .order(alerts::id)
        .limit(ENQUEUE_BATCH)
        .select(alerts::id)
        .load(conn)?;
    // One row per statement (SQLite cannot batch with ON CONFLICT); the conflict clause is a
    // backstop for two instances, which the transaction lock already orders.
    for &alert_id in &ids {
        let row = NewRow { alert_id, attempts: 0, next_attempt_at: now };
        crate::with_conn!(conn, c => diesel::insert_into(webhook_outbox::table).values(&row).on_conflict_do_nothing().execute(c))?;
    }
    Ok(ids.len())
}

/// Claims up to `limit` undelivered rows due at `now` and returns them with their alerts, oldest
/// due first. A claim moves `next_attempt_at` to `lease_until`, so another instance (or this one
/// after a crash) retries the row only once the lease has passed. Call it inside `db::transaction`.
pub fn claim_due(conn: &mut DbConn, now: Millis, limit: i64, lease_until: Millis) -> QueryResult<Vec<(AlertRow, i32)>> {
    let q = webhook_outbox::table
        .filter(webhook_outbox::delivered_at.is_null())
        .filter(webhook_outbox::next_attempt_at.le(now))
        .order((webhook_outbox::next_attempt_at, webhook_outbox::alert_id))
        .limit(limit)
        .select(webhook_outbox::alert_id);
    let ids: Vec<i64> = match conn {
        // Instances split the due rows instead of queueing on them.
        DbConn::Pg(c) => q.for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => q.load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_outbox::table.filter(webhook_outbox::alert_id.eq_any(&ids)))
        .set(webhook_outbox::next_attempt_at.eq(lease_until))
        .execute(conn)?;
    webhook_outbox::table
        .inner_join(alerts::table)
        .filter(webhook_outbox::alert_id.eq_any(&ids))
        .order(webhook_outbox::alert_id)
        .select((AlertRow::as_select(), webhook_outbox::attempts))
        .load(conn)
}

/// Records the outcome of one attempt on `alert_id` at `now`.
pub fn record(conn: &mut DbConn, alert_id: i64, outcome: &Outcome, now: Millis) -> QueryResult<usize> {
    let row = webhook_outbox::table.find(alert_id);
    match outcome {
        // `last_error` stays: it says why a delivered alert needed retries.
        Outcome::Delivered => diesel::update(row).set(webhook_outbox::delivered_at.eq(now)).execute(conn),
        Outcome::Failed { attempts, next_attempt_at, error } => diesel::update(row)
            .set((
                webhook_outbox::attempts.eq(attempts),
                webhook_outbox::next_attempt_at.eq(next_attempt_at),
                webhook_outbox::last_error.eq(error),
            ))
            .execute(conn),
    }
}

/// The earliest `next_attempt_at` of an undelivered row: when the task has work next.
pub fn next_due(conn: &mut DbConn) -> QueryResult<Option<Millis>> {
    webhook_outbox::table
        .filter(webhook_outbox::delivered_at.is_null())
        .select(diesel::dsl::min(webhook_outbox::next_attempt_at))
        .first(conn)
}

/// One alert's outbox row, if it was enqueued.
pub fn get(conn: &mut DbConn, alert_id: i64) -> QueryResult<Option<OutboxRow>> {
    webhook_outbox::table.find(alert_id).select(OutboxRow::as_select()).first(conn).optional()
}
