//! The server's clock. Tests shift it forward to watch deadlines pass without sleeping hours.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use fieldvisit_sync_protocol::time::Millis;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    shift_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Millis {
        chrono::Utc::now().timestamp_millis() + self.shift_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.shift_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
