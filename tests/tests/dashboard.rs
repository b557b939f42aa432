//! The dashboard's server side on both backends: the page and its assets served from the binary,
//! security headers, browser login with HttpOnly cookies, the CSRF double submit, cookie refresh
//! and logout. (The page itself is tested in headless Chromium by `tests/browser`.)

use crate::harness;

use std::collections::HashMap;

use harness::*;
use reqwest::header::{HeaderMap, CACHE_CONTROL, CONTENT_TYPE, COOKIE, ETAG, IF_NONE_MATCH, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};

/// Set-Cookie lines by cookie name.
fn set_cookies(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|line| Some((line.split('=').next()?.to_owned(), line.to_owned())))
        .collect()
}

fn value_of(line: &str) -> String {
    line.split(';').next().and_then(|kv| kv.split_once('=')).map(|(_, v)| v.to_owned()).unwrap_or_default()
}

struct Browser {
    session: String,
    refresh: String,
    csrf: String,
}

impl Browser {
    fn cookie(&self) -> String {
        format!("fv_session={}; fv_csrf={}", self.session, self.csrf)
    }
}

async fn browser_login(app: &TestApp, username: &str) -> (Browser, HashMap<String, String>, Value) {
    let body = json!({"username": username, "password": PASSWORD, "device_id": harness::device(&format!("browser-{username}"))});
    let res = app.client.post(app.url("/api/v1/auth/browser-login")).json(&body).send().await.expect("sent");
    let cookies = set_cookies(res.headers());
    let (status, body) = json_of(res).await;
    assert_eq!(status, 200, "{body}");
    let get = |name: &str| value_of(cookies.get(name).map_or("", String::as_str));
    let browser = Browser { session: get("fv_session"), refresh: get("fv_refresh"), csrf: get("fv_csrf") };
    (browser, cookies, body)
}

/// A request with the browser's cookies and, when given, an `X-CSRF-Token`.
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    b: &Browser,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path)).header(COOKIE, b.cookie());
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    json_of(req.send().await.expect("sent")).await
}

async fn login_sets_http_only_cookies_and_keeps_tokens_out_of_the_body(app: TestApp) {
    app.org().await;
    let (b, cookies, body) = browser_login(&app, "dispatcher_a").await;
    assert_eq!(body["user"]["username"], "dispatcher_a");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "{body}");
    let session = &cookies["fv_session"];
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"),
        "{session}"
    );
    let refresh = &cookies["fv_refresh"];
    assert!(refresh.contains("HttpOnly") && refresh.contains("Path=/api/v1/auth/browser-refresh"), "{refresh}");
    let csrf = &cookies["fv_csrf"];
    assert!(!csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"), "{csrf}");
    assert!(!session.contains("Secure"), "plain http must not set Secure: {session}");
    assert_eq!(b.csrf.len(), 64);

    let (status, me) = with_cookie(&app, Method::GET, "/api/v1/me", &b, None, None).await;
    assert_eq!((status, &me["username"]), (200, &json!("dispatcher_a")), "{me}");
}

async fn cookie_writes_need_the_csrf_token(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let (home, ticket_id) = (new_id(), new_id());
    let records = json!({"households": [household(&home, &org.grid_a, "西城区2号")], "tickets": [ticket(&ticket_id, &home, -90)]});
    let (status, res) = app.push(&volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    let (b, _, _) = browser_login(&app, "dispatcher_a").await;
    let path = format!("/api/v1/tickets/{ticket_id}/events");
    let classify = || json!({"id": new_id(), "ticket_id": ticket_id, "type": "classified", "occurred_at": at_minutes(0), "category": "pipes"});

    for csrf in [None, Some("0".repeat(64).as_str()), Some("")] {
        let (status, body) = with_cookie(&app, Method::POST, &path, &b, csrf, Some(&classify())).await;
        assert_eq!((status, &body["error"]["code"]), (403, &json!("csrf_failed")), "csrf {csrf:?}: {body}");
    }
    let (status, body) = with_cookie(&app, Method::POST, &path, &b, Some(&b.csrf), Some(&classify())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["category"], "pipes");

    // A bearer token (phones) needs no CSRF header, even with a stale cookie alongside.
    let bearer = app.token("dispatcher_a", PASSWORD, "desk-d").await;
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&bearer)
        .header(COOKIE, "fv_session=stale; fv_csrf=x")
        .json(&classify())
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 201);
}

async fn refresh_rotates_cookies_and_logout_ends_the_session(app: TestApp) {
    app.org().await;
    let (b, _, _) = browser_login(&app, "supervisor_a").await;
    let refresh = |csrf: Option<String>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/auth/browser-refresh"))
            .header(COOKIE, format!("fv_refresh={}; fv_csrf={}", b.refresh, b.csrf));
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.send()
    };
    let res = refresh(None).await.expect("sent");
    assert_eq!(res.status().as_u16(), 403, "refresh without the CSRF header");
    let res = refresh(Some(b.csrf.clone())).await.expect("sent");
    let cookies = set_cookies(res.headers());
    assert_eq!(res.status().as_u16(), 200);
    let fresh = Browser {
        session: value_of(&cookies["fv_session"]),
        refresh: value_of(&cookies["fv_refresh"]),
        csrf: value_of(&cookies["fv_csrf"]),
    };
    assert_ne!(fresh.refresh, b.refresh, "the refresh token rotates");
    let (status, _) = with_cookie(&app, Method::GET, "/api/v1/me", &fresh, None, None).await;
    assert_eq!(status, 200);

    let res = app
        .client
        .post(app.url("/api/v1/auth/browser-logout"))
        .header(COOKIE, fresh.cookie())
        .header("x-csrf-token", &fresh.csrf)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 204);
    let cleared = set_cookies(res.headers());
    for name in ["fv_session", "fv_refresh", "fv_csrf"] {
        assert!(cleared[name].contains("Max-Age=0"), "{name} not cleared: {:?}", cleared.get(name));
    }
    let (status, body) = with_cookie(&app, Method::GET, "/api/v1/me", &fresh, None, None).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("session_revoked")), "{body}");
}

async fn the_page_and_its_assets_are_served_with_security_headers(app: TestApp) {
    let page = app.get("/").await;
    assert_eq!(page.status().as_u16(), 200);
    let h = page.headers().clone();
    let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(header("content-type").starts_with("text/html"), "{h:?}");
    let csp = header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let html = page.text().await.expect("html");
    assert!(html.contains("/ui/js/app.js") && !html.contains("<script>"), "no inline script: {html}");

    for (path, kind) in [
        ("/ui/js/app.js", "javascript"),
        ("/ui/style.css", "text/css"),
        ("/ui/vendor/chart.umd.min.js", "javascript"),
        ("/ui/icon.svg", "image/svg+xml"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let content_type = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(content_type.contains(kind), "{path}: {content_type}");
        assert_eq!(res.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-cache"), "{path}");
        let etag = res.headers().get(ETAG).cloned().expect("etag");
        let again = app.client.get(app.url(path)).header(IF_NONE_MATCH, etag).send().await.expect("sent");
        assert_eq!(again.status().as_u16(), 304, "{path} revalidates");
    }
    for missing in ["/ui/nope.js", "/ui/package.json", "/ui/node_modules/chart.js/package.json"] {
        let (status, body) = app.get_json(missing).await;
        assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")), "{missing}: {body}");
    }
    let api = app.get("/healthz").await;
    assert_eq!(api.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
    assert!(api.headers().contains_key("content-security-policy"));
    let (status, body) = app.send(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("missing_token")), "{body}");
}

/// The field app (`/app/`): its shell, modules and service worker from the binary, revalidated on
/// every load (the service worker keeps the offline copy), and the contract's JSON 404 beside them.
async fn the_field_app_is_served_with_its_service_worker(app: TestApp) {
    let header = |res: &reqwest::Response, name: &str| {
        res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    };
    let bare = app.get("/app").await;
    assert_eq!((bare.status().as_u16(), header(&bare, "location")), (308, "/app/".to_owned()), "/app leads to /app/");
    let page = app.get("/app/").await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert!(header(&page, "content-security-policy").contains("script-src 'self'"));
    let html = page.text().await.expect("html");
    assert!(html.contains("js/main.js") && !html.contains("<script>") && !html.contains("http"), "{html}");

    for (path, kind) in [
        ("/app/sw.js", "javascript"),
        ("/app/js/sync.js", "javascript"),
        ("/app/style.css", "text/css"),
        ("/app/manifest.webmanifest", "application/manifest+json"),
        ("/app/icon.svg", "image/svg+xml"),
        ("/ui/js/dom.js", "javascript"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert!(header(&res, "content-type").contains(kind), "{path}: {}", header(&res, "content-type"));
        assert_eq!(header(&res, "cache-control"), "no-cache", "{path}");
        let etag = res.headers().get(ETAG).cloned().expect("etag");
        let again = app.client.get(app.url(path)).header(IF_NONE_MATCH, etag).send().await.expect("sent");
        assert_eq!(again.status().as_u16(), 304, "{path} revalidates");
    }
    for missing in ["/app/nope.js", "/app/js/", "/app/../Cargo.toml", "/api/v1/nope"] {
        let (status, body) = app.get_json(missing).await;
        assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")), "{missing}: {body}");
    }
}

backend_tests!(
    the_field_app_is_served_with_its_service_worker,
    login_sets_http_only_cookies_and_keeps_tokens_out_of_the_body,
    cookie_writes_need_the_csrf_token,
    refresh_rotates_cookies_and_logout_ends_the_session,
    the_page_and_its_assets_are_served_with_security_headers,
);
