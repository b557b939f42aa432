//! Three instances on one PostgreSQL behind one address, as nginx or HAProxy would put them: a
//! round-robin TCP proxy hands each new connection to the next instance, and the client opens a
//! connection per request, so consecutive pushes and pull pages land on different instances.
//! Phones push concurrently while another pulls page by page: nothing is missed or doubled.

use crate::harness;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::*;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

/// Accepts on one port and forwards each connection to the next backend in turn.
async fn round_robin(backends: Vec<u16>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
    let port = listener.local_addr().expect("proxy address").port();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let backend = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()];
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", backend)).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    port
}

/// A client that never reuses a connection, so the proxy spreads its requests.
fn spreading_client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client")
}

async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    json_of(req.send().await.expect("request through the proxy")).await
}

#[tokio::test]
async fn a_phone_pulling_each_page_from_another_instance_misses_nothing() {
    let one = TestApp::spawn(Db::Postgres).await;
    let url = one.settings.database_url.clone();
    let (two, three) = (TestApp::spawn_on(Db::Postgres, url.clone()).await, TestApp::spawn_on(Db::Postgres, url).await);
    let base = format!("http://127.0.0.1:{}", round_robin(vec![one.port, two.port, three.port]).await);
    let org = one.org().await;
    let reader = one.token("supervisor_a", PASSWORD, "desk-reader").await;
    let client = spreading_client();

    // Three phones, ten batches each: two households with two visits each and a ticket.
    let mut pushers = Vec::new();
    for phone in 0..3 {
        let token = one.token("volunteer_a", PASSWORD, &format!("phone-{phone}")).await;
        let (client, base, grid) = (client.clone(), base.clone(), org.grid_a.clone());
        pushers.push(tokio::spawn(async move {
            let (mut households, mut visits, mut tickets) = (Vec::new(), Vec::new(), Vec::new());
            for b in 0..10 {
                let (h1, h2, t) = (new_id(), new_id(), new_id());
                let v: Vec<String> = (0..4).map(|_| new_id()).collect();
                let body = batch(
                    &at_minutes(0),
                    json!({
                        "households": [household(&h1, &grid, &format!("{phone}号楼{b}单元1")), household(&h2, &grid, &format!("{phone}号楼{b}单元2"))],
                        "visits": [visit(&v[0], &h1, -30), visit(&v[1], &h1, -20), visit(&v[2], &h2, -30), visit(&v[3], &h2, -20)],
                        "tickets": [ticket(&t, &h1, -19)],
                    }),
                );
                let req = client.post(format!("{base}/api/v1/sync/push")).bearer_auth(&token).json(&body);
                let (status, res) = call(req).await;
                assert_eq!((status, &res["summary"]["applied"]), (200, &json!(7)), "{res}");
                households.extend([h1, h2]);
                visits.extend(v);
                tickets.push(t);
            }
            (households, visits, tickets)
        }));
    }

    // Meanwhile a pull, page by page (7 records a page), each page on the next instance.
    let mut cursor: Option<String> = None;
    let mut pages: Vec<Value> = Vec::new();
    let pull_page = |cursor: &Option<String>| {
        let path = match cursor {
            Some(c) => format!("{base}/api/v1/sync/pull?limit=7&cursor={c}"),
            None => format!("{base}/api/v1/sync/pull?limit=7"),
        };
        client.get(path).bearer_auth(&reader)
    };
    let mut done = false;
    loop {
        let finished = pushers.iter().all(|p| p.is_finished());
        let (status, page) = call(pull_page(&cursor)).await;
        assert_eq!(status, 200, "{page}");
        cursor = page["cursor"].as_str().map(str::to_owned);
        let more = page["has_more"] == true;
        pages.push(page);
        if !more {
            // One full pass after every pusher was answered: then everything is in.
            if done {
                break;
            }
            done = finished;
            if !finished {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let (mut households, mut visits, mut tickets) = (Vec::new(), Vec::new(), Vec::new());
    for p in pushers {
        let (h, v, t) = p.await.expect("pusher");
        households.extend(h);
        visits.extend(v);
        tickets.extend(t);
    }

    let pulled_visits = ids_in(&pages, "visits");
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in &pulled_visits {
        *seen.entry(id).or_default() += 1;
    }
    for id in &visits {
        assert_eq!(seen.get(id.as_str()), Some(&1), "visit {id} pulled {:?} times", seen.get(id.as_str()));
    }
    assert_eq!(pulled_visits.len(), visits.len(), "no visit beyond those pushed");
    let pulled_tickets = ids_in(&pages, "tickets");
    for id in &tickets {
        assert!(pulled_tickets.contains(id), "ticket {id} missed");
    }
    // A household comes again when its visits change its counts; its last copy is up to date.
    let mut last: HashMap<String, Value> = HashMap::new();
    for h in pages.iter().flat_map(|p| p["households"].as_array().cloned().unwrap_or_default()) {
        last.insert(h["id"].as_str().expect("id").to_owned(), h);
    }
    for id in &households {
        let h = last.get(id).unwrap_or_else(|| panic!("household {id} missed"));
        assert_eq!(h["visit_count"], 2, "{h}");
    }
    assert!(pages.len() > 3, "the pull took pages from every instance: {}", pages.len());
    drop((two, three));
}
