//! Devices (phones and browsers), the sessions opened on them and their refresh tokens.

use diesel::prelude::*;

use super::schema::{devices, refresh_tokens, sessions, users};
use super::{scope, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: String,
    pub area_path: String,
    pub name: Option<String>,
    pub app_version: Option<String>,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub device_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshRow {
    pub token_hash: String,
    pub session_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<DeviceRow>> {
    devices::table.find(id).select(DeviceRow::as_select()).first(conn).optional()
}

/// Records a login from `device`: first sight inserts it, later ones rebind it to the user
/// (shift phones are shared) and refresh what it reports about itself.
pub fn upsert_on_login(conn: &mut DbConn, device: &DeviceRow) -> QueryResult<()> {
    let updated = diesel::update(devices::table.find(&device.id))
        .set((
            devices::user_id.eq(&device.user_id),
            devices::area_path.eq(&device.area_path),
            devices::name.eq(&device.name),
            devices::app_version.eq(&device.app_version),
            devices::last_seen_at.eq(device.last_seen_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(devices::table).values(device).execute(conn)?;
    }
    Ok(())
}

pub fn touch(conn: &mut DbConn, id: &str, now: i64) -> QueryResult<()> {
    diesel::update(devices::table.find(id)).set(devices::last_seen_at.eq(now)).execute(conn).map(drop)
}

pub fn list_within(conn: &mut DbConn, scope_path: &str) -> QueryResult<Vec<DeviceRow>> {
    devices::table
        .filter(scope::within(devices::area_path, scope_path))
        .order(devices::last_seen_at.desc())
        .select(DeviceRow::as_select())
        .load(conn)
}

/// Marks the device revoked and ends every session on it.
pub fn revoke(conn: &mut DbConn, id: &str, now: i64) -> QueryResult<()> {
    diesel::update(devices::table.find(id).filter(devices::revoked_at.is_null()))
        .set(devices::revoked_at.eq(now))
        .execute(conn)?;
    end_device_sessions(conn, id, now, "device_revoked")
}

pub fn end_device_sessions(conn: &mut DbConn, device_id: &str, now: i64, reason: &str) -> QueryResult<()> {
    diesel::update(sessions::table.filter(sessions::device_id.eq(device_id)).filter(sessions::revoked_at.is_null()))
        .set((sessions::revoked_at.eq(now), sessions::revoke_reason.eq(reason)))
        .execute(conn)
        .map(drop)
}

pub fn end_session(conn: &mut DbConn, session_id: &str, now: i64, reason: &str) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
        .set((sessions::revoked_at.eq(now), sessions::revoke_reason.eq(reason)))
        .execute(conn)
        .map(drop)
}

pub fn insert_session(conn: &mut DbConn, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(sessions::table).values(row).execute(conn).map(drop)
}

pub fn insert_refresh(conn: &mut DbConn, row: &RefreshRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table).values(row).execute(conn).map(drop)
}

pub fn find_refresh(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<RefreshRow>> {
    refresh_tokens::table.find(token_hash).select(RefreshRow::as_select()).first(conn).optional()
}

/// Spends a refresh token; false if it was already spent (a concurrent or replayed use).
pub fn spend_refresh(conn: &mut DbConn, token_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(refresh_tokens::table.find(token_hash).filter(refresh_tokens::used_at.is_null()))
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Everything a request's token is checked against, read in one query.
#[derive(Debug, Clone, Queryable)]
pub struct SessionCheck {
    pub session_revoked_at: Option<i64>,
    pub device_id: String,
    pub device_revoked_at: Option<i64>,
    pub user: super::users::UserRow,
}

pub fn check_session(conn: &mut DbConn, session_id: &str) -> QueryResult<Option<SessionCheck>> {
    sessions::table
        .inner_join(devices::table)
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .select((sessions::revoked_at, devices::id, devices::revoked_at, super::users::UserRow::as_select()))
        .first(conn)
        .optional()
}

pub fn find_session(conn: &mut DbConn, id: &str) -> QueryResult<Option<SessionRow>> {
    sessions::table.find(id).select(SessionRow::as_select()).first(conn).optional()
}
