//! Browser sessions: the dashboard keeps its tokens in HttpOnly cookies instead of script-readable
//! storage. Cookie auth is open to cross-site request forgery, so unsafe methods must echo the
//! readable CSRF cookie in `X-CSRF-Token` (double submit); bearer calls (phones) are unaffected.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponseBuilder};
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::auth::accounts::TokenPair;
use crate::error::{ApiError, Kind};

pub const SESSION: &str = "fv_session";
pub const REFRESH: &str = "fv_refresh";
pub const CSRF: &str = "fv_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The refresh cookie is sent to this path only, so it never travels with ordinary calls.
pub const REFRESH_PATH: &str = "/api/v1/auth/browser-refresh";

/// The access token from the session cookie, if the request has one.
pub fn session_token(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION).map(|c| c.value().to_owned()).filter(|v| !v.is_empty())
}

pub fn refresh_token(req: &HttpRequest) -> Option<String> {
    req.cookie(REFRESH).map(|c| c.value().to_owned()).filter(|v| !v.is_empty())
}

/// Safe methods pass; unsafe ones need `X-CSRF-Token` equal to the CSRF cookie (constant time).
pub fn check_csrf(req: &HttpRequest) -> Result<(), ApiError> {
    if req.method().is_safe() {
        return Ok(());
    }
    let cookie = req.cookie(CSRF);
    let header = req.headers().get(CSRF_HEADER).map(|h| h.as_bytes());
    match (cookie, header) {
        (Some(c), Some(h)) if !c.value().is_empty() && bool::from(c.value().as_bytes().ct_eq(h)) => Ok(()),
        _ => Err(ApiError::new(Kind::Forbidden, "csrf_failed", "send the fv_csrf cookie's value in X-CSRF-Token")),
    }
}

/// Cookies are marked Secure when the request came over https: directly, or as told by a trusted
/// proxy (a client-sent `X-Forwarded-Proto` is not believed).
fn secure(req: &HttpRequest) -> bool {
    super::forwarded::is_https(req)
}

fn cookie<'a>(
    name: &'a str,
    value: String,
    path: &'a str,
    http_only: bool,
    max_age: Duration,
    secure: bool,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path(path)
        .http_only(http_only)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

/// Sets the session, refresh and CSRF cookies for a freshly issued token pair.
pub fn set(res: &mut HttpResponseBuilder, req: &HttpRequest, pair: &TokenPair, refresh_ttl_days: i64) {
    let secure = secure(req);
    let mut csrf = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut csrf);
    let refresh_age = Duration::days(refresh_ttl_days);
    res.cookie(cookie(SESSION, pair.access_token.clone(), "/", true, Duration::seconds(pair.expires_in), secure))
        .cookie(cookie(REFRESH, pair.refresh_token.clone(), REFRESH_PATH, true, refresh_age, secure))
        .cookie(cookie(CSRF, hex::encode(csrf), "/", false, refresh_age, secure));
}

/// Expires all three cookies.
pub fn clear(res: &mut HttpResponseBuilder, req: &HttpRequest) {
    let secure = secure(req);
    for (name, path, http_only) in [(SESSION, "/", true), (REFRESH, REFRESH_PATH, true), (CSRF, "/", false)] {
        res.cookie(cookie(name, String::new(), path, http_only, Duration::ZERO, secure));
    }
}
