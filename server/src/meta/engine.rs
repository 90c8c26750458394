//! The metadata engine boundary: what an engine must provide, in bytes.
//!
//! An engine keeps named tables of byte keys and byte values, ordered by
//! byte comparison, and runs jobs against them: reads on a consistent
//! snapshot, writes in a transaction that is durable when the job's caller
//! hears back. Everything above this trait (typed tables, records, policy)
//! is the same for every engine; `conformance` holds what each must pass.
//!
//! Jobs are synchronous closures run on a thread that may block, so that
//! the core's rules read as straight-line code whatever the engine: redb
//! runs them on its committer thread or a blocking thread, PostgreSQL on a
//! blocking thread that waits on the database for each operation.
//!
//! A write job may be run more than once: an engine retries it from the
//! start when the database reports a conflict (a serialization failure or
//! a deadlock), after rolling back what it wrote. Jobs must therefore
//! derive everything from what they read, never from state they consumed.

use std::ops::Bound;

use crate::error::Result;

/// Key-value pairs as an engine returns them.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads, in one snapshot.
pub trait ReadOps {
    /// The value at `key` in `table`.
    fn get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Up to `limit` pairs of `table` with keys from `start` up to, not
    /// including, `end` (`None`: to the end), in ascending byte order.
    fn scan(
        &self,
        table: &'static str,
        start: Bound<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Rows>;

    /// Says that these rows (table, key) are about to be read one by one.
    /// An engine whose reads are round trips fetches the rows it does not
    /// know yet in one go and answers the gets that follow from them; an
    /// embedded one has nothing to gain and ignores it. Changes no answer.
    fn prefetch(&self, _rows: &[(&'static str, Vec<u8>)]) -> Result<()> {
        Ok(())
    }

    /// Whether [`ReadOps::prefetch`] does anything here (callers then
    /// spare themselves naming the rows).
    fn fetches_ahead(&self) -> bool {
        false
    }
}

/// Reads and writes, in one transaction. Reads see the job's own writes.
pub trait WriteOps: ReadOps {
    /// Stores `value` at `key`, replacing what was there.
    fn put(&self, table: &'static str, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key`; whether it was there.
    fn delete(&self, table: &'static str, key: &[u8]) -> Result<bool>;

    /// Removes every key from `start` up to, not including, `end` (`None`:
    /// to the end); how many were removed.
    fn delete_range(&self, table: &'static str, start: &[u8], end: Option<&[u8]>) -> Result<u64>;

    /// A new entry version, greater than every version this engine handed
    /// out before. Unique, not gapless, and not a commit order: engines
    /// shared by several writers take it from a sequence, so that no
    /// counter row serializes every write.
    fn next_version(&self) -> Result<u64>;

    /// Makes every later [`WriteOps::next_version`] greater than `floor`
    /// (for metadata copied from another engine, whose versions it keeps).
    fn raise_version(&self, floor: u64) -> Result<()>;
}

/// A read job: runs once against a snapshot.
pub type ReadJob<'a> = &'a mut dyn FnMut(&dyn ReadOps) -> Result<()>;

/// The body of a write job: may run more than once (see the module docs).
/// It reports through what it captures; the engine reports whether the
/// commit held.
pub type WriteFn = Box<dyn FnMut(&dyn WriteOps) -> Result<()> + Send>;

/// A write job and the rows it will read, as far as its caller knows them
/// before it runs.
pub struct WriteJob {
    /// Rows (table, key) the job reads: an engine that groups jobs into
    /// one transaction and whose reads are round trips fetches those of the
    /// whole group in one go before the first job runs (as
    /// [`ReadOps::prefetch`] does for one job), so a group of a hundred
    /// small commits costs a few round trips, not a hundred. A hint only:
    /// it changes no answer, and a job may read rows it did not name.
    pub reads: Vec<(&'static str, Vec<u8>)>,
    /// Rows (table, key) the job rewrites that every writer of them
    /// rewrites (a namespace's record, which each commit to it updates).
    /// An engine shared by several writers has them take turns on each
    /// such row before their transactions begin, so that two replicas
    /// writing one namespace wait for each other instead of both running
    /// and the later failing at commit and running again; jobs that queued
    /// behind a group while it waited, wanting no turns it does not hold,
    /// join it. A hint only: correctness rests on the transaction.
    pub turns: Vec<(&'static str, Vec<u8>)>,
    /// What the job does.
    pub run: WriteFn,
}

impl WriteJob {
    /// A job that names no rows ahead.
    pub fn new(run: WriteFn) -> Self {
        WriteJob {
            reads: Vec::new(),
            turns: Vec::new(),
            run,
        }
    }
}

/// Background work that one process at a time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duty {
    /// The reclaimer: expiry, purges, garbage and the orphan sweep.
    Reclaim,
}

/// A metadata engine.
#[async_trait::async_trait]
pub trait Engine: Send + Sync + 'static {
    /// A short name for logs and metrics ("redb", "postgres").
    fn name(&self) -> &'static str;

    /// Runs `job` against a consistent snapshot, blocking the calling
    /// thread (callers are on a blocking thread or accept a short wait).
    fn read_blocking(&self, job: ReadJob<'_>) -> Result<()>;

    /// Whether short reads may run on the async runtime's own threads
    /// (an embedded engine answers from memory or the page cache; a
    /// networked one must not block a runtime thread on a round trip).
    fn reads_inline(&self) -> bool;

    /// The values of `rows` (table, key), in order (`None`: absent), all
    /// from one snapshot, without a read job. A networked engine reads
    /// them in one statement that is a snapshot of its own (no transaction
    /// to begin and end, no blocking thread), answered on the caller's
    /// task; this default runs a read job of gets, which blocks, and suits
    /// only an engine that [reads inline](Engine::reads_inline).
    async fn fetch(&self, rows: &[(&'static str, Vec<u8>)]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut values = Vec::with_capacity(rows.len());
        self.read_blocking(&mut |ops: &dyn ReadOps| {
            values.clear();
            for (table, key) in rows {
                values.push(ops.get(table, key)?);
            }
            Ok(())
        })?;
        Ok(values)
    }

    /// Runs `job` in a write transaction and returns once it is durably
    /// committed (`Ok`), or not committed at all (`Err`). A job that
    /// returns an error has its writes discarded.
    async fn write(&self, job: WriteJob) -> Result<()>;

    /// Whether other processes may share this engine's data (several
    /// replicas on one database). State that decides safety — which stream
    /// holds an upload, which replicas are alive and writing — then lives in
    /// the engine, not in one process's memory.
    fn shared(&self) -> bool;

    /// The engine's clock, ms since the epoch. Leases are judged by it, so
    /// replicas whose own clocks disagree still agree on who holds what.
    async fn clock_ms(&self) -> Result<i64>;

    /// Takes, or confirms this process still holds, the turn to run the
    /// background `duty`: at most one process sharing the engine holds it
    /// at a time (an embedded engine has one process and always grants it).
    /// A holder that loses its connection loses its turn. Correctness never
    /// rests on this: work done under it re-checks what it deletes in its
    /// own transaction; the turn only keeps replicas from doing it twice.
    async fn take_turn(&self, duty: Duty) -> Result<bool>;

    /// Whether the engine answers now (readiness).
    async fn reachable(&self) -> bool;

    /// Bytes the engine's own storage takes, if it can tell (metrics).
    fn stored_bytes(&self) -> Option<u64>;

    /// Finishes queued writes and closes; later calls fail UNAVAILABLE.
    fn close(&self);
}
