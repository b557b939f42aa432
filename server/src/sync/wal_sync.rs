//! On SQLite the push writer commits without waiting for the disk (`synchronous = NORMAL` on its
//! connection only) and this thread makes the commit durable instead: it fsyncs the WAL, and only
//! then answers the group's pushes. Meanwhile the writer applies the next group, so the disk's
//! flush and the writer's CPU overlap instead of taking turns; an answered push is still on disk.
//!
//! Why this is as durable as `synchronous = FULL`: the WAL is only ever appended to between
//! rewinds, and recovery keeps every commit up to the first frame that is missing or torn. Once
//! the fsync returns, this group's frames and all before them are on disk. Every other connection
//! keeps FULL, so a commit of theirs (an alert, an import) also syncs the frames before it.
//!
//! What is not durable yet is visible to readers for the length of one fsync. For a screen that
//! is harmless; a cursor, though (a pull's, or an alert list's and SSE stream's), must not move
//! past numbers a power cut could take back, so the writer holds the [`Horizon`] below its group
//! until the fsync is done.

use std::path::PathBuf;
use std::sync::mpsc;

use fieldvisit_sync_protocol::sync::push::PushResponse;
use tokio::sync::oneshot;

use crate::db::seq::{Before, Horizon};
use crate::error::ApiError;

pub type Reply = oneshot::Sender<Result<PushResponse, ApiError>>;

/// One committed group: its answers, sent once the WAL is on disk.
struct Committed {
    answers: Vec<(Reply, Result<PushResponse, ApiError>)>,
    /// Dropped once the fsync is done and the horizon released.
    done: mpsc::Sender<()>,
}

pub struct WalSync {
    horizon: Horizon,
    tx: mpsc::Sender<Committed>,
    /// The previous group's fsync, if it may still be running.
    previous: Option<mpsc::Receiver<()>>,
}

impl WalSync {
    /// Starts the thread that fsyncs `wal` (the database's `-wal` file).
    pub fn start(wal: PathBuf, horizon: Horizon) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Committed>();
        let released = horizon.clone();
        std::thread::Builder::new().name("fieldvisit-walsync".into()).spawn(move || {
            for group in rx {
                // Opened afresh each time: SQLite may remove and recreate the file when the last
                // connection closes, and an fsync through an old descriptor would sync nothing.
                let started = std::time::Instant::now();
                let synced = std::fs::File::open(&wal).and_then(|f| f.sync_data());
                released.release();
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "WAL synced");
                if let Err(e) = &synced {
                    tracing::error!(error = %e, "fsync of the WAL failed; the group's pushes are answered with an error");
                }
                for (reply, answer) in group.answers {
                    let answer = match &synced {
                        Ok(()) => answer,
                        Err(e) => Err(ApiError::internal(anyhow::anyhow!("fsync of the WAL failed: {e}"))),
                    };
                    let _ = reply.send(answer);
                }
                drop(group.done);
            }
        })?;
        Ok(Self { horizon, tx, previous: None })
    }

    /// Inside the group's transaction, just before its COMMIT: waits for the previous group's
    /// fsync (one group in flight is enough to overlap the disk with the CPU), then holds pulls
    /// and alert readers at `before`, the highest numbers handed out before this group.
    pub fn before_commit(&mut self, before: Before) {
        if let Some(previous) = self.previous.take() {
            let started = std::time::Instant::now();
            // Answers with Err(Disconnected) once the thread has dropped `done`.
            let _ = previous.recv();
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "waited for the previous group's fsync");
        }
        self.horizon.hold(before);
    }

    /// After the group's transaction, committed or not: its answers go out after the next fsync,
    /// which also releases the horizon.
    pub fn answer(&mut self, answers: Vec<(Reply, Result<PushResponse, ApiError>)>) {
        let (done, finished) = mpsc::channel();
        match self.tx.send(Committed { answers, done }) {
            Ok(()) => self.previous = Some(finished),
            // The thread is gone (it panicked): answer here, unsynced work is not acknowledged.
            Err(mpsc::SendError(group)) => {
                self.horizon.release();
                for (reply, _) in group.answers {
                    let _ = reply.send(Err(ApiError::internal(anyhow::anyhow!("the WAL sync thread has stopped"))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> PushResponse {
        PushResponse::new(uuid::Uuid::nil(), 0, 0, Vec::new())
    }

    /// Sends one group's answer through `sync` with the horizon held at (7, 3); returns what the
    /// push was answered and the horizon once the answer arrived.
    fn one_group(sync: &mut WalSync, horizon: &Horizon) -> (Result<PushResponse, ApiError>, (i64, i64)) {
        sync.before_commit(Before { seq: 7, alert_id: 3 });
        assert_eq!((horizon.seq(), horizon.alert_id()), (7, 3), "held from before the commit");
        let (reply, answered) = oneshot::channel();
        sync.answer(vec![(reply, Ok(answer()))]);
        let got = answered.blocking_recv().expect("answered");
        (got, (horizon.seq(), horizon.alert_id()))
    }

    #[test]
    fn a_group_is_answered_after_the_fsync_and_the_horizon_released() {
        let dir = tempfile::tempdir().expect("temp dir");
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"frames").expect("a WAL file");
        let horizon = Horizon::new();
        let mut sync = WalSync::start(wal, horizon.clone()).expect("thread");
        for _ in 0..3 {
            let (got, after) = one_group(&mut sync, &horizon);
            assert_eq!(got.expect("synced"), answer());
            assert_eq!(after, (i64::MAX, i64::MAX));
        }
    }

    #[test]
    fn a_failed_fsync_answers_an_error_not_the_stored_answer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let horizon = Horizon::new();
        let mut sync = WalSync::start(dir.path().join("missing-wal"), horizon.clone()).expect("thread");
        let (got, after) = one_group(&mut sync, &horizon);
        let err = got.expect_err("not acknowledged");
        assert_eq!(err.code, "internal_error");
        assert_eq!(after, (i64::MAX, i64::MAX), "released, so pulls are not stuck");
    }
}
