//! Several instances on one PostgreSQL as one service: an alert stored by any instance (its
//! tracker's sweep, or a push that found a deadline already passed or a stage met after all)
//! reaches every instance's alert streams at once, not when that instance's tracker next wakes.
//!
//! The transaction that stores alerts also runs `NOTIFY fieldvisit_alerts` ([`announce`]);
//! PostgreSQL delivers it only if, and once, that transaction commits. Each instance keeps one
//! connection that `LISTEN`s ([`listen`]) and rings its tracker on every notification; the
//! tracker then broadcasts the alerts after the last it sent, as it does after its own sweeps, so
//! a notification carries no data and a missed one costs only a delay. After a reconnect the
//! tracker is rung once for what may have been missed. SQLite has one instance: nothing to do.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryResult, RunQueryDsl};

use crate::db::DbConn;
use crate::state::AppState;

/// The notification channel.
pub const CHANNEL: &str = "fieldvisit_alerts";
/// How often the listening connection's socket is read: the added latency at most. A read is
/// one non-blocking `PQconsumeInput`, no round trip.
const POLL: Duration = Duration::from_millis(50);
/// How often the listening connection is proved alive with a query: a connection cut without a
/// FIN would otherwise look idle forever.
const PROBE_EVERY: u32 = 200;

diesel::define_sql_function! {
    /// PostgreSQL's `pg_notify(channel, payload)`; it returns `void`, never read here.
    fn pg_notify(channel: diesel::sql_types::Text, payload: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// In the transaction that stored alerts: every instance hears of them once it commits.
pub fn announce(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        // `pg_notify` rather than `NOTIFY`: a SELECT with bound arguments, prepared once per
        // connection, where the NOTIFY text was prepared anew (an extra round trip) every time.
        DbConn::Pg(c) => diesel::select(pg_notify(CHANNEL, "")).execute(c).map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Listens on `url` for as long as the server runs, reconnecting after any failure.
pub async fn listen(state: AppState, url: String) -> anyhow::Result<()> {
    loop {
        let connect_url = url.clone();
        let conn = tokio::task::spawn_blocking(move || -> anyhow::Result<PgConnection> {
            let mut c = PgConnection::establish(&connect_url)?;
            c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
            Ok(c)
        })
        .await?;
        match conn {
            Ok(conn) => {
                state.tracker_wake.notify_one();
                let e = relay(&state, conn).await?;
                tracing::warn!(error = %e, "alert bus: listening connection lost; reconnecting");
            }
            // The URL may carry a password: the error text of libpq does not include it.
            Err(e) => tracing::warn!(error = %e, "alert bus: cannot listen; retrying in 1 s"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Rings the tracker for each batch of notifications until the connection fails; returns why.
async fn relay(state: &AppState, mut conn: PgConnection) -> anyhow::Result<diesel::result::Error> {
    let mut polls = 0u32;
    loop {
        tokio::time::sleep(POLL).await;
        polls = polls.wrapping_add(1);
        let probe = polls.is_multiple_of(PROBE_EVERY);
        let (back, heard) = tokio::task::spawn_blocking(move || {
            let heard = drain(&mut conn, probe);
            (conn, heard)
        })
        .await?;
        conn = back;
        match heard {
            Ok(0) => {}
            Ok(_) => state.tracker_wake.notify_one(),
            Err(e) => return Ok(e),
        }
    }
}

/// Notifications waiting on `conn` (after a `SELECT 1` when `probe`).
fn drain(conn: &mut PgConnection, probe: bool) -> QueryResult<usize> {
    if probe {
        conn.batch_execute("SELECT 1")?;
    }
    let mut n = 0;
    for notification in conn.notifications_iter() {
        notification?;
        n += 1;
    }
    Ok(n)
}
