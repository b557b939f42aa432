//! Spawns the real fieldvisit app on port 0 against a fresh database and talks HTTP to it.
//! Every end-to-end test runs twice through [`backend_tests!`]: on a temp SQLite file and on a
//! freshly created PostgreSQL database that is dropped afterwards.

#![allow(dead_code)]

use diesel::{Connection, PgConnection, RunQueryDsl};
use fieldvisit_server::config::{Secret, Settings};
use fieldvisit_server::startup::Application;
use fieldvisit_server::state::AppState;
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "admin-test-password";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Server of the PostgreSQL cluster the suite creates its databases in.
pub fn pg_admin_url() -> String {
    pg_url_for("postgres")
}

/// The URL of database `name` on the test cluster. SSL is off: on loopback it buys nothing, and
/// libpq's OpenSSL teardown at process exit can crash while a server thread still holds a
/// connection (seen as SIGSEGV after a passing test).
pub fn pg_url_for(name: &str) -> String {
    let base = std::env::var("FIELDVISIT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (base, query) = base.split_once('?').unwrap_or((&base, ""));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !p.starts_with("sslmode=")).collect();
    params.push("sslmode=disable");
    format!("{server}/{name}?{}", params.join("&"))
}

/// A database that exists for one test.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { name: String },
}

impl TestDb {
    pub fn create(kind: Db) -> (Self, String) {
        match kind {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("fieldvisit.db").display());
                (TestDb::Sqlite(dir), url)
            }
            Db::Postgres => {
                let name = format!("fvtest_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&pg_admin_url())
                    .expect("PostgreSQL must run on 127.0.0.1:5432 (.ci/run starts it)");
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create database");
                let url = pg_url_for(&name);
                (TestDb::Postgres { name }, url)
            }
        }
    }

    pub fn data_dir(&self) -> Option<std::path::PathBuf> {
        match self {
            TestDb::Sqlite(d) => Some(d.path().to_path_buf()),
            TestDb::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { name } = self {
            if let Ok(mut conn) = PgConnection::establish(&pg_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db: Db,
    pub settings: Settings,
    /// Whether dropping the app runs `fieldvisit check` on its database (see `Drop`).
    final_check: std::sync::atomic::AtomicBool,
    // Dropped last: the server's pool closes with the runtime, then the database goes. `None` for
    // a second app on another app's database (`spawn_on`).
    _db: Option<TestDb>,
    _data: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// Spawns with settings adjusted by `tweak` (tests of limits, TTLs, rate limits).
    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Settings)) -> Self {
        let (test_db, url) = TestDb::create(db);
        Self::build(db, Some(test_db), url, tweak).await
    }

    /// A second server instance on the database at `url` (another app's): two instances, one
    /// database, as in a scaled-out deployment. The first app owns (and drops) the database.
    pub async fn spawn_on(db: Db, url: String) -> Self {
        Self::build(db, None, url, |_| {}).await
    }

    async fn build(db: Db, test_db: Option<TestDb>, url: String, tweak: impl FnOnce(&mut Settings)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::defaults();
        settings.bind = "127.0.0.1:0".into();
        settings.database_url = url;
        settings.data_dir = Some(data.path().to_path_buf());
        settings.jwt_secret = Some(Secret::new("test-secret-with-enough-entropy-0123456789"));
        settings.admin_password = Some(Secret::new(ADMIN_PASSWORD));
        settings.db_pool_size = 4;
        tweak(&mut settings);
        let app = Application::build(settings.clone()).await.expect("app builds");
        let port = app.port();
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client,
            state,
            db,
            settings,
            final_check: std::sync::atomic::AtomicBool::new(true),
            _db: test_db,
            _data: data,
        }
    }

    /// For tests that damage the database on purpose or take it away: no check when dropped.
    pub fn skip_final_check(&self) {
        self.final_check.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        json_of(self.get(path).await).await
    }
}

/// Every end-to-end test also proves the database consistent: when the app that owns the database
/// is dropped, `fieldvisit check` runs on it (derived columns against the fold, alert keys,
/// change numbers, kept counts) and any finding fails the test, as crates.io asserts that no
/// background job is left over.
impl Drop for TestApp {
    fn drop(&mut self) {
        if self._db.is_none()
            || std::thread::panicking()
            || !self.final_check.load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let mut conn = self.state.pool.get().expect("a connection for the final check");
        let report =
            fieldvisit_server::ops::check::run(&mut conn, self.state.clock.now()).expect("the final check runs");
        assert!(report.is_clean(), "fieldvisit check after the test: {report:?}");
    }
}

/// Status and JSON body of a response; a body that is not JSON fails the test.
pub async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

/// Declares `mod sqlite` and `mod postgres`, each running every listed `async fn(TestApp)`; with
/// a leading `db:`, every listed `async fn(Db)` instead (tests that spawn their app themselves,
/// with `TestApp::spawn_with`).
#[macro_export]
macro_rules! backend_tests {
    (db: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::Db::Postgres).await
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::TestApp::spawn($crate::harness::Db::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::harness::TestApp::spawn($crate::harness::Db::Postgres).await).await
                }
            )*
        }
    };
}

impl TestApp {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        json_of(req.send().await.expect("request sent")).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    /// Logs in on the device named `device` (see [`device`]).
    pub async fn login(&self, username: &str, password: &str, device_name: &str) -> (u16, Value) {
        let body = serde_json::json!({"username": username, "password": password, "device_id": device(device_name)});
        self.send(reqwest::Method::POST, "/api/v1/auth/login", None, Some(&body)).await
    }

    /// Logs in and returns the access token, failing the test otherwise.
    pub async fn token(&self, username: &str, password: &str, device_id: &str) -> String {
        let (status, body) = self.login(username, password, device_id).await;
        assert_eq!(status, 200, "login of {username} failed: {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD, "admin-laptop").await
    }

    /// Creates a record through the API as `token`; returns its id.
    pub async fn create(&self, token: &str, path: &str, body: Value) -> String {
        let (status, res) = self.post_as(token, path, &body).await;
        assert_eq!(status, 201, "POST {path} {body} → {res}");
        res["id"].as_str().expect("id").to_owned()
    }
}

pub const PASSWORD: &str = "volunteer-pass-1";

/// A county with two towns, a grid in each, a team, and one user of every role in town A.
pub struct Org {
    pub admin: String,
    pub root: String,
    pub town_a: String,
    pub town_b: String,
    pub grid_a: String,
    pub grid_b: String,
    pub team_a: String,
    /// (role, username, user id) in town A, plus `admin_b` and `volunteer_b` in town B.
    pub users: Vec<(String, String, String)>,
}

impl Org {
    pub fn user(&self, username: &str) -> &str {
        &self.users.iter().find(|u| u.1 == username).expect("user in org").2
    }
}

impl TestApp {
    pub async fn org(&self) -> Org {
        let admin = self.admin_token().await;
        let (_, areas) = self.get_as(&admin, "/api/v1/areas").await;
        let root = areas["areas"][0]["id"].as_str().expect("root area").to_owned();
        let mk_area = |parent: String, kind: &'static str, name: &'static str| serde_json::json!({"parent_id": parent, "kind": kind, "name": name});
        let town_a = self.create(&admin, "/api/v1/areas", mk_area(root.clone(), "town", "城关镇")).await;
        let town_b = self.create(&admin, "/api/v1/areas", mk_area(root.clone(), "town", "红城镇")).await;
        let comm_a = self.create(&admin, "/api/v1/areas", mk_area(town_a.clone(), "community", "西城社区")).await;
        let grid_a = self.create(&admin, "/api/v1/areas", mk_area(comm_a, "grid", "网格一")).await;
        let grid_b = self.create(&admin, "/api/v1/areas", mk_area(town_b.clone(), "grid", "网格二")).await;
        let team_a = self
            .create(
                &admin,
                "/api/v1/teams",
                serde_json::json!({"name": "西城供热站", "area_id": town_a, "categories": ["heating", "pipes"]}),
            )
            .await;
        let mut users = Vec::new();
        for (role, username, area, team) in [
            ("volunteer", "volunteer_a", &town_a, None),
            ("handler", "handler_a", &town_a, Some(&team_a)),
            ("dispatcher", "dispatcher_a", &town_a, None),
            ("supervisor", "supervisor_a", &town_a, None),
            ("admin", "admin_a", &town_a, None),
            ("admin", "admin_b", &town_b, None),
            ("volunteer", "volunteer_b", &town_b, None),
        ] {
            let id = self
                .create(
                    &admin,
                    "/api/v1/users",
                    serde_json::json!({"username": username, "password": PASSWORD, "display_name": username,
                        "role": role, "area_id": area, "team_id": team}),
                )
                .await;
            users.push((role.to_owned(), username.to_owned(), id));
        }
        Org { admin, root, town_a, town_b, grid_a, grid_b, team_a, users }
    }
}

/// An RFC 3339 time `minutes` from now (negative: in the past), with a +08:00 offset as phones send.
pub fn at_minutes(minutes: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::minutes(minutes);
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset")).to_rfc3339()
}

/// The device id (a UUID, as apps generate) of the test device named `name`: the same name gives
/// the same id; a UUID is kept as it is.
pub fn device(name: &str) -> String {
    match uuid::Uuid::parse_str(name) {
        Ok(id) => id.to_string(),
        Err(_) => uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string(),
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A push body with a fresh batch id and the device clock reading `device_time`.
pub fn batch(device_time: &str, records: Value) -> Value {
    let mut body = serde_json::json!({"protocol_version": 1, "batch_id": new_id(), "device_time": device_time});
    if let (Some(b), Some(r)) = (body.as_object_mut(), records.as_object()) {
        b.extend(r.clone());
    }
    body
}

pub fn household(id: &str, area_id: &str, address: &str) -> Value {
    serde_json::json!({"id": id, "area_id": area_id, "address": address, "head_name": "王大爷", "phone": "13800000000",
        "heating": "coal", "tags": ["elderly_alone"], "base_version": 0, "updated_at": at_minutes(-60)})
}

pub fn visit(id: &str, household_id: &str, minutes: i64) -> Value {
    serde_json::json!({"id": id, "household_id": household_id, "visited_at": at_minutes(minutes), "indoor_temp_c": 16.5,
        "checklist": {"radiator_ok": false, "co_alarm": true}, "service_card_given": true, "notes": "暖气片不热"})
}

pub fn ticket(id: &str, household_id: &str, minutes: i64) -> Value {
    serde_json::json!({"id": id, "household_id": household_id, "category": "heating", "severity": "urgent",
        "description": "室温16度，暖气片不热", "reported_at": at_minutes(minutes)})
}

pub fn event(id: &str, ticket_id: &str, kind: &str, minutes: i64) -> Value {
    serde_json::json!({"id": id, "ticket_id": ticket_id, "type": kind, "occurred_at": at_minutes(minutes)})
}

impl TestApp {
    pub async fn push(&self, token: &str, body: &Value) -> (u16, Value) {
        self.post_as(token, "/api/v1/sync/push", body).await
    }

    /// Pushes `records` in one batch and checks every record was applied.
    pub async fn push_ok(&self, token: &str, records: Value) -> Value {
        let (status, res) = self.push(token, &batch(&at_minutes(0), records)).await;
        assert_eq!(status, 200, "{res}");
        let bad: Vec<_> = statuses(&res).into_iter().filter(|s| s.2 != "applied").collect();
        assert!(bad.is_empty(), "not applied: {res}");
        res
    }

    /// Every stored alert visible to `token`, in the order fired.
    pub async fn all_alerts(&self, token: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/alerts?limit=100&cursor={c}"),
                None => "/api/v1/alerts?limit=100".to_owned(),
            };
            let (status, page) = self.get_as(token, &path).await;
            assert_eq!(status, 200, "{page}");
            out.extend(page["alerts"].as_array().cloned().unwrap_or_default());
            cursor = page["cursor"].as_str().map(str::to_owned);
            if page["has_more"] != true {
                return out;
            }
        }
    }

    /// Pulls every page from `cursor` on; returns the pages and the last cursor.
    pub async fn pull_all(&self, token: &str, mut cursor: Option<String>, limit: u32) -> (Vec<Value>, Option<String>) {
        let mut pages = Vec::new();
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/sync/pull?limit={limit}&cursor={c}"),
                None => format!("/api/v1/sync/pull?limit={limit}"),
            };
            let (status, page) = self.get_as(token, &path).await;
            assert_eq!(status, 200, "pull: {page}");
            cursor = page["cursor"].as_str().map(str::to_owned);
            let more = page["has_more"] == true;
            pages.push(page);
            if !more {
                return (pages, cursor);
            }
        }
    }
}

/// Ids of one record type across pull pages, in the order received.
pub fn ids_in(pages: &[Value], key: &str) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p[key].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}

/// `(type, id) → status` of a push answer.
pub fn statuses(res: &Value) -> Vec<(String, String, String)> {
    res["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap_or("").to_owned(),
                r["id"].as_str().unwrap_or("").to_owned(),
                r["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}
