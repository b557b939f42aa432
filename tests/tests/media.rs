//! Content-addressed photos on both backends: hash checked, idempotent, readable only by those
//! who can see a record naming them.

use crate::harness;

use harness::*;
use serde_json::json;
use sha2::{Digest, Sha256};

async fn put(app: &TestApp, token: &str, sha: &str, content_type: &str, bytes: Vec<u8>) -> (u16, serde_json::Value) {
    let res = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("sent");
    json_of(res).await
}

async fn photos_are_stored_once_and_shown_only_in_scope(app: TestApp) {
    let org = app.org().await;
    let volunteer = app.token("volunteer_a", PASSWORD, "phone-a").await;
    let photo = b"\xff\xd8\xff\xe0 not really a jpeg but bytes all the same".to_vec();
    let sha = hex::encode(Sha256::digest(&photo));

    assert_eq!(put(&app, &volunteer, &sha, "image/jpeg", photo.clone()).await.0, 201);
    assert_eq!(put(&app, &volunteer, &sha, "image/jpeg", photo.clone()).await.0, 200, "idempotent");
    let (status, res) = put(&app, &volunteer, &sha, "image/jpeg", b"other bytes".to_vec()).await;
    assert_eq!((status, res["error"]["code"].as_str()), (422, Some("hash_mismatch")));
    let (status, _) = put(&app, &volunteer, &sha, "text/plain", photo.clone()).await;
    assert_eq!(status, 415);
    let big = vec![7u8; 10 * 1024 * 1024 + 1];
    let big_sha = hex::encode(Sha256::digest(&big));
    assert_eq!(put(&app, &volunteer, &big_sha, "image/png", big).await.0, 413);

    let get = |token: String| {
        let url = app.url(&format!("/api/v1/blobs/{sha}"));
        let client = app.client.clone();
        async move { client.get(url).bearer_auth(token).send().await.expect("sent") }
    };
    let res = get(volunteer.clone()).await;
    assert_eq!(res.status().as_u16(), 200, "the uploader can read it back");
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), photo);
    let supervisor = app.token("supervisor_a", PASSWORD, "tablet").await;
    let other_town = app.token("volunteer_b", PASSWORD, "phone-b").await;
    assert_eq!(get(supervisor.clone()).await.status().as_u16(), 404, "no record names it yet");

    let (h, v) = (new_id(), new_id());
    let mut with_photo = visit(&v, &h, -5);
    with_photo["photos"] = json!([sha]);
    let (_, res) = app
        .push(
            &volunteer,
            &batch(&at_minutes(0), json!({"households": [household(&h, &org.grid_a, "8号")], "visits": [with_photo]})),
        )
        .await;
    assert_eq!(res["summary"]["applied"], 2, "{res}");
    assert_eq!(get(supervisor).await.status().as_u16(), 200, "a visit in scope names it");
    assert_eq!(get(other_town).await.status().as_u16(), 404, "never outside scope");
    let (status, _) = app.get_as(&volunteer, "/api/v1/blobs/not-a-hash").await;
    assert_eq!(status, 404);
}

backend_tests!(photos_are_stored_once_and_shown_only_in_scope);
