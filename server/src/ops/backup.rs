//! `fieldvisit backup --to FILE`: an online copy of a SQLite database. `VACUUM INTO` reads one
//! snapshot (the server keeps writing meanwhile; WAL readers do not block it) and writes a compact,
//! self-contained file that is then opened and checked. PostgreSQL is backed up with `pg_dump`
//! (docs/operations.md).

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;

use crate::db::{DbConn, DbLocation};

#[derive(QueryableByName)]
struct CheckLine {
    #[diesel(sql_type = Text)]
    quick_check: String,
}

/// Copies the database at `location` into `to`, which must not exist yet; returns its size in bytes.
pub fn sqlite_backup(location: &DbLocation, to: &Path) -> anyhow::Result<u64> {
    let DbLocation::Sqlite(_) = location else {
        anyhow::bail!("backup copies SQLite databases; for PostgreSQL use pg_dump (see docs/operations.md)");
    };
    if to.exists() {
        anyhow::bail!("{} already exists; choose a new file", to.display());
    }
    let target = to.to_str().ok_or_else(|| anyhow::anyhow!("{} is not valid UTF-8", to.display()))?;
    let pool = crate::db::pool::connect(location, 1)?;
    let mut conn = pool.get()?;
    let DbConn::Sqlite(c) = &mut *conn else { anyhow::bail!("not a SQLite connection") };
    // A string literal, not a bind: VACUUM INTO takes an expression, quotes doubled.
    c.batch_execute(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))?;
    verify(target)?;
    Ok(std::fs::metadata(to)?.len())
}

/// Opens the copy on its own and runs SQLite's quick check on it.
fn verify(path: &str) -> anyhow::Result<()> {
    let mut copy = SqliteConnection::establish(path)?;
    let lines: Vec<CheckLine> = diesel::sql_query("PRAGMA quick_check").load(&mut copy)?;
    match lines.first().map(|l| l.quick_check.as_str()) {
        Some("ok") => Ok(()),
        other => anyhow::bail!("the copy at {path} fails SQLite's quick check: {other:?}"),
    }
}
