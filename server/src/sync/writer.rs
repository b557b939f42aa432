//! Group commit: one thread owns the write path for pushes. It takes the first queued push, drains
//! whatever else is queued (up to [`GROUP_RECORDS`]), applies them all in ONE transaction, each in
//! its own savepoint, commits once, and only then answers every push. Under load many pushes share
//! one fsync; with a single push waiting it is one transaction as usual. SQLite has a single
//! writer anyway, and on PostgreSQL the change-sequence row lock serializes writers regardless.

use diesel::Connection;
use fieldvisit_sync_protocol::sync::push::PushResponse;
use tokio::sync::{mpsc, oneshot};

use super::apply::{self, Job};
use crate::db::seq::SeqAlloc;
use crate::db::{self, policies, DbPool};
use crate::error::ApiError;

/// Records per shared transaction: big enough to amortise the commit, small enough to keep the
/// first push's latency low.
pub const GROUP_RECORDS: usize = 4000;
const QUEUE: usize = 1024;

struct Pending {
    job: Job,
    reply: oneshot::Sender<Result<PushResponse, ApiError>>,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Pending>,
}

impl Writer {
    pub fn start(pool: DbPool) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new().name("fieldvisit-writer".into()).spawn(move || run(&pool, rx))?;
        Ok(Self { tx })
    }

    /// Queues `job` and waits until its transaction has committed (or failed).
    pub async fn submit(&self, job: Job) -> Result<PushResponse, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { job, reply })
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("the writer has stopped")))?;
        answer.await.map_err(|_| ApiError::internal(anyhow::anyhow!("the writer dropped a push")))?
    }
}

fn run(pool: &DbPool, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.blocking_recv() {
        let mut records = first.job.record_count();
        let mut group = vec![first];
        while records < GROUP_RECORDS {
            match rx.try_recv() {
                Ok(p) => {
                    records += p.job.record_count();
                    group.push(p);
                }
                Err(_) => break,
            }
        }
        let (jobs, replies): (Vec<Job>, Vec<_>) = group.into_iter().map(|p| (p.job, p.reply)).unzip();
        let started = std::time::Instant::now();
        let results = commit_group(pool, &jobs);
        tracing::debug!(pushes = jobs.len(), records, ms = started.elapsed().as_millis() as u64, "group committed");
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

fn commit_group(pool: &DbPool, jobs: &[Job]) -> Vec<Result<PushResponse, ApiError>> {
    let fail_all = |e: ApiError| {
        let (kind, code, message, retry) = (e.kind, e.code.clone(), e.message.clone(), e.retry_after_s);
        jobs.iter()
            .map(|_| {
                let mut err = ApiError::new(kind, code.clone(), message.clone());
                err.retry_after_s = retry;
                Err(err)
            })
            .collect()
    };
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => return fail_all(ApiError::database_unavailable(e)),
    };
    let policies = match policies::load(&mut conn) {
        Ok(p) => p,
        Err(e) => return fail_all(e.into()),
    };
    let mut results = Vec::with_capacity(jobs.len());
    let committed = db::transaction(&mut conn, |conn| {
        let mut seq = SeqAlloc::new();
        for job in jobs {
            let result = conn.transaction(|c| apply::apply(c, job, &policies, &mut seq));
            if result.is_err() {
                // Numbers taken inside the rolled-back savepoint were given back to the counter.
                seq = SeqAlloc::new();
            }
            results.push(result);
        }
        Ok(())
    });
    match committed {
        Ok(()) => results,
        Err(e) => fail_all(e),
    }
}
