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
    std::env::var("FIELDVISIT_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
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
                let base = pg_admin_url();
                let url = format!("{}/{name}", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base));
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
    // Dropped last: the server's pool closes with the runtime, then the database goes.
    _db: TestDb,
    _data: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// Spawns with settings adjusted by `tweak` (tests of limits, TTLs, rate limits).
    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Settings)) -> Self {
        let (test_db, url) = TestDb::create(db);
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
            _db: test_db,
            _data: data,
        }
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

/// Declares `mod sqlite` and `mod postgres`, each running every listed `async fn(TestApp)`.
#[macro_export]
macro_rules! backend_tests {
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
