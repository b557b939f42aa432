//! Users. The password hash never leaves this module's rows: the wire type has no such field.

use diesel::prelude::*;
use fieldvisit_sync_protocol::org::{Role, User};

use super::schema::users;
use super::typed::Enum;
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub display_name: String,
    pub role: Enum<Role>,
    pub area_id: String,
    pub area_path: String,
    pub team_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// False once deactivated: no login, no session.
    pub active: bool,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            role: r.role.0,
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

/// What a lifecycle change writes; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub area_id: Option<String>,
    pub area_path: Option<String>,
    pub team_id: Option<Option<String>>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
    pub updated_at: i64,
}

pub fn update(conn: &mut DbConn, id: &str, change: &UserChange) -> QueryResult<()> {
    diesel::update(users::table.find(id)).set(change).execute(conn).map(drop)
}

/// Active users of `role` at or below the area at `scope_path`: a season's volunteers going home.
pub fn active_with_role_within(conn: &mut DbConn, scope_path: &str, role: Role) -> QueryResult<Vec<UserRow>> {
    users::table
        .filter(scope::within(users::area_path, scope_path))
        .filter(users::role.eq(role.as_str()))
        .filter(users::active.eq(true))
        .order(users::username)
        .select(UserRow::as_select())
        .load(conn)
}
