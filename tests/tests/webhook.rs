//! The optional alert webhook on both backends: an overdue alert reaches a receiver that fails
//! once, is retried after the backoff, carries a valid HMAC signature, and ends delivered in the
//! outbox; without a URL nothing is enqueued.

use crate::harness;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use fieldvisit_server::config::Secret;
use fieldvisit_server::db::{self, outbox};
use harness::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "webhook-test-secret";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    body: Vec<u8>,
    signature: Option<String>,
    content_type: Option<String>,
    status: u16,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

type Hits = web::Data<Mutex<Vec<Hit>>>;

async fn hook(req: HttpRequest, body: web::Bytes, hits: Hits) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut hits = hits.lock().expect("hits");
    // The first request fails, every later one succeeds.
    let status = if hits.is_empty() { 500 } else { 200 };
    hits.push(Hit {
        at: Instant::now(),
        body: body.to_vec(),
        signature: header("x-fieldvisit-signature"),
        content_type: header("content-type"),
        status,
    });
    match status {
        500 => HttpResponse::InternalServerError().finish(),
        _ => HttpResponse::Ok().finish(),
    }
}

/// A receiver on 127.0.0.1:0; returns its URL and what it records.
fn receiver() -> (String, Hits) {
    let hits: Hits = web::Data::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let data = hits.clone();
    let server = HttpServer::new(move || App::new().app_data(data.clone()).route("/hook", web::post().to(hook)))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/hook"), hits)
}

/// Pushes a household and a ticket reported `minutes` ago as a volunteer; returns the ticket id.
async fn overdue_ticket(app: &TestApp, minutes: i64) -> String {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let (home, id) = (new_id(), new_id());
    let records =
        json!({"households": [household(&home, &org.grid_a, "西城区1号")], "tickets": [ticket(&id, &home, -minutes)]});
    let (status, res) = app.push(&volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    assert!(statuses(&res).iter().all(|s| s.2 == "applied"), "{res}");
    id
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn an_overdue_alert_is_delivered_signed_after_a_retry(db: Db) {
    let (url, hits) = receiver();
    let app = TestApp::spawn_with(db, |s| {
        s.webhook_url = Some(url);
        s.webhook_secret = Some(Secret::new(SECRET));
        s.webhook_retry_base_ms = 100;
    })
    .await;
    // Classify was due 10 min ago: `overdue` fires at once (the stale `due_soon` is skipped).
    let id = overdue_ticket(&app, 70).await;
    let start = Instant::now();
    let delivered = loop {
        let got = hits.lock().expect("hits").clone();
        let ok = got.iter().find(|h| h.status == 200 && h.json()["ticket_id"] == id.as_str());
        if let Some(ok) = ok {
            break ok.json();
        }
        assert!(start.elapsed() < Duration::from_secs(15), "not delivered in 15 s: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(delivered["type"], "overdue", "{delivered}");
    assert_eq!(
        (&delivered["stage"], &delivered["cycle"], &delivered["level"]),
        (&json!("classify"), &json!(1), &json!(0))
    );
    for key in ["id", "type", "ticket_id", "stage", "cycle", "due_at", "at", "level"] {
        assert!(delivered.get(key).is_some(), "{key} missing: {delivered}");
    }
    let alert_id = delivered["id"].as_i64().expect("id");

    // Two requests for that alert: the 500, then the retry; the same body, signed, both times.
    let got = hits.lock().expect("hits").clone();
    let mine: Vec<&Hit> = got.iter().filter(|h| h.json()["id"] == alert_id).collect();
    assert_eq!(mine.iter().map(|h| h.status).collect::<Vec<_>>(), [500, 200], "{got:?}");
    assert!(mine[1].at - mine[0].at >= Duration::from_millis(90), "retried before the backoff: {got:?}");
    assert_eq!(mine[0].body, mine[1].body);
    for h in &mine {
        assert_eq!(h.signature.as_deref(), Some(sign(&h.body).as_str()), "bad signature: {h:?}");
        assert_eq!(h.content_type.as_deref(), Some("application/json"));
    }
    // The list shows the same alert.
    let admin = app.admin_token().await;
    let (_, list) = app.get_as(&admin, "/api/v1/alerts?limit=100").await;
    let listed = list["alerts"].as_array().expect("alerts").iter().find(|a| a["id"] == alert_id).cloned();
    assert_eq!(listed.as_ref(), Some(&delivered), "{list}");

    // The outbox row is marked delivered, after one failed attempt whose error it keeps.
    let row = db::run(&app.state.pool, move |c| Ok(outbox::get(c, alert_id)?)).await.expect("read").expect("row");
    assert!(row.delivered_at.is_some(), "{row:?}");
    assert_eq!(row.attempts, 1, "{row:?}");
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("500")), "{row:?}");

    // Delivered once: nothing more is sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hits.lock().expect("hits").len(), 2);
}

async fn without_a_url_nothing_is_enqueued(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = overdue_ticket(&app, 70).await;
    let admin = app.admin_token().await;
    let start = Instant::now();
    let alert_id = loop {
        let (_, list) = app.get_as(&admin, "/api/v1/alerts?limit=100").await;
        let found = list["alerts"].as_array().expect("alerts").iter().find(|a| a["ticket_id"] == id.as_str()).cloned();
        if let Some(a) = found {
            break a["id"].as_i64().expect("id");
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no alert: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let row = db::run(&app.state.pool, move |c| Ok(outbox::get(c, alert_id)?)).await.expect("read");
    assert_eq!(row, None);
}

backend_tests!(db: an_overdue_alert_is_delivered_signed_after_a_retry, without_a_url_nothing_is_enqueued);
