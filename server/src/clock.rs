//! The server's clock. Tests shift it forward to watch deadlines pass without sleeping hours.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

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
