//! The 1-1-2-4 deadlines end to end on both backends: stage states on the ticket, arrival order,
//! on-the-spot closure, reopening, policy versions, alerts fired once (also by two instances on
//! one PostgreSQL), retraction after late sync, the SSE stream, and who may call what.

use crate::harness;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use harness::*;
use serde_json::{json, Value};

const MIN: i64 = 60_000;

/// An RFC 3339 time `minutes` after `base`, as a phone in UTC+8 writes it.
fn t(base: DateTime<Utc>, minutes: i64) -> String {
    let at = base + chrono::Duration::minutes(minutes);
    at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset")).to_rfc3339()
}

struct Desk {
    org: Org,
    volunteer: String,
    dispatcher: String,
    supervisor: String,
    household: String,
}

async fn desk(app: &TestApp) -> Desk {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk-d").await;
    let supervisor = app.token("supervisor_a", PASSWORD, "desk-s").await;
    let home = new_id();
    push_ok(app, &volunteer, json!({"households": [household(&home, &org.grid_a, "西城区1号")]})).await;
    Desk { org, volunteer, dispatcher, supervisor, household: home }
}

async fn push_ok(app: &TestApp, token: &str, records: Value) -> Value {
    app.push_ok(token, records).await
}

/// A ticket reported `minutes` from now (negative: ago); returns its id.
async fn report(app: &TestApp, d: &Desk, minutes: i64) -> String {
    let id = new_id();
    push_ok(app, &d.volunteer, json!({"tickets": [ticket(&id, &d.household, minutes)]})).await;
    id
}

async fn events(app: &TestApp, token: &str, list: Vec<Value>) {
    push_ok(app, token, json!({ "ticket_events": list })).await;
}

async fn get_ticket(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, body) = app.get_as(token, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `(stage, cycle, state)` of every stage of a ticket.
fn states(ticket: &Value) -> Vec<(String, u64, String)> {
    ticket["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            let name = s["name"].as_str().unwrap_or("").to_owned();
            (name, s["cycle"].as_u64().unwrap_or(0), s["state"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

fn state_of(ticket: &Value, stage: &str) -> String {
    states(ticket).into_iter().find(|s| s.0 == stage).map(|s| s.2).unwrap_or_default()
}

async fn all_alerts(app: &TestApp, token: &str) -> Vec<Value> {
    app.all_alerts(token).await
}

fn alerts_of<'a>(alerts: &'a [Value], ticket: &str, kind: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["ticket_id"] == ticket && a["type"] == kind).collect()
}

/// Polls the alert list until `count` alerts of `kind` exist for `ticket` (at most 3 s).
async fn wait_for_alerts(app: &TestApp, token: &str, ticket: &str, kind: &str, count: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let alerts = all_alerts(app, token).await;
        if alerts_of(&alerts, ticket, kind).len() >= count || start.elapsed() > Duration::from_secs(3) {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn each_stage_state_shows_on_the_ticket(app: TestApp) {
    let d = desk(&app).await;
    let pending = report(&app, &d, -10).await;
    let due_soon = report(&app, &d, -50).await;
    let overdue = report(&app, &d, -70).await;
    let (met, late) = (report(&app, &d, -120).await, report(&app, &d, -200).await);
    events(
        &app,
        &d.dispatcher,
        vec![event(&new_id(), &met, "classified", -100), event(&new_id(), &late, "classified", -100)],
    )
    .await;
    let s = &d.supervisor;
    assert_eq!(state_of(&get_ticket(&app, s, &pending).await, "classify"), "pending");
    assert_eq!(state_of(&get_ticket(&app, s, &due_soon).await, "classify"), "due_soon");
    let o = get_ticket(&app, s, &overdue).await;
    assert_eq!(state_of(&o, "classify"), "overdue");
    assert_eq!(o["overdue"], true);
    assert!(o["overdue_by_s"].as_i64().is_some_and(|s| (590..=700).contains(&s)), "{o}");
    assert_eq!(state_of(&o, "dispatch"), "not_started");
    let m = get_ticket(&app, s, &met).await;
    assert_eq!(state_of(&m, "classify"), "met");
    assert_eq!(m["stage"], "dispatch");
    assert_eq!(state_of(&get_ticket(&app, s, &late).await, "classify"), "late");
    // The timeline carries raw and corrected times, who and how late it synced.
    let e = &m["events"][0];
    assert_eq!(e["type"], "classified");
    assert_eq!(e["user_id"], d.org.user("dispatcher_a"));
    assert_eq!(e["user_name"], "dispatcher_a", "the display name, for desks that may not list users");
    assert!(e["device_occurred_at"].is_string() && e["received_at"].is_string(), "{e}");
    assert!(e["sync_delay_s"].as_i64().is_some_and(|s| s >= 100 * 60 - 5), "{e}");
    // Time moves the states without new data.
    app.state.clock.advance(15 * MIN);
    assert_eq!(state_of(&get_ticket(&app, s, &due_soon).await, "classify"), "overdue");
}

async fn arrival_order_does_not_change_the_stages(app: TestApp) {
    let d = desk(&app).await;
    let base = Utc::now();
    let (a, b) = (new_id(), new_id());
    let mk = |id: &str| {
        let mut tk = ticket(id, &d.household, 0);
        tk["reported_at"] = json!(t(base, -300));
        tk
    };
    push_ok(&app, &d.volunteer, json!({"tickets": [mk(&a), mk(&b)]})).await;
    let plan = [("classified", -280), ("dispatched", -250), ("on_site", -200), ("resolved", -120), ("feedback", -100)];
    let evs = |ticket: &str| -> Vec<Value> {
        plan.iter()
            .map(|(kind, m)| {
                let mut e = event(&new_id(), ticket, kind, 0);
                e["occurred_at"] = json!(t(base, *m));
                if *kind == "dispatched" {
                    e["team_id"] = json!(d.org.team_a);
                }
                e
            })
            .collect()
    };
    events(&app, &d.dispatcher, evs(&a)).await;
    for e in evs(&b).into_iter().rev() {
        events(&app, &d.dispatcher, vec![e]).await;
    }
    let (ta, tb) = (get_ticket(&app, &d.supervisor, &a).await, get_ticket(&app, &d.supervisor, &b).await);
    assert_eq!(ta["stages"], tb["stages"]);
    assert_eq!((&ta["status"], &ta["stage"]), (&json!("closed"), &json!("done")));
    assert_eq!(tb["status"], "closed");
    assert!(states(&ta).iter().all(|s| s.2 == "met"), "{ta}");
}

async fn on_the_spot_closure_and_reopen_start_cycle_two(app: TestApp) {
    let d = desk(&app).await;
    let id = new_id();
    let mut tk = ticket(&id, &d.household, -60);
    tk["resolved_on_the_spot"] = json!(true);
    push_ok(&app, &d.volunteer, json!({"tickets": [tk]})).await;
    let closed = get_ticket(&app, &d.supervisor, &id).await;
    assert_eq!((&closed["status"], &closed["stage"]), (&json!("closed"), &json!("done")));
    assert!(states(&closed).iter().all(|s| s.2 == "met"), "{closed}");
    events(&app, &d.dispatcher, vec![event(&new_id(), &id, "reopened", -30)]).await;
    let reopened = get_ticket(&app, &d.supervisor, &id).await;
    assert_eq!((&reopened["status"], &reopened["stage"]), (&json!("open"), &json!("dispatch")));
    let cycle2: Vec<_> = states(&reopened).into_iter().filter(|s| s.1 == 2).collect();
    let names: Vec<&str> = cycle2.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["dispatch", "on_site", "close"]);
    assert_eq!(cycle2[0].2, "pending");
}

async fn a_policy_change_applies_to_tickets_reported_after_it(app: TestApp) {
    let d = desk(&app).await;
    let earlier = report(&app, &d, -5).await;
    let (status, mut policy) = app.get_as(&d.volunteer, "/api/v1/policy").await;
    assert_eq!((status, policy["version"].as_i64()), (200, Some(1)));
    policy.as_object_mut().expect("object").remove("version");
    policy["overrides"] = json!([{"severity": "urgent", "stages": {"classify": 1800}}]);
    let admin = app.admin_token().await;
    let (status, saved) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(&admin), Some(&policy)).await;
    assert_eq!((status, saved["version"].as_i64()), (200, Some(2)), "{saved}");
    let (_, latest) = app.get_as(&d.dispatcher, "/api/v1/policy").await;
    assert_eq!(latest["version"], 2);
    let later = report(&app, &d, 0).await;
    let window = |tk: &Value| {
        let s = &tk["stages"][0];
        let at = |k: &str| DateTime::parse_from_rfc3339(s[k].as_str().expect("time")).expect("rfc3339").timestamp();
        at("due_at") - at("started_at")
    };
    let (e, l) = (get_ticket(&app, &d.supervisor, &earlier).await, get_ticket(&app, &d.supervisor, &later).await);
    assert_eq!((e["policy_version"].as_i64(), window(&e)), (Some(1), 3600));
    assert_eq!((l["policy_version"].as_i64(), window(&l)), (Some(2), 1800));
    // Invalid → 422 naming the field; only admins publish; the change is audited.
    policy["due_soon_ratio"] = json!(1.5);
    let (status, err) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(&admin), Some(&policy)).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("due_soon_ratio")), "{err}");
    let (status, _) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(&d.supervisor), Some(&policy)).await;
    assert_eq!(status, 403);
    let (_, audit) = app.get_as(&admin, "/api/v1/audit").await;
    assert!(audit["entries"].as_array().expect("entries").iter().any(|e| e["action"] == "policy_changed"), "{audit}");
}

async fn an_overdue_alert_fires_once(app: TestApp) {
    let d = desk(&app).await;
    let id = report(&app, &d, -50).await;
    // 45 min into a 1 h window: due_soon fires at once, overdue not yet.
    let alerts = wait_for_alerts(&app, &d.supervisor, &id, "due_soon", 1).await;
    assert_eq!(alerts_of(&alerts, &id, "due_soon").len(), 1, "{alerts:?}");
    assert!(alerts_of(&alerts, &id, "overdue").is_empty());
    app.state.clock.advance(11 * MIN);
    let alerts = wait_for_alerts(&app, &d.supervisor, &id, "overdue", 1).await;
    let overdue = alerts_of(&alerts, &id, "overdue");
    assert_eq!(overdue.len(), 1, "{alerts:?}");
    assert_eq!(
        (&overdue[0]["stage"], &overdue[0]["cycle"], &overdue[0]["level"]),
        (&json!("classify"), &json!(1), &json!(0))
    );
    assert_eq!(overdue[0]["at"], overdue[0]["due_at"]);
    app.state.clock.advance(10 * MIN);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alerts = all_alerts(&app, &d.supervisor).await;
    assert_eq!(alerts_of(&alerts, &id, "overdue").len(), 1, "fired twice: {alerts:?}");
    assert_eq!(alerts_of(&alerts, &id, "due_soon").len(), 1);
    // An hour past due: the first escalation.
    app.state.clock.advance(50 * MIN);
    let alerts = wait_for_alerts(&app, &d.supervisor, &id, "escalated", 1).await;
    assert_eq!(alerts_of(&alerts, &id, "escalated")[0]["level"], 1, "{alerts:?}");
    // The list is in the order fired.
    let ids: Vec<i64> = alerts.iter().filter_map(|a| a["id"].as_i64()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

async fn an_alert_fires_at_its_time_without_polling_lag(app: TestApp) {
    let d = desk(&app).await;
    // Due 2 s from now, in real time: no clock jump wakes the tracker, only its own timer.
    let id = new_id();
    let mut tk = ticket(&id, &d.household, 0);
    let reported = Utc::now() - chrono::Duration::minutes(60) + chrono::Duration::seconds(2);
    tk["reported_at"] = json!(reported.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    push_ok(&app, &d.volunteer, json!({"tickets": [tk]})).await;
    let start = Instant::now();
    let overdue = loop {
        let alerts = all_alerts(&app, &d.supervisor).await;
        if let Some(a) = alerts_of(&alerts, &id, "overdue").first() {
            break (*a).clone();
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no overdue alert: {alerts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ms =
        |k: &str| DateTime::parse_from_rfc3339(overdue[k].as_str().expect("time")).expect("time").timestamp_millis();
    let lag = ms("fired_at") - ms("at");
    // The tracker sleeps until the due time rather than polling; the < 1 s target itself is
    // measured in benches/deadlines.rs. Here a loose bound, so a loaded CI machine cannot flake it.
    assert!((0..3000).contains(&lag), "fired {lag} ms after its time: {overdue}");
}

async fn a_ticket_synced_already_overdue_is_flagged_at_once(app: TestApp) {
    let d = desk(&app).await;
    // Classify was due 70 min ago: overdue and the first escalation (1 h past due) are both due.
    let id = report(&app, &d, -130).await;
    // No waiting for the tracker: the push that stored the ticket fired what was already due,
    // in its own commit, at the moment the ticket arrived.
    let alerts = all_alerts(&app, &d.supervisor).await;
    assert_eq!(alerts_of(&alerts, &id, "overdue").len(), 1, "{alerts:?}");
    assert_eq!(alerts_of(&alerts, &id, "escalated").len(), 1, "{alerts:?}");
    let received_at = &get_ticket(&app, &d.supervisor, &id).await["received_at"];
    for a in alerts_of(&alerts, &id, "overdue").into_iter().chain(alerts_of(&alerts, &id, "escalated")) {
        assert_eq!(&a["fired_at"], received_at, "{a}");
    }
    assert!(alerts_of(&alerts, &id, "due_soon").is_empty(), "a stale due_soon says nothing new: {alerts:?}");
    let (_, list) = app.get_as(&d.supervisor, "/api/v1/tickets?overdue=true").await;
    assert_eq!(list["tickets"][0]["id"], id, "{list}");
}

/// Alerts of a commit whose fsync is still running stay out of the list (and so out of every
/// cursor) until the writer releases its horizon; held here by hand.
async fn the_alert_list_stops_at_the_horizon(app: TestApp) {
    let d = desk(&app).await;
    let below = {
        let mut conn = app.state.pool.get().expect("connection");
        fieldvisit_server::db::alerts::last_id(&mut conn).expect("last id")
    };
    let id = report(&app, &d, -130).await;
    let horizon = app.state.writer.horizon();
    horizon.hold(fieldvisit_server::db::seq::Before { seq: i64::MAX, alert_id: below });
    let (status, page) = app.get_as(&d.supervisor, "/api/v1/alerts?limit=100").await;
    assert_eq!(status, 200, "{page}");
    assert!(alerts_of(page["alerts"].as_array().expect("alerts"), &id, "overdue").is_empty(), "{page}");
    horizon.release();
    let alerts = all_alerts(&app, &d.supervisor).await;
    assert_eq!(alerts_of(&alerts, &id, "overdue").len(), 1, "{alerts:?}");
    assert_eq!(alerts_of(&alerts, &id, "escalated").len(), 1, "{alerts:?}");
}

async fn late_synced_data_retracts_an_overdue_alert(app: TestApp) {
    let d = desk(&app).await;
    // Reported 70 min ago and pushed now: classify looks overdue since 10 min.
    let id = report(&app, &d, -70).await;
    let alerts = wait_for_alerts(&app, &d.supervisor, &id, "overdue", 1).await;
    assert_eq!(alerts_of(&alerts, &id, "overdue").len(), 1, "{alerts:?}");
    // The dispatcher's phone was offline: it had classified 20 min ago, before the due time.
    events(&app, &d.dispatcher, vec![event(&new_id(), &id, "classified", -20)]).await;
    let alerts = wait_for_alerts(&app, &d.supervisor, &id, "retracted", 1).await;
    let retracted = alerts_of(&alerts, &id, "retracted");
    assert_eq!(retracted.len(), 1, "{alerts:?}");
    assert_eq!((&retracted[0]["stage"], &retracted[0]["cycle"]), (&json!("classify"), &json!(1)));
    assert_eq!(state_of(&get_ticket(&app, &d.supervisor, &id).await, "classify"), "met");
    // The same data again retracts nothing more.
    events(&app, &d.dispatcher, vec![event(&new_id(), &id, "comment", -5)]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(alerts_of(&all_alerts(&app, &d.supervisor).await, &id, "retracted").len(), 1);
}

async fn the_stream_delivers_alerts_in_scope(app: TestApp) {
    let d = desk(&app).await;
    let mut res =
        app.client.get(app.url("/api/v1/alerts/stream")).bearer_auth(&d.supervisor).send().await.expect("stream opens");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().is_ok_and(|c| c.starts_with("text/event-stream")));
    let first = tokio::time::timeout(Duration::from_secs(5), res.chunk()).await.expect("first chunk in time");
    assert!(first.expect("chunk").is_some_and(|c| c.starts_with(b":")), "a comment opens the stream");
    let id = report(&app, &d, -70).await;
    let mut text = String::new();
    let frame = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let chunk = res.chunk().await.expect("chunk").expect("stream open");
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(f) = text.split("\n\n").find(|f| f.contains("event: overdue")) {
                return f.to_owned();
            }
        }
    })
    .await
    .expect("an overdue event within 5 s");
    let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).expect("data line");
    let alert: Value = serde_json::from_str(data).expect("json data");
    assert_eq!((&alert["ticket_id"], &alert["stage"], &alert["cycle"]), (&json!(id), &json!("classify"), &json!(1)));
    assert!(alert["due_at"].is_string() && alert["at"].is_string() && alert["id"].is_i64(), "{alert}");
}

async fn tickets_list_filters_pages_and_scopes(app: TestApp) {
    let d = desk(&app).await;
    let (a, b, c) = (report(&app, &d, -70).await, report(&app, &d, -200).await, report(&app, &d, -5).await);
    let s = &d.supervisor;
    let (_, overdue) = app.get_as(s, "/api/v1/tickets?overdue=true").await;
    let ids: Vec<&str> =
        overdue["tickets"].as_array().expect("tickets").iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, [b.as_str(), a.as_str()], "most overdue first");
    // Newest reported first, one per page.
    let (_, p1) = app.get_as(s, "/api/v1/tickets?limit=1").await;
    assert_eq!((&p1["tickets"][0]["id"], &p1["has_more"]), (&json!(c), &json!(true)));
    let cursor = p1["cursor"].as_str().expect("cursor");
    let (_, p2) = app.get_as(s, &format!("/api/v1/tickets?limit=1&cursor={cursor}")).await;
    assert_eq!(p2["tickets"][0]["id"], a);
    // Any string is a well-formed cursor; one the server never issued is unprocessable.
    let (status, err) = app.get_as(s, "/api/v1/tickets?cursor=garbage").await;
    assert_eq!((status, &err["error"]["code"]), (422, &json!("invalid_cursor")), "{err}");
    let (status, err) = app.get_as(s, "/api/v1/tickets?team_id=not-an-id").await;
    assert_eq!((status, &err["error"]["field"]), (400, &json!("team_id")), "{err}");
    let (_, by_area) =
        app.get_as(s, &format!("/api/v1/tickets?area_id={}&stage=classify&status=open", d.org.grid_a)).await;
    assert_eq!(by_area["tickets"].as_array().map(Vec::len), Some(3));
    // Town B sees none of town A's, and may not ask for its area.
    let other = app.token("volunteer_b", PASSWORD, "phone-b").await;
    let (_, none) = app.get_as(&other, "/api/v1/tickets").await;
    assert_eq!(none["tickets"].as_array().map(Vec::len), Some(0));
    let (status, err) = app.get_as(&other, &format!("/api/v1/tickets?area_id={}", d.org.town_a)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("out_of_scope")));
    let (status, _) = app.get_as(&other, &format!("/api/v1/tickets/{a}")).await;
    assert_eq!(status, 404);
    // The household with its visits and tickets.
    push_ok(&app, &d.volunteer, json!({"visits": [visit(&new_id(), &d.household, -80)]})).await;
    let (status, home) = app.get_as(s, &format!("/api/v1/households/{}", d.household)).await;
    assert_eq!(status, 200, "{home}");
    assert_eq!((home["visits"].as_array().map(Vec::len), home["tickets"].as_array().map(Vec::len)), (Some(1), Some(3)));
    let (status, _) = app.get_as(&other, &format!("/api/v1/households/{}", d.household)).await;
    assert_eq!(status, 404);
}

async fn an_event_added_over_http_follows_the_push_rules(app: TestApp) {
    let d = desk(&app).await;
    let id = report(&app, &d, -30).await;
    let path = format!("/api/v1/tickets/{id}/events");
    let classify = json!({"id": new_id(), "type": "classified", "occurred_at": at_minutes(-1), "category": "pipes"});
    let (status, tk) = app.post_as(&d.dispatcher, &path, &classify).await;
    assert_eq!((status, &tk["stage"], &tk["category"]), (201, &json!("dispatch"), &json!("pipes")), "{tk}");
    assert_eq!(tk["events"].as_array().map(Vec::len), Some(1));
    // Sent again: a duplicate, still 201 with the ticket.
    let (status, _) = app.post_as(&d.dispatcher, &path, &classify).await;
    assert_eq!(status, 201);
    let dispatch = json!({"id": new_id(), "type": "dispatched", "occurred_at": at_minutes(0), "team_id": d.org.team_a});
    let (status, err) = app.post_as(&d.volunteer, &path, &dispatch).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("forbidden")), "{err}");
    let bad = json!({"id": new_id(), "type": "teleported", "occurred_at": at_minutes(0)});
    let (status, err) = app.post_as(&d.dispatcher, &path, &bad).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("type")), "{err}");
    let (status, _) = app.post_as(&d.dispatcher, &format!("/api/v1/tickets/{}/events", new_id()), &dispatch).await;
    assert_eq!(status, 404);
    // Dispatched to team A: its handler now sees the ticket and may record arrival.
    let (status, _) = app.post_as(&d.dispatcher, &path, &dispatch).await;
    assert_eq!(status, 201);
    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    let arrive = json!({"id": new_id(), "type": "on_site", "occurred_at": at_minutes(0)});
    let (status, tk) = app.post_as(&handler, &path, &arrive).await;
    assert_eq!((status, &tk["stage"]), (201, &json!("close")), "{tk}");
}

async fn new_routes_follow_the_role_table(app: TestApp) {
    let d = desk(&app).await;
    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    let admin = app.admin_token().await;
    // Handlers follow their team's tickets in the stream (contract 1.1) and the list (an addition).
    for (token, alerts, stream) in [
        (&d.volunteer, 403, 403),
        (&handler, 200, 200),
        (&d.dispatcher, 200, 200),
        (&d.supervisor, 200, 200),
        (&admin, 200, 200),
    ] {
        let (status, body) = app.get_as(token, "/api/v1/alerts").await;
        assert_eq!(status, alerts, "{body}");
        let res = app.client.get(app.url("/api/v1/alerts/stream")).bearer_auth(token).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), stream);
        let (status, _) = app.get_as(token, "/api/v1/policy").await;
        assert_eq!(status, 200);
        let (status, _) = app.get_as(token, "/api/v1/tickets").await;
        assert_eq!(status, 200);
    }
    let (_, mut policy) = app.get_as(&admin, "/api/v1/policy").await;
    policy.as_object_mut().expect("object").remove("version");
    for (token, expected) in
        [(&d.volunteer, 403), (&handler, 403), (&d.dispatcher, 403), (&d.supervisor, 403), (&admin, 200)]
    {
        let (status, _) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(token), Some(&policy)).await;
        assert_eq!(status, expected);
    }
    let (status, _) = app.get_json("/api/v1/alerts").await;
    assert_eq!(status, 401);
    let (_, spec) = app.get_json("/openapi.json").await;
    for p in [
        "/api/v1/tickets",
        "/api/v1/tickets/{id}",
        "/api/v1/tickets/{id}/events",
        "/api/v1/households/{id}",
        "/api/v1/policy",
        "/api/v1/alerts",
        "/api/v1/alerts/stream",
    ] {
        assert!(spec["paths"][p].is_object(), "{p} missing from openapi");
    }
}

backend_tests!(
    each_stage_state_shows_on_the_ticket,
    arrival_order_does_not_change_the_stages,
    on_the_spot_closure_and_reopen_start_cycle_two,
    a_policy_change_applies_to_tickets_reported_after_it,
    an_overdue_alert_fires_once,
    an_alert_fires_at_its_time_without_polling_lag,
    a_ticket_synced_already_overdue_is_flagged_at_once,
    the_alert_list_stops_at_the_horizon,
    late_synced_data_retracts_an_overdue_alert,
    the_stream_delivers_alerts_in_scope,
    tickets_list_filters_pages_and_scopes,
    an_event_added_over_http_follows_the_push_rules,
    new_routes_follow_the_role_table,
);

/// Two server instances on one PostgreSQL database, both trackers awake at the same moment:
/// every alert is stored once.
#[tokio::test]
async fn two_trackers_on_one_postgres_fire_each_alert_once() {
    let one = TestApp::spawn(Db::Postgres).await;
    let two = TestApp::spawn_on(Db::Postgres, one.settings.database_url.clone()).await;
    let d = desk(&one).await;
    let mut tickets = Vec::new();
    for _ in 0..20 {
        tickets.push(new_id());
    }
    let list: Vec<Value> = tickets.iter().map(|id| ticket(id, &d.household, -50)).collect();
    push_ok(&one, &d.volunteer, json!({ "tickets": list })).await;
    // Their due_soon time has passed already: let those fire before the clock moves past due,
    // or they would (rightly) be skipped as stale.
    let start = Instant::now();
    loop {
        let alerts = all_alerts(&one, &d.supervisor).await;
        if tickets.iter().all(|t| !alerts_of(&alerts, t, "due_soon").is_empty()) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "due_soon alerts did not fire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    one.state.clock.advance(11 * MIN);
    two.state.clock.advance(11 * MIN);
    let start = Instant::now();
    loop {
        let alerts = all_alerts(&two, &d.supervisor).await;
        let fired = tickets.iter().filter(|t| !alerts_of(&alerts, t, "overdue").is_empty()).count();
        if fired == tickets.len() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "only {fired} of {} fired", tickets.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alerts = all_alerts(&one, &d.supervisor).await;
    for t in &tickets {
        assert_eq!(alerts_of(&alerts, t, "overdue").len(), 1, "{t}: {alerts:?}");
        assert_eq!(alerts_of(&alerts, t, "due_soon").len(), 1, "{t}");
    }
    drop(two);
}

/// Reads `res` (an SSE stream) until a frame of `event` arrives; its `data` as JSON.
async fn next_event(res: &mut reqwest::Response, event: &str) -> Value {
    let mut text = String::new();
    loop {
        let chunk = res.chunk().await.expect("chunk").expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(frame) = text.split("\n\n").find(|f| f.lines().any(|l| l == format!("event: {event}"))) {
            let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).expect("data line");
            return serde_json::from_str(data).expect("json data");
        }
    }
}

/// Two instances behind one address: an alert one instance stores while handling a push (a
/// ticket synced late, already overdue) reaches a stream held open on the other through
/// PostgreSQL's LISTEN/NOTIFY, not when the other's tracker next wakes (its 30 s timer). The bound
/// is that timer, not a latency target: the latency is printed, and measured in deadlines.md.
#[tokio::test]
async fn an_alert_stored_on_one_instance_reaches_the_others_stream_at_once() {
    let one = TestApp::spawn(Db::Postgres).await;
    let two = TestApp::spawn_on(Db::Postgres, one.settings.database_url.clone()).await;
    let d = desk(&one).await;
    let mut res =
        two.client.get(two.url("/api/v1/alerts/stream")).bearer_auth(&d.supervisor).send().await.expect("stream opens");
    assert_eq!(res.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), res.chunk()).await.expect("first chunk in time");
    assert!(first.expect("chunk").is_some_and(|c| c.starts_with(b":")), "a comment opens the stream");
    // Let the second instance's tracker settle into its long sleep (no deadline anywhere yet).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pushed = Instant::now();
    let id = report(&one, &d, -70).await;
    let alert = tokio::time::timeout(Duration::from_secs(10), next_event(&mut res, "overdue"))
        .await
        .expect("the other instance streams the overdue alert before its tracker's 30 s timer");
    assert_eq!((&alert["ticket_id"], &alert["stage"]), (&json!(id), &json!("classify")), "{alert}");
    eprintln!("alert on the other instance {} ms after the push began", pushed.elapsed().as_millis());
    drop(two);
}
