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
pub(super) struct TxnView {
    rows: std::cell::RefCell<std::collections::HashMap<RowKey, Option<Vec<u8>>>>,
}

/// A row's table and key.
type RowKey = (&'static str, Vec<u8>);

/// A change waiting to be sent: table, key, and the value to put (`None`:
/// a delete of a row the transaction knows is there).
type PendingChange = (&'static str, Vec<u8>, Option<Vec<u8>>);

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

    /// A delete not sent yet: always kept, as only the view has it.
    fn pending_put_absent(&self, table: &'static str, key: &[u8]) {
        self.rows.borrow_mut().insert((table, key.to_vec()), None);
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

pub(super) struct PgOps<'a> {
    /// A connection inside a transaction this engine began.
    client: &'a deadpool_postgres::Object,
    handle: &'a Handle,
    /// The transaction's rows as it sees them; gets are answered from it.
    view: &'a TxnView,
    /// A statement to send just before the next one, pipelined with it:
    /// a read-only transaction's BEGIN costs no round trip of its own.
    pub(super) opening: Cell<Option<&'static str>>,
    /// Whether a statement hit a conflict: the job is run again, whatever
    /// it made of the error.
    pub(super) conflict: Cell<bool>,
    /// Whether the job changed anything (a failed job that did spoils its
    /// group's transaction).
    pub(super) wrote: Cell<bool>,
    /// Puts (and deletes of rows it has read) not sent yet: sent as one
    /// statement of each kind before the next statement that reads or
    /// changes rows and at the end of the job, so a job costs one statement
    /// for all it puts (a checkpoint, a restore or a fork one per batch,
    /// not per row), and its reads still see its writes.
    pending: std::cell::RefCell<Vec<PendingChange>>,
}

/// Puts sent in one statement at most (bounded, so no statement grows
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
            pending: Default::default(),
        }
    }

    /// Sends the pending changes: one multi-row delete and one multi-row
    /// upsert (a later change of a key wins, as it would have).
    pub(super) fn flush(&self) -> Result<()> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
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
        let full = {
            let mut pending = self.pending.borrow_mut();
            pending.push((table, key.to_vec(), value.map(<[u8]>::to_vec)));
            pending.len() >= MAX_PENDING_PUTS
        };
        if full {
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
        self.queue(table, key, Some(value))
    }

    fn delete(&self, table: &'static str, key: &[u8]) -> Result<bool> {
        self.wrote.set(true);
        match self.view.lookup(table, key) {
            Some(None) => return Ok(false),
            // A row the transaction knows is there (it read it, or put it):
            // its delete waits with the puts, one statement for all.
            Some(Some(_)) => {
                self.view.pending_put_absent(table, key);
                self.queue(table, key, None)?;
                return Ok(true);
            }
            None => {}
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
