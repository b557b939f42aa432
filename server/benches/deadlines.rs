//! Deadline queries at county scale: 1,000,000 tickets (100,000 open) in ten counties on SQLite.
//! - the overdue list of one county (the first page, most overdue first),
//! - a tracker wake-up with nothing due,
//! - alert latency: a live server's tracker, from an alert's due time to its row in `alerts`.
//!
//! `cargo bench -p fieldvisit-server --bench deadlines`. The seeded database is kept in
//! `target/bench-data/` and reused (set FIELDVISIT_BENCH_RESEED=1 to rebuild it).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::prelude::*;
use fieldvisit_server::auth::accounts;
use fieldvisit_server::config::{Secret, Settings};
use fieldvisit_server::db::records::{HouseholdRow, TicketRow};
use fieldvisit_server::db::schema::{alerts, households, tickets};
use fieldvisit_server::db::tickets::{list, TicketFilter, Viewer};
use fieldvisit_server::db::{self, areas, migrate, policies, pool, DbConn, DbLocation, DbPool};
use fieldvisit_server::deadlines::tracker;
use fieldvisit_server::startup::Application;
use fieldvisit_sync_protocol::org::AreaKind;
use uuid::Uuid;

#[path = "support/rows.rs"]
mod rows;

const TICKETS: usize = 1_000_000;
const OPEN_EVERY: usize = 10;
const COUNTIES: usize = 10;
const HOUSEHOLDS_PER_COUNTY: usize = 2_000;
const ADMIN_PASSWORD: &str = "bench-admin-password";

fn db_path() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("../target"));
    target.join("bench-data").join("deadlines-1m.db")
}

fn settings(path: &std::path::Path) -> Settings {
    let mut s = Settings::defaults();
    s.database_url = format!("sqlite://{}", path.display());
    s.bind = "127.0.0.1:0".into();
    s.root_area_kind = "province".into();
    s.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    s.jwt_secret = Some(Secret::new("bench-secret-bench-secret-bench-secret-0123"));
    s.data_dir = Some(path.parent().map(PathBuf::from).unwrap_or_default());
    s
}

fn open(path: &std::path::Path) -> DbPool {
    pool::connect(&DbLocation::Sqlite(path.to_path_buf()), 4).expect("database opens")
}

/// The county paths, seeding the database first if it is not there yet.
fn seeded() -> (DbPool, Vec<String>) {
    let path = db_path();
    if std::env::var_os("FIELDVISIT_BENCH_RESEED").is_some() {
        let _ = std::fs::remove_file(&path);
    }
    let fresh = !path.exists();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("bench-data folder");
    }
    let pool = open(&path);
    let mut conn = pool.get().expect("connection");
    if fresh {
        seed(&mut conn, &settings(&path));
    }
    let root = areas::root(&mut conn).expect("query").expect("root area");
    let counties = areas::list_within(&mut conn, &root.path)
        .expect("areas")
        .into_iter()
        .filter(|a| a.kind == "county")
        .map(|a| a.path)
        .collect();
    drop(conn);
    (pool, counties)
}

fn seed(conn: &mut DbConn, settings: &Settings) {
    let started = Instant::now();
    migrate::run_pending(conn).expect("migrations");
    let now = chrono::Utc::now().timestamp_millis();
    accounts::bootstrap(conn, settings, now).expect("bootstrap");
    let root = areas::root(conn).expect("query").expect("root");
    let book = policies::load(conn).expect("policies");
    let policy = book.latest_for(&root.path);
    for c in 0..COUNTIES {
        let county = accounts::create_area(conn, None, &root.id, AreaKind::County, &format!("县{c}"), &root.path, now)
            .expect("county");
        let grid =
            accounts::create_area(conn, None, &county.id, AreaKind::Grid, "网格", &root.path, now).expect("grid");
        let place = rows::Place { area_id: &grid.id, area_path: &grid.path, county_id: &county.id };
        let homes: Vec<HouseholdRow> =
            (0..HOUSEHOLDS_PER_COUNTY).map(|i| rows::household(&place, format!("{i}号"), now)).collect();
        db::transaction(conn, |c| {
            for chunk in homes.chunks(500) {
                fieldvisit_server::with_conn!(&mut *c, c => diesel::insert_into(households::table).values(chunk).execute(c))?;
            }
            let per_county = TICKETS / COUNTIES;
            for chunk_start in (0..per_county).step_by(5_000) {
                let rows: Vec<TicketRow> = (chunk_start..(chunk_start + 5_000).min(per_county))
                    .map(|i| {
                        let open = i % OPEN_EVERY == 0;
                        // Open tickets reported over the last 10 hours (most overdue); closed ones on the spot.
                        let reported_at = now - (i as i64 % 600) * 60_000 - 60_000;
                        let home = &homes[i % homes.len()];
                        rows::ticket(&place, home.id.clone(), (reported_at, reported_at + 1000, now), !open, &policy)
                    })
                    .collect();
                for chunk in rows.chunks(1000) {
                    fieldvisit_server::with_conn!(&mut *c, c => diesel::insert_into(tickets::table).values(chunk).execute(c))?;
                }
            }
            Ok(())
        })
        .expect("seed county");
        eprintln!("seeded county {c} ({:.0} s)", started.elapsed().as_secs_f64());
    }
    // Fire everything already due, as a running tracker would have.
    tracker::sweep(conn, now).expect("first sweep");
    let fired: i64 = alerts::table.count().get_result(conn).expect("count");
    eprintln!("seeded {TICKETS} tickets, fired {fired} alerts, in {:.0} s", started.elapsed().as_secs_f64());
}

fn bench(c: &mut Criterion) {
    let (pool, counties) = seeded();
    let mut conn = pool.get().expect("connection");
    let county = counties.first().expect("a county").clone();
    let now = chrono::Utc::now().timestamp_millis();

    c.bench_function("overdue list, one county, first page of 100 (1M tickets)", |b| {
        b.iter(|| {
            let filter = TicketFilter { overdue_at: Some(now), limit: 101, ..Default::default() };
            let rows = list(&mut conn, &Viewer { area_path: &county, team_id: None }, &filter).expect("list");
            assert_eq!(rows.len(), 101);
            rows
        })
    });

    c.bench_function("tracker wake-up with nothing due (1M tickets)", |b| {
        b.iter(|| tracker::sweep(&mut conn, now).expect("sweep"))
    });
    drop(conn);
    drop(pool);

    // A live server on the same database: push a ticket whose classify stage falls due in 300 ms
    // and time how long after that the tracker stores the overdue alert.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app_url, state) = rt.block_on(async {
        let app = Application::build(settings(&db_path())).await.expect("app");
        let url = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        (url, state)
    });
    let client = reqwest::Client::new();
    let token: String = rt.block_on(async {
        let res: serde_json::Value = client
            .post(format!("{app_url}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD, "device_id": "6f1b2c1e-8d5a-4c1e-9a51-0b3e2c9d7a01"}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        res["access_token"].as_str().unwrap_or_else(|| panic!("no token in the login answer: {res}")).to_owned()
    });
    let household: String = {
        let mut conn = state.pool.get().expect("connection");
        households::table.select(households::id).first(&mut conn).expect("a household")
    };
    let mut group = c.benchmark_group("alerts");
    group.sample_size(10).measurement_time(Duration::from_secs(10)).warm_up_time(Duration::from_secs(1));
    group.bench_function("alert latency after due time (live tracker, 1M tickets)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let id = Uuid::new_v4().to_string();
                let reported = chrono::Utc::now() - chrono::Duration::milliseconds(3_600_000 - 300);
                let body = serde_json::json!({"protocol_version": 1, "batch_id": Uuid::new_v4(), "device_time": chrono::Utc::now().to_rfc3339(),
                    "tickets": [{"id": id, "household_id": household, "category": "heating", "severity": "normal",
                                 "description": "bench", "reported_at": reported.to_rfc3339()}]});
                rt.block_on(async {
                    let res = client.post(format!("{app_url}/api/v1/sync/push")).bearer_auth(&token).json(&body).send().await.expect("push");
                    assert_eq!(res.status().as_u16(), 200);
                });
                let lateness = loop {
                    let mut conn = state.pool.get().expect("connection");
                    let row: Option<(i64, i64)> = alerts::table
                        .filter(alerts::ticket_id.eq(&id).and(alerts::kind.eq("overdue")))
                        .select((alerts::at, alerts::fired_at))
                        .first(&mut conn)
                        .optional()
                        .expect("query");
                    if let Some((at, fired_at)) = row {
                        // Both times are stored in whole milliseconds, so a lateness read as n ms
                        // lies in [n, n + 1): count its middle. Read as 0 (fired within the due
                        // millisecond), it would give criterion a sample of zero, which it refuses.
                        let ms = u64::try_from(fired_at - at).unwrap_or(0);
                        break Duration::from_micros(ms * 1000 + 500);
                    }
                    drop(conn);
                    std::thread::sleep(Duration::from_millis(20));
                };
                total += lateness;
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
