//! Users. The password hash never leaves this module's rows: the wire type has no such field.

use diesel::prelude::*;
use fieldvisit_sync_protocol::org::{Role, User};

use super::schema::users;
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub display_name: String,
    pub role: String,
    pub area_id: String,
    pub area_path: String,
    pub team_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            role: Role::parse(&r.role).unwrap_or(Role::Volunteer),
            area_id: r.area_id,
            team_id: r.team_id,
        }
    }
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<UserRow>> {
    users::table.find(id).select(UserRow::as_select()).first(conn).optional()
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::username.eq(username)).select(UserRow::as_select()).first(conn).optional()
}

pub fn insert(conn: &mut DbConn, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table).values(row).execute(conn).map(drop)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn list_within(conn: &mut DbConn, scope_path: &str) -> QueryResult<Vec<UserRow>> {
    users::table
        .filter(scope::within(users::area_path, scope_path))
        .order(users::username)
        .select(UserRow::as_select())
        .load(conn)
}

/// Display names by user id, for timelines (who did what) shown to callers who may not list users.
pub fn display_names(conn: &mut DbConn, ids: &[String]) -> QueryResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, String)> =
        users::table.filter(users::id.eq_any(ids)).select((users::id, users::display_name)).load(conn)?;
    Ok(rows.into_iter().collect())
}
