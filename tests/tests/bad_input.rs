//! Hostile and broken input gets a clear 4xx JSON error naming the field; the server stays up and
//! earlier data stays intact.

mod harness;

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

backend_tests!(broken_input_is_refused_clearly_and_nothing_is_lost);
