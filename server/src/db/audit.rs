//! The audit log: who did what, when, from which device and address. Details never hold secrets.

use diesel::prelude::*;

use super::schema::audit_log;
use super::{scope, DbConn};

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAudit {
    pub at: i64,
    pub action: String,
    pub actor_user_id: Option<String>,
    pub actor_username: Option<String>,
    pub device_id: Option<String>,
    pub client_addr: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub area_path: String,
    pub detail: String,
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub action: String,
    pub actor_user_id: Option<String>,
    pub actor_username: Option<String>,
    pub device_id: Option<String>,
    pub client_addr: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub area_path: String,
    pub detail: String,
}

pub fn insert(conn: &mut DbConn, entry: &NewAudit) -> QueryResult<()> {
    diesel::insert_into(audit_log::table).values(entry).execute(conn).map(drop)
}

/// Newest first, entries with id below `before` (the cursor), within `scope`.
pub fn page(conn: &mut DbConn, scope_path: &str, before: Option<i64>, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let mut q = audit_log::table
        .filter(scope::within(audit_log::area_path, scope_path))
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(audit_log::id.lt(b));
    }
    q.load(conn)
}
