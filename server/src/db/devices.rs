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
    /// The refresh token whose use produced this pair (None for a login's first pair).
    pub parent_hash: Option<String>,
    /// Set when a retry of the parent replaced this pair before either token was used.
    pub voided_at: Option<i64>,
    /// The first call made with this pair's access token.
    pub access_used_at: Option<i64>,
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<DeviceRow>> {
    devices::table.find(id).select(DeviceRow::as_select()).first(conn).optional()
}

/// What a login found of the device id it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// New, or already this user's: recorded.
    Recorded,
    /// Bound to another user: left untouched (a device id is no credential; they show in timelines).
    OtherUsers,
}

/// Records a login from `device`: first sight inserts it, later ones from its own user refresh
/// what it reports about itself. A device of another user is never changed.
pub fn record_login(conn: &mut DbConn, device: &DeviceRow) -> QueryResult<Claim> {
    if let Some(existing) = find(conn, &device.id)? {
        if existing.user_id != device.user_id {
            return Ok(Claim::OtherUsers);
        }
        diesel::update(devices::table.find(&device.id).filter(devices::user_id.eq(&device.user_id)))
            .set((
                devices::area_path.eq(&device.area_path),
                devices::name.eq(&device.name),
                devices::app_version.eq(&device.app_version),
                devices::last_seen_at.eq(device.last_seen_at),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(devices::table).values(device).execute(conn)?;
    }
    Ok(Claim::Recorded)
}

/// Moves a user's devices with the user (a supervisor lists devices by area).
pub fn move_users_devices(conn: &mut DbConn, user_id: &str, area_path: &str) -> QueryResult<()> {
    diesel::update(devices::table.filter(devices::user_id.eq(user_id)))
        .set(devices::area_path.eq(area_path))
        .execute(conn)
        .map(drop)
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

/// Ends every session of a user (deactivated, or a new password), on every device.
pub fn end_user_sessions(conn: &mut DbConn, user_id: &str, now: i64, reason: &str) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::revoked_at.is_null()))
        .set((sessions::revoked_at.eq(now), sessions::revoke_reason.eq(reason)))
        .execute(conn)
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

/// Spends a refresh token; false if it was already spent or void (a concurrent or replayed use).
pub fn spend_refresh(conn: &mut DbConn, token_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .find(token_hash)
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::voided_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// The live (not void) pair that spending `parent_hash` produced.
pub fn live_child(conn: &mut DbConn, parent_hash: &str) -> QueryResult<Option<RefreshRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::parent_hash.eq(parent_hash))
        .filter(refresh_tokens::voided_at.is_null())
        .select(RefreshRow::as_select())
        .first(conn)
        .optional()
}

/// Voids a pair if neither of its tokens has been used yet; false if one has (or it is void).
pub fn void_if_unused(conn: &mut DbConn, token_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .find(token_hash)
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::access_used_at.is_null())
            .filter(refresh_tokens::voided_at.is_null()),
    )
    .set(refresh_tokens::voided_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// When an access token's pair was made void and when its access token was first used.
pub fn pair_state(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<(Option<i64>, Option<i64>)>> {
    refresh_tokens::table
        .find(token_hash)
        .select((refresh_tokens::voided_at, refresh_tokens::access_used_at))
        .first(conn)
        .optional()
}

pub fn mark_access_used(conn: &mut DbConn, token_hash: &str, now: i64) -> QueryResult<()> {
    diesel::update(refresh_tokens::table.find(token_hash).filter(refresh_tokens::access_used_at.is_null()))
        .set(refresh_tokens::access_used_at.eq(now))
        .execute(conn)
        .map(drop)
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
