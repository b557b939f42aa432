//! A gzip bomb flood against the real binary, run as a child process so its memory can be measured
//! alone: 40 parallel unauthenticated logins whose 59 KiB bodies inflate to 60 MiB each, then four
//! authenticated pushes of the same kind. Every one answers 413, and the server's peak resident
//! memory grows by less than 50 MB over what it held before the attack (it grew by 2.7 GB when
//! bodies were inflated whole before the limit was checked).

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};

const ADMIN_PASSWORD: &str = "flood-admin-password";
const MB: u64 = 1_000_000;
const BOMB_INFLATED: usize = 60 * 1024 * 1024;

/// The server as a child process on its own database; killed (and the database dropped) on drop.
struct Server {
    child: Child,
    base: String,
    pg_database: Option<String>,
    _data: tempfile::TempDir,
}

fn pg_url(name: &str) -> String {
    let base = std::env::var("FIELDVISIT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = base.split_once('?').map_or(base.as_str(), |(b, _)| b);
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}?sslmode=disable")
}

impl Server {
    async fn start(postgres: bool) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let (url, pg_database) = if postgres {
            let name = format!("fvflood_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&pg_url("postgres")).expect("PostgreSQL on 127.0.0.1:5432");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create database");
            (pg_url(&name), Some(name))
        } else {
            (format!("sqlite://{}", data.path().join("fv.db").display()), None)
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let child = Command::new(env!("CARGO_BIN_EXE_fieldvisit"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("FIELDVISIT_DATA_DIR", data.path())
            .env("FIELDVISIT_CONFIG", "/dev/null")
            .env("FIELDVISIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FIELDVISIT_JWT_SECRET", "flood-secret-with-enough-entropy-0123456789")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts");
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), pg_database, _data: data };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not become ready");
    }

    /// (current, peak) resident memory of the server process, in bytes.
    fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .expect("VmRSS/VmHWM in /proc status")
                * 1024
        };
        (kib("VmRSS:"), kib("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(name) = &self.pg_database {
            if let Ok(mut conn) = PgConnection::establish(&pg_url("postgres")) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
    }
}

/// 60 MiB of zeros, gzipped: about 59 KiB.
fn bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..BOMB_INFLATED / zeros.len() {
        gz.write_all(&zeros).expect("gzip");
    }
    gz.finish().expect("gzip")
}

/// Sends `n` bombs at once to `path`; every answer must be 413.
async fn flood(server: &Server, path: &str, token: Option<&str>, n: usize, bomb: &[u8]) {
    let client = reqwest::Client::new();
    let sends = (0..n).map(|_| {
        let mut req = client
            .post(format!("{}{path}", server.base))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(bomb.to_vec());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.map(|r| r.status().as_u16()) }
    });
    for answer in futures_util::future::join_all(sends).await {
        match answer {
            Ok(status) => assert_eq!(status, 413, "a bomb to {path} must answer 413"),
            // The server may close the connection after answering while the body is still being sent.
            Err(e) => assert!(e.is_request() || e.is_body(), "{path}: {e}"),
        }
    }
}

/// Runs `attack` and returns by how much the server's peak memory passed its memory before.
async fn growth(server: &Server, attack: impl std::future::Future<Output = ()>) -> u64 {
    let (before, _) = server.rss();
    attack.await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, peak) = server.rss();
    peak.saturating_sub(before)
}

async fn a_gzip_flood_does_not_grow_the_server(postgres: bool) {
    let server = Server::start(postgres).await;
    let bomb = bomb();
    assert!(bomb.len() < 64 * 1024, "the bomb is {} bytes", bomb.len());
    let client = reqwest::Client::new();
    let login = serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD,
        "device_id": uuid::Uuid::new_v4().to_string()});
    let res = client.post(format!("{}/api/v1/auth/login", server.base)).json(&login).send().await.expect("login");
    assert_eq!(res.status(), 200);
    let token =
        res.json::<serde_json::Value>().await.expect("json")["access_token"].as_str().expect("token").to_owned();
    // Warm up: the workers' first requests allocate their buffers.
    for _ in 0..8 {
        let res = client.post(format!("{}/api/v1/auth/login", server.base)).json(&login).send().await.expect("login");
        assert_eq!(res.status(), 200);
    }

    let logins = growth(&server, flood(&server, "/api/v1/auth/login", None, 40, &bomb)).await;
    eprintln!("40 login bombs: peak grew {} MB", logins / MB);
    assert!(logins < 50 * MB, "40 login bombs grew the server by {} MB", logins / MB);

    let pushes = growth(&server, flood(&server, "/api/v1/sync/push", Some(&token), 4, &bomb)).await;
    eprintln!("4 push bombs: peak grew {} MB", pushes / MB);
    assert!(pushes < 50 * MB, "4 push bombs grew the server by {} MB", pushes / MB);
}

#[tokio::test]
async fn sqlite_a_gzip_flood_does_not_grow_the_server() {
    a_gzip_flood_does_not_grow_the_server(false).await
}

#[tokio::test]
async fn postgres_a_gzip_flood_does_not_grow_the_server() {
    a_gzip_flood_does_not_grow_the_server(true).await
}
