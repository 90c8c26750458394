//! Metadata in redb: namespaces, entries, objects with reference counts,
//! uploads and the reclaim queues.
//!
//! The metadata commit is the single moment a change becomes visible. Writes
//! go through one committer thread that groups whatever jobs are waiting into
//! one redb transaction with one fsync, so many concurrent small writes stay
//! durable without paying an fsync each. A job must check everything before
//! it changes anything: a job that returns a verdict (NOT_FOUND, ...) has
//! written nothing, so the rest of its group commits unharmed. A job that
//! fails with a fault abandons its whole group.
//!
//! This module owns the table layout and the record helpers; policy (what may
//! change, and when) lives in `crate::core`.

pub mod records;

use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
pub use records::*;

/// Namespace id → [`NamespaceRecord`].
pub const NAMESPACES: TableDefinition<&str, &[u8]> = TableDefinition::new("namespaces");
/// Unique-name index: `sandbox \x1f scope \x1f user \x1f session \x1f name` → namespace id.
pub const NAMESPACE_NAMES: TableDefinition<&str, &str> = TableDefinition::new("namespace_names");
/// (namespace id, path) → [`EntryRecord`].
pub const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entries");
/// (namespace id, object id) → [`ObjectRecord`].
pub const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
/// (namespace id, object id) → ms since the epoch when it became unreferenced.
pub const GARBAGE: TableDefinition<(&str, &str), i64> = TableDefinition::new("garbage");
/// Namespace id → [`PurgeRecord`] of a destroyed namespace still to delete.
pub const PURGES: TableDefinition<&str, &[u8]> = TableDefinition::new("purges");
/// Upload id → [`UploadRecord`].
pub const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
/// Session id → [`SessionRecord`].
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// SHA-256 of a session token → session id.
pub const SESSION_TOKENS: TableDefinition<&str, &str> = TableDefinition::new("session_tokens");
/// `{sandbox}` or `{sandbox}/{user}` → [`UsageRecord`].
pub const USAGE: TableDefinition<&str, &[u8]> = TableDefinition::new("usage");
/// (namespace id, checkpoint id) → [`CheckpointRecord`].
pub const CHECKPOINTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("checkpoints");
/// (namespace id, checkpoint id, path) → [`EntryRecord`] as it was.
pub const CHECKPOINT_ENTRIES: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("checkpoint_entries");
/// (namespace id, SHA-256) → object id: content stored once per namespace.
pub const DIGESTS: TableDefinition<(&str, &str), &str> = TableDefinition::new("digests");
/// Named counters (the global version counter).
pub const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// Jobs grouped into one transaction at most.
const MAX_GROUP: usize = 512;

type Finish = Box<dyn FnOnce(Option<Error>) + Send>;
type Job = Box<dyn FnOnce(&WriteTransaction) -> (bool, Finish) + Send>;

/// The metadata store.
pub struct MetaStore {
    db: RwLock<Option<Arc<Database>>>,
    jobs: mpsc::UnboundedSender<Msg>,
    committer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl MetaStore {
    /// Opens (creating if needed) the redb file and starts the committer.
    pub fn open(path: &std::path::Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Metadata(format!("create {}: {e}", dir.display())))?;
        }
        // Metadata names every tenant's files: for this user alone, from the
        // moment the file exists (and tightened if an older one is not).
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let private = |e: std::io::Error| {
                Error::Metadata(format!("make {} private: {e}", path.display()))
            };
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(private)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(private)?;
        }
        let db = Arc::new(Database::create(path)?);
        {
            let txn = db.begin_write()?;
            txn.open_table(NAMESPACES)?;
            txn.open_table(NAMESPACE_NAMES)?;
            txn.open_table(ENTRIES)?;
            txn.open_table(OBJECTS)?;
            txn.open_table(GARBAGE)?;
            txn.open_table(PURGES)?;
            txn.open_table(UPLOADS)?;
            txn.open_table(COUNTERS)?;
            txn.open_table(SESSIONS)?;
            txn.open_table(SESSION_TOKENS)?;
            txn.open_table(USAGE)?;
            txn.open_table(CHECKPOINTS)?;
            txn.open_table(CHECKPOINT_ENTRIES)?;
            txn.open_table(DIGESTS)?;
            txn.commit()?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let committer_db = db.clone();
        let committer = std::thread::Builder::new()
            .name("arca-meta-commit".into())
            .spawn(move || run_committer(committer_db, rx))
            .map_err(|e| Error::Internal(format!("spawn committer: {e}")))?;
        Ok(MetaStore {
            db: RwLock::new(Some(db)),
            jobs: tx,
            committer: std::sync::Mutex::new(Some(committer)),
        })
    }

    fn db(&self) -> Result<Arc<Database>> {
        self.db
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| Error::Unavailable("the server is shutting down".into()))
    }

    /// Runs `f` in a read transaction (a consistent snapshot). Blocking:
    /// callers that scan much run it on a blocking thread.
    pub fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T>) -> Result<T> {
        let txn = self.db()?.begin_read()?;
        f(&txn)
    }

    /// Runs `f` in the next grouped write transaction and waits until it is
    /// durably committed. `f` must check before it writes (see module docs).
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let fault = matches!(&result, Err(e) if e.is_fault());
            let finish: Finish = Box::new(move |group_error| {
                let outcome = match (result, group_error) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(e)) => Err(e),
                    (Ok(v), None) => Ok(v),
                };
                let _ = reply.send(outcome);
            });
            (fault, finish)
        });
        self.db()?;
        self.jobs
            .send(Msg::Job(job))
            .map_err(|_| Error::Unavailable("the server is shutting down".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("metadata committer stopped".into()))?
    }

    /// Stops the committer after the jobs already queued and closes the
    /// database file, waiting briefly for readers still holding it, so the
    /// same file can be opened again at once (by a restart in tests).
    pub fn close(&self) {
        let db = self.db.write().unwrap().take();
        let _ = self.jobs.send(Msg::Stop);
        if let Some(handle) = self.committer.lock().unwrap().take() {
            let _ = handle.join();
        }
        if let Some(db) = db {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while Arc::strong_count(&db) > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

enum Msg {
    Job(Job),
    Stop,
}

fn run_committer(db: Arc<Database>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut stopping = false;
    while !stopping {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut group = Vec::new();
        match first {
            Msg::Job(job) => group.push(job),
            Msg::Stop => stopping = true,
        }
        while group.len() < MAX_GROUP && !stopping {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => group.push(job),
                Ok(Msg::Stop) => stopping = true,
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            commit_group(&db, group);
        }
    }
}

fn commit_group(db: &Database, group: Vec<Job>) {
    let txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            // Run nothing: each job's caller sees its reply dropped.
            tracing::error!(error = %e, "metadata: cannot begin a write transaction");
            drop(group);
            return;
        }
    };
    let mut finishes = Vec::with_capacity(group.len());
    let mut faulted = false;
    for job in group {
        let (fault, finish) = job(&txn);
        faulted |= fault;
        finishes.push(finish);
    }
    let group_error = if faulted {
        drop(txn);
        Some(Error::Unavailable(
            "metadata commit abandoned because another write in its group failed; retry".into(),
        ))
    } else {
        match txn.commit() {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "metadata: commit failed");
                Some(Error::Metadata(e.to_string()))
            }
        }
    };
    for finish in finishes {
        finish(group_error.as_ref().map(clone_error));
    }
}

fn clone_error(e: &Error) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(m.clone()),
        other => Error::Metadata(other.to_string()),
    }
}

/// The next value of the global version counter (within `txn`).
pub fn next_version(txn: &WriteTransaction) -> Result<u64> {
    let mut counters = txn.open_table(COUNTERS)?;
    let next = counters.get("version")?.map_or(0, |v| v.value()) + 1;
    counters.insert("version", next)?;
    Ok(next)
}

/// Reads a record from a table keyed by `&str`.
pub fn get_record<M: prost::Message + Default>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<M>> {
    match table.get(key)? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

/// Reads an entry.
pub fn get_entry(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    ns: &str,
    path: &str,
) -> Result<Option<EntryRecord>> {
    match table.get((ns, path))? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
