//! The r2d2 pool and the one helper through which every query leaves the async threads.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::{Backend, DbConn, DbLocation};
use crate::error::ApiError;

pub type DbPool = r2d2::Pool<Manager>;

/// Opens connections for one [`DbLocation`]; SQLite pragmas are set on every new connection.
#[derive(Debug)]
pub struct Manager {
    location: DbLocation,
}

/// WAL lets readers run beside the writer; synchronous=FULL makes a commit survive a power cut;
/// busy_timeout makes a writer wait for the lock instead of failing at once; temp_store=MEMORY
/// keeps savepoint sub-journals off the disk. Readers keep SQLite's default 2 MiB page cache (the
/// OS caches the file too): with eight connections a larger one would multiply the server's
/// memory; the push writer sets its own (`sync::writer`).
pub const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;";

/// PostgreSQL caches a generic plan for a prepared statement after five runs, planned on the
/// statistics of that moment: on a young database (before autovacuum's first ANALYZE), a
/// sequential scan of a table that was nearly empty then and holds thousands of rows now, for
/// every lookup by `id = ANY($1)`; that was half of PostgreSQL's time under the ingest load.
/// Custom plans see each table's current size, for a few microseconds of planning per statement.
pub const PG_SETTINGS: &str = "SET plan_cache_mode = force_custom_plan";

impl Manager {
    pub fn new(location: DbLocation) -> Self {
        Self { location }
    }

    pub fn backend(&self) -> Backend {
        self.location.backend()
    }

    fn open(&self) -> Result<DbConn, diesel::ConnectionError> {
        configure_sqlite();
        match &self.location {
            DbLocation::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                conn.batch_execute(PG_SETTINGS).map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Pg(conn))
            }
            DbLocation::Sqlite(path) => {
                let url = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&url)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// Process-wide SQLite settings, made once before the library initialises. Multi-thread mode drops
/// the per-connection mutex (a pooled connection is only ever used by one thread at a time) and
/// no memory statistics drops a global mutex taken on every allocation: together a few percent of
/// the push writer's time.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use libsqlite3_sys as ffi;
        // SAFETY: sqlite3_config is called before any connection is opened by this process (the
        // Once runs ahead of the first open); if SQLite was initialised already it answers
        // SQLITE_MISUSE and changes nothing, which is harmless.
        unsafe {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD);
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        }
    });
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.open().map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        match conn {
            DbConn::Pg(c) => diesel::r2d2::R2D2Connection::is_broken(c),
            DbConn::Sqlite(c) => diesel::r2d2::R2D2Connection::is_broken(c),
        }
    }
}

/// Opens one connection first so a bad URL fails with the database's own words, then builds the pool.
pub fn connect(location: &DbLocation, max_size: u32) -> anyhow::Result<DbPool> {
    if let Some(dir) = location.sqlite_dir() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create database folder {}: {e}", dir.display()))?;
    }
    let manager = Manager::new(location.clone());
    manager
        .open()
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {}", location.redacted(), one_line(&e.to_string())))?;
    r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {}", location.redacted(), one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs `f` with a pooled connection on the blocking thread pool. Never call diesel elsewhere.
pub async fn run<F, T>(pool: &DbPool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(ApiError::database_unavailable)?;
        f(&mut conn)
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("database task failed: {e}")))?
}

/// Runs `f` in one write transaction on either backend; any error rolls it back.
///
/// It first touches the change-sequence row: on SQLite that takes the write lock at once (as
/// BEGIN IMMEDIATE would), so a transaction never fails half-way upgrading a read snapshot; on
/// PostgreSQL it orders this transaction's changes after every earlier writer's (see `db::seq`).
/// On SQLite it counts as a waiting write (`write_turns`) until it ends, so the push writer lets
/// it in between groups.
pub fn transaction<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, ApiError>) -> Result<T, ApiError> {
    let _turn = super::write_turns::waiting_writer(conn);
    conn.transaction(|c| {
        c.batch_execute("UPDATE change_seq SET value = value WHERE id = 1")?;
        f(c)
    })
}

/// Runs `f` on one consistent snapshot: every query in it sees the same committed state
/// (PostgreSQL: REPEATABLE READ, read only; SQLite: one read transaction over the WAL).
pub fn read_snapshot<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, ApiError>) -> Result<T, ApiError> {
    conn.transaction(|c| {
        if let DbConn::Pg(_) = c {
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        }
        f(c)
    })
}
