//! HTTP plumbing under attack: login throttling that cannot be turned against the user (behind a
//! trusted proxy and without one), refused logins audited once per window, body encodings, and
//! the session cookie's `Secure` flag. (The gzip flood is measured in server/tests/gzip_flood.rs.)

mod harness;

use harness::{json_of, new_id, Db, TestApp, PASSWORD};
use serde_json::{json, Value};

/// The proxy in front of the test server is the test itself, on loopback.
async fn behind_proxy(db: Db) -> TestApp {
    TestApp::spawn_with(db, |s| s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")]).await
}

/// A login as sent through the proxy for client `xff` (no header: straight from the peer).
async fn login_from(app: &TestApp, xff: Option<&str>, username: &str, password: &str, device: &str) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password, "device_id": device}));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    json_of(req.send().await.expect("sent")).await
}

/// Sends `n` failed logins, each as built by `who(i)` = (client address, username).
async fn fail_many(app: &TestApp, n: usize, who: impl Fn(usize) -> (String, String)) {
    for i in 0..n {
        let (xff, username) = who(i);
        let (status, body) = login_from(app, Some(&xff), &username, "wrong-password", &new_id()).await;
        assert!(status == 401 || status == 429, "a failed login answered {status}: {body}");
    }
}

async fn audit_actions(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let (_, audit) = app.get_as(admin, "/api/v1/audit?limit=500").await;
    audit["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == action).cloned().collect()
}

/// 100 failed logins with random usernames, half from the supervisor's own address and half from
/// others, all through the proxy: the supervisor with the right password still gets in, from
/// their address and from the proxy's.
async fn many_usernames_behind_the_proxy_do_not_lock_out_the_right_password(db: Db) {
    let app = behind_proxy(db).await;
    app.org().await;
    let office = "203.0.113.7";
    fail_many(&app, 100, |i| {
        let addr = if i % 2 == 0 { office.to_owned() } else { format!("198.51.100.{i}") };
        (addr, format!("guess-{}", new_id()))
    })
    .await;
    let (status, body) = login_from(&app, Some(office), "supervisor_a", PASSWORD, &new_id()).await;
    assert_eq!(status, 200, "the right password from the attacked address: {body}");
    let (status, body) = login_from(&app, None, "supervisor_a", PASSWORD, &new_id()).await;
    assert_eq!(status, 200, "the right password from the proxy itself: {body}");
}

/// Someone else's failures naming volunteer_a lock neither another address nor the volunteer's
/// known phone on the same address; the attacker's own (username, address) is locked.
async fn someone_elses_failures_do_not_lock_out_a_user(db: Db) {
    let app = behind_proxy(db).await;
    app.org().await;
    let (home, phone) = ("203.0.113.20", new_id());
    assert_eq!(login_from(&app, Some(home), "volunteer_a", PASSWORD, &phone).await.0, 200, "the phone is known");

    fail_many(&app, 12, |_| ("198.51.100.66".into(), "volunteer_a".into())).await;
    let (status, _) = login_from(&app, Some("198.51.100.66"), "volunteer_a", PASSWORD, &new_id()).await;
    assert_eq!(status, 429, "the attacker's address is locked for that username");
    let (status, body) = login_from(&app, Some(home), "volunteer_a", PASSWORD, &new_id()).await;
    assert_eq!(status, 200, "other addresses are not: {body}");

    // The attacker shares the volunteer's address (one NAT): the known phone still gets in.
    fail_many(&app, 12, |_| (home.into(), "volunteer_a".into())).await;
    let (status, body) = login_from(&app, Some(home), "volunteer_a", PASSWORD, &phone).await;
    assert_eq!(status, 200, "the known phone: {body}");
}

/// Without a trusted proxy a client-sent X-Forwarded-For is ignored: guessing one username from
/// one address gets 429 however the header varies, and the refusals are audited once.
async fn a_brute_force_from_one_address_gets_429_and_is_audited_once(db: Db) {
    let app = TestApp::spawn(db).await;
    app.org().await;
    fail_many(&app, 10, |i| (format!("192.0.2.{i}"), "supervisor_a".into())).await;
    for i in 0..5 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("192.0.2.{}", 100 + i))
            .json(&json!({"username": "supervisor_a", "password": PASSWORD, "device_id": new_id()}))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status().as_u16(), 429, "even the right password, from a new device");
        let retry: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=60).contains(&retry), "{retry}");
    }
    let admin = app.admin_token().await;
    let refused = audit_actions(&app, &admin, "login_refused").await;
    assert_eq!(refused.len(), 1, "one row per key per window: {refused:?}");
    assert_eq!(refused[0]["client_addr"], "127.0.0.1");
    assert_eq!(refused[0]["actor_username"], "supervisor_a");
    assert_eq!(audit_actions(&app, &admin, "login_failed").await.len(), 10);
}

/// Contract 1.1: a body is never read as something it is not labelled as.
async fn bodies_in_other_encodings_answer_415(app: TestApp) {
    let login = json!({"username": "admin", "password": harness::ADMIN_PASSWORD, "device_id": new_id()}).to_string();
    for encoding in ["br", "deflate", "zstd", "gzip, br"] {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(login.clone())
            .send()
            .await
            .expect("sent");
        let (status, body) = json_of(res).await;
        assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_encoding")), "{encoding}");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, login.as_bytes()).expect("gzip");
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200, "gzip stays accepted");
}

fn secure_flags(res: &reqwest::Response) -> Vec<bool> {
    res.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap_or("").contains("Secure")).collect()
}

async fn browser_login(app: &TestApp, proto: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/browser-login"))
        .header("x-forwarded-proto", proto)
        .json(&json!({"username": "admin", "password": harness::ADMIN_PASSWORD, "device_id": new_id()}))
        .send()
        .await
        .expect("sent")
}

/// `Secure` follows the connection's scheme, or X-Forwarded-Proto from a trusted proxy only.
async fn the_secure_cookie_flag_believes_only_a_trusted_proxy(db: Db) {
    let direct = TestApp::spawn(db).await;
    let res = browser_login(&direct, "https").await;
    assert_eq!(res.status().as_u16(), 200);
    let flags = secure_flags(&res);
    assert!(!flags.is_empty() && flags.iter().all(|s| !s), "a client's X-Forwarded-Proto is not believed");
    drop(direct);
    let proxied = behind_proxy(db).await;
    let res = browser_login(&proxied, "https").await;
    let flags = secure_flags(&res);
    assert!(!flags.is_empty() && flags.iter().all(|s| *s), "the trusted proxy's is");
    assert!(secure_flags(&browser_login(&proxied, "http").await).iter().all(|s| !s));
}

backend_tests!(bodies_in_other_encodings_answer_415);

mod with_settings {
    use super::*;
    backend_tests!(db:
        many_usernames_behind_the_proxy_do_not_lock_out_the_right_password,
        someone_elses_failures_do_not_lock_out_a_user,
        a_brute_force_from_one_address_gets_429_and_is_audited_once,
        the_secure_cookie_flag_believes_only_a_trusted_proxy,
    );
}
