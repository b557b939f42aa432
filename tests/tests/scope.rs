//! Data scope (contract 1.1): nothing of a record outside the caller's scope leaves through push,
//! photos are readable only through their uploader's records, stages are completed only by roles
//! that may complete them, dispatch goes only to teams that serve the ticket.

use crate::harness;

use harness::*;
use serde_json::{json, Value};

fn result_of<'a>(res: &'a Value, id: &str) -> &'a Value {
    res["results"].as_array().and_then(|rs| rs.iter().find(|r| r["id"] == id)).unwrap_or(&Value::Null)
}

/// Town A's volunteer stores a household, a visit, a ticket and an event.
async fn town_a_records(app: &TestApp, org: &Org, volunteer: &str) -> (String, String, String, String) {
    let (h, v, t, e) = (new_id(), new_id(), new_id(), new_id());
    let records = json!({"households": [household(&h, &org.grid_a, "1号")], "visits": [visit(&v, &h, -30)],
        "tickets": [ticket(&t, &h, -20)], "ticket_events": [event(&e, &t, "comment", -10)]});
    let (status, res) = app.push(volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!((status, &res["summary"]["applied"]), (200, &json!(4)), "{res}");
    (h, v, t, e)
}

async fn conflicts_show_current_only_within_scope(app: TestApp) {
    let org = app.org().await;
    let vol_a = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let vol_b = app.token("volunteer_b", PASSWORD, &new_id()).await;
    let (_, v, t, e) = town_a_records(&app, &org, &vol_a).await;

    // Town B's volunteer reuses the ids on records of their own town.
    let (hb, tb) = (new_id(), new_id());
    let records = json!({"households": [household(&hb, &org.grid_b, "2号")], "visits": [visit(&v, &hb, -15)],
        "tickets": [ticket(&t, &hb, -14), ticket(&tb, &hb, -14)], "ticket_events": [event(&e, &tb, "comment", -5)]});
    let (status, res) = app.push(&vol_b, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    for id in [&v, &t, &e] {
        let r = result_of(&res, id);
        assert_eq!(r["status"], "conflict", "{res}");
        assert!(r.get("current").is_none(), "a foreign record leaked through a conflict: {r}");
    }
    let text = res.to_string();
    assert!(!text.contains("暖气片不热") && !text.contains("室温16度"), "foreign content in {text}");

    // The author still gets the stored record back on a conflict of their own.
    let (_, own) = app.push(&vol_a, &batch(&at_minutes(0), json!({"visits": [visit(&v, &new_id(), -29)]}))).await;
    let r = result_of(&own, &v);
    assert_eq!(r["status"], "conflict", "{own}");
    assert_eq!(r["current"]["id"], json!(v), "{own}");
}

/// Bytes that start like a JPEG (SOI and an APP0 marker), distinct per `tag`.
fn jpeg(tag: &str) -> Vec<u8> {
    let mut bytes = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes
}

fn sha_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn put_blob(app: &TestApp, token: &str, content_type: &str, bytes: Vec<u8>) -> (u16, Value) {
    let sha = sha_of(&bytes);
    let req = app.client.put(app.url(&format!("/api/v1/blobs/{sha}"))).bearer_auth(token);
    json_of(req.header("content-type", content_type).body(bytes).send().await.expect("sent")).await
}

async fn get_blob_status(app: &TestApp, token: &str, sha: &str) -> u16 {
    let res = app.client.get(app.url(&format!("/api/v1/blobs/{sha}"))).bearer_auth(token).send().await.expect("sent");
    res.status().as_u16()
}

/// A visit naming `photos` in a new household of `grid`, pushed as `token`.
async fn visit_with_photos(app: &TestApp, token: &str, grid: &str, photos: &[&str]) {
    let (h, v) = (new_id(), new_id());
    let mut with_photos = visit(&v, &h, -5);
    with_photos["photos"] = json!(photos);
    let records = json!({"households": [household(&h, grid, "3号")], "visits": [with_photos]});
    let (_, res) = app.push(token, &batch(&at_minutes(0), records)).await;
    assert_eq!(res["summary"]["applied"], 2, "{res}");
}

async fn naming_a_foreign_photo_grants_nothing(app: TestApp) {
    let org = app.org().await;
    let vol_a = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let vol_b = app.token("volunteer_b", PASSWORD, &new_id()).await;
    let supervisor_a = app.token("supervisor_a", PASSWORD, &new_id()).await;
    let (theirs, mine) = (jpeg("town B's kitchen"), jpeg("town A's boiler"));
    let (their_sha, my_sha) = (sha_of(&theirs), sha_of(&mine));
    assert_eq!(put_blob(&app, &vol_b, "image/jpeg", theirs.clone()).await.0, 201);
    visit_with_photos(&app, &vol_b, &org.grid_b, &[&their_sha]).await;
    assert_eq!(put_blob(&app, &vol_a, "image/jpeg", mine).await.0, 201);

    // Town A's volunteer names both hashes in a visit of their own town.
    visit_with_photos(&app, &vol_a, &org.grid_a, &[&their_sha, &my_sha]).await;
    assert_eq!(get_blob_status(&app, &vol_a, &their_sha).await, 404, "the named foreign photo must stay hidden");
    assert_eq!(get_blob_status(&app, &supervisor_a, &their_sha).await, 404, "and hidden from the town's staff");
    assert_eq!(get_blob_status(&app, &supervisor_a, &my_sha).await, 200, "a photo its author uploaded is shown");
    assert_eq!(get_blob_status(&app, &vol_b, &their_sha).await, 200, "its uploader still reads it");

    // Whoever holds the bytes may upload them again; then their record grants access.
    assert_eq!(put_blob(&app, &vol_a, "image/jpeg", theirs).await.0, 200);
    assert_eq!(get_blob_status(&app, &supervisor_a, &their_sha).await, 200, "re-uploaded by the visit's author");
}

/// The state of `stage` in cycle 1 of ticket `id`, as `token` reads it.
async fn stage_state(app: &TestApp, token: &str, id: &str, stage: &str) -> String {
    let (status, t) = app.get_as(token, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, 200, "{t}");
    let stages = t["stages"].as_array().expect("stages");
    let s = stages.iter().find(|s| s["name"] == stage && s["cycle"] == 1).expect("stage");
    s["state"].as_str().unwrap_or("").to_owned()
}

async fn volunteer_feedback_completes_no_desk_stage(app: TestApp) {
    let org = app.org().await;
    let body = json!({"username": "neighbour_a", "password": PASSWORD, "display_name": "neighbour_a",
        "role": "volunteer", "area_id": org.town_a});
    app.create(&org.admin, "/api/v1/users", body).await;
    let reporter = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let neighbour = app.token("neighbour_a", PASSWORD, &new_id()).await;
    let supervisor = app.token("supervisor_a", PASSWORD, &new_id()).await;
    let (_, _, t, _) = town_a_records(&app, &org, &reporter).await;

    // A neighbour's feedback on a ticket they did not report is refused.
    let fb = new_id();
    let (_, res) =
        app.push(&neighbour, &batch(&at_minutes(0), json!({"ticket_events": [event(&fb, &t, "feedback", -5)]}))).await;
    let r = result_of(&res, &fb);
    assert_eq!((&r["status"], &r["error"]["code"]), (&json!("rejected"), &json!("forbidden")), "{res}");
    let path = format!("/api/v1/tickets/{t}/events");
    let (status, err) = app.post_as(&neighbour, &path, &event(&new_id(), &t, "feedback", -4)).await;
    assert_eq!((status, &err["error"]["code"]), (403, &json!("forbidden")), "{err}");

    // The reporter's own feedback is kept, but meets none of the desk's stages.
    let own = new_id();
    let (_, res) =
        app.push(&reporter, &batch(&at_minutes(0), json!({"ticket_events": [event(&own, &t, "feedback", -3)]}))).await;
    assert_eq!(result_of(&res, &own)["status"], "applied", "{res}");
    for stage in ["classify", "dispatch", "on_site"] {
        let state = stage_state(&app, &supervisor, &t, stage).await;
        assert!(!matches!(state.as_str(), "met" | "late"), "a volunteer's feedback completed {stage}: {state}");
    }
    let (_, ticket) = app.get_as(&supervisor, &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(ticket["stage"], "classify", "{ticket}");

    // When the desk has done its part, the feedback given earlier closes the ticket.
    let staff: Vec<Value> = [("classified", -2), ("dispatched", -2), ("on_site", -1), ("resolved", -1)]
        .iter()
        .map(|(kind, m)| {
            let mut e = event(&new_id(), &t, kind, *m);
            if *kind == "dispatched" {
                e["team_id"] = json!(org.team_a);
            }
            e
        })
        .collect();
    let (_, res) = app.push(&supervisor, &batch(&at_minutes(0), json!({"ticket_events": staff}))).await;
    assert_eq!(res["summary"]["applied"], 4, "{res}");
    let (_, ticket) = app.get_as(&supervisor, &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(ticket["status"], "closed", "{ticket}");
}

async fn dispatch_only_to_teams_that_serve_the_ticket(app: TestApp) {
    let org = app.org().await;
    let team = |name: &str, area: &str| json!({"name": name, "area_id": area, "categories": ["heating"]});
    let team_b = app.create(&org.admin, "/api/v1/teams", team("红城供热站", &org.town_b)).await;
    let county_team = app.create(&org.admin, "/api/v1/teams", team("县热力公司", &org.root)).await;
    let reporter = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, &new_id()).await;
    let (_, _, t, _) = town_a_records(&app, &org, &reporter).await;
    let dispatch = |team: &str, minutes: i64| {
        let mut e = event(&new_id(), &t, "dispatched", minutes);
        e["team_id"] = json!(team);
        e
    };

    // A team of another town, outside the dispatcher's town: refused, in a push and over HTTP.
    let e = dispatch(&team_b, -5);
    let (_, res) = app.push(&dispatcher, &batch(&at_minutes(0), json!({"ticket_events": [e.clone()]}))).await;
    let r = result_of(&res, e["id"].as_str().unwrap_or_default());
    assert_eq!((&r["status"], &r["error"]["code"]), (&json!("rejected"), &json!("team_out_of_scope")), "{res}");
    assert_eq!(r["error"]["field"], "ticket_events[0].team_id", "{res}");
    let path = format!("/api/v1/tickets/{t}/events");
    let (status, err) = app.post_as(&dispatcher, &path, &dispatch(&team_b, -4)).await;
    assert_eq!(
        (status, &err["error"]["code"], &err["error"]["field"]),
        (422, &json!("team_out_of_scope"), &json!("team_id")),
        "{err}"
    );
    let (_, ticket) = app.get_as(&dispatcher, &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(ticket["team_id"], Value::Null, "{ticket}");

    // Teams whose area holds the ticket's area serve it, the county's as well as the town's.
    let (status, ticket) = app.post_as(&dispatcher, &path, &dispatch(&county_team, -3)).await;
    assert_eq!((status, &ticket["team_id"]), (201, &json!(county_team)), "{ticket}");
    let (status, ticket) = app.post_as(&dispatcher, &path, &dispatch(&org.team_a, -2)).await;
    assert_eq!((status, &ticket["team_id"]), (201, &json!(org.team_a)), "{ticket}");

    // A county supervisor may send it to any team of the county.
    let body = json!({"username": "county_sup", "password": PASSWORD, "display_name": "county_sup",
        "role": "supervisor", "area_id": org.root});
    app.create(&org.admin, "/api/v1/users", body).await;
    let county = app.token("county_sup", PASSWORD, &new_id()).await;
    let (status, ticket) = app.post_as(&county, &path, &dispatch(&team_b, -1)).await;
    assert_eq!((status, &ticket["team_id"]), (201, &json!(team_b)), "{ticket}");
}

async fn csv_cells_never_start_a_formula(app: TestApp) {
    let org = app.org().await;
    let grid = json!({"parent_id": org.town_a, "kind": "grid", "name": "+SUM(1,2)"});
    let plus_grid = app.create(&org.admin, "/api/v1/areas", grid).await;
    let volunteer = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let (h, t1, t2) = (new_id(), new_id(), new_id());
    let mut formula = ticket(&t1, &h, -30);
    formula["category"] = json!("=HYPERLINK(\"http://evil.example\",\"click\")");
    let mut tabbed = ticket(&t2, &h, -20);
    tabbed["category"] = json!("-2+3+cmd|' /C calc'!A0");
    let records = json!({"households": [household(&h, &plus_grid, "5号")], "tickets": [formula, tabbed]});
    let (_, res) = app.push(&volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!(res["summary"]["applied"], 3, "{res}");

    let supervisor = app.token("supervisor_a", PASSWORD, &new_id()).await;
    let mut cells = Vec::new();
    for group_by in ["category", "area"] {
        let path = format!("/api/v1/reports/compliance?group_by={group_by}&format=csv");
        let res = app.client.get(app.url(&path)).bearer_auth(&supervisor).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        let text = res.text().await.expect("body");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for record in reader.records() {
            cells.extend(record.expect("a CSV row").iter().map(str::to_owned));
        }
    }
    for cell in &cells {
        // Numbers may be negative (a sync delay): a '-' cell is allowed only as a number.
        let number = cell.parse::<f64>().is_ok();
        assert!(!cell.starts_with(['=', '+', '@', '\t', '\r']), "a cell starts a formula: {cell:?}");
        assert!(number || !cell.starts_with('-'), "a text cell starts with '-': {cell:?}");
    }
    for want in ["'=HYPERLINK(\"http://evil.example\",\"click\")", "'-2+3+cmd|' /C calc'!A0", "'+SUM(1,2)"] {
        assert!(cells.iter().any(|c| c == want), "no cell {want:?} among {cells:?}");
    }
}

async fn photos_must_be_the_image_type_they_claim(app: TestApp) {
    app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, &new_id()).await;
    // What the attack sent: 1 MiB of random-looking bytes labelled image/jpeg.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    let webp = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00".to_vec();
    for (content_type, bytes) in [("image/jpeg", noise), ("image/jpeg", png.clone()), ("image/webp", jpeg("x"))] {
        let (status, err) = put_blob(&app, &volunteer, content_type, bytes).await;
        assert_eq!((status, &err["error"]["code"]), (422, &json!("media_type_mismatch")), "{content_type}: {err}");
        assert_eq!(err["error"]["field"], "content-type");
    }
    for (content_type, bytes) in [("image/png", png), ("image/webp", webp), ("image/jpeg", jpeg("y"))] {
        assert_eq!(put_blob(&app, &volunteer, content_type, bytes).await.0, 201, "{content_type}");
    }
}

/// A day offline (40 households and visits, 10 tickets, 20 events, 40 photos) flushed as fast as
/// the link allows, even one record per push, never meets the default per-device rates.
async fn a_day_offline_flushes_without_meeting_the_rates(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let started = std::time::Instant::now();
    let mut pushes = 0;
    for day in 0..2 {
        let (mut households, mut visits, mut tickets, mut events) = (vec![], vec![], vec![], vec![]);
        for i in 0..40 {
            let (h, v) = (new_id(), new_id());
            households.push(household(&h, &org.grid_a, &format!("{day}-{i}号")));
            visits.push(visit(&v, &h, -300 + i));
            if i % 4 == 0 {
                let t = new_id();
                tickets.push(ticket(&t, &h, -250 + i));
                events.extend([event(&new_id(), &t, "comment", -200 + i), event(&new_id(), &t, "comment", -100 + i)]);
            }
        }
        let records: Vec<(&str, Value)> =
            [("households", households), ("visits", visits), ("tickets", tickets), ("ticket_events", events)]
                .into_iter()
                .flat_map(|(key, list)| list.into_iter().map(move |r| (key, r)))
                .collect();
        // Day 0 in batches of 25, day 1 one record per push: the worst a phone app could do.
        let per_push = if day == 0 { 25 } else { 1 };
        for chunk in records.chunks(per_push) {
            let mut body = json!({});
            for (key, r) in chunk {
                body[*key].as_array_mut().map(|a| a.push(r.clone())).unwrap_or_else(|| body[*key] = json!([r]));
            }
            let (status, res) = app.push(&volunteer, &batch(&at_minutes(0), body)).await;
            assert_eq!(status, 200, "push {pushes}: {res}");
            assert_eq!(res["summary"]["rejected"], 0, "{res}");
            pushes += 1;
        }
    }
    for i in 0..80 {
        let (status, err) = put_blob(&app, &volunteer, "image/jpeg", jpeg(&format!("photo {i}"))).await;
        assert_eq!(status, 201, "upload {i}: {err}");
    }
    eprintln!("{pushes} pushes and 80 uploads in {:?}, none refused", started.elapsed());
}

/// A flood from one device gets 429 with Retry-After; another device of the same user is not held.
async fn a_flood_from_one_device_is_rate_limited(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.device_pushes_per_minute = 2;
        s.device_uploads_per_minute = 1;
    })
    .await;
    app.org().await;
    let (flooder, other) = (new_id(), new_id());
    let token = app.token("volunteer_a", PASSWORD, &flooder).await;
    for _ in 0..10 {
        assert_eq!(app.push(&token, &batch(&at_minutes(0), json!({}))).await.0, 200);
    }
    let res = app.client.post(app.url("/api/v1/sync/push")).bearer_auth(&token);
    let res = res.json(&batch(&at_minutes(0), json!({}))).send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 429);
    let wait: u64 = res.headers()["retry-after"].to_str().ok().and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=30).contains(&wait), "Retry-After {wait}");
    let (_, err) = json_of(res).await;
    assert_eq!(err["error"]["code"], "rate_limited");
    let second = app.token("volunteer_a", PASSWORD, &other).await;
    assert_eq!(app.push(&second, &batch(&at_minutes(0), json!({}))).await.0, 200, "per device");

    for i in 0..5 {
        assert_eq!(put_blob(&app, &token, "image/jpeg", jpeg(&format!("{i}"))).await.0, 201);
    }
    let (status, err) = put_blob(&app, &token, "image/jpeg", jpeg("sixth")).await;
    assert_eq!((status, &err["error"]["code"]), (429, &json!("rate_limited")), "{err}");
}

backend_tests!(
    photos_must_be_the_image_type_they_claim,
    a_day_offline_flushes_without_meeting_the_rates,
    csv_cells_never_start_a_formula,
    dispatch_only_to_teams_that_serve_the_ticket,
    conflicts_show_current_only_within_scope,
    naming_a_foreign_photo_grants_nothing,
    volunteer_feedback_completes_no_desk_stage,
);

mod own_settings {
    use super::*;
    backend_tests!(db: a_flood_from_one_device_is_rate_limited);
}
