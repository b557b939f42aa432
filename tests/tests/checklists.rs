//! Versioned checklist templates (contract 1.1), on both backends: only an admin of the county or
//! above publishes a version, a visit is checked against the version it names (old ones too),
//! a rejection names the item's field, and pull carries the templates.

use crate::harness;

use harness::*;
use serde_json::{json, Value};

const DEFAULT: &str = "winter_visit";

async fn put_template(app: &TestApp, token: &str, id: &str, body: &Value) -> (u16, Value) {
    app.send(reqwest::Method::PUT, &format!("/api/v1/checklists/{id}"), Some(token), Some(body)).await
}

/// The default template's items plus a required choice and an optional ranged number.
async fn version_two(app: &TestApp, admin: &str) -> Value {
    let (_, list) = app.get_as(admin, &format!("/api/v1/checklists?id={DEFAULT}")).await;
    let mut body = list["templates"][0].clone();
    let items = body["items"].as_array_mut().expect("items");
    items.push(json!({"key": "heating_type", "label": "取暖方式", "type": "choice", "choices": ["煤", "气", "电"], "required": true}));
    items.push(
        json!({"key": "alarms_installed", "label": "安装报警器数", "type": "number", "unit": "个", "min": 0, "max": 5}),
    );
    body.as_object_mut().expect("object").remove("version");
    let (status, v2) = put_template(app, admin, DEFAULT, &body).await;
    assert_eq!((status, &v2["version"]), (200, &json!(2)), "{v2}");
    v2
}

async fn only_the_countys_admins_publish_versions(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let (status, list) = app.get_as(&volunteer, "/api/v1/checklists").await;
    assert_eq!(status, 200, "{list}");
    let default = &list["templates"][0];
    assert_eq!((&default["id"], &default["version"], &default["active"]), (&json!(DEFAULT), &json!(1), &json!(true)));
    let items = default["items"].as_array().expect("items");
    assert_eq!(items.len(), 9, "{default}");
    assert_eq!(
        items[0],
        json!({"key": "indoor_temp_ok", "label": "温度达标（18°C以上）", "type": "bool", "required": true})
    );
    assert_eq!(items[8]["type"], "text");

    let mut body = default.clone();
    body.as_object_mut().expect("object").remove("version");
    let town_admin = app.token("admin_a", PASSWORD, &new_id()).await;
    let (status, err) = put_template(&app, &town_admin, DEFAULT, &body).await;
    assert_eq!((status, &err["error"]["code"]), (403, &json!("forbidden")), "{err}");
    let (status, _) = put_template(&app, &volunteer, DEFAULT, &body).await;
    assert_eq!(status, 403, "a volunteer");

    let mut bad = body.clone();
    bad["items"][1]["key"] = json!("indoor_temp_ok");
    let (status, err) = put_template(&app, &org.admin, DEFAULT, &bad).await;
    assert_eq!((status, &err["error"]["field"]), (422, &json!("items[1].key")), "{err}");

    let v2 = version_two(&app, &org.admin).await;
    let (_, latest) = app.get_as(&volunteer, "/api/v1/checklists").await;
    assert_eq!(latest["templates"][0]["version"], 2, "{latest}");
    assert_eq!(latest["templates"][0], v2);
    let (status, old) = app.get_as(&volunteer, &format!("/api/v1/checklists?id={DEFAULT}&version=1")).await;
    assert_eq!((status, old["templates"][0]["items"].as_array().map(Vec::len)), (200, Some(9)), "{old}");
    let (status, _) = app.get_as(&volunteer, &format!("/api/v1/checklists?id={DEFAULT}&version=9")).await;
    assert_eq!(status, 404);

    let (_, audit) = app.get_as(&org.admin, "/api/v1/audit?limit=200").await;
    let entries = audit["entries"].as_array().or(audit["audit"].as_array()).cloned().unwrap_or_default();
    assert!(entries.iter().any(|e| e["action"] == "checklist_changed"), "audited: {audit}");
}

/// A visit naming `template` (id, version) with `checklist`.
fn filled(household: &str, version: i64, checklist: Value) -> Value {
    let mut v = visit(&new_id(), household, -5);
    v["checklist"] = checklist;
    v["checklist_template"] = json!({"id": DEFAULT, "version": version});
    v
}

async fn visits_are_checked_against_the_version_they_name(app: TestApp) {
    let org = app.org().await;
    version_two(&app, &org.admin).await;
    let volunteer = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let h = new_id();
    let required = json!({"indoor_temp_ok": true, "radiator_warm": false, "pipes_valves_ok": true});
    let with = |extra: Value| {
        let mut c = required.clone();
        c.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        c
    };
    let visits = [
        // v1 has no `heating_type`: a phone still on v1 is not held to v2.
        (filled(&h, 1, with(json!({"resident_concerns": "希望早点通暖"}))), None),
        (filled(&h, 2, with(json!({"heating_type": "煤", "alarms_installed": 2}))), None),
        (filled(&h, 2, required.clone()), Some(("invalid_checklist", "checklist.heating_type"))),
        (filled(&h, 1, with(json!({"heating_type": "煤"}))), Some(("invalid_checklist", "checklist.heating_type"))),
        (filled(&h, 1, with(json!({"radiator_warm": "是"}))), Some(("invalid_checklist", "checklist.radiator_warm"))),
        (filled(&h, 2, with(json!({"heating_type": "柴"}))), Some(("invalid_checklist", "checklist.heating_type"))),
        (
            filled(&h, 2, with(json!({"heating_type": "煤", "alarms_installed": 9}))),
            Some(("invalid_checklist", "checklist.alarms_installed")),
        ),
        (filled(&h, 7, required.clone()), Some(("unknown_checklist_template", "checklist_template"))),
        // Without a template the answers are kept as sent.
        (visit(&new_id(), &h, -5), None),
    ];
    let records = json!({"households": [household(&h, &org.grid_a, "西城路1号")],
        "visits": visits.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>()});
    let (status, res) = app.push(&volunteer, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    let results = res["results"].as_array().expect("results");
    for (i, (sent, want)) in visits.iter().enumerate() {
        let got = results.iter().find(|r| r["id"] == sent["id"]).expect("a result per visit");
        match want {
            None => assert_eq!(got["status"], "applied", "visit {i}: {got}"),
            Some((code, field)) => {
                assert_eq!(got["status"], "rejected", "visit {i}: {got}");
                assert_eq!(got["error"]["code"], *code, "visit {i}: {got}");
                assert_eq!(got["error"]["field"], json!(format!("visits[{i}].{field}")), "visit {i}: {got}");
            }
        }
    }
    let missing = results.iter().find(|r| r["id"] == visits[2].0["id"]).expect("visit 2");
    assert_eq!(missing["error"]["message"], "取暖方式: must be answered", "{missing}");
    let (_, pulled) = app.get_as(&volunteer, "/api/v1/sync/pull").await;
    let kept = pulled["visits"].as_array().expect("visits");
    let plain = kept.iter().find(|v| v["id"] == visits[8].0["id"]).expect("the visit without a template");
    assert_eq!(plain["checklist"], json!({"radiator_ok": false, "co_alarm": true}));
}

async fn pull_carries_the_templates(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let (pages, cursor) = app.pull_all(&volunteer, None, 100).await;
    let first: Vec<&Value> =
        pages.iter().flat_map(|p| p["checklist_templates"].as_array().into_iter().flatten()).collect();
    assert_eq!(first.len(), 1, "{pages:?}");
    assert_eq!((&first[0]["id"], &first[0]["version"]), (&json!(DEFAULT), &json!(1)));
    let (_, again) =
        app.get_as(&volunteer, &format!("/api/v1/sync/pull?cursor={}", cursor.clone().expect("cursor"))).await;
    assert_eq!(again["checklist_templates"], json!([]), "nothing changed: {again}");

    version_two(&app, &org.admin).await;
    let (_, changed) = app.get_as(&volunteer, &format!("/api/v1/sync/pull?cursor={}", cursor.expect("cursor"))).await;
    let templates = changed["checklist_templates"].as_array().expect("templates");
    assert_eq!(templates.len(), 1, "{changed}");
    assert_eq!((&templates[0]["version"], templates[0]["items"].as_array().map(Vec::len)), (&json!(2), Some(11)));
}

backend_tests!(
    only_the_countys_admins_publish_versions,
    visits_are_checked_against_the_version_they_name,
    pull_carries_the_templates
);
