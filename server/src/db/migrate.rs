//! Migrations are embedded in the binary (one directory per backend, same names) and run at start.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConn;

const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

diesel::table! {
    __diesel_schema_migrations (version) {
        version -> Text,
    }
}

/// Applies pending migrations; returns how many ran.
pub fn run_pending(conn: &mut DbConn) -> anyhow::Result<usize> {
    let applied = match conn {
        // diesel's harness first runs CREATE TABLE IF NOT EXISTS, which a least-privilege role
        // may not do (docs/operations.md); when nothing is pending it is not needed at all.
        DbConn::Pg(c) => {
            if all_applied(c, &POSTGRES) {
                Ok(0)
            } else {
                c.run_pending_migrations(POSTGRES).map(|v| v.len())
            }
        }
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE).map(|v| v.len()),
    };
    applied.map_err(|e| anyhow::anyhow!("database migration failed: {e}"))
}

/// True when every embedded migration is recorded as applied (false if that cannot be read).
fn all_applied(conn: &mut PgConnection, source: &EmbeddedMigrations) -> bool {
    let recorded: Result<Vec<String>, DieselError> =
        __diesel_schema_migrations::table.select(__diesel_schema_migrations::version).load(conn);
    let Ok(recorded) = recorded else { return false };
    let Ok(embedded) = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(source) else {
        return false;
    };
    embedded.iter().all(|m| recorded.contains(&m.name().version().to_string()))
}
