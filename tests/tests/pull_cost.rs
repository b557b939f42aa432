//! What a phone's pull costs on the wire and in history (issue 22), over real HTTP on both
//! backends: gzip answers when asked, the bounded first pull and its hand-over to incremental pulls.

use crate::harness;

use std::io::Read;

use harness::*;
use serde_json::{json, Value};

/// A client that neither asks for nor decodes compression by itself: the test sees the wire.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().build().expect("client")
}

async fn pull_with_gzip_answers_gzip_that_decodes_to_the_same_json(app: TestApp) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    // A page as a grid's phone sees it: households, each with a visit.
    for b in 0..5 {
        let households: Vec<Value> =
            (0..40).map(|i| household(&new_id(), &org.grid_a, &format!("西城区{b}{i}号楼2单元501"))).collect();
        let visits: Vec<Value> =
            households.iter().map(|h| visit(&new_id(), h["id"].as_str().unwrap_or_default(), -30)).collect();
        let (status, res) =
            app.push(&token, &batch(&at_minutes(0), json!({ "households": households, "visits": visits }))).await;
        assert_eq!(status, 200, "{res}");
    }

    let url = app.url("/api/v1/sync/pull?limit=500");
    let client = raw_client();
    let plain = client.get(&url).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none(), "not asked, not compressed");
    let plain: Value = serde_json::from_slice(&plain.bytes().await.expect("body")).expect("json");

    let zipped = client.get(&url).bearer_auth(&token).header("accept-encoding", "gzip").send().await.expect("sent");
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let wire = zipped.bytes().await.expect("body");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&wire[..]).read_to_end(&mut text).expect("gzip decodes");
    let mut decoded: Value = serde_json::from_slice(&text).expect("json");
    eprintln!("pull page of 400 records: {} bytes of JSON, {} gzipped", text.len(), wire.len());
    assert!(wire.len() * 3 < text.len(), "{} bytes on the wire for {} of JSON", wire.len(), text.len());
    // Same page; only the server's clock reading differs between the two requests.
    decoded["server_time"] = plain["server_time"].clone();
    assert_eq!(decoded, plain);

    // The alert stream stays uncompressed (its events must leave at once), even when gzip is asked.
    let supervisor = app.token("supervisor_a", PASSWORD, "laptop-s").await;
    let stream = client
        .get(app.url("/api/v1/alerts/stream"))
        .bearer_auth(&supervisor)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("sent");
    assert_eq!(stream.status(), 200);
    assert_ne!(stream.headers().get("content-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
}

/// Three days ago, in minutes: outside a one-day visit window.
const OLD: i64 = -3 * 24 * 60;

async fn push_ok(app: &TestApp, token: &str, records: Value) {
    let (status, res) = app.push(token, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["summary"]["applied"].as_u64(), res["results"].as_array().map(|r| r.len() as u64), "{res}");
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn sorted_of(ids: &[&String]) -> Vec<String> {
    sorted(ids.iter().map(|s| s.to_string()).collect())
}

async fn a_bounded_first_pull_then_increments_give_everything_once(app: TestApp) {
    let org = app.org().await;
    let admin = app.admin_token().await;
    let (_, mut policy) = app.get_as(&admin, "/api/v1/policy").await;
    assert_eq!(policy["pull_visit_days"], 30, "the default: {policy}");
    policy.as_object_mut().expect("object").remove("version");
    policy["pull_visit_days"] = json!(1);
    let (status, saved) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(&admin), Some(&policy)).await;
    assert_eq!((status, &saved["pull_visit_days"]), (200, &json!(1)), "{saved}");

    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let (h1, h2, h3) = (new_id(), new_id(), new_id());
    let (old_a, old_b, recent) = (new_id(), new_id(), new_id());
    let (open, open_note, closed_long_ago, closed_today) = (new_id(), new_id(), new_id(), new_id());
    let mut on_the_spot_old = ticket(&closed_long_ago, &h3, OLD);
    on_the_spot_old["resolved_on_the_spot"] = json!(true);
    let mut on_the_spot_today = ticket(&closed_today, &h3, -20);
    on_the_spot_today["resolved_on_the_spot"] = json!(true);
    let visit_old_a = visit(&old_a, &h1, OLD);
    push_ok(
        &app,
        &token,
        json!({
            "households": [household(&h1, &org.grid_a, "1号楼"), household(&h2, &org.grid_a, "2号楼"),
                household(&h3, &org.grid_a, "3号楼")],
            "visits": [visit_old_a.clone(), visit(&old_b, &h1, OLD - 60), visit(&recent, &h2, -30)],
            "tickets": [ticket(&open, &h1, OLD), on_the_spot_old, on_the_spot_today],
            "ticket_events": [event(&open_note, &open, "comment", OLD + 1)],
        }),
    )
    .await;
    // The same visit again (a phone's retry) counts once.
    let (_, res) = app.push(&token, &batch(&at_minutes(0), json!({ "visits": [visit_old_a] }))).await;
    assert_eq!(res["summary"]["duplicate"], 1, "{res}");

    // A new phone pulls two records a page; while it does, more arrives: a late-synced visit
    // three days old and a new household. Both are later changes and must reach it.
    let phone = app.token("volunteer_a", PASSWORD, "phone-new").await;
    let (status, first) = app.get_as(&phone, "/api/v1/sync/pull?limit=2").await;
    assert_eq!((status, &first["has_more"]), (200, &json!(true)), "{first}");
    let (late, h4) = (new_id(), new_id());
    push_ok(
        &app,
        &token,
        json!({ "households": [household(&h4, &org.grid_a, "4号楼")], "visits": [visit(&late, &h3, OLD)] }),
    )
    .await;
    let cursor = first["cursor"].as_str().map(str::to_owned);
    let (rest, cursor) = app.pull_all(&phone, cursor, 2).await;
    let pages: Vec<Value> = std::iter::once(first).chain(rest).collect();

    assert_eq!(sorted(ids_in(&pages, "households")), sorted_of(&[&h1, &h2, &h3, &h4]));
    assert_eq!(sorted(ids_in(&pages, "visits")), sorted_of(&[&recent, &late]), "no visit older than a day");
    assert_eq!(sorted(ids_in(&pages, "tickets")), sorted_of(&[&open, &closed_today]));
    assert!(ids_in(&pages, "ticket_events").contains(&open_note), "an open ticket comes with its events");
    let homes: Vec<Value> =
        pages.iter().flat_map(|p| p["households"].as_array().cloned().unwrap_or_default()).collect();
    let home = |id: &str| homes.iter().find(|h| h["id"] == id).cloned().unwrap_or_default();
    assert_eq!(home(&h1)["visit_count"], 2, "old visits are counted though not sent: {}", home(&h1));
    let last = home(&h1)["last_visited_at"].as_str().map(str::to_owned).unwrap_or_default();
    let expected = chrono::Utc::now() + chrono::Duration::minutes(OLD);
    let last = chrono::DateTime::parse_from_rfc3339(&last).expect("last_visited_at is a time");
    assert!((last.timestamp() - expected.timestamp()).abs() < 120, "{last} vs {expected}");
    assert_eq!(home(&h2)["visit_count"], 1);
    assert!(home(&h4)["last_visited_at"].is_null(), "{}", home(&h4));

    // From here on, incremental pulls carry every change, old-dated or not, once.
    let (visit_late_again, note) = (new_id(), new_id());
    push_ok(
        &app,
        &token,
        json!({ "visits": [visit(&visit_late_again, &h1, OLD - 120)],
            "ticket_events": [event(&note, &open, "comment", -1)] }),
    )
    .await;
    let (next, _) = app.pull_all(&phone, cursor, 2).await;
    assert_eq!(ids_in(&next, "visits"), vec![visit_late_again]);
    assert_eq!(ids_in(&next, "ticket_events"), vec![note]);
    assert!(ids_in(&next, "households").is_empty(), "a visit does not resend its household");

    // The kept tallies agree with the visits.
    let report = fieldvisit_server::db::run(&app.state.pool, |c| {
        fieldvisit_server::ops::check::run(c, chrono::Utc::now().timestamp_millis())
    })
    .await
    .expect("check runs");
    assert!(report.is_clean(), "{:?}", report.findings);
}

fn each_once(pages: &[Value], key: &str) -> Vec<String> {
    let ids = ids_in(pages, key);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{key} sent twice: {ids:?}");
    sorted(ids)
}

/// A narrow scope is read area by area and a handler's team tickets beside it: a page merges
/// several queries, and a ticket both in the handler's area and dispatched to the team comes once.
async fn a_narrow_scope_read_area_by_area_sends_each_record_once(app: TestApp) {
    let org = app.org().await;
    // More areas elsewhere, so town A (three areas) is a narrow scope, not most of the county.
    for name in ["网格三", "网格四", "网格五"] {
        let grid = json!({"parent_id": org.town_b, "kind": "grid", "name": name});
        app.create(&org.admin, "/api/v1/areas", grid).await;
    }
    let (va, vb) =
        (app.token("volunteer_a", PASSWORD, "phone-a").await, app.token("volunteer_b", PASSWORD, "phone-b").await);
    let (h_grid, h_town, h_b, ta, tb) = (new_id(), new_id(), new_id(), new_id(), new_id());
    push_ok(
        &app,
        &va,
        json!({ "households": [household(&h_grid, &org.grid_a, "网格户"), household(&h_town, &org.town_a, "镇户")],
            "visits": [visit(&new_id(), &h_grid, -50), visit(&new_id(), &h_town, -49)],
            "tickets": [ticket(&ta, &h_grid, -40)] }),
    )
    .await;
    push_ok(
        &app,
        &vb,
        json!({ "households": [household(&h_b, &org.grid_b, "外镇户")], "tickets": [ticket(&tb, &h_b, -40)] }),
    )
    .await;
    let (da, db) = (new_id(), new_id());
    let mut to_team_a = event(&da, &ta, "dispatched", -30);
    to_team_a["team_id"] = json!(org.team_a);
    let mut b_to_team_a = event(&db, &tb, "dispatched", -30);
    b_to_team_a["team_id"] = json!(org.team_a);
    push_ok(&app, &org.admin, json!({ "ticket_events": [to_team_a, b_to_team_a] })).await;

    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    for limit in [1, 2, 500] {
        let (pages, _) = app.pull_all(&handler, None, limit).await;
        assert_eq!(each_once(&pages, "tickets"), sorted_of(&[&ta, &tb]), "limit {limit}");
        assert_eq!(each_once(&pages, "ticket_events"), sorted_of(&[&da, &db]), "limit {limit}");
        assert_eq!(each_once(&pages, "visits").len(), 2, "limit {limit}");
        let homes = each_once(&pages, "households");
        assert!(homes.contains(&h_grid) && homes.contains(&h_town) && homes.contains(&h_b), "limit {limit}");
    }
    let (pages, _) = app.pull_all(&va, None, 1).await;
    assert_eq!(each_once(&pages, "households"), sorted_of(&[&h_grid, &h_town]));
    assert_eq!(each_once(&pages, "tickets"), vec![ta]);
}

/// A small deterministic generator (64-bit LCG): each seed is one reproducible history.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// What a phone holds after applying pages by id: how often each record (and each version of a
/// ticket) arrived.
#[derive(Default)]
struct Phone {
    seen: std::collections::HashMap<(String, String), u32>,
    ticket_versions: std::collections::HashMap<(String, i64), u32>,
}

impl Phone {
    fn apply(&mut self, page: &Value) {
        for key in ["households", "visits", "tickets", "ticket_events"] {
            for r in page[key].as_array().into_iter().flatten() {
                let id = r["id"].as_str().unwrap_or_default().to_owned();
                *self.seen.entry((key.to_owned(), id.clone())).or_default() += 1;
                if key == "tickets" {
                    *self.ticket_versions.entry((id, r["version"].as_i64().unwrap_or(0))).or_default() += 1;
                }
            }
        }
    }

    fn times(&self, key: &str, id: &str) -> u32 {
        self.seen.get(&(key.to_owned(), id.to_owned())).copied().unwrap_or(0)
    }
}

/// A property over random histories (several seeds): a bounded first pull in small pages, with
/// pushes landing between its pages, then pushes and incremental pulls, gives the phone every
/// household, every open ticket with its events, every visit of the window, and every change
/// made after the first pull began, each exactly once (a ticket again only as a newer version),
/// and none of the old visits from before.
async fn first_pull_and_increments_deliver_every_change_once_over_random_histories(app: TestApp) {
    let org = app.org().await;
    let admin = app.admin_token().await;
    let (_, mut policy) = app.get_as(&admin, "/api/v1/policy").await;
    policy.as_object_mut().expect("object").remove("version");
    policy["pull_visit_days"] = json!(1);
    let (status, saved) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(&admin), Some(&policy)).await;
    assert_eq!(status, 200, "{saved}");
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;

    // Every record of every seed; `must`: records the new phone must get exactly once.
    let (mut homes, mut must, mut old_visits, mut open_tickets) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for seed in 1..=3u64 {
        let mut rng = Lcg(seed);
        // Before the phone: households, old and recent visits, open and closed tickets with events.
        let mut records = json!({"households": [], "visits": [], "tickets": [], "ticket_events": []});
        for i in 0..(3 + rng.below(4)) {
            let h = new_id();
            records["households"].as_array_mut().expect("list").push(household(
                &h,
                &org.grid_a,
                &format!("{seed}-{i}号楼"),
            ));
            must.push(("households", h.clone()));
            for _ in 0..rng.below(3) {
                let (v, old) = (new_id(), rng.below(2) == 0);
                records["visits"].as_array_mut().expect("list").push(visit(&v, &h, if old { OLD } else { -30 }));
                if old {
                    old_visits.push(v)
                } else {
                    must.push(("visits", v))
                }
            }
            if rng.below(2) == 0 {
                let t = new_id();
                records["tickets"].as_array_mut().expect("list").push(ticket(&t, &h, OLD));
                let e = new_id();
                records["ticket_events"].as_array_mut().expect("list").push(event(&e, &t, "comment", OLD + 1));
                must.extend([("tickets", t.clone()), ("ticket_events", e)]);
                open_tickets.push(t);
            }
            homes.push(h);
        }
        push_ok(&app, &token, records).await;

        // A new phone pulls 1–4 records a page; between pages, pushes of every kind land.
        let phone_token = app.token("volunteer_a", PASSWORD, &format!("phone-new-{seed}")).await;
        let mut phone = Phone::default();
        let mut cursor: Option<String> = None;
        let mut later = Vec::new();
        for round in 0.. {
            let limit = 1 + rng.below(4);
            let path = match &cursor {
                Some(c) => format!("/api/v1/sync/pull?limit={limit}&cursor={c}"),
                None => format!("/api/v1/sync/pull?limit={limit}"),
            };
            let (status, page) = app.get_as(&phone_token, &path).await;
            assert_eq!(status, 200, "{page}");
            phone.apply(&page);
            cursor = page["cursor"].as_str().map(str::to_owned);
            let first_pull_over = page["has_more"] != true;
            // After the first pull: a few more pushes, then incremental pulls to the end.
            if first_pull_over && round > 0 && later.len() > 12 {
                break;
            }
            let h = homes[rng.below(homes.len() as u64) as usize].clone();
            let change = match rng.below(5) {
                0 => {
                    let n = new_id();
                    homes.push(n.clone());
                    (json!({"households": [household(&n, &org.grid_a, "新户")]}), ("households", n))
                }
                1 => {
                    // Late-synced and old-dated: a change for this phone, history for the next.
                    let v = new_id();
                    (json!({"visits": [visit(&v, &h, OLD - 10)]}), ("old visit", v))
                }
                2 => {
                    let v = new_id();
                    (json!({"visits": [visit(&v, &h, -5)]}), ("visits", v))
                }
                3 => {
                    let t = new_id();
                    open_tickets.push(t.clone());
                    (json!({"tickets": [ticket(&t, &h, -3)]}), ("tickets", t))
                }
                _ => match open_tickets.get(rng.below(open_tickets.len().max(1) as u64) as usize) {
                    Some(t) => {
                        let e = new_id();
                        (json!({"ticket_events": [event(&e, t, "comment", -1)]}), ("ticket_events", e))
                    }
                    None => continue,
                },
            };
            push_ok(&app, &token, change.0).await;
            later.push(change.1);
        }
        // Whatever is left after the last push, pulled incrementally.
        let (rest, _) = app.pull_all(&phone_token, cursor, 3).await;
        for page in &rest {
            phone.apply(page);
        }

        for (key, id) in must.iter().chain(&later) {
            let (key, n) = match *key {
                "old visit" => ("visits", phone.times("visits", id)),
                key => (key, phone.times(key, id)),
            };
            // A ticket comes again as a newer version after an event; every other record once.
            let once = if key == "tickets" { n >= 1 } else { n == 1 };
            assert!(once, "seed {seed}: {key} {id} arrived {n} times");
        }
        for h in &homes {
            assert_eq!(phone.times("households", h), 1, "seed {seed}: household {h}");
        }
        for t in &open_tickets {
            assert!(phone.times("tickets", t) >= 1, "seed {seed}: open ticket {t} missing");
        }
        for v in &old_visits {
            assert_eq!(phone.times("visits", v), 0, "seed {seed}: old visit {v} sent to a new phone");
        }
        let twice: Vec<_> = phone.ticket_versions.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "seed {seed}: a ticket version sent twice: {twice:?}");
        for (key, id) in later {
            if key == "old visit" {
                old_visits.push(id)
            } else {
                must.push((key, id))
            }
        }
    }
}

backend_tests!(
    first_pull_and_increments_deliver_every_change_once_over_random_histories,
    pull_with_gzip_answers_gzip_that_decodes_to_the_same_json,
    a_bounded_first_pull_then_increments_give_everything_once,
    a_narrow_scope_read_area_by_area_sends_each_record_once,
);
