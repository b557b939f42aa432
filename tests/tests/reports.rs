//! Supervisor reports over real data on both backends.

use crate::harness;

use harness::*;
use serde_json::{json, Value};

/// Town A: three households, two visited (16.5 °C and 20 °C), two tickets: one classified in
/// time, one left unclassified for two hours.
async fn seed(app: &TestApp) -> (Org, String) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone").await;
    let (h1, h2, h3, t1, t2) = (new_id(), new_id(), new_id(), new_id(), new_id());
    let mut warm = visit(&new_id(), &h2, -100);
    warm["indoor_temp_c"] = json!(20.0);
    let body = batch(
        &at_minutes(0),
        json!({
            "households": [household(&h1, &org.grid_a, "1号楼"), household(&h2, &org.grid_a, "2号楼"), household(&h3, &org.grid_a, "3号楼")],
            "visits": [visit(&new_id(), &h1, -110), warm],
            "tickets": [ticket(&t1, &h1, -120), ticket(&t2, &h2, -125)],
        }),
    );
    let (_, res) = app.push(&volunteer, &body).await;
    assert_eq!(res["summary"]["applied"], 7, "{res}");
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk").await;
    let (_, res) = app
        .push(
            &dispatcher,
            &batch(&at_minutes(0), json!({"ticket_events": [event(&new_id(), &t1, "classified", -100)]})),
        )
        .await;
    assert_eq!(res["summary"]["applied"], 1, "{res}");
    (org, h3)
}

async fn reports_count_what_happened(app: TestApp) {
    let (org, unvisited) = seed(&app).await;
    let supervisor = app.token("supervisor_a", PASSWORD, "tablet").await;

    let (status, cov) = app.get_as(&supervisor, "/api/v1/reports/coverage").await;
    assert_eq!(status, 200, "{cov}");
    let grid = &cov["grids"][0];
    assert_eq!(
        (grid["area_id"].as_str(), grid["households"].as_u64(), grid["visited"].as_u64()),
        (Some(org.grid_a.as_str()), Some(3), Some(2))
    );
    assert_eq!(grid["unvisited"][0]["id"], unvisited);
    assert!(!cov.to_string().contains("13800000000"), "no resident phone numbers in reports");

    let (_, temp) = app.get_as(&supervisor, "/api/v1/reports/temperature").await;
    let a = &temp["areas"][0];
    assert_eq!(a["visits_measured"], 2);
    assert_eq!(a["households_below_standard"], 1);
    assert_eq!(a["p50_c"], 16.5);

    let (_, comp) = app.get_as(&supervisor, "/api/v1/reports/compliance?group_by=area").await;
    let g = &comp["groups"][0];
    assert_eq!(g["name"], "西城社区", "grouped under the child of the supervisor's town: {comp}");
    assert_eq!(g["tickets"], 2);
    assert_eq!(g["stages"]["classify"]["met"], 1);
    assert_eq!(g["stages"]["classify"]["overdue"], 1);
    assert_eq!(g["stages"]["classify"]["p50_s"], 20 * 60);
    assert_eq!(g["stages"]["dispatch"]["overdue"], 1, "dispatch of t1 started 100 min ago with 60 min: overdue");
    assert_eq!(g["sync_delay_p90_s"], 125 * 60, "tickets sat on the phone for two hours");

    let res = app
        .client
        .get(app.url("/api/v1/reports/compliance?group_by=category&format=csv"))
        .bearer_auth(&supervisor)
        .send()
        .await
        .expect("sent");
    assert!(res.headers()["content-type"].to_str().unwrap_or("").starts_with("text/csv"));
    let text = res.text().await.expect("csv");
    let mut lines = text.lines();
    assert!(lines.next().is_some_and(|h| h.starts_with("key,name,tickets,closed,on_time_rate,classify_met")));
    assert!(lines.next().is_some_and(|r| r.starts_with("heating,heating,2,0,")), "{text}");

    let (status, daily) = app.get_as(&supervisor, "/api/v1/reports/daily").await;
    assert_eq!(status, 200, "{daily}");
    assert_eq!(daily["timezone"], "Asia/Shanghai");
    let total =
        |k: &str| daily["areas"].as_array().expect("areas").iter().map(|a| a[k].as_u64().unwrap_or(0)).sum::<u64>();
    assert_eq!(total("still_open"), 2);

    // Volunteers and handlers do not read reports; other towns see none of town A.
    let volunteer = app.token("volunteer_a", PASSWORD, "phone").await;
    assert_eq!(app.get_as(&volunteer, "/api/v1/reports/compliance").await.0, 403);
    let admin_b = app.token("admin_b", PASSWORD, "b").await;
    let (_, other) = app.get_as(&admin_b, "/api/v1/reports/coverage").await;
    assert_eq!(other["grids"], json!([]));
    let (status, res) = app.get_as(&admin_b, &format!("/api/v1/reports/coverage?area_id={}", org.grid_a)).await;
    assert_eq!((status, res["error"]["code"].as_str()), (403, Some("out_of_scope")));
    let (status, _): (u16, Value) = app.get_as(&supervisor, "/api/v1/reports/compliance?from=yesterday").await;
    assert_eq!(status, 400);
}

/// A phone's clock may run ahead of the server's by up to the clock tolerance, and the push keeps
/// such a time: a visit stamped a minute ahead counts as "visited since" a time after it arrived.
/// (Reports find visits by arrival time, bounded by the largest tolerance.)
async fn a_visit_stamped_ahead_of_its_arrival_counts_as_visited_since_then(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone").await;
    let h = new_id();
    let records = json!({"households": [household(&h, &org.grid_a, "1号楼")], "visits": [visit(&new_id(), &h, 1)]});
    let (_, res) = app.push(&volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!(res["summary"]["applied"], 2, "{res}");
    // Taken after the push was answered, so after the visit arrived, and before its stamped time.
    let since = at_minutes(0).replace('+', "%2B");
    let supervisor = app.token("supervisor_a", PASSWORD, "tablet").await;
    let (status, cov) = app.get_as(&supervisor, &format!("/api/v1/reports/coverage?since={since}")).await;
    assert_eq!(status, 200, "{cov}");
    assert_eq!(cov["grids"][0]["visited"], 1, "{cov}");
    let (status, temp) = app.get_as(&supervisor, &format!("/api/v1/reports/temperature?since={since}")).await;
    assert_eq!(status, 200, "{temp}");
    assert_eq!(temp["areas"][0]["visits_measured"], 1, "{temp}");
}

backend_tests!(reports_count_what_happened, a_visit_stamped_ahead_of_its_arrival_counts_as_visited_since_then);
