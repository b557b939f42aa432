//! The deadline tracker: a task beside the HTTP server that fires `due_soon`, `overdue` and
//! `escalated` alerts when their time comes while a ticket is stored, and feeds every stored alert
//! to the SSE stream: its own, and those a push stores (the alerts already due when its data
//! arrived, `sync::apply::set_projection`, and retractions).
//!
//! It sleeps until the earliest `tickets.next_deadline_at` (one indexed MIN), until a push
//! commits (`AppState::tracker_wake`), or until the clock jumps (tests), at most [`MAX_SLEEP`].
//! A sweep batch locks the due tickets (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so instances split
//! the work), inserts the alerts whose time has come with ON CONFLICT DO NOTHING (the unique key
//! makes each fire once even if two instances race) and moves each ticket's `next_deadline_at` to
//! its next unfired alert, all in one transaction: the push writer's next group (`Writer::sweep`),
//! so the tracker never holds SQLite's write lock beside it. It also fires the `day_end` alerts
//! when a county's day ends (`day_end`). See docs/deadlines.md.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::{self, AlertOut};
use fieldvisit_sync_protocol::time::Millis;

use crate::db::alerts::{self, FiredAlert, NewAlert};
use crate::db::policies::{self, PolicyBook};
use crate::db::schema::tickets;
use crate::db::{self, records, DbConn};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest sleep without a deadline or a push: a safety net, not the alert latency.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Tickets per sweep batch; a sweep repeats until fewer are due.
pub const BATCH: i64 = 500;

/// Runs forever; database trouble is logged and retried, so only a panic ends it.
pub async fn run(state: AppState) -> anyhow::Result<()> {
    // Subscribers get what is fired from now on; history is `GET /api/v1/alerts`.
    let mut last = loop {
        match db::run(&state.pool, |c| Ok(alerts::last_id(c)?)).await {
            Ok(id) => break id,
            Err(e) => retry_later(&e).await,
        }
    };
    // When to look for day ends again: at the next one, or sooner to see a policy change; and
    // the county days already handled.
    let mut day_end_at: Millis = 0;
    let mut day_end_done: Vec<crate::deadlines::day_end::Done> = Vec::new();
    loop {
        let now = state.clock.now();
        let next = match sweep_through_writer(&state, now).await {
            Ok(next) => next,
            Err(e) => {
                retry_later(&e).await;
                continue;
            }
        };
        if now >= day_end_at {
            match state.writer.day_end(now, day_end_done.clone()).await {
                Ok(o) => {
                    day_end_at = o.next_at.unwrap_or(Millis::MAX).min(now + crate::deadlines::day_end::RECHECK_MS);
                    // Days older than yesterday can no longer come round (they end at midnight).
                    let newest = o.done.iter().map(|d| d.1).max().unwrap_or(i32::MIN);
                    day_end_done.retain(|d| d.1 >= newest.saturating_sub(1));
                    day_end_done.extend(o.done);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tracker: day-end alerts failed; retrying in 1 s");
                    day_end_at = now + 1000;
                }
            }
        }
        let next = Some(next.map_or(day_end_at, |n| n.min(day_end_at)));
        match broadcast(&state, last).await {
            Ok(id) => last = id,
            Err(e) => tracing::warn!(error = %e, "tracker: reading new alerts failed"),
        }
        let wait = match next {
            // Still due after a sweep: rows another instance holds (SKIP LOCKED); look again soon.
            Some(at) => Duration::from_millis(u64::try_from(at - state.clock.now()).unwrap_or(0).max(20)),
            None => MAX_SLEEP,
        };
        tokio::select! {
            () = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            () = state.tracker_wake.notified() => {}
            () = state.clock.jumped() => {}
        }
    }
}

async fn retry_later(e: &ApiError) {
    tracing::warn!(error = %e, "tracker: database trouble, retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Fires everything due at `now`, batch by batch in the push writer's groups; returns the
/// earliest `next_deadline_at` left in the database.
async fn sweep_through_writer(state: &AppState, now: Millis) -> Result<Option<Millis>, ApiError> {
    let next_at = || db::run(&state.pool, |c| Ok(earliest(c)?));
    // A read first, so the common case (nothing due) costs the writer nothing.
    while next_at().await?.is_some_and(|at| at <= now) {
        if state.writer.sweep(now).await? < BATCH as usize {
            break;
        }
    }
    next_at().await
}

/// [`sweep_through_writer`] on one connection, each batch its own transaction: for benchmarks
/// and tools without a running writer.
pub fn sweep(conn: &mut DbConn, now: Millis) -> Result<Option<Millis>, ApiError> {
    let book = policies::load(conn)?;
    while earliest(conn)?.is_some_and(|at| at <= now) {
        let handled = db::transaction(conn, |c| sweep_batch(c, now, &book))?;
        if handled < BATCH as usize {
            break;
        }
    }
    Ok(earliest(conn)?)
}

fn earliest(conn: &mut DbConn) -> QueryResult<Option<Millis>> {
    tickets::table.select(diesel::dsl::min(tickets::next_deadline_at)).first(conn)
}

fn due_ids(conn: &mut DbConn, now: Millis) -> QueryResult<Vec<String>> {
    let q = tickets::table
        .filter(tickets::next_deadline_at.le(now))
        .order(tickets::next_deadline_at)
        .limit(BATCH)
        .select(tickets::id);
    match conn {
        // Two instances take disjoint tickets instead of queueing on the same rows.
        DbConn::Pg(c) => q.for_update().skip_locked().load(c),
        DbConn::Sqlite(c) => q.load(c),
    }
}

/// Inside a transaction: locks up to [`BATCH`] due tickets, fires their due alerts, moves them on.
pub fn sweep_batch(conn: &mut DbConn, now: Millis, book: &PolicyBook) -> Result<usize, ApiError> {
    let ids = due_ids(conn, now)?;
    let rows = records::tickets_by_id(conn, &ids)?;
    let mut fired = alerts::fired_keys(conn, &ids)?;
    let mut new = Vec::new();
    for id in &ids {
        let Some(row) = rows.get(id) else { continue };
        let policy = book.version(row.policy_version);
        let fired = fired.remove(id).unwrap_or_default();
        let p = row.stored_projection().clone().at(policy, now);
        let schedule = deadline::schedule(policy, &row.facts(), &p);
        let due = deadline::due(&schedule, now, |a| fired.contains(&alerts::key_of(a)));
        new.extend(due.fire.iter().map(|a| NewAlert::of(row, a, now)));
        let next = due.next_at;
        diesel::update(tickets::table.find(id)).set(tickets::next_deadline_at.eq(next)).execute(conn)?;
    }
    let inserted = alerts::insert_new(conn, &new)?;
    tracing::debug!(tickets = ids.len(), alerts = inserted, "tracker: sweep");
    Ok(ids.len())
}

/// Sends every alert stored after `last` to the stream's subscribers; returns the new `last`.
///
/// Alert ids are taken inside transactions that hold the change-sequence lock, so they commit
/// in id order and reading `id > last` never skips one.
async fn broadcast(state: &AppState, mut last: i64) -> Result<i64, ApiError> {
    loop {
        let from = last;
        let horizon = state.writer.horizon().clone();
        let rows = db::run(&state.pool, move |c| Ok(alerts::after(c, None, from, 500, &horizon)?)).await?;
        let Some(tail) = rows.last() else { return Ok(last) };
        last = tail.id;
        let full = rows.len() == 500;
        // The channel delivery task enqueues them itself (`id >` its newest); this only saves it a wait.
        state.webhook_wake.notify_one();
        for r in &rows {
            // No subscriber is not an error: the alert is stored for `GET /api/v1/alerts`.
            let _ = state.alerts.send(Arc::new(FiredAlert {
                area_path: r.area_path.clone(),
                team_id: r.team_id.clone(),
                alert: AlertOut::from(r),
            }));
        }
        if !full {
            return Ok(last);
        }
    }
}
