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

use tokio::sync::oneshot;

use crate::db::seq::{Before, Horizon};
use crate::error::ApiError;

/// Where a piece of work's answer goes; the writer's own type of answer is `T` (kept generic so
/// this module needs nothing of the writer's).
pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;
/// A reply with what it is to be sent once the group is on disk.
pub type Answer<T> = (Reply<T>, Result<T, ApiError>);

/// What the thread makes durable, in the order the writer hands it over.
enum Flush<T> {
    /// A committed group: its answers go out once the WAL is on disk.
    Group(Vec<Answer<T>>),
    /// The database file, after a rewind copied the WAL's last frames into it (`rewound`).
    Database,
}

/// Sent once a [`Flush`] is done; the writer's next COMMIT waits for it.
struct Done {
    /// `Err` if the database file could not be synced.
    result: Result<(), String>,
}

pub struct WalSync<T> {
    horizon: Horizon,
    tx: mpsc::Sender<(Flush<T>, mpsc::Sender<Done>)>,
    /// The previous flush, if it may still be running.
    previous: Option<mpsc::Receiver<Done>>,
    /// Set for good once the database file failed to sync: its copy of the WAL may be lost, so
    /// no commit may start the WAL over it (PostgreSQL stops on a failed fsync for the same reason).
    broken: Option<String>,
}

impl<T: Send + 'static> WalSync<T> {
    /// Starts the thread that fsyncs `wal` (the database's `-wal` file) and, after a rewind, the
    /// database file beside it.
    pub fn start(wal: PathBuf, horizon: Horizon) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(Flush<T>, mpsc::Sender<Done>)>();
        let released = horizon.clone();
        let database = PathBuf::from(wal.to_string_lossy().trim_end_matches("-wal"));
        std::thread::Builder::new().name("fieldvisit-walsync".into()).spawn(move || {
            for (flush, done) in rx {
                let started = std::time::Instant::now();
                let what = match flush {
                    Flush::Group(_) => "WAL",
                    Flush::Database => "database file",
                };
                let result = match flush {
                    Flush::Group(answers) => {
                        answer_synced(&wal, answers, &released);
                        Ok(())
                    }
                    Flush::Database => sync_file(&database).map_err(|e| e.to_string()),
                };
                if let Err(e) = &result {
                    tracing::error!(error = %e, "fsync of the database file failed after a WAL rewind; no push is stored until a restart");
                }
                tracing::debug!(ms = started.elapsed().as_millis() as u64, what, "synced");
                let _ = done.send(Done { result });
            }
        })?;
        Ok(Self { horizon, tx, previous: None, broken: None })
    }

    /// Inside the group's transaction, just before its COMMIT: waits for the previous flush (one
    /// in flight is enough to overlap the disk with the CPU), then holds pulls and alert readers
    /// at `before`, the highest numbers handed out before this group. An error (the database file
    /// failed to sync after a rewind) fails the group: its commit would overwrite the WAL.
    pub fn before_commit(&mut self, before: Before) -> Result<(), ApiError> {
        self.wait();
        if let Some(e) = &self.broken {
            return Err(ApiError::internal(anyhow::anyhow!("the database file could not be synced: {e}")));
        }
        self.horizon.hold(before);
        Ok(())
    }

    /// Waits until everything handed over so far is on disk.
    pub fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            let started = std::time::Instant::now();
            self.note(previous.recv().ok());
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "waited for the previous fsync");
        }
    }

    /// Whether the previous flush is still running; one that has finished counts as waited for.
    pub fn syncing(&mut self) -> bool {
        let Some(previous) = &self.previous else { return false };
        let done = match previous.try_recv() {
            Ok(done) => Some(done),
            Err(mpsc::TryRecvError::Empty) => return true,
            Err(mpsc::TryRecvError::Disconnected) => None,
        };
        self.previous = None;
        self.note(done);
        false
    }

    /// Takes in how a flush ended; `None` if the thread is gone (it panicked): what it had not
    /// synced never will be.
    fn note(&mut self, done: Option<Done>) {
        match done {
            Some(Done { result: Ok(()) }) => {}
            Some(Done { result: Err(e) }) => self.broken = Some(e),
            None => self.broken = Some("the WAL sync thread has stopped".into()),
        }
    }

    /// After the group's transaction, committed or not: its answers go out after the next fsync,
    /// which also releases the horizon.
    pub fn answer(&mut self, answers: Vec<Answer<T>>) {
        if let Err(Flush::Group(answers)) = self.send(Flush::Group(answers)) {
            // The thread is gone (it panicked): answer here, unsynced work is not acknowledged.
            self.horizon.release();
            for (reply, _) in answers {
                let _ = reply.send(Err(ApiError::internal(anyhow::anyhow!("the WAL sync thread has stopped"))));
            }
        }
    }

    /// After a rewind that copied the WAL into the database file without syncing it: syncs the
    /// file beside the next group's work. Until it is done no commit may write the WAL again,
    /// since the new frames overwrite the old ones: `before_commit` waits for it.
    pub fn rewound(&mut self) {
        if self.send(Flush::Database).is_err() {
            self.broken = Some("the WAL sync thread has stopped".into());
        }
    }

    fn send(&mut self, flush: Flush<T>) -> Result<(), Flush<T>> {
        let (done, finished) = mpsc::channel();
        match self.tx.send((flush, done)) {
            Ok(()) => {
                self.previous = Some(finished);
                Ok(())
            }
            Err(mpsc::SendError((flush, _))) => Err(flush),
        }
    }
}

/// Opened afresh each time: SQLite may remove and recreate the WAL when the last connection
/// closes, and an fsync through an old descriptor would sync nothing.
fn sync_file(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(path).and_then(|f| f.sync_data())
}

/// Syncs the WAL, releases the horizon and sends the group's answers (errors if the fsync failed).
fn answer_synced<T>(wal: &std::path::Path, answers: Vec<Answer<T>>, horizon: &Horizon) {
    let synced = sync_file(wal);
    horizon.release();
    if let Err(e) = &synced {
        tracing::error!(error = %e, "fsync of the WAL failed; the group's pushes are answered with an error");
    }
    for (reply, answer) in answers {
        let answer = match &synced {
            Ok(()) => answer,
            Err(e) => Err(ApiError::internal(anyhow::anyhow!("fsync of the WAL failed: {e}"))),
        };
        let _ = reply.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the writer would answer; any type does here.
    type Applied = usize;

    fn answer() -> Applied {
        3
    }

    /// Sends one group's answer through `sync` with the horizon held at (7, 3); returns what the
    /// push was answered and the horizon once the answer arrived.
    fn one_group(sync: &mut WalSync<Applied>, horizon: &Horizon) -> (Result<Applied, ApiError>, (i64, i64)) {
        sync.before_commit(Before { seq: 7, alert_id: 3 }).expect("not broken");
        assert_eq!((horizon.seq(), horizon.alert_id()), (7, 3), "held from before the commit");
        let (reply, answered) = oneshot::channel();
        sync.answer(vec![(reply, Ok(answer()))]);
        let got = answered.blocking_recv().expect("answered");
        (got, (horizon.seq(), horizon.alert_id()))
    }

    /// A sync thread on a WAL file `db-wal` in `dir`, with its horizon.
    fn started(dir: &tempfile::TempDir) -> (WalSync<Applied>, Horizon) {
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"frames").expect("a WAL file");
        let horizon = Horizon::new();
        (WalSync::start(wal, horizon.clone()).expect("thread"), horizon)
    }

    #[test]
    fn a_group_is_answered_after_the_fsync_and_the_horizon_released() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut sync, horizon) = started(&dir);
        for _ in 0..3 {
            let (got, after) = one_group(&mut sync, &horizon);
            assert_eq!(got.expect("synced"), answer());
            assert_eq!(after, (i64::MAX, i64::MAX));
        }
    }

    /// Polls `syncing` until the flush handed over is done (at most 10 s).
    fn until_synced(sync: &mut WalSync<Applied>) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sync.syncing() {
            assert!(std::time::Instant::now() < until, "the flush never finished");
            std::thread::yield_now();
        }
    }

    #[test]
    fn syncing_tells_a_flush_under_way_from_one_done_and_keeps_a_failure() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut sync, _horizon) = started(&dir);
        std::fs::write(dir.path().join("db"), b"pages").expect("a database file");
        assert!(!sync.syncing(), "nothing handed over yet");
        sync.rewound();
        until_synced(&mut sync);
        assert!(!sync.syncing());

        // The database file is gone: its flush fails, and the next commit is refused.
        std::fs::remove_file(dir.path().join("db")).expect("gone");
        sync.rewound();
        until_synced(&mut sync);
        let err =
            sync.before_commit(Before { seq: 7, alert_id: 3 }).expect_err("a failed flush seen by syncing counts");
        assert_eq!(err.code, "internal_error");
    }

    #[test]
    fn a_failed_fsync_answers_an_error_not_the_stored_answer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let horizon = Horizon::new();
        let mut sync = WalSync::<Applied>::start(dir.path().join("missing-wal"), horizon.clone()).expect("thread");
        let (got, after) = one_group(&mut sync, &horizon);
        let err = got.expect_err("not acknowledged");
        assert_eq!(err.code, "internal_error");
        assert_eq!(after, (i64::MAX, i64::MAX), "released, so pulls are not stuck");
    }

    #[test]
    fn after_a_rewind_the_next_commit_waits_for_the_database_file_and_fails_if_it_cannot_be_synced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (mut sync, horizon) = started(&dir);
        std::fs::write(dir.path().join("db"), b"pages").expect("a database file");
        sync.rewound();
        let (got, _) = one_group(&mut sync, &horizon);
        assert_eq!(got.expect("synced"), answer());

        std::fs::remove_file(dir.path().join("db")).expect("gone");
        sync.rewound();
        for _ in 0..2 {
            let err =
                sync.before_commit(Before { seq: 7, alert_id: 3 }).expect_err("the old WAL must not be overwritten");
            assert_eq!(err.code, "internal_error");
            assert_eq!(horizon.seq(), i64::MAX, "nothing held for a commit that does not happen");
        }
    }
}
