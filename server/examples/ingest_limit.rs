//! The limit for push ingest: the rows a simulated phone's pushes store (households, visits,
//! tickets with their folded projection, ticket events; the simulator's mix), inserted straight
//! through diesel in one process — no HTTP, no JSON, no per-record checks, no receipts, no re-fold —
//! with the server's own pool (same pragmas), migrations, change sequence and transaction helper.
//! Each commit holds `--commit` rows; only the transactions are timed.
//!
//! ```sh
//! cargo run --release -p fieldvisit-server --example ingest_limit -- --seconds 10 --commit 200 --commit 2000
//! DATABASE_URL=postgres://postgres@127.0.0.1/fvlimit cargo run --release -p fieldvisit-server --example ingest_limit
//! ```
//! Without `DATABASE_URL` each commit size gets a fresh SQLite file in a temporary folder.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use diesel::prelude::*;
use fieldvisit_server::auth::accounts;
use fieldvisit_server::config::{Secret, Settings};
use fieldvisit_server::db::records::{EventRow, HouseholdRow, TicketRow, VisitRow};
use fieldvisit_server::db::schema::{households, ticket_events, tickets, visits};
use fieldvisit_server::db::seq::SeqAlloc;
use fieldvisit_server::db::typed::{Enum, Json};
use fieldvisit_server::db::{self, areas, migrate, policies, pool, DbConn, DbLocation};
use fieldvisit_server::with_conn;
use fieldvisit_sync_protocol::deadline::{EventType, Policy};
use fieldvisit_sync_protocol::org::AreaKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

#[path = "../benches/support/rows.rs"]
mod rows;

#[derive(Parser)]
struct Args {
    /// Seconds of inserting per commit size.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rows per commit; repeat for several runs.
    #[arg(long, default_values_t = [200, 2000])]
    commit: Vec<usize>,
    /// A database to use instead of a fresh SQLite file per run.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

/// What one run measured.
struct Figure {
    commit: usize,
    rows: u64,
    seconds: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for &commit in &args.commit {
        let scratch = tempfile::tempdir()?;
        let url = match &args.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", scratch.path().join("limit.db").display()),
        };
        let f = run(&url, commit, Duration::from_secs(args.seconds))?;
        println!(
            "limit commit={} rows={} seconds={:.2} rows_per_s={:.0}",
            f.commit,
            f.rows,
            f.seconds,
            f.rows as f64 / f.seconds.max(0.001)
        );
    }
    Ok(())
}

/// Where the rows go: one grid with the simulator's 16 phones × 20 households.
struct Grid {
    id: String,
    path: String,
    /// The county holding `path`, stored with every row.
    county: String,
    homes: Vec<String>,
    tickets: Vec<(String, i64)>,
    policy: Policy,
}

fn run(url: &str, commit: usize, length: Duration) -> anyhow::Result<Figure> {
    let location = DbLocation::parse(url).map_err(anyhow::Error::msg)?;
    let pool = pool::connect(&location, 2)?;
    let mut conn = pool.get()?;
    let mut grid = prepare(&mut conn)?;
    let mut rng = StdRng::seed_from_u64(0x5EED);
    let (mut rows, mut timed) = (0u64, Duration::ZERO);
    while timed < length {
        let batch = Batch::generate(&mut grid, &mut rng, commit);
        let t0 = Instant::now();
        db::transaction(&mut conn, |c| batch.insert(c))?;
        timed += t0.elapsed();
        rows += commit as u64;
    }
    Ok(Figure { commit, rows, seconds: timed.as_secs_f64() })
}

fn prepare(conn: &mut DbConn) -> anyhow::Result<Grid> {
    migrate::run_pending(conn)?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut settings = Settings::defaults();
    settings.admin_password = Some(Secret::new("limit-admin-password"));
    accounts::bootstrap(conn, &settings, now)?;
    let root = areas::root(conn)?.context("no root area")?;
    let tag = &Uuid::new_v4().simple().to_string()[..6];
    let town = accounts::create_area(conn, None, &root.id, AreaKind::Town, &format!("极限镇 {tag}"), &root.path, now)?;
    let grid = accounts::create_area(conn, None, &town.id, AreaKind::Grid, "极限网格", &root.path, now)?;
    let book = policies::load(conn)?;
    let (policy, county) = (book.latest_for(&grid.path), book.county_id_of(&grid.path));
    let place = rows::Place { area_id: &grid.id, area_path: &grid.path, county_id: &county };
    let homes: Vec<HouseholdRow> = (0..16 * 20).map(|i| rows::household(&place, format!("{i}号楼"), now)).collect();
    db::transaction(conn, |c| {
        let mut seq = SeqAlloc::new();
        let mut rows = homes.clone();
        for r in &mut rows {
            r.seq = seq.next(c)?;
        }
        with_conn!(&mut *c, c => diesel::insert_into(households::table).values(&rows).execute(c))?;
        Ok(())
    })?;
    Ok(Grid {
        id: grid.id,
        path: grid.path,
        county,
        homes: homes.into_iter().map(|h| h.id).collect(),
        tickets: Vec::new(),
        policy,
    })
}

/// One commit's rows, in the simulator's mix: 80 % visits, 10 % tickets, 10 % events.
struct Batch {
    visits: Vec<VisitRow>,
    tickets: Vec<TicketRow>,
    events: Vec<EventRow>,
}

impl Batch {
    fn generate(grid: &mut Grid, rng: &mut StdRng, n: usize) -> Self {
        let now = chrono::Utc::now().timestamp_millis();
        let mut b = Batch { visits: Vec::new(), tickets: Vec::new(), events: Vec::new() };
        while b.visits.len() + b.tickets.len() + b.events.len() < n {
            let home = grid.homes[rng.gen_range(0..grid.homes.len())].clone();
            let at = now - rng.gen_range(60_000..3_600_000);
            let hash = format!("{:064x}", rng.gen::<u128>());
            match rng.gen_range(0..100) {
                0..=79 => b.visits.push(VisitRow {
                    id: Uuid::new_v4().to_string(),
                    household_id: home,
                    area_id: grid.id.clone(),
                    area_path: grid.path.clone(),
                    county_id: grid.county.clone(),
                    visited_at: at,
                    device_visited_at: at,
                    received_at: now,
                    clock_verified: false,
                    indoor_temp_c: Some(f64::from(rng.gen_range(140..240)) / 10.0),
                    checklist: Json(serde_json::from_str(r#"{"co_alarm":true,"radiator_ok":true}"#).expect("JSON")),
                    service_card_given: None,
                    notes: None,
                    lat: None,
                    lon: None,
                    photos: Json(Vec::new()),
                    user_id: "limit".into(),
                    device_id: "limit".into(),
                    content_hash: hash,
                    seq: 0,
                    checklist_template_id: None,
                    checklist_template_version: None,
                }),
                80..=89 => {
                    let place = rows::Place { area_id: &grid.id, area_path: &grid.path, county_id: &grid.county };
                    let mut t = rows::ticket(&place, home, (at - 3_600_000, now, now), false, &grid.policy);
                    t.content_hash = hash;
                    b.tickets.push(t);
                }
                _ => {
                    let Some((ticket_id, reported)) = grid.tickets.last().cloned() else { continue };
                    b.events.push(EventRow {
                        id: Uuid::new_v4().to_string(),
                        ticket_id,
                        area_path: grid.path.clone(),
                        county_id: grid.county.clone(),
                        event_type: Enum(EventType::Comment),
                        occurred_at: reported + 1000,
                        device_occurred_at: reported + 1000,
                        received_at: now,
                        clock_verified: false,
                        category: None,
                        team_id: None,
                        note: None,
                        satisfaction: None,
                        user_id: "limit".into(),
                        device_id: "limit".into(),
                        content_hash: hash,
                        seq: 0,
                        author_role: "volunteer".into(),
                    });
                }
            }
        }
        // Events of the next batch refer to tickets of this one, as the simulator's do.
        grid.tickets.extend(b.tickets.iter().map(|t| (t.id.clone(), t.reported_at)));
        if grid.tickets.len() > 1000 {
            grid.tickets.drain(..500);
        }
        b
    }

    /// The inserts, in the chunk sizes `sync/apply.rs` uses.
    fn insert(mut self, conn: &mut DbConn) -> Result<(), fieldvisit_server::error::ApiError> {
        let mut seq = SeqAlloc::new();
        for r in &mut self.visits {
            r.seq = seq.next(conn)?;
        }
        for r in &mut self.tickets {
            r.seq = seq.next(conn)?;
        }
        for r in &mut self.events {
            r.seq = seq.next(conn)?;
        }
        for chunk in self.visits.chunks(400) {
            with_conn!(&mut *conn, c => diesel::insert_into(visits::table).values(chunk).execute(c))?;
        }
        for chunk in self.tickets.chunks(300) {
            with_conn!(&mut *conn, c => diesel::insert_into(tickets::table).values(chunk).execute(c))?;
        }
        for chunk in self.events.chunks(400) {
            with_conn!(&mut *conn, c => diesel::insert_into(ticket_events::table).values(chunk).execute(c))?;
        }
        Ok(())
    }
}
