//! One deadline policy per county (contract 1.1), on both backends: only an admin of the county
//! or above changes it, the change is audited where the county's admins see it, and tickets
//! follow their own county's policy.

use crate::harness;

use harness::*;
use serde_json::{json, Value};

fn on_site_window(policy: &Value) -> i64 {
    let stages = policy["stages"].as_array().expect("stages");
    stages.iter().find(|s| s["name"] == "on_site").and_then(|s| s["window_s"].as_i64()).expect("on_site")
}

/// The default policy with the on_site window set to `seconds`, without its version.
async fn policy_with_on_site(app: &TestApp, token: &str, seconds: i64) -> Value {
    let (_, mut policy) = app.get_as(token, "/api/v1/policy").await;
    for s in policy["stages"].as_array_mut().expect("stages") {
        if s["name"] == "on_site" {
            s["window_s"] = json!(seconds);
        }
    }
    policy.as_object_mut().expect("object").remove("version");
    policy
}

async fn put_policy(app: &TestApp, token: &str, query: &str, body: &Value) -> (u16, Value) {
    app.send(reqwest::Method::PUT, &format!("/api/v1/policy{query}"), Some(token), Some(body)).await
}

async fn audit_actions(app: &TestApp, token: &str) -> Vec<String> {
    let (status, page) = app.get_as(token, "/api/v1/audit?limit=200").await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().or(page["audit"].as_array()).cloned().unwrap_or_default();
    entries.iter().filter_map(|e| e["action"].as_str().map(str::to_owned)).collect()
}

/// The root is a county (the default): a town admin may not change the county's policy.
async fn only_the_countys_admins_change_its_policy(app: TestApp) {
    let org = app.org().await;
    let town_admin = app.token("admin_a", PASSWORD, &new_id()).await;
    let body = policy_with_on_site(&app, &town_admin, 7 * 24 * 3600).await;
    let (status, err) = put_policy(&app, &town_admin, "", &body).await;
    assert_eq!((status, &err["error"]["code"]), (403, &json!("forbidden")), "{err}");
    let (status, _) = put_policy(&app, &town_admin, &format!("?area_id={}", org.root), &body).await;
    assert_eq!(status, 403);
    let (_, policy) = app.get_as(&town_admin, "/api/v1/policy").await;
    assert_eq!((policy["version"].as_i64(), on_site_window(&policy)), (Some(1), 7200), "{policy}");

    let body = policy_with_on_site(&app, &org.admin, 5400).await;
    let (status, policy) = put_policy(&app, &org.admin, "", &body).await;
    assert_eq!((status, on_site_window(&policy)), (200, 5400), "{policy}");
    let (_, seen) = app.get_as(&town_admin, &format!("/api/v1/policy?area_id={}", org.grid_a)).await;
    assert_eq!(seen["version"], policy["version"], "a grid follows its county's policy: {seen}");
    assert!(audit_actions(&app, &org.admin).await.contains(&"policy_changed".to_owned()), "audited for the county");
}

/// The root is a city with two counties below it: each county has its own policy.
async fn each_county_below_the_root_has_its_own_policy(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.root_area_kind = "city".into()).await;
    let admin = app.admin_token().await;
    let (_, areas) = app.get_as(&admin, "/api/v1/areas").await;
    let root = areas["areas"][0]["id"].as_str().expect("root").to_owned();
    let area = |parent: &str, kind: &str, name: &str| json!({"parent_id": parent, "kind": kind, "name": name});
    let east = app.create(&admin, "/api/v1/areas", area(&root, "county", "东县")).await;
    let west = app.create(&admin, "/api/v1/areas", area(&root, "county", "西县")).await;
    let east_town = app.create(&admin, "/api/v1/areas", area(&east, "town", "东镇")).await;
    let west_town = app.create(&admin, "/api/v1/areas", area(&west, "town", "西镇")).await;
    for (username, role, area) in [
        ("east_admin", "admin", &east),
        ("east_town_admin", "admin", &east_town),
        ("east_vol", "volunteer", &east_town),
        ("west_vol", "volunteer", &west_town),
        ("west_admin", "admin", &west),
    ] {
        let body = json!({"username": username, "password": PASSWORD, "display_name": username, "role": role, "area_id": area});
        app.create(&admin, "/api/v1/users", body).await;
    }
    let east_admin = app.token("east_admin", PASSWORD, &new_id()).await;
    let west_admin = app.token("west_admin", PASSWORD, &new_id()).await;
    let east_town_admin = app.token("east_town_admin", PASSWORD, &new_id()).await;
    let body = policy_with_on_site(&app, &east_admin, 1800).await;
    assert_eq!(put_policy(&app, &east_admin, &format!("?area_id={west}"), &body).await.0, 403, "not their county");
    assert_eq!(put_policy(&app, &east_town_admin, "", &body).await.0, 403, "a town admin");
    let (status, east_policy) = put_policy(&app, &east_admin, "", &body).await;
    assert_eq!((status, on_site_window(&east_policy)), (200, 1800), "{east_policy}");

    let (_, west_policy) = app.get_as(&admin, &format!("/api/v1/policy?area_id={west}")).await;
    assert_eq!((west_policy["version"].as_i64(), on_site_window(&west_policy)), (Some(1), 7200), "{west_policy}");
    let (_, own) = app.get_as(&east_town_admin, "/api/v1/policy").await;
    assert_eq!(own["version"], east_policy["version"], "the caller's county: {own}");
    assert!(audit_actions(&app, &east_admin).await.contains(&"policy_changed".to_owned()));
    assert!(!audit_actions(&app, &west_admin).await.contains(&"policy_changed".to_owned()), "not the other county's");

    // Tickets follow their county's policy version; pulls carry the caller's county's policy.
    for (user, town, version) in
        [("east_vol", &east_town, &east_policy["version"]), ("west_vol", &west_town, &json!(1))]
    {
        let token = app.token(user, PASSWORD, &new_id()).await;
        let (h, t) = (new_id(), new_id());
        let records = json!({"households": [household(&h, town, "1号")], "tickets": [ticket(&t, &h, 0)]});
        let (_, res) = app.push(&token, &batch(&at_minutes(0), records)).await;
        assert_eq!(res["summary"]["applied"], 2, "{res}");
        let (_, pulled) = app.get_as(&token, "/api/v1/sync/pull").await;
        assert_eq!(&pulled["policy"]["version"], version, "{user}: {}", pulled["policy"]);
        let tickets = pulled["tickets"].as_array().expect("tickets");
        let mine = tickets.iter().find(|x| x["id"] == json!(t)).expect("the ticket");
        assert_eq!(&mine["policy_version"], version, "{user}: {mine}");
    }
}

backend_tests!(only_the_countys_admins_change_its_policy);

mod db_backends {
    use super::*;
    backend_tests!(db: each_county_below_the_root_has_its_own_policy);
}
