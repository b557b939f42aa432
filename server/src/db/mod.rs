//! Database access: one connection type over SQLite or PostgreSQL, picked by URL scheme at run time.
//!
//! Queries that both backends accept run on [`DbConn`] directly (it is a diesel `MultiConnection`);
//! where a backend-specific feature is needed, [`with_conn!`](crate::with_conn) compiles the same
//! body once per backend.

pub mod alerts;
pub mod any_of;
pub mod areas;
pub mod audit;
pub mod batch;
pub mod blobs;
pub mod callbacks;
pub mod channels;
pub mod checklist_tallies;
pub mod checklists;
pub mod devices;
pub mod duplicates;
pub mod location;
pub mod migrate;
pub mod outbox;
pub mod policies;
pub mod pool;
pub mod records;
pub mod reports;
pub mod schema;
pub mod scope;
pub mod seq;
pub mod store_projection;
pub mod temperature;
pub mod tickets;
pub mod typed;
pub mod unnest;
pub mod users;
pub mod write_turns;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

pub use location::{Backend, DbLocation};
pub use pool::{read_snapshot, run, transaction, DbPool};

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Runs `$body` with `$c` bound to the concrete connection, compiled once per backend.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Inserts a slice of rows. PostgreSQL gets multi-row statements of `$chunk` rows (one round trip
/// each). SQLite gets one single-row statement per row: its text never changes, so diesel prepares
/// it once per connection, and SQLite runs it without the statement journal a multi-row insert
/// needs (a copy of every page it touches); in-process, the extra calls cost less than both.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, $chunk:expr) => {
        match $conn {
            $crate::db::DbConn::Pg(c) => {
                for chunk in $rows.chunks($chunk) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
            $crate::db::DbConn::Sqlite(c) => {
                for row in $rows.iter() {
                    diesel::insert_into($table).values(row).execute(c)?;
                }
            }
        }
    };
}
