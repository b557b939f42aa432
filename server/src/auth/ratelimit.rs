//! Login throttling that an attacker cannot turn against the user (docs/operations.md, "Login
//! throttling"). Failed logins are counted over a sliding minute under several keys:
//!
//! - `(username, client address)`: past the allowance, that username answers 429 from that
//!   address only. Failures naming other usernames, or coming from other addresses, never touch it.
//! - `(username, known device)`: a device that has already logged in as that user is limited by
//!   its own failures only, so the user's phone still gets in when someone else has used up the
//!   allowance of their shared address.
//! - per username and per address, across everything: past ten allowances a minute (a guessing
//!   run from many addresses, or spraying from one), each `(username, address)` pair is allowed
//!   one failure a minute. That slows guessing without refusing the right password from an
//!   address that has not failed for that username.
//!
//! Successful logins cost nothing. A refused login is audited once per key per window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{ApiError, Kind};

const WINDOW: Duration = Duration::from_secs(60);
/// How many allowances of failures a minute mark a username or an address as under attack.
const HOT_FACTOR: usize = 10;

/// One login attempt, as the limits see it.
pub struct Attempt<'a> {
    pub username: &'a str,
    pub addr: Option<&'a str>,
    /// The body's device id, when that device has already logged in as this user.
    pub known_device: Option<&'a str>,
}

impl Attempt<'_> {
    fn user(&self) -> String {
        self.username.to_lowercase()
    }

    fn pair_key(&self) -> String {
        format!("{}\u{0}{}", self.user(), self.addr.unwrap_or("-"))
    }

    fn device_key(&self) -> Option<String> {
        self.known_device.map(|d| format!("{}\u{0}{d}", self.user()))
    }
}

/// A refused attempt: the 429 to answer, and whether it is the first refusal of its key in this
/// window (then it is audited).
pub struct Refusal {
    pub error: ApiError,
    pub first_in_window: bool,
}

pub struct LoginLimits {
    allowance: usize,
    pairs: Window,
    devices: Window,
    users: Window,
    addrs: Window,
    refused: Mutex<HashMap<String, Instant>>,
}

impl LoginLimits {
    pub fn new(per_minute: u32) -> Self {
        let n = per_minute.max(1) as usize;
        let hot = n.saturating_mul(HOT_FACTOR);
        Self {
            allowance: n,
            pairs: Window::new(n),
            devices: Window::new(n),
            users: Window::new(hot),
            addrs: Window::new(hot),
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses the attempt if neither its known device nor its `(username, address)` pair has
    /// failures left.
    pub fn check(&self, attempt: &Attempt) -> Result<(), Refusal> {
        let now = Instant::now();
        let device_wait = attempt.device_key().map(|k| self.devices.blocked_for(&k, self.allowance, now));
        if device_wait.as_ref().is_some_and(Option::is_none) {
            return Ok(());
        }
        let under_attack = self.users.blocked_for(&attempt.user(), self.users.keep, now).is_some()
            || attempt.addr.is_some_and(|a| self.addrs.blocked_for(a, self.addrs.keep, now).is_some());
        let pair_allowance = if under_attack { 1 } else { self.allowance };
        let key = attempt.pair_key();
        let Some(pair_wait) = self.pairs.blocked_for(&key, pair_allowance, now) else {
            return Ok(());
        };
        let wait = device_wait.flatten().map_or(pair_wait, |d| d.min(pair_wait));
        let error = ApiError::new(Kind::TooManyRequests, "rate_limited", "too many failed logins; wait and retry")
            .retry_after(wait.as_secs_f64().ceil().max(1.0) as u64);
        Err(Refusal { error, first_in_window: self.first_refusal(key, now) })
    }

    pub fn failed(&self, attempt: &Attempt) {
        let now = Instant::now();
        self.pairs.record(&attempt.pair_key(), now);
        if let Some(k) = attempt.device_key() {
            self.devices.record(&k, now);
        }
        self.users.record(&attempt.user(), now);
        if let Some(a) = attempt.addr {
            self.addrs.record(a, now);
        }
    }

    fn first_refusal(&self, key: String, now: Instant) -> bool {
        let mut map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&key) {
            Some(t) if now.duration_since(*t) < WINDOW => false,
            _ => {
                map.insert(key, now);
                true
            }
        }
    }

    /// Forgets keys whose failures have all aged out, so memory does not grow with every name tried.
    pub fn shrink(&self) {
        let now = Instant::now();
        for w in [&self.pairs, &self.devices, &self.users, &self.addrs] {
            w.shrink(now);
        }
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, t| now.duration_since(*t) < WINDOW);
    }
}

/// Failure times per key over the last minute, at most `keep` of them.
struct Window {
    keep: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Window {
    fn new(keep: usize) -> Self {
        Self { keep, failures: Mutex::new(HashMap::new()) }
    }

    /// How long until `key` has fewer than `allowance` failures in the window; `None` if it has now.
    fn blocked_for(&self, key: &str, allowance: usize, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.get_mut(key)?;
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        let allowance = allowance.clamp(1, self.keep);
        // The attempt is allowed again once the failure `allowance` places from the newest ages out.
        let opens = q.len().checked_sub(allowance).map(|i| q[i])?;
        Some(WINDOW.saturating_sub(now.duration_since(opens)))
    }

    fn record(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.entry(key.to_owned()).or_default();
        q.push_back(now);
        while q.len() > self.keep {
            q.pop_front();
        }
    }

    fn shrink(&self, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt<'a>(username: &'a str, addr: &'a str, device: Option<&'a str>) -> Attempt<'a> {
        Attempt { username, addr: Some(addr), known_device: device }
    }

    fn fail(limits: &LoginLimits, a: &Attempt, times: usize) {
        for _ in 0..times {
            limits.failed(a);
        }
    }

    #[test]
    fn a_pair_is_blocked_after_its_allowance_only() {
        let limits = LoginLimits::new(2);
        fail(&limits, &attempt("ana", "1.1.1.1", None), 1);
        assert!(limits.check(&attempt("ana", "1.1.1.1", None)).is_ok());
        fail(&limits, &attempt("Ana", "1.1.1.1", None), 1);
        let refusal = limits.check(&attempt("ANA", "1.1.1.1", None)).expect_err("blocked");
        assert_eq!(refusal.error.kind, Kind::TooManyRequests);
        assert!(refusal.error.retry_after_s.is_some_and(|s| (1..=60).contains(&s)));
        assert!(refusal.first_in_window);
        assert!(!limits.check(&attempt("ana", "1.1.1.1", None)).expect_err("still").first_in_window);
        assert!(limits.check(&attempt("ana", "2.2.2.2", None)).is_ok(), "another address");
        assert!(limits.check(&attempt("bob", "1.1.1.1", None)).is_ok(), "another username");
        assert!(limits.check(&attempt("ana", "1.1.1.1", Some("phone"))).is_ok(), "a known device");
        fail(&limits, &attempt("ana", "1.1.1.1", Some("phone")), 2);
        assert!(limits.check(&attempt("ana", "1.1.1.1", Some("phone"))).is_err(), "its own failures count");
    }

    #[test]
    fn under_attack_each_pair_gets_one_failure_but_a_clean_pair_gets_in() {
        let limits = LoginLimits::new(2);
        for i in 0..20 {
            fail(&limits, &attempt("ana", &format!("10.0.0.{i}"), None), 1);
        }
        assert!(limits.check(&attempt("ana", "10.0.0.1", None)).is_err(), "one failure is the allowance now");
        assert!(limits.check(&attempt("ana", "10.0.1.1", None)).is_ok(), "an address that has not failed");
        for i in 0..20 {
            fail(&limits, &attempt(&format!("user{i}"), "9.9.9.9", None), 1);
        }
        assert!(limits.check(&attempt("user3", "9.9.9.9", None)).is_err(), "a spraying address: one each");
        assert!(limits.check(&attempt("bob", "9.9.9.9", None)).is_ok(), "a name it has not tried");
    }
}
