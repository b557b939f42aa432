//! Duplicate households (contract 1.1), on both backends: two offline registrations of one door
//! get a `possible_duplicate` hint; a merge moves visits and tickets, reaches phones as a removal,
//! leaves coverage counting the door once, is audited, and is refused outside scope.

use crate::harness;

use fieldvisit_server::db;
use fieldvisit_server::ops::check;
use harness::*;
use serde_json::{json, Value};

fn registered(id: &str, area_id: &str, address: &str, head: &str) -> Value {
    let mut h = household(id, area_id, address);
    h["head_name"] = json!(head);
    h
}

fn result_of<'a>(res: &'a Value, id: &str) -> &'a Value {
    res["results"].as_array().and_then(|r| r.iter().find(|r| r["id"] == id)).unwrap_or(&Value::Null)
}

async fn two_offline_registrations_of_one_door_get_a_hint(app: TestApp) {
    let org = app.org().await;
    let phone_1 = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let phone_2 = app.token("dispatcher_a", PASSWORD, &new_id()).await;
    let (first, second, other_head, elsewhere) = (new_id(), new_id(), new_id(), new_id());
    let records = json!({"households": [registered(&first, &org.grid_a, "西城路12号3单元501", "王大爷")]});
    let (status, res) = app.push(&phone_1, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(result_of(&res, &first)["hint"], Value::Null, "the first registration: {res}");

    // The same door typed another way on a second phone, while both were offline.
    let records = json!({"households": [
        registered(&second, &org.grid_a, "西城路１２号 3单元-501", "王 大爷"),
        registered(&other_head, &org.grid_a, "西城路12号3单元501", "李奶奶"),
    ]});
    let (status, res) = app.push(&phone_2, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{res}");
    let hinted = result_of(&res, &second);
    assert_eq!(hinted["status"], "applied", "{res}");
    assert_eq!(hinted["hint"], json!({"code": "possible_duplicate", "of": first}), "{res}");
    assert_eq!(result_of(&res, &other_head)["hint"], Value::Null, "another head of household: {res}");

    // The same address in another grid is another door.
    let volunteer_b = app.token("volunteer_b", PASSWORD, &new_id()).await;
    let records = json!({"households": [registered(&elsewhere, &org.grid_b, "西城路12号3单元501", "王大爷")]});
    let (_, res) = app.push(&volunteer_b, &batch(&at_minutes(0), records)).await;
    assert_eq!(result_of(&res, &elsewhere)["hint"], Value::Null, "{res}");

    // The desk sees the pair, oldest first; town B's admin does not.
    let (status, list) = app.get_as(&phone_2, "/api/v1/households/duplicates").await;
    assert_eq!(status, 200, "{list}");
    let groups = list["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{list}");
    assert_eq!((&groups[0]["area_id"], &groups[0]["name"]), (&json!(org.grid_a), &json!("网格一")));
    let ids: Vec<&Value> = groups[0]["households"].as_array().expect("households").iter().map(|h| &h["id"]).collect();
    assert_eq!(ids, [&json!(first), &json!(second)]);
    let admin_b = app.token("admin_b", PASSWORD, &new_id()).await;
    let (_, list_b) = app.get_as(&admin_b, "/api/v1/households/duplicates").await;
    assert_eq!(list_b["groups"], json!([]), "{list_b}");
    let (status, _) = app.get_as(&phone_1, "/api/v1/households/duplicates").await;
    assert_eq!(status, 403, "a volunteer");
}

async fn a_merge_moves_visits_and_tickets_and_reaches_phones(app: TestApp) {
    let org = app.org().await;
    let phone = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let (keep, gone, t) = (new_id(), new_id(), new_id());
    let (v1, v2) = (new_id(), new_id());
    let records = json!({
        "households": [registered(&keep, &org.grid_a, "西城路7号", "赵阿姨"), registered(&gone, &org.grid_a, "西城路 7 号", "赵阿姨")],
        "visits": [visit(&v1, &keep, -50), visit(&v2, &gone, -40)],
        "tickets": [ticket(&t, &gone, -39)],
        "ticket_events": [event(&new_id(), &t, "comment", -30)],
    });
    let (status, res) = app.push(&phone, &batch(&at_minutes(0), records)).await;
    assert_eq!((status, &res["summary"]["applied"]), (200, &json!(6)), "{res}");
    assert_eq!(result_of(&res, &gone)["hint"]["of"], json!(keep), "{res}");
    let (_, cursor) = app.pull_all(&phone, None, 100).await;
    let cursor = cursor.expect("cursor");

    let supervisor = app.token("supervisor_a", PASSWORD, &new_id()).await;
    let coverage = format!("/api/v1/reports/coverage?area_id={}", org.grid_a);
    let (_, before) = app.get_as(&supervisor, &coverage).await;
    assert_eq!((&before["grids"][0]["households"], &before["grids"][0]["visited"]), (&json!(2), &json!(2)), "{before}");

    let dispatcher = app.token("dispatcher_a", PASSWORD, &new_id()).await;
    let (status, survivor) =
        app.post_as(&dispatcher, &format!("/api/v1/households/{gone}/merge"), &json!({"into": keep})).await;
    assert_eq!(status, 200, "{survivor}");
    assert_eq!((&survivor["id"], &survivor["visit_count"]), (&json!(keep), &json!(2)), "{survivor}");

    let (status, home) = app.get_as(&dispatcher, &format!("/api/v1/households/{keep}")).await;
    assert_eq!(status, 200, "{home}");
    let mut visits: Vec<&str> =
        home["visits"].as_array().expect("visits").iter().filter_map(|v| v["id"].as_str()).collect();
    visits.sort_unstable();
    let mut want = [v1.as_str(), v2.as_str()];
    want.sort_unstable();
    assert_eq!(visits, want, "{home}");
    assert_eq!(home["tickets"][0]["id"], json!(t), "{home}");
    let (status, _) = app.get_as(&dispatcher, &format!("/api/v1/households/{gone}")).await;
    assert_eq!(status, 404, "merged away");
    let (_, ticket) = app.get_as(&dispatcher, &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(ticket["household_id"], json!(keep), "{ticket}");

    // The phone that had both drops the merged one and gets its records under the survivor.
    let (pages, _) = app.pull_all(&phone, Some(cursor), 100).await;
    let removed: Vec<&Value> = pages.iter().flat_map(|p| p["removed"].as_array().into_iter().flatten()).collect();
    assert_eq!(removed, [&json!({"type": "household", "id": gone})], "{pages:?}");
    let moved: Vec<&Value> = pages.iter().flat_map(|p| p["visits"].as_array().into_iter().flatten()).collect();
    assert!(moved.iter().any(|v| v["id"] == v2 && v["household_id"] == keep), "{pages:?}");
    let tickets: Vec<&Value> = pages.iter().flat_map(|p| p["tickets"].as_array().into_iter().flatten()).collect();
    assert!(tickets.iter().any(|x| x["id"] == t && x["household_id"] == keep), "{pages:?}");
    // A new phone's first pull never hears of it.
    let fresh = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let (pages, _) = app.pull_all(&fresh, None, 100).await;
    assert!(ids_in(&pages, "households").iter().all(|h| *h != gone), "{pages:?}");

    // Coverage counts the door once; the merge is audited; the database is consistent.
    let (_, after) = app.get_as(&supervisor, &coverage).await;
    assert_eq!((&after["grids"][0]["households"], &after["grids"][0]["visited"]), (&json!(1), &json!(1)), "{after}");
    let (_, audit) = app.get_as(&org.admin, "/api/v1/audit?limit=200").await;
    let entries = audit["entries"].as_array().or(audit["audit"].as_array()).cloned().unwrap_or_default();
    let merged = entries.iter().find(|e| e["action"] == "household_merged").expect("audited");
    assert_eq!(merged["target_id"], json!(gone), "{merged}");
    let (_, list) = app.get_as(&dispatcher, "/api/v1/households/duplicates").await;
    assert_eq!(list["groups"], json!([]), "{list}");
    let report =
        db::run(&app.state.pool, |c| check::run(c, chrono::Utc::now().timestamp_millis())).await.expect("check");
    assert!(report.is_clean(), "{:?}", report.findings);
}

async fn a_merge_outside_scope_or_role_is_refused(app: TestApp) {
    let org = app.org().await;
    let (a1, a2, b1) = (new_id(), new_id(), new_id());
    let phone_a = app.token("volunteer_a", PASSWORD, &new_id()).await;
    let records = json!({"households": [registered(&a1, &org.grid_a, "西城路9号", "钱叔"), registered(&a2, &org.grid_a, "西城路9号", "钱叔")]});
    app.push(&phone_a, &batch(&at_minutes(0), records)).await;
    let phone_b = app.token("volunteer_b", PASSWORD, &new_id()).await;
    let records = json!({"households": [registered(&b1, &org.grid_b, "西城路9号", "钱叔")]});
    app.push(&phone_b, &batch(&at_minutes(0), records)).await;

    let dispatcher = app.token("dispatcher_a", PASSWORD, &new_id()).await;
    let merge = |from: &str, into: &str| (format!("/api/v1/households/{from}/merge"), json!({"into": into}));
    for (from, into, field) in [(&b1, &a1, "id"), (&a1, &b1, "into")] {
        let (path, body) = merge(from, into);
        let (status, err) = app.post_as(&dispatcher, &path, &body).await;
        assert_eq!(
            (status, &err["error"]["code"], &err["error"]["field"]),
            (403, &json!("out_of_scope"), &json!(field)),
            "{err}"
        );
    }
    for user in ["volunteer_a", "handler_a"] {
        let token = app.token(user, PASSWORD, &new_id()).await;
        let (path, body) = merge(&a2, &a1);
        let (status, err) = app.post_as(&token, &path, &body).await;
        assert_eq!((status, &err["error"]["code"]), (403, &json!("forbidden")), "{user}: {err}");
    }
    let (path, body) = merge(&a1, &a1);
    let (status, err) = app.post_as(&dispatcher, &path, &body).await;
    assert_eq!((status, &err["error"]["field"]), (422, &json!("into")), "{err}");
    let (path, body) = merge(&a2, &new_id());
    let (status, err) = app.post_as(&dispatcher, &path, &body).await;
    assert_eq!((status, &err["error"]["field"]), (404, &json!("into")), "{err}");
    let (status, err) = app.post_as(&dispatcher, &format!("/api/v1/households/{a2}/merge"), &json!({"onto": a1})).await;
    assert_eq!(status, 400, "{err}");
    // Nothing was merged: both of town A's households are still there.
    for id in [&a1, &a2] {
        let (status, _) = app.get_as(&dispatcher, &format!("/api/v1/households/{id}")).await;
        assert_eq!(status, 200);
    }
}

backend_tests!(
    two_offline_registrations_of_one_door_get_a_hint,
    a_merge_moves_visits_and_tickets_and_reaches_phones,
    a_merge_outside_scope_or_role_is_refused
);
