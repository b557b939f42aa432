//! Two counties in one database under a city root (contract 1.1): whatever a county's users ask
//! for, in every role, no record, name, policy, alert or report figure of the other county comes
//! back, and the other county's records by id answer 403 or 404.

use crate::harness;

use harness::*;
use serde_json::json;

/// One county: its area ids, its users' tokens by role, and its records' ids (with a marker that
/// its names and addresses carry, so a leak of text is caught as well as a leak of ids).
struct County {
    marker: &'static str,
    area: String,
    tokens: Vec<(&'static str, String)>,
    ids: Vec<String>,
    household: String,
    ticket: String,
}

async fn county(app: &TestApp, admin: &str, root: &str, marker: &'static str) -> County {
    let area = |parent: &str, kind: &str, name: String| json!({"parent_id": parent, "kind": kind, "name": name});
    let county = app.create(admin, "/api/v1/areas", area(root, "county", format!("{marker}县"))).await;
    let town = app.create(admin, "/api/v1/areas", area(&county, "town", format!("{marker}镇"))).await;
    let grid = app.create(admin, "/api/v1/areas", area(&town, "grid", format!("{marker}网格"))).await;
    let team = app
        .create(
            admin,
            "/api/v1/teams",
            json!({"name": format!("{marker}供热站"), "area_id": town, "categories": ["heating"]}),
        )
        .await;
    let mut ids = vec![county.clone(), town.clone(), grid.clone(), team.clone()];
    let mut tokens = Vec::new();
    for (role, area) in
        [("volunteer", &town), ("handler", &town), ("dispatcher", &town), ("supervisor", &county), ("admin", &county)]
    {
        let username = format!("{}_{role}", marker.to_lowercase());
        let team_id = (role == "handler").then(|| team.clone());
        let body = json!({"username": username, "password": PASSWORD, "display_name": format!("{marker}{role}"),
            "role": role, "area_id": area, "team_id": team_id});
        ids.push(app.create(admin, "/api/v1/users", body).await);
        tokens.push((role, app.token(&username, PASSWORD, &new_id()).await));
    }
    let token = |role: &str| tokens.iter().find(|t| t.0 == role).map(|t| t.1.clone()).expect("role");
    // A household with a visit and a ticket synced late (already overdue, so alerts fire),
    // classified and dispatched to the county's team.
    let (h, v, t) = (new_id(), new_id(), new_id());
    let records = json!({
        "households": [household(&h, &grid, &format!("{marker}路1号"))],
        "visits": [visit(&v, &h, -80)],
        "tickets": [ticket(&t, &h, -75)],
    });
    let (_, res) = app.push(&token("volunteer"), &batch(&at_minutes(0), records)).await;
    assert_eq!(res["summary"]["applied"], 3, "{res}");
    let mut dispatched = event(&new_id(), &t, "dispatched", -1);
    dispatched["team_id"] = json!(team);
    let events = json!({"ticket_events": [event(&new_id(), &t, "classified", -2), dispatched]});
    let (_, res) = app.push(&token("dispatcher"), &batch(&at_minutes(0), events)).await;
    assert_eq!(res["summary"]["applied"], 2, "{res}");
    // Its own policy version.
    let (_, mut policy) = app.get_as(&token("admin"), "/api/v1/policy").await;
    policy.as_object_mut().expect("policy").remove("version");
    policy["clock_tolerance_s"] = json!(300);
    let (status, saved) = app.send(reqwest::Method::PUT, "/api/v1/policy", Some(&token("admin")), Some(&policy)).await;
    assert_eq!(status, 200, "{saved}");
    ids.extend([h.clone(), v, t.clone()]);
    County { marker, area: county, tokens, ids, household: h, ticket: t }
}

/// Every read a county's user can make, as (path, status, raw body text).
async fn reads(app: &TestApp, token: &str, other: &County) -> Vec<(String, u16, String)> {
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let paths = [
        "/api/v1/areas".to_owned(),
        "/api/v1/teams".into(),
        "/api/v1/users".into(),
        "/api/v1/devices".into(),
        "/api/v1/audit?limit=200".into(),
        "/api/v1/tickets".into(),
        "/api/v1/tickets?overdue=true".into(),
        "/api/v1/alerts".into(),
        "/api/v1/sync/pull".into(),
        "/api/v1/policy".into(),
        "/api/v1/checklists".into(),
        "/api/v1/reports/compliance".into(),
        "/api/v1/reports/compliance?group_by=team".into(),
        "/api/v1/reports/compliance?format=csv".into(),
        format!("/api/v1/reports/daily?date={today}"),
        "/api/v1/reports/coverage".into(),
        "/api/v1/reports/temperature".into(),
        format!("/api/v1/tickets/{}", other.ticket),
        format!("/api/v1/households/{}", other.household),
        format!("/api/v1/policy?area_id={}", other.area),
        format!("/api/v1/reports/coverage?area_id={}", other.area),
    ];
    let mut out = Vec::new();
    for path in paths {
        let res = app.client.get(app.url(&path)).bearer_auth(token).send().await.expect("sent");
        let status = res.status().as_u16();
        out.push((path, status, res.text().await.expect("body")));
    }
    out
}

async fn two_counties_in_one_database_never_see_each_other(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.root_area_kind = "city".into()).await;
    let admin = app.admin_token().await;
    let (_, areas) = app.get_as(&admin, "/api/v1/areas").await;
    let root = areas["areas"][0]["id"].as_str().expect("root").to_owned();
    let east = county(&app, &admin, &root, "EAST").await;
    let west = county(&app, &admin, &root, "WEST").await;
    for (own, other) in [(&east, &west), (&west, &east)] {
        for (role, token) in &own.tokens {
            let answers = reads(&app, token, other).await;
            for (path, status, body) in &answers {
                assert!(*status < 500, "{role} {path}: {status} {body}");
                assert!(!body.contains(other.marker), "{} {role} {path} shows {}: {body}", own.marker, other.marker);
                for id in &other.ids {
                    assert!(!body.contains(id.as_str()), "{} {role} {path} shows {id}: {body}", own.marker);
                }
            }
            let direct = |p: &str| answers.iter().find(|a| a.0.starts_with(p)).map(|a| a.1);
            assert!(matches!(direct("/api/v1/tickets/"), Some(403 | 404)), "{role}: {answers:?}");
            assert!(matches!(direct("/api/v1/households/"), Some(403 | 404)), "{role}");
            assert!(matches!(direct("/api/v1/policy?area_id="), Some(403 | 404)), "{role}");
        }
        // And they do see their own: the check above is not passing on empty answers.
        let supervisor = &own.tokens.iter().find(|t| t.0 == "supervisor").expect("supervisor").1;
        let (_, tickets) = app.get_as(supervisor, "/api/v1/tickets").await;
        assert!(tickets.to_string().contains(&own.ticket), "{tickets}");
        let (_, alerts) = app.get_as(supervisor, "/api/v1/alerts").await;
        assert!(alerts.to_string().contains(&own.ticket), "own overdue alert: {alerts}");
        let (_, policy) = app.get_as(supervisor, "/api/v1/policy").await;
        assert_eq!(policy["clock_tolerance_s"], 300, "own county's version: {policy}");
    }
    // The city's admin sees both.
    let (_, tickets) = app.get_as(&admin, "/api/v1/tickets").await;
    assert!(tickets.to_string().contains(&east.ticket) && tickets.to_string().contains(&west.ticket));
}

backend_tests!(db: two_counties_in_one_database_never_see_each_other);
