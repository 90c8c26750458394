//! The shared engine: PostgreSQL, one database for every replica.
//!
//! Every logical table is rows of one `arca_kv (tbl, k bytea, v bytea)`
//! table; `bytea` compares byte by byte, so scans follow the tuple order of
//! `keys` (pinned by the conformance suite). A B-tree entry holds at most
//! about 2.7 KB and keys are longer (a 4 KiB path), so rows are indexed by
//! the key's first [`KEY_HEAD_BYTES`] and its SHA-256, both generated from
//! `k`: ordering by (head, key) is ordering by key, and only keys that share
//! a whole head are sorted beyond the index. Versions come from a sequence,
//! so no counter row serializes the writers.
//!
//! Write jobs are grouped (see `committer`): each group runs in one
//! SERIALIZABLE transaction, so the database, not this process, decides
//! which of two racing writes wins. A group that hits a serialization
//! failure or a deadlock (SQLSTATE 40001, 40P01), in a statement or at
//! commit, is rolled back and run again from the start, as the engine
//! contract allows. Reads run on a pool of connections in REPEATABLE READ
//! READ ONLY transactions: one snapshot.
//!
//! Round trips are what a job costs here (a statement waits for its
//! answer before the job goes on), so they are saved where the contract
//! allows: a transaction remembers the rows it read and wrote (`TxnView`),
//! puts go out as one statement, a read
//! transaction's BEGIN travels with its first statement and its COMMIT is
//! not waited for.
//!
//! Jobs are synchronous (see `engine`): they run on a blocking thread that
//! waits on each statement. The database lost mid-job is UNAVAILABLE and
//! nothing of the job is kept; readiness reports it, and the pool
//! reconnects when it returns.
//!
//! The schema is versioned (`arca_schema`); migrations run at start under
//! an advisory lock, so replicas starting together apply each once, and a
//! database whose schema is newer than this binary is refused.

use std::cell::Cell;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::runtime::Handle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::committer::{Committer, Pending, clone_error};
use super::engine::{Duty, Engine, ReadJob, ReadOps, Rows, WriteJob, WriteOps};
use crate::config::MetadataConfig;
use crate::error::{Error, Result};

/// The schema this binary writes. Each entry of [`MIGRATIONS`] takes the
/// database from its index to the next version.
pub const SCHEMA_VERSION: i32 = 2;

/// Key of the advisory lock held while migrating.
const MIGRATION_LOCK: i32 = 0x4152_0001;

const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the key-value rows and the version sequence.
    "CREATE TABLE arca_kv (
         tbl text NOT NULL,
         k bytea NOT NULL,
         v bytea NOT NULL,
         PRIMARY KEY (tbl, k)
     );
     CREATE SEQUENCE arca_version AS bigint;",
    // 1 -> 2: keys of any length (the primary key on (tbl, k) refused
    // keys past a B-tree entry's size); 2000 is KEY_HEAD_BYTES.
    "ALTER TABLE arca_kv
         DROP CONSTRAINT arca_kv_pkey,
         ADD COLUMN k_head bytea GENERATED ALWAYS AS (substring(k FROM 1 FOR 2000)) STORED,
         ADD COLUMN k_hash bytea GENERATED ALWAYS AS (sha256(k)) STORED,
         ADD PRIMARY KEY (tbl, k_head, k_hash);",
];

/// Bytes of a key the index orders by (the migration's literal): with the
/// table's name and a SHA-256 beside it, an index entry stays under
/// PostgreSQL's limit for any key.
const KEY_HEAD_BYTES: usize = 2000;

/// The head of parameter `$n`, as the generated `k_head` column holds it.
fn head(n: u8) -> String {
    format!("substring(${n}::bytea FROM 1 FOR {KEY_HEAD_BYTES})")
}

/// Attempts of one write job before its conflict is the caller's.
const MAX_ATTEMPTS: u32 = 12;

/// Attempts after which a job runs alone: a long job (a restore of
/// thousands of entries) racing a stream of short ones would otherwise lose
/// every time. Correctness never rests on this lock (SERIALIZABLE decides);
/// it only makes sure every job finishes.
const ALONE_AFTER: u32 = 3;

/// Key of the advisory lock writers share, and a starving one takes alone.
const WRITERS_LOCK: i32 = 0x4152_0002;

/// Advisory locks are per database: each is keyed by this class and the
/// schema's name, so deployments in different schemas of one database
/// (and the tests, a schema each) never contend.
///
/// Key of the advisory lock of a background duty's turn (see
/// [`Engine::take_turn`]), plus the duty's number.
const TURN_LOCK: i32 = 0x4152_0010;

/// The PostgreSQL engine.
pub struct PostgresEngine {
    shared: Shared,
    /// The connection holding the reclaimer's turn, if this replica has it:
    /// a session-level advisory lock lasts as long as its connection, so a
    /// replica that dies (or loses the database) hands the turn on.
    turn: tokio::sync::Mutex<Option<deadpool_postgres::ClientWrapper>>,
    /// Write jobs, grouped for one transaction each.
    committer: Committer,
}

/// What a blocking thread running a job needs (cheap to clone: the pool
/// is shared).
#[derive(Clone)]
struct Shared {
    pool: Pool,
    closed: Arc<AtomicBool>,
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("metadata database: {e}"))
}

/// Whether a database error asks for the transaction to be run again.
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    )
}

fn db_error(e: tokio_postgres::Error) -> Error {
    match e.code() {
        // A closed connection or an unreachable server has no SQLSTATE.
        None => unavailable(e),
        Some(code) if code.code().starts_with("08") || code.code().starts_with("57") => {
            unavailable(e)
        }
        Some(code) => match e.as_db_error() {
            // "db error" alone says nothing: name the SQLSTATE and reason.
            Some(db) => Error::Metadata(format!(
                "metadata database: {} ({})",
                db.message(),
                code.code()
            )),
            None => Error::Metadata(format!("metadata database: {e}")),
        },
    }
}

/// The connection settings the configuration's files hold: the URL (from
/// `url_file`) and the password (from `password_file`), both refused if
/// other users may read them.
fn client_config(config: &MetadataConfig) -> Result<tokio_postgres::Config> {
    let url_file = config.url_file.as_ref().ok_or_else(|| {
        Error::InvalidArgument("metadata: the postgres engine needs url_file".into())
    })?;
    let url = crate::auth::read_private_file(url_file)?;
    let mut pg: tokio_postgres::Config = url.trim().parse().map_err(|e| {
        Error::InvalidArgument(format!(
            "metadata: {} does not hold a PostgreSQL URL: {e}",
            url_file.display()
        ))
    })?;
    if let Some(path) = &config.password_file {
        let password = crate::auth::read_private_file(path)?;
        pg.password(password.trim_end_matches(['\r', '\n']));
    }
    Ok(pg)
}

/// Reads and checks every file the PostgreSQL settings name (URL,
/// password, CA) as `open` does, without connecting: for `--check-config`.
pub fn check_settings(config: &MetadataConfig) -> Result<()> {
    let pg = client_config(config)?;
    if pg.get_ssl_mode() != tokio_postgres::config::SslMode::Disable {
        tls_connector(config)?;
    }
    Ok(())
}

impl PostgresEngine {
    /// Connects with the configuration's URL, password and TLS settings,
    /// checks the database answers and brings its schema up to date.
    pub async fn open(config: &MetadataConfig) -> Result<Self> {
        let mut pg = client_config(config)?;
        pg.connect_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)));
        pg.application_name("arca-server");
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if pg.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            Manager::from_config(pg, tokio_postgres::NoTls, manager_config)
        } else {
            Manager::from_config(pg, tls_connector(config)?, manager_config)
        };
        let wait = Duration::from_secs(config.connect_timeout_secs.max(1));
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait))
            .build()
            .map_err(|e| Error::InvalidArgument(format!("metadata: {e}")))?;
        let shared = Shared {
            pool,
            closed: Arc::new(AtomicBool::new(false)),
        };
        let (committer_shared, handle) = (shared.clone(), Handle::current());
        let committer = Committer::spawn("arca-pg-commit", MAX_GROUP, move |group| {
            let _runtime = handle.enter();
            committer_shared.run_group(&handle, group);
        })?;
        let engine = PostgresEngine {
            shared,
            turn: tokio::sync::Mutex::new(None),
            committer,
        };
        engine.migrate().await?;
        Ok(engine)
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.shared.pool.get().await.map_err(|e| {
            Error::Unavailable(format!("metadata: cannot connect to PostgreSQL: {e}"))
        })?;
        let txn = client.transaction().await.map_err(db_error)?;
        txn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
            &[&MIGRATION_LOCK],
        )
        .await
        .map_err(db_error)?;
        txn.batch_execute(
            "CREATE TABLE IF NOT EXISTS arca_schema (
                 only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                 version integer NOT NULL
             );
             INSERT INTO arca_schema (version) VALUES (0) ON CONFLICT DO NOTHING;",
        )
        .await
        .map_err(db_error)?;
        let found: i32 = txn
            .query_one("SELECT version FROM arca_schema", &[])
            .await
            .map_err(db_error)?
            .get(0);
        if found > SCHEMA_VERSION {
            return Err(Error::FailedPrecondition(format!(
                "metadata: the database's schema is version {found}, newer than this server's \
                 {SCHEMA_VERSION}: run a server at least as new as the one that migrated it"
            )));
        }
        for (from, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tracing::info!(
                from,
                to = from + 1,
                "metadata: migrating the PostgreSQL schema"
            );
            txn.batch_execute(migration).await.map_err(db_error)?;
        }
        txn.execute("UPDATE arca_schema SET version = $1", &[&SCHEMA_VERSION])
            .await
            .map_err(db_error)?;
        txn.commit().await.map_err(db_error)
    }
}

impl Shared {
    fn client(&self, handle: &Handle) -> Result<deadpool_postgres::Object> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("the server is shutting down".into()));
        }
        handle.block_on(self.pool.get()).map_err(unavailable)
    }

    /// Runs a group of jobs in one transaction (one commit, one WAL flush
    /// for all of them). A job that fails after writing is answered with its
    /// error and the rest run again without it; a conflict runs the whole
    /// group again; a group that keeps losing runs alone.
    fn run_group(&self, handle: &Handle, mut group: Vec<Pending>) {
        let client = match self.client(handle) {
            Ok(client) => client,
            Err(e) => {
                for pending in group {
                    let _ = pending.reply.send(Err(clone_error(&e)));
                }
                return;
            }
        };
        let sql = |text: &str| handle.block_on(client.batch_execute(text));
        let mut attempt = 0;
        while !group.is_empty() {
            attempt += 1;
            // Writers share the writers' lock; a group that keeps losing
            // takes it alone (before its snapshot exists, so it cannot lose
            // again). The connection is outside any transaction here: the
            // pool only holds connections that ended theirs.
            let alone = attempt > ALONE_AFTER;
            // Sent one by one: statements of one simple query share an
            // implicit transaction, and a BEGIN after the lock's SELECT
            // could no longer set its isolation level.
            let begin = || {
                if alone {
                    sql(&format!(
                        "SELECT pg_advisory_lock({WRITERS_LOCK}, hashtext(current_schema()))"
                    ))?;
                    sql("BEGIN ISOLATION LEVEL SERIALIZABLE")
                } else {
                    sql(&format!(
                        "BEGIN ISOLATION LEVEL SERIALIZABLE; \
                         SELECT pg_advisory_xact_lock_shared({WRITERS_LOCK}, hashtext(current_schema()))"
                    ))
                }
            };
            let outcome = match begin() {
                Ok(()) => self.attempt_group(handle, &client, &mut group),
                Err(e) if is_conflict(&e) => Attempt::Conflict(e.to_string()),
                Err(e) => Attempt::Failed(db_error(e)),
            };
            if !matches!(outcome, Attempt::Committed(_))
                && let Err(e) = sql("ROLLBACK")
            {
                // A connection that cannot end its transaction must not go
                // back to the pool.
                let e = db_error(e);
                for pending in group {
                    let _ = pending.reply.send(Err(clone_error(&e)));
                }
                drop(deadpool_postgres::Object::take(client));
                return;
            }
            if alone {
                let _ = sql(&format!(
                    "SELECT pg_advisory_unlock({WRITERS_LOCK}, hashtext(current_schema()))"
                ));
            }
            let why = match outcome {
                Attempt::Committed(outcomes) => {
                    for (pending, outcome) in group.into_iter().zip(outcomes) {
                        let _ = pending.reply.send(outcome);
                    }
                    return;
                }
                Attempt::Failed(e) => {
                    for pending in group {
                        let _ = pending.reply.send(Err(clone_error(&e)));
                    }
                    return;
                }
                Attempt::Spoiled(index, outcome) => {
                    let pending = group.remove(index);
                    let _ = pending.reply.send(outcome);
                    attempt -= 1;
                    continue;
                }
                Attempt::Conflict(why) => why,
            };
            if attempt >= MAX_ATTEMPTS {
                for pending in group {
                    let _ = pending.reply.send(Err(Error::Aborted(format!(
                        "the metadata write conflicted with others {MAX_ATTEMPTS} times ({why}); retry"
                    ))));
                }
                return;
            }
            // Back off a little, more each time, so racing replicas spread out.
            let jitter = u64::from(getrandom::u32().unwrap_or(0) % 1000);
            std::thread::sleep(Duration::from_micros(
                (200 << attempt.min(6)) + jitter * u64::from(attempt),
            ));
        }
    }

    /// One attempt at a group inside a begun transaction; commits it if
    /// every job held.
    fn attempt_group(
        &self,
        handle: &Handle,
        client: &deadpool_postgres::Object,
        group: &mut [Pending],
    ) -> Attempt {
        let mut outcomes = Vec::with_capacity(group.len());
        // One view for the whole attempt: its jobs share the transaction.
        let view = TxnView::default();
        for (index, pending) in group.iter_mut().enumerate() {
            let ops = PgOps::new(client, handle, &view);
            // A job that panics must not leave the transaction open or the
            // lock held on a connection the pool hands out again.
            let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // What the job left pending is sent as part of it: its
                // failure (a conflict, most often) is the job's.
                (pending.job)(&ops).and_then(|()| ops.flush())
            })) {
                Ok(outcome) => outcome,
                Err(panic) => {
                    let _ = handle.block_on(
                        client.batch_execute("ROLLBACK; SELECT pg_advisory_unlock_all()"),
                    );
                    std::panic::resume_unwind(panic);
                }
            };
            if ops.conflict.get() {
                return Attempt::Conflict(
                    outcome.err().map_or_else(String::new, |e| e.to_string()),
                );
            }
            if outcome.is_err() && ops.wrote.get() {
                return Attempt::Spoiled(index, outcome);
            }
            outcomes.push(outcome);
        }
        match handle.block_on(client.batch_execute("COMMIT")) {
            Ok(()) => Attempt::Committed(outcomes),
            Err(e) if is_conflict(&e) => Attempt::Conflict(e.to_string()),
            Err(e) => Attempt::Failed(db_error(e)),
        }
    }
}

/// Jobs grouped into one transaction at most.
const MAX_GROUP: usize = 256;

/// How one attempt of a group ended.
enum Attempt {
    /// Committed; each job's own outcome (a job that failed wrote nothing).
    Committed(Vec<Result<()>>),
    /// The job at this index failed after writing: the group must run again
    /// without it.
    Spoiled(usize, Result<()>),
    /// Lost a race; worth running again.
    Conflict(String),
    /// Failed for a reason running it again does not change.
    Failed(Error),
}

fn tls_connector(config: &MetadataConfig) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                Error::InvalidArgument(format!("metadata: reading {}: {e}", path.display()))
            })?;
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let cert: rustls::pki_types::CertificateDer<'static> = cert.map_err(|e| {
                    Error::InvalidArgument(format!("metadata: {}: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| {
                    Error::InvalidArgument(format!("metadata: {}: {e}", path.display()))
                })?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Internal(format!("metadata TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
}

#[async_trait::async_trait]
impl Engine for PostgresEngine {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn read_blocking(&self, job: ReadJob<'_>) -> Result<()> {
        let handle = Handle::current();
        let client = self.shared.client(&handle)?;
        let view = TxnView::default();
        let (outcome, begun) = {
            let ops = PgOps::new(&client, &handle, &view);
            // The transaction begins with the job's first statement, in the
            // same round trip (see `PgOps::opening`).
            ops.opening
                .set(Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&ops))) {
                Ok(outcome) => (outcome, ops.opening.get().is_none()),
                Err(panic) => {
                    // Its transaction may be open: the connection must not
                    // go back to the pool.
                    drop(ops);
                    drop(deadpool_postgres::Object::take(client));
                    std::panic::resume_unwind(panic);
                }
            }
        };
        if begun {
            // The answer does not wait for the end of a read-only
            // transaction; the connection goes back to the pool once it has.
            handle.spawn(async move {
                if client.batch_execute("COMMIT").await.is_err() {
                    drop(deadpool_postgres::Object::take(client));
                }
            });
        }
        outcome
    }

    fn reads_inline(&self) -> bool {
        false
    }

    async fn write(&self, job: WriteJob) -> Result<()> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("the server is shutting down".into()));
        }
        self.committer.submit(job).await
    }

    fn shared(&self) -> bool {
        true
    }

    async fn clock_ms(&self) -> Result<i64> {
        let client = self.shared.pool.get().await.map_err(unavailable)?;
        let row = client
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(row.get(0))
    }

    async fn take_turn(&self, duty: Duty) -> Result<bool> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let key = TURN_LOCK + duty as i32;
        let mut turn = self.turn.lock().await;
        if let Some(held) = turn.as_ref() {
            // Still connected means still held (the lock is the session's).
            if held.simple_query("SELECT 1").await.is_ok() {
                return Ok(true);
            }
            tracing::warn!(?duty, "lost the connection holding a background turn");
            *turn = None;
        }
        let client =
            deadpool_postgres::Object::take(self.shared.pool.get().await.map_err(unavailable)?);
        let taken: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
                &[&key],
            )
            .await
            .map_err(db_error)?
            .get(0);
        if taken {
            tracing::info!(?duty, "this replica took the background turn");
            *turn = Some(client);
        }
        Ok(taken)
    }

    async fn reachable(&self) -> bool {
        match self.shared.pool.get().await {
            Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    fn stored_bytes(&self) -> Option<u64> {
        None
    }

    fn close(&self) {
        // The committer finishes the group it runs (the connection it holds
        // keeps working) and stops; it is not waited for, since its queries
        // may need the very runtime thread that calls this.
        self.committer.stop(false);
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.pool.close();
        // Its connection closing hands the turn to another replica.
        if let Ok(mut turn) = self.turn.try_lock() {
            drop(turn.take());
        }
    }
}

/// What one transaction has learnt of its rows: every row it read and
/// every row it wrote, as the transaction now sees them (`None`: absent).
///
/// Inside one REPEATABLE READ or SERIALIZABLE transaction a row read again
/// is the row of the same snapshot unless the transaction changed it, and
/// every change goes through [`PgOps`], which keeps the view current. So a
/// hit is exactly what the database would answer, one round trip sooner:
/// the jobs of a group mostly read the same rows (the namespace, its
/// usage, the parent directories). A view lives for one attempt; a group
/// run again starts a new one.
#[derive(Default)]
struct TxnView {
    rows: std::cell::RefCell<std::collections::HashMap<RowKey, Option<Vec<u8>>>>,
}

/// A row's table and key.
type RowKey = (&'static str, Vec<u8>);

/// A put waiting to be sent: table, key, value.
type PendingPut = (&'static str, Vec<u8>, Vec<u8>);

/// Rows a view holds before it stops learning from reads; past it, it is
/// emptied whenever no put is pending (pending puts are always kept: they
/// are found there, not in the database).
const VIEW_ROWS: usize = 65_536;

impl TxnView {
    fn lookup(&self, table: &'static str, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.rows.borrow().get(&(table, key.to_vec())).cloned()
    }

    /// A row as the database now has it (a read, or a delete sent): a
    /// known row is updated, a new one kept while the view has room.
    fn learn(&self, table: &'static str, key: &[u8], value: Option<&[u8]>) {
        let mut rows = self.rows.borrow_mut();
        let entry = (table, key.to_vec());
        if let Some(known) = rows.get_mut(&entry) {
            *known = value.map(<[u8]>::to_vec);
        } else if rows.len() < VIEW_ROWS {
            rows.insert(entry, value.map(<[u8]>::to_vec));
        }
    }

    /// A put not sent yet: always kept, as only the view has it.
    fn pending_put(&self, table: &'static str, key: &[u8], value: &[u8]) {
        self.rows
            .borrow_mut()
            .insert((table, key.to_vec()), Some(value.to_vec()));
    }

    /// Called with no put pending: a full view starts again.
    fn settled(&self) {
        let mut rows = self.rows.borrow_mut();
        if rows.len() > VIEW_ROWS {
            rows.clear();
        }
    }

    /// Every known row of `table` in `[start, end)` is now absent.
    fn removed_range(&self, table: &'static str, start: &[u8], end: Option<&[u8]>) {
        for ((t, key), value) in self.rows.borrow_mut().iter_mut() {
            if *t == table && key.as_slice() >= start && end.is_none_or(|end| key.as_slice() < end)
            {
                *value = None;
            }
        }
    }
}

struct PgOps<'a> {
    /// A connection inside a transaction this engine began.
    client: &'a deadpool_postgres::Object,
    handle: &'a Handle,
    /// The transaction's rows as it sees them; gets are answered from it.
    view: &'a TxnView,
    /// A statement to send just before the next one, pipelined with it:
    /// a read-only transaction's BEGIN costs no round trip of its own.
    opening: Cell<Option<&'static str>>,
    /// Whether a statement hit a conflict: the job is run again, whatever
    /// it made of the error.
    conflict: Cell<bool>,
    /// Whether the job changed anything (a failed job that did spoils its
    /// group's transaction).
    wrote: Cell<bool>,
    /// Puts not sent yet: sent as one statement before the next statement
    /// that reads or changes rows and at the end of the job, so a job costs
    /// one statement for all it puts (a checkpoint, a restore or a fork
    /// one per batch, not per row), and its reads still see its writes.
    pending: std::cell::RefCell<Vec<PendingPut>>,
}

/// Puts sent in one statement at most (bounded, so no statement grows
/// without limit).
const MAX_PENDING_PUTS: usize = 1000;

impl<'a> PgOps<'a> {
    fn new(client: &'a deadpool_postgres::Object, handle: &'a Handle, view: &'a TxnView) -> Self {
        PgOps {
            client,
            handle,
            view,
            opening: Cell::new(None),
            conflict: Cell::new(false),
            wrote: Cell::new(false),
            pending: Default::default(),
        }
    }

    /// Sends the pending puts: one multi-row upsert per run of one table
    /// (a later put of a key in the same run wins, as it would have).
    fn flush(&self) -> Result<()> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
        // One upsert may not touch a row twice: a later put of a key wins,
        // as it would have. Rows of different tables are independent, so
        // one statement carries them all.
        let mut latest: std::collections::BTreeMap<RowKey, Vec<u8>> = Default::default();
        for (table, key, value) in pending {
            latest.insert((table, key), value);
        }
        let (mut tables, mut keys, mut values) = (
            Vec::with_capacity(latest.len()),
            Vec::with_capacity(latest.len()),
            Vec::with_capacity(latest.len()),
        );
        for ((table, key), value) in latest {
            tables.push(table);
            keys.push(key);
            values.push(value);
        }
        self.execute_now(
            "INSERT INTO arca_kv (tbl, k, v) \
             SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
             ON CONFLICT (tbl, k_head, k_hash) DO UPDATE SET v = EXCLUDED.v",
            &[&tables, &keys, &values],
        )?;
        self.view.settled();
        Ok(())
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<tokio_postgres::Row>> {
        self.flush()?;
        self.query_now(sql, params)
    }

    /// A query that reads no row of `arca_kv` (the version sequence), so
    /// pending puts need not go first.
    fn query_now(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let opening = self.opening.take();
        self.handle
            .block_on(self.after_opening(opening, async {
                let statement = self.client.prepare_cached(sql).await?;
                self.client.query(&statement, params).await
            }))
            .map_err(|e| self.fail(e))
    }

    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.flush()?;
        self.execute_now(sql, params)
    }

    fn execute_now(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let opening = self.opening.take();
        self.handle
            .block_on(self.after_opening(opening, async {
                let statement = self.client.prepare_cached(sql).await?;
                self.client.execute(&statement, params).await
            }))
            .map_err(|e| self.fail(e))
    }

    /// Runs `statement`, sending `opening` first if there is one. Both go
    /// out before either answer is awaited: the client sends requests in
    /// the order they are first polled, and `join` polls in order.
    async fn after_opening<T>(
        &self,
        opening: Option<&'static str>,
        statement: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> std::result::Result<T, tokio_postgres::Error> {
        match opening {
            None => statement.await,
            Some(opening) => {
                let (opened, answer) =
                    futures::future::join(self.client.batch_execute(opening), statement).await;
                opened?;
                answer
            }
        }
    }

    fn fail(&self, e: tokio_postgres::Error) -> Error {
        if is_conflict(&e) {
            self.conflict.set(true);
            return Error::Aborted(format!("metadata write conflict: {e}"));
        }
        db_error(e)
    }
}

impl ReadOps for PgOps<'_> {
    fn get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(known) = self.view.lookup(table, key) {
            return Ok(known);
        }
        // Not in the view, so not among the pending puts either: the
        // database's answer is current without flushing them.
        let rows = self.query_now(
            &format!(
                "SELECT v FROM arca_kv WHERE tbl = $1 AND k_head = {} AND k_hash = sha256($2)",
                head(2)
            ),
            &[&table, &key],
        )?;
        let value: Option<Vec<u8>> = rows.first().map(|row| row.get(0));
        self.view.learn(table, key, value.as_deref());
        Ok(value)
    }

    fn scan(
        &self,
        table: &'static str,
        start: Bound<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Rows> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (op, from): (&str, &[u8]) = match start {
            Bound::Included(k) => (">=", k),
            Bound::Excluded(k) => (">", k),
            Bound::Unbounded => (">=", &[]),
        };
        // The heads bound the index scan; the keys decide.
        let rows = match end {
            Some(end) => self.query(
                &format!(
                    "SELECT k, v FROM arca_kv WHERE tbl = $1 AND k_head >= {} AND k {op} $2 \
                     AND k_head <= {} AND k < $3 ORDER BY k_head, k LIMIT $4",
                    head(2),
                    head(3)
                ),
                &[&table, &from, &end, &limit],
            )?,
            None => self.query(
                &format!(
                    "SELECT k, v FROM arca_kv WHERE tbl = $1 AND k_head >= {} AND k {op} $2 \
                     ORDER BY k_head, k LIMIT $3",
                    head(2)
                ),
                &[&table, &from, &limit],
            )?,
        };
        let rows: Rows = rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        for (key, value) in &rows {
            self.view.learn(table, key, Some(value));
        }
        Ok(rows)
    }
}

impl WriteOps for PgOps<'_> {
    fn put(&self, table: &'static str, key: &[u8], value: &[u8]) -> Result<()> {
        self.wrote.set(true);
        self.view.pending_put(table, key, value);
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.push((table, key.to_vec(), value.to_vec()));
            pending.len() >= MAX_PENDING_PUTS
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    fn delete(&self, table: &'static str, key: &[u8]) -> Result<bool> {
        self.wrote.set(true);
        if self.view.lookup(table, key) == Some(None) {
            return Ok(false);
        }
        let removed = self.execute(
            &format!(
                "DELETE FROM arca_kv WHERE tbl = $1 AND k_head = {} AND k_hash = sha256($2)",
                head(2)
            ),
            &[&table, &key],
        )?;
        self.view.learn(table, key, None);
        Ok(removed > 0)
    }

    fn delete_range(&self, table: &'static str, start: &[u8], end: Option<&[u8]>) -> Result<u64> {
        self.wrote.set(true);
        let removed = match end {
            Some(end) => self.execute(
                &format!(
                    "DELETE FROM arca_kv WHERE tbl = $1 AND k_head >= {} AND k >= $2 \
                     AND k_head <= {} AND k < $3",
                    head(2),
                    head(3)
                ),
                &[&table, &start, &end],
            ),
            None => self.execute(
                &format!(
                    "DELETE FROM arca_kv WHERE tbl = $1 AND k_head >= {} AND k >= $2",
                    head(2)
                ),
                &[&table, &start],
            ),
        }?;
        self.view.removed_range(table, start, end);
        Ok(removed)
    }

    fn next_version(&self) -> Result<u64> {
        // One at a time, from the database: a version taken ahead of need
        // (a block per replica) would let a replica give an entry a version
        // below the one another replica gave it just before, and versions
        // promise to rise with every change.
        let rows = self.query_now("SELECT nextval('arca_version')", &[])?;
        let value: i64 = rows
            .first()
            .ok_or_else(|| Error::Metadata("nextval returned no row".into()))?
            .get(0);
        u64::try_from(value).map_err(|_| Error::Metadata("negative version".into()))
    }

    fn raise_version(&self, floor: u64) -> Result<()> {
        self.wrote.set(true);
        let floor =
            i64::try_from(floor).map_err(|_| Error::Metadata("version too large".into()))?;
        // setval(.., false) would hand out `floor` itself next; true: floor + 1.
        self.query(
            "SELECT setval('arca_version', GREATEST($1, (SELECT last_value FROM arca_version)), true)",
            &[&floor],
        )?;
        Ok(())
    }
}
