//! HTTP plumbing under attack: login throttling that cannot be turned against the user (behind a
//! trusted proxy and without one), refused logins audited once per window, body encodings, and
//! the session cookie's `Secure` flag. (The gzip flood is measured in server/tests/gzip_flood.rs.)

use crate::harness;

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

/// Contract 1.1: a method the path does not serve → 405 with `Allow`; unknown paths stay 404.
async fn wrong_methods_answer_405_with_allow(app: TestApp) {
    for (method, path, allow) in [
        ("GET", "/api/v1/auth/login", "POST"),
        ("DELETE", "/api/v1/policy", "GET, PUT"),
        ("PATCH", "/api/v1/tickets/1b4e28ba-2fa1-11d2-883f-0016d3cca427", "GET"),
        ("FROB", "/api/v1/sync/push", "POST"),
        ("POST", "/healthz", "GET"),
        ("POST", "/metrics", "GET"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let res = app.client.request(method.clone(), app.url(path)).send().await.expect("sent");
        let allowed = res.headers().get("allow").map(|v| v.to_str().expect("ascii").to_owned());
        let (status, body) = json_of(res).await;
        assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")), "{method} {path}");
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
    }
    for path in ["/api/v1/nothing", "/api/v1/tickets/x/y/z", "/nope"] {
        let (status, body) = app.send(reqwest::Method::DELETE, path, None, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{path}");
    }
}

/// Opens a connection and sends a login whose body stops after 10 of its 100 bytes.
async fn stalled_login(app: &TestApp) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    let head =
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    conn.write_all(head.as_bytes()).await.expect("headers");
    conn.write_all(br#"{"username""#).await.expect("part of the body");
    conn
}

/// A body that stalls answers 408 after FIELDVISIT_BODY_TIMEOUT_S, and the connection is let go.
async fn a_stalled_body_answers_408_and_frees_the_connection(db: Db) {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn_with(db, |s| s.body_timeout_s = 1).await;
    let mut conns = Vec::new();
    for _ in 0..50 {
        conns.push(stalled_login(&app).await);
    }
    for mut conn in conns {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the connection was still held after 5 s");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
    }
}

async fn metrics_lines(app: &TestApp) -> Vec<String> {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect()
}

/// Random method names and paths do not grow /metrics: unknown methods count in one counter,
/// unmatched paths under one endpoint label.
async fn random_methods_and_paths_do_not_grow_metrics(app: TestApp) {
    let mut sent = 0;
    let burst = |round: usize| {
        let app = &app;
        async move {
            for i in 0..30 {
                let method = reqwest::Method::from_bytes(format!("M{round}X{i}").as_bytes()).expect("method");
                let path = if i % 2 == 0 { "/api/v1/sync/push".to_owned() } else { format!("/nothing/{round}/{i}") };
                let status = app.client.request(method, app.url(&path)).send().await.expect("sent").status();
                assert!(status == 405 || status == 404, "{status}");
                let status =
                    app.client.get(app.url(&format!("/random/{round}/{i}"))).send().await.expect("sent").status();
                assert_eq!(status, 404);
            }
        }
    };
    burst(0).await;
    sent += 30;
    metrics_lines(&app).await; // the scrape itself is counted from the first one on
    let before = metrics_lines(&app).await.len();
    burst(1).await;
    sent += 30;
    let lines = metrics_lines(&app).await;
    assert_eq!(lines.len(), before, "another 30 random methods and 60 random paths added lines");
    assert!(lines.contains(&format!("fieldvisit_http_requests_unknown_method_total {sent}")), "{lines:?}");
}

/// FIELDVISIT_METRICS_BIND: /metrics only on its own address, which serves nothing else.
async fn metrics_can_have_an_address_of_their_own(db: Db) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let app = TestApp::spawn_with(db, |s| s.metrics_bind = Some(format!("127.0.0.1:{port}"))).await;
    assert_eq!(app.get("/metrics").await.status().as_u16(), 404, "not on the public address");
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    let metrics = format!("http://127.0.0.1:{port}");
    let res = app.client.get(format!("{metrics}/metrics")).send().await.expect("scrape");
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().await.expect("text").contains("fieldvisit_db_pool_connections"));
    let res = app.client.get(format!("{metrics}/healthz")).send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 404, "the metrics address serves nothing else");
}

backend_tests!(
    bodies_in_other_encodings_answer_415,
    wrong_methods_answer_405_with_allow,
    random_methods_and_paths_do_not_grow_metrics
);

mod with_settings {
    use super::*;
    backend_tests!(db:
        many_usernames_behind_the_proxy_do_not_lock_out_the_right_password,
        someone_elses_failures_do_not_lock_out_a_user,
        a_brute_force_from_one_address_gets_429_and_is_audited_once,
        the_secure_cookie_flag_believes_only_a_trusted_proxy,
        a_stalled_body_answers_408_and_frees_the_connection,
        metrics_can_have_an_address_of_their_own,
    );
}
