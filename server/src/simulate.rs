//! `fieldvisit simulate`: phones against a running server, as they behave in the field — offline
//! spells that end in bursts, clocks off by minutes to hours, retries after timeouts, batches sent
//! twice, events out of order — with throughput and latency percentiles, and at the end a check
//! that every record a phone saw acknowledged is on the server exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use uuid::Uuid;

#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// The server to drive.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Simulated phones pushing at once.
    #[arg(long, default_value_t = 16)]
    pub devices: usize,
    /// How long to push, in seconds.
    #[arg(long, default_value_t = 30)]
    pub duration_s: u64,
    /// Records per batch.
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// Password of `admin`, used to create the simulated county's users.
    #[arg(long, env = "FIELDVISIT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// Share of pushes that are deliberately repeated (same batch id, or the same records anew).
    #[arg(long, default_value_t = 0.03)]
    pub repeat_share: f64,
    /// Share of pushes after which a phone goes offline for a while and then bursts.
    #[arg(long, default_value_t = 0.05)]
    pub offline_share: f64,
    /// Print a line per second instead of a progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub pushes: u64,
    pub records_applied: u64,
    pub records_duplicate: u64,
    pub rejected: u64,
    pub retries: u64,
    pub elapsed_s: f64,
    pub latency_ms: Vec<(f64, f64)>,
}

impl Summary {
    pub fn records_per_s(&self) -> f64 {
        self.records_applied as f64 / self.elapsed_s.max(0.001)
    }
}

struct Shared {
    hist: Histogram<u64>,
    acked: HashSet<(String, String)>,
    summary: Summary,
}

fn rfc3339(ms: i64) -> String {
    fieldvisit_sync_protocol::time::format_utc(ms)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn create(client: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> anyhow::Result<String> {
    let (status, res) = call(client, reqwest::Method::POST, format!("{base}{path}"), Some(token), Some(&body)).await?;
    if status != 201 {
        bail!("POST {path} answered {status}: {res}");
    }
    res["id"].as_str().map(str::to_owned).context("no id in answer")
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    device: &str,
) -> anyhow::Result<String> {
    let body = json!({"username": user, "password": password, "device_id": device, "app_version": "simulator"});
    let (status, res) =
        call(client, reqwest::Method::POST, format!("{base}/api/v1/auth/login"), None, Some(&body)).await?;
    if status != 200 {
        bail!("login of {user} answered {status}: {res}");
    }
    res["access_token"].as_str().map(str::to_owned).context("no access_token")
}

/// Drives the phones; errors only when the server misbehaves or loses a record.
pub async fn run(args: SimArgs) -> anyhow::Result<Summary> {
    let base = args.url.trim_end_matches('/').to_owned();
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(15)).pool_max_idle_per_host(args.devices * 2).build()?;
    let admin = login(&client, &base, "admin", &args.admin_password, "simulator-admin").await?;
    let (_, areas) = call(&client, reqwest::Method::GET, format!("{base}/api/v1/areas"), Some(&admin), None).await?;
    let root = areas["areas"][0]["id"].as_str().context("no root area")?.to_owned();
    let run_id = Uuid::new_v4().simple().to_string()[..6].to_owned();
    let mut parent = root;
    for (kind, name) in [("town", "模拟镇"), ("grid", "模拟网格")] {
        let body = json!({"parent_id": parent, "kind": kind, "name": format!("{name} {run_id}")});
        parent = create(&client, &base, &admin, "/api/v1/areas", body).await?;
    }
    let grid = parent;
    let password = format!("sim-{run_id}-password");
    let mut tokens = Vec::new();
    for i in 0..args.devices {
        let username = format!("sim_{run_id}_{i}");
        create(&client, &base, &admin, "/api/v1/users", json!({"username": username, "password": password, "display_name": username, "role": "volunteer", "area_id": grid})).await?;
        tokens.push(login(&client, &base, &username, &password, &format!("sim-{run_id}-{i}")).await?);
    }

    let shared = Arc::new(Mutex::new(Shared {
        hist: Histogram::new_with_bounds(1, 120_000_000, 3)?,
        acked: HashSet::new(),
        summary: Summary::default(),
    }));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration_s);
    let progress = indicatif::ProgressBar::new(args.duration_s);
    if args.quiet {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut phones = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let phone =
            Phone::new(i as u64, token, grid.clone(), args.clone(), base.clone(), client.clone(), shared.clone());
        phones.push(tokio::spawn(phone.run(deadline)));
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let s = shared.lock().await;
        progress.set_position(started.elapsed().as_secs().min(args.duration_s));
        progress.set_message(format!("{} records applied", s.summary.records_applied));
    }
    for p in phones {
        p.await??;
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();

    let mut shared = Arc::try_unwrap(shared).map_err(|_| anyhow::anyhow!("phones still running"))?.into_inner();
    verify(&client, &base, &admin, &shared.acked).await?;
    shared.summary.elapsed_s = elapsed;
    shared.summary.latency_ms = [50.0, 90.0, 99.0, 99.9, 100.0]
        .iter()
        .map(|q| (*q, shared.hist.value_at_quantile(q / 100.0) as f64 / 1000.0))
        .collect();
    Ok(shared.summary)
}

/// Pulls everything as admin and checks each acknowledged record is there exactly once.
async fn verify(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    acked: &HashSet<(String, String)>,
) -> anyhow::Result<()> {
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/sync/pull?limit=1000&cursor={c}"),
            None => format!("{base}/api/v1/sync/pull?limit=1000"),
        };
        let (status, page) = call(client, reqwest::Method::GET, url, Some(admin), None).await?;
        if status != 200 {
            bail!("pull answered {status}: {page}");
        }
        for (key, kind) in
            [("households", "household"), ("visits", "visit"), ("tickets", "ticket"), ("ticket_events", "ticket_event")]
        {
            for r in page[key].as_array().into_iter().flatten() {
                *seen.entry((kind.to_owned(), r["id"].as_str().unwrap_or("").to_owned())).or_default() += 1;
            }
        }
        cursor = page["cursor"].as_str().map(str::to_owned);
        if page["has_more"] != true {
            break;
        }
    }
    let missing = acked.iter().filter(|k| !seen.contains_key(*k)).count();
    let doubled = seen.iter().filter(|(k, n)| **n > 1 && k.0 != "household" && k.0 != "ticket").count();
    if missing > 0 || doubled > 0 {
        bail!("verification failed: {missing} acknowledged records missing, {doubled} stored twice");
    }
    println!("verified: all {} acknowledged records are on the server exactly once", acked.len());
    Ok(())
}

struct Phone {
    rng: StdRng,
    token: String,
    grid: String,
    args: SimArgs,
    base: String,
    client: reqwest::Client,
    shared: Arc<Mutex<Shared>>,
    /// This phone's clock error: most are close, one in five is hours off.
    skew_ms: i64,
    households: Vec<String>,
    tickets: Vec<(String, i64)>,
    sent: Vec<Value>,
}

impl Phone {
    fn new(
        i: u64,
        token: String,
        grid: String,
        args: SimArgs,
        base: String,
        client: reqwest::Client,
        shared: Arc<Mutex<Shared>>,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(0x5EED + i);
        let skew_ms = if rng.gen_bool(0.2) {
            rng.gen_range(-3 * 3_600_000..3 * 3_600_000)
        } else {
            rng.gen_range(-90_000..90_000)
        };
        Self {
            rng,
            token,
            grid,
            args,
            base,
            client,
            shared,
            skew_ms,
            households: Vec::new(),
            tickets: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Records of one batch, with times on this phone's (wrong) clock.
    fn next_batch(&mut self) -> Value {
        let now = now_ms() + self.skew_ms;
        let mut households = Vec::new();
        while self.households.len() < 20 {
            let id = Uuid::new_v4().to_string();
            households.push(json!({"id": id, "area_id": self.grid, "address": format!("{}号楼{}单元", self.rng.gen_range(1..40), self.rng.gen_range(1..6)),
                "head_name": "住户", "heating": "central", "tags": [], "base_version": 0, "updated_at": rfc3339(now - 3_600_000)}));
            self.households.push(id);
        }
        let (mut visits, mut tickets, mut events) = (Vec::new(), Vec::new(), Vec::new());
        while households.len() + visits.len() + tickets.len() + events.len() < self.args.batch {
            let h = self.households[self.rng.gen_range(0..self.households.len())].clone();
            let at = now - self.rng.gen_range(60_000..3_600_000);
            match self.rng.gen_range(0..100) {
                0..=79 => visits.push(json!({"id": Uuid::new_v4(), "household_id": h, "visited_at": rfc3339(at),
                    "indoor_temp_c": self.rng.gen_range(140..240) as f64 / 10.0, "checklist": {"radiator_ok": self.rng.gen_bool(0.9), "co_alarm": true}})),
                80..=89 => {
                    let id = Uuid::new_v4().to_string();
                    tickets.push(json!({"id": id, "household_id": h, "category": "heating", "severity": "normal",
                        "description": "暖气不热", "reported_at": rfc3339(at - 3_600_000), "resolved_on_the_spot": self.rng.gen_bool(0.3)}));
                    self.tickets.push((id, at - 3_600_000));
                }
                _ => {
                    let Some((t, reported)) = self.tickets.get(self.rng.gen_range(0..self.tickets.len().max(1))).cloned() else { continue };
                    // Out of order on purpose: any time after the report.
                    let at = reported + self.rng.gen_range(0..(now - reported).max(1));
                    let kind = if self.rng.gen_bool(0.5) { "comment" } else { "feedback" };
                    events.push(json!({"id": Uuid::new_v4(), "ticket_id": t, "type": kind, "occurred_at": rfc3339(at)}));
                }
            }
        }
        json!({"protocol_version": 1, "batch_id": Uuid::new_v4(), "households": households, "visits": visits, "tickets": tickets, "ticket_events": events})
    }

    /// Sends one batch until the server answers 200, re-sending the same batch id after timeouts.
    async fn push(&mut self, mut body: Value) -> anyhow::Result<()> {
        let mut attempt = 0u32;
        loop {
            body["device_time"] = json!(rfc3339(now_ms() + self.skew_ms));
            let t0 = Instant::now();
            let url = format!("{}/api/v1/sync/push", self.base);
            let answer = call(&self.client, reqwest::Method::POST, url, Some(&self.token), Some(&body)).await;
            let micros = t0.elapsed().as_micros() as u64;
            match answer {
                Ok((200, res)) => {
                    let mut s = self.shared.lock().await;
                    s.hist.record(micros.max(1)).ok();
                    s.summary.pushes += 1;
                    for r in res["results"].as_array().into_iter().flatten() {
                        let key =
                            (r["type"].as_str().unwrap_or("").to_owned(), r["id"].as_str().unwrap_or("").to_owned());
                        match r["status"].as_str() {
                            Some("applied") | Some("merged") => {
                                s.summary.records_applied += 1;
                                s.acked.insert(key);
                            }
                            Some("duplicate") => {
                                s.summary.records_duplicate += 1;
                                s.acked.insert(key);
                            }
                            _ => s.summary.rejected += 1,
                        }
                    }
                    return Ok(());
                }
                Ok((status, res)) if status < 500 && status != 429 => bail!("push answered {status}: {res}"),
                _ => {
                    attempt += 1;
                    self.shared.lock().await.summary.retries += 1;
                    if attempt > 20 {
                        bail!("push kept failing after {attempt} attempts");
                    }
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
                }
            }
        }
    }

    async fn run(mut self, deadline: Instant) -> anyhow::Result<()> {
        let mut outbox: Vec<Value> = Vec::new();
        while Instant::now() < deadline {
            outbox.push(self.next_batch());
            if self.rng.gen_bool(self.args.offline_share.clamp(0.0, 1.0)) {
                // Offline: a few batches pile up, then go out in a burst.
                for _ in 0..self.rng.gen_range(2..6) {
                    outbox.push(self.next_batch());
                }
            }
            for body in std::mem::take(&mut outbox) {
                self.push(body.clone()).await?;
                self.sent.push(body);
            }
            if self.rng.gen_bool(self.args.repeat_share.clamp(0.0, 1.0)) && !self.sent.is_empty() {
                let mut again = self.sent[self.rng.gen_range(0..self.sent.len())].clone();
                if self.rng.gen_bool(0.5) {
                    again["batch_id"] = json!(Uuid::new_v4());
                }
                self.push(again).await?;
            }
            if self.sent.len() > 50 {
                self.sent.drain(..25);
            }
        }
        Ok(())
    }
}
