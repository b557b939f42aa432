//! What a phone's pull costs on the wire and in history (issue 22), over real HTTP on both
//! backends: gzip answers when asked, the bounded first pull and its hand-over to incremental pulls.

mod harness;

use std::io::Read;

use harness::*;
use serde_json::{json, Value};

/// A client that neither asks for nor decodes compression by itself: the test sees the wire.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().build().expect("client")
}

async fn pull_with_gzip_answers_gzip_that_decodes_to_the_same_json(app: TestApp) {
    let org = app.org().await;
    let token = app.token("volunteer_a", PASSWORD, "phone-a").await;
    // A page as a grid's phone sees it: households, each with a visit.
    for b in 0..5 {
        let households: Vec<Value> =
            (0..40).map(|i| household(&new_id(), &org.grid_a, &format!("西城区{b}{i}号楼2单元501"))).collect();
        let visits: Vec<Value> =
            households.iter().map(|h| visit(&new_id(), h["id"].as_str().unwrap_or_default(), -30)).collect();
        let (status, res) =
            app.push(&token, &batch(&at_minutes(0), json!({ "households": households, "visits": visits }))).await;
        assert_eq!(status, 200, "{res}");
    }

    let url = app.url("/api/v1/sync/pull?limit=500");
    let client = raw_client();
    let plain = client.get(&url).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none(), "not asked, not compressed");
    let plain: Value = serde_json::from_slice(&plain.bytes().await.expect("body")).expect("json");

    let zipped = client.get(&url).bearer_auth(&token).header("accept-encoding", "gzip").send().await.expect("sent");
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let wire = zipped.bytes().await.expect("body");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&wire[..]).read_to_end(&mut text).expect("gzip decodes");
    let mut decoded: Value = serde_json::from_slice(&text).expect("json");
    eprintln!("pull page of 400 records: {} bytes of JSON, {} gzipped", text.len(), wire.len());
    assert!(wire.len() * 3 < text.len(), "{} bytes on the wire for {} of JSON", wire.len(), text.len());
    // Same page; only the server's clock reading differs between the two requests.
    decoded["server_time"] = plain["server_time"].clone();
    assert_eq!(decoded, plain);

    // The alert stream stays uncompressed (its events must leave at once), even when gzip is asked.
    let supervisor = app.token("supervisor_a", PASSWORD, "laptop-s").await;
    let stream = client
        .get(app.url("/api/v1/alerts/stream"))
        .bearer_auth(&supervisor)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("sent");
    assert_eq!(stream.status(), 200);
    assert_ne!(stream.headers().get("content-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
}

backend_tests!(pull_with_gzip_answers_gzip_that_decodes_to_the_same_json);
