//! Login throttling: failed logins are counted per username and per client address over a sliding
//! minute; past the allowance, every attempt answers 429 with Retry-After until the oldest failure
//! ages out. Successful logins cost nothing (a whole county office may share one address, so
//! addresses get ten times the allowance of a username).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{ApiError, Kind};

const WINDOW: Duration = Duration::from_secs(60);

pub struct LoginLimits {
    per_user: Window,
    per_addr: Window,
}

impl LoginLimits {
    pub fn new(per_minute: u32) -> Self {
        let n = per_minute.max(1) as usize;
        Self { per_user: Window::new(n), per_addr: Window::new(n.saturating_mul(10)) }
    }

    /// 429 if this username or address has used up its failures for now.
    pub fn check(&self, username: &str, addr: Option<&str>) -> Result<(), ApiError> {
        let now = Instant::now();
        let wait = self
            .per_user
            .blocked_for(&username.to_lowercase(), now)
            .or_else(|| addr.and_then(|a| self.per_addr.blocked_for(a, now)));
        match wait {
            None => Ok(()),
            Some(w) => {
                Err(ApiError::new(Kind::TooManyRequests, "rate_limited", "too many failed logins; wait and retry")
                    .retry_after(w.as_secs_f64().ceil().max(1.0) as u64))
            }
        }
    }

    pub fn failed(&self, username: &str, addr: Option<&str>) {
        let now = Instant::now();
        self.per_user.record(&username.to_lowercase(), now);
        if let Some(a) = addr {
            self.per_addr.record(a, now);
        }
    }

    /// Forgets keys whose failures have all aged out, so memory does not grow with every name tried.
    pub fn shrink(&self) {
        let now = Instant::now();
        self.per_user.shrink(now);
        self.per_addr.shrink(now);
    }
}

struct Window {
    allowance: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Window {
    fn new(allowance: usize) -> Self {
        Self { allowance, failures: Mutex::new(HashMap::new()) }
    }

    fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.get_mut(key)?;
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        (q.len() >= self.allowance).then(|| q.front().map_or(WINDOW, |t| WINDOW - now.duration_since(*t)))
    }

    fn record(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.entry(key.to_owned()).or_default();
        q.push_back(now);
        while q.len() > self.allowance {
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

    #[test]
    fn blocks_after_allowance_of_failures_only() {
        let limits = LoginLimits::new(2);
        assert!(limits.check("ana", Some("1.1.1.1")).is_ok());
        limits.failed("ana", Some("1.1.1.1"));
        assert!(limits.check("ana", Some("1.1.1.1")).is_ok());
        limits.failed("Ana", Some("1.1.1.1"));
        let err = limits.check("ANA", Some("2.2.2.2")).expect_err("blocked by name, any address");
        assert_eq!(err.kind, Kind::TooManyRequests);
        assert!(err.retry_after_s.is_some_and(|s| (1..=60).contains(&s)));
        assert!(limits.check("bob", Some("1.1.1.1")).is_ok(), "address allowance is ten times larger");
    }
}
