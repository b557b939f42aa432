//! The server's clock (tests shift it forward to watch deadlines pass without sleeping hours),
//! and days in a county's time zone.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::TimeZone;
use fieldvisit_sync_protocol::time::Millis;
use tokio::sync::Notify;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    shift_ms: Arc<AtomicI64>,
    /// Wakes the deadline tracker when the clock jumps: it sleeps until a computed instant, which
    /// a jump moves.
    jumped: Arc<Notify>,
}

impl Clock {
    pub fn now(&self) -> Millis {
        chrono::Utc::now().timestamp_millis() + self.shift_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.shift_ms.fetch_add(ms, Ordering::Relaxed);
        // `notify_one` keeps a permit, so a jump during the tracker's sweep is not missed.
        self.jumped.notify_one();
    }

    /// Resolves after the next `advance` (or at once if one happened since the last wait). One
    /// waiter at a time: the tracker.
    pub async fn jumped(&self) {
        self.jumped.notified().await;
    }
}

/// The local day of `at_ms` in `timezone` (an IANA name; Asia/Shanghai if unknown), as days since
/// 1970-01-01: the tallies' day.
pub fn local_day(at_ms: i64, timezone: &str) -> i32 {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let date = match chrono::Utc.timestamp_millis_opt(at_ms).single() {
        Some(t) => t.with_timezone(&tz).date_naive(),
        None => return 0,
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((date - epoch).num_days()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_turn_at_local_midnight() {
        // 2026-12-04T16:00Z is midnight of the 5th in Shanghai.
        let midnight = 1_796_400_000_000;
        assert_eq!(local_day(midnight, "Asia/Shanghai") - local_day(midnight - 1, "Asia/Shanghai"), 1);
        assert_eq!(local_day(0, "UTC"), 0);
    }
}
