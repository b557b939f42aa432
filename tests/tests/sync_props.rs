//! Property: whatever order batches arrive in, however often they are re-sent (same batch id or a
//! new one), the server ends in the same state. Runs against the real server on SQLite; each case
//! plays one scenario twice under two id namespaces — once in order, once shuffled and duplicated —
//! and compares what a pull shows.

use crate::harness;

use std::collections::BTreeMap;

use harness::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

/// Deterministic ids per namespace, so the two plays can be compared record by record.
fn id(ns: u128, n: u128) -> String {
    uuid::Uuid::from_u128((ns << 64) | (0x4000 << 48) | n).to_string()
}

struct Scenario {
    base: Value,
    /// (by the dispatcher?, records) — each becomes one batch.
    batches: Vec<(bool, Value)>,
}

/// `minutes` from `anchor`, as a phone would write it; both plays of a case share the anchor.
fn at(anchor: chrono::DateTime<chrono::Utc>, minutes: i64) -> Value {
    json!((anchor + chrono::Duration::minutes(minutes)).to_rfc3339())
}

fn scenario(ns: u128, org: &Org, anchor: chrono::DateTime<chrono::Utc>) -> Scenario {
    let (h, t1, t2) = (id(ns, 1), id(ns, 2), id(ns, 3));
    let ev = |n: u128, t: &str, kind: &str, min: i64| {
        let mut e = event(&id(ns, n), t, kind, min);
        e["occurred_at"] = at(anchor, min);
        e
    };
    let timed = |mut record: Value, key: &str, min: i64| {
        record[key] = at(anchor, min);
        record
    };
    let mut dispatched = ev(12, &t1, "dispatched", -250);
    dispatched["team_id"] = json!(org.team_a);
    let mut classified_gas = ev(14, &t2, "classified", -260);
    classified_gas["category"] = json!("gas");
    Scenario {
        base: json!({"households": [household(&h, &org.grid_a, "属性测试楼")],
                     "tickets": [timed(ticket(&t1, &h, 0), "reported_at", -300), timed(ticket(&t2, &h, 0), "reported_at", -280)]}),
        batches: vec![
            (true, json!({"ticket_events": [ev(10, &t1, "classified", -290), ev(11, &t2, "comment", -270)]})),
            (true, json!({"ticket_events": [dispatched]})),
            (true, json!({"ticket_events": [ev(13, &t1, "on_site", -200), classified_gas]})),
            (true, json!({"ticket_events": [ev(15, &t1, "resolved", -150), ev(16, &t1, "feedback", -140)]})),
            (
                false,
                json!({"visits": [timed(visit(&id(ns, 20), &h, 0), "visited_at", -310), timed(visit(&id(ns, 21), &h, 0), "visited_at", -305)]}),
            ),
        ],
    }
}

/// What a supervisor's pull shows of namespace `ns`, with the namespace masked out of ids.
async fn state_of(app: &TestApp, token: &str, ns: u128) -> BTreeMap<String, Value> {
    let (pages, _) = app.pull_all(token, None, 1000).await;
    let prefix = &id(ns, 0)[..18];
    let mask = |v: &Value| Value::String(v.as_str().unwrap_or("").replacen(prefix, "NS", 1));
    let mut out = BTreeMap::new();
    for page in &pages {
        for key in ["tickets", "ticket_events", "visits"] {
            for r in page[key].as_array().into_iter().flatten() {
                if !r["id"].as_str().is_some_and(|i| i.starts_with(prefix)) {
                    continue;
                }
                let mut r = r.clone();
                for volatile in ["received_at", "version", "sync_delay_s", "device_id"] {
                    r.as_object_mut().map(|o| o.remove(volatile));
                }
                for reference in ["id", "ticket_id", "household_id"] {
                    if r.get(reference).is_some_and(Value::is_string) {
                        r[reference] = mask(&r[reference]);
                    }
                }
                out.insert(format!("{key}/{}", r["id"].as_str().unwrap_or("")), r);
            }
        }
    }
    out
}

async fn play(app: &TestApp, tokens: &(String, String), s: &Scenario, order: &[(usize, bool)]) {
    let (volunteer, dispatcher) = tokens;
    let (status, res) = app.push(volunteer, &batch(&at_minutes(0), s.base.clone())).await;
    assert_eq!((status, res["summary"]["applied"].as_i64()), (200, Some(3)), "{res}");
    let mut sent: BTreeMap<usize, Value> = BTreeMap::new();
    for &(i, fresh_id) in order {
        let (by_dispatcher, records) = &s.batches[i];
        let token = if *by_dispatcher { dispatcher } else { volunteer };
        let body = match sent.get(&i) {
            Some(previous) if !fresh_id => previous.clone(),
            _ => batch(&at_minutes(0), records.clone()),
        };
        let (status, res) = app.push(token, &body).await;
        assert_eq!(status, 200, "{res}");
        let bad = res["summary"]["rejected"].as_i64().unwrap_or(0) + res["summary"]["conflict"].as_i64().unwrap_or(0);
        assert_eq!(bad, 0, "{res}");
        sent.insert(i, body);
    }
}

fn arrivals() -> impl Strategy<Value = Vec<(usize, bool)>> {
    // Every batch at least once, in any order, plus up to four re-sends (same or new batch id).
    (Just((0..5).collect::<Vec<usize>>()).prop_shuffle(), prop::collection::vec((0usize..5, any::<bool>()), 0..4))
        .prop_map(|(order, extra)| {
            let mut all: Vec<(usize, bool)> = order.into_iter().map(|i| (i, true)).collect();
            for (k, (i, fresh)) in extra.into_iter().enumerate() {
                let at = (k * 3 + i) % (all.len() + 1);
                all.insert(at, (i, fresh));
            }
            all
        })
}

#[test]
fn arrival_order_and_repeats_do_not_change_the_final_state() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, org, tokens, supervisor) = rt.block_on(async {
        let app = TestApp::spawn(Db::Sqlite).await;
        let org = app.org().await;
        let volunteer = app.token("volunteer_a", PASSWORD, "prop-phone").await;
        let dispatcher = app.token("dispatcher_a", PASSWORD, "prop-desk").await;
        let supervisor = app.token("supervisor_a", PASSWORD, "prop-tablet").await;
        (app, org, (volunteer, dispatcher), supervisor)
    });
    let ns = std::cell::Cell::new(1u128);
    let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
    runner
        .run(&arrivals(), |order| {
            let (a, b) = (ns.get(), ns.get() + 1);
            ns.set(a + 2);
            let anchor = chrono::Utc::now();
            let (expected, got) = rt.block_on(async {
                let in_order: Vec<(usize, bool)> = (0..5).map(|i| (i, true)).collect();
                play(&app, &tokens, &scenario(a, &org, anchor), &in_order).await;
                play(&app, &tokens, &scenario(b, &org, anchor), &order).await;
                (state_of(&app, &supervisor, a).await, state_of(&app, &supervisor, b).await)
            });
            prop_assert_eq!(expected.len(), 2 + 7 + 2, "tickets + events + visits");
            prop_assert_eq!(expected, got);
            Ok(())
        })
        .expect("the final state does not depend on arrival order or repeats");
}
