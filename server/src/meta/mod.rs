//! Metadata: namespaces, entries, objects with reference counts, uploads,
//! sessions, usage, checkpoints and the reclaim queues, behind one engine
//! boundary.
//!
//! The metadata commit is the single moment a change becomes visible. The
//! core states its rules as jobs over typed tables ([`Reader`] for a
//! snapshot, [`Writer`] for a transaction); [`MetaStore`] runs them on an
//! [`Engine`] — redb embedded (`redb`), or PostgreSQL shared by replicas —
//! which only ever sees bytes. A write job may run more than once (an
//! engine retries on conflict), so it derives everything from what it reads;
//! a job that returns an error has changed nothing, whatever it wrote first.
//!
//! This module owns the table layout (`tables`), the key encoding (`keys`),
//! the records (`records`) and the one pager ([`Reader::page`]); policy
//! (what may change, and when) lives in `crate::core`.

mod committer;
pub mod conformance;
pub mod engine;
pub mod faulty;
mod fetched;
pub mod import;
pub mod keys;
mod legacy;
pub mod postgres;
pub mod records;
pub mod redb;
pub mod tables;

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

pub use engine::{Duty, Engine, ReadOps, WriteJob, WriteOps};
pub use records::*;
pub use tables::*;

use crate::error::{Error, Result};

/// The metadata store: typed jobs over one engine.
#[derive(Clone)]
pub struct MetaStore {
    engine: Arc<dyn Engine>,
    /// The engine's clock minus this process's, in ms (0 for an embedded
    /// engine): every expiry is judged on the engine's clock.
    clock_offset_ms: Arc<AtomicI64>,
    /// Rung with a namespace's id after each commit that logged changes to
    /// it, so this process's watchers need not wait for their next poll.
    bell: tokio::sync::broadcast::Sender<Arc<str>>,
}

/// How often a shared engine's clock is sampled again.
/// redb's page cache unless configured (`[metadata] redb_cache_mib`):
/// enough for the hot metadata of a busy replica, far below redb's own
/// 1 GiB default.
pub const DEFAULT_REDB_CACHE_MIB: usize = 64;

const CLOCK_SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl MetaStore {
    /// Runs over `engine`, on this process's clock until
    /// [`MetaStore::follow_engine_clock`].
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        MetaStore {
            engine,
            clock_offset_ms: Arc::new(AtomicI64::new(0)),
            // A watcher that lags behind the bell loses nothing: it looks
            // at the log again (see `crate::core::changes`).
            bell: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// The engine the configuration names.
    pub async fn open(config: &crate::Config) -> Result<Self> {
        let store = match config.metadata.engine {
            crate::config::MetadataEngine::Redb => Self::new(Arc::new(redb::RedbEngine::open(
                &config.metadata_path(),
                ALL,
                config.metadata.redb_cache_mib << 20,
            )?)),
            crate::config::MetadataEngine::Postgres => Self::new(Arc::new(
                postgres::PostgresEngine::open(&config.metadata).await?,
            )),
        };
        store.follow_engine_clock().await?;
        Ok(store)
    }

    /// The embedded engine on the redb file at `path`.
    pub fn open_redb(path: &std::path::Path) -> Result<Self> {
        Ok(Self::new(Arc::new(redb::RedbEngine::open(
            path,
            ALL,
            DEFAULT_REDB_CACHE_MIB << 20,
        )?)))
    }

    /// For a shared engine: samples its clock now and then keeps sampling
    /// it in the background (while the store lives), so that leases and
    /// expiries read the same time on every replica.
    pub async fn follow_engine_clock(&self) -> Result<()> {
        if !self.engine.shared() {
            return Ok(());
        }
        self.sample_clock().await?;
        let store = Arc::downgrade(&self.clock_offset_ms);
        let engine = Arc::downgrade(&self.engine);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CLOCK_SAMPLE_EVERY).await;
                let (Some(offset), Some(engine)) = (store.upgrade(), engine.upgrade()) else {
                    return;
                };
                let sampler = MetaStore {
                    engine,
                    clock_offset_ms: offset,
                    bell: tokio::sync::broadcast::channel(1).0,
                };
                // An unreachable engine keeps the last offset; the clocks
                // do not drift apart in seconds.
                let _ = sampler.sample_clock().await;
            }
        });
        Ok(())
    }

    async fn sample_clock(&self) -> Result<()> {
        let before = local_clock_ms();
        let engine_now = self.engine.clock_ms().await?;
        let after = local_clock_ms();
        // The engine read its clock somewhere in the round trip: assume the
        // middle, so the error is at most half the round trip.
        let offset = engine_now - (before + (after - before) / 2);
        self.clock_offset_ms.store(offset, Ordering::Relaxed);
        Ok(())
    }

    /// Milliseconds since the epoch on the engine's clock.
    pub fn now_ms(&self) -> i64 {
        local_clock_ms().saturating_add(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// Runs `f` on a consistent snapshot. Meant for short reads (a few
    /// lookups): an embedded engine answers them on the calling task.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if self.engine.reads_inline() {
            run_read(&*self.engine, self.now_ms(), f)
        } else {
            self.scan(f).await
        }
    }

    /// [`MetaStore::read`] for a job that names the rows it reads
    /// (`wanted`, called only where it helps). On an engine whose reads
    /// are round trips those rows come in one statement
    /// ([`Engine::fetch`]) and `f` runs on them on this task: no
    /// transaction to begin and end, no blocking thread. A job that reads
    /// rows it did not name runs again on those rows and the named ones,
    /// fetched together in one statement again (a row that leads to
    /// another: a namespace to its session); one that scans, or keeps
    /// straying, runs again as a read job. So `f` may run more than once
    /// (it derives its answer from what it reads).
    pub async fn read_named<T: Send + 'static>(
        &self,
        wanted: impl FnOnce() -> Wanted,
        f: impl Fn(&Reader<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if self.engine.reads_inline() {
            return run_read(&*self.engine, self.now_ms(), f);
        }
        self.read_fetched(wanted, f).await
    }

    /// [`MetaStore::read_named`] on the fetched rows, whatever the engine.
    async fn read_fetched<T: Send + 'static>(
        &self,
        wanted: impl FnOnce() -> Wanted,
        f: impl Fn(&Reader<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        /// Fetches before a job that keeps wanting more runs as a read job.
        const FETCHES: usize = 3;
        let mut named = wanted().rows;
        for fetch in 1..=FETCHES {
            let values = self.engine.fetch(&named).await?;
            let answered = {
                let fetched = fetched::Fetched::new(named.clone(), values);
                let outcome = f(&Reader {
                    ops: &fetched,
                    now_ms: self.now_ms(),
                });
                match fetched.strayed() {
                    fetched::Strayed::No => Ok(outcome),
                    fetched::Strayed::Rows(more) => Err(Some(more)),
                    fetched::Strayed::Scanned => Err(None),
                }
            };
            match answered {
                Ok(outcome) => return outcome,
                Err(Some(_)) if fetch == FETCHES => break,
                Err(Some(more)) => {
                    crate::metrics::metrics().named_read_retry("fetch");
                    named.extend(more);
                }
                Err(None) => break,
            }
        }
        crate::metrics::metrics().named_read_retry("read_job");
        self.scan(f).await
    }

    /// Runs `f` on a consistent snapshot on a blocking thread, for reads
    /// that scan much.
    pub async fn scan<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (engine, store) = (self.engine.clone(), self.clone());
        tokio::task::spawn_blocking(move || run_read(&*engine, store.now_ms(), f))
            .await
            .map_err(|e| Error::Internal(format!("metadata read task failed: {e}")))?
    }

    /// Runs `f` in a write transaction and returns its result once the
    /// transaction is durably committed. `f` may run more than once.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl Fn(&Writer<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_reading(Wanted::default, f).await
    }

    /// [`MetaStore::write`] for a job that will read the rows `reads` (see
    /// [`WriteJob::reads`]): on a shared engine the rows of a whole group
    /// of such jobs come in one round trip.
    pub async fn write_reading<T: Send + 'static>(
        &self,
        reads: impl FnOnce() -> Wanted,
        f: impl Fn(&Writer<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // Named only for an engine whose reads are round trips.
        let reads = match self.engine.reads_inline() {
            true => Wanted::default(),
            false => reads(),
        };
        let slot = Arc::new(Mutex::new(None));
        let job_slot = slot.clone();
        let store = self.clone();
        self.engine
            .write(WriteJob {
                reads: reads.rows,
                turns: reads.turns,
                run: Box::new(move |ops: &dyn WriteOps| {
                    let writer = Writer::new(ops, store.now_ms());
                    let value = f(&writer)?;
                    let announced = std::mem::take(&mut *writer.announced.lock().unwrap());
                    *job_slot.lock().unwrap() = Some((value, announced));
                    Ok(())
                }),
            })
            .await?;
        let done = slot.lock().unwrap().take();
        let (value, announced) =
            done.ok_or_else(|| Error::Internal("a committed metadata job left no result".into()))?;
        for ns_id in announced {
            // No receiver is not an error: nobody watches.
            let _ = self.bell.send(ns_id.into());
        }
        Ok(value)
    }

    /// The bell rung after each commit that logged changes to a namespace
    /// (with its id).
    pub fn bell(&self) -> tokio::sync::broadcast::Receiver<Arc<str>> {
        self.bell.subscribe()
    }

    /// Finishes queued writes and closes the engine.
    pub fn close(&self) {
        self.engine.close();
    }
}

fn run_read<T>(
    engine: &dyn Engine,
    now_ms: i64,
    f: impl FnOnce(&Reader<'_>) -> Result<T>,
) -> Result<T> {
    let mut f = Some(f);
    let mut out = None;
    engine.read_blocking(&mut |ops: &dyn ReadOps| {
        let f = f
            .take()
            .ok_or_else(|| Error::Internal("a read job ran twice".into()))?;
        out = Some(f(&Reader { ops, now_ms })?);
        Ok(())
    })?;
    out.ok_or_else(|| Error::Internal("a read job did not run".into()))
}

/// A range of keys of one table: those starting with a prefix, from a
/// start key on.
#[derive(Debug, Clone)]
pub struct Span {
    start: Bound<Vec<u8>>,
    end: Option<Vec<u8>>,
}

impl Span {
    /// The whole table.
    pub fn all() -> Span {
        Span {
            start: Bound::Unbounded,
            end: None,
        }
    }

    /// Keys whose first components are `complete` and whose next one starts
    /// with `partial` (`""`: any).
    pub fn under(complete: &[&str], partial: &str) -> Span {
        let prefix = keys::prefix(complete, partial);
        Span {
            end: keys::prefix_end(&prefix),
            start: Bound::Included(prefix),
        }
    }

    /// The same span, from strictly after `key` (the encoded key) on, if
    /// that is later than its start.
    pub fn after(mut self, key: Vec<u8>) -> Span {
        let later = match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= *s,
            Bound::Excluded(s) => key > *s,
        };
        if later {
            self.start = Bound::Excluded(key);
        }
        self
    }
}

/// What the pager does with a row.
pub enum Step<T> {
    /// Include this item.
    Take(T),
    /// Leave this row out.
    Skip,
    /// Leave this row out and go on from the encoded key (inclusive).
    SeekTo(Vec<u8>),
    /// End the page here, with no more to follow.
    Stop,
}

/// One page of a scan.
pub struct Paged<K, T> {
    /// The items taken, in key order, with their keys.
    pub items: Vec<(K, T)>,
    /// Whether more items follow the last one.
    pub more: bool,
}

/// Rows fetched a batch at a time, so that a scan of any length holds
/// a bounded amount and engines answer with bounded queries.
pub struct RowIter<'r, K, V> {
    ops: &'r dyn ReadOps,
    table: &'static str,
    start: Bound<Vec<u8>>,
    end: Option<Vec<u8>>,
    batch: VecDeque<(Vec<u8>, Vec<u8>)>,
    batch_size: usize,
    exhausted: bool,
    shape: std::marker::PhantomData<fn() -> (K, V)>,
}

const FIRST_BATCH: usize = 32;
const LARGEST_BATCH: usize = 1024;

impl<K: KeyShape, V: ValueCodec> RowIter<'_, K, V> {
    /// Goes on from the encoded `key` (inclusive), dropping what was fetched.
    pub fn seek(&mut self, key: Vec<u8>) {
        self.batch.clear();
        self.start = Bound::Included(key);
        self.exhausted = false;
    }

    /// The next row as bytes (the key undecoded).
    fn next_raw(&mut self) -> Option<Result<(Vec<u8>, Vec<u8>)>> {
        if self.batch.is_empty() && !self.exhausted {
            let start = match &self.start {
                Bound::Included(k) => Bound::Included(k.as_slice()),
                Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
                Bound::Unbounded => Bound::Unbounded,
            };
            match self
                .ops
                .scan(self.table, start, self.end.as_deref(), self.batch_size)
            {
                Ok(rows) => {
                    self.exhausted = rows.len() < self.batch_size;
                    self.batch_size = (self.batch_size * 2).min(LARGEST_BATCH);
                    if let Some((last, _)) = rows.last() {
                        self.start = Bound::Excluded(last.clone());
                    }
                    self.batch.extend(rows);
                }
                Err(e) => {
                    self.exhausted = true;
                    return Some(Err(e));
                }
            }
        }
        self.batch.pop_front().map(Ok)
    }
}

impl<K: KeyShape, V: ValueCodec> Iterator for RowIter<'_, K, V> {
    type Item = Result<(K::Owned, V::Owned)>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = self.next_raw()?;
        Some(row.and_then(|(k, v)| Ok((K::decode(&k)?, V::decode(&v)?))))
    }
}

/// Rows a job is about to read, of any tables (see [`Reader::prefetch`]).
#[derive(Default)]
pub struct Wanted {
    rows: Vec<(&'static str, Vec<u8>)>,
    /// Those of them a write job takes turns on (see [`WriteJob::turns`]).
    turns: Vec<(&'static str, Vec<u8>)>,
}

impl Wanted {
    /// The row at `key` of `table`, which the job rewrites as every writer
    /// of it does: read ahead, and taken in turns by the writers of a
    /// shared engine (see [`WriteJob::turns`]).
    pub fn contended_row<K: KeyShape, V>(mut self, table: &Table<K, V>, key: K::Ref<'_>) -> Self {
        let key = K::encode(key);
        self.turns.push((table.name, key.clone()));
        self.rows.push((table.name, key));
        self
    }

    /// The row at `key` of `table`.
    pub fn row<K: KeyShape, V>(mut self, table: &Table<K, V>, key: K::Ref<'_>) -> Self {
        self.rows.push((table.name, K::encode(key)));
        self
    }

    /// The rows at `keys` of `table`.
    pub fn rows<'k, K: KeyShape + 'k, V>(
        mut self,
        table: &Table<K, V>,
        keys: impl IntoIterator<Item = K::Ref<'k>>,
    ) -> Self {
        self.rows
            .extend(keys.into_iter().map(|key| (table.name, K::encode(key))));
        self
    }
}

/// Typed reads on a snapshot (or inside a write transaction).
pub struct Reader<'a> {
    ops: &'a dyn ReadOps,
    now_ms: i64,
}

impl<'a> Reader<'a> {
    /// The engine's time when the job began, ms since the epoch: what every
    /// expiry the job judges is compared with.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The value at `key`.
    pub fn get<K: KeyShape, V: ValueCodec>(
        &self,
        table: &Table<K, V>,
        key: K::Ref<'_>,
    ) -> Result<Option<V::Owned>> {
        match self.ops.get(table.name, &K::encode(key))? {
            Some(bytes) => Ok(Some(V::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Whether the engine fetches rows ahead (see [`Reader::prefetch`]):
    /// worth reading a few rows first to name the rows they lead to.
    pub fn fetches_ahead(&self) -> bool {
        self.ops.fetches_ahead()
    }

    /// Tells the engine the rows `wanted` names are read next (see
    /// [`ReadOps::prefetch`]): a job that reads many known rows one by one
    /// then costs one round trip per thousand, not one per row. `wanted` is
    /// called only for an engine that fetches ahead, so an embedded one
    /// pays nothing for the keys (a commit names dozens).
    pub fn prefetch(&self, wanted: impl FnOnce() -> Wanted) -> Result<()> {
        if !self.ops.fetches_ahead() {
            return Ok(());
        }
        let wanted = wanted();
        if wanted.rows.is_empty() {
            return Ok(());
        }
        self.ops.prefetch(&wanted.rows)
    }

    /// The rows of `span`, in key order, fetched as they are consumed.
    pub fn rows<K: KeyShape, V: ValueCodec>(
        &self,
        table: &Table<K, V>,
        span: Span,
    ) -> RowIter<'a, K, V> {
        RowIter {
            ops: self.ops,
            table: table.name,
            start: span.start,
            end: span.end,
            batch: VecDeque::new(),
            batch_size: FIRST_BATCH,
            exhausted: false,
            shape: std::marker::PhantomData,
        }
    }

    /// The keys of `span`, in order.
    pub fn keys<K: KeyShape, V: ValueCodec>(
        &self,
        table: &Table<K, V>,
        span: Span,
    ) -> Result<Vec<K::Owned>> {
        let mut rows = self.rows(table, span);
        let mut out = Vec::new();
        while let Some(row) = rows.next_raw() {
            out.push(K::decode(&row?.0)?);
        }
        Ok(out)
    }

    /// The one pager: up to `limit` items of `span` made by `step` from its
    /// rows in key order, and whether more follow (found by looking one
    /// item past the page, so a page that ends the scan says so).
    pub fn page<K: KeyShape, V: ValueCodec, T>(
        &self,
        table: &Table<K, V>,
        span: Span,
        limit: usize,
        mut step: impl FnMut(&K::Owned, V::Owned) -> Result<Step<T>>,
    ) -> Result<Paged<K::Owned, T>> {
        let mut rows = self.rows(table, span);
        let mut items = Vec::new();
        while let Some(row) = rows.next() {
            let (key, value) = row?;
            match step(&key, value)? {
                Step::Take(_) if items.len() == limit => {
                    return Ok(Paged { items, more: true });
                }
                Step::Take(item) => items.push((key, item)),
                Step::Skip => {}
                Step::SeekTo(to) => rows.seek(to),
                Step::Stop => break,
            }
        }
        Ok(Paged { items, more: false })
    }
}

/// Typed reads and writes in one transaction. Reads see its own writes.
pub struct Writer<'a> {
    ops: &'a dyn WriteOps,
    reader: Reader<'a>,
    /// Namespaces whose change log this job wrote (rung once committed).
    announced: Mutex<Vec<String>>,
}

impl<'a> std::ops::Deref for Writer<'a> {
    type Target = Reader<'a>;
    fn deref(&self) -> &Reader<'a> {
        &self.reader
    }
}

impl<'a> Writer<'a> {
    fn new(ops: &'a dyn WriteOps, now_ms: i64) -> Self {
        Writer {
            ops,
            reader: Reader { ops, now_ms },
            announced: Mutex::new(Vec::new()),
        }
    }

    /// Rings the bell for `ns_id` once this job commits (not if it fails).
    pub fn announce(&self, ns_id: &str) {
        let mut announced = self.announced.lock().unwrap();
        if !announced.iter().any(|id| id == ns_id) {
            announced.push(ns_id.to_owned());
        }
    }

    /// Stores `value` at `key`.
    pub fn put<K: KeyShape, V: ValueCodec>(
        &self,
        table: &Table<K, V>,
        key: K::Ref<'_>,
        value: &V::Ref,
    ) -> Result<()> {
        self.ops.put(table.name, &K::encode(key), &V::encode(value))
    }

    /// Removes `key`; whether it was there.
    pub fn delete<K: KeyShape, V: ValueCodec>(
        &self,
        table: &Table<K, V>,
        key: K::Ref<'_>,
    ) -> Result<bool> {
        self.ops.delete(table.name, &K::encode(key))
    }

    /// Removes every row of `span`; how many.
    pub fn delete_span<K: KeyShape, V: ValueCodec>(
        &self,
        table: &Table<K, V>,
        span: Span,
    ) -> Result<u64> {
        let start = match span.start {
            Bound::Included(k) => k,
            Bound::Excluded(k) => keys::successor(&k),
            Bound::Unbounded => Vec::new(),
        };
        self.ops
            .delete_range(table.name, &start, span.end.as_deref())
    }

    /// A new entry version (see [`WriteOps::next_version`]).
    pub fn next_version(&self) -> Result<u64> {
        self.ops.next_version()
    }

    /// Later versions exceed `floor` (see [`WriteOps::raise_version`]).
    pub fn raise_version(&self, floor: u64) -> Result<()> {
        self.ops.raise_version(floor)
    }
}

/// The encoded key of `key` in `table`, for [`Span::after`] and
/// [`Step::SeekTo`].
pub fn key_of<K: KeyShape, V>(_table: &Table<K, V>, key: K::Ref<'_>) -> Vec<u8> {
    K::encode(key)
}

/// Milliseconds since the epoch on this process's clock (the engine's may
/// differ: use [`MetaStore::now_ms`] or [`Reader::now_ms`]).
pub(crate) fn local_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
