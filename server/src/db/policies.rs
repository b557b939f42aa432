//! Deadline policies, versioned. A ticket follows the version in force at its report time.

use diesel::prelude::*;
use fieldvisit_sync_protocol::deadline::Policy;

use super::schema::policies;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = policies)]
pub struct PolicyRow {
    pub version: i32,
    pub body: String,
    pub created_at: i64,
    pub created_by: Option<String>,
}

/// Every version, oldest first, parsed.
#[derive(Debug, Clone)]
pub struct PolicyBook {
    versions: Vec<(i64, Policy)>,
}

impl PolicyBook {
    pub fn latest(&self) -> Policy {
        self.versions.last().map(|(_, p)| p.clone()).unwrap_or_default()
    }

    /// The version in force at `at`: the newest created at or before it (the first one for older times).
    pub fn in_force_at(&self, at: i64) -> &Policy {
        static DEFAULT: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        self.versions
            .iter()
            .rev()
            .find(|(created, _)| *created <= at)
            .or(self.versions.first())
            .map_or_else(|| DEFAULT.get_or_init(Policy::default), |(_, p)| p)
    }

    pub fn version(&self, version: i32) -> &Policy {
        self.versions
            .iter()
            .map(|(_, p)| p)
            .find(|p| p.version == version)
            .unwrap_or_else(|| self.in_force_at(i64::MAX))
    }
}

pub fn load(conn: &mut DbConn) -> QueryResult<PolicyBook> {
    let rows: Vec<PolicyRow> = policies::table.order(policies::version).select(PolicyRow::as_select()).load(conn)?;
    let versions = rows
        .into_iter()
        .filter_map(|r| {
            let mut p: Policy = serde_json::from_str(&r.body).ok()?;
            p.version = r.version;
            Some((r.created_at, p))
        })
        .collect();
    Ok(PolicyBook { versions })
}

/// Stores version 1 (the 1-1-2-4 default) if there is none. Dated at the epoch so that tickets
/// reported before the server first started still fall under it.
pub fn ensure_default(conn: &mut DbConn, _now: i64) -> QueryResult<()> {
    let exists = policies::table.count().get_result::<i64>(conn)? > 0;
    if !exists {
        let body = serde_json::to_string(&Policy::default()).unwrap_or_default();
        diesel::insert_into(policies::table)
            .values(&PolicyRow { version: 1, body, created_at: 0, created_by: None })
            .execute(conn)?;
    }
    Ok(())
}

pub fn insert(conn: &mut DbConn, row: &PolicyRow) -> QueryResult<()> {
    diesel::insert_into(policies::table).values(row).execute(conn).map(drop)
}
