//! `fieldvisit simulate` as a library call against a real server: every field behaviour switched
//! on, the exactly-once end check passes, the pull figure counts the seeded grid, and a server
//! that is not there yet is waited for instead of failing the run.

use crate::harness;

use std::time::Duration;

use fieldvisit_simulate::{self as simulate, SimArgs};
use harness::{Db, TestApp, ADMIN_PASSWORD};

fn busy_phones(url: &str) -> SimArgs {
    let mut args = SimArgs::new(url, ADMIN_PASSWORD);
    args.devices = 3;
    args.batch = 40;
    args.duration = Duration::from_secs(3);
    args.shift_every = Duration::from_secs(1);
    args.shift_quiet = Duration::from_millis(400);
    args.offline_share = 0.2;
    args.repeat_share = 0.2;
    args.timeout_share = 0.2;
    args
}

async fn every_acknowledged_record_is_stored_once(app: TestApp) {
    let mut args = busy_phones(&app.address);
    args.pull_households = 20;
    let s = simulate::run(args).await.expect("the run and its end check pass");
    assert!(s.records_applied > 0, "{s}");
    assert_eq!(s.rejected, 0, "{s}");
    assert!(s.verified as u64 >= s.records_applied, "{s}");
    assert!(s.offline_spells + s.shift_end_bursts > 0, "{s}");
    let pull = s.pull.as_ref().expect("pull measured");
    // 20 households, two visits each, a ticket for one in ten.
    assert_eq!(pull.records, 20 + 40 + 2, "{s}");
}

backend_tests!(every_acknowledged_record_is_stored_once);

#[tokio::test]
async fn a_server_that_comes_up_late_is_waited_for() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let mut args = busy_phones(&format!("http://127.0.0.1:{port}"));
    args.duration = Duration::from_secs(1);
    let run = tokio::spawn(simulate::run(args));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let _app = TestApp::spawn_with(Db::Sqlite, |s| s.bind = format!("127.0.0.1:{port}")).await;
    let s = run.await.expect("task").expect("the run waits for the server, then passes");
    assert!(s.retries > 0, "{s}");
    assert!(s.records_applied > 0, "{s}");
}
