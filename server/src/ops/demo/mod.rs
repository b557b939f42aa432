//! `fieldvisit demo`: a county shaped like the source report's, on the embedded database, with
//! simulated phones and desks playing against the running server, so a newcomer opening the
//! dashboard sees visits, tickets, due-soon and overdue alerts happen.

pub mod county;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::config::{Secret, Settings};
use crate::ops::import::{self, Report, Roster};
use crate::startup::Application;
use crate::state::AppState;
use fieldvisit_simulate::http::Api;
use fieldvisit_simulate::story;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Folder of the demo's database and key (kept apart from ./data; reused on the next start).
    #[arg(long, default_value = "./demo-data")]
    pub data_dir: PathBuf,
    #[arg(long, env = "FIELDVISIT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Volunteers' phones pushing visits (one per grid, at most 24).
    #[arg(long, default_value_t = 12)]
    pub phones: usize,
    /// Mean seconds between one phone's pushes.
    #[arg(long, default_value_t = 5.0)]
    pub push_every_s: f64,
    /// Password of every demo user, admin included (it is a demo: printed at start).
    #[arg(long, env = "FIELDVISIT_DEMO_PASSWORD", default_value = "demo-2026")]
    pub password: String,
}

/// Imports the county into the app's database; a second run finds it there and changes nothing.
pub async fn seed(state: &AppState, roster: Roster) -> anyhow::Result<Report> {
    let now = chrono::Utc::now().timestamp_millis();
    let report =
        crate::db::run(&state.pool, move |c| crate::db::transaction(c, |c| import::apply(c, &roster, now))).await;
    let report = report.map_err(|e| anyhow::anyhow!("seeding the demo county: {}", e.detail_line()))?;
    if report.errors() > 0 {
        anyhow::bail!(
            "the demo county was refused: {:?}",
            report.rows.iter().find(|r| r.outcome != import::Outcome::Created)
        );
    }
    Ok(report)
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("{}: cannot create", args.data_dir.display()))?;
    let mut settings = Settings::defaults();
    settings.bind.clone_from(&args.bind);
    settings.database_url = format!("sqlite://{}", args.data_dir.join("fieldvisit.db").display());
    settings.data_dir = Some(args.data_dir.clone());
    settings.root_area_name = "永登县".into();
    settings.admin_password = Some(Secret::new(&args.password));
    let app = Application::build(settings).await?;
    let county = county::county(&args.password);
    let report = seed(app.state(), county.roster.clone()).await?;
    let created = report.rows.iter().filter(|r| r.outcome == import::Outcome::Created).count();
    let base = format!("http://127.0.0.1:{}", app.port());
    println!(
        "fieldvisit demo: 永登县, {} grids, {} households, 13 heating stations ({created} rows new)",
        county.cast.grids.len(),
        county.cast.grids.len() * story::HOUSEHOLDS_PER_GRID
    );
    println!("  dashboard  {base}/");
    println!("  field app  {base}/app/  (a phone-sized window; volunteer01 for a grid's households, handler01 for a station's tickets)");
    println!(
        "  log in as  supervisor, dispatcher, handler01…13, volunteer01…24 or admin; password {:?}",
        args.password
    );
    println!("  phones     {} volunteers push every ~{} s; the desk classifies and dispatches, stations close tickets; some are left to go overdue", args.phones, args.push_every_s);
    println!("  stop       Ctrl-C (the data stays in {})", args.data_dir.display());
    let server = tokio::spawn(app.run_until_stopped());
    let api = Api::new(&base, 64, Duration::from_secs(120))?;
    let pace = story::Pace {
        phones: args.phones,
        push_every: Duration::from_secs_f64(args.push_every_s.max(0.1)),
        desk_every: Duration::from_secs(3),
        seed: rand::random(),
    };
    let password = args.password.clone();
    let actors = tokio::spawn(async move { story::play(api, &county.cast, &password, pace, None).await });
    tokio::select! {
        served = server => served?.context("server"),
        played = actors => played?.map(|_| ()),
    }
}
