//! `fieldvisit user` lifecycle subcommands on both backends, and secrets kept out of `--help`.

use std::process::{Command, Output};

use diesel::{Connection, PgConnection, RunQueryDsl};
use fieldvisit_server::db::{self, DbLocation};

/// A fresh database for one test: a SQLite file, or a PostgreSQL database dropped afterwards.
struct TestDb {
    url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

fn pg_server() -> String {
    let url = std::env::var("FIELDVISIT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = url.split_once('?').map_or(url.as_str(), |(b, _)| b).to_owned();
    base.rsplit_once('/').map_or(base.clone(), |(server, _)| server.to_owned())
}

impl TestDb {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("fv.db").display());
        TestDb { url, pg_name: None, _dir: dir }
    }

    fn postgres() -> Self {
        let name = format!("fvcli_{}", uuid::Uuid::new_v4().simple());
        let mut conn =
            PgConnection::establish(&format!("{}/postgres?sslmode=disable", pg_server())).expect("PostgreSQL runs");
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create database");
        let url = format!("{}/{name}?sslmode=disable", pg_server());
        TestDb { url, pg_name: Some(name), _dir: tempfile::tempdir().expect("temp dir") }
    }

    fn run(&self, args: &[&str], new_password: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldvisit"));
        cmd.args(args)
            .env("DATABASE_URL", &self.url)
            .env("FIELDVISIT_DATA_DIR", self._dir.path())
            .env("FIELDVISIT_CONFIG", "/dev/null")
            .env("FIELDVISIT_ADMIN_PASSWORD", "cli-admin-password")
            .env("RUST_LOG", "error")
            .env_remove("FIELDVISIT_NEW_PASSWORD");
        if let Some(p) = new_password {
            cmd.env("FIELDVISIT_NEW_PASSWORD", p);
        }
        cmd.output().expect("binary runs")
    }

    fn ok(&self, args: &[&str], new_password: Option<&str>) -> String {
        let out = self.run(args, new_password);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn conn(&self) -> db::pool::DbPool {
        db::pool::connect(&DbLocation::parse(&self.url).expect("url"), 1).expect("connects")
    }

    fn user(&self, username: &str) -> db::users::UserRow {
        let pool = self.conn();
        let mut conn = pool.get().expect("connection");
        db::users::find_by_username(&mut conn, username).expect("query").expect("user exists")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut conn) = PgConnection::establish(&format!("{}/postgres?sslmode=disable", pg_server())) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
    }
}

fn user_lifecycle_from_the_command_line(db: TestDb) {
    for (name, role) in [("li", "volunteer"), ("wang", "volunteer"), ("zhao", "supervisor")] {
        db.ok(&["user", "add", "--username", name, "--role", role], Some("a-long-password"));
    }
    // A new password from the environment; a flag is no way to give one.
    assert!(db.ok(&["user", "password", "--username", "li"], Some("another-long-one")).contains("password of li set"));
    assert!(fieldvisit_server::auth::password::verify("another-long-one", &db.user("li").password_hash));
    assert!(!db
        .run(&["user", "password", "--username", "li", "--password", "x"], Some("another-long-one"))
        .status
        .success());
    let weak = db.run(&["user", "password", "--username", "li"], Some("short"));
    assert!(!weak.status.success() && String::from_utf8_lossy(&weak.stderr).contains("password"));
    assert!(!db.run(&["user", "password", "--username", "nobody"], Some("another-long-one")).status.success());

    db.ok(&["user", "deactivate", "--username", "li"], None);
    assert!(!db.user("li").active);
    db.ok(&["user", "activate", "--username", "li"], None);
    assert!(db.user("li").active);

    // A season's volunteers, by area and role: the supervisor stays.
    let root = {
        let pool = db.conn();
        let mut conn = pool.get().expect("connection");
        db::areas::root(&mut conn).expect("query").expect("root").id
    };
    let out = db.ok(&["user", "deactivate", "--area-id", &root, "--role", "volunteer"], None);
    assert!(out.contains("deactivated 2 user(s): li, wang"), "{out}");
    assert!(!db.user("li").active && !db.user("wang").active && db.user("zhao").active);
    assert!(!db.run(&["user", "deactivate", "--area-id", &root], None).status.success(), "--role is required");
    assert!(!db.run(&["user", "deactivate"], None).status.success());
}

#[test]
fn user_lifecycle_from_the_command_line_sqlite() {
    user_lifecycle_from_the_command_line(TestDb::sqlite());
}

#[test]
fn user_lifecycle_from_the_command_line_postgres() {
    user_lifecycle_from_the_command_line(TestDb::postgres());
}

#[test]
fn help_never_shows_secret_values() {
    let secrets = [
        ("DATABASE_URL", "postgres://fv:db-pass-4711@db.example/fv"),
        ("FIELDVISIT_JWT_SECRET", "jwt-secret-4711"),
        ("FIELDVISIT_ADMIN_PASSWORD", "admin-pass-4711"),
        ("FIELDVISIT_METRICS_TOKEN", "metrics-token-4711"),
        ("FIELDVISIT_WEBHOOK_URL", "http://hook.example/t/webhook-token-4711"),
        ("FIELDVISIT_WEBHOOK_SECRET", "webhook-secret-4711"),
    ];
    for command in [&["serve", "--help"][..], &["migrate", "--help"], &["user", "add", "--help"]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldvisit"));
        cmd.args(command).env("FIELDVISIT_CONFIG", "/dev/null");
        for (k, v) in secrets {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("binary runs");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("DATABASE_URL"), "{help}");
        for (_, v) in secrets {
            assert!(!help.contains("4711"), "{command:?} --help shows {v}: {help}");
        }
    }
}
