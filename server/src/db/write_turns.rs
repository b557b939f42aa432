//! Turns at SQLite's one write lock between the push writer and the pooled connections.
//!
//! SQLite queues nobody for its write lock: a connection that finds it taken sleeps and tries
//! again (`busy_timeout`), up to 100 ms apart. Under a push load the writer commits group after
//! group and takes the lock again within microseconds, so a pooled write (a login's session, the
//! first use of a refreshed access token, a desk's edit) could miss every gap and fail after
//! 10 s with `database is locked`; measured: about one such 503 in two 20 s benchmark runs.
//! Pooled writes say they are waiting ([`waiting_writer`]); before each group the writer gives
//! way ([`give_way`]) until they are done, for a bounded time.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::DbConn;

static WAITING: Mutex<usize> = Mutex::new(0);
static DONE: Condvar = Condvar::new();

/// Counts a pooled write as waiting for (or holding) the lock until it is dropped.
pub struct WaitingWriter(());

/// Counts a write on `conn` as waiting, on SQLite; PostgreSQL queues row locks itself.
pub fn waiting_writer(conn: &DbConn) -> Option<WaitingWriter> {
    matches!(conn, DbConn::Sqlite(_)).then(register)
}

fn register() -> WaitingWriter {
    *WAITING.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    WaitingWriter(())
}

impl Drop for WaitingWriter {
    fn drop(&mut self) {
        let mut n = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
        *n = n.saturating_sub(1);
        if *n == 0 {
            DONE.notify_all();
        }
    }
}

/// Before a write on `conn` (the push writer's group), waits until no pooled write is waiting, or
/// `at_most` has passed (a long import must not stop the pushes; the lock itself then decides).
/// Only on SQLite, as [`waiting_writer`].
pub fn give_way(conn: &DbConn, at_most: Duration) {
    if matches!(conn, DbConn::Sqlite(_)) {
        wait_for_waiting(at_most);
    }
}

/// Returns whether there was a write to wait for.
fn wait_for_waiting(at_most: Duration) -> bool {
    let started = Instant::now();
    let mut n = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
    let waited = *n > 0;
    while *n > 0 {
        let Some(left) = at_most.checked_sub(started.elapsed()) else { break };
        n = DONE.wait_timeout(n, left).unwrap_or_else(PoisonError::into_inner).0;
    }
    waited
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_waits_for_a_waiting_write_and_no_longer_than_it_may() {
        let pooled = register();
        let started = Instant::now();
        let writer = std::thread::spawn(move || (wait_for_waiting(Duration::from_secs(5)), started.elapsed()));
        std::thread::sleep(Duration::from_millis(100));
        drop(pooled);
        let (waited, took) = writer.join().expect("writer thread");
        assert!(waited);
        assert!(took >= Duration::from_millis(100), "went ahead of the waiting write after {took:?}");
        assert!(took < Duration::from_secs(5), "kept waiting after the write was done");

        let _stuck = register();
        let started = Instant::now();
        assert!(wait_for_waiting(Duration::from_millis(50)));
        assert!(started.elapsed() < Duration::from_secs(1), "waited past its bound");
    }
}
