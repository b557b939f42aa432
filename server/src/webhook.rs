//! The optional alert webhook: every alert stored while `FIELDVISIT_WEBHOOK_URL` is set is POSTed
//! there as JSON (`AlertOut`, the same object as `GET /api/v1/alerts`), from an outbox, with retries.
//!
//! **Who enqueues.** This task does, not the write paths that store alerts: each round it adds
//! every alert with `id >` the newest `alert_id` in `webhook_outbox` (`db::outbox::enqueue`).
//! Alert ids commit in id order (see `tracker::broadcast`), so that never skips one, and a crash
//! between an alert's commit and its enqueue loses nothing: the next start picks it up. Enqueueing
//! in the transactions that store alerts (the tracker's sweep, the push writer's retractions)
//! would give the same guarantee but make both write paths know about an optional integration;
//! this way they stay as they are and the webhook can be switched on or off freely.
//! While the outbox is empty (the first start with a webhook) it begins after the alerts that
//! existed at start-up, so a receiver is not flooded with history.
//!
//! **Delivery.** Due rows are claimed (`next_attempt_at` moved past the attempt, PostgreSQL `SKIP
//! LOCKED`), so two instances never send the same row at once, then POSTed, a few at a time, with a
//! 10 s timeout and no redirects. 2xx: delivered. Anything else: `attempts + 1`, retried after the
//! base delay (`FIELDVISIT_WEBHOOK_RETRY_BASE_MS`, 5 s) doubled per failed attempt, capped at 10
//! min, with the status or error text in `last_error`. Delivery is at least once: a receiver
//! dedupes by the alert's `id`. Neither the URL (it may carry a token) nor the secret is logged.

use std::time::Duration;

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use fieldvisit_sync_protocol::deadline::AlertOut;

use crate::config::Settings;
use crate::db::alerts::AlertRow;
use crate::db::outbox::{self, Outcome};
use crate::db::{self, DbConn};
use crate::error::ApiError;
use crate::state::AppState;

/// The signature header: `sha256=<hex HMAC-SHA256 of the body>` under `FIELDVISIT_WEBHOOK_SECRET`.
pub const SIGNATURE_HEADER: &str = "X-Fieldvisit-Signature";
/// Per request, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Longest sleep without a due row or a wake-up: a safety net (alerts of other instances).
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Upper bound of the retry delay.
pub const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;
/// Rows claimed per round.
const BATCH: i64 = 100;
/// Requests in flight at once.
const PARALLEL: usize = 8;

/// Where and how to deliver; built once at start-up from the settings.
#[derive(Clone)]
pub struct Hook {
    client: reqwest::Client,
    url: reqwest::Url,
    /// Keyed with the secret; cloned per delivery. `None`: deliveries are unsigned.
    mac: Option<Hmac<Sha256>>,
    retry_base_ms: i64,
}

impl Hook {
    /// `None` without `FIELDVISIT_WEBHOOK_URL`. A URL this build cannot call is an error at start,
    /// not a retry loop later: only `http://` (no TLS is compiled in; put a proxy in front).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        let Some(raw) = settings.webhook_url.as_deref() else { return Ok(None) };
        // The parse error names no part of the URL, which may carry a token.
        let url = reqwest::Url::parse(raw).map_err(|e| anyhow::anyhow!("FIELDVISIT_WEBHOOK_URL is not a URL: {e}"))?;
        if url.scheme() != "http" {
            anyhow::bail!("FIELDVISIT_WEBHOOK_URL must be an http:// URL (this build has no TLS)");
        }
        let mac = match &settings.webhook_secret {
            Some(s) => Some(
                Hmac::<Sha256>::new_from_slice(s.expose().as_bytes())
                    .map_err(|_| anyhow::anyhow!("FIELDVISIT_WEBHOOK_SECRET cannot key HMAC-SHA256"))?,
            ),
            None => None,
        };
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fieldvisit/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("webhook HTTP client")?;
        let retry_base_ms = i64::try_from(settings.webhook_retry_base_ms).unwrap_or(MAX_BACKOFF_MS).max(1);
        Ok(Some(Self { client, url, mac, retry_base_ms }))
    }

    /// `sha256=<hex>` of `body`, if a secret is set.
    pub fn signature(&self, body: &[u8]) -> Option<String> {
        let mut mac = self.mac.clone()?;
        mac.update(body);
        Some(format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
    }

    /// The delay after the `attempts`-th failed attempt (1 = the first).
    pub fn backoff_ms(&self, attempts: i32) -> i64 {
        backoff_ms(self.retry_base_ms, attempts)
    }

    /// One POST; `Err` holds the status or the error text, which names neither URL nor secret.
    async fn deliver(&self, alert: &AlertOut) -> Result<(), String> {
        let body = serde_json::to_vec(alert).map_err(|e| format!("encoding: {e}"))?;
        let mut req = self.client.post(self.url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(sig) = self.signature(&body) {
            req = req.header(SIGNATURE_HEADER, sig);
        }
        match req.body(body).send().await {
            Ok(res) if res.status().is_success() => Ok(()),
            Ok(res) => Err(format!("HTTP {}", res.status())),
            Err(e) => Err(format!("{:#}", anyhow::Error::from(e.without_url()))),
        }
    }
}

/// `base × 2^(attempts − 1)`, capped at [`MAX_BACKOFF_MS`].
pub fn backoff_ms(base_ms: i64, attempts: i32) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(32);
    base_ms.saturating_mul(1_i64 << doublings).min(MAX_BACKOFF_MS)
}

/// The last alert id at start-up: where enqueueing begins while the outbox is still empty.
pub fn start_after(conn: &mut DbConn) -> anyhow::Result<i64> {
    Ok(db::alerts::last_id(conn)?)
}

/// Runs forever; database trouble is logged and retried, so only a panic ends it.
pub async fn run(state: AppState, hook: Hook, start_after: i64) -> anyhow::Result<()> {
    loop {
        let more = match round(&state, &hook, start_after).await {
            Ok(more) => more,
            Err(e) => {
                tracing::warn!(error = %e, "webhook: database trouble, retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if more {
            continue;
        }
        let wait = match db::run(&state.pool, |c| Ok(outbox::next_due(c)?)).await {
            // At least 20 ms: a row still due is held by another instance's claim; look again soon.
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - state.clock.now()).unwrap_or(0).max(20)),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::warn!(error = %e, "webhook: reading the next attempt failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            () = state.webhook_wake.notified() => {}
        }
    }
}

/// Enqueues new alerts, claims the due rows, delivers them and records the outcomes. Returns
/// whether a full batch was claimed (more may be due).
async fn round(state: &AppState, hook: &Hook, start_after: i64) -> Result<bool, ApiError> {
    // Reads first: a wake-up with nothing to do takes no write lock.
    let (new, due) =
        db::run(&state.pool, move |c| Ok((outbox::has_new(c, start_after)?, outbox::next_due(c)?))).await?;
    let mut more_new = new;
    while more_new {
        let now = state.clock.now();
        let added =
            db::run(&state.pool, move |c| db::transaction(c, |c| Ok(outbox::enqueue(c, start_after, now)?))).await?;
        more_new = added == outbox::ENQUEUE_BATCH as usize;
    }
    let now = state.clock.now();
    if !new && due.is_none_or(|at| at > now) {
        return Ok(false);
    }
    // Long enough for every claimed row to be tried before another instance may take it again.
    let rounds = i64::try_from((BATCH as usize).div_ceil(PARALLEL)).unwrap_or(i64::MAX);
    let lease = now + rounds * TIMEOUT.as_millis() as i64 + 30_000;
    let claimed =
        db::run(&state.pool, move |c| db::transaction(c, |c| Ok(outbox::claim_due(c, now, BATCH, lease)?))).await?;
    let full = claimed.len() == BATCH as usize;
    for chunk in claimed.chunks(PARALLEL) {
        let results = deliver_all(hook, chunk).await;
        let now = state.clock.now();
        let outcomes: Vec<(i64, Outcome)> = results
            .into_iter()
            .map(|(id, attempts, result)| match result {
                Ok(()) => {
                    tracing::debug!(alert.id = id, "webhook: delivered");
                    (id, Outcome::Delivered)
                }
                Err(error) => {
                    let attempts = attempts.saturating_add(1);
                    let delay = hook.backoff_ms(attempts);
                    tracing::warn!(alert.id = id, attempts, retry_in_ms = delay, error = %error, "webhook: delivery failed");
                    (id, Outcome::Failed { attempts, next_attempt_at: now + delay, error: truncate(error, 500) })
                }
            })
            .collect();
        db::run(&state.pool, move |c| {
            db::transaction(c, |c| {
                for (id, outcome) in &outcomes {
                    outbox::record(c, *id, outcome, now)?;
                }
                Ok(())
            })
        })
        .await?;
    }
    Ok(full)
}

/// POSTs each row at once; returns each alert id, its attempts so far, and the result.
async fn deliver_all(hook: &Hook, rows: &[(AlertRow, i32)]) -> Vec<(i64, i32, Result<(), String>)> {
    let tasks: Vec<_> = rows
        .iter()
        .map(|(row, _)| {
            let (hook, alert) = (hook.clone(), AlertOut::from(row));
            tokio::spawn(async move { hook.deliver(&alert).await })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for (task, (row, attempts)) in tasks.into_iter().zip(rows) {
        let result = task.await.unwrap_or_else(|e| Err(format!("delivery task failed: {e}")));
        out.push((row.id, *attempts, result));
    }
    out
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_ten_minutes() {
        assert_eq!(backoff_ms(5000, 1), 5000);
        assert_eq!(backoff_ms(5000, 2), 10_000);
        assert_eq!(backoff_ms(5000, 4), 40_000);
        assert_eq!(backoff_ms(5000, 8), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(5000, i32::MAX), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(100, 0), 100);
    }

    #[test]
    fn signature_is_hex_hmac_sha256_of_the_body() {
        let mut s = Settings::defaults();
        s.webhook_url = Some("http://127.0.0.1:9/hook".into());
        s.webhook_secret = Some(crate::config::Secret::new("key"));
        let hook = Hook::from_settings(&s).expect("builds").expect("configured");
        // The well-known HMAC-SHA256 example (key "key"), as `openssl dgst -sha256 -hmac key` prints it.
        let sig = hook.signature(b"The quick brown fox jumps over the lazy dog").expect("signed");
        assert_eq!(sig, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        let mut s = Settings::defaults();
        s.webhook_url = Some("https://example.org/hook".into());
        assert!(Hook::from_settings(&s).is_err());
        s.webhook_url = Some("not a url".into());
        assert!(Hook::from_settings(&s).is_err());
        s.webhook_url = None;
        assert!(Hook::from_settings(&s).expect("ok").is_none());
    }
}
