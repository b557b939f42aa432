//! Hostile and broken input gets a clear 4xx JSON error naming the field; the server stays up and
//! earlier data stays intact.

use crate::harness;

use harness::*;
use serde_json::{json, Value};

async fn raw_push(app: &TestApp, token: &str, content_type: &str, body: String) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    json_of(res).await
}

async fn broken_input_is_refused_clearly_and_nothing_is_lost(app: TestApp) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone").await;
    let h = new_id();
    let sneaky = "'); DROP TABLE households; -- \"quoted\" \\ 100% _under_ 村";
    let mut home = household(&h, &org.grid_a, sneaky);
    home["head_name"] = json!("Robert'); DELETE FROM visits;--");
    let mut note = visit(&new_id(), &h, -5);
    note["notes"] = json!("1' OR '1'='1");
    let (status, res) = app.push(&token, &batch(&at_minutes(0), json!({"households": [home], "visits": [note]}))).await;
    assert_eq!((status, res["summary"]["applied"].as_i64()), (200, Some(2)), "{res}");

    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("application/json", deep, 400, None),
        (
            "application/json",
            json!({"protocol_version": 1, "batch_id": "not-a-uuid", "device_time": at_minutes(0)}).to_string(),
            400,
            Some("batch_id"),
        ),
        (
            "application/json",
            json!({"protocol_version": 1, "batch_id": new_id(), "device_time": "27/11/2026"}).to_string(),
            400,
            Some("device_time"),
        ),
        (
            "application/json",
            json!({"protocol_version": "one", "batch_id": new_id(), "device_time": at_minutes(0)}).to_string(),
            400,
            Some("protocol_version"),
        ),
        (
            "application/json",
            json!({"protocol_version": 1, "batch_id": new_id(), "device_time": at_minutes(0), "visits": {"a": 1}})
                .to_string(),
            400,
            Some("visits"),
        ),
        ("application/json", "[1, 2, 3]".into(), 400, None),
        ("application/json", "".into(), 400, None),
        ("text/plain", "{}".into(), 415, None),
        ("application/x-www-form-urlencoded", "a=b".into(), 415, None),
    ];
    for (content_type, body, status, field) in cases {
        let preview: String = body.chars().take(60).collect();
        let (got, res) = raw_push(&app, &token, content_type, body).await;
        assert_eq!(got, status, "{content_type} {preview}: {res}");
        assert!(res["error"]["code"].is_string(), "{res}");
        if let Some(f) = field {
            assert_eq!(res["error"]["field"], f, "{preview}: {res}");
        }
    }
    // Ids and queries that are not what they should be.
    for path in ["/api/v1/sync/pull?limit=0", "/api/v1/sync/pull?limit=abc", "/api/v1/blobs/zz"] {
        let (status, res) = app.get_as(&token, path).await;
        assert!((400..500).contains(&status), "{path}: {status} {res}");
        assert!(res["error"]["code"].is_string());
    }

    // Still up, and the strings came back byte for byte.
    let (pages, _) = app.pull_all(&token, None, 100).await;
    let stored = pages
        .iter()
        .flat_map(|p| p["households"].as_array().cloned().unwrap_or_default())
        .find(|x| x["id"] == h)
        .expect("household");
    assert_eq!(stored["address"], sneaky);
    assert_eq!(stored["head_name"], "Robert'); DELETE FROM visits;--");
    assert_eq!(ids_in(&pages, "visits").len(), 1);
    assert_eq!(
        pages.iter().flat_map(|p| p["visits"].as_array().cloned().unwrap_or_default()).next().expect("visit")["notes"],
        "1' OR '1'='1"
    );
}

async fn raw_post(app: &TestApp, token: Option<&str>, path: &str, content_type: &str, body: String) -> (u16, Value) {
    let mut req = app.client.post(app.url(path)).header("content-type", content_type).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    json_of(req.send().await.expect("sent")).await
}

async fn limits_and_hostile_values_beyond_the_push_envelope(app: TestApp) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone").await;
    let h = new_id();
    let (status, res) =
        app.push(&token, &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "Room 1")]}))).await;
    assert_eq!((status, res["summary"]["applied"].as_i64()), (200, Some(1)), "{res}");

    // Field limits, invalid ids and impossible dates reject the record alone, naming the field.
    let long = household(&new_id(), &org.grid_a, &"长".repeat(201));
    let mut bad_id = visit(&new_id(), &h, -5);
    bad_id["id"] = json!("1c5d3c3e-3f6c-4c1e-9a53-0e7f5b1e2a0Z");
    let mut bad_date = visit(&new_id(), &h, -5);
    bad_date["visited_at"] = json!("2026-02-30T10:00:00+08:00");
    let mut nil_household = visit(&new_id(), &h, -5);
    nil_household["household_id"] = json!("00000000-0000-0000-0000-000000000000");
    let body = batch(&at_minutes(0), json!({"households": [long], "visits": [bad_id, bad_date, nil_household]}));
    let (status, res) = app.push(&token, &body).await;
    assert_eq!(status, 200, "{res}");
    let errors: Vec<(&str, &str)> = res["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["error"]["code"].as_str().unwrap_or("-"), r["error"]["field"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(
        errors,
        [
            ("too_long", "households[0].address"),
            ("invalid_id", "visits[0].id"),
            ("invalid_time", "visits[1].visited_at"),
            ("invalid_id", "visits[2].household_id"),
        ]
    );

    // Other JSON endpoints: the 64 KiB body limit, deep nesting, wrong content types.
    let admin = Some(org.admin.as_str());
    let huge = json!({"parent_id": org.root, "kind": "town", "name": "x".repeat(70 * 1024)}).to_string();
    let deep = format!("{}{}", "{\"a\":".repeat(3000), "}".repeat(3000));
    let login = json!({"username": "admin", "password": "x", "device_id": "d"}).to_string();
    let cases = [
        (admin, "/api/v1/areas", "application/json", huge, 413),
        (admin, "/api/v1/areas", "application/json", deep, 400),
        (admin, "/api/v1/teams", "text/plain", "{}".to_owned(), 415),
        (None, "/api/v1/auth/login", "application/xml", login, 415),
    ];
    for (token, path, content_type, body, want) in cases {
        let (status, res) = raw_post(&app, token, path, content_type, body).await;
        assert_eq!(status, want, "{path} {content_type}: {res}");
        assert!(res["error"]["code"].is_string(), "{res}");
    }

    // Invalid dates in queries name the parameter; injection-looking filters are just values.
    for (path, field) in [
        ("/api/v1/reports/daily?date=2026-13-45", "date"),
        ("/api/v1/reports/compliance?from=yesterday", "from"),
        ("/api/v1/reports/coverage?since=2026-11-27T25:00:00Z", "since"),
    ] {
        let (status, res) = app.get_as(&org.admin, path).await;
        assert_eq!((status, res["error"]["field"].as_str()), (400, Some(field)), "{path}: {res}");
    }
    let (status, res) = app.get_as(&org.admin, "/api/v1/tickets?category=%27%20OR%20%271%27%3D%271").await;
    assert_eq!((status, res["tickets"].as_array().map(Vec::len)), (200, Some(0)), "{res}");

    // Still up, and the household pushed first is intact.
    let (status, _) = app.get_as(&token, &format!("/api/v1/households/{h}")).await;
    assert_eq!(status, 200);
    let (pages, _) = app.pull_all(&token, None, 100).await;
    assert_eq!(ids_in(&pages, "households"), [h]);
}

backend_tests!(broken_input_is_refused_clearly_and_nothing_is_lost, limits_and_hostile_values_beyond_the_push_envelope);
