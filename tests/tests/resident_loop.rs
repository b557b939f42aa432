//! The resident loop and day-end clearance end to end on both backends: the `day_end` alert at the
//! policy's time (test clock), once per area and day, in scope, in the list and the stream (also
//! with two instances on one PostgreSQL); the callback list, who may call back, and a reopen after
//! an unsatisfied callback.

use crate::harness;

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use harness::*;
use serde_json::{json, Value};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// Asia/Shanghai, the default policy timezone (no daylight saving).
fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("offset")
}

/// Milliseconds from the server's `now` to the next local `hh:mm` in Shanghai at least two minutes
/// away (a test steps up to it), and that instant.
fn until_next(now_ms: i64, hh: u32, mm: u32) -> (i64, DateTime<FixedOffset>) {
    let now = DateTime::from_timestamp_millis(now_ms).expect("now").with_timezone(&shanghai());
    let time = NaiveTime::from_hms_opt(hh, mm, 0).expect("time");
    let mut at = now.date_naive().and_time(time).and_local_timezone(shanghai()).single().expect("local");
    if at <= now + chrono::Duration::minutes(2) {
        at += chrono::Duration::days(1);
    }
    (at.timestamp_millis() - now_ms, at)
}

fn utc(at: DateTime<FixedOffset>) -> String {
    at.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

async fn push_ok(app: &TestApp, token: &str, records: Value) {
    app.push_ok(token, records).await;
}

async fn all_alerts(app: &TestApp, token: &str) -> Vec<Value> {
    app.all_alerts(token).await
}

fn day_ends(alerts: &[Value]) -> Vec<Value> {
    alerts.iter().filter(|a| a["type"] == "day_end").cloned().collect()
}

/// Polls until `token` sees `count` day-end alerts (at most 5 s).
async fn wait_for_day_ends(app: &TestApp, token: &str, count: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let found = day_ends(&all_alerts(app, token).await);
        if found.len() >= count || start.elapsed() > Duration::from_secs(5) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sets fields of the caller's county policy (admin of the root).
async fn set_policy(app: &TestApp, admin: &str, fields: Value) {
    let (_, mut policy) = app.get_as(admin, "/api/v1/policy").await;
    let body = policy.as_object_mut().expect("policy object");
    body.remove("version");
    body.extend(fields.as_object().expect("fields").clone());
    let (status, res) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(admin), Some(&policy)).await;
    assert_eq!(status, 200, "{res}");
}

struct Town {
    org: Org,
    volunteer: String,
    dispatcher: String,
    supervisor: String,
    home_a: String,
}

async fn town(app: &TestApp) -> Town {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-v").await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk-d").await;
    let supervisor = app.token("supervisor_a", PASSWORD, "desk-s").await;
    let home_a = new_id();
    push_ok(app, &volunteer, json!({"households": [household(&home_a, &org.grid_a, "西城区1号")]})).await;
    Town { org, volunteer, dispatcher, supervisor, home_a }
}

/// A ticket in town B's grid, reported `minutes` from now by its volunteer.
async fn ticket_in_town_b(app: &TestApp, org: &Org, minutes: i64) -> String {
    let volunteer_b = app.token("volunteer_b", PASSWORD, "phone-b").await;
    let (home, id) = (new_id(), new_id());
    push_ok(app, &volunteer_b, json!({"households": [household(&home, &org.grid_b, "红城镇2号")]})).await;
    push_ok(app, &volunteer_b, json!({"tickets": [ticket(&id, &home, minutes)]})).await;
    id
}

async fn day_end_alert_fires_at_the_policy_time(app: TestApp) {
    let t = town(&app).await;
    let admin = app.admin_token().await;
    set_policy(&app, &admin, json!({"day_end": "18:30"})).await;
    let (older, newer, fixed) = (new_id(), new_id(), new_id());
    let mut on_the_spot = ticket(&fixed, &t.home_a, -30);
    on_the_spot["resolved_on_the_spot"] = json!(true);
    let list = vec![ticket(&newer, &t.home_a, -10), ticket(&older, &t.home_a, -40), on_the_spot];
    push_ok(&app, &t.volunteer, json!({ "tickets": list })).await;
    let other = ticket_in_town_b(&app, &t.org, -20).await;

    let mut stream =
        app.client.get(app.url("/api/v1/alerts/stream")).bearer_auth(&t.supervisor).send().await.expect("stream");
    assert_eq!(stream.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Nothing before the day's end (whatever the hour the test runs at).
    let (to_day_end, at) = until_next(app.state.clock.now(), 18, 30);
    app.state.clock.advance(to_day_end - MIN);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(day_ends(&all_alerts(&app, &admin).await).is_empty(), "no day_end before 18:30");

    app.state.clock.advance(2 * MIN);
    let everywhere = wait_for_day_ends(&app, &admin, 2).await;
    assert_eq!(everywhere.len(), 2, "one per area with open tickets: {everywhere:?}");
    let mine = wait_for_day_ends(&app, &t.supervisor, 1).await;
    assert_eq!(mine.len(), 1, "town A's supervisor sees only grid A's: {mine:?}");
    let a = &mine[0];
    assert_eq!(a["ticket_id"], Value::Null);
    assert_eq!((&a["at"], &a["due_at"]), (&json!(utc(at)), &json!(utc(at))), "at the policy's 18:30 local: {a}");
    let d = &a["day_end"];
    assert_eq!(d["area_id"], t.org.grid_a);
    assert_eq!(d["area_name"], "网格一");
    assert_eq!(d["date"], at.format("%Y-%m-%d").to_string());
    assert_eq!(d["open"], 2);
    assert_eq!(d["ticket_ids"], json!([older, newer]), "open tickets, oldest first; the one fixed on the spot is not");
    let b = everywhere.iter().find(|x| x["day_end"]["area_id"] == t.org.grid_b).expect("grid B's alert");
    assert_eq!(b["day_end"]["ticket_ids"], json!([other]));

    // The stream delivered it too, as a `day_end` event.
    let mut text = String::new();
    let frame = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let chunk = stream.chunk().await.expect("chunk").expect("stream open");
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(f) = text.split("\n\n").find(|f| f.contains("event: day_end")) {
                return f.to_owned();
            }
        }
    })
    .await
    .expect("a day_end event within 5 s");
    let data: Value =
        serde_json::from_str(frame.lines().find_map(|l| l.strip_prefix("data: ")).expect("data")).expect("json");
    assert_eq!(data["day_end"]["area_id"], t.org.grid_a);

    // Once per day: later in the evening nothing new fires; the next evening does.
    app.state.clock.advance(3 * HOUR);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(day_ends(&all_alerts(&app, &admin).await).len(), 2, "still one per area and day");
    app.state.clock.advance(21 * HOUR);
    let both_days = wait_for_day_ends(&app, &t.supervisor, 2).await;
    assert_eq!(both_days.len(), 2, "{both_days:?}");
    let next_date = (at + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    assert_eq!(both_days[1]["day_end"]["date"], next_date);
    assert_eq!(both_days[1]["day_end"]["open"], 2);
}

async fn no_day_end_alert_when_everything_is_closed(app: TestApp) {
    let t = town(&app).await;
    let admin = app.admin_token().await;
    let id = new_id();
    let mut tk = ticket(&id, &t.home_a, -30);
    tk["resolved_on_the_spot"] = json!(true);
    push_ok(&app, &t.volunteer, json!({ "tickets": [tk] })).await;
    let (to_day_end, _) = until_next(app.state.clock.now(), 20, 0);
    app.state.clock.advance(to_day_end + MIN);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(day_ends(&all_alerts(&app, &admin).await).is_empty());
}

/// A ticket closed by the dispatcher `closed_minutes` from now (negative: ago), reported 30
/// minutes before that.
async fn closed_ticket(app: &TestApp, t: &Town, closed_minutes: i64, satisfaction: &str) -> String {
    let id = new_id();
    push_ok(app, &t.volunteer, json!({"tickets": [ticket(&id, &t.home_a, closed_minutes - 30)]})).await;
    let mut feedback = event(&new_id(), &id, "feedback", closed_minutes);
    feedback["satisfaction"] = json!(satisfaction);
    let list = vec![
        event(&new_id(), &id, "on_site", closed_minutes - 20),
        event(&new_id(), &id, "resolved", closed_minutes - 10),
        feedback,
    ];
    push_ok(app, &t.dispatcher, json!({ "ticket_events": list })).await;
    id
}

async fn callback(app: &TestApp, token: &str, ticket_id: &str, satisfaction: Option<&str>) -> (u16, Value) {
    let mut body = json!({"id": new_id(), "type": "callback", "occurred_at": at_minutes(0), "note": "电话回访"});
    if let Some(s) = satisfaction {
        body["satisfaction"] = json!(s);
    }
    app.post_as(token, &format!("/api/v1/tickets/{ticket_id}/events"), &body).await
}

fn ids(page: &Value) -> Vec<String> {
    page["tickets"].as_array().expect("tickets").iter().filter_map(|t| t["id"].as_str().map(str::to_owned)).collect()
}

async fn callback_list_shows_whom_to_call_back(app: TestApp) {
    let t = town(&app).await;
    let first = closed_ticket(&app, &t, -170, "satisfied").await;
    let second = closed_ticket(&app, &t, -100, "neutral").await;
    let called = closed_ticket(&app, &t, -90, "satisfied").await;
    let open = new_id();
    push_ok(&app, &t.volunteer, json!({"tickets": [ticket(&open, &t.home_a, -20)]})).await;
    let _elsewhere = ticket_in_town_b(&app, &t.org, -20).await;
    let (status, _) = callback(&app, &t.dispatcher, &called, Some("satisfied")).await;
    assert_eq!(status, 201);

    // Inside the 24 h window nobody is late yet; `pending=true` lists who is to be called.
    let d = &t.dispatcher;
    let (status, late) = app.get_as(d, "/api/v1/callbacks").await;
    assert_eq!(status, 200, "{late}");
    assert_eq!((ids(&late).len(), &late["callback_within_h"]), (0, &json!(24)));
    let (_, pending) = app.get_as(d, "/api/v1/callbacks?pending=true").await;
    assert_eq!(
        ids(&pending),
        [first.as_str(), second.as_str()],
        "oldest close first; not the called, open or other town's"
    );
    let row = &pending["tickets"][0];
    assert_eq!(row["household"]["address"], "西城区1号");
    assert_eq!(row["household"]["phone"], "13800000000");
    assert_eq!(row["feedback_satisfaction"], "satisfied");
    assert_eq!(row["callback_overdue_s"], 0);

    // A day later both are late, oldest first, one page at a time.
    app.state.clock.advance(24 * HOUR);
    let (_, p1) = app.get_as(d, "/api/v1/callbacks?limit=1").await;
    assert_eq!((ids(&p1), &p1["has_more"]), (vec![first.clone()], &json!(true)));
    assert!(p1["tickets"][0]["callback_overdue_s"].as_i64().is_some_and(|s| s > 0), "{p1}");
    let cursor = p1["cursor"].as_str().expect("cursor");
    let (_, p2) = app.get_as(d, &format!("/api/v1/callbacks?limit=1&cursor={cursor}")).await;
    assert_eq!((ids(&p2), &p2["has_more"]), (vec![second.clone()], &json!(false)));

    // A satisfied callback takes the ticket off the list and leaves it closed.
    let (status, after) = callback(&app, d, &first, Some("satisfied")).await;
    assert_eq!(status, 201, "{after}");
    assert_eq!(after["status"], "closed");
    let (_, late) = app.get_as(d, "/api/v1/callbacks").await;
    assert_eq!(ids(&late), [second.as_str()]);

    // Scope and bad input.
    let (status, _) = app.get_as(d, &format!("/api/v1/callbacks?area_id={}", t.org.town_b)).await;
    assert_eq!(status, 403);
    let (status, err) = app.get_as(d, &format!("/api/v1/callbacks?area_id={}", new_id())).await;
    assert_eq!((status, &err["error"]["field"]), (422, &json!("area_id")), "{err}");
    let (status, err) = app.get_as(d, "/api/v1/callbacks?limit=0").await;
    assert_eq!((status, &err["error"]["field"]), (400, &json!("limit")), "{err}");
    let (_, grid) = app.get_as(&t.supervisor, &format!("/api/v1/callbacks?area_id={}", t.org.grid_a)).await;
    assert_eq!(ids(&grid), [second.as_str()]);
    let admin_b = app.token("admin_b", PASSWORD, "desk-b").await;
    let (_, theirs) = app.get_as(&admin_b, "/api/v1/callbacks?pending=true").await;
    assert!(!ids(&theirs).contains(&second));
}

async fn only_the_desk_calls_back(app: TestApp) {
    let t = town(&app).await;
    let id = closed_ticket(&app, &t, -60, "satisfied").await;
    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    let admin = app.admin_token().await;
    for (token, list) in
        [(&t.volunteer, 403), (&handler, 403), (&t.dispatcher, 200), (&t.supervisor, 200), (&admin, 200)]
    {
        let (status, body) = app.get_as(token, "/api/v1/callbacks").await;
        assert_eq!(status, list, "{body}");
    }
    // A volunteer (the reporter) and a handler may not record a callback.
    for token in [&t.volunteer, &handler] {
        let (status, err) = callback(&app, token, &id, Some("satisfied")).await;
        assert_eq!((status, &err["error"]["field"]), (403, &json!("type")), "{err}");
    }
    // A callback records the resident's answer: without one it is refused, naming the field.
    let (status, err) = callback(&app, &t.supervisor, &id, None).await;
    assert_eq!((status, &err["error"]["field"]), (422, &json!("satisfaction")), "{err}");
    let (status, err) = callback(&app, &t.supervisor, &id, Some("happy")).await;
    assert_eq!((status, &err["error"]["field"]), (422, &json!("satisfaction")), "{err}");
    let (status, _) = app.get_json("/api/v1/callbacks").await;
    assert_eq!(status, 401);
    let (_, spec) = app.get_json("/openapi.json").await;
    assert!(spec["paths"]["/api/v1/callbacks"]["get"].is_object());
}

async fn an_unsatisfied_callback_reopens_the_ticket(app: TestApp) {
    let t = town(&app).await;
    let id = closed_ticket(&app, &t, -60, "satisfied").await;
    let (status, reopened) = callback(&app, &t.dispatcher, &id, Some("unsatisfied")).await;
    assert_eq!(status, 201, "{reopened}");
    assert_eq!((&reopened["status"], &reopened["stage"]), (&json!("open"), &json!("dispatch")), "{reopened}");
    let cycle_two: Vec<&Value> =
        reopened["stages"].as_array().expect("stages").iter().filter(|s| s["cycle"] == 2).collect();
    assert_eq!(cycle_two.len(), 3, "a second cycle without classify: {reopened}");
    let timeline: Vec<&str> =
        reopened["events"].as_array().expect("events").iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(timeline.last(), Some(&"callback"));
    let (_, pending) = app.get_as(&t.dispatcher, "/api/v1/callbacks?pending=true").await;
    assert!(ids(&pending).is_empty(), "a reopened ticket is not on the list: {pending}");

    // Closed again, it needs a new callback.
    close_now(&app, &t, &id).await;
    let (_, pending) = app.get_as(&t.dispatcher, "/api/v1/callbacks?pending=true").await;
    assert_eq!(ids(&pending), [id.as_str()]);

    // Under a policy that does not reopen (for tickets reported after it), an unsatisfied
    // callback only records the answer.
    let admin = app.admin_token().await;
    set_policy(&app, &admin, json!({"reopen_on_unsatisfied_callback": false})).await;
    let later = new_id();
    push_ok(&app, &t.volunteer, json!({"tickets": [ticket(&later, &t.home_a, 0)]})).await;
    close_now(&app, &t, &later).await;
    let (status, kept) = callback(&app, &t.dispatcher, &later, Some("unsatisfied")).await;
    assert_eq!((status, &kept["status"]), (201, &json!("closed")), "{kept}");
    let (_, pending) = app.get_as(&t.dispatcher, "/api/v1/callbacks?pending=true").await;
    assert_eq!(ids(&pending), [id], "the called-back ticket left the list");
}

/// The dispatcher records the repair and the feedback now.
async fn close_now(app: &TestApp, t: &Town, id: &str) {
    let mut feedback = event(&new_id(), id, "feedback", 0);
    feedback["satisfaction"] = json!("satisfied");
    let list = vec![event(&new_id(), id, "on_site", 0), event(&new_id(), id, "resolved", 0), feedback];
    push_ok(app, &t.dispatcher, json!({ "ticket_events": list })).await;
}

backend_tests!(
    day_end_alert_fires_at_the_policy_time,
    no_day_end_alert_when_everything_is_closed,
    callback_list_shows_whom_to_call_back,
    only_the_desk_calls_back,
    an_unsatisfied_callback_reopens_the_ticket,
);

/// Two server instances on one PostgreSQL database, both trackers past the day's end at once:
/// each area's day-end alert is stored once.
#[tokio::test]
async fn two_trackers_on_one_postgres_fire_one_day_end_per_area() {
    let one = TestApp::spawn(Db::Postgres).await;
    let two = TestApp::spawn_on(Db::Postgres, one.settings.database_url.clone()).await;
    let t = town(&one).await;
    let list: Vec<Value> = (0..5).map(|_| ticket(&new_id(), &t.home_a, -10)).collect();
    push_ok(&one, &t.volunteer, json!({ "tickets": list })).await;
    let _b = ticket_in_town_b(&one, &t.org, -10).await;
    let (to_day_end, _) = until_next(one.state.clock.now(), 20, 0);
    one.state.clock.advance(to_day_end + MIN);
    two.state.clock.advance(to_day_end + MIN);
    let admin = one.admin_token().await;
    let found = wait_for_day_ends(&two, &admin, 2).await;
    assert_eq!(found.len(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let found = day_ends(&all_alerts(&one, &admin).await);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        found.iter().find(|a| a["day_end"]["area_id"] == t.org.grid_a).map(|a| &a["day_end"]["open"]),
        Some(&json!(5))
    );
    drop(two);
}
