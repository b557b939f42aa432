//! Alert delivery channels on both backends, against a local HTTPS receiver whose certificate is
//! signed by a test CA (given to the server as `FIELDVISIT_CHANNEL_EXTRA_CA`): each group robot
//! gets its own exact JSON with a signature verified as the platform would; robot errors and 429s
//! are retried without losing or doubling an alert; an escalation addressed to the parent area
//! reaches only the channels at or above it; a handler's list and team channel hold their team's alert.

use crate::harness;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fieldvisit_server::config::Secret;
use fieldvisit_server::db::{self, outbox};
use harness::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    /// Path and query, as sent.
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    status: u16,
    at: Instant,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
    fn query(&self) -> HashMap<String, String> {
        let q = self.target.split_once('?').map(|x| x.1).unwrap_or_default();
        reqwest::Url::parse(&format!("http://x/?{q}")).expect("query").query_pairs().into_owned().collect()
    }
}

/// Answers by path and how many requests that path had before: (status, JSON body).
type Script = Arc<dyn Fn(&str, usize) -> (u16, String) + Send + Sync>;

struct Receiver {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    /// The test CA's certificate, PEM, in a file for `FIELDVISIT_CHANNEL_EXTRA_CA`.
    ca_file: tempfile::NamedTempFile,
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }
    fn at(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path() == path).collect()
    }
}

/// The robots' success answers.
fn ok_answer(path: &str) -> (u16, String) {
    if path.starts_with("/feishu") {
        (200, r#"{"code":0,"msg":"success","data":{}}"#.into())
    } else if path.starts_with("/hook") {
        (200, String::new())
    } else {
        (200, r#"{"errcode":0,"errmsg":"ok"}"#.into())
    }
}

/// An HTTPS receiver on 127.0.0.1 with a certificate from a fresh test CA.
async fn receiver(script: Script) -> Receiver {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "fieldvisit test CA");
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).expect("CA cert");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("cert");
    let ca_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(ca_file.path(), ca_cert.pem()).expect("write CA");

    // ring, as the server's reqwest uses (no aws-lc build); its lack of post-quantum key exchange
    // is what the deprecation is about, and does not matter to a test receiver.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let recorded = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, hits, script) = (acceptor.clone(), recorded.clone(), script.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                // HTTP/1.1 with keep-alive: one request after the other on the connection.
                let mut buf = Vec::new();
                loop {
                    let Some(end) = read_until_headers(&mut tls, &mut buf).await else { return };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let mut lines = head.split("\r\n");
                    let target = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or_default().to_owned();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                    buf.drain(..end + 4);
                    while buf.len() < len {
                        let mut chunk = [0u8; 4096];
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Vec<u8> = buf.drain(..len).collect();
                    let (status, answer) = {
                        let mut hits = hits.lock().expect("hits");
                        let path = target.split('?').next().unwrap_or_default().to_owned();
                        let before = hits.iter().filter(|h| h.path() == path).count();
                        let (status, answer) = script(&path, before);
                        hits.push(Hit { target, headers, body, status, at: Instant::now() });
                        (status, answer)
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if tls.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Receiver { base: format!("https://127.0.0.1:{port}"), hits, ca_file }
}

/// Reads until the end of a request's headers; returns the offset of "\r\n\r\n".
async fn read_until_headers<S: tokio::io::AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i);
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

const PUBLIC_URL: &str = "https://desk.example.gov.cn";

async fn spawn(db: Db, rx: &Receiver, webhook: bool) -> TestApp {
    let (ca, base) = (rx.ca_file.path().to_owned(), rx.base.clone());
    TestApp::spawn_with(db, move |s| {
        s.channel_extra_ca = Some(ca);
        s.public_url = Some(format!("{PUBLIC_URL}/"));
        s.webhook_retry_base_ms = 100;
        s.channel_hosts = Some("127.0.0.1".into());
        if webhook {
            s.webhook_url = Some(format!("{base}/hook"));
            s.webhook_secret = Some(Secret::new("hook-secret"));
        }
    })
    .await
}

/// A receiver that always succeeds, a server sending to it, and the test organisation.
async fn setup(db: Db) -> (Receiver, TestApp, Org) {
    let rx = receiver(Arc::new(|path, _| ok_answer(path))).await;
    let app = spawn(db, &rx, false).await;
    let org = app.org().await;
    (rx, app, org)
}

/// Pushes a household in `area` and a ticket reported `minutes` ago; returns the ticket id.
async fn ticket_in(app: &TestApp, area: &str, address: &str, minutes: i64) -> String {
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let (home, id) = (new_id(), new_id());
    let records = json!({"households": [household(&home, area, address)], "tickets": [ticket(&id, &home, -minutes)]});
    let (status, res) = app.push(&volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    assert!(statuses(&res).iter().all(|s| s.2 == "applied"), "{res}");
    id
}

async fn add_channel(app: &TestApp, admin: &str, body: Value) -> String {
    app.create(admin, "/api/v1/channels", body).await
}

/// Waits until `done` holds for the receiver's hits (10 s at most).
async fn wait_for(rx: &Receiver, what: &str, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
    let start = Instant::now();
    loop {
        let hits = rx.hits();
        if done(&hits) {
            return hits;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{what}: not in 10 s: {hits:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn area_named(app: &TestApp, admin: &str, name: &str) -> String {
    let (_, areas) = app.get_as(admin, "/api/v1/areas").await;
    let area = areas["areas"].as_array().expect("areas").iter().find(|a| a["name"] == name).cloned();
    area.expect("area")["id"].as_str().expect("id").to_owned()
}

async fn robots_receive_their_exact_json_signed_over_https(db: Db) {
    let rx = receiver(Arc::new(|path, _| ok_answer(path))).await;
    let app = spawn(db, &rx, true).await;
    let org = app.org().await;
    let admin = &org.admin;
    let base = &rx.base;
    let only_overdue = json!(["overdue"]);
    add_channel(
        &app,
        admin,
        json!({"name": "县热线值班群", "kind": "wecom", "area_id": org.root,
        "url": format!("{base}/wecom?key=wecom-key-1234"), "alert_types": only_overdue}),
    )
    .await;
    add_channel(&app, admin, json!({"name": "城关镇钉钉群", "kind": "dingtalk", "area_id": org.town_a,
        "url": format!("{base}/dingtalk?access_token=ding-token"), "secret": "SECding-secret", "alert_types": only_overdue})).await;
    add_channel(
        &app,
        admin,
        json!({"name": "供热站飞书群", "kind": "feishu", "area_id": org.town_a,
        "url": format!("{base}/feishu/hook/feishu-token"), "secret": "feishu-secret", "alert_types": only_overdue}),
    )
    .await;

    // Classify was due 10 min ago: `overdue` fires at once.
    let id = ticket_in(&app, &org.grid_a, "西城区1号", 70).await;
    let hits = wait_for(&rx, "every robot and the webhook", |h| {
        ["/wecom", "/dingtalk", "/feishu/hook/feishu-token", "/hook"].iter().all(|p| h.iter().any(|x| x.path() == *p))
    })
    .await;
    let (_, list) = app.get_as(admin, "/api/v1/alerts").await;
    let alert =
        list["alerts"].as_array().expect("alerts").iter().find(|a| a["type"] == "overdue").cloned().expect("alert");
    let ms = |k: &str| chrono::DateTime::parse_from_rfc3339(alert[k].as_str().expect("time")).expect("rfc3339");
    let late_min = (ms("fired_at") - ms("due_at")).num_minutes();
    let due_local =
        ms("due_at").with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("tz")).format("%m-%d %H:%M");
    let title = format!("【已超时】分类环节已超时{late_min}分钟");
    let link = format!("{PUBLIC_URL}/ui/#/ticket/{id}");
    let markdown = format!("**{title}**\n> 地址：西城区1号\n> 片区：网格一\n> 时限：{due_local}\n\n[查看工单]({link})");
    let text = format!("{title}\n地址：西城区1号\n片区：网格一\n时限：{due_local}\n查看工单：{link}");

    let one = |path: &str| -> Hit {
        let mine: Vec<&Hit> = hits.iter().filter(|h| h.path() == path).collect();
        assert_eq!(mine.len(), 1, "{path}: {hits:#?}");
        mine[0].clone()
    };
    let now_ms = chrono::Utc::now().timestamp_millis();

    let wecom = one("/wecom");
    assert_eq!(wecom.query()["key"], "wecom-key-1234");
    assert_eq!(wecom.headers["content-type"], "application/json");
    assert_eq!(wecom.json(), json!({"msgtype": "markdown", "markdown": {"content": markdown}}));

    // DingTalk: timestamp (ms) and sign in the query; sign = base64(HMAC-SHA256(secret, "ts\nsecret")).
    let ding = one("/dingtalk");
    let q = ding.query();
    assert_eq!(q["access_token"], "ding-token");
    let ts: i64 = q["timestamp"].parse().expect("ms timestamp");
    assert!((now_ms - ts).abs() < 3_600_000, "DingTalk refuses a timestamp an hour off: {ts}");
    assert_eq!(q["sign"], hmac_b64(b"SECding-secret", format!("{ts}\nSECding-secret").as_bytes()));
    assert_eq!(ding.json(), json!({"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}));

    // Feishu: timestamp (s) and sign in the body; sign = base64(HMAC-SHA256(key "ts\nsecret", "")).
    let feishu = one("/feishu/hook/feishu-token").json();
    let ts_s = feishu["timestamp"].as_str().expect("timestamp string").to_owned();
    let ts: i64 = ts_s.parse().expect("seconds");
    assert!((now_ms / 1000 - ts).abs() < 3600, "{ts}");
    assert_eq!(feishu["sign"], hmac_b64(format!("{ts}\nfeishu-secret").as_bytes(), b""));
    assert_eq!(
        feishu,
        json!({"timestamp": ts_s, "sign": feishu["sign"], "msg_type": "text", "content": {"text": text}})
    );

    // The implicit webhook of FIELDVISIT_WEBHOOK_URL, now over HTTPS too: the alert's JSON, signed.
    let hook = wait_for(&rx, "the webhook's alerts", |h| h.iter().any(|x| x.path() == "/hook")).await;
    let hook = hook.iter().find(|h| h.path() == "/hook" && h.json()["type"] == "overdue").expect("overdue to the hook");
    assert_eq!(hook.json(), alert);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"hook-secret").expect("key");
    mac.update(&hook.body);
    assert_eq!(hook.headers["x-fieldvisit-signature"], format!("sha256={}", hex::encode(mac.finalize().into_bytes())));

    // The channel list shows neither the tokens nor the secrets.
    let (status, listed) = app.get_as(admin, "/api/v1/channels").await;
    assert_eq!(status, 200, "{listed}");
    let text = listed.to_string();
    for secret in ["wecom-key-1234", "ding-token", "SECding-secret", "feishu-token", "feishu-secret"] {
        assert!(!text.contains(secret), "{secret} shown: {listed}");
    }
    assert_eq!(listed["channels"].as_array().expect("list").len(), 3, "{listed}");
    assert!(listed["channels"]
        .as_array()
        .expect("list")
        .iter()
        .all(|c| c["url"].as_str().is_some_and(|u| u.contains('…'))));
}

async fn robot_errors_and_429_are_retried_nothing_lost_nothing_doubled(db: Db) {
    // The robot's first answer is an error code under HTTP 200 (rate limit), the second a 429.
    let rx = receiver(Arc::new(|path, n| match n {
        0 => (200, r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#.into()),
        1 => (429, r#"{"errcode":45009}"#.into()),
        _ => ok_answer(path),
    }))
    .await;
    let app = spawn(db, &rx, false).await;
    let org = app.org().await;
    let channel = add_channel(
        &app,
        &org.admin,
        json!({"name": "值班群", "kind": "wecom", "area_id": org.root,
        "url": format!("{}/wecom?key=k", rx.base), "alert_types": ["overdue"]}),
    )
    .await;
    let mut tickets = Vec::new();
    for i in 0..3 {
        tickets.push(ticket_in(&app, &org.grid_a, &format!("西城区{i}号"), 70).await);
    }
    // Successes are the answers after the first two requests.
    wait_for(&rx, "three alerts through", |h| h.len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let hits = rx.at("/wecom");
    assert_eq!(hits.len(), 5, "two failed attempts plus one success per alert: {hits:#?}");
    assert_eq!(hits.iter().map(|h| h.status).collect::<Vec<_>>(), [200, 429, 200, 200, 200], "{hits:#?}");
    let succeeded: Vec<&Hit> = hits.iter().skip(2).collect();
    for t in &tickets {
        let n = succeeded
            .iter()
            .filter(|h| h.json()["markdown"]["content"].as_str().is_some_and(|c| c.contains(t.as_str())))
            .count();
        assert_eq!(n, 1, "ticket {t} delivered {n} times: {hits:#?}");
    }
    // The outbox agrees: three rows, all delivered, two failed attempts between them.
    let rows = db::run(&app.state.pool, move |c| Ok(outbox::of_channel(c, &channel)?)).await.expect("rows");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r.delivered_at.is_some()), "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.attempts).sum::<i32>(), 2, "{rows:?}");
    // The first answer (HTTP 200, errcode 45009) counted as a failed attempt like the 429; each row
    // keeps its last error: the 429 was the second request, so it is some row's last.
    assert!(rows.iter().filter(|r| r.attempts > 0).all(|r| r.last_error.is_some()), "{rows:?}");
    assert!(rows.iter().any(|r| r.last_error.as_deref().is_some_and(|e| e.contains("429"))), "{rows:?}");
}

async fn a_feishu_robot_gets_five_a_second_and_nothing_is_dropped(db: Db) {
    let (rx, app, org) = setup(db).await;
    add_channel(
        &app,
        &org.admin,
        json!({"name": "飞书群", "kind": "feishu", "area_id": org.root,
        "url": format!("{}/feishu/burst", rx.base), "alert_types": ["overdue"]}),
    )
    .await;
    // Seven tickets in one push: seven `overdue` alerts at once.
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let (mut homes, mut tickets) = (Vec::new(), Vec::new());
    for i in 0..7 {
        let (home, id) = (new_id(), new_id());
        homes.push(household(&home, &org.grid_a, &format!("东城区{i}号")));
        tickets.push(ticket(&id, &home, -70));
    }
    let (status, res) =
        app.push(&volunteer, &batch(&at_minutes(0), json!({"households": homes, "tickets": tickets}))).await;
    assert_eq!(status, 200, "{res}");
    let hits = wait_for(&rx, "seven messages", |h| h.len() >= 7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.hits().len(), 7, "one message per alert: {hits:#?}");
    let mut texts: Vec<String> =
        hits.iter().map(|h| h.json()["content"]["text"].as_str().expect("text").to_owned()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 7, "seven different tickets: {texts:?}");
    // Feishu takes 5 a second: the sixth waits until the first has left the second.
    let gap = hits[5].at - hits[0].at;
    assert!(gap >= Duration::from_millis(950), "the sixth came {gap:?} after the first");
}

async fn a_parent_area_escalation_reaches_only_the_parent_channel(db: Db) {
    let (rx, app, org) = setup(db).await;
    let admin = &org.admin;
    let community = area_named(&app, admin, "西城社区").await;
    let escalations = json!(["escalated"]);
    let hook = |name: &str, area: &str| json!({"name": name, "kind": "webhook", "area_id": area, "url": format!("{}/hook/{name}", rx.base), "alert_types": escalations});
    add_channel(&app, admin, hook("grid", &org.grid_a)).await;
    add_channel(&app, admin, hook("community", &community)).await;
    add_channel(&app, admin, hook("other-town", &org.town_b)).await;
    let mut county = hook("county", &org.root);
    county["min_level"] = json!(2);
    add_channel(&app, admin, county).await;
    // The default policy escalates 1 h past due to the area, 4 h past due to the parent area.
    // Classify was due 4 h 5 min ago: both escalations fire at once.
    let id = ticket_in(&app, &org.grid_a, "西城区9号", 305).await;
    let levels = |hits: &[Hit], name: &str| -> Vec<u64> {
        let mut l: Vec<u64> = hits
            .iter()
            .filter(|h| h.path() == format!("/hook/{name}"))
            .map(|h| {
                let a = h.json();
                assert_eq!((&a["type"], &a["ticket_id"]), (&json!("escalated"), &json!(id)), "{a}");
                a["level"].as_u64().expect("level")
            })
            .collect();
        l.sort_unstable();
        l
    };
    wait_for(&rx, "both levels", |h| levels(h, "community").len() == 2 && levels(h, "county").len() == 1).await;
    // Time for a wrong delivery to show up too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = rx.hits();
    assert_eq!(levels(&hits, "grid"), [1], "the grid's channel hears level 1 (notify: area) only");
    assert_eq!(levels(&hits, "community"), [1, 2], "the parent area's channel hears level 2 (notify: parent_area)");
    assert_eq!(levels(&hits, "county"), [2], "a county channel with min_level 2");
    assert_eq!(levels(&hits, "other-town"), Vec::<u64>::new());
}

async fn a_handler_s_list_and_team_channel_hold_their_team_s_alert(db: Db) {
    let (rx, app, org) = setup(db).await;
    add_channel(
        &app,
        &org.admin,
        json!({"name": "西城供热站群", "kind": "feishu", "area_id": org.root,
        "url": format!("{}/feishu/team", rx.base), "teams": [org.team_a], "alert_types": ["overdue"]}),
    )
    .await;
    // Ours: classified and dispatched to team A long ago; on site was due 70 min ago.
    let ours = ticket_in(&app, &org.grid_a, "西城区5号", 200).await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk-d").await;
    let mut classified = event(&new_id(), &ours, "classified", -195);
    classified["category"] = json!("heating");
    let mut dispatched = event(&new_id(), &ours, "dispatched", -190);
    dispatched["team_id"] = json!(org.team_a);
    let (status, res) =
        app.push(&dispatcher, &batch(&at_minutes(0), json!({"ticket_events": [classified, dispatched]}))).await;
    assert_eq!(status, 200, "{res}");
    assert!(statuses(&res).iter().all(|s| s.2 == "applied"), "{res}");
    // Not ours: overdue too, but dispatched to nobody.
    let other = ticket_in(&app, &org.grid_a, "西城区6号", 70).await;

    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    let start = Instant::now();
    let listed = loop {
        let (status, list) = app.get_as(&handler, "/api/v1/alerts?limit=100").await;
        assert_eq!(status, 200, "{list}");
        let alerts = list["alerts"].as_array().expect("alerts").clone();
        if alerts.iter().any(|a| a["ticket_id"] == ours.as_str() && a["type"] == "overdue") {
            break alerts;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no team alert in the handler's list: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(listed.iter().all(|a| a["ticket_id"] == ours.as_str()), "only their team's tickets: {listed:?}");
    // A dispatcher of the area sees the other ticket's alert as well.
    let (_, all) = app.get_as(&dispatcher, "/api/v1/alerts?limit=100").await;
    assert!(all["alerts"].as_array().expect("alerts").iter().any(|a| a["ticket_id"] == other.as_str()), "{all}");

    // The team's channel gets the team's alert and not the other one.
    let hits = wait_for(&rx, "the team's alert", |h| h.iter().any(|x| x.path() == "/feishu/team")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let team: Vec<Hit> = rx.at("/feishu/team");
    assert_eq!(team.len(), 1, "{hits:#?}");
    let text = team[0].json()["content"]["text"].as_str().expect("text").to_owned();
    assert!(text.contains("西城区5号") && text.contains("到场环节已超时"), "{text}");
}

async fn channels_are_for_admins_within_their_area(db: Db) {
    let (rx, app, org) = setup(db).await;
    let admin_a = app.token("admin_a", PASSWORD, "laptop-a").await;
    let admin_b = app.token("admin_b", PASSWORD, "laptop-b").await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk-d").await;
    let url = format!("{}/wecom?key=abc", rx.base);
    let body = json!({"name": "城关镇群", "kind": "wecom", "area_id": org.town_a, "url": url});

    let (status, res) = app.post_as(&dispatcher, "/api/v1/channels", &body).await;
    assert_eq!(status, 403, "{res}");
    let (status, res) = app.post_as(&admin_b, "/api/v1/channels", &body).await;
    assert_eq!((status, &res["error"]["field"]), (403, &json!("area_id")), "{res}");
    for (field, bad) in [
        ("kind", json!("telegram")),
        ("url", json!("ftp://x/")),
        ("url", json!("https://example.org/hook")),
        ("min_level", json!(-1)),
        ("alert_types[0]", json!(["pipe_leak"])),
        ("teams[0]", json!(["no-such-team"])),
        ("name", json!(" ")),
    ] {
        let mut b = body.clone();
        let key = field.split('[').next().expect("key");
        b[key] = bad;
        let (status, res) = app.post_as(&admin_a, "/api/v1/channels", &b).await;
        assert_eq!((status, &res["error"]["field"]), (422, &json!(field)), "{field}: {res}");
    }
    let id = app.create(&admin_a, "/api/v1/channels", body.clone()).await;

    // Admin B neither sees nor changes it.
    let (_, list) = app.get_as(&admin_b, "/api/v1/channels").await;
    assert_eq!(list["channels"], json!([]), "{list}");
    let patch = json!({"min_level": 2});
    let (status, _) =
        app.send(reqwest::Method::PATCH, &format!("/api/v1/channels/{id}"), Some(&admin_b), Some(&patch)).await;
    assert_eq!(status, 404);
    let (status, res) =
        app.send(reqwest::Method::PATCH, &format!("/api/v1/channels/{id}"), Some(&admin_a), Some(&patch)).await;
    assert_eq!((status, &res["min_level"]), (200, &json!(2)), "{res}");

    // Switched off while an alert fires, then on again: it does not get what it missed.
    let path = format!("/api/v1/channels/{id}");
    let off = json!({"enabled": false, "min_level": 0});
    let (status, res) = app.send(reqwest::Method::PATCH, &path, Some(&admin_a), Some(&off)).await;
    assert_eq!((status, &res["enabled"]), (200, &json!(false)), "{res}");
    let missed = ticket_in(&app, &org.grid_a, "西城区7号", 70).await;
    let start = Instant::now();
    loop {
        let (_, list) = app.get_as(&admin_a, "/api/v1/alerts").await;
        if list["alerts"].as_array().expect("alerts").iter().any(|a| a["ticket_id"] == missed.as_str()) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no alert: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = app.send(reqwest::Method::PATCH, &path, Some(&admin_a), Some(&json!({"enabled": true}))).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let channel = id.clone();
    let rows = db::run(&app.state.pool, move |c| Ok(outbox::of_channel(c, &channel)?)).await.expect("rows");
    assert!(rows.is_empty(), "nothing queued from while it was off: {rows:?}");
    assert!(rx.at("/wecom").is_empty());

    // The test message goes out and says so.
    let (status, res) = app.post_as(&admin_a, &format!("/api/v1/channels/{id}/test"), &json!({})).await;
    assert_eq!((status, &res["delivered"]), (200, &json!(true)), "{res}");
    let test = rx.at("/wecom");
    assert_eq!(test.len(), 1);
    assert!(test[0].json()["markdown"]["content"].as_str().is_some_and(|c| c.contains("测试")), "{test:?}");

    // Every change is audited, without the URL.
    let (_, audit) = app.get_as(&org.admin, "/api/v1/audit?limit=100").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .or(audit["audit"].as_array())
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(actions.contains(&"channel_created") && actions.contains(&"channel_updated"), "{audit}");
    assert!(!audit.to_string().contains("key=abc"), "{audit}");

    let (status, _) = app.send(reqwest::Method::DELETE, &format!("/api/v1/channels/{id}"), Some(&admin_a), None).await;
    assert_eq!(status, 204);
    let (_, list) = app.get_as(&admin_a, "/api/v1/channels").await;
    assert_eq!(list["channels"], json!([]), "{list}");
}

backend_tests!(db:
    robots_receive_their_exact_json_signed_over_https,
    robot_errors_and_429_are_retried_nothing_lost_nothing_doubled,
    a_feishu_robot_gets_five_a_second_and_nothing_is_dropped,
    a_parent_area_escalation_reaches_only_the_parent_channel,
    a_handler_s_list_and_team_channel_hold_their_team_s_alert,
    channels_are_for_admins_within_their_area,
);
