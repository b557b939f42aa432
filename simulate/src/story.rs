//! The demo's actors, playing against the running server over HTTP as the real ones would:
//! volunteers' phones push visits and tickets (some after an offline spell, some with a wrong
//! clock), the county dispatcher classifies and dispatches, station handlers arrive and close.
//! Some tickets are neglected on purpose, so the board shows due-soon and overdue alerts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::time::Instant;
use uuid::Uuid;

use fieldvisit_sync_protocol::checklist::DEFAULT_TEMPLATE_ID as DEFAULT_ID;
use fieldvisit_sync_protocol::codes::{area_id, household_id, team_id};
use fieldvisit_sync_protocol::time::format_utc;

use crate::http::Api;

/// The ticket categories the actors report, each served by every station.
pub const CATEGORIES: [&str; 5] = ["heating", "pipe_leak", "radiator", "gas_safety", "coal_smoke"];
/// Households in each grid, coded 1..=20 in the roster.
pub const HOUSEHOLDS_PER_GRID: usize = 20;

/// A grid of the demo county, its volunteer and the teams that serve it.
pub struct Grid {
    pub code: String,
    pub volunteer: String,
    pub team_codes: Vec<String>,
}

/// Who plays: the grids with their volunteers, the county desk and each station's handler. The
/// server's demo builds the roster these people and places are imported from.
pub struct Cast {
    pub grids: Vec<Grid>,
    pub dispatcher: String,
    pub supervisor: String,
    /// (username, team code) of each station's handler.
    pub handlers: Vec<(String, String)>,
}

/// How the story is played.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Phones that push (at most one per grid).
    pub phones: usize,
    /// Mean time between one phone's pushes.
    pub push_every: Duration,
    /// How often the dispatcher and the handlers look at their lists.
    pub desk_every: Duration,
    pub seed: u64,
}

/// What the actors did, for the banner and the tests.
#[derive(Debug, Default)]
pub struct Tally {
    pub visits: AtomicU64,
    pub tickets: AtomicU64,
    pub events: AtomicU64,
    pub failures: AtomicU64,
    /// Events the server refused (a 4xx, or a record `rejected` in a push's answer): the demo's
    /// actors only do what their role allows, at times that make sense, so this stays 0.
    pub refused: AtomicU64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const MINUTE: i64 = 60_000;

/// A ticket the desk leaves alone at a given stage, so that some go overdue; decided by its id so
/// the choice holds across looks.
fn neglected(ticket_id: &str, one_in: u128) -> bool {
    Uuid::parse_str(ticket_id).is_ok_and(|u| u.as_u128() % one_in == 0)
}

/// Runs every actor until `until` (or forever); returns what they did.
pub async fn play(
    api: Api,
    cast: &Cast,
    password: &str,
    pace: Pace,
    until: Option<Instant>,
) -> anyhow::Result<Arc<Tally>> {
    let tally = Arc::new(Tally::default());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, grid) in cast.grids.iter().take(pace.phones).enumerate() {
        let token = api.login(&grid.volunteer, password, &format!("demo-phone-{i:02}")).await?;
        let phone = Phone::new(i, grid, token, &pace);
        tasks.spawn(phone.run(api.clone(), tally.clone(), pace.push_every, until));
    }
    let dispatcher = api.login(&cast.dispatcher, password, "demo-dispatch-desk").await?;
    let grids: Vec<(String, Vec<String>)> =
        cast.grids.iter().map(|g| (area_id(&g.code).to_string(), g.team_codes.clone())).collect();
    tasks.spawn(dispatch_desk(api.clone(), dispatcher, grids, tally.clone(), pace.clone(), until));
    for (n, (username, team)) in cast.handlers.iter().enumerate() {
        let token = api.login(username, password, &format!("demo-handler-{n:02}")).await?;
        let team = team_id(team).to_string();
        tasks.spawn(handler(api.clone(), token, team, tally.clone(), pace.clone(), n as u64, until));
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    Ok(tally)
}

fn over(until: Option<Instant>) -> bool {
    until.is_some_and(|u| Instant::now() >= u)
}

struct Phone {
    rng: StdRng,
    token: String,
    households: Vec<String>,
    /// How wrong this phone's clock is.
    skew_ms: i64,
    first: bool,
}

impl Phone {
    fn new(i: usize, grid: &Grid, token: String, pace: &Pace) -> Self {
        let households =
            (1..=HOUSEHOLDS_PER_GRID).map(|h| household_id(&grid.code, &h.to_string()).to_string()).collect();
        let skew_ms = match i % 4 {
            1 => 7 * MINUTE,
            3 => -3 * 60 * MINUTE,
            _ => 0,
        };
        let rng = StdRng::seed_from_u64(pace.seed.wrapping_add(i as u64));
        Phone { rng, token, households, skew_ms, first: true }
    }

    /// Answers to the default template (`winter_visit` v1), consistent with the room's temperature;
    /// alarms and subsidies are missing in a share of homes, so the checklist report has contrast.
    fn checklist(&mut self, temp: f64) -> Value {
        let alarm = self.rng.gen_bool(0.8);
        let mut answers = json!({
            "indoor_temp_ok": temp >= 18.0, "radiator_warm": temp >= 17.0, "pipes_valves_ok": self.rng.gen_bool(0.93),
            "co_alarm_present": alarm, "service_card_given": true, "subsidy_or_coal_received": self.rng.gen_bool(0.85),
        });
        if alarm {
            answers["co_alarm_working"] = json!(self.rng.gen_bool(0.9));
        }
        if self.rng.gen_bool(0.3) {
            answers["stove_flue_safe"] = json!(self.rng.gen_bool(0.9));
        }
        if temp < 18.0 {
            answers["resident_concerns"] = json!("希望尽快把暖气烧热");
        }
        answers
    }

    /// One batch: a few visits, sometimes a ticket. The first batch and one in five come back from
    /// an offline spell of up to 2.5 hours (their tickets arrive due soon or overdue).
    fn batch(&mut self) -> (Value, u64, u64) {
        let now = now_ms();
        let offline = self.first || self.rng.gen_bool(0.2);
        // The first spell is long enough that its ticket is past the 1 h classify window on arrival.
        let late = match (self.first, offline) {
            (true, _) => self.rng.gen_range(90..150) * MINUTE,
            (false, true) => self.rng.gen_range(50..150) * MINUTE,
            (false, false) => self.rng.gen_range(0..2) * MINUTE,
        };
        let skew_ms = self.skew_ms;
        let device = |t: i64| format_utc(t + skew_ms);
        let (mut visits, mut tickets) = (Vec::new(), Vec::new());
        for v in 0..self.rng.gen_range(1..=3) {
            let household = self.households[self.rng.gen_range(0..self.households.len())].clone();
            // The ticket is reported a minute after the visit: both in the past, or the desk's
            // first action (now) would land before the report and be refused.
            let at = now - late - v * 4 * MINUTE - MINUTE;
            // Most homes are warm; about one in twelve is below the 18 °C standard by a lot.
            let temp: f64 =
                if self.rng.gen_bool(0.08) { self.rng.gen_range(12.5..16.0) } else { self.rng.gen_range(17.5..24.0) };
            let visit_id = Uuid::new_v4().to_string();
            visits.push(json!({"id": visit_id, "household_id": household, "visited_at": device(at),
                "indoor_temp_c": (temp * 10.0).round() / 10.0, "service_card_given": true,
                "checklist": self.checklist(temp), "checklist_template": {"id": DEFAULT_ID, "version": 1}}));
            if temp < 16.0 || (self.first && v == 0) || self.rng.gen_bool(0.03) {
                let category = CATEGORIES[self.rng.gen_range(0..CATEGORIES.len())];
                let severity = if temp < 14.0 { "urgent" } else { "normal" };
                let on_the_spot = category == "radiator" && self.rng.gen_bool(0.5);
                tickets.push(json!({"id": Uuid::new_v4().to_string(), "household_id": household, "visit_id": visit_id,
                    "category": category, "severity": severity, "resolved_on_the_spot": on_the_spot,
                    "description": format!("入户室温 {temp:.1}℃，{}", describe(category)), "reported_at": device(at + MINUTE)}));
            }
        }
        self.first = false;
        let (nv, nt) = (visits.len() as u64, tickets.len() as u64);
        let body = json!({"protocol_version": 1, "batch_id": Uuid::new_v4().to_string(), "device_time": device(now),
            "visits": visits, "tickets": tickets});
        (body, nv, nt)
    }

    async fn run(mut self, api: Api, tally: Arc<Tally>, every: Duration, until: Option<Instant>) {
        while !over(until) {
            let (body, visits, tickets) = self.batch();
            // `call` re-sends the same batch while the server is busy or away (it dedupes it).
            match api.call(reqwest::Method::POST, "/api/v1/sync/push", Some(&self.token), Some(&body)).await {
                Ok(a) if a.status == 200 => {
                    tally.visits.fetch_add(visits, Ordering::Relaxed);
                    tally.tickets.fetch_add(tickets, Ordering::Relaxed);
                }
                _ => {
                    tally.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            let wait = every.mul_f64(self.rng.gen_range(0.5..1.5));
            tokio::time::sleep(wait).await;
        }
    }
}

fn describe(category: &str) -> &'static str {
    match category {
        "pipe_leak" => "楼道管道滴漏",
        "radiator" => "暖气片上热下凉，需排气",
        "gas_safety" => "燃气壁挂炉报警",
        "coal_smoke" => "煤炉烟道不畅，有煤烟味",
        _ => "暖气不热",
    }
}

async fn open_tickets(api: &Api, token: &str, filter: &str) -> Vec<Value> {
    let path = format!("/api/v1/tickets?status=open&limit=200{filter}");
    match api.call(reqwest::Method::GET, &path, Some(token), None).await {
        Ok(a) if a.status == 200 => a.body["tickets"].as_array().cloned().unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The county desk: classifies and dispatches to a station serving the ticket's grid, leaving one
/// ticket in six at each stage alone.
async fn dispatch_desk(
    api: Api,
    token: String,
    grids: Vec<(String, Vec<String>)>,
    tally: Arc<Tally>,
    pace: Pace,
    until: Option<Instant>,
) {
    let mut rng = StdRng::seed_from_u64(pace.seed ^ 0xd15);
    while !over(until) {
        for t in open_tickets(&api, &token, "").await {
            let id = t["id"].as_str().unwrap_or_default();
            let event = match t["stage"].as_str() {
                Some("classify") if !neglected(id, 6) && rng.gen_bool(0.5) => {
                    json!({"type": "classified", "category": t["category"]})
                }
                Some("dispatch") if !neglected(id, 7) && rng.gen_bool(0.5) => {
                    let teams =
                        grids.iter().find(|g| t["area_id"] == g.0.as_str()).map(|g| g.1.as_slice()).unwrap_or(&[]);
                    let Some(team) = teams.get(rng.gen_range(0..teams.len().max(1))) else { continue };
                    json!({"type": "dispatched", "team_id": team_id(team).to_string()})
                }
                _ => continue,
            };
            let mut body = event;
            body["id"] = json!(Uuid::new_v4().to_string());
            body["occurred_at"] = json!(format_utc(now_ms()));
            let path = format!("/api/v1/tickets/{id}/events");
            match api.call(reqwest::Method::POST, &path, Some(&token), Some(&body)).await {
                Ok(a) if a.status == 201 => tally.events.fetch_add(1, Ordering::Relaxed),
                Ok(a) if a.status < 500 => tally.refused.fetch_add(1, Ordering::Relaxed),
                _ => 0,
            };
        }
        call_back(&api, &token, &tally, &mut rng).await;
        tokio::time::sleep(pace.desk_every).await;
    }
}

/// The desk's callbacks (回访): half of the closed tickets waiting for one each round; one resident
/// in ten is unsatisfied, which reopens the ticket under the default policy.
async fn call_back(api: &Api, token: &str, tally: &Tally, rng: &mut StdRng) {
    let waiting =
        match api.call(reqwest::Method::GET, "/api/v1/callbacks?pending=true&limit=50", Some(token), None).await {
            Ok(a) if a.status == 200 => a.body["tickets"].as_array().cloned().unwrap_or_default(),
            _ => return,
        };
    for t in &waiting {
        if rng.gen_bool(0.5) {
            continue;
        }
        let satisfaction = if rng.gen_bool(0.1) { "unsatisfied" } else { "satisfied" };
        let body = json!({"id": Uuid::new_v4().to_string(), "type": "callback", "satisfaction": satisfaction,
            "occurred_at": format_utc(now_ms())});
        let path = format!("/api/v1/tickets/{}/events", t["id"].as_str().unwrap_or_default());
        match api.call(reqwest::Method::POST, &path, Some(token), Some(&body)).await {
            Ok(a) if a.status == 201 => tally.events.fetch_add(1, Ordering::Relaxed),
            Ok(a) if a.status < 500 => tally.refused.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
}

/// A station's handler: arrives on site, then resolves with the resident's feedback, from a phone
/// that syncs its events.
async fn handler(api: Api, token: String, team: String, tally: Arc<Tally>, pace: Pace, n: u64, until: Option<Instant>) {
    let mut rng = StdRng::seed_from_u64(pace.seed ^ (0x4a4d << 8) ^ n);
    while !over(until) {
        let mut events = Vec::new();
        let now = format_utc(now_ms());
        for t in open_tickets(&api, &token, &format!("&team_id={team}")).await {
            let id = t["id"].as_str().unwrap_or_default();
            let event = |kind: &str| json!({"id": Uuid::new_v4().to_string(), "ticket_id": id, "type": kind, "occurred_at": now});
            match t["stage"].as_str() {
                Some("on_site") if !neglected(id, 8) && rng.gen_bool(0.4) => events.push(event("on_site")),
                Some("close") if rng.gen_bool(0.3) => {
                    events.push(event("resolved"));
                    let mut feedback = event("feedback");
                    feedback["satisfaction"] = json!(if rng.gen_bool(0.9) { "satisfied" } else { "neutral" });
                    events.push(feedback);
                }
                _ => {}
            }
        }
        if !events.is_empty() {
            let body = json!({"protocol_version": 1, "batch_id": Uuid::new_v4().to_string(), "device_time": now,
                "ticket_events": events});
            let pushed = api.call(reqwest::Method::POST, "/api/v1/sync/push", Some(&token), Some(&body)).await;
            if let Some(a) = pushed.ok().filter(|a| a.status == 200) {
                for r in a.body["results"].as_array().into_iter().flatten() {
                    let counter = if r["status"] == "rejected" { &tally.refused } else { &tally.events };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        tokio::time::sleep(pace.desk_every.mul_f64(rng.gen_range(1.0..2.0))).await;
    }
}
