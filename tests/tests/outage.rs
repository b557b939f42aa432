//! Database outage on PostgreSQL. A TCP proxy between the server and PostgreSQL stands in for the
//! database going away (the shared cluster itself is never stopped): while it refuses, pushes and
//! reads answer 503 `database_unavailable` with `Retry-After`, never 500, and the process stays up;
//! once it is back, the same batch retried succeeds and `/readyz` is ready, with no restart.

use crate::harness;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::*;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards connections to PostgreSQL until told to cut them or to refuse new ones.
struct Proxy {
    port: u16,
    accepting: Arc<AtomicBool>,
    /// Bumped to end every open connection.
    cuts: Arc<watch::Sender<u64>>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let port = listener.local_addr().expect("proxy address").port();
        let accepting = Arc::new(AtomicBool::new(true));
        let cuts = Arc::new(watch::channel(0u64).0);
        let (open, cut) = (accepting.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !open.load(Ordering::SeqCst) {
                    // Closed at once: libpq reads "server closed the connection unexpectedly".
                    continue;
                }
                let mut cut = cut.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, accepting, cuts }
    }

    /// Ends every open connection; new ones still get through (a database restart that is quick).
    fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Ends every open connection and refuses new ones (the database is down).
    fn down(&self) {
        self.accepting.store(false, Ordering::SeqCst);
        self.cut();
    }

    fn up(&self) {
        self.accepting.store(true, Ordering::SeqCst);
    }
}

/// The server on a fresh test database, reached through a proxy, with the test org, a phone's
/// and a desk's tokens and one stored household.
struct Scene {
    proxy: Proxy,
    app: TestApp,
    phone: String,
    desk: String,
    household: String,
    // Last: the database is dropped after the app.
    _db: TestDb,
}

async fn scene() -> Scene {
    let (db, url) = TestDb::create(Db::Postgres);
    let (scheme, rest) = url.split_once("://").expect("URL scheme");
    let (authority, path) = rest.split_once('/').expect("URL path");
    let (user, target) = authority.rsplit_once('@').map_or(("", authority), |(u, t)| (u, t));
    let proxy = Proxy::start(target.to_owned()).await;
    let at = if user.is_empty() { String::new() } else { format!("{user}@") };
    let app = TestApp::spawn_on(Db::Postgres, format!("{scheme}://{at}127.0.0.1:{}/{path}", proxy.port)).await;
    let org = app.org().await;
    let phone = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let desk = app.token("dispatcher_a", PASSWORD, "desk-a").await;
    let home = new_id();
    let body = batch(&at_minutes(0), json!({"households": [household(&home, &org.grid_a, "西城区3号楼2单元501")]}));
    let (status, res) = app.push(&phone, &body).await;
    assert_eq!(status, 200, "{res}");
    Scene { proxy, app, phone, desk, household: home, _db: db }
}

/// Status, `Retry-After` and body of one request.
async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Option<String>, Value) {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.expect("the server answers");
    let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, body) = json_of(res).await;
    (status, retry, body)
}

fn assert_unavailable(what: &str, (status, retry, body): &(u16, Option<String>, Value)) {
    assert_eq!(*status, 503, "{what} during the outage: {body}");
    assert_eq!(body["error"]["code"], "database_unavailable", "{what}: {body}");
    assert!(retry.as_deref().is_some_and(|s| s.parse::<u64>().is_ok()), "{what}: no Retry-After");
}

/// Sends `body` as a phone would until it is accepted; every answer before must be a 503.
async fn push_until_accepted(app: &TestApp, token: &str, body: &Value) -> (Value, u32) {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        let (status, _, res) = call(app, token, reqwest::Method::POST, "/api/v1/sync/push", Some(body)).await;
        if status == 200 {
            return (res, failures);
        }
        assert_eq!(status, 503, "a push answered {status}, not 503: {res}");
        failures += 1;
        assert!(started.elapsed() < Duration::from_secs(60), "push still refused after 60 s: {res}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_answers_503_and_recovers_without_restart() {
    // `_db` first: bound first, dropped last, after the app.
    let Scene { _db, proxy, app, phone, desk, household: h } = scene().await;

    proxy.down();
    let t = new_id();
    let body = batch(&at_minutes(0), json!({"visits": [visit(&new_id(), &h, -5)], "tickets": [ticket(&t, &h, -4)]}));
    let push = call(&app, &phone, reqwest::Method::POST, "/api/v1/sync/push", Some(&body)).await;
    assert_unavailable("push", &push);
    let read = call(&app, &desk, reqwest::Method::GET, "/api/v1/tickets", None).await;
    assert_unavailable("ticket list", &read);
    let (ready, _) = app.get_json("/readyz").await;
    assert_eq!(ready, 503, "/readyz while the database is down");
    let (alive, _) = app.get_json("/healthz").await;
    assert_eq!(alive, 200, "the process answers /healthz throughout");

    proxy.up();
    let (res, _) = push_until_accepted(&app, &phone, &body).await;
    assert_eq!(res["summary"]["applied"], 2, "the retried batch is stored: {res}");
    let (ready, health) = app.get_json("/readyz").await;
    assert_eq!(ready, 200, "ready again: {health}");
    let (status, ticket) = app.get_as(&desk, &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(status, 200, "{ticket}");
    // The same batch once more is the stored answer, not a second copy.
    let (_, again) = app.push(&phone, &body).await;
    assert_eq!(again, res);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_cost_a_phone_at_most_a_retry() {
    // `_db` first: bound first, dropped last, after the app.
    let Scene { _db, proxy, app, phone, desk, household: h } = scene().await;
    for round in 0..3 {
        // Every pooled connection and the writer's own are now dead sockets.
        proxy.cut();
        let body = batch(&at_minutes(0), json!({"visits": [visit(&new_id(), &h, -5)]}));
        let (res, failures) = push_until_accepted(&app, &phone, &body).await;
        assert_eq!(res["summary"]["applied"], 1, "round {round}: {res}");
        assert!(failures <= 1, "round {round}: {failures} refusals after one cut");
        let (status, list) = app.get_as(&desk, "/api/v1/tickets").await;
        assert_eq!(status, 200, "round {round}: {list}");
    }
}
