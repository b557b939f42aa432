//! Group commit: one thread owns the write path for pushes and the deadline tracker's sweeps. It
//! takes the first queued piece of work, drains whatever else is queued (up to [`GROUP_RECORDS`]),
//! applies them all in ONE transaction (again with a savepoint each if one of them fails), commits
//! once, and answers each once the commit is on disk (on SQLite after `wal_sync`'s fsync). Under
//! load many pushes share one fsync; with a single push waiting it is one transaction as usual.
//! SQLite has a single writer anyway, and on PostgreSQL the change-sequence row lock serializes
//! writers regardless.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use diesel::sql_types::{Integer, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use fieldvisit_sync_protocol::sync::push::PushResponse;
use fieldvisit_sync_protocol::time::Millis;
use tokio::sync::{mpsc, oneshot};

use super::apply::{self, Job};
use super::wal_sync;
use crate::db::seq::{self, Before, Horizon, SeqAlloc};
use crate::db::{self, alerts, policies, Backend, DbConn, DbPool};
use crate::error::ApiError;

/// Records per shared transaction: big enough to amortise the commit, small enough to keep the
/// first push's latency low. A push that arrives while a group runs waits for it and then for its
/// own: at 4,000 the bursts at a shift end made 150 ms groups and a p99 of about 310 ms; at 2,000
/// the throughput is the same (groups average about 1,100 records) and the p99 250–290 ms.
pub const GROUP_RECORDS: usize = 2000;
/// While the disk still syncs the previous group (or, after a rewind, the database file), the
/// group takes in further work from the queue, up to this many records: the writer works instead
/// of waiting, and what it took in is answered with this group instead of after the next one.
const GROUP_RECORDS_WHILE_SYNCING: usize = 4000;
const QUEUE: usize = 1024;

/// What the writer applies in its shared transactions.
pub enum Work {
    /// Shared with the pusher, who frees it: its parsed records are thousands of small
    /// allocations, which took 3 % of the writer's time to free.
    Push(Arc<Job>),
    /// One batch of the deadline tracker's sweep at this time (`tracker::sweep_batch`). Through
    /// the writer, the tracker's few writes share a group's commit instead of taking SQLite's
    /// write lock between groups, where the writer waited for them in the busy handler's sleeps.
    Sweep(Millis),
    /// The day-end alerts due at this time (`day_end::fire`), through the writer for the same reason.
    DayEnd(Millis, Vec<crate::deadlines::day_end::Done>),
}

impl Work {
    fn record_count(&self) -> usize {
        match self {
            Work::Push(job) => job.record_count(),
            Work::Sweep(_) | Work::DayEnd(..) => 0,
        }
    }
}

type WalSync = wal_sync::WalSync<Applied>;
type Reply = wal_sync::Reply<Applied>;
type Answer = wal_sync::Answer<Applied>;

/// What a piece of [`Work`] came to.
#[derive(Debug, PartialEq)]
pub enum Applied {
    Push(PushResponse),
    /// Tickets swept.
    Swept(usize),
    DayEnd(crate::deadlines::day_end::Outcome),
}

struct Pending {
    work: Work,
    reply: Reply,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Pending>,
    fallbacks: Arc<AtomicU64>,
    horizon: Horizon,
    wal: Arc<Wal>,
}

impl Writer {
    /// `rewind_mib`: the WAL size at which the writer starts it over (see [`Wal::rewind_frames`]).
    pub fn start(pool: DbPool, backend: Backend, rewind_mib: u32) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        // The checkpointer stops when the writer does: the writer holds `alive` until it ends.
        let (alive, stopped) = std::sync::mpsc::channel::<()>();
        let wal = Arc::new(Wal::rewinding_at(rewind_mib));
        let fallbacks = Arc::new(AtomicU64::new(0));
        let horizon = Horizon::new();
        let mut sync = None;
        if backend == Backend::Sqlite {
            if let Some(file) = wal_file(&pool) {
                sync = Some(WalSync::start(file, horizon.clone())?);
            }
            let (pool, wal) = (pool.clone(), wal.clone());
            std::thread::Builder::new()
                .name("fieldvisit-checkpoint".into())
                .spawn(move || checkpoints(&pool, &wal, &stopped))?;
        }
        let (counted, shared) = (fallbacks.clone(), wal.clone());
        std::thread::Builder::new().name("fieldvisit-writer".into()).spawn(move || {
            run(&pool, &shared, &counted, sync, rx);
            drop(alive);
        })?;
        Ok(Self { tx, fallbacks, horizon, wal })
    }

    /// The highest change number a pull, and alert id a reader of alerts, may serve now (see
    /// `wal_sync`).
    pub fn horizon(&self) -> &Horizon {
        &self.horizon
    }

    /// Shared commits that a failing push made the writer apply again, push by push.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Times the writer started the SQLite WAL over.
    pub fn rewinds(&self) -> u64 {
        self.wal.rewinds.load(Ordering::Relaxed)
    }

    /// Queues `job` and waits until its transaction has committed (or failed).
    pub async fn submit(&self, job: Job) -> Result<PushResponse, ApiError> {
        let job = Arc::new(job);
        let answer = self.queue(Work::Push(job.clone())).await;
        // The writer let go of its share when it committed, before this answer came (after the
        // fsync): the last share, and the freeing, are this thread's.
        drop(job);
        match answer? {
            Applied::Push(answer) => Ok(answer),
            Applied::Swept(_) | Applied::DayEnd(_) => {
                Err(ApiError::internal(anyhow::anyhow!("the writer answered a push with a sweep")))
            }
        }
    }

    /// Fires the alerts due at `now` for up to `tracker::BATCH` tickets, in the next group's
    /// commit; returns how many tickets it took.
    pub async fn sweep(&self, now: Millis) -> Result<usize, ApiError> {
        match self.queue(Work::Sweep(now)).await? {
            Applied::Swept(n) => Ok(n),
            _ => Err(ApiError::internal(anyhow::anyhow!("the writer answered a sweep with other work"))),
        }
    }

    /// Fires the day-end alerts due at `now` (but not those of the county days in `done`) in the
    /// next group's commit.
    pub async fn day_end(
        &self,
        now: Millis,
        done: Vec<crate::deadlines::day_end::Done>,
    ) -> Result<crate::deadlines::day_end::Outcome, ApiError> {
        match self.queue(Work::DayEnd(now, done)).await? {
            Applied::DayEnd(outcome) => Ok(outcome),
            _ => Err(ApiError::internal(anyhow::anyhow!("the writer answered a day end with other work"))),
        }
    }

    async fn queue(&self, work: Work) -> Result<Applied, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { work, reply })
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("the writer has stopped")))?;
        answer.await.map_err(|_| ApiError::internal(anyhow::anyhow!("the writer dropped its work")))?
    }
}

/// The database's `-wal` file; `None` for a database without one (in memory).
fn wal_file(pool: &DbPool) -> Option<std::path::PathBuf> {
    #[derive(QueryableByName)]
    struct Main {
        #[diesel(sql_type = Text)]
        file: String,
    }
    let mut conn = pool.get().ok()?;
    let DbConn::Sqlite(c) = &mut *conn else { return None };
    let main = diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'").get_result::<Main>(c);
    main.ok().filter(|m| !m.file.is_empty()).map(|m| format!("{}-wal", m.file).into())
}

fn run(pool: &DbPool, wal: &Wal, fallbacks: &AtomicU64, mut sync: Option<WalSync>, mut rx: mpsc::Receiver<Pending>) {
    // The writer keeps one connection while it works, so its page cache stays warm across
    // groups; a broken one is dropped and a fresh one taken for the next group.
    let mut held: Option<WriterConn> = None;
    while let Some(first) = rx.blocking_recv() {
        let mut group = Group::default();
        group.take(first);
        while group.records < GROUP_RECORDS {
            let Ok(p) = rx.try_recv() else { break };
            group.take(p);
        }
        let started = std::time::Instant::now();
        let results = commit_group(pool, &mut held, &mut group, &mut rx, fallbacks, &mut sync, wal);
        let Group { work, replies, records } = group;
        tracing::debug!(pushes = work.len(), records, ms = started.elapsed().as_millis() as u64, "group committed");
        drop(work); // before the answers, so that the pushers hold the last shares (`Work::Push`)
        let answers = replies.into_iter().zip(results).collect::<Vec<Answer>>();
        match sync.as_mut() {
            Some(sync) => sync.answer(answers),
            None => answers.into_iter().for_each(|(reply, result)| drop(reply.send(result))),
        }
        // One try per checkpointer report, so a rewind that a reader holds up costs the writer
        // one checkpoint per report, not one per group.
        if wal.frames.swap(0, Ordering::Relaxed) > wal.rewind_frames
            && held.as_mut().is_some_and(|conn| !restart_wal(conn, wal, &mut sync))
        {
            held = None;
        }
    }
}

/// The work of one shared transaction and whom to answer.
#[derive(Default)]
struct Group {
    work: Vec<Work>,
    replies: Vec<Reply>,
    records: usize,
}

impl Group {
    /// Adds `p`; returns its work.
    fn take(&mut self, p: Pending) -> &Work {
        self.records += p.work.record_count();
        self.replies.push(p.reply);
        self.work.push(p.work);
        &self.work[self.work.len() - 1]
    }
}

/// The writer's connection: a pooled one with the writer's own pragmas, which are undone before
/// the pool can hand it to anyone else (when the writer lets go of it after an error, or at the
/// end); above all `synchronous`, or another caller's commit would not wait for the disk.
struct WriterConn(r2d2::PooledConnection<crate::db::pool::Manager>);

/// Checkpoints happen beside the writer (see `checkpoints`), never inside a push's commit. A group
/// touches thousands of pages: the writer alone gets a large page cache, so they neither spill to
/// the WAL before the commit nor are read from the file again; no spill at all, since a rewind
/// relies on no frame being written before the COMMIT (`restart_wal`).
const WRITER_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -32768; PRAGMA cache_spill = OFF;";

/// PostgreSQL: the pool's custom plans (`db::pool::PG_SETTINGS`) also apply to the foreign-key
/// checks, one saved SPI query per inserted row, so each row's check was planned anew: 12 % of
/// the writer's backend time, and every other statement planned at each call (plans = calls in
/// `pg_stat_statements`). The writer goes back to PostgreSQL's default, a generic plan after five
/// runs. What custom plans were for, a young table's sequential scan cached for good, cannot
/// happen here: every statement the writer runs finds its rows by key, so it may not scan. A scan
/// it cannot avoid (a three-row table without an index) then costs 10^10 in the planner's units,
/// far above `jit_above_cost`: without `jit = off` each one was compiled, 55 ms a group.
const WRITER_PG_SETTINGS: &str = "SET plan_cache_mode = auto; SET enable_seqscan = off; SET jit = off";

/// SQLite's defaults for what [`WRITER_PRAGMAS`] and `synchronous = NORMAL` change; the pool's own
/// settings (`db::pool::SQLITE_PRAGMAS`) are applied again after them.
const SQLITE_DEFAULTS: &str = "PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -2000; \
     PRAGMA cache_spill = ON; PRAGMA journal_size_limit = -1";

impl WriterConn {
    /// A connection from the pool, set up for the writer. With the WAL's fsync on a thread of its
    /// own (`wal_sync`), commits do not wait for the disk: `wal_sync` relies on that pragma, so
    /// its failure is an error.
    fn open(pool: &DbPool, sync: &Option<WalSync>, wal: &Wal) -> Result<Self, ApiError> {
        let mut conn = Self(pool.get().map_err(ApiError::database_unavailable)?);
        if let DbConn::Sqlite(c) = &mut *conn {
            use diesel::connection::SimpleConnection;
            let _ = c.batch_execute(WRITER_PRAGMAS);
            // A WAL that a long reader let grow is cut back to twice the rewind size when it
            // rewinds; any less, and every rewind would truncate the blocks the next one reuses.
            let _ = c.batch_execute(&format!("PRAGMA journal_size_limit = {}", wal.rewind_frames * 2 * FRAME_BYTES));
            if sync.is_some() {
                c.batch_execute("PRAGMA synchronous = NORMAL")?;
            }
        }
        if let DbConn::Pg(c) = &mut *conn {
            use diesel::connection::SimpleConnection;
            c.batch_execute(WRITER_PG_SETTINGS)?;
        }
        Ok(conn)
    }
}

impl Drop for WriterConn {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        // Outside a transaction these take effect for the session, and they fail only inside
        // one, where the pool discards the connection anyway.
        let reset = match &mut *self.0 {
            DbConn::Pg(c) => c
                .batch_execute("RESET enable_seqscan; RESET jit")
                .and_then(|()| c.batch_execute(crate::db::pool::PG_SETTINGS)),
            DbConn::Sqlite(c) => {
                c.batch_execute(SQLITE_DEFAULTS).and_then(|()| c.batch_execute(crate::db::pool::SQLITE_PRAGMAS))
            }
        };
        if let Err(e) = reset {
            tracing::warn!(error = %e, "the writer's connection could not be reset");
        }
    }
}

impl std::ops::Deref for WriterConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.0
    }
}

impl std::ops::DerefMut for WriterConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.0
    }
}

/// How often the WAL is copied back into the database file. SQLite would do it inside the
/// commit that crosses 1,000 pages, on the writer's own time; a thread of its own does it instead,
/// beside the writer, without blocking readers or the next commit (PASSIVE).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// What the checkpointer and the writer share about the WAL.
#[derive(Default)]
struct Wal {
    /// WAL frames (4 KiB pages) beyond which the writer starts the WAL over
    /// (`FIELDVISIT_WAL_REWIND_MIB`, 1 GiB). Under steady load the checkpointer never catches up
    /// with the writer, so SQLite never rewinds the WAL by itself: it grew by gigabytes, and every
    /// commit appended to new file blocks, which the kernel allocates and zeroes (a third of the
    /// writer's time). Rewinding keeps the WAL within the same blocks, already allocated and
    /// cached. Each rewind stops the writer (`restart_wal`): under the benchmark's load 1 GiB
    /// rewinds every 4 s or so, and its p99 was 20-30 ms lower than at 256 MiB (every 1.2 s).
    rewind_frames: i64,
    /// Frames in the WAL at the checkpointer's last pass; the writer takes (zeroes) it.
    frames: AtomicI64,
    /// Held by whoever checkpoints, so the writer never waits on (or collides with) a pass.
    checkpointing: Mutex<()>,
    /// Rewinds done.
    rewinds: AtomicU64,
}

/// A WAL frame holds one page, and the database keeps SQLite's default page size.
const FRAME_BYTES: i64 = 4096;

impl Wal {
    fn rewinding_at(mib: u32) -> Self {
        Self { rewind_frames: i64::from(mib.max(1)) * (1 << 20) / FRAME_BYTES, ..Self::default() }
    }
}

/// `PRAGMA wal_checkpoint`'s answer: frames in the WAL, and how many of them are in the database.
#[derive(QueryableByName)]
struct Checkpoint {
    #[diesel(sql_type = Integer)]
    log: i32,
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// A checkpoint in `mode`: PASSIVE copies what it can without waiting for anyone; RESTART copies
/// everything and waits (busy timeout) for the readers still on the WAL, so the next commit
/// rewinds it. `None` if it failed.
fn checkpoint(conn: &mut DbConn, mode: &str) -> Option<Checkpoint> {
    let DbConn::Sqlite(c) = conn else { return None };
    match diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})")).get_result::<Checkpoint>(c) {
        Ok(done) => Some(done),
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoint failed");
            None
        }
    }
}

fn checkpoints(pool: &DbPool, wal: &Wal, stopped: &std::sync::mpsc::Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
        let Ok(mut conn) = pool.get() else { continue };
        let _pass = wal.checkpointing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Before the writer rewinds, passes back to back copy what came in during the previous
        // one, each shorter than the last: the writer then stops for only the last few frames.
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let Some(done) = checkpoint(&mut conn, "PASSIVE") else { break };
            let ms = started.elapsed().as_millis() as u64;
            tracing::debug!(frames = done.log, copied = done.checkpointed, ms, "checkpoint pass");
            wal.frames.store(i64::from(done.log), Ordering::Relaxed);
            if i64::from(done.log) <= wal.rewind_frames {
                break;
            }
        }
    }
}

/// Between groups, where no frame can be added meanwhile, the writer copies the last frames the
/// checkpointer has not reached and waits for the readers still on the WAL (short reads, about a
/// millisecond); SQLite's next commit then writes the WAL from its start again. PASSIVE alone
/// rarely rewound it: under load some reader almost always held a WAL snapshot at that moment.
///
/// With a WAL sync thread the copy is not synced here: that fsync of the database file (thousands
/// of scattered pages, 30–100 ms) stalled every push waiting. Instead the writer first waits until
/// the frames it copies are on disk (SQLite's checkpoint would sync the WAL itself), copies them
/// with `synchronous = OFF`, and has the database file synced beside the next group's work. The
/// old WAL stays whole on disk until that fsync is done: the next COMMIT, the first write to the
/// WAL (no cache spill), waits for it. A power cut before then recovers from the old WAL. Back at
/// NORMAL, that commit syncs the WAL's new header before its first frame, as SQLite does.
///
/// Returns `false` if the connection could not be put back to NORMAL: the caller lets it go.
fn restart_wal(conn: &mut DbConn, wal: &Wal, sync: &mut Option<WalSync>) -> bool {
    use diesel::connection::SimpleConnection;
    // A pass under way has most of the frames in hand: the next report comes soon after it.
    let Ok(_pass) = wal.checkpointing.try_lock() else { return true };
    let DbConn::Sqlite(c) = conn else { return true };
    let started = std::time::Instant::now();
    let unsynced = sync.as_mut().is_some_and(|sync| {
        sync.wait();
        c.batch_execute("PRAGMA synchronous = OFF").is_ok()
    });
    let done = checkpoint(conn, "RESTART");
    if let Some(done) = done {
        wal.rewinds.fetch_add(1, Ordering::Relaxed);
        let ms = started.elapsed().as_millis() as u64;
        tracing::debug!(frames = done.log, copied = done.checkpointed, ms, "WAL copied back for a rewind");
    }
    let (DbConn::Sqlite(c), Some(sync)) = (conn, sync.as_mut().filter(|_| unsynced)) else { return true };
    // Whatever the checkpoint did, the database file may hold unsynced pages now.
    sync.rewound();
    match c.batch_execute("PRAGMA synchronous = NORMAL") {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "the writer's connection could not go back to synchronous = NORMAL");
            false
        }
    }
}

fn commit_group(
    pool: &DbPool,
    held: &mut Option<WriterConn>,
    group: &mut Group,
    queue: &mut mpsc::Receiver<Pending>,
    fallbacks: &AtomicU64,
    sync: &mut Option<WalSync>,
    wal: &Wal,
) -> Vec<Result<Applied, ApiError>> {
    let mut conn = match held.take().map_or_else(|| WriterConn::open(pool, sync, wal), Ok) {
        Ok(c) => c,
        Err(e) => return fail_each(&e, group.work.len()),
    };
    let policies = match policies::load(&mut conn) {
        Ok(p) => p,
        Err(e) => return fail_each(&e.into(), group.work.len()),
    };
    // Fast path: the whole group in one transaction with no savepoints, which spares SQLite a
    // sub-journal copy of every page a push touches. A push fails only on a database or server
    // error (a refused record is an answer, not an error), so this almost always commits; when
    // one does fail, the group is rolled back and applied again with a savepoint per push, so the
    // failure stays that push's own.
    let fast = group_transaction(&mut conn, sync, |conn, sync| {
        let mut seq = SeqAlloc::new();
        let mut out = Vec::with_capacity(group.work.len());
        for work in &group.work {
            out.push(apply_work(conn, work, &policies, &mut seq)?);
        }
        while group.records < GROUP_RECORDS_WHILE_SYNCING && sync.as_mut().is_some_and(WalSync::syncing) {
            let Ok(p) = queue.try_recv() else { break };
            out.push(apply_work(conn, group.take(p), &policies, &mut seq)?);
        }
        Ok(out)
    });
    match fast {
        Ok(results) => {
            *held = Some(conn);
            return results.into_iter().map(Ok).collect();
        }
        // A lone push's error is its own answer; its connection goes back for the pool to judge.
        Err(e) if group.work.len() == 1 => return vec![Err(e)],
        Err(e) => {
            fallbacks.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, pushes = group.work.len(), "a push failed in a shared commit; applying the group push by push");
        }
    }
    let mut results = Vec::with_capacity(group.work.len());
    let committed = group_transaction(&mut conn, sync, |conn, _| {
        let mut seq = SeqAlloc::new();
        for work in &group.work {
            let result = conn.transaction(|c| apply_work(c, work, &policies, &mut seq));
            if result.is_err() {
                // Numbers taken inside the rolled-back savepoint were given back to the counter.
                seq = SeqAlloc::new();
            }
            results.push(result);
        }
        Ok(())
    });
    match committed {
        Ok(()) => {
            *held = Some(conn);
            results
        }
        // The connection may be broken (a lost PostgreSQL link): let the pool judge it.
        Err(e) => fail_each(&e, group.work.len()),
    }
}

/// `e` as the answer to each of `n` pieces of work.
fn fail_each(e: &ApiError, n: usize) -> Vec<Result<Applied, ApiError>> {
    (0..n)
        .map(|_| {
            let mut err = ApiError::new(e.kind, e.code.clone(), e.message.clone());
            err.retry_after_s = e.retry_after_s;
            Err(err)
        })
        .collect()
}

fn apply_work(
    conn: &mut DbConn,
    work: &Work,
    policies: &policies::PolicyBook,
    seq: &mut SeqAlloc,
) -> Result<Applied, ApiError> {
    match work {
        Work::Push(job) => apply::apply(conn, job, policies, seq).map(Applied::Push),
        Work::Sweep(now) => crate::deadlines::tracker::sweep_batch(conn, *now, policies).map(Applied::Swept),
        Work::DayEnd(now, done) => crate::deadlines::day_end::fire(conn, *now, done, policies).map(Applied::DayEnd),
    }
}

/// The longest the writer waits for pooled writes before a group: a few of their busy-handler
/// retries (up to 100 ms apart), not a long import's whole transaction.
const GIVE_WAY_AT_MOST: std::time::Duration = std::time::Duration::from_millis(300);

/// A group's write transaction. With a WAL sync thread, just before the COMMIT it waits for the
/// previous group's fsync and holds pulls and alert readers below this group (`wal_sync`); `f`
/// may ask the sync thread whether that fsync is still running.
fn group_transaction<T>(
    conn: &mut DbConn,
    sync: &mut Option<WalSync>,
    f: impl FnOnce(&mut DbConn, &mut Option<WalSync>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    // Pooled writes wait for SQLite's lock without a queue: let them in first (`write_turns`).
    db::write_turns::give_way(conn, GIVE_WAY_AT_MOST);
    db::transaction(conn, |c| {
        let before = match sync {
            Some(_) => Before { seq: seq::current(c)?, alert_id: alerts::last_id(c)? },
            None => Before::default(),
        };
        let out = f(c, sync)?;
        if let Some(sync) = sync {
            sync.before_commit(before)?;
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::location::DbLocation;

    fn pragma(conn: &mut DbConn, name: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Value {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            value: i64,
        }
        let DbConn::Sqlite(c) = conn else { panic!("SQLite") };
        diesel::sql_query(format!("SELECT {name} AS value FROM pragma_{name}"))
            .get_result::<Value>(c)
            .expect(name)
            .value
    }

    #[test]
    fn the_writer_keeps_twice_the_rewind_size_of_wal_and_gives_its_connection_back_as_it_was() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = crate::db::pool::connect(&DbLocation::Sqlite(dir.path().join("db")), 1).expect("pool");
        // 1 GiB: a limit below the rewind size truncated the WAL at every rewind, and the next
        // commits allocated its blocks again.
        let wal = Wal::rewinding_at(1024);
        let mut conn = WriterConn::open(&pool, &None, &wal).expect("writer connection");
        assert_eq!(pragma(&mut conn, "journal_size_limit"), 2 << 30);
        assert_eq!(pragma(&mut conn, "cache_spill"), 0);
        drop(conn);
        let mut again = pool.get().expect("the same connection, back in the pool");
        assert_eq!(pragma(&mut again, "journal_size_limit"), -1);
        assert_eq!(pragma(&mut again, "synchronous"), 2, "FULL for everyone but the writer");
    }
}
