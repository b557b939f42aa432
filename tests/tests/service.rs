//! Service endpoints, the error model and schema parity between the two backends.

use crate::harness;

use std::collections::BTreeSet;

use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use fieldvisit_server::db::{self, DbConn};
use harness::{json_of, Db, TestApp};

async fn healthz_answers_ok(app: TestApp) {
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

async fn readyz_names_the_backend(app: TestApp) {
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    let expected = match app.db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
    assert_eq!(body["status"], "ready");
}

async fn unknown_route_is_a_json_404_with_request_id(app: TestApp) {
    let res = app.get("/api/v1/nothing-here").await;
    assert!(res.headers().contains_key("x-request-id"));
    let (status, body) = json_of(res).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

async fn metrics_count_requests_by_route_and_pool_use(app: TestApp) {
    app.get("/healthz").await;
    let text = app.get("/metrics").await.text().await.expect("body");
    assert!(text.contains(r#"endpoint="/healthz""#), "{text}");
    assert!(text.contains("fieldvisit_http_requests_duration_seconds_bucket"));
    assert!(text.contains(r#"fieldvisit_db_pool_connections{state="max"} 4"#), "{text}");
}

async fn openapi_lists_the_service_routes(app: TestApp) {
    let (status, body) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(body["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
    assert!(body["paths"]["/readyz"]["get"].is_object(), "{body}");
}

backend_tests!(
    healthz_answers_ok,
    readyz_names_the_backend,
    unknown_route_is_a_json_404_with_request_id,
    metrics_count_requests_by_route_and_pool_use,
    openapi_lists_the_service_routes,
);

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

async fn columns(app: &TestApp) -> BTreeSet<(String, String)> {
    db::run(&app.state.pool, |conn| {
        let rows: Vec<Column> = match conn {
            DbConn::Sqlite(c) => diesel::sql_query(
                "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
                 JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
                 AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__diesel%'",
            )
            .load(c)?,
            DbConn::Pg(c) => diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name \
                 FROM information_schema.columns WHERE table_schema = 'public' \
                 AND table_name NOT LIKE '__diesel%'",
            )
            .load(c)?,
        };
        Ok(rows.into_iter().map(|r| (r.table_name, r.column_name)).collect())
    })
    .await
    .expect("schema read")
}

#[tokio::test]
async fn both_backends_end_with_the_same_tables_and_columns() {
    let sqlite = TestApp::spawn(Db::Sqlite).await;
    let postgres = TestApp::spawn(Db::Postgres).await;
    let (s, p) = (columns(&sqlite).await, columns(&postgres).await);
    assert!(s.len() > 10, "schema looks empty: {s:?}");
    assert_eq!(s, p, "sqlite and postgres schemas differ");
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.metrics_token = Some(fieldvisit_server::config::Secret::new("scrape-me"));
    })
    .await;
    let (status, body) = json_of(app.get("/metrics").await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_token")));
    let res = app.client.get(app.url("/metrics")).bearer_auth("scrape-me").send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 200);
}
