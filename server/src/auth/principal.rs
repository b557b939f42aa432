//! The authenticated caller, extracted once per request from the bearer token (phones) or the
//! session cookie (the dashboard, CSRF-checked, see `cookie`) and checked against the database
//! (session ended? device revoked?) so a revocation takes effect at once.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use fieldvisit_sync_protocol::org::Role;
use futures_util::future::LocalBoxFuture;

use super::cookie;
use crate::db::{self, scope};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub area_id: String,
    /// Materialized path of the user's area: the scope of everything they see.
    pub area_path: String,
    pub team_id: Option<String>,
    pub device_id: String,
    pub session_id: String,
    pub client_addr: Option<String>,
    /// When the access token expires (Unix seconds): a long-lived alert stream ends then.
    pub expires_at: i64,
}

impl Principal {
    /// Whether `path` is at or below the caller's area.
    pub fn sees(&self, path: &str) -> bool {
        scope::is_within(path, &self.area_path)
    }

    /// 403 unless `path` is within scope. Use for writes; reads of a single record answer 404 instead.
    pub fn require_scope(&self, path: &str) -> Result<(), ApiError> {
        if self.sees(path) {
            Ok(())
        } else {
            Err(ApiError::out_of_scope("area"))
        }
    }
}

/// The session behind an access token, if it still stands: not ended, its device not revoked, its
/// user active, and the token's pair not made void by a refresh retry. The first call with a pair
/// is recorded: a used pair can no longer be replaced by a retry.
pub fn live_session(
    conn: &mut db::DbConn,
    session_id: &str,
    pair: Option<&str>,
    now: i64,
) -> Result<db::devices::SessionCheck, ApiError> {
    let ended = || ApiError::unauthorized("session_revoked", "this session has ended; log in again");
    let check = db::devices::check_session(conn, session_id)?.ok_or_else(ended)?;
    if check.device_revoked_at.is_some() {
        return Err(ApiError::unauthorized("device_revoked", "this device has been revoked"));
    }
    if check.session_revoked_at.is_some() || !check.user.active {
        return Err(ended());
    }
    if let Some(pair) = pair {
        match db::devices::pair_state(conn, pair)? {
            Some((None, None)) => {
                let _turn = db::write_turns::waiting_writer(conn);
                db::devices::mark_access_used(conn, pair, now)?
            }
            Some((None, Some(_))) => {}
            Some((Some(_), _)) | None => return Err(ended()),
        }
    }
    Ok(check)
}

pub fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing_token", "send Authorization: Bearer <access_token>"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "the Authorization header is not a bearer token"))
}

/// The bearer header wins; without one, the session cookie, whose unsafe calls must pass the CSRF check.
fn access_token(req: &HttpRequest) -> Result<String, ApiError> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return bearer(req).map(str::to_owned);
    }
    match cookie::session_token(req) {
        Some(token) => cookie::check_csrf(req).map(|()| token),
        None => bearer(req).map(str::to_owned),
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = access_token(req);
        let client_addr = super::forwarded::client_addr(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
            let claims = state.keys.verify(&token?)?;
            let (sid, pair) = (claims.sid.clone(), claims.pair.clone());
            let now = state.clock.now();
            let check = db::run(&state.pool, move |conn| live_session(conn, &sid, pair.as_deref(), now)).await?;
            let user = check.user;
            let role = user.role.0;
            Ok(Principal {
                user_id: user.id,
                username: user.username,
                role,
                area_id: user.area_id,
                area_path: user.area_path,
                team_id: user.team_id,
                device_id: check.device_id,
                session_id: claims.sid,
                client_addr,
                expires_at: claims.exp,
            })
        })
    }
}
