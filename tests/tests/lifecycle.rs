//! Security round 2, accounts and sessions, on both backends: device ids that cannot be taken over,
//! the refresh retry after a lost answer, the user lifecycle (change, password, deactivation, in
//! bulk) within the admin's area, teams within the admin's area, and alert streams that end with
//! their session and are capped per user.

use crate::harness;

use std::time::{Duration, Instant};

use harness::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn refresh_with(app: &TestApp, token: &str) -> (u16, Value) {
    app.send(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": token}))).await
}

async fn patch_user(app: &TestApp, token: &str, id: &str, body: Value) -> (u16, Value) {
    app.send(Method::PATCH, &format!("/api/v1/users/{id}"), Some(token), Some(&body)).await
}

async fn set_password(app: &TestApp, token: &str, id: &str, password: &str) -> (u16, Value) {
    app.post_as(token, &format!("/api/v1/users/{id}/password"), &json!({"password": password})).await
}

fn code(res: &(u16, Value)) -> (u16, Option<&str>) {
    (res.0, res.1["error"]["code"].as_str())
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let admin = app.admin_token().await;
    let (_, audit) = app.get_as(&admin, "/api/v1/audit?limit=1000").await;
    audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

async fn device_ids_are_uuids(app: TestApp) {
    let _org = app.org().await;
    for bad in ["my phone", "d", "12345678-1234-1234-1234-12345678901z", ""] {
        let body = json!({"username": "volunteer_a", "password": PASSWORD, "device_id": bad});
        let res = app.send(Method::POST, "/api/v1/auth/login", None, Some(&body)).await;
        assert_eq!((res.0, res.1["error"]["field"].as_str()), (400, Some("device_id")), "{bad}: {}", res.1);
    }
    let body =
        json!({"username": "volunteer_a", "password": PASSWORD, "device_id": "9D1F3A52-0A6C-4F0E-9A51-61A2F1F0A001"});
    let (status, res) = app.send(Method::POST, "/api/v1/auth/login", None, Some(&body)).await;
    assert_eq!(status, 200, "{res}");
}

async fn another_users_device_id_is_never_taken_over(app: TestApp) {
    let org = app.org().await;
    let phone = new_id();
    let victim = app.token("volunteer_a", PASSWORD, &phone).await;
    // The attacker in town B knows the victim's device id (timelines show it).
    let res = app.login("volunteer_b", PASSWORD, &phone).await;
    assert_eq!(code(&res), (409, Some("device_in_use")), "{}", res.1);
    assert_eq!(res.1["error"]["field"], "device_id");
    // Nothing moved: the device stays in town A, the victim keeps working, town B cannot touch it.
    let admin_b = app.token("admin_b", PASSWORD, "b-laptop").await;
    let (_, listed) = app.get_as(&admin_b, "/api/v1/devices").await;
    assert!(!listed.to_string().contains(&phone), "{listed}");
    let revoke = format!("/api/v1/devices/{phone}/revoke");
    assert_eq!(app.post_as(&admin_b, &revoke, &json!({})).await.0, 404);
    let admin_a = app.token("admin_a", PASSWORD, "a-laptop").await;
    let (_, listed) = app.get_as(&admin_a, "/api/v1/devices").await;
    let device = listed["devices"].as_array().expect("devices").iter().find(|d| d["id"] == phone.as_str()).cloned();
    assert_eq!(device.expect("listed in town A")["user_id"], org.user("volunteer_a"));
    assert_eq!(app.get_as(&victim, "/api/v1/me").await.0, 200);
    // Its own user logs in on it again as before.
    assert_eq!(app.login("volunteer_a", PASSWORD, &phone).await.0, 200);
}

async fn a_refresh_retried_after_a_lost_answer_keeps_the_session(app: TestApp) {
    let (_, login) = app.login("admin", harness::ADMIN_PASSWORD, "retry-tablet").await;
    let r1 = login["refresh_token"].as_str().expect("r1").to_owned();
    // The answer to this refresh is lost on the way to the phone.
    let (status, lost) = refresh_with(&app, &r1).await;
    assert_eq!(status, 200);
    let (status, again) = refresh_with(&app, &r1).await;
    assert_eq!(status, 200, "a retry within 60 s while the pair is unused: {again}");
    let a3 = again["access_token"].as_str().expect("a3");
    assert_eq!(app.get_as(a3, "/api/v1/me").await.0, 200);
    // The lost pair is void; the session goes on.
    let lost_access = lost["access_token"].as_str().expect("a2");
    assert_eq!(code(&app.get_as(lost_access, "/api/v1/me").await), (401, Some("session_revoked")));
    let (status, next) = refresh_with(&app, again["refresh_token"].as_str().expect("r3")).await;
    assert_eq!(status, 200, "{next}");
    let a4 = next["access_token"].as_str().expect("a4");
    assert_eq!(app.get_as(a4, "/api/v1/me").await.0, 200);
    // r1 is no longer the most recently used token: a reuse, and the device's sessions end.
    assert_eq!(code(&refresh_with(&app, &r1).await), (401, Some("refresh_token_reused")));
    assert_eq!(code(&app.get_as(a4, "/api/v1/me").await), (401, Some("session_revoked")));

    // A pair one of whose tokens was used cannot be replaced: that is theft.
    let (_, login) = app.login("admin", harness::ADMIN_PASSWORD, "retry-phone").await;
    let r1 = login["refresh_token"].as_str().expect("r1").to_owned();
    let (_, used) = refresh_with(&app, &r1).await;
    let a2 = used["access_token"].as_str().expect("a2");
    assert_eq!(app.get_as(a2, "/api/v1/me").await.0, 200);
    assert_eq!(code(&refresh_with(&app, &r1).await), (401, Some("refresh_token_reused")));
    assert_eq!(code(&app.get_as(a2, "/api/v1/me").await), (401, Some("session_revoked")));

    // Past 60 s the retry is a reuse too.
    let (_, login) = app.login("admin", harness::ADMIN_PASSWORD, "retry-slow").await;
    let r1 = login["refresh_token"].as_str().expect("r1").to_owned();
    assert_eq!(refresh_with(&app, &r1).await.0, 200);
    app.state.clock.advance(61_000);
    assert_eq!(code(&refresh_with(&app, &r1).await), (401, Some("refresh_token_reused")));

    // The void refresh token of a retried pair, presented later, is a reuse.
    let (_, login) = app.login("admin", harness::ADMIN_PASSWORD, "retry-void").await;
    let r1 = login["refresh_token"].as_str().expect("r1").to_owned();
    let (_, lost) = refresh_with(&app, &r1).await;
    let (_, kept) = refresh_with(&app, &r1).await;
    assert_eq!(code(&refresh_with(&app, lost["refresh_token"].as_str().expect("r2")).await).0, 401);
    assert_eq!(code(&app.get_as(kept["access_token"].as_str().expect("a3"), "/api/v1/me").await).0, 401);

    // Logout and reuse are audited, and the retry too.
    let (_, login) = app.login("admin", harness::ADMIN_PASSWORD, "retry-last").await;
    let access = login["access_token"].as_str().expect("access");
    assert_eq!(app.send(Method::POST, "/api/v1/auth/logout", Some(access), None).await.0, 204);
    let actions = audit_actions(&app).await;
    for expected in ["refresh_retried", "refresh_token_reused", "logout"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
}

async fn an_admin_manages_users_within_their_area(app: TestApp) {
    let org = app.org().await;
    let admin_a = app.token("admin_a", PASSWORD, "a-laptop").await;
    let vol = org.user("volunteer_a").to_owned();
    let (_, users) = app.get_as(&admin_a, "/api/v1/users").await;
    assert!(users["users"].as_array().expect("users").iter().all(|u| u["active"] == true), "{users}");

    // Change name, role and team; take the team away again with null.
    let res =
        patch_user(&app, &admin_a, &vol, json!({"display_name": "李四", "role": "handler", "team_id": org.team_a}))
            .await;
    assert_eq!(res.0, 200, "{}", res.1);
    assert_eq!(
        (&res.1["display_name"], &res.1["role"], &res.1["team_id"]),
        (&json!("李四"), &json!("handler"), &json!(org.team_a))
    );
    let res = patch_user(&app, &admin_a, &vol, json!({"role": "volunteer", "team_id": null})).await;
    assert_eq!((res.0, &res.1["team_id"], &res.1["active"]), (200, &Value::Null, &json!(true)), "{}", res.1);

    // Bad input names the field; outside the admin's area is refused; others may not at all.
    assert_eq!(patch_user(&app, &admin_a, &vol, json!({"role": "king"})).await.1["error"]["field"], "role");
    assert_eq!(patch_user(&app, &admin_a, &vol, json!({"display_name": ""})).await.0, 422);
    assert_eq!(patch_user(&app, &admin_a, &vol, json!({"nickname": "x"})).await.0, 400);
    assert_eq!(patch_user(&app, &admin_a, &new_id(), json!({"active": false})).await.0, 404);
    let res = patch_user(&app, &admin_a, org.user("volunteer_b"), json!({"active": false})).await;
    assert_eq!(code(&res), (403, Some("out_of_scope")));
    let res = patch_user(&app, &admin_a, &vol, json!({"area_id": org.town_b})).await;
    assert_eq!((code(&res), res.1["error"]["field"].as_str()), ((403, Some("out_of_scope")), Some("area_id")));
    let res = patch_user(&app, &admin_a, org.user("admin_b"), json!({"role": "volunteer"})).await;
    assert_eq!(code(&res), (403, Some("out_of_scope")));
    assert_eq!(set_password(&app, &admin_a, org.user("volunteer_b"), "another-long-pass").await.0, 403);
    let supervisor = app.token("supervisor_a", PASSWORD, "s-laptop").await;
    assert_eq!(code(&patch_user(&app, &supervisor, &vol, json!({"active": false})).await), (403, Some("forbidden")));
    assert_eq!(set_password(&app, &supervisor, &vol, "another-long-pass").await.0, 403);
    let self_id = org.user("admin_a").to_owned();
    assert_eq!(patch_user(&app, &admin_a, &self_id, json!({"active": false})).await.0, 422);

    // A new password ends every session at once; the old password no longer works.
    let phone = app.token("volunteer_a", PASSWORD, "vol-phone").await;
    let tablet = app.token("volunteer_a", PASSWORD, "vol-tablet").await;
    assert_eq!(set_password(&app, &admin_a, &vol, "short").await.1["error"]["field"], "password");
    assert_eq!(set_password(&app, &admin_a, &vol, "a-new-long-password").await.0, 204);
    for token in [&phone, &tablet] {
        assert_eq!(code(&app.get_as(token, "/api/v1/me").await), (401, Some("session_revoked")));
    }
    assert_eq!(app.login("volunteer_a", PASSWORD, "vol-phone").await.0, 401);
    let phone = app.token("volunteer_a", "a-new-long-password", "vol-phone").await;

    // Deactivation ends the sessions at once and refuses login; reactivation lets them back.
    let res = patch_user(&app, &admin_a, &vol, json!({"active": false})).await;
    assert_eq!((res.0, &res.1["active"]), (200, &json!(false)), "{}", res.1);
    assert_eq!(code(&app.get_as(&phone, "/api/v1/me").await), (401, Some("session_revoked")));
    assert_eq!(code(&app.login("volunteer_a", "a-new-long-password", "vol-phone").await), (403, Some("user_disabled")));
    assert_eq!(
        code(&app.login("volunteer_a", "wrong-password", "vol-phone").await),
        (401, Some("invalid_credentials"))
    );
    let (_, users) = app.get_as(&admin_a, "/api/v1/users").await;
    let listed = users["users"].as_array().expect("users").iter().find(|u| u["id"] == vol.as_str()).cloned();
    assert_eq!(listed.expect("listed")["active"], false);
    assert_eq!(patch_user(&app, &admin_a, &vol, json!({"active": true})).await.0, 200);
    assert_eq!(app.login("volunteer_a", "a-new-long-password", "vol-phone").await.0, 200);

    // A season's volunteers go home: every active volunteer at or below town A, no one else.
    for name in ["season_1", "season_2"] {
        app.create(
            &org.admin,
            "/api/v1/users",
            json!({"username": name, "password": PASSWORD, "display_name": name,
            "role": "volunteer", "area_id": org.grid_a}),
        )
        .await;
    }
    let seasonal = app.token("season_1", PASSWORD, "season-phone").await;
    let bulk = |area: &str| json!({"area_id": area, "role": "volunteer"});
    let res = app.post_as(&admin_a, "/api/v1/users/deactivate", &bulk(&org.town_b)).await;
    assert_eq!(code(&res), (403, Some("out_of_scope")));
    let (status, res) = app.post_as(&admin_a, "/api/v1/users/deactivate", &bulk(&org.town_a)).await;
    assert_eq!((status, &res["deactivated"]), (200, &json!(3)), "{res}");
    assert_eq!(code(&app.get_as(&seasonal, "/api/v1/me").await), (401, Some("session_revoked")));
    assert_eq!(code(&app.login("season_2", PASSWORD, "s2-phone").await), (403, Some("user_disabled")));
    assert_eq!(app.login("volunteer_b", PASSWORD, "b-phone").await.0, 200);
    assert_eq!(app.login("handler_a", PASSWORD, "h-phone").await.0, 200);

    let actions = audit_actions(&app).await;
    for expected in ["user_updated", "password_set", "user_deactivated", "user_activated", "login_disabled"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
    let (_, spec) = app.get_json("/openapi.json").await;
    for (path, method) in
        [("/api/v1/users/{id}", "patch"), ("/api/v1/users/{id}/password", "post"), ("/api/v1/users/deactivate", "post")]
    {
        assert!(spec["paths"][path][method].is_object(), "{method} {path} missing from openapi");
    }
}

async fn a_town_admin_cannot_put_a_user_on_a_county_team(app: TestApp) {
    let org = app.org().await;
    let county_team = app
        .create(
            &org.admin,
            "/api/v1/teams",
            json!({"name": "县热力公司", "area_id": org.root, "categories": ["heating"]}),
        )
        .await;
    let team_b = app
        .create(
            &org.admin,
            "/api/v1/teams",
            json!({"name": "红城供热站", "area_id": org.town_b, "categories": ["heating"]}),
        )
        .await;
    let admin_a = app.token("admin_a", PASSWORD, "a-laptop").await;
    let handler = |name: &str, team: &str| {
        json!({"username": name, "password": PASSWORD, "display_name": name,
        "role": "handler", "area_id": org.town_a, "team_id": team})
    };
    let res = app.post_as(&admin_a, "/api/v1/users", &handler("spy", &county_team)).await;
    assert_eq!(
        (code(&res), res.1["error"]["field"].as_str()),
        ((403, Some("out_of_scope")), Some("team_id")),
        "{}",
        res.1
    );
    let res = patch_user(&app, &admin_a, org.user("handler_a"), json!({"team_id": county_team})).await;
    assert_eq!(
        (code(&res), res.1["error"]["field"].as_str()),
        ((403, Some("out_of_scope")), Some("team_id")),
        "{}",
        res.1
    );
    // A team that serves neither the user's area nor one around it.
    let res = patch_user(&app, &org.admin, org.user("handler_a"), json!({"team_id": team_b})).await;
    assert_eq!((res.0, res.1["error"]["field"].as_str()), (422, Some("team_id")), "{}", res.1);
    // Moving a user away from their team's area is refused the same way.
    let res = patch_user(&app, &org.admin, org.user("handler_a"), json!({"area_id": org.town_b})).await;
    assert_eq!((res.0, res.1["error"]["field"].as_str()), (422, Some("team_id")), "{}", res.1);
    // The county's admin may: the county team is within their area.
    assert_eq!(app.post_as(&org.admin, "/api/v1/users", &handler("county_handler", &county_team)).await.0, 201);
    assert_eq!(app.post_as(&admin_a, "/api/v1/users", &handler("town_handler", &org.team_a)).await.0, 201);
}

async fn open_stream(app: &TestApp, token: &str) -> reqwest::Response {
    let mut res = app.client.get(app.url("/api/v1/alerts/stream")).bearer_auth(token).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), res.chunk()).await.expect("first chunk in time");
    assert!(first.expect("chunk").is_some_and(|c| c.starts_with(b":")));
    res
}

/// Seconds until the server ends `res` (read errors count as ended); panics past 10 s.
async fn seconds_until_it_ends(mut res: reqwest::Response) -> f64 {
    let start = Instant::now();
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = res.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream was still open after 10 s");
    start.elapsed().as_secs_f64()
}

async fn an_alert_stream_ends_with_its_session(app: TestApp) {
    let org = app.org().await;
    let supervisor = app.token("supervisor_a", PASSWORD, "s-laptop").await;
    let admin_a = app.token("admin_a", PASSWORD, "a-laptop").await;
    let dispatcher = org.user("dispatcher_a").to_owned();
    let ends: [(&str, &str); 4] =
        [("revoke", "desk-1"), ("logout", "desk-2"), ("password", "desk-3"), ("deactivate", "desk-4")];
    let mut password = PASSWORD.to_owned();
    for (how, desk) in ends {
        let token = app.token("dispatcher_a", &password, desk).await;
        let stream = open_stream(&app, &token).await;
        let waiting = tokio::spawn(seconds_until_it_ends(stream));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let status = match how {
            "revoke" => {
                app.post_as(&supervisor, &format!("/api/v1/devices/{}/revoke", device(desk)), &json!({})).await.0
            }
            "logout" => app.send(Method::POST, "/api/v1/auth/logout", Some(&token), None).await.0,
            "password" => {
                password = "a-new-long-password".into();
                set_password(&app, &admin_a, &dispatcher, &password).await.0
            }
            _ => patch_user(&app, &admin_a, &dispatcher, json!({"active": false})).await.0,
        };
        assert!(status == 200 || status == 204, "{how}: {status}");
        let took = waiting.await.expect("joined");
        // `took` counts from 0.3 s before the session ended.
        eprintln!("{how}: the stream ended {:.2} s after it", took - 0.3);
        assert!(took - 0.3 <= 5.0, "{how}: the stream ended {took:.1} s after it");
    }
}

async fn an_alert_stream_ends_when_its_token_expires(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.access_token_ttl_s = 2).await;
    let _org = app.org().await;
    let token = app.token("dispatcher_a", PASSWORD, "desk").await;
    let opened = Instant::now();
    seconds_until_it_ends(open_stream(&app, &token).await).await;
    let took = opened.elapsed().as_secs_f64();
    eprintln!("expiry: the stream ended {took:.2} s after the login that issued its 2 s token");
    assert!(took <= 2.0 + 5.0, "the stream outlived its token by {:.1} s", took - 2.0);
}

async fn a_user_holds_at_most_five_streams(app: TestApp) {
    let _org = app.org().await;
    let token = app.token("supervisor_a", PASSWORD, "s-laptop").await;
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(open_stream(&app, &token).await);
    }
    let res = app.client.get(app.url("/api/v1/alerts/stream")).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(retry >= 1);
    // Another user is not held back by this one's streams.
    let other = app.token("dispatcher_a", PASSWORD, "desk").await;
    open.push(open_stream(&app, &other).await);
    // A desk that reloads closes its old stream: the slot is free again at once, not after the
    // next keep-alive write finds the connection gone (up to 30 s of 429s and a board "offline").
    drop(open);
    let closed = Instant::now();
    loop {
        let res = app.client.get(app.url("/api/v1/alerts/stream")).bearer_auth(&token).send().await.expect("sent");
        if res.status().as_u16() == 200 {
            break;
        }
        assert!(closed.elapsed() < Duration::from_secs(3), "closed streams still hold their slots");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Handlers follow the alerts of their team's tickets, and only those.
async fn a_handler_streams_only_their_teams_alerts(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "v-phone").await;
    let dispatcher = app.token("dispatcher_a", PASSWORD, "desk").await;
    let handler = app.token("handler_a", PASSWORD, "h-phone").await;
    let home = new_id();
    let (status, _) = app
        .push(&volunteer, &batch(&at_minutes(0), json!({"households": [household(&home, &org.grid_a, "西城区1号")]})))
        .await;
    assert_eq!(status, 200);
    let mut res = open_stream(&app, &handler).await;
    let (ours, other) = (new_id(), new_id());
    let mut dispatch = event(&new_id(), &ours, "dispatched", -998);
    dispatch["team_id"] = json!(org.team_a);
    let records = json!({
        "tickets": [ticket(&ours, &home, -1000), ticket(&other, &home, -1000)],
        "ticket_events": [event(&new_id(), &ours, "classified", -999), dispatch],
    });
    let (status, body) = app.push(&dispatcher, &batch(&at_minutes(0), records)).await;
    assert_eq!(status, 200, "{body}");
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(4), async {
        while let Ok(Some(chunk)) = res.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(text.contains(&ours), "the team's ticket's alert: {text}");
    assert!(!text.contains(&other), "another ticket's alert reached the handler: {text}");
}

backend_tests!(
    device_ids_are_uuids,
    another_users_device_id_is_never_taken_over,
    a_refresh_retried_after_a_lost_answer_keeps_the_session,
    an_admin_manages_users_within_their_area,
    a_town_admin_cannot_put_a_user_on_a_county_team,
    an_alert_stream_ends_with_its_session,
    a_user_holds_at_most_five_streams,
    a_handler_streams_only_their_teams_alerts,
);

mod expiry {
    use super::an_alert_stream_ends_when_its_token_expires;
    crate::backend_tests!(db: an_alert_stream_ends_when_its_token_expires);
}
