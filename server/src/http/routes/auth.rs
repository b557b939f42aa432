//! Login, refresh, logout and `me`.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use fieldvisit_sync_protocol::org::User;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::accounts::{self, AuditActor, TokenPair};
use crate::auth::ratelimit::Attempt;
use crate::auth::{cookie, forwarded, password, tokens, Principal};
use crate::db::audit::NewAudit;
use crate::db::devices::{DeviceRow, RefreshRow};
use crate::db::users::UserRow;
use crate::db::{self, audit, devices, users};
use crate::error::{ApiError, Kind};
use crate::http::extract::Json;
use crate::state::AppState;

/// Accounts are created with at most 64-character usernames (accounts::create_user).
const MAX_USERNAME_CHARS: usize = 64;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 64)]
    username: String,
    password: String,
    /// Generated once by the app (required; `null` or absent → 400).
    #[schema(value_type = super::params::UuidText, required = true)]
    device_id: Option<String>,
    #[schema(max_length = 100)]
    device_name: Option<String>,
    #[schema(max_length = 50)]
    app_version: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// What the dashboard's login and refresh answer: the tokens themselves are in cookies.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BrowserSession {
    user: User,
    /// Seconds until the access token (its cookie) expires; refresh before then.
    expires_in: i64,
}

fn short(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.chars().count() > max => Err(ApiError::invalid(field, format!("at most {max} characters"))),
        other => Ok(other),
    }
}

/// Log in on a device; the session is bound to `device_id` (a UUID). 403 `device_revoked` or
/// `user_disabled`; 409 `device_in_use` when the device id belongs to another user.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenPair), (status = 400, body = crate::error::ErrorBody),
    (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
    (status = 409, body = crate::error::ErrorBody), (status = 422, description = "`device_name` or `app_version` too long", body = crate::error::ErrorBody),
    (status = 429, body = crate::error::ErrorBody)))]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    authenticate(state, &req, body.0).await.map(web::Json)
}

/// The dashboard's login: the same body as login, but the tokens go into HttpOnly cookies (plus a
/// readable CSRF cookie) and the answer carries only the user and the access token's lifetime.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = BrowserSession), (status = 400, body = crate::error::ErrorBody),
    (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
    (status = 409, body = crate::error::ErrorBody), (status = 422, description = "`device_name` or `app_version` too long", body = crate::error::ErrorBody),
    (status = 429, body = crate::error::ErrorBody)))]
#[post("/api/v1/auth/browser-login")]
pub async fn browser_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = authenticate(state.clone(), &req, body.0).await?;
    Ok(with_cookies(&state, &req, &pair))
}

/// The dashboard's refresh: the refresh token comes from its cookie; the CSRF header is required.
#[utoipa::path(tag = "auth", responses((status = 200, body = BrowserSession), (status = 401, body = crate::error::ErrorBody),
    (status = 403, body = crate::error::ErrorBody)))]
#[post("/api/v1/auth/browser-refresh")]
pub async fn browser_refresh(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    cookie::check_csrf(&req)?;
    let token = cookie::refresh_token(&req)
        .ok_or_else(|| ApiError::unauthorized("missing_token", "no refresh cookie; log in again"))?;
    let pair = rotate(state.clone(), token).await?;
    Ok(with_cookies(&state, &req, &pair))
}

/// The dashboard's logout: ends the session (when the cookie still names one) and clears the cookies.
#[utoipa::path(tag = "auth", responses((status = 204)))]
#[post("/api/v1/auth/browser-logout")]
pub async fn browser_logout(state: web::Data<AppState>, req: HttpRequest, who: Option<Principal>) -> HttpResponse {
    if let Some(who) = who {
        if let Err(e) = end_session(&state, who).await {
            tracing::warn!(error = %e, "browser logout could not end the session");
        }
    }
    let mut res = HttpResponse::NoContent();
    cookie::clear(&mut res, &req);
    res.finish()
}

/// Logout: ends the caller's session, audited.
async fn end_session(state: &AppState, who: Principal) -> Result<(), ApiError> {
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        devices::end_session(conn, &who.session_id, now, "logout")?;
        accounts::audit_by(conn, &who, "logout", ("session", &who.session_id), &who.area_path, json!({}), now)
    })
    .await
}

fn with_cookies(state: &AppState, req: &HttpRequest, pair: &TokenPair) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    cookie::set(&mut res, req, pair, state.settings.refresh_token_ttl_days);
    res.json(BrowserSession { user: pair.user.clone(), expires_in: pair.expires_in })
}

/// Checks the credentials and opens a session bound to the body's device.
async fn authenticate(
    state: web::Data<AppState>,
    req: &HttpRequest,
    body: LoginRequest,
) -> Result<TokenPair, ApiError> {
    let device_id = body
        .device_id
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_field", "device_id is required").with_field("device_id"))?;
    let device_id = uuid::Uuid::parse_str(device_id.trim())
        .map_err(|_| {
            ApiError::bad_request("invalid_device_id", "device_id must be a UUID the app generates once")
                .with_field("device_id")
        })?
        .to_string();
    let device_name = short("device_name", body.device_name, 100)?;
    let app_version = short("app_version", body.app_version, 50)?;
    if body.username.chars().count() > MAX_USERNAME_CHARS {
        // No account has such a name; it is not worth a hash or a slot in the login limits.
        return Err(ApiError::unauthorized("invalid_credentials", "wrong username or password"));
    }
    let client = forwarded::client_ip(req);
    let addr = client.map(|ip| ip.to_string());
    let throttle_addr = client.map(forwarded::throttle_key);

    let _slot = password::check_slot().await;
    let st = state.clone();
    db::run(&state.pool, move |conn| {
        let now = st.clock.now();
        let user = users::find_by_username(conn, &body.username)?;
        let device = devices::find(conn, &device_id)?;
        let known_device = device
            .as_ref()
            .filter(|d| user.as_ref().is_some_and(|u| u.id == d.user_id) && d.revoked_at.is_none())
            .map(|d| d.id.as_str());
        let attempt = Attempt { username: &body.username, addr: throttle_addr.as_deref(), known_device };
        let audit_login = |conn: &mut db::DbConn, action: &str, detail: String| -> Result<(), ApiError> {
            let area_path = match &user {
                Some(u) => u.area_path.clone(),
                None => db::areas::root(conn)?.map_or_else(|| "/".into(), |r| r.path),
            };
            let row = NewAudit {
                at: now,
                action: action.into(),
                actor_user_id: user.as_ref().map(|u| u.id.clone()),
                actor_username: user.as_ref().map(|u| u.username.clone()),
                device_id: Some(device_id.clone()),
                client_addr: addr.clone(),
                area_path,
                detail,
                ..Default::default()
            };
            Ok(audit::insert(conn, &row)?)
        };
        if let Err(refused) = st.login_limits.check(&attempt) {
            // One row per (username, address) per window, however many attempts it refuses.
            if refused.first_in_window {
                let detail = serde_json::json!({"retry_after_s": refused.error.retry_after_s}).to_string();
                audit_login(conn, "login_refused", detail)?;
            }
            return Err(refused.error);
        }
        let hash = user.as_ref().map_or(password::decoy_hash(), |u| u.password_hash.as_str());
        let ok = password::verify(&body.password, hash);
        let user = match (&user, ok) {
            (Some(u), true) => u.clone(),
            _ => {
                st.login_limits.failed(&attempt);
                audit_login(conn, "login_failed", "{}".into())?;
                return Err(ApiError::unauthorized("invalid_credentials", "wrong username or password"));
            }
        };
        if !user.active {
            // Only the right password gets this far, so one row per attempt cannot be a flood.
            audit_login(conn, "login_disabled", "{}".into())?;
            return Err(ApiError::new(Kind::Forbidden, "user_disabled", "this account has been deactivated"));
        }
        match &device {
            Some(d) if d.user_id != user.id => return Err(device_in_use()),
            Some(d) if d.revoked_at.is_some() => {
                return Err(ApiError::new(Kind::Forbidden, "device_revoked", "this device has been revoked"))
            }
            _ => {}
        }
        db::transaction(conn, |conn| {
            let claim = devices::record_login(
                conn,
                &DeviceRow {
                    id: device_id.clone(),
                    user_id: user.id.clone(),
                    area_path: user.area_path.clone(),
                    name: device_name.clone(),
                    app_version: app_version.clone(),
                    first_seen_at: now,
                    last_seen_at: now,
                    revoked_at: None,
                },
            )?;
            if claim == devices::Claim::OtherUsers {
                return Err(device_in_use());
            }
            audit::insert(
                conn,
                &NewAudit {
                    at: now,
                    action: "login".into(),
                    actor_user_id: Some(user.id.clone()),
                    actor_username: Some(user.username.clone()),
                    device_id: Some(device_id.clone()),
                    client_addr: addr.clone(),
                    area_path: user.area_path.clone(),
                    detail: "{}".into(),
                    ..Default::default()
                },
            )?;
            accounts::open_session(conn, &st.keys, &st.settings, user.clone(), &device_id, now)
        })
    })
    .await
}

/// A device id already bound to another user is refused, never taken over: device ids show in
/// ticket timelines, and a takeover moved the victim's phone into the attacker's area.
fn device_in_use() -> ApiError {
    ApiError::conflict("device_in_use", "this device id belongs to another user; use this installation's own id")
        .with_field("device_id")
}

/// Swap a refresh token for a new pair. A spent token presented again ends the device's sessions.
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair), (status = 401, body = crate::error::ErrorBody)))]
#[post("/api/v1/auth/refresh")]
pub async fn refresh(state: web::Data<AppState>, body: Json<RefreshRequest>) -> Result<web::Json<TokenPair>, ApiError> {
    rotate(state, body.0.refresh_token).await.map(web::Json)
}

async fn rotate(state: web::Data<AppState>, refresh_token: String) -> Result<TokenPair, ApiError> {
    let hash = tokens::hash_token(&refresh_token);
    let st = state.clone();
    db::run(&state.pool, move |conn| {
        let now = st.clock.now();
        let invalid = || ApiError::unauthorized("invalid_token", "unknown refresh token; log in again");
        let token = devices::find_refresh(conn, &hash)?.ok_or_else(invalid)?;
        let session = devices::find_session(conn, &token.session_id)?.ok_or_else(invalid)?;
        let device = devices::find(conn, &session.device_id)?.ok_or_else(invalid)?;
        if device.revoked_at.is_some() {
            return Err(ApiError::unauthorized("device_revoked", "this device has been revoked"));
        }
        let user = users::find(conn, &session.user_id)?.ok_or_else(invalid)?;
        let fresh = token.used_at.is_none() && devices::spend_refresh(conn, &hash, now)?;
        if !fresh && !retry_after_lost_answer(conn, &token, now)? {
            // Theft detection: whoever holds the older copy and whoever holds the newer one both lose.
            devices::end_device_sessions(conn, &device.id, now, "refresh_token_reused")?;
            audit_refresh(conn, "refresh_token_reused", &user, &device, now)?;
            return Err(ApiError::unauthorized("refresh_token_reused", "refresh token already used; log in again"));
        }
        if session.revoked_at.is_some() || !user.active {
            return Err(ApiError::unauthorized("session_revoked", "this session has ended; log in again"));
        }
        if token.expires_at <= now {
            return Err(ApiError::unauthorized("token_expired", "the refresh token has expired; log in again"));
        }
        if !fresh {
            audit_refresh(conn, "refresh_retried", &user, &device, now)?;
        }
        devices::touch(conn, &device.id, now)?;
        accounts::issue(conn, &st.keys, &st.settings, user, (&session.id, &device.id), Some(&hash), now)
    })
    .await
}

/// How long after its use a refresh token may be presented again when its answer was lost.
const RETRY_WINDOW_MS: i64 = 60_000;

/// A phone whose answer was lost on a bad link presents the same refresh token again: within
/// 60 s of its use, while neither token of the pair it produced has been used, that pair is made
/// void (true) and a new one is issued. Anything else is a reuse (false).
fn retry_after_lost_answer(conn: &mut db::DbConn, token: &RefreshRow, now: i64) -> Result<bool, ApiError> {
    let Some(used_at) = token.used_at else { return Ok(false) };
    if token.voided_at.is_some() || now - used_at > RETRY_WINDOW_MS {
        return Ok(false);
    }
    match devices::live_child(conn, &token.token_hash)? {
        Some(child) => Ok(devices::void_if_unused(conn, &child.token_hash, now)?),
        None => Ok(false),
    }
}

fn audit_refresh(
    conn: &mut db::DbConn,
    action: &str,
    user: &UserRow,
    device: &DeviceRow,
    now: i64,
) -> Result<(), ApiError> {
    let actor = AuditActor {
        user_id: user.id.clone(),
        username: user.username.clone(),
        device_id: device.id.clone(),
        client_addr: None,
    };
    accounts::audit_as(conn, actor, action, ("device", &device.id), &device.area_path, json!({}), now)
}

/// End this session.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
#[post("/api/v1/auth/logout")]
pub async fn logout(state: web::Data<AppState>, who: Principal) -> Result<HttpResponse, ApiError> {
    end_session(&state, who).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = User), (status = 401, body = crate::error::ErrorBody)))]
#[get("/api/v1/me")]
pub async fn me(state: web::Data<AppState>, who: Principal) -> Result<web::Json<User>, ApiError> {
    let user = db::run(&state.pool, move |conn| Ok(users::find(conn, &who.user_id)?)).await?;
    user.map(|u| web::Json(u.into())).ok_or_else(|| ApiError::not_found("user"))
}
