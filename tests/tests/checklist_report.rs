//! The checklist report (contract 1.1), on both backends: figures per area and item against
//! visits whose answers are known, the period, retired items, scope and roles, and the CSV.

use crate::harness;

use diesel::connection::SimpleConnection;
use fieldvisit_server::db;
use fieldvisit_server::ops::check;
use harness::*;
use serde_json::{json, Value};

const ID: &str = "alarm_check";
/// Town B's household, with one visit.
const HB: &str = "0b0b0b0b-0000-4000-8000-000000000001";
/// One of town A's households with the four recent visits.
const HA: &str = "0a0a0a0a-0000-4000-8000-000000000001";

fn template(items: Value) -> Value {
    json!({"id": ID, "name": "报警器检查", "items": items})
}

fn items_v1() -> Value {
    json!([
        {"key": "alarm_working", "label": "报警器有效", "type": "bool", "required": true},
        {"key": "indoor_temp", "label": "室内温度", "type": "number", "unit": "°C", "min": -10, "max": 35},
        {"key": "fuel", "label": "燃料", "type": "choice", "choices": ["煤", "气", "=1+1"]},
        {"key": "note", "label": "备注", "type": "text"}
    ])
}

/// A visit `minutes` from now filled from version `version` of the template.
fn answered(household: &str, minutes: i64, version: i64, checklist: Value) -> Value {
    let mut v = visit(&new_id(), household, minutes);
    v["checklist"] = checklist;
    v["checklist_template"] = json!({"id": ID, "version": version});
    v
}

async fn report(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    app.get_as(token, &format!("/api/v1/reports/checklist?template_id={ID}{query}")).await
}

fn area<'a>(report: &'a Value, area_id: &str) -> &'a Value {
    report["areas"].as_array().and_then(|a| a.iter().find(|a| a["area_id"] == area_id)).unwrap_or(&Value::Null)
}

fn item<'a>(area: &'a Value, key: &str) -> &'a Value {
    area["items"].as_array().and_then(|i| i.iter().find(|i| i["key"] == key)).unwrap_or(&Value::Null)
}

/// Pushes the known visits: four recent ones in town A, one in town B, one three days old in town
/// A, and one in town A without the template.
async fn known_visits(app: &TestApp, org: &Org) {
    let (status, v1) = app
        .send(reqwest::Method::PUT, &format!("/api/v1/checklists/{ID}"), Some(&org.admin), Some(&template(items_v1())))
        .await;
    assert_eq!((status, &v1["version"]), (200, &json!(1)), "{v1}");
    let volunteer_a = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let (ha, old) = (HA.to_owned(), new_id());
    let visits = vec![
        answered(&ha, -30, 1, json!({"alarm_working": true, "indoor_temp": 12, "fuel": "煤", "note": "报警器旧"})),
        answered(&ha, -20, 1, json!({"alarm_working": true, "indoor_temp": 15.0, "fuel": "煤", "note": " "})),
        answered(&ha, -10, 1, json!({"alarm_working": false, "indoor_temp": 18, "fuel": "=1+1"})),
        answered(&ha, -5, 1, json!({"alarm_working": true, "indoor_temp": 20.5})),
        answered(&old, -3 * 24 * 60, 1, json!({"alarm_working": false, "indoor_temp": 30})),
        visit(&new_id(), &ha, -1),
    ];
    let records = json!({"households": [household(&ha, &org.grid_a, "西城路1号"), household(&old, &org.grid_a, "西城路2号")],
        "visits": visits});
    let (status, res) = app.push(&volunteer_a, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["summary"]["applied"], 8, "{res}");
    // Pull says which version each visit was filled from (none for the plain one).
    let (pages, _) = app.pull_all(&volunteer_a, None, 100).await;
    let pulled: Vec<&Value> = pages.iter().flat_map(|p| p["visits"].as_array().into_iter().flatten()).collect();
    let named: Vec<&Value> = pulled.iter().map(|v| &v["checklist_template"]).collect();
    assert_eq!(named.iter().filter(|t| **t == &json!({"id": ID, "version": 1})).count(), 5, "{named:?}");
    assert_eq!(named.iter().filter(|t| t.is_null()).count(), 1, "{named:?}");

    let volunteer_b = app.token("volunteer_b", PASSWORD, &new_id()).await;
    let hb = HB.to_owned();
    let records = json!({"households": [household(&hb, &org.grid_b, "红城路3号")],
        "visits": [answered(&hb, -15, 1, json!({"alarm_working": false, "fuel": "气"}))]});
    let (status, res) = app.push(&volunteer_b, &batch(&at_minutes(0), records)).await;
    assert_eq!((status, &res["summary"]["applied"]), (200, &json!(2)), "{res}");
}

async fn figures_match_the_known_answers(app: TestApp) {
    let org = app.org().await;
    known_visits(&app, &org).await;
    let since = at_minutes(-24 * 60).replace('+', "%2B");
    let (status, r) = report(&app, &org.admin, &format!("&since={since}&group_by=area")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((&r["template_id"], &r["name"], &r["version"]), (&json!(ID), &json!("报警器检查"), &json!(1)), "{r}");

    let a = area(&r, &org.town_a);
    assert_eq!((&a["name"], &a["visits"]), (&json!("城关镇"), &json!(4)), "{r}");
    let working = item(a, "alarm_working");
    assert_eq!((&working["label"], &working["type"]), (&json!("报警器有效"), &json!("bool")));
    assert_eq!((&working["answered"], &working["share_true"]), (&json!(4), &json!(0.75)), "{working}");
    let temp = item(a, "indoor_temp");
    // 12, 15, 18, 20.5 by nearest rank: p10 is the 1st, p50 the 2nd.
    assert_eq!((&temp["answered"], &temp["p10"], &temp["p50"]), (&json!(4), &json!(12.0), &json!(15.0)), "{temp}");
    let fuel = item(a, "fuel");
    assert_eq!((&fuel["answered"], &fuel["choices"]), (&json!(3), &json!({"煤": 2, "气": 0, "=1+1": 1})), "{fuel}");
    // A blank text answer is no answer.
    assert_eq!(item(a, "note")["answered"], 1, "{a}");

    let b = area(&r, &org.town_b);
    assert_eq!(b["visits"], 1, "{r}");
    assert_eq!(
        (&item(b, "alarm_working")["share_true"], &item(b, "indoor_temp")["answered"]),
        (&json!(0.0), &json!(0))
    );
    assert_eq!(item(b, "indoor_temp")["p50"], Value::Null, "no readings, no percentile");

    // The default period (30 days) holds the three-day-old visit too.
    let (_, month) = report(&app, &org.admin, "").await;
    let a = area(&month, &org.town_a);
    assert_eq!((&a["visits"], &item(a, "indoor_temp")["p50"]), (&json!(5), &json!(18.0)), "{month}");
}

async fn a_retired_item_keeps_its_answers(app: TestApp) {
    let org = app.org().await;
    known_visits(&app, &org).await;
    let mut items = items_v1();
    let list = items.as_array_mut().expect("items");
    list.retain(|i| i["key"] != "note");
    list[0]["label"] = json!("报警器能响");
    let (status, v2) = app
        .send(reqwest::Method::PUT, &format!("/api/v1/checklists/{ID}"), Some(&org.admin), Some(&template(items)))
        .await;
    assert_eq!((status, &v2["version"]), (200, &json!(2)), "{v2}");
    let (_, r) = report(&app, &org.admin, "").await;
    let a = area(&r, &org.town_a);
    assert_eq!(r["version"], 2);
    assert_eq!(item(a, "alarm_working")["label"], "报警器能响", "the newest label");
    assert_eq!(item(a, "note")["answered"], 1, "{a}");
    let keys: Vec<&Value> = a["items"].as_array().expect("items").iter().map(|i| &i["key"]).collect();
    assert_eq!(keys, [&json!("alarm_working"), &json!("indoor_temp"), &json!("fuel"), &json!("note")]);
}

async fn the_report_keeps_to_scope_and_roles(app: TestApp) {
    let org = app.org().await;
    known_visits(&app, &org).await;
    let supervisor = app.token("supervisor_a", PASSWORD, &new_id()).await;
    let (status, r) = report(&app, &supervisor, "").await;
    assert_eq!(status, 200, "{r}");
    let areas = r["areas"].as_array().expect("areas");
    assert_eq!(areas.len(), 1, "town A's community only: {r}");
    assert_eq!((&areas[0]["name"], &areas[0]["visits"]), (&json!("西城社区"), &json!(5)));

    for user in ["volunteer_a", "handler_a"] {
        let token = app.token(user, PASSWORD, &new_id()).await;
        let (status, err) = report(&app, &token, "").await;
        assert_eq!((status, &err["error"]["code"]), (403, &json!("forbidden")), "{user}: {err}");
    }
    let (status, err) = app.get_as(&org.admin, "/api/v1/reports/checklist?template_id=nope").await;
    assert_eq!((status, &err["error"]["field"]), (404, &json!("template_id")), "{err}");
    for (query, field) in [("&group_by=team", "group_by"), ("&format=xml", "format"), ("&since=yesterday", "since")] {
        let (status, err) = report(&app, &org.admin, query).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!(field)), "{query}: {err}");
    }
    // Without a template id: the default template, which no visit here used.
    let (status, r) = app.get_as(&org.admin, "/api/v1/reports/checklist").await;
    assert_eq!((status, &r["template_id"], &r["areas"]), (200, &json!("winter_visit"), &json!([])), "{r}");
}

async fn the_csv_has_a_row_per_item_and_choice(app: TestApp) {
    let org = app.org().await;
    known_visits(&app, &org).await;
    let res = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/reports/checklist?template_id={ID}&format=csv")))
        .bearer_auth(&org.admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap_or("").starts_with("text/csv"));
    let text = res.text().await.expect("csv");
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a row").iter().map(str::to_owned).collect())
        .collect();
    let town_a: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == org.town_a).collect();
    // bool, number and text one row each; the choice item one per choice.
    assert_eq!(town_a.len(), 6, "{text}");
    let working = town_a.iter().find(|r| r[3] == "alarm_working").expect("bool row");
    let want = [org.town_a.as_str(), "城关镇", "5", "alarm_working", "报警器有效", "bool", "5", "0.6000"];
    assert_eq!(working[..8].iter().map(String::as_str).collect::<Vec<_>>(), want, "{text}");
    let formula = town_a.iter().find(|r| r[3] == "fuel" && r[10].contains("1+1")).expect("the formula-like choice");
    assert_eq!((formula[10].as_str(), formula[11].as_str()), ("'=1+1", "1"), "a cell a spreadsheet will not run");
}

/// Runs `damage` (SQL), then `fieldvisit check`'s checks.
async fn check_after(app: &TestApp, damage: &'static str) -> check::Report {
    if !damage.is_empty() {
        app.skip_final_check();
    }
    let now = chrono::Utc::now().timestamp_millis();
    db::run(&app.state.pool, move |c| {
        if !damage.is_empty() {
            c.batch_execute(damage)?;
        }
        check::run(c, now)
    })
    .await
    .expect("check runs")
}

async fn the_tallies_follow_a_merge_and_fieldvisit_check_verifies_them(app: TestApp) {
    let org = app.org().await;
    known_visits(&app, &org).await;
    assert!(check_after(&app, "").await.is_clean());
    // Town B's household merged into town A's: its visit now counts in town A.
    let (status, body) = app.post_as(&org.admin, &format!("/api/v1/households/{HB}/merge"), &json!({"into": HA})).await;
    assert_eq!(status, 200, "{body}");
    let (_, r) = report(&app, &org.admin, "").await;
    assert_eq!(area(&r, &org.town_a)["visits"], 6, "{r}");
    assert_eq!(area(&r, &org.town_b)["visits"], 0, "{r}");
    assert_eq!(item(area(&r, &org.town_a), "fuel")["choices"]["气"], 1, "{r}");
    let clean = check_after(&app, "").await;
    assert!(clean.is_clean(), "{:?}", clean.findings);

    let damaged = check_after(
        &app,
        "UPDATE checklist_tallies SET visits = visits + 1 WHERE item = 'alarm_working' AND answer = 'false'",
    )
    .await;
    assert!(damaged.problems >= 1, "{damaged:?}");
    assert!(damaged.findings.iter().all(|f| f.contains("alarm_working=\"false\"")), "{:?}", damaged.findings);
    // `fieldvisit check --repair` rebuilds the tallies from the visits.
    let now = chrono::Utc::now().timestamp_millis();
    let (repaired, after) = db::run(&app.state.pool, move |c| Ok((check::repair(c, now)?, check::run(c, now)?)))
        .await
        .expect("repair runs");
    assert!(repaired.checklist_tallies, "{repaired:?}");
    assert!(after.is_clean(), "{:?}", after.findings);
    let (_, r) = report(&app, &org.admin, "").await;
    assert_eq!(area(&r, &org.town_a)["visits"], 6, "{r}");
}

backend_tests!(
    the_tallies_follow_a_merge_and_fieldvisit_check_verifies_them,
    figures_match_the_known_answers,
    a_retired_item_keeps_its_answers,
    the_report_keeps_to_scope_and_roles,
    the_csv_has_a_row_per_item_and_choice
);
