//! Offline sync over real HTTP on both backends: idempotent pushes, per-record results, clock
//! correction, limits, household merge, permissions and gap-free pulls.

use crate::harness;

use std::io::Write;

use harness::*;
use serde_json::{json, Value};

async fn volunteer(app: &TestApp) -> (Org, String) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    (org, token)
}

fn result_for<'a>(res: &'a Value, id: &str) -> &'a Value {
    res["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result for {id}: {res}"))
}

async fn a_day_of_records_lands_once_and_a_replay_returns_the_stored_answer(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let (h, v, t, e) = (new_id(), new_id(), new_id(), new_id());
    // References inside one batch: the visit and ticket name the household created in it.
    let body = batch(
        &at_minutes(0),
        json!({
            "households": [household(&h, &org.grid_a, "西城区3号楼2单元501")],
            "visits": [visit(&v, &h, -30)],
            "tickets": [ticket(&t, &h, -29)],
            "ticket_events": [event(&e, &t, "comment", -28)],
        }),
    );
    let (status, first) = app.push(&token, &body).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["summary"]["applied"], 4, "{first}");
    assert_eq!(first["batch_id"], body["batch_id"]);
    // The same batch again (a retry after a timeout): the stored answer, nothing applied twice.
    let (status, again) = app.push(&token, &body).await;
    assert_eq!(status, 200);
    assert_eq!(again, first);
    // The same records in a new batch: duplicates.
    let mut resent = body.clone();
    resent["batch_id"] = json!(new_id());
    let (_, res) = app.push(&token, &resent).await;
    assert_eq!(res["summary"]["duplicate"], 4, "{res}");

    let (pages, _) = app.pull_all(&token, None, 500).await;
    assert_eq!(ids_in(&pages, "households"), vec![h.clone()]);
    assert_eq!(ids_in(&pages, "visits"), vec![v]);
    assert_eq!(ids_in(&pages, "tickets"), vec![t.clone()]);
    assert_eq!(ids_in(&pages, "ticket_events"), vec![e]);
    let ticket = &pages[0]["tickets"][0];
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["stage"], "classify");
    assert_eq!(ticket["area_id"], org.grid_a);
    assert_eq!(ticket["stages"].as_array().map(Vec::len), Some(4));
    assert_eq!(ticket["stages"][0]["state"], "pending");
    assert!(pages[0]["areas"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(pages[0]["policy"]["stages"][0]["window_s"], 3600);
}

async fn immutable_records_report_duplicate_or_conflict_with_current(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let (h, v) = (new_id(), new_id());
    app.push(
        &token,
        &batch(
            &at_minutes(0),
            json!({"households": [household(&h, &org.grid_a, "1号")], "visits": [visit(&v, &h, -5)]}),
        ),
    )
    .await;
    let mut changed = visit(&v, &h, -5);
    changed["indoor_temp_c"] = json!(21.0);
    let (_, res) = app.push(&token, &batch(&at_minutes(0), json!({"visits": [changed]}))).await;
    let r = result_for(&res, &v);
    assert_eq!(r["status"], "conflict", "{res}");
    assert_eq!(r["current"]["indoor_temp_c"], 16.5, "the stored record is kept and shown");
    // Twice in one batch: the second is a duplicate of the first (one value: two `visit` calls
    // could read the clock a millisecond apart and make two different records).
    let twice = visit(&new_id(), &h, -4);
    let (_, res) = app.push(&token, &batch(&at_minutes(0), json!({"visits": [twice.clone(), twice]}))).await;
    let got: Vec<String> = statuses(&res).into_iter().map(|s| s.2).collect();
    assert_eq!(got, vec!["applied", "duplicate"]);
}

async fn one_bad_record_is_rejected_with_its_field_and_the_rest_apply(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let h = new_id();
    let mut bad_temp = visit(&new_id(), &h, -3);
    bad_temp["indoor_temp_c"] = json!("warm");
    let orphan = visit(&new_id(), &new_id(), -3);
    let mut no_offset = visit(&new_id(), &h, -3);
    no_offset["visited_at"] = json!("2026-11-27T10:00:00");
    let good: Vec<Value> = (0..5).map(|i| visit(&new_id(), &h, -10 - i)).collect();
    let mut visits = vec![bad_temp, orphan, no_offset];
    visits.extend(good);
    let (status, res) = app
        .push(
            &token,
            &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "2号")], "visits": visits})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(res["summary"]["applied"], 6, "{res}");
    assert_eq!(res["summary"]["rejected"], 3);
    let rejected: Vec<(&str, &str)> = res["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "rejected")
        .map(|r| (r["error"]["code"].as_str().unwrap_or(""), r["error"]["field"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(rejected[0].1, "visits[0].indoor_temp_c");
    assert_eq!(rejected[1], ("unknown_household", "visits[1].household_id"));
    assert_eq!(rejected[2].1, "visits[2].visited_at");
}

async fn writes_outside_scope_or_role_are_refused_per_record(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let (h_b, h_a, t) = (new_id(), new_id(), new_id());
    let (_, res) = app
        .push(&token, &batch(&at_minutes(0), json!({"households": [household(&h_b, &org.grid_b, "外镇"), household(&h_a, &org.grid_a, "本镇")], "tickets": [ticket(&t, &h_a, -20)]})))
        .await;
    assert_eq!(result_for(&res, &h_b)["error"]["code"], "out_of_scope");
    assert_eq!(result_for(&res, &h_a)["status"], "applied");
    // A volunteer may not dispatch; a handler may not create households.
    let d = new_id();
    let mut dispatch = event(&d, &t, "dispatched", -10);
    dispatch["team_id"] = json!(org.team_a);
    let (_, res) = app.push(&token, &batch(&at_minutes(0), json!({"ticket_events": [dispatch.clone()]}))).await;
    assert_eq!(result_for(&res, &d)["error"]["code"], "forbidden");
    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    let h2 = new_id();
    let (_, res) =
        app.push(&handler, &batch(&at_minutes(0), json!({"households": [household(&h2, &org.grid_a, "x")]}))).await;
    assert_eq!(result_for(&res, &h2)["error"]["code"], "forbidden");
    // Town B's volunteer cannot touch town A's ticket.
    let vb = app.token("volunteer_b", PASSWORD, "phone-b").await;
    let c = new_id();
    let (_, res) =
        app.push(&vb, &batch(&at_minutes(0), json!({"ticket_events": [event(&c, &t, "comment", -5)]}))).await;
    assert_eq!(result_for(&res, &c)["error"]["code"], "out_of_scope");
    // The dispatcher dispatches; then the team's handler records arrival.
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk").await;
    let (_, res) = app.push(&dispatcher, &batch(&at_minutes(0), json!({"ticket_events": [dispatch]}))).await;
    assert_eq!(result_for(&res, &d)["status"], "applied", "{res}");
    let o = new_id();
    let (_, res) =
        app.push(&handler, &batch(&at_minutes(0), json!({"ticket_events": [event(&o, &t, "on_site", -5)]}))).await;
    assert_eq!(result_for(&res, &o)["status"], "applied", "{res}");
    // Before the report: refused.
    let early = new_id();
    let (_, res) = app
        .push(&dispatcher, &batch(&at_minutes(0), json!({"ticket_events": [event(&early, &t, "comment", -120)]})))
        .await;
    assert_eq!(result_for(&res, &early)["error"]["code"], "event_before_report");
}

async fn skewed_clocks_are_corrected_and_future_times_refused(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let h = new_id();
    app.push(&token, &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "3号")]}))).await;
    for skew_min in [-180i64, 180] {
        // The phone's clock is `skew` off: it says "now" is now+skew, and the visit 30 min before that.
        let v = new_id();
        let body = batch(&at_minutes(skew_min), json!({"visits": [visit(&v, &h, skew_min - 30)]}));
        let (_, res) = app.push(&token, &body).await;
        assert_eq!(result_for(&res, &v)["status"], "applied", "{res}");
        let offset = res["clock_offset_ms"].as_i64().expect("offset");
        assert!((offset + skew_min * 60_000).abs() < 5_000, "offset {offset} for skew {skew_min} min");
        let (pages, _) = app.pull_all(&token, None, 1000).await;
        let stored = pages
            .iter()
            .flat_map(|p| p["visits"].as_array().cloned().unwrap_or_default())
            .find(|x| x["id"] == v)
            .expect("pulled");
        let corrected =
            chrono::DateTime::parse_from_rfc3339(stored["visited_at"].as_str().expect("t")).expect("rfc3339");
        let raw =
            chrono::DateTime::parse_from_rfc3339(stored["device_visited_at"].as_str().expect("t")).expect("rfc3339");
        let expected = chrono::Utc::now() - chrono::Duration::minutes(30);
        assert!((corrected.timestamp() - expected.timestamp()).abs() < 10, "corrected {corrected}");
        assert!(((raw - corrected).num_minutes() - skew_min).abs() <= 1, "raw {raw} kept beside corrected {corrected}");
        assert_eq!(stored["clock_verified"], false);
    }
    // Tamper-evident time: the same boot session → the time comes from elapsed milliseconds,
    // whatever the wall clock says (here it is a day off), and is marked verified.
    let tv = new_id();
    let mut stamped = visit(&tv, &h, 24 * 60);
    stamped["boot_id"] = json!("boot-42");
    stamped["elapsed_ms"] = json!(1_000_000 - 600_000);
    let mut body = batch(&at_minutes(24 * 60), json!({"visits": [stamped]}));
    body["device_boot_id"] = json!("boot-42");
    body["device_elapsed_ms"] = json!(1_000_000);
    let (_, res) = app.push(&token, &body).await;
    assert_eq!(result_for(&res, &tv)["status"], "applied", "{res}");
    let (pages, _) = app.pull_all(&token, None, 1000).await;
    let stored = pages
        .iter()
        .flat_map(|p| p["visits"].as_array().cloned().unwrap_or_default())
        .find(|x| x["id"] == tv)
        .expect("pulled");
    assert_eq!(stored["clock_verified"], true);
    let at = chrono::DateTime::parse_from_rfc3339(stored["visited_at"].as_str().expect("t")).expect("rfc3339");
    let expected = chrono::Utc::now() - chrono::Duration::minutes(10);
    assert!((at.timestamp() - expected.timestamp()).abs() < 10, "verified time {at}, expected about {expected}");

    // A right clock and a visit an hour in the future: refused.
    let f = new_id();
    let (_, res) = app.push(&token, &batch(&at_minutes(0), json!({"visits": [visit(&f, &h, 60)]}))).await;
    assert_eq!(result_for(&res, &f)["error"]["code"], "timestamp_in_future");
    assert_eq!(result_for(&res, &f)["error"]["field"], "visits[0].visited_at");
}

async fn envelope_limits_and_formats(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let mut old = batch(&at_minutes(0), json!({}));
    old["protocol_version"] = json!(2);
    let (status, res) = app.push(&token, &old).await;
    assert_eq!((status, res["error"]["code"].as_str()), (426, Some("unsupported_protocol_version")));
    let too_many: Vec<Value> = (0..1001).map(|i| visit(&new_id(), &new_id(), -i)).collect();
    let (status, res) = app.push(&token, &batch(&at_minutes(0), json!({"visits": too_many}))).await;
    assert_eq!((status, res["error"]["code"].as_str()), (413, Some("batch_too_large")));
    let raw = |body: Vec<u8>, encoding: Option<&str>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/sync/push"))
            .bearer_auth(&token)
            .header("content-type", "application/json");
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        req.body(body).send()
    };
    let res = raw(b"{\"protocol_version\": 1, ".to_vec(), None).await.expect("sent");
    let (status, body) = json_of(res).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_json")));
    let huge = format!("{{\"protocol_version\":1,\"pad\":\"{}\"}}", "x".repeat(9 * 1024 * 1024));
    let (status, body) = json_of(raw(huge.into_bytes(), None).await.expect("sent")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("batch_too_large")));
    // gzip: the same rules, the records applied.
    let h = new_id();
    let plain = batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "压缩")]})).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(plain.as_bytes()).expect("gzip");
    let (status, body) = json_of(raw(gz.finish().expect("gzip"), Some("gzip")).await.expect("sent")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(result_for(&body, &h)["status"], "applied");
    let (status, info) = app.get_as(&token, "/api/v1/sync/info").await;
    assert_eq!(status, 200);
    assert_eq!(info["protocol_versions"], json!([1]));
    assert_eq!(info["max_batch_records"], 1000);
}

async fn stale_household_edits_are_merged_field_by_field(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let other = app.token("supervisor_a", PASSWORD, "tablet").await;
    let h = new_id();
    app.push(&token, &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "4号")]}))).await;
    // Both saw version 1. The supervisor changes the phone number; the volunteer the heating and, later, the phone too.
    let mut a = household(&h, &org.grid_a, "4号");
    a["base_version"] = json!(1);
    a["phone"] = json!("13911111111");
    a["updated_at"] = json!(at_minutes(-20));
    let (_, res) = app.push(&other, &batch(&at_minutes(0), json!({"households": [a]}))).await;
    assert_eq!(result_for(&res, &h)["status"], "applied", "{res}");
    let mut b = household(&h, &org.grid_a, "4号");
    b["base_version"] = json!(1);
    b["heating"] = json!("gas");
    b["phone"] = json!("13922222222");
    b["updated_at"] = json!(at_minutes(-10));
    let (_, res) = app.push(&token, &batch(&at_minutes(0), json!({"households": [b]}))).await;
    let r = result_for(&res, &h);
    assert_eq!(r["status"], "merged", "{res}");
    assert_eq!(r["conflicting_fields"], json!(["phone"]));
    assert_eq!(r["current"]["heating"], "gas", "the phone's own change is kept");
    assert_eq!(r["current"]["phone"], "13922222222", "the later edit wins the conflict");
    assert_eq!(r["current"]["version"], 3);
}

async fn pull_pages_resume_and_reject_foreign_cursors(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let h = new_id();
    let visits: Vec<Value> = (0..7).map(|i| visit(&new_id(), &h, -60 + i)).collect();
    app.push(
        &token,
        &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "5号")], "visits": visits})),
    )
    .await;
    let (pages, cursor) = app.pull_all(&token, None, 3).await;
    assert_eq!(pages.len(), 3, "8 records in pages of 3");
    assert_eq!(ids_in(&pages, "visits").len(), 7);
    // Nothing new: an empty page. New records: exactly those.
    let (pages, cursor) = app.pull_all(&token, cursor, 3).await;
    assert!(ids_in(&pages, "visits").is_empty());
    let v = new_id();
    app.push(&token, &batch(&at_minutes(0), json!({"visits": [visit(&v, &h, -1)]}))).await;
    let (pages, _) = app.pull_all(&token, cursor.clone(), 3).await;
    assert_eq!(ids_in(&pages, "visits"), vec![v]);
    // Another user's cursor or garbage: 409 cursor_reset.
    let other = app.token("volunteer_b", PASSWORD, "phone-b").await;
    let (status, res) = app.get_as(&other, &format!("/api/v1/sync/pull?cursor={}", cursor.expect("cursor"))).await;
    assert_eq!((status, res["error"]["code"].as_str()), (409, Some("cursor_reset")));
    let (status, _) = app.get_as(&token, "/api/v1/sync/pull?cursor=not-a-cursor").await;
    assert_eq!(status, 409);
    // Town B sees none of it.
    let (pages, _) = app.pull_all(&other, None, 100).await;
    assert!(ids_in(&pages, "visits").is_empty() && ids_in(&pages, "households").is_empty());
}

/// A pull serves nothing above the writer's horizon (where a shared commit still awaits its
/// fsync, `sync::wal_sync`): the cursor stays below it, and the rows come once it is released.
async fn a_pull_stops_at_the_horizon_and_resumes_past_it(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let h = new_id();
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let first: Vec<String> = (0..3).map(|_| new_id()).collect();
    let visits: Vec<Value> = first.iter().map(|v| visit(v, &h, -30)).collect();
    let body = json!({"households": [household(&h, &org.grid_a, "7号")], "visits": visits});
    assert_eq!(app.push(&token, &batch(&at_minutes(0), body)).await.0, 200);
    let (_, cursor) = app.pull_all(&token, None, 2).await;
    let below = {
        let mut conn = app.state.pool.get().expect("connection");
        fieldvisit_server::db::seq::current(&mut conn).expect("counter")
    };
    let later: Vec<String> = (0..3).map(|_| new_id()).collect();
    let visits: Vec<Value> = later.iter().map(|v| visit(v, &h, -20)).collect();
    assert_eq!(app.push(&token, &batch(&at_minutes(0), json!({"visits": visits}))).await.0, 200);

    app.state.writer.horizon().hold(fieldvisit_server::db::seq::Before { seq: below, alert_id: i64::MAX });
    let (pages, held) = app.pull_all(&token, cursor.clone(), 2).await;
    assert!(ids_in(&pages, "visits").is_empty(), "{pages:?}");
    assert_eq!(held, cursor, "the cursor does not move past the horizon");
    let (pages, _) = app.pull_all(&token, None, 2).await;
    assert_eq!(sorted(ids_in(&pages, "visits")), sorted(first.clone()));

    app.state.writer.horizon().release();
    let (pages, _) = app.pull_all(&token, held, 2).await;
    assert_eq!(sorted(ids_in(&pages, "visits")), sorted(later));
}

async fn a_team_pulls_its_tickets_and_learns_when_one_is_taken_away(app: TestApp) {
    let (org, token) = volunteer(&app).await;
    let admin = &org.admin;
    let team_b = app
        .create(admin, "/api/v1/teams", json!({"name": "二站", "area_id": org.town_a, "categories": ["heating"]}))
        .await;
    let (h, t, c, d1, d2) = (new_id(), new_id(), new_id(), new_id(), new_id());
    app.push(
        &token,
        &batch(
            &at_minutes(0),
            json!({"households": [household(&h, &org.grid_a, "6号")], "tickets": [ticket(&t, &h, -50)],
        "ticket_events": [event(&c, &t, "comment", -49)]}),
        ),
    )
    .await;
    let handler = app.token("handler_a", PASSWORD, "phone-h").await;
    let (_, cursor) = app.pull_all(&handler, None, 100).await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk").await;
    let mut to_a = event(&d1, &t, "dispatched", -40);
    to_a["team_id"] = json!(org.team_a);
    app.push(&dispatcher, &batch(&at_minutes(0), json!({"ticket_events": [to_a]}))).await;
    let (pages, cursor) = app.pull_all(&handler, cursor, 100).await;
    assert_eq!(ids_in(&pages, "tickets"), vec![t.clone()]);
    let mut events = ids_in(&pages, "ticket_events");
    events.sort();
    let mut expected = vec![c.clone(), d1.clone()];
    expected.sort();
    assert_eq!(events, expected, "the earlier history comes along with the dispatch");
    let mut to_b = event(&d2, &t, "dispatched", -30);
    to_b["team_id"] = json!(team_b);
    app.push(&dispatcher, &batch(&at_minutes(0), json!({"ticket_events": [to_b]}))).await;
    let (pages, _) = app.pull_all(&handler, cursor, 100).await;
    let removed: Vec<&Value> = pages.iter().flat_map(|p| p["removed"].as_array().into_iter().flatten()).collect();
    assert_eq!(removed.len(), 1, "{pages:?}");
    assert_eq!(removed[0]["type"], "ticket");
    assert_eq!(removed[0]["id"], t);
}

/// Many writers push while a reader follows with its cursor: the reader ends with every applied
/// record exactly once, on both backends.
async fn a_reader_following_concurrent_writers_misses_nothing(app: TestApp) {
    let org = app.org().await;
    let admin = org.admin.clone();
    let h = new_id();
    app.push(&admin, &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "7号")]}))).await;
    let app = std::sync::Arc::new(app);
    let mut writers = Vec::new();
    for w in 0..6 {
        let app = app.clone();
        let token = app.token("admin", ADMIN_PASSWORD, &format!("writer-{w}")).await;
        let h = h.clone();
        writers.push(tokio::spawn(async move {
            let mut applied = Vec::new();
            for _ in 0..8 {
                let visits: Vec<Value> = (0..25).map(|i| visit(&new_id(), &h, -100 + i)).collect();
                let (status, res) = app.push(&token, &batch(&at_minutes(0), json!({"visits": visits}))).await;
                assert_eq!(status, 200, "{res}");
                applied.extend(statuses(&res).into_iter().filter(|s| s.2 == "applied").map(|s| s.1));
            }
            applied
        }));
    }
    let reader = app.token("admin", ADMIN_PASSWORD, "reader").await;
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = None;
    while writers.iter().any(|w| !w.is_finished()) {
        let (pages, c) = app.pull_all(&reader, cursor, 37).await;
        seen.extend(ids_in(&pages, "visits"));
        cursor = c;
    }
    let mut applied = Vec::new();
    for w in writers {
        applied.extend(w.await.expect("writer"));
    }
    let (pages, _) = app.pull_all(&reader, cursor, 37).await;
    seen.extend(ids_in(&pages, "visits"));
    assert_eq!(applied.len(), 6 * 8 * 25);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a visit was pulled twice");
    let mut seen_sorted = seen.clone();
    seen_sorted.sort();
    applied.sort();
    assert_eq!(seen_sorted, applied, "every applied visit pulled exactly once");
}

/// A pull reads one of two ways (`scope::is_broad`): the county admin's and town A's scopes (half
/// the areas or more) walk `seq` and filter by area; town B's reads by area and sorts. Both must
/// page through exactly their own records.
async fn broad_and_narrow_scopes_page_through_exactly_their_records(app: TestApp) {
    let (org, a) = volunteer(&app).await;
    let b = app.token("volunteer_b", PASSWORD, "phone-b").await;
    let mut pushed: Vec<Vec<String>> = Vec::new();
    for (token, grid) in [(&a, &org.grid_a), (&b, &org.grid_b)] {
        let h = new_id();
        let visits: Vec<Value> = (0..5).map(|i| visit(&new_id(), &h, -30 + i)).collect();
        let mut ids: Vec<String> = visits.iter().map(|v| v["id"].as_str().expect("id").to_owned()).collect();
        let body = batch(&at_minutes(0), json!({"households": [household(&h, grid, "6号")], "visits": visits}));
        app.push(token, &body).await;
        ids.sort();
        pushed.push(ids);
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let admin = app.admin_token().await;
    let (pages, _) = app.pull_all(&admin, None, 3).await;
    let everything = sorted([pushed[0].clone(), pushed[1].clone()].concat());
    assert_eq!(sorted(ids_in(&pages, "visits")), everything, "the county sees both grids, each visit once");
    let (pages, _) = app.pull_all(&a, None, 3).await;
    assert_eq!(sorted(ids_in(&pages, "visits")), pushed[0], "town A sees only its grid");
    let (pages, _) = app.pull_all(&b, None, 3).await;
    assert_eq!(sorted(ids_in(&pages, "visits")), pushed[1], "town B sees only its grid");
}

/// A push that fails in the database (here a trigger, standing in for a full disk or a broken
/// constraint) while it shares a commit with others fails alone: the writer applies the group
/// again push by push, the others are stored and answered, and nothing of the failed push stays,
/// so its retry applies every record. Bursts repeat until one failure met company in a group.
/// The push writer's connection commits without waiting for the disk (its WAL fsync is done
/// apart, `sync::wal_sync`). When the writer lets go of it, after a push that failed alone, the
/// next caller the pool hands it to must get commits that wait for the disk again.
#[tokio::test]
async fn a_connection_the_writer_lets_go_waits_for_the_disk_again() {
    #[derive(diesel::QueryableByName)]
    struct Level {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }
    let app = TestApp::spawn(Db::Sqlite).await;
    let org = app.org().await;
    let h = new_id();
    app.push(&org.admin, &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "3号")]}))).await;
    {
        use diesel::connection::SimpleConnection;
        let mut conn = app.state.pool.get().expect("connection");
        conn.batch_execute(
            "CREATE TRIGGER fail_on_purpose BEFORE INSERT ON visits WHEN NEW.notes = 'fail' \
             BEGIN SELECT RAISE(ABORT, 'failed on purpose'); END;",
        )
        .expect("trigger");
    }
    let mut failing = visit(&new_id(), &h, -5);
    failing["notes"] = json!("fail");
    let (status, res) = app.push(&org.admin, &batch(&at_minutes(0), json!({"visits": [failing]}))).await;
    assert!(status >= 500, "{status} {res}");

    // Every connection the pool has, the writer's among them (it holds none after the failure).
    let mut all: Vec<_> = (0..app.settings.db_pool_size).map(|_| app.state.pool.get().expect("connection")).collect();
    for conn in &mut all {
        let fieldvisit_server::db::DbConn::Sqlite(c) = &mut **conn else { panic!("a SQLite pool") };
        let level: Level = diesel::RunQueryDsl::get_result(diesel::sql_query("PRAGMA synchronous"), c).expect("pragma");
        assert_eq!(level.synchronous, 2, "synchronous = FULL on every pooled connection");
    }
}

/// On SQLite the push writer starts the WAL over once it passes `FIELDVISIT_WAL_REWIND_MIB` (1 MiB
/// here, 1,024 by default): it copies the last frames into the database file without syncing it and
/// has the file synced beside the next group, whose commit waits for that fsync. Pushes that keep
/// coming across several rewinds are all stored, each once, and the database stays sound.
#[tokio::test]
async fn pushes_across_wal_rewinds_are_stored_once_and_the_database_stays_sound() {
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.wal_rewind_mib = 1).await;
    let org = app.org().await;
    let h = new_id();
    app.push(&org.admin, &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "3号")]}))).await;
    let started = std::time::Instant::now();
    let mut stored = Vec::new();
    while app.state.writer.rewinds() < 3 {
        assert!(
            started.elapsed().as_secs() < 120,
            "3 rewinds expected; {} after {} visits",
            app.state.writer.rewinds(),
            stored.len()
        );
        let visits: Vec<Value> = (0..200).map(|i| visit(&new_id(), &h, -300 + i)).collect();
        let (status, res) = app.push(&org.admin, &batch(&at_minutes(0), json!({"visits": visits}))).await;
        assert_eq!(status, 200, "{res}");
        assert!(statuses(&res).iter().all(|s| s.2 == "applied"), "{res}");
        stored.extend(statuses(&res).into_iter().map(|s| s.1));
    }
    let (pages, _) = app.pull_all(&org.admin, None, 1000).await;
    let mut pulled = ids_in(&pages, "visits");
    pulled.sort();
    stored.sort();
    assert_eq!(pulled.len(), stored.len());
    assert_eq!(pulled, stored, "every answered visit stored once");
    let mut conn = app.state.pool.get().expect("connection");
    let fieldvisit_server::db::DbConn::Sqlite(c) = &mut *conn else { panic!("a SQLite pool") };
    let check: Check = diesel::RunQueryDsl::get_result(diesel::sql_query("PRAGMA integrity_check"), c).expect("check");
    assert_eq!(check.integrity_check, "ok");
}

async fn a_push_failing_in_a_shared_commit_fails_alone(app: TestApp) {
    let org = app.org().await;
    let admin = org.admin.clone();
    let h = new_id();
    app.push(&admin, &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "9号")]}))).await;
    let trigger = match app.db {
        Db::Sqlite => {
            "CREATE TRIGGER fail_on_purpose BEFORE INSERT ON visits WHEN NEW.notes = 'fail' \
             BEGIN SELECT RAISE(ABORT, 'failed on purpose'); END;"
        }
        Db::Postgres => {
            "CREATE FUNCTION fail_on_purpose() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.notes = 'fail' THEN RAISE EXCEPTION 'failed on purpose'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER fail_on_purpose BEFORE INSERT ON visits FOR EACH ROW EXECUTE FUNCTION fail_on_purpose();"
        }
    };
    let pool = app.state.pool.clone();
    let execute = |sql: &'static str| {
        use diesel::connection::SimpleConnection;
        pool.get().expect("connection").batch_execute(sql).expect("trigger")
    };
    execute(trigger);
    let app = std::sync::Arc::new(app);
    let mut tokens = Vec::new();
    for d in 0..8 {
        tokens.push(app.token("admin", ADMIN_PASSWORD, &format!("burst-{d}")).await);
    }
    let (mut stored, mut failed_batches) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let pushes: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(d, token)| {
                let mut visits: Vec<Value> = (0..20).map(|i| visit(&new_id(), &h, -60 + i)).collect();
                if d == 4 {
                    visits[7]["notes"] = json!("fail");
                }
                let (app, token, body) = (app.clone(), token.clone(), batch(&at_minutes(0), json!({"visits": visits})));
                tokio::spawn(async move { (d, app.push(&token, &body).await, body) })
            })
            .collect();
        for push in pushes {
            let (d, (status, res), body) = push.await.expect("push task");
            if d == 4 {
                assert!(status >= 500, "the failing push must fail: {status} {res}");
                assert_eq!(res["error"]["code"], "internal_error", "{res}");
                failed_batches.push(body);
            } else {
                assert_eq!(status, 200, "a push that shared the commit failed with it: {res}");
                assert!(statuses(&res).iter().all(|s| s.2 == "applied"), "{res}");
                stored.extend(statuses(&res).into_iter().map(|s| s.1));
            }
        }
        if app.state.writer.fallbacks() > 0 {
            break;
        }
    }
    assert!(app.state.writer.fallbacks() > 0, "no failing push ever shared a commit");
    let (pages, _) = app.pull_all(&admin, None, 500).await;
    let mut pulled = ids_in(&pages, "visits");
    pulled.sort();
    stored.sort();
    assert_eq!(pulled, stored, "exactly the answered pushes' visits are stored, each once");
    execute(match app.db {
        Db::Sqlite => "DROP TRIGGER fail_on_purpose;",
        Db::Postgres => "DROP TRIGGER fail_on_purpose ON visits; DROP FUNCTION fail_on_purpose();",
    });
    for body in failed_batches {
        let (status, res) = app.push(&admin, &body).await;
        assert_eq!(status, 200, "{res}");
        assert!(statuses(&res).iter().all(|s| s.2 == "applied"), "nothing of the failed push was kept: {res}");
    }
}

backend_tests!(
    a_push_failing_in_a_shared_commit_fails_alone,
    broad_and_narrow_scopes_page_through_exactly_their_records,
    a_day_of_records_lands_once_and_a_replay_returns_the_stored_answer,
    immutable_records_report_duplicate_or_conflict_with_current,
    one_bad_record_is_rejected_with_its_field_and_the_rest_apply,
    writes_outside_scope_or_role_are_refused_per_record,
    skewed_clocks_are_corrected_and_future_times_refused,
    envelope_limits_and_formats,
    stale_household_edits_are_merged_field_by_field,
    pull_pages_resume_and_reject_foreign_cursors,
    a_pull_stops_at_the_horizon_and_resumes_past_it,
    a_team_pulls_its_tickets_and_learns_when_one_is_taken_away,
    a_reader_following_concurrent_writers_misses_nothing,
);
