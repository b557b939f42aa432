//! `fieldvisit simulate`: phones against a running server, as they behave in the field — clocks off
//! by minutes to hours, offline spells that end in bursts, everyone syncing at once when a shift
//! ends, re-sends after timeouts, repeated batches, events out of order, backoff while the server
//! is down or busy — with throughput and latency percentiles (HDR histogram), optionally the time
//! a fresh phone takes to pull a whole grid, and at the end a check that every record a phone saw
//! acknowledged is on the server exactly once.
//!
//! [`run`] is the library entry point (the CLI and other commands call it with a [`SimArgs`]).

pub mod http;
mod phone;
mod pull;
pub mod story;

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use uuid::Uuid;

pub use pull::PullFigures;

use http::Api;
use phone::{Account, Fleet, Phone, Shifts};

fn parse_duration(s: &str) -> Result<Duration, String> {
    match s.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(s).map_err(|e| format!("{e} (write 20s, 5m or 1h)")),
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// The server to drive. Several instances of one service, comma-separated: phone i pushes to
    /// the (i mod n)-th, as a client-address hash behind a proxy would keep it; the county is set
    /// up and the end check pulls through the first.
    #[arg(long = "url", value_delimiter = ',', default_value = "http://127.0.0.1:8080")]
    pub urls: Vec<String>,
    /// Simulated phones pushing at once.
    #[arg(long, default_value_t = 16)]
    pub devices: usize,
    /// How long to push: 20s, 5m, 1h (a bare number is seconds).
    #[arg(long, visible_alias = "duration-s", value_parser = parse_duration, default_value = "30s")]
    pub duration: Duration,
    /// Records per batch.
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// Password of `admin`, used to create the simulated county's users.
    #[arg(long, env = "FIELDVISIT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// Share of pushes that are deliberately repeated (same batch id, or the same records anew).
    #[arg(long, default_value_t = 0.03)]
    pub repeat_share: f64,
    /// Share of pushes after which a phone loses signal for 0.3–3 s, records on, then bursts.
    #[arg(long, default_value_t = 0.05)]
    pub offline_share: f64,
    /// Share of push attempts on which the phone stops waiting after 5–60 ms and re-sends the
    /// same batch (the server may already have stored the first copy).
    #[arg(long, default_value_t = 0.02)]
    pub timeout_share: f64,
    /// A shift ends every this long: phones lose signal one by one in the seconds before, then
    /// all sync at once. 0 for none.
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    pub shift_every: Duration,
    /// How long before a shift end the phones start dropping off.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub shift_quiet: Duration,
    /// A phone that gets no usable answer for this long stops with an error (a server restart
    /// shorter than this is waited out).
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub give_up: Duration,
    /// After the push run, time a fresh phone pulling a new grid of this many households from no
    /// cursor to the end. 0 for no pull measurement.
    #[arg(long, default_value_t = 0)]
    pub pull_households: usize,
    /// Seed of the phones' random choices.
    #[arg(long, default_value_t = 0x5EED)]
    pub seed: u64,
    /// No progress bar (there is none anyway when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub summary_json: Option<std::path::PathBuf>,
}

impl SimArgs {
    /// The CLI's defaults for a server at `url`, for callers other than the CLI.
    pub fn new(url: &str, admin_password: &str) -> Self {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: SimArgs,
        }
        let mut args = <Cli as clap::Parser>::parse_from(["simulate", "--admin-password", admin_password]).args;
        args.urls = vec![url.to_owned()];
        args
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub devices: usize,
    pub batch: usize,
    pub pushes: u64,
    pub records_applied: u64,
    pub records_duplicate: u64,
    pub rejected: u64,
    /// Answers to a batch id already answered (deliberate repeats, re-sends after a timeout).
    pub replayed_answers: u64,
    /// Tries that met connection refused, 5xx or 429 and backed off.
    pub retries: u64,
    /// Tries the phone stopped waiting for and re-sent.
    pub timeouts: u64,
    pub offline_spells: u64,
    pub shift_end_bursts: u64,
    pub elapsed_s: f64,
    pub records_per_s: f64,
    /// (percentile, milliseconds) of push round trips answered 200.
    pub latency_ms: Vec<(f64, f64)>,
    /// Acknowledged records found exactly once by the end check.
    pub verified: usize,
    pub pull: Option<PullFigures>,
}

impl Summary {
    pub fn records_per_s(&self) -> f64 {
        self.records_applied as f64 / self.elapsed_s.max(0.001)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} phones, {} pushes, {} records applied ({:.0} records/s), {} duplicates acknowledged, {} rejected, {:.1} s",
            self.devices,
            self.pushes,
            self.records_applied,
            self.records_per_s,
            self.records_duplicate,
            self.rejected,
            self.elapsed_s
        )?;
        writeln!(
            f,
            "field behaviour: {} offline spells, {} shift-end bursts, {} timeouts re-sent, {} replayed answers, {} backoff retries",
            self.offline_spells, self.shift_end_bursts, self.timeouts, self.replayed_answers, self.retries
        )?;
        let lat: Vec<String> = self.latency_ms.iter().map(|(q, ms)| format!("p{q}={ms:.1}ms")).collect();
        writeln!(f, "push latency: {}", lat.join(" "))?;
        if let Some(p) = &self.pull {
            writeln!(
                f,
                "initial pull of a {}-household grid: {} records in {} pages ({} KiB JSON) in {:.0} ms",
                p.households,
                p.records,
                p.pages,
                p.bytes / 1024,
                p.seconds * 1000.0
            )?;
        }
        write!(f, "verified: all {} acknowledged records are on the server exactly once", self.verified)
    }
}

struct Shared {
    hist: Histogram<u64>,
    acked: HashSet<(String, String)>,
    summary: Summary,
}

impl Shared {
    /// Counts one 200 answer; a `replay` (an answer to a batch id answered before) adds no records.
    fn count_answer(&mut self, took: Duration, answer: &Value, replay: bool) {
        self.hist.record((took.as_micros() as u64).max(1)).ok();
        self.summary.pushes += 1;
        if replay {
            self.summary.replayed_answers += 1;
        }
        for r in answer["results"].as_array().into_iter().flatten() {
            let key = (r["type"].as_str().unwrap_or("").to_owned(), r["id"].as_str().unwrap_or("").to_owned());
            match r["status"].as_str() {
                Some("applied") | Some("merged") if !replay => self.summary.records_applied += 1,
                Some("duplicate") if !replay => self.summary.records_duplicate += 1,
                Some("applied") | Some("merged") | Some("duplicate") => {}
                _ => {
                    self.summary.rejected += 1;
                    continue;
                }
            }
            self.acked.insert(key);
        }
    }
}

fn rfc3339(ms: i64) -> String {
    fieldvisit_sync_protocol::time::format_utc(ms)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn progress_bar(args: &SimArgs) -> indicatif::ProgressBar {
    let secs = args.duration.as_secs().max(1);
    if args.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(secs);
    let style = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Drives the phones; errors only when the server misbehaves, stays away longer than `give_up`,
/// or loses a record.
pub async fn run(args: SimArgs) -> anyhow::Result<Summary> {
    let first = args.urls.first().context("no --url")?;
    let api = Api::new(first, args.devices * 2, args.give_up)?;
    let admin = api.login("admin", &args.admin_password, "simulator-admin").await?;
    let areas = api.call(Method::GET, "/api/v1/areas", Some(&admin), None).await?;
    let root = areas.body["areas"][0]["id"].as_str().context("no root area")?.to_owned();
    let run_id = Uuid::new_v4().simple().to_string()[..6].to_owned();
    let town = api
        .create(&admin, "/api/v1/areas", json!({"parent_id": root, "kind": "town", "name": format!("模拟镇 {run_id}")}))
        .await?;
    let grid = api
        .create(
            &admin,
            "/api/v1/areas",
            json!({"parent_id": town, "kind": "grid", "name": format!("模拟网格 {run_id}")}),
        )
        .await?;
    let password = format!("sim-{run_id}-password");
    let mut accounts = Vec::new();
    for i in 0..args.devices {
        let username = format!("sim_{run_id}_{i}");
        let user = json!({"username": username, "password": password, "display_name": username, "role": "volunteer", "area_id": grid});
        api.create(&admin, "/api/v1/users", user).await?;
        let device_id = format!("sim-{run_id}-{i}");
        let token = api.login(&username, &password, &device_id).await?;
        accounts.push(Account { username, password: password.clone(), device_id, token });
    }

    let shared = Arc::new(Mutex::new(Shared {
        hist: Histogram::new_with_bounds(1, 120_000_000, 3)?,
        acked: HashSet::new(),
        summary: Summary { devices: args.devices, batch: args.batch, ..Summary::default() },
    }));
    let started = Instant::now();
    let deadline = started + args.duration;
    let shifts = Shifts { started, every: args.shift_every, quiet: args.shift_quiet.min(args.shift_every / 2) };
    let progress = progress_bar(&args);
    let mut phones = Vec::new();
    let fleet = Fleet { api: api.clone(), grid: grid.clone(), args: args.clone(), shifts, shared: shared.clone() };
    for (i, account) in accounts.into_iter().enumerate() {
        let fleet = Fleet { api: api.at(&args.urls[i % args.urls.len()]), ..fleet.clone() };
        let phone = Phone::new(i as u64, fleet, account);
        phones.push(tokio::spawn(phone.run(deadline)));
    }
    // The phones hold the only other handles on `shared`: it is unwrapped once they are done.
    drop(fleet);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let applied = shared.lock().await.summary.records_applied;
        let elapsed = started.elapsed();
        progress.set_position(elapsed.as_secs().min(args.duration.as_secs()));
        progress.set_message(format!("{applied} records, {:.0}/s", applied as f64 / elapsed.as_secs_f64().max(0.001)));
    }
    for p in phones {
        p.await??;
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();

    let mut shared = Arc::try_unwrap(shared).map_err(|_| anyhow::anyhow!("phones still running"))?.into_inner();
    let mut s = std::mem::take(&mut shared.summary);
    s.elapsed_s = elapsed;
    s.records_per_s = s.records_per_s();
    s.retries = api.counters.retries.load(Ordering::Relaxed);
    s.timeouts = api.counters.timeouts.load(Ordering::Relaxed);
    s.latency_ms = [50.0, 90.0, 99.0, 99.9, 100.0]
        .iter()
        .map(|q| (*q, shared.hist.value_at_quantile(q / 100.0) as f64 / 1000.0))
        .collect();
    // A long run may outlive the first admin token.
    let admin = api.login("admin", &args.admin_password, "simulator-admin").await?;
    if args.pull_households > 0 {
        s.pull = Some(pull::measure(&api, &admin, &town, &run_id, args.pull_households).await?);
    }
    s.verified = verify(&api, &admin, &shared.acked).await?;
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_string_pretty(&s)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(s)
}

/// Pulls everything as admin and checks each acknowledged record is there exactly once; returns
/// how many were checked.
async fn verify(api: &Api, admin: &str, acked: &HashSet<(String, String)>) -> anyhow::Result<usize> {
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/sync/pull?limit=1000&cursor={c}"),
            None => "/api/v1/sync/pull?limit=1000".to_owned(),
        };
        let page = api.call(Method::GET, &path, Some(admin), None).await?;
        if page.status != 200 {
            bail!("pull answered {}: {}", page.status, page.body);
        }
        for (key, kind) in
            [("households", "household"), ("visits", "visit"), ("tickets", "ticket"), ("ticket_events", "ticket_event")]
        {
            for r in page.body[key].as_array().into_iter().flatten() {
                *seen.entry((kind.to_owned(), r["id"].as_str().unwrap_or("").to_owned())).or_default() += 1;
            }
        }
        cursor = page.body["cursor"].as_str().map(str::to_owned);
        if page.body["has_more"] != true {
            break;
        }
    }
    // Households and tickets are rewritten (merge, re-fold) and may come back in a later page.
    let missing = acked.iter().filter(|k| !seen.contains_key(*k)).count();
    let doubled = seen.iter().filter(|(k, n)| **n > 1 && k.0 != "household" && k.0 != "ticket").count();
    if missing > 0 || doubled > 0 {
        bail!("verification failed: {missing} acknowledged records missing, {doubled} stored twice");
    }
    Ok(acked.len())
}
