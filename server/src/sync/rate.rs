//! Per-device rates of pushes and photo uploads: a GCRA bucket per device id (`governor`), so a
//! phone flushing days offline passes at once while a flood from one device gets 429 with
//! `Retry-After`. Each bucket holds five minutes' worth of its rate: a day offline (about 40
//! visits, their households, tickets and events, and 40 photos) uses well under a fifth of it
//! even when every record goes in a push of its own.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{ApiError, Kind};

/// How many minutes of its rate a bucket holds.
const BURST_MINUTES: u32 = 5;
/// Forget devices idle long enough to have a full bucket again, every this many checks.
const TIDY_EVERY: u64 = 4096;

/// One rate: a bucket per device, or none when the rate is 0 (off).
struct DeviceRate {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
    what: &'static str,
}

impl DeviceRate {
    fn new(per_minute: u32, what: &'static str) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::new(BURST_MINUTES).unwrap_or(NonZeroU32::MIN));
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        DeviceRate { limiter, checks: AtomicU64::new(0), what }
    }

    /// Takes one from `device`'s bucket, or 429 `rate_limited` with the seconds until one is back.
    fn take(&self, device: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % TIDY_EVERY == TIDY_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter.check_key(&device.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let message = format!("too many {} from this device; retry after the given seconds", self.what);
            ApiError::new(Kind::TooManyRequests, "rate_limited", message)
                .retry_after(wait.as_secs_f64().ceil().max(1.0) as u64)
        })
    }
}

/// The push and upload rates of every device.
pub struct DeviceRates {
    pushes: DeviceRate,
    uploads: DeviceRate,
}

impl DeviceRates {
    /// Rates per device per minute; 0 turns one off.
    pub fn new(pushes_per_minute: u32, uploads_per_minute: u32) -> Self {
        DeviceRates {
            pushes: DeviceRate::new(pushes_per_minute, "pushes"),
            uploads: DeviceRate::new(uploads_per_minute, "photo uploads"),
        }
    }

    pub fn push(&self, device: &str) -> Result<(), ApiError> {
        self.pushes.take(device)
    }

    pub fn upload(&self, device: &str) -> Result<(), ApiError> {
        self.uploads.take(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_five_minutes_then_answers_429_with_retry_after() {
        let rates = DeviceRates::new(2, 0);
        for _ in 0..10 {
            assert!(rates.push("phone").is_ok());
        }
        let refused = rates.push("phone").expect_err("the eleventh push");
        assert_eq!((&*refused.code, refused.retry_after_s), ("rate_limited", Some(30)));
        assert!(rates.push("another phone").is_ok(), "buckets are per device");
        assert!((0..1000).all(|_| rates.upload("phone").is_ok()), "0 is off");
    }
}
