//! One simulated phone: what it records, how its clock is wrong, when it has no signal, and how it
//! sends (re-sending after a timeout, backing off when the server is down or busy).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::http::{backoff, Api, Counters};
use super::{now_ms, rfc3339, Shared, SimArgs};

/// Who the phone is logged in as (kept to log in again when the access token expires).
pub struct Account {
    pub username: String,
    pub password: String,
    pub device_id: String,
    pub token: String,
}

/// Shift ends: every `every` from the start, all phones sync at once. In the `quiet` before it
/// each phone loses signal at its own moment (walking back, phones in pockets) and records offline.
#[derive(Clone, Copy)]
pub struct Shifts {
    pub started: Instant,
    pub every: Duration,
    pub quiet: Duration,
}

impl Shifts {
    /// The next shift end, if `now` lies in the quiet spell before it.
    fn quiet_until(&self, now: Instant, went_quiet_at: Duration) -> Option<Instant> {
        if self.every.is_zero() {
            return None;
        }
        let into = now.duration_since(self.started).as_millis() % self.every.as_millis();
        let left = self.every.as_millis() - into;
        let quiet_for = self.quiet.saturating_sub(went_quiet_at).as_millis();
        (left <= quiet_for).then(|| now + Duration::from_millis(left as u64))
    }
}

/// A phone's clock error: a third are right to within the tolerance, a third off by minutes, a
/// third by hours, either way.
fn clock_skew_ms(rng: &mut StdRng) -> i64 {
    let magnitude = match rng.gen_range(0..3) {
        0 => rng.gen_range(0..90_000),
        1 => rng.gen_range(2 * 60_000..60 * 60_000),
        _ => rng.gen_range(3_600_000..8 * 3_600_000),
    };
    if rng.gen_bool(0.5) {
        magnitude
    } else {
        -magnitude
    }
}

/// What every phone of a run shares.
#[derive(Clone)]
pub struct Fleet {
    pub api: Api,
    pub grid: String,
    pub args: SimArgs,
    pub shifts: Shifts,
    pub shared: Arc<Mutex<Shared>>,
}

pub struct Phone {
    rng: StdRng,
    fleet: Fleet,
    account: Account,
    pub skew_ms: i64,
    /// When, in the quiet spell before a shift end, this phone loses signal.
    quiet_offset: Duration,
    households: Vec<String>,
    tickets: Vec<(String, i64)>,
    sent: Vec<Value>,
    /// Batch ids whose answer has arrived: a later answer to the same id is a replay, not new work.
    answered: HashSet<String>,
    /// The last push's round trip: while offline, the phone records a batch per this much time.
    pace: Duration,
}

impl Phone {
    pub fn new(i: u64, fleet: Fleet, account: Account) -> Self {
        let mut rng = StdRng::seed_from_u64(fleet.args.seed.wrapping_add(i));
        let skew_ms = clock_skew_ms(&mut rng);
        let quiet_offset = fleet.shifts.quiet.mul_f64(rng.gen_range(0.0..0.8));
        Self {
            rng,
            fleet,
            account,
            skew_ms,
            quiet_offset,
            households: Vec::new(),
            tickets: Vec::new(),
            sent: Vec::new(),
            answered: HashSet::new(),
            pace: Duration::from_millis(200),
        }
    }

    /// Records of one batch, with times on this phone's (wrong) clock. Ticket events refer to
    /// tickets sent earlier and carry any time after the report, so they reach the server out of
    /// the order they happened in, across batches.
    fn next_batch(&mut self) -> Value {
        let now = now_ms() + self.skew_ms;
        let mut households = Vec::new();
        while self.households.len() < 20 {
            let id = Uuid::new_v4().to_string();
            households.push(json!({"id": id, "area_id": self.fleet.grid, "address": format!("{}号楼{}单元", self.rng.gen_range(1..40), self.rng.gen_range(1..6)),
                "head_name": "住户", "heating": "central", "tags": [], "base_version": 0, "updated_at": rfc3339(now - 3_600_000)}));
            self.households.push(id);
        }
        let (mut visits, mut tickets, mut events) = (Vec::new(), Vec::new(), Vec::new());
        while households.len() + visits.len() + tickets.len() + events.len() < self.fleet.args.batch {
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
                    // At least a minute after the report: per-batch clock correction jitters by
                    // up to seconds, and an event must not land before its ticket.
                    let at = reported + self.rng.gen_range(60_000..(now - reported).max(60_001));
                    let kind = if self.rng.gen_bool(0.5) { "comment" } else { "feedback" };
                    events.push(json!({"id": Uuid::new_v4(), "ticket_id": t, "type": kind, "occurred_at": rfc3339(at)}));
                }
            }
        }
        json!({"protocol_version": 1, "batch_id": Uuid::new_v4(), "households": households, "visits": visits, "tickets": tickets, "ticket_events": events})
    }

    /// No signal until `until`: the phone goes on recording at its usual pace; everything goes out
    /// in one burst when the signal is back.
    async fn offline(&mut self, until: Instant, outbox: &mut Vec<Value>) {
        while Instant::now() < until && outbox.len() < 40 {
            outbox.push(self.next_batch());
            tokio::time::sleep(self.pace.min(until.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// Sends one batch until it is answered. A timeout re-sends the same batch id at once (the
    /// phone cannot know whether the first copy was stored); connection refused, 5xx and 429 back
    /// off (honouring `Retry-After`); an expired token logs in again.
    async fn push(&mut self, mut body: Value) -> anyhow::Result<()> {
        let batch_id = body["batch_id"].as_str().unwrap_or_default().to_owned();
        let (mut attempt, mut failing_since) = (0u32, None::<Instant>);
        loop {
            body["device_time"] = json!(rfc3339(now_ms() + self.skew_ms));
            // Some phones give up waiting early (a weak signal): the server may still store the batch.
            let impatient = self.rng.gen_bool(self.fleet.args.timeout_share.clamp(0.0, 1.0));
            let timeout = impatient.then(|| Duration::from_millis(self.rng.gen_range(5..60)));
            let t0 = Instant::now();
            let answer = self
                .fleet
                .api
                .send(Method::POST, "/api/v1/sync/push", Some(&self.account.token), Some(&body), timeout)
                .await;
            let took = t0.elapsed();
            let retry_after = match answer {
                Ok(a) if a.status == 200 => {
                    self.pace = took.clamp(Duration::from_millis(20), Duration::from_secs(1));
                    let replay = !self.answered.insert(batch_id);
                    self.fleet.shared.lock().await.count_answer(took, &a.body, replay);
                    return Ok(());
                }
                Ok(a) if a.status == 401 => {
                    let Account { username, password, device_id, .. } = &self.account;
                    self.account.token = self.fleet.api.login(username, password, device_id).await?;
                    continue;
                }
                Ok(a) if a.status < 500 && a.status != 429 => bail!("push answered {}: {}", a.status, a.body),
                Ok(a) => a.retry_after,
                Err(e) if e.is_timeout() => {
                    Counters::bump(&self.fleet.api.counters.timeouts);
                    continue;
                }
                Err(_) => None,
            };
            let since = *failing_since.get_or_insert_with(Instant::now);
            if since.elapsed() > self.fleet.api.give_up() {
                bail!("push kept failing for {:?}", self.fleet.api.give_up());
            }
            Counters::bump(&self.fleet.api.counters.retries);
            tokio::time::sleep(backoff(attempt, retry_after)).await;
            attempt += 1;
        }
    }

    pub async fn run(mut self, deadline: Instant) -> anyhow::Result<()> {
        let mut outbox: Vec<Value> = Vec::new();
        while Instant::now() < deadline {
            let now = Instant::now();
            if let Some(shift_end) = self.fleet.shifts.quiet_until(now, self.quiet_offset) {
                self.offline(shift_end.min(deadline), &mut outbox).await;
                self.fleet.shared.lock().await.summary.shift_end_bursts += 1;
            } else if self.rng.gen_bool(self.fleet.args.offline_share.clamp(0.0, 1.0)) {
                let spell = Duration::from_millis(self.rng.gen_range(300..3000));
                self.offline((now + spell).min(deadline), &mut outbox).await;
                self.fleet.shared.lock().await.summary.offline_spells += 1;
            } else {
                outbox.push(self.next_batch());
            }
            for body in std::mem::take(&mut outbox) {
                self.push(body.clone()).await?;
                self.sent.push(body);
            }
            if self.rng.gen_bool(self.fleet.args.repeat_share.clamp(0.0, 1.0)) && !self.sent.is_empty() {
                // A repeat: the same batch id (a lost answer), or the same records in a new batch
                // (an app that rebuilt its outbox).
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
