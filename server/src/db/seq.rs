//! The change sequence. Writers take numbers here inside their transaction; the counter row stays
//! locked until they commit, so changes become visible in sequence order and a pull that reads
//! `seq > cursor` never skips one (docs/protocol.md, "Why a pull never skips a change").

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use diesel::prelude::*;

use super::schema::change_seq;
use super::DbConn;

/// Takes `n` consecutive numbers; returns the first.
pub fn allocate(conn: &mut DbConn, n: i64) -> QueryResult<i64> {
    let last: i64 = match conn {
        // One prepared round trip instead of two statements, the first prepared anew each time.
        DbConn::Pg(c) => Bump(n).get_result(c)?,
        DbConn::Sqlite(c) => {
            diesel::update(change_seq::table.find(1)).set(change_seq::value.eq(change_seq::value + n)).execute(c)?;
            change_seq::table.find(1).select(change_seq::value).first(c)?
        }
    };
    Ok(last - n + 1)
}

/// `UPDATE change_seq ... RETURNING value` as a statement diesel keeps prepared: it never caches
/// an `UpdateStatement`, so each bump was prepared anew in a round trip of its own.
struct Bump(i64);

impl diesel::query_builder::QueryId for Bump {
    type QueryId = Bump;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for Bump {
    type SqlType = diesel::sql_types::BigInt;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Bump {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE change_seq SET value = value + ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.0)?;
        out.push_sql(" WHERE id = 1 RETURNING value");
        Ok(())
    }
}

impl RunQueryDsl<diesel::pg::PgConnection> for Bump {}

/// The highest number handed out so far (committed or in flight).
pub fn current(conn: &mut DbConn) -> QueryResult<i64> {
    change_seq::table.find(1).select(change_seq::value).first(conn)
}

/// Hands out numbers one by one within a transaction, taking them from the counter lazily.
pub struct SeqAlloc {
    next: i64,
    end: i64,
}

impl SeqAlloc {
    pub fn new() -> Self {
        Self { next: 0, end: 0 }
    }

    pub fn next(&mut self, conn: &mut DbConn) -> QueryResult<i64> {
        if self.next >= self.end {
            const CHUNK: i64 = 256;
            self.next = allocate(conn, CHUNK)?;
            self.end = self.next + CHUNK;
        }
        self.next += 1;
        Ok(self.next - 1)
    }
}

impl Default for SeqAlloc {
    fn default() -> Self {
        Self::new()
    }
}

/// The highest change number a pull may serve, and the highest alert id a reader of alerts may.
/// While a shared commit's fsync is still running (`sync::wal_sync`), its rows are visible to
/// readers but not yet durable: a pull or an alert list that handed them out, followed by a power
/// cut, would leave a cursor (or an SSE `Last-Event-ID`) above numbers that are handed out again.
/// So the writer holds both at the last number below its group until the fsync is done.
#[derive(Clone, Debug)]
pub struct Horizon(Arc<Limits>);

#[derive(Debug)]
struct Limits {
    seq: AtomicI64,
    alert_id: AtomicI64,
}

/// What a group's commit may add above: the last change number and alert id before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Before {
    pub seq: i64,
    pub alert_id: i64,
}

impl Horizon {
    pub fn new() -> Self {
        Self(Arc::new(Limits { seq: AtomicI64::new(i64::MAX), alert_id: AtomicI64::new(i64::MAX) }))
    }

    /// Read it after the reader's snapshot is taken: a group in the snapshot was then either
    /// durable already or held here before its commit.
    pub fn seq(&self) -> i64 {
        self.0.seq.load(Ordering::SeqCst)
    }

    /// Like [`Horizon::seq`], for alert ids.
    pub fn alert_id(&self) -> i64 {
        self.0.alert_id.load(Ordering::SeqCst)
    }

    /// Nothing above `before` may be served until [`Horizon::release`].
    pub fn hold(&self, before: Before) {
        self.0.seq.store(before.seq, Ordering::SeqCst);
        self.0.alert_id.store(before.alert_id, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.0.seq.store(i64::MAX, Ordering::SeqCst);
        self.0.alert_id.store(i64::MAX, Ordering::SeqCst);
    }
}

impl Default for Horizon {
    fn default() -> Self {
        Self::new()
    }
}
