//! The operations of one PostgreSQL transaction: the rows it has seen
//! (`TxnView`), the puts it has not sent yet, and the statements behind
//! every read and write a job makes (`PgOps`).

use std::cell::Cell;
use std::ops::Bound;

use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;

use super::{KEY_HEAD_BYTES, db_error, head, is_conflict};
use crate::error::{Error, Result};
use crate::meta::engine::{ReadOps, Rows, WriteOps};

/// What one transaction has learnt of its rows: every row it read and
/// every row it wrote, as the transaction now sees them (`None`: absent),
/// and the changes it has not sent yet.
///
/// Inside one REPEATABLE READ or SERIALIZABLE transaction a row read again
/// is the row of the same snapshot unless the transaction changed it, and
/// every change goes through [`PgOps`], which keeps the view current. So a
/// hit is exactly what the database would answer, one round trip sooner:
/// the jobs of a group mostly read the same rows (the namespace, its
/// usage, the parent directories). A view lives for one attempt; a group
/// run again starts a new one.
///
/// The changes wait here for the whole attempt, not one job: a group of
/// small writes sends all its rows in one statement before its COMMIT, and
/// a job that fails before any of its changes went out is undone here
/// without touching the database (see [`PgOps::undo_job`]).
#[derive(Default)]
pub(super) struct TxnView {
    rows: std::cell::RefCell<std::collections::HashMap<RowKey, Option<Vec<u8>>>>,
    /// Changes not sent yet, oldest first.
    pending: std::cell::RefCell<Vec<PendingChange>>,
    /// Versions this transaction took from the sequence and has not handed
    /// out yet, in rising order.
    versions: std::cell::RefCell<std::collections::VecDeque<u64>>,
    /// How many versions the next draw takes (doubling, so a restore of
    /// thousands of entries takes them in a few statements and a small
    /// write in one).
    version_draw: Cell<i64>,
}

/// The most versions one statement takes from the sequence.
const MAX_VERSION_DRAW: i64 = 1024;

/// A row's table and key.
type RowKey = (&'static str, Vec<u8>);

/// A change waiting to be sent: table, key, and the value to put (`None`:
/// a delete of a row the transaction knows is there).
type PendingChange = (&'static str, Vec<u8>, Option<Vec<u8>>);

/// What the view knew of a row before a job changed it (`None`: nothing),
/// so that a failed job's change can be taken back.
type Prior = (RowKey, Option<Option<Vec<u8>>>);

/// Rows a view holds before it stops learning from reads; past it, it is
/// emptied whenever no put is pending (pending puts are always kept: they
/// are found there, not in the database).
const VIEW_ROWS: usize = 65_536;

impl TxnView {
    /// The view of an attempt at a group of `jobs` jobs: its first draw of
    /// versions takes two per job, as a small commit takes one or two (its
    /// file's, and a new parent directory's).
    pub(super) fn for_jobs(jobs: usize) -> Self {
        let view = TxnView::default();
        let draw = i64::try_from(jobs.saturating_mul(2)).unwrap_or(MAX_VERSION_DRAW);
        view.version_draw.set(draw.min(MAX_VERSION_DRAW));
        view
    }

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

    /// A change not sent yet (`None`: a delete): always kept, as only the
    /// view has it. Returns what the view knew before.
    fn change(&self, table: &'static str, key: &[u8], value: Option<&[u8]>) -> Prior {
        let row = (table, key.to_vec());
        let before = self
            .rows
            .borrow_mut()
            .insert(row.clone(), value.map(<[u8]>::to_vec));
        self.pending
            .borrow_mut()
            .push((table, key.to_vec(), value.map(<[u8]>::to_vec)));
        (row, before)
    }

    /// Takes back the last `count` changes and what they did to the view
    /// (`priors` in the order they were made).
    fn take_back(&self, count: usize, priors: Vec<Prior>) {
        let mut pending = self.pending.borrow_mut();
        let keep = pending.len().saturating_sub(count);
        pending.truncate(keep);
        let mut rows = self.rows.borrow_mut();
        for (row, before) in priors.into_iter().rev() {
            match before {
                Some(value) => rows.insert(row, value),
                None => rows.remove(&row),
            };
        }
    }

    /// The changes not sent yet, each key's latest, leaving none behind.
    fn take_pending(&self) -> Vec<PendingChange> {
        std::mem::take(&mut *self.pending.borrow_mut())
    }

    /// The latest pending change of each key of `table` in the range, in
    /// key order.
    fn pending_in(
        &self,
        table: &'static str,
        start: Bound<&[u8]>,
        end: Option<&[u8]>,
    ) -> std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        let mut latest = std::collections::BTreeMap::new();
        for (t, key, value) in self.pending.borrow().iter() {
            let after_start = match start {
                Bound::Included(s) => key.as_slice() >= s,
                Bound::Excluded(s) => key.as_slice() > s,
                Bound::Unbounded => true,
            };
            if *t == table && after_start && end.is_none_or(|end| key.as_slice() < end) {
                latest.insert(key.clone(), value.clone());
            }
        }
        latest
    }

    /// Called with no change pending: a full view starts again.
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

/// The statement that reads rows by key: `$1` their tables, `$2` their
/// keys; one answer row each, in order, holding the value or NULL.
pub(super) fn rows_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        // One index lookup per key, whatever the plan: a subquery per row,
        // not a join the planner may hash.
        format!(
            "SELECT (SELECT kv.v FROM arca_kv AS kv WHERE kv.tbl = u.t \
             AND kv.k_head = substring(u.k FROM 1 FOR {KEY_HEAD_BYTES}) \
             AND kv.k_hash = sha256(u.k)) \
             FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS u(t, k, n) ORDER BY u.n"
        )
    });
    &SQL
}

pub(super) struct PgOps<'a> {
    /// A connection inside a transaction this engine began.
    client: &'a deadpool_postgres::Object,
    handle: &'a Handle,
    /// The transaction's rows as it sees them, and its unsent changes:
    /// gets are answered from it.
    view: &'a TxnView,
    /// A statement to send just before the next one, pipelined with it:
    /// a read-only transaction's BEGIN costs no round trip of its own.
    pub(super) opening: Cell<Option<&'static str>>,
    /// Whether a statement hit a conflict: the job is run again, whatever
    /// it made of the error.
    pub(super) conflict: Cell<bool>,
    /// Whether a change of this job reached the database (a failed job
    /// that sent one spoils its group's transaction; one whose changes all
    /// still wait in the view is taken back there).
    pub(super) wrote: Cell<bool>,
    /// This job's changes still waiting in the view (the last ones there).
    queued: Cell<usize>,
    /// What the view knew of each row before this job's waiting changes.
    priors: std::cell::RefCell<Vec<Prior>>,
}

/// Changes sent in one statement at most (bounded, so no statement grows
/// without limit).
const MAX_PENDING_PUTS: usize = 1000;

impl<'a> PgOps<'a> {
    pub(super) fn new(
        client: &'a deadpool_postgres::Object,
        handle: &'a Handle,
        view: &'a TxnView,
    ) -> Self {
        PgOps {
            client,
            handle,
            view,
            opening: Cell::new(None),
            conflict: Cell::new(false),
            wrote: Cell::new(false),
            queued: Cell::new(0),
            priors: Default::default(),
        }
    }

    /// Takes back this job's changes that have not been sent (for a job
    /// that failed with none sent: [`PgOps::wrote`] is false).
    pub(super) fn undo_job(&self) {
        let priors = std::mem::take(&mut *self.priors.borrow_mut());
        self.view.take_back(self.queued.replace(0), priors);
    }

    /// Sends the pending changes, every job's: one multi-row delete and one
    /// multi-row upsert (a later change of a key wins, as it would have).
    pub(super) fn flush(&self) -> Result<()> {
        let pending = self.view.take_pending();
        if pending.is_empty() {
            return Ok(());
        }
        // This job's own changes go out now: it can no longer be undone.
        if self.queued.replace(0) > 0 {
            self.wrote.set(true);
        }
        self.priors.borrow_mut().clear();
        // One statement may not touch a row twice: only the last change of
        // a key counts, and then deletes and puts touch different rows, so
        // their order does not matter. Rows of different tables are
        // independent, so one statement carries them all.
        let mut latest: std::collections::BTreeMap<RowKey, Option<Vec<u8>>> = Default::default();
        for (table, key, value) in pending {
            latest.insert((table, key), value);
        }
        let (mut put_tables, mut put_keys, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let (mut gone_tables, mut gone_keys) = (Vec::new(), Vec::new());
        for ((table, key), value) in latest {
            match value {
                Some(value) => {
                    put_tables.push(table);
                    put_keys.push(key);
                    values.push(value);
                }
                None => {
                    gone_tables.push(table);
                    gone_keys.push(key);
                }
            }
        }
        if !gone_keys.is_empty() {
            self.execute_now(
                &format!(
                    "DELETE FROM arca_kv AS kv \
                     USING unnest($1::text[], $2::bytea[]) AS gone(tbl, k) \
                     WHERE kv.tbl = gone.tbl \
                     AND kv.k_head = substring(gone.k FROM 1 FOR {KEY_HEAD_BYTES}) \
                     AND kv.k_hash = sha256(gone.k)"
                ),
                &[&gone_tables, &gone_keys],
            )?;
        }
        if !put_keys.is_empty() {
            self.execute_now(
                "INSERT INTO arca_kv (tbl, k, v) \
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
                 ON CONFLICT (tbl, k_head, k_hash) DO UPDATE SET v = EXCLUDED.v",
                &[&put_tables, &put_keys, &values],
            )?;
        }
        self.view.settled();
        Ok(())
    }

    /// Queues a change; sends the queue once it is full.
    fn queue(&self, table: &'static str, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let prior = self.view.change(table, key, value);
        self.priors.borrow_mut().push(prior);
        self.queued.set(self.queued.get() + 1);
        if self.view.pending.borrow().len() >= MAX_PENDING_PUTS {
            self.flush()?;
        }
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

    /// Up to `limit` rows of `table` from `from` (`op`: `>` or `>=`) up to
    /// `end`, in head order (keys sharing a head in hash order).
    fn scan_heads(
        &self,
        table: &'static str,
        op: &str,
        from: &[u8],
        end: Option<&[u8]>,
        limit: i64,
    ) -> Result<Rows> {
        let rows = match end {
            Some(end) => self.query_now(
                &format!(
                    "SELECT k, v FROM arca_kv WHERE tbl = $1 AND k_head >= {} AND k {op} $2 \
                     AND k_head <= {} AND k < $3 ORDER BY k_head, k_hash LIMIT $4",
                    head(2),
                    head(3)
                ),
                &[&table, &from, &end, &limit],
            )?,
            None => self.query_now(
                &format!(
                    "SELECT k, v FROM arca_kv WHERE tbl = $1 AND k_head >= {} AND k {op} $2 \
                     ORDER BY k_head, k_hash LIMIT $3",
                    head(2)
                ),
                &[&table, &from, &limit],
            )?,
        };
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    }

    /// Every row of `table` in the range whose key begins with the whole
    /// head `shared` (keys longer than a head that share it: rare).
    fn scan_one_head(
        &self,
        table: &'static str,
        shared: &[u8],
        op: &str,
        from: &[u8],
        end: Option<&[u8]>,
    ) -> Result<Rows> {
        let sql = format!("SELECT k, v FROM arca_kv WHERE tbl = $1 AND k_head = $2 AND k {op} $3");
        let rows = match end {
            Some(end) => self.query_now(
                &format!("{sql} AND k < $4"),
                &[&table, &shared, &from, &end],
            )?,
            None => self.query_now(&sql, &[&table, &shared, &from])?,
        };
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
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

    fn fetches_ahead(&self) -> bool {
        true
    }

    fn prefetch(&self, rows: &[(&'static str, Vec<u8>)]) -> Result<()> {
        // Rows the view knows (and so every waiting change) are left out:
        // the database's answer for the rest is current.
        let mut unknown: Vec<&(&'static str, Vec<u8>)> = rows
            .iter()
            .filter(|(table, key)| self.view.lookup(table, key).is_none())
            .collect();
        unknown.sort();
        unknown.dedup();
        for chunk in unknown.chunks(MAX_PENDING_PUTS) {
            let tables: Vec<&str> = chunk.iter().map(|(table, _)| *table).collect();
            let keys: Vec<&[u8]> = chunk.iter().map(|(_, key)| key.as_slice()).collect();
            let found = self.query_now(rows_sql(), &[&tables, &keys])?;
            if found.len() != chunk.len() {
                return Err(Error::Metadata(format!(
                    "a prefetch of {} rows answered {}",
                    chunk.len(),
                    found.len()
                )));
            }
            for ((table, key), row) in chunk.iter().zip(found) {
                let value: Option<Vec<u8>> = row.get(0);
                self.view.learn(table, key, value.as_deref());
            }
        }
        Ok(())
    }

    fn scan(
        &self,
        table: &'static str,
        start: Bound<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Rows> {
        // The changes not sent yet are laid over the database's rows here
        // rather than sent first: a job that logs a change and then reads
        // the log costs no extra statement. Each waiting delete may hide a
        // row, so as many more rows are asked for.
        let overlay = self.view.pending_in(table, start, end);
        let hidden = overlay.values().filter(|v| v.is_none()).count();
        let asked = limit.saturating_add(hidden);
        let sql_limit = i64::try_from(asked).unwrap_or(i64::MAX);
        let (op, from): (&str, &[u8]) = match start {
            Bound::Included(k) => (">=", k),
            Bound::Excluded(k) => (">", k),
            Bound::Unbounded => (">=", &[]),
        };
        // The heads bound the index scan and order it; the keys decide.
        // Ordered by head alone, the index answers in order with no sort
        // whatever plan the statement gets (a generic plan of `ORDER BY
        // k_head, k` sorted the whole rest of the range to return a few
        // rows: ms per call on a long change log).
        let mut fetched = self.scan_heads(table, op, from, end, sql_limit)?;
        let full = fetched.len() >= asked;
        // Keys that share a whole head come in hash order: those of the
        // last head are fetched whole, so the smallest keys are all here.
        if full
            && let Some((last, _)) = fetched.last()
            && last.len() >= KEY_HEAD_BYTES
        {
            let shared = last[..KEY_HEAD_BYTES].to_vec();
            fetched.retain(|(k, _)| k.get(..KEY_HEAD_BYTES) != Some(shared.as_slice()));
            fetched.extend(self.scan_one_head(table, &shared, op, from, end)?);
        }
        fetched.sort_by(|a, b| a.0.cmp(&b.0));
        fetched.truncate(asked);
        let mut merged: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
            fetched.into_iter().collect();
        // Past the last row the database sent (when it sent all it was
        // asked for), rows it did not send may sort before a waiting put:
        // such puts wait for the next page.
        let last = full.then(|| merged.keys().next_back().cloned()).flatten();
        for (key, change) in overlay {
            if last.as_ref().is_some_and(|last| &key > last) {
                break;
            }
            match change {
                Some(value) => merged.insert(key, value),
                None => merged.remove(&key),
            };
        }
        let rows: Rows = merged.into_iter().take(limit).collect();
        for (key, value) in &rows {
            self.view.learn(table, key, Some(value));
        }
        Ok(rows)
    }
}

impl WriteOps for PgOps<'_> {
    fn put(&self, table: &'static str, key: &[u8], value: &[u8]) -> Result<()> {
        self.queue(table, key, Some(value))
    }

    fn delete(&self, table: &'static str, key: &[u8]) -> Result<bool> {
        match self.view.lookup(table, key) {
            Some(None) => return Ok(false),
            // A row the transaction knows is there (it read it, or put it):
            // its delete waits with the puts, one statement for all.
            Some(Some(_)) => {
                self.queue(table, key, None)?;
                return Ok(true);
            }
            None => {}
        }
        // Not in the view, so no waiting change touches it: the delete
        // need not wait for them.
        self.wrote.set(true);
        let removed = self.execute_now(
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
        // Versions are drawn inside this transaction, after its snapshot
        // was taken, and never kept past it: every commit this transaction
        // sees drew its versions before it committed, so below these; a
        // commit it does not see that changes a row it changes is a
        // serialization failure, and one of the two runs again with new
        // versions. So versions still rise with every change of a row. (A
        // block kept by a replica across transactions would not: another
        // replica's later commit could carry a lower one.)
        if let Some(version) = self.view.versions.borrow_mut().pop_front() {
            return Ok(version);
        }
        let draw = self.view.version_draw.get().max(1);
        self.view.version_draw.set((draw * 2).min(MAX_VERSION_DRAW));
        let rows = self.query_now(
            "SELECT nextval('arca_version') FROM generate_series(1, $1::int8)",
            &[&draw],
        )?;
        let mut drawn = rows
            .iter()
            .map(|row| {
                u64::try_from(row.get::<_, i64>(0))
                    .map_err(|_| Error::Metadata("negative version".into()))
            })
            .collect::<Result<Vec<u64>>>()?;
        drawn.sort_unstable();
        let mut versions = self.view.versions.borrow_mut();
        versions.extend(drawn);
        versions
            .pop_front()
            .ok_or_else(|| Error::Metadata("nextval returned no row".into()))
    }

    fn raise_version(&self, floor: u64) -> Result<()> {
        self.wrote.set(true);
        let floor =
            i64::try_from(floor).map_err(|_| Error::Metadata("version too large".into()))?;
        // Versions drawn before may lie below the floor.
        self.view.versions.borrow_mut().clear();
        // setval(.., false) would hand out `floor` itself next; true: floor + 1.
        self.query(
            "SELECT setval('arca_version', GREATEST($1, (SELECT last_value FROM arca_version)), true)",
            &[&floor],
        )?;
        Ok(())
    }
}
