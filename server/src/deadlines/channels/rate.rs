//! The robots' rate limits, per channel and per instance: WeCom and DingTalk take 20 messages a
//! minute per robot (DingTalk then mutes the robot for 10 minutes), Feishu 100 a minute and 5 a
//! second. A sliding log of send times is exact for "N in any window" (a token bucket would let
//! a full bucket plus its refill through within one window); at most 100 instants per channel.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// At most `count` sends in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: usize,
    pub window: Duration,
}

/// Sends of one channel, newest last, kept as long as the widest window.
#[derive(Debug, Default)]
struct Log(VecDeque<Instant>);

impl Log {
    /// Takes a slot at `now` if every limit has one; else how long until one frees.
    fn take(&mut self, limits: &[Limit], now: Instant) -> Result<(), Duration> {
        let widest = limits.iter().map(|l| l.window).max().unwrap_or_default();
        while self.0.front().is_some_and(|&t| now.duration_since(t) >= widest) {
            self.0.pop_front();
        }
        let mut wait = Duration::ZERO;
        for l in limits {
            let inside: Vec<&Instant> = self.0.iter().filter(|&&t| now.duration_since(t) < l.window).collect();
            if inside.len() >= l.count {
                // The slot frees when the oldest send that still counts leaves the window.
                let oldest = inside[inside.len() - l.count];
                wait = wait.max(l.window - now.duration_since(*oldest));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        self.0.push_back(now);
        Ok(())
    }
}

static LOGS: LazyLock<Mutex<HashMap<String, Log>>> = LazyLock::new(Default::default);

/// Takes a send slot for `channel_id` now, or says how long to wait for one.
pub fn take(channel_id: &str, limits: &[Limit]) -> Result<(), Duration> {
    if limits.is_empty() {
        return Ok(());
    }
    let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    logs.entry(channel_id.to_owned()).or_default().take(limits, Instant::now())
}

/// Forgets a deleted channel.
pub fn forget(channel_id: &str) {
    LOGS.lock().unwrap_or_else(|e| e.into_inner()).remove(channel_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn twenty_a_minute_in_any_window() {
        let limits = [Limit { count: 20, window: MIN }];
        let mut log = Log::default();
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(log.take(&limits, t0 + Duration::from_secs(i)), Ok(()), "send {i}");
        }
        // The 21st waits until the first leaves the minute: 60 s after t0.
        assert_eq!(log.take(&limits, t0 + Duration::from_secs(30)), Err(Duration::from_secs(30)));
        assert_eq!(log.take(&limits, t0 + MIN), Ok(()));
        assert_eq!(log.take(&limits, t0 + MIN), Err(Duration::from_secs(1)));
    }

    #[test]
    fn feishu_five_a_second_and_a_hundred_a_minute() {
        let limits = [Limit { count: 5, window: Duration::from_secs(1) }, Limit { count: 100, window: MIN }];
        let mut log = Log::default();
        let t0 = Instant::now();
        let mut sent = 0;
        let mut t = t0;
        while t < t0 + MIN {
            if log.take(&limits, t).is_ok() {
                sent += 1;
            }
            t += Duration::from_millis(50);
        }
        assert_eq!(sent, 100, "100 in the first minute, whatever the pace");
        let mut per_second = HashMap::new();
        for s in &log.0 {
            *per_second.entry(s.duration_since(t0).as_secs()).or_insert(0) += 1;
        }
        assert!(per_second.values().all(|&n| n <= 5), "{per_second:?}");
    }
}
