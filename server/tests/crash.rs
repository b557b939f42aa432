//! Crash test: simulated phones push with retries while the server binary is killed with SIGKILL
//! several times and restarted on the same port. Afterwards the simulator's end check (every record
//! a phone saw acknowledged is stored exactly once) and `fieldvisit check` (projections agree with
//! events, no alert fired twice, the change sequence is sound) must both pass. On SQLite and on
//! PostgreSQL. On SQLite the writer starts the WAL over every mebibyte, so kills also land
//! between a rewind and the fsync of the database file that follows it.
//!
//! Short by default (CI); `FIELDVISIT_CRASH_SECONDS=300` runs longer, with one kill per ~5 s.

#[path = "../../tests/tests/harness/mod.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fieldvisit_simulate::{self as simulate, SimArgs};
use harness::{Db, TestDb};
use rand::Rng;

const ADMIN_PASSWORD: &str = "crash-test-admin-password";

/// The server binary on one database, restartable on the same port.
struct Server {
    port: u16,
    database_url: String,
    data: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Server {
    fn new(database_url: String, data: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        Self { port, database_url, data: data.to_path_buf(), child: None, starts: 0 }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn fieldvisit(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldvisit"));
        cmd.args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("FIELDVISIT_DATA_DIR", &self.data)
            .env("FIELDVISIT_CONFIG", "/dev/null")
            .env("FIELDVISIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            // SQLite: the WAL starts over every few pushes, so kills also land around rewinds.
            .env("FIELDVISIT_WAL_REWIND_MIB", "1")
            .env("RUST_LOG", "warn");
        cmd
    }

    async fn start(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.data.join(format!("server-{}.log", self.starts))).expect("log file");
        let child = self
            .fieldvisit(&["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("server starts");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = client.get(format!("{}/readyz", self.url())).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "server not ready after 60 s: {}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hook, no flush, no goodbye.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    fn logs(&self) -> String {
        (1..=self.starts)
            .filter_map(|i| std::fs::read_to_string(self.data.join(format!("server-{i}.log"))).ok())
            .collect::<Vec<_>>()
            .join("\n---- restart ----\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// True once the phones push: the simulator has made its users and logged them in (it does not
/// retry that setup, so no kill may come before).
async fn phones_pushing(url: &str) -> bool {
    let Ok(res) = reqwest::get(format!("{url}/metrics")).await else { return false };
    res.text().await.is_ok_and(|m| m.contains("endpoint=\"/api/v1/sync/push\""))
}

async fn crash_run(db: Db) {
    let seconds: u64 = std::env::var("FIELDVISIT_CRASH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let kills = (seconds / 5).clamp(3, 1000);
    let (_db, database_url) = TestDb::create(db);
    let data = tempfile::tempdir().expect("temp dir");
    let mut server = Server::new(database_url, data.path());
    server.start().await;

    let mut args = SimArgs::new(&server.url(), ADMIN_PASSWORD);
    args.devices = 6;
    args.duration = Duration::from_secs(seconds);
    args.batch = 100;
    args.repeat_share = 0.05;
    args.quiet = true;
    let sim = tokio::spawn(simulate::run(args));
    let started = Instant::now();
    while !phones_pushing(&server.url()).await {
        assert!(!sim.is_finished(), "simulator stopped during setup: {}", server.logs());
        assert!(started.elapsed() < Duration::from_secs(60), "phones never pushed: {}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Kills spread over the run, each at a random moment of its slot, the last well before the end.
    let pushing = Instant::now();
    let slot = Duration::from_secs(seconds).saturating_sub(Duration::from_secs(4)) / kills as u32;
    for k in 0..kills {
        let at = slot * k as u32 + slot.mul_f64(rand::thread_rng().gen_range(0.3..0.9));
        tokio::time::sleep(at.saturating_sub(pushing.elapsed())).await;
        server.kill();
        tokio::time::sleep(Duration::from_millis(rand::thread_rng().gen_range(100..800))).await;
        server.start().await;
    }

    let summary = match sim.await.expect("simulator task") {
        Ok(s) => s,
        Err(e) => panic!("simulator failed after {kills} kills: {e:#}\nserver logs:\n{}", server.logs()),
    };
    println!(
        "{db:?}: {kills} kills; {} pushes acknowledged, {} records applied, {} duplicates, {} retries",
        summary.pushes, summary.records_applied, summary.records_duplicate, summary.retries
    );
    assert!(summary.records_applied > 0, "nothing was stored");
    assert!(summary.retries > 0, "no push ever failed: the kills did not hit the phones");

    server.kill();
    let check = server.fieldvisit(&["check"]).output().expect("check runs");
    let out = String::from_utf8_lossy(&check.stdout);
    println!("{db:?}: fieldvisit check: {}", out.trim());
    assert!(check.status.success(), "fieldvisit check failed:\n{out}\n{}", String::from_utf8_lossy(&check.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill() {
    crash_run(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill() {
    crash_run(Db::Postgres).await;
}
