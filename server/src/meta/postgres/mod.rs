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
//! the changes of a whole group go out as one statement before its COMMIT
//! (reads inside the group see them, laid over the database's answers), a
//! read transaction's BEGIN travels with its first statement and its
//! COMMIT is not waited for.
//!
//! Jobs are synchronous (see `engine`): they run on a blocking thread that
//! waits on each statement. The database lost mid-job is UNAVAILABLE and
//! nothing of the job is kept; readiness reports it, and the pool
//! reconnects when it returns.
//!
//! The schema is versioned (`arca_schema`); migrations run at start under
//! an advisory lock, so replicas starting together apply each once, and a
//! database whose schema is newer than this binary is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::runtime::Handle;
use tokio_postgres::error::SqlState;

mod ops;
mod turns;

pub use turns::turn_of;

use super::committer::{Committer, Pending, Waiting, clone_error};
use super::engine::{Duty, Engine, ReadJob, ReadOps, WriteJob};
use crate::config::MetadataConfig;
use crate::error::{Error, Result};
use ops::{PgOps, TxnView};
use turns::{holds_all, take_turns, turn_keys};

/// The schema this binary writes. Each entry of [`MIGRATIONS`] takes the
/// database from its index to the next version.
pub const SCHEMA_VERSION: i32 = 5;

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
    // 2 -> 3: room on every page for a row's next version. Most writes
    // rewrite rows that exist (a namespace's record and usage, an object's
    // references); with a page's slack the new version goes on the same
    // page and no index entry is added (a HOT update). Full pages made
    // every update a new index entry: index bloat on the hottest rows.
    // Pages written from now on keep the slack; no rewrite of the table.
    "ALTER TABLE arca_kv SET (fillfactor = 75);",
    // 3 -> 4: no change to the tables; the rows may now hold checkpoint
    // pages, which a binary of schema 3 cannot read. Its refusal to start
    // against a newer schema keeps it out from here on; replicas of it
    // still running are waited for (`ReplicaRecord::layout`).
    "COMMENT ON TABLE arca_kv IS 'Arca metadata rows; from schema 4 checkpoint entries may be stored in pages';",
    // 4 -> 5: no change to the tables; checkpoints may now hold their
    // namespace's live objects without a reference each, which a binary of
    // schema 4 would miscount (it would reclaim content a checkpoint still
    // holds). Kept out the same way (`ReplicaRecord::layout` 2).
    "COMMENT ON TABLE arca_kv IS 'Arca metadata rows; from schema 5 checkpoints may hold live objects lazily';",
];

/// Set on every connection. Each statement this engine sends reads rows
/// by their key, and is prepared once per connection: PostgreSQL plans it
/// for whatever parameters and then keeps that plan. A table that was
/// small when a statement was first planned made a sequential scan look
/// cheapest (a hash join for the batched reads and deletes), and that plan
/// stayed as the table grew: ms per statement. With sequential scans
/// priced out, every plan is an index plan, whatever the table's size.
/// Bitmap scans too: one returns its rows out of key order, so a scan's
/// page was found by reading the whole rest of its range and sorting it
/// (a recursive List of 100,000 entries took 7 s, against 1 s in order).
const SESSION_SETTINGS: &str = "SET enable_seqscan = off; SET enable_bitmapscan = off";

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
            .post_create(deadpool_postgres::Hook::async_fn(|client, _| {
                Box::pin(async move {
                    client
                        .batch_execute(SESSION_SETTINGS)
                        .await
                        .map_err(deadpool_postgres::HookError::Backend)
                })
            }))
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
        let committer = Committer::spawn("arca-pg-commit", MAX_GROUP, move |group, waiting| {
            let _runtime = handle.enter();
            committer_shared.run_group(&handle, group, waiting);
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
    /// group again; a group that keeps losing runs alone. Once the group
    /// has its turns, the jobs that queued behind it wanting no others
    /// join it.
    fn run_group(&self, handle: &Handle, group: Vec<Pending>, waiting: &mut Waiting<'_>) {
        let client = match self.client(handle) {
            Ok(client) => client,
            Err(e) => {
                for pending in group {
                    let _ = pending.reply.send(Err(clone_error(&e)));
                }
                return;
            }
        };
        let turns = turn_keys(&group);
        let connection = self.run_attempts(handle, &client, group, &turns, waiting);
        match connection {
            // A connection that cannot end its transaction must not go back
            // to the pool.
            Connection::Broken => drop(deadpool_postgres::Object::take(client)),
            Connection::Sound if turns.is_empty() => {}
            // The turns are the session's: given back before the
            // connection goes back to the pool, without the committer
            // waiting for the answer (its next group takes another).
            Connection::Sound => {
                handle.spawn(async move {
                    if client
                        .batch_execute("SELECT pg_advisory_unlock_all()")
                        .await
                        .is_err()
                    {
                        drop(deadpool_postgres::Object::take(client));
                    }
                });
            }
        }
    }

    /// The attempts at a group on `client` until it is answered; whether
    /// the connection is still fit for the pool. The group's `turns` (see
    /// [`turn_keys`]) are taken just before the first BEGIN; the jobs of
    /// `waiting` that want no other turns join the group then.
    fn run_attempts(
        &self,
        handle: &Handle,
        client: &deadpool_postgres::Object,
        mut group: Vec<Pending>,
        turns: &[i64],
        waiting: &mut Waiting<'_>,
    ) -> Connection {
        let mut turns = take_turns(turns);
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
            let mut begin = || {
                if alone {
                    sql(&format!(
                        "SELECT pg_advisory_lock({WRITERS_LOCK}, hashtext(current_schema()))"
                    ))?;
                    return sql("BEGIN ISOLATION LEVEL SERIALIZABLE");
                }
                let begin = format!(
                    "BEGIN ISOLATION LEVEL SERIALIZABLE; \
                     SELECT pg_advisory_xact_lock_shared({WRITERS_LOCK}, hashtext(current_schema()))"
                );
                match turns.take() {
                    None => sql(&begin),
                    // Two queries, sent back to back: the turns are taken
                    // before the transaction's first statement takes its
                    // snapshot, with no round trip of their own. Failing
                    // to take them costs only the waiting they save.
                    Some((statement, held)) => {
                        let (took, begun) = handle.block_on(futures::future::join(
                            client.batch_execute(&statement),
                            client.batch_execute(&begin),
                        ));
                        match took {
                            // Writers that queued while this group waited
                            // for its turn commit with it: a contended row
                            // then costs fewer commits, not more.
                            Ok(()) => group.extend(waiting.take_more(|job| holds_all(held, job))),
                            Err(e) => {
                                tracing::debug!(error = %e, "could not take a group's turns")
                            }
                        }
                        begun
                    }
                }
            };
            let outcome = match begin() {
                Ok(()) => self.attempt_group(handle, client, &mut group),
                Err(e) if is_conflict(&e) => Attempt::Conflict(e.to_string()),
                Err(e) => Attempt::Failed(db_error(e)),
            };
            if !matches!(outcome, Attempt::Committed(_))
                && let Err(e) = sql("ROLLBACK")
            {
                let e = db_error(e);
                for pending in group {
                    let _ = pending.reply.send(Err(clone_error(&e)));
                }
                return Connection::Broken;
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
                    return Connection::Sound;
                }
                Attempt::Failed(e) => {
                    for pending in group {
                        let _ = pending.reply.send(Err(clone_error(&e)));
                    }
                    return Connection::Sound;
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
                return Connection::Sound;
            }
            // Back off a little, more each time, so racing replicas spread out.
            let jitter = u64::from(getrandom::u32().unwrap_or(0) % 1000);
            std::thread::sleep(Duration::from_micros(
                (200 << attempt.min(6)) + jitter * u64::from(attempt),
            ));
        }
        Connection::Sound
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
        let view = TxnView::for_jobs(group.len());
        // The rows every job said it reads, in one round trip for the
        // group rather than one per job.
        let reads: Vec<(&'static str, Vec<u8>)> = group
            .iter_mut()
            .flat_map(|pending| pending.job.reads.iter().cloned())
            .collect();
        let ops = PgOps::new(client, handle, &view);
        if let Err(e) = ops.prefetch(&reads) {
            return if ops.conflict.get() {
                Attempt::Conflict(e.to_string())
            } else {
                Attempt::Failed(e)
            };
        }
        for (index, pending) in group.iter_mut().enumerate() {
            let ops = PgOps::new(client, handle, &view);
            // A job that panics must not leave the transaction open or the
            // lock held on a connection the pool hands out again.
            // What the job leaves pending waits for the group's end.
            let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (pending.job.run)(&ops)
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
            if outcome.is_err() {
                if ops.wrote.get() {
                    return Attempt::Spoiled(index, outcome);
                }
                // Its changes never left the view: taken back there, the
                // transaction is as if it had not run.
                ops.undo_job();
            }
            outcomes.push(outcome);
        }
        // Every job's changes, in one statement of each kind.
        let ops = PgOps::new(client, handle, &view);
        if let Err(e) = ops.flush() {
            return if ops.conflict.get() {
                Attempt::Conflict(e.to_string())
            } else {
                Attempt::Failed(e)
            };
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

/// Whether a connection a group ran on may go back to the pool.
enum Connection {
    Sound,
    /// It could not end its transaction.
    Broken,
}

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

    async fn fetch(&self, rows: &[(&'static str, Vec<u8>)]) -> Result<Vec<Option<Vec<u8>>>> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("the server is shutting down".into()));
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // One statement outside any transaction: its snapshot is its own
        // and covers every row, so it needs no BEGIN and no COMMIT (pgbench
        // on the two cores the benchmark ran on: 25,000 bare primary-key
        // SELECTs/s, 10,400/s each in a transaction of its own).
        let client = self.shared.pool.get().await.map_err(unavailable)?;
        let tables: Vec<&str> = rows.iter().map(|(table, _)| *table).collect();
        let keys: Vec<&[u8]> = rows.iter().map(|(_, key)| key.as_slice()).collect();
        let statement = client
            .prepare_cached(ops::rows_sql())
            .await
            .map_err(db_error)?;
        let found = client
            .query(&statement, &[&tables, &keys])
            .await
            .map_err(db_error)?;
        if found.len() != rows.len() {
            return Err(Error::Metadata(format!(
                "a fetch of {} rows answered {}",
                rows.len(),
                found.len()
            )));
        }
        Ok(found.into_iter().map(|row| row.get(0)).collect())
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
