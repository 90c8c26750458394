//! The embedded engine: one redb file, one committer thread.
//!
//! Writes go through one committer thread that groups whatever jobs are
//! waiting into one redb transaction with one fsync, so many concurrent
//! small writes stay durable without paying an fsync each. A job that fails
//! after it wrote is taken out of its group: the transaction is dropped and
//! the other jobs are run again in a new one (jobs are re-runnable, see
//! `engine`), so a refusal never half-writes and never harms its neighbours.
//!
//! Every table is `&[u8] -> &[u8]` under a `kv/` name; files written by
//! earlier versions, whose tables were typed, are converted at open (see
//! `legacy`).

use std::cell::Cell;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ::redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use super::committer::{Committer, Pending, clone_error};
use super::engine::{Duty, Engine, ReadJob, ReadOps, Rows, WriteJob, WriteOps};
use crate::error::{Error, Result};

/// Jobs grouped into one transaction at most.
const MAX_GROUP: usize = 512;

/// The key of the version counter in [`COUNTERS`].
const VERSION: &[u8] = b"version";
/// Named counters of this engine (the version counter).
const COUNTERS: &str = "counters";

fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// Where a logical table lives in the file.
fn stored_name(name: &str) -> String {
    format!("kv/{name}")
}

/// The redb engine.
pub struct RedbEngine {
    path: PathBuf,
    db: RwLock<Option<Arc<Database>>>,
    committer: Committer,
}

impl RedbEngine {
    /// Opens (creating if needed) the file at `path` with `tables`, converts
    /// a file of an earlier layout, and starts the committer.
    /// The page cache holds at most `cache_bytes`.
    pub fn open(path: &Path, tables: &[&'static str], cache_bytes: usize) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Metadata(format!("create {}: {e}", dir.display())))?;
        }
        make_private(path)?;
        let db = Arc::new(
            redb::Builder::new()
                .set_cache_size(cache_bytes)
                .create(path)?,
        );
        {
            let txn = db.begin_write()?;
            for name in tables.iter().copied().chain([COUNTERS]) {
                txn.open_table(table(&stored_name(name)))?;
            }
            super::legacy::convert(
                &txn,
                &super::legacy::Layout {
                    stored_name,
                    version_key: VERSION,
                },
            )?;
            txn.commit()?;
        }
        let committer_db = db.clone();
        // One writer: a group never waits for a turn, so it takes no more
        // jobs once formed.
        let committer = Committer::spawn("arca-meta-commit", MAX_GROUP, move |group, _| {
            commit_group(&committer_db, group)
        })?;
        Ok(RedbEngine {
            path: path.to_owned(),
            db: RwLock::new(Some(db)),
            committer,
        })
    }

    fn db(&self) -> Result<Arc<Database>> {
        self.db
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| Error::Unavailable("the server is shutting down".into()))
    }
}

/// Metadata names every tenant's files: for this user alone, from the
/// moment the file exists (and tightened if an older one is not).
fn make_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let private =
        |e: std::io::Error| Error::Metadata(format!("make {} private: {e}", path.display()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(private)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(private)
}

#[async_trait::async_trait]
impl Engine for RedbEngine {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn read_blocking(&self, job: ReadJob<'_>) -> Result<()> {
        let txn = self.db()?.begin_read()?;
        job(&RedbRead {
            txn,
            open: Default::default(),
        })
    }

    fn reads_inline(&self) -> bool {
        true
    }

    async fn write(&self, job: WriteJob) -> Result<()> {
        self.db()?;
        self.committer.submit(job).await
    }

    /// The file is locked by the one process that opened it.
    fn shared(&self) -> bool {
        false
    }

    async fn clock_ms(&self) -> Result<i64> {
        Ok(super::local_clock_ms())
    }

    async fn take_turn(&self, _duty: Duty) -> Result<bool> {
        Ok(true)
    }

    async fn reachable(&self) -> bool {
        self.db().is_ok()
    }

    fn stored_bytes(&self) -> Option<u64> {
        std::fs::metadata(&self.path).map(|m| m.len()).ok()
    }

    /// Stops the committer after the jobs already queued and closes the
    /// file, waiting briefly for readers still holding it, so the same file
    /// can be opened again at once (by a restart in tests).
    fn close(&self) {
        let db = self.db.write().unwrap().take();
        self.committer.stop(true);
        if let Some(db) = db {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while Arc::strong_count(&db) > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

/// Runs a group in one transaction; a job that fails after writing is
/// answered with its error and the rest run again without it.
fn commit_group(db: &Database, mut group: Vec<Pending>) {
    while !group.is_empty() {
        let txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "metadata: cannot begin a write transaction");
                let failure = Error::Metadata(e.to_string());
                for pending in group {
                    let _ = pending.reply.send(Err(clone_error(&failure)));
                }
                return;
            }
        };
        let mut outcomes = Vec::with_capacity(group.len());
        let mut spoiled = None;
        for (index, pending) in group.iter_mut().enumerate() {
            let ops = RedbWrite::new(&txn);
            let outcome = (pending.job.run)(&ops);
            let wrote = ops.wrote.get();
            // Its tables close before the next job opens them.
            drop(ops);
            if outcome.is_err() && wrote {
                spoiled = Some((index, outcome));
                break;
            }
            outcomes.push(outcome);
        }
        if let Some((index, outcome)) = spoiled {
            drop(txn);
            let pending = group.remove(index);
            let _ = pending.reply.send(outcome);
            continue;
        }
        let committed = txn.commit().map_err(|e| {
            tracing::error!(error = %e, "metadata: commit failed");
            Error::Metadata(e.to_string())
        });
        for (pending, outcome) in group.into_iter().zip(outcomes) {
            let answer = match &committed {
                Ok(()) => outcome,
                Err(e) => outcome.and(Err(clone_error(e))),
            };
            let _ = pending.reply.send(answer);
        }
        return;
    }
}

fn scan_table(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    start: Bound<&[u8]>,
    end: Option<&[u8]>,
    limit: usize,
) -> Result<Rows> {
    let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    for item in table.range::<&[u8]>((start, upper))? {
        let (k, v) = item?;
        out.push((k.value().to_vec(), v.value().to_vec()));
        if out.len() == limit {
            break;
        }
    }
    Ok(out)
}

type ReadTable = ::redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

struct RedbRead {
    txn: ReadTransaction,
    /// Tables opened by this job, kept open for its length.
    open: std::cell::RefCell<std::collections::HashMap<&'static str, ReadTable>>,
}

impl RedbRead {
    fn with<T>(&self, name: &'static str, f: impl FnOnce(&ReadTable) -> Result<T>) -> Result<T> {
        let mut open = self.open.borrow_mut();
        let table = match open.entry(name) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.txn.open_table(table(&stored_name(name)))?)
            }
        };
        f(table)
    }
}

impl ReadOps for RedbRead {
    fn get(&self, name: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with(name, |table| {
            Ok(table.get(key)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        name: &'static str,
        start: Bound<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Rows> {
        self.with(name, |table| scan_table(table, start, end, limit))
    }
}

type ByteTable<'t> = ::redb::Table<'t, &'static [u8], &'static [u8]>;

struct RedbWrite<'t> {
    txn: &'t WriteTransaction,
    /// Tables opened by this job, kept open for its length (opening one
    /// costs a lookup in the table of tables; a checkpoint does thousands).
    open: std::cell::RefCell<std::collections::HashMap<&'static str, ByteTable<'t>>>,
    /// Whether the job changed anything (a failed job that did spoils the
    /// transaction for its group).
    wrote: Cell<bool>,
}

impl<'t> RedbWrite<'t> {
    fn new(txn: &'t WriteTransaction) -> Self {
        RedbWrite {
            txn,
            open: Default::default(),
            wrote: Cell::new(false),
        }
    }

    fn with<T>(
        &self,
        name: &'static str,
        f: impl FnOnce(&mut ByteTable<'t>) -> Result<T>,
    ) -> Result<T> {
        let mut open = self.open.borrow_mut();
        let table = match open.entry(name) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.txn.open_table(table(&stored_name(name)))?)
            }
        };
        f(table)
    }
}

impl ReadOps for RedbWrite<'_> {
    fn get(&self, name: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with(name, |table| {
            Ok(table.get(key)?.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        name: &'static str,
        start: Bound<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Rows> {
        self.with(name, |table| scan_table(table, start, end, limit))
    }
}

impl WriteOps for RedbWrite<'_> {
    fn put(&self, name: &'static str, key: &[u8], value: &[u8]) -> Result<()> {
        self.wrote.set(true);
        self.with(name, |table| {
            table.insert(key, value)?;
            Ok(())
        })
    }

    fn delete(&self, name: &'static str, key: &[u8]) -> Result<bool> {
        self.wrote.set(true);
        self.with(name, |table| Ok(table.remove(key)?.is_some()))
    }

    fn delete_range(&self, name: &'static str, start: &[u8], end: Option<&[u8]>) -> Result<u64> {
        self.wrote.set(true);
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        self.with(name, |table| {
            let mut removed = 0u64;
            table.retain_in::<&[u8], _>((Bound::Included(start), upper), |_, _| {
                removed += 1;
                false
            })?;
            Ok(removed)
        })
    }

    fn next_version(&self) -> Result<u64> {
        self.wrote.set(true);
        self.with(COUNTERS, |counters| {
            let current = match counters.get(VERSION)? {
                Some(v) => decode_u64(v.value())?,
                None => 0,
            };
            let next = current + 1;
            counters.insert(VERSION, next.to_be_bytes().as_slice())?;
            Ok(next)
        })
    }

    fn raise_version(&self, floor: u64) -> Result<()> {
        self.wrote.set(true);
        self.with(COUNTERS, |counters| {
            let current = match counters.get(VERSION)? {
                Some(v) => decode_u64(v.value())?,
                None => 0,
            };
            if floor > current {
                counters.insert(VERSION, floor.to_be_bytes().as_slice())?;
            }
            Ok(())
        })
    }
}

/// A big-endian `u64` as this engine stores counters.
pub(super) fn decode_u64(bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Metadata("corrupt counter".into()))?;
    Ok(u64::from_be_bytes(array))
}
