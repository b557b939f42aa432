//! What schemathesis (`scripts/api-fuzz`) found: statuses the server rightly answers but
//! `/openapi.json` did not list. Each probe's status must be among its operation's documented
//! responses, with an error body of the documented shape.

use crate::harness;

use harness::*;
use reqwest::Method;
use serde_json::Value;

/// The status codes `/openapi.json` lists for `method` on the route template `path`.
fn documented(spec: &Value, method: &str, path: &str) -> Vec<String> {
    let responses = &spec["paths"][path][method.to_lowercase()]["responses"];
    let codes = responses.as_object().unwrap_or_else(|| panic!("{method} {path} is not in the spec"));
    codes.keys().cloned().collect()
}

async fn raw(
    app: &TestApp,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some((content_type, text)) = body {
        req = req.header("content-type", content_type).body(text.to_owned());
    }
    json_of(req.send().await.expect("sent")).await
}

/// Method, route template, URL, token, (content type, body), expected status.
type Probe<'a> = (Method, &'a str, String, Option<&'a str>, Option<(&'a str, &'a str)>, u16);

async fn answered_statuses_are_documented(app: TestApp) {
    let (_, spec) = app.get_json("/openapi.json").await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    let unknown = new_id();
    let (_, me) = app.get_as(&token, "/api/v1/me").await;
    let root = me["area_id"].as_str().expect("admin's area").to_owned();
    let area_again = format!(r#"{{"id":"{root}","parent_id":"{root}","kind":"town","name":"again"}}"#);
    let team = format!(r#"{{"id":"{unknown}","name":"again","area_id":"{root}","categories":[]}}"#);
    let (created, _) = raw(&app, Method::POST, "/api/v1/teams", t, Some(("application/json", &team))).await;
    assert_eq!(created, 201);
    let probes: Vec<Probe> = vec![
        (Method::POST, "/api/v1/teams", "/api/v1/teams".into(), t, Some(("application/json", &team)), 409),
        (Method::POST, "/api/v1/areas", "/api/v1/areas".into(), t, Some(("application/json", &area_again)), 409),
        (Method::GET, "/api/v1/areas", "/api/v1/areas".into(), None, None, 401),
        (Method::GET, "/api/v1/tickets/{id}", format!("/api/v1/tickets/{unknown}"), None, None, 401),
        (Method::GET, "/api/v1/reports/coverage", format!("/api/v1/reports/coverage?area_id={unknown}"), t, None, 404),
        (Method::GET, "/api/v1/tickets", format!("/api/v1/tickets?area_id={unknown}"), t, None, 422),
        (Method::GET, "/api/v1/sync/pull", "/api/v1/sync/pull?limit=0".into(), t, None, 400),
        (Method::GET, "/api/v1/reports/temperature", "/api/v1/reports/temperature?since=null".into(), t, None, 400),
        (Method::PUT, "/api/v1/blobs/{sha256}", "/api/v1/blobs/not-a-hash".into(), t, Some(("image/jpeg", "x")), 404),
        (Method::POST, "/api/v1/teams", "/api/v1/teams".into(), t, Some(("text/plain", "{}")), 415),
        (Method::POST, "/api/v1/teams", "/api/v1/teams".into(), t, Some(("application/json", "{")), 400),
        (Method::POST, "/api/v1/auth/login", "/api/v1/auth/login".into(), None, Some(("text/plain", "{}")), 415),
        (
            Method::POST,
            "/api/v1/auth/refresh",
            "/api/v1/auth/refresh".into(),
            None,
            Some(("application/json", "[]")),
            400,
        ),
        (Method::PUT, "/api/v1/policy", "/api/v1/policy".into(), t, Some(("text/plain", "{}")), 415),
    ];
    for (method, template, url, token, body, want) in probes {
        let (status, res) = raw(&app, method.clone(), &url, token, body).await;
        assert_eq!(status, want, "{method} {url} → {res}");
        let listed = documented(&spec, method.as_str(), template);
        assert!(
            listed.contains(&status.to_string()),
            "{method} {template} answers {status}; the spec lists {listed:?}"
        );
        assert!(res["error"]["code"].is_string(), "{method} {url}: not an error body: {res}");
    }
}

backend_tests!(answered_statuses_are_documented);
