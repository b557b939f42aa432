//! Accounts, devices, roles and area scopes over real HTTP on both backends.

use crate::harness;

use fieldvisit_server::auth::tokens::{Claims, Keys};
use fieldvisit_server::config::Secret;
use harness::{TestApp, ADMIN_PASSWORD, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

const ROLES: [&str; 5] = ["volunteer", "handler", "dispatcher", "supervisor", "admin"];

/// Every route × every role (all in town A) → the status it must answer.
async fn every_route_answers_each_role_as_the_table_says(app: TestApp) {
    let org = app.org().await;
    let mut tokens = Vec::new();
    for role in ROLES {
        tokens.push((role, app.token(&format!("{role}_a"), PASSWORD, &format!("{role}-phone")).await));
    }
    let body_area = || json!({"parent_id": org.town_a, "kind": "community", "name": "新社区"});
    let body_team = || json!({"name": "抢修队", "area_id": org.town_a, "categories": ["heating"]});
    let body_user = |n: &str| json!({"username": format!("new_{n}"), "password": PASSWORD, "display_name": "新人", "role": "volunteer", "area_id": org.town_a});
    //            method, path, body?, [volunteer, handler, dispatcher, supervisor, admin]
    let table: Vec<(Method, &str, bool, [u16; 5])> = vec![
        (Method::GET, "/api/v1/me", false, [200, 200, 200, 200, 200]),
        (Method::GET, "/api/v1/areas", false, [200, 200, 200, 200, 200]),
        (Method::GET, "/api/v1/teams", false, [200, 200, 200, 200, 200]),
        (Method::GET, "/api/v1/users", false, [403, 403, 403, 200, 200]),
        (Method::GET, "/api/v1/devices", false, [403, 403, 403, 200, 200]),
        (Method::GET, "/api/v1/audit", false, [403, 403, 403, 403, 200]),
        (Method::POST, "/api/v1/areas", true, [403, 403, 403, 403, 201]),
        (Method::POST, "/api/v1/teams", true, [403, 403, 403, 403, 201]),
        (Method::POST, "/api/v1/users", true, [403, 403, 403, 403, 201]),
        (Method::POST, "/api/v1/devices/{victim}/revoke", false, [403, 403, 403, 204, 204]),
    ];
    for (method, path, has_body, expected) in table {
        for (i, (role, token)) in tokens.iter().enumerate() {
            let victim = format!("victim-{role}-{i}");
            app.token("volunteer_a", PASSWORD, &victim).await;
            let path = path.replace("{victim}", &harness::device(&victim));
            let body = has_body.then(|| match path.as_str() {
                "/api/v1/areas" => body_area(),
                "/api/v1/teams" => body_team(),
                _ => body_user(role),
            });
            let (status, res) = app.send(method.clone(), &path, Some(token), body.as_ref()).await;
            assert_eq!(status, expected[i], "{method} {path} as {role}: {res}");
            if status == 403 {
                assert_eq!(res["error"]["code"], "forbidden", "{res}");
            }
        }
    }
}

async fn other_areas_are_refused_and_never_shown(app: TestApp) {
    let org = app.org().await;
    let admin_b = app.token("admin_b", PASSWORD, "b-laptop").await;
    app.token("volunteer_a", PASSWORD, "a-phone").await;

    // Writes into town A from town B's admin.
    for (path, body, field) in [
        ("/api/v1/areas", json!({"parent_id": org.town_a, "kind": "community", "name": "x"}), "parent_id"),
        ("/api/v1/teams", json!({"name": "x", "area_id": org.grid_a}), "area_id"),
        (
            "/api/v1/users",
            json!({"username": "intruder", "password": PASSWORD, "display_name": "x", "role": "admin", "area_id": org.town_a}),
            "area_id",
        ),
    ] {
        let (status, res) = app.post_as(&admin_b, path, &body).await;
        assert_eq!(status, 403, "{path}: {res}");
        assert_eq!(res["error"]["code"], "out_of_scope");
        assert_eq!(res["error"]["field"], field);
    }
    let (status, _) =
        app.post_as(&admin_b, &format!("/api/v1/devices/{}/revoke", harness::device("a-phone")), &json!({})).await;
    assert_eq!(status, 404, "a device outside scope is not even found");

    // Reads show town B only.
    let a_ids = [org.town_a.as_str(), org.grid_a.as_str(), org.user("volunteer_a")];
    for path in ["/api/v1/areas", "/api/v1/users", "/api/v1/devices", "/api/v1/audit"] {
        let (status, res) = app.get_as(&admin_b, path).await;
        assert_eq!(status, 200, "{path}");
        let text = res.to_string();
        for id in a_ids {
            assert!(!text.contains(id), "{path} leaked {id}: {text}");
        }
    }
    let (_, areas) = app.get_as(&admin_b, "/api/v1/areas").await;
    let ids: Vec<&str> = areas["areas"].as_array().expect("areas").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, vec![org.town_b.as_str(), org.grid_b.as_str()]);
    // Teams serving town B: none of town A's.
    let (_, teams) = app.get_as(&admin_b, "/api/v1/teams").await;
    assert!(!teams.to_string().contains(&org.team_a));
    // A handler in town A sees its team.
    let handler = app.token("handler_a", PASSWORD, "h-phone").await;
    let (_, teams) = app.get_as(&handler, "/api/v1/teams").await;
    assert!(teams.to_string().contains(&org.team_a));
}

fn keys() -> Keys {
    Keys::new(&Secret::new("test-secret-with-enough-entropy-0123456789"))
}

async fn forged_and_dead_tokens_get_401_with_the_right_code(app: TestApp) {
    let _org = app.org().await;
    let (_, login) = app.login("volunteer_a", PASSWORD, "phone-1").await;
    let good = login["access_token"].as_str().expect("token").to_owned();
    let claims: Claims = {
        let payload = good.split('.').nth(1).expect("payload");
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64");
        serde_json::from_slice(&bytes).expect("claims")
    };
    let expired = keys().sign(&Claims { exp: claims.iat - 10, iat: claims.iat - 100, ..claims.clone() }).expect("sign");
    let other_key = Keys::new(&Secret::new("a-completely-different-key-0123456789")).sign(&claims).expect("sign");
    let alg_none = {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        format!("{header}.{}.", good.split('.').nth(1).expect("payload"))
    };
    let unknown_session = keys().sign(&Claims { sid: "no-such-session".into(), ..claims.clone() }).expect("sign");

    let cases: Vec<(Option<&str>, &str)> = vec![
        (None, "missing_token"),
        (Some("garbage"), "invalid_token"),
        (Some(&alg_none), "invalid_token"),
        (Some(&other_key), "invalid_token"),
        (Some(&expired), "token_expired"),
        (Some(&unknown_session), "session_revoked"),
    ];
    for (token, code) in cases {
        let (status, res) = app.send(Method::GET, "/api/v1/me", token, None).await;
        assert_eq!((status, res["error"]["code"].as_str()), (401, Some(code)), "{token:?}: {res}");
    }
    let (status, _) = app.get_as(&good, "/api/v1/me").await;
    assert_eq!(status, 200);

    // Revoke the phone: at once, every call with its token says device_revoked, and it cannot log in.
    let supervisor = app.token("supervisor_a", PASSWORD, "sup-laptop").await;
    let (status, _) =
        app.post_as(&supervisor, &format!("/api/v1/devices/{}/revoke", harness::device("phone-1")), &json!({})).await;
    assert_eq!(status, 204);
    let (status, res) = app.get_as(&good, "/api/v1/me").await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("device_revoked")));
    let (status, res) = app.login("volunteer_a", PASSWORD, "phone-1").await;
    assert_eq!((status, res["error"]["code"].as_str()), (403, Some("device_revoked")));
    let refresh = login["refresh_token"].as_str().expect("refresh");
    let (status, res) = refresh_with(&app, refresh).await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("device_revoked")));
}

async fn refresh_with(app: &TestApp, token: &str) -> (u16, Value) {
    app.send(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": token}))).await
}

async fn refresh_rotates_and_reuse_ends_the_device_sessions(app: TestApp) {
    let (status, first) = app.login("admin", ADMIN_PASSWORD, "tablet").await;
    assert_eq!(status, 200);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["user"]["username"], "admin");
    assert!(first["user"]["team_id"].is_null());
    assert!(first["user"].get("password_hash").is_none());
    let r1 = first["refresh_token"].as_str().expect("r1");

    let (status, second) = refresh_with(&app, r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().expect("r2");
    assert_ne!(r1, r2);
    let a2 = second["access_token"].as_str().expect("a2");
    assert_eq!(app.get_as(a2, "/api/v1/me").await.0, 200);

    // Another session on another device must survive the theft response below.
    let other = app.admin_token().await;

    // r1 again: theft detected.
    let (status, res) = refresh_with(&app, r1).await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("refresh_token_reused")));
    let (status, res) = app.get_as(a2, "/api/v1/me").await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("session_revoked")));
    let (status, res) = refresh_with(&app, r2).await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("session_revoked")));
    assert_eq!(app.get_as(&other, "/api/v1/me").await.0, 200);

    let (status, res) = refresh_with(&app, "never-issued").await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("invalid_token")));

    // Logout ends just this session.
    let (status, _) = app.send(Method::POST, "/api/v1/auth/logout", Some(&other), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get_as(&other, "/api/v1/me").await.1["error"]["code"], "session_revoked");

    // The audit log saw it all.
    let admin = app.admin_token().await;
    let (_, audit) = app.get_as(&admin, "/api/v1/audit").await;
    let actions: Vec<&str> =
        audit["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in ["login", "refresh_token_reused", "bootstrap"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
}

async fn login_requires_device_and_right_password(app: TestApp) {
    let (status, res) = app
        .send(Method::POST, "/api/v1/auth/login", None, Some(&json!({"username": "admin", "password": ADMIN_PASSWORD})))
        .await;
    assert_eq!((status, res["error"]["field"].as_str()), (400, Some("device_id")));
    let (status, res) = app.login("admin", "wrong-password", "d").await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("invalid_credentials")));
    let (status, res) = app.login("nobody", "wrong-password", "d").await;
    assert_eq!((status, res["error"]["code"].as_str()), (401, Some("invalid_credentials")));
    let (status, res) = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("username=admin")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map(|s| (s, ()))
        .expect("sent");
    assert_eq!((status, res), (415, ()));
    let admin = app.admin_token().await;
    let (_, audit) = app.get_as(&admin, "/api/v1/audit").await;
    let failed = audit["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == "login_failed").count();
    assert_eq!(failed, 2);
}

async fn organisation_rules_are_enforced(app: TestApp) {
    let org = app.org().await;
    let admin = &org.admin;
    // A child must be narrower than its parent.
    let (status, res) =
        app.post_as(admin, "/api/v1/areas", &json!({"parent_id": org.grid_a, "kind": "town", "name": "x"})).await;
    assert_eq!((status, res["error"]["field"].as_str()), (422, Some("kind")));
    let (status, res) =
        app.post_as(admin, "/api/v1/areas", &json!({"parent_id": "nope", "kind": "grid", "name": "x"})).await;
    assert_eq!((status, res["error"]["field"].as_str()), (422, Some("parent_id")));
    // Usernames are unique; passwords have a minimum length; roles are known.
    let user = |u: &str, p: &str, r: &str| json!({"username": u, "password": p, "display_name": "x", "role": r, "area_id": org.town_a});
    let (status, res) = app.post_as(admin, "/api/v1/users", &user("volunteer_a", PASSWORD, "volunteer")).await;
    assert_eq!((status, res["error"]["code"].as_str()), (409, Some("username_taken")));
    let (status, res) = app.post_as(admin, "/api/v1/users", &user("short", "abc", "volunteer")).await;
    assert_eq!((status, res["error"]["field"].as_str()), (422, Some("password")));
    let (status, res) = app.post_as(admin, "/api/v1/users", &user("king", PASSWORD, "king")).await;
    assert_eq!((status, res["error"]["field"].as_str()), (422, Some("role")));
    // A client-chosen id is kept.
    let id = uuid::Uuid::new_v4().to_string();
    let got = app
        .create(admin, "/api/v1/areas", json!({"id": id, "parent_id": org.town_b, "kind": "grid", "name": "y"}))
        .await;
    assert_eq!(got, id);
    let (status, _) = app
        .post_as(admin, "/api/v1/areas", &json!({"id": id, "parent_id": org.town_b, "kind": "grid", "name": "y"}))
        .await;
    assert_eq!(status, 409);
    // So is a user's, and taking a user's id again is a conflict, not a server error.
    let user_id = uuid::Uuid::new_v4().to_string();
    let with_id = |username: &str| {
        let mut body = user(username, PASSWORD, "volunteer");
        body["id"] = json!(user_id);
        body
    };
    let (status, created) = app.post_as(admin, "/api/v1/users", &with_id("chosen_id")).await;
    assert_eq!((status, created["id"].as_str()), (201, Some(user_id.as_str())));
    let (status, res) = app.post_as(admin, "/api/v1/users", &with_id("other_name")).await;
    assert_eq!(
        (status, res["error"]["code"].as_str(), res["error"]["field"].as_str()),
        (409, Some("already_exists"), Some("id"))
    );
    // No response about users carries a password or hash.
    let (_, users) = app.get_as(admin, "/api/v1/users").await;
    let text = users.to_string();
    assert!(!text.contains("argon2") && !text.contains(PASSWORD) && !text.contains("password"));
}

backend_tests!(
    every_route_answers_each_role_as_the_table_says,
    other_areas_are_refused_and_never_shown,
    forged_and_dead_tokens_get_401_with_the_right_code,
    refresh_rotates_and_reuse_ends_the_device_sessions,
    login_requires_device_and_right_password,
    organisation_rules_are_enforced,
);

#[tokio::test]
async fn repeated_logins_are_rate_limited_with_retry_after() {
    let app = TestApp::spawn_with(harness::Db::Sqlite, |s| s.login_attempts_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(app.login("admin", "wrong-password", "d").await.0, 401);
    }
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD, "device_id": harness::device("d")}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Another username is not blocked by the first one's failures.
    assert_eq!(app.login("someone-else", "wrong-password", "d").await.0, 401);
}
