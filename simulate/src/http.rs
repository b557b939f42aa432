//! The simulator's HTTP calls: one request at a time, and a retrying form for everything that is
//! not a push. A server that is down, restarting or busy (connection refused, 503/429 with
//! `Retry-After`) is waited for with capped exponential backoff, never treated as a failure, until
//! `give_up` has passed without an answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::Method;
use serde_json::{json, Value};

/// Counts shared by every phone: what the network and the server made the phones do again.
#[derive(Debug, Default)]
pub struct Counters {
    pub retries: AtomicU64,
    pub timeouts: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One answer: status, JSON body (Null if none), and the server's `Retry-After` if it sent one.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<Duration>,
}

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    pub base: String,
    give_up: Duration,
    pub counters: Arc<Counters>,
}

/// Backoff after the `attempt`-th failure in a row: 100 ms doubling, at most 2 s; a
/// `Retry-After` from the server wins.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    retry_after.unwrap_or_else(|| Duration::from_millis(100 << attempt.min(5)).min(Duration::from_secs(2)))
}

impl Api {
    pub fn new(base: &str, connections: usize, give_up: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(connections)
            .build()?;
        Ok(Self { client, base: base.trim_end_matches('/').to_owned(), give_up, counters: Arc::default() })
    }

    /// The same client and counters, talking to another instance of the service at `base`.
    pub fn at(&self, base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), ..self.clone() }
    }

    /// One request; `timeout` overrides the client's 30 s.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> reqwest::Result<Answer> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = res.json().await.unwrap_or(Value::Null);
        Ok(Answer { status, body, retry_after })
    }

    /// Sends until the server gives an answer that is not "try again" (connection refused,
    /// timeout, 5xx, 429), backing off between tries.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let first_failure = Instant::now();
        let mut attempt = 0u32;
        loop {
            let retry_after = match self.send(method.clone(), path, token, body, None).await {
                Ok(a) if a.status < 500 && a.status != 429 => return Ok(a),
                Ok(a) => a.retry_after,
                Err(_) => None,
            };
            if first_failure.elapsed() > self.give_up {
                bail!("{method} {path}: no usable answer from {} for {:?}", self.base, self.give_up);
            }
            Counters::bump(&self.counters.retries);
            tokio::time::sleep(backoff(attempt, retry_after)).await;
            attempt += 1;
        }
    }

    /// POSTs `body` and returns the new object's id (expects 201).
    pub async fn create(&self, token: &str, path: &str, body: Value) -> anyhow::Result<String> {
        let a = self.call(Method::POST, path, Some(token), Some(&body)).await?;
        if a.status != 201 {
            bail!("POST {path} answered {}: {}", a.status, a.body);
        }
        a.body["id"].as_str().map(str::to_owned).context("no id in answer")
    }

    /// Logs in on the simulated device named `device`; its id is a UUID derived from the name.
    pub async fn login(&self, user: &str, password: &str, device: &str) -> anyhow::Result<String> {
        let device_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, device.as_bytes());
        let body = json!({"username": user, "password": password, "device_id": device_id, "device_name": device,
            "app_version": "simulator"});
        let a = self.call(Method::POST, "/api/v1/auth/login", None, Some(&body)).await?;
        if a.status != 200 {
            bail!("login of {user} answered {}: {}", a.status, a.body);
        }
        a.body["access_token"].as_str().map(str::to_owned).context("no access_token")
    }

    /// How long a phone keeps trying before it reports the server gone.
    pub fn give_up(&self) -> Duration {
        self.give_up
    }
}
