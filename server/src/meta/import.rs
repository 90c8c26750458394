//! Moving a deployment from one engine to another: every table copied row
//! for row (engines store the same bytes under the same table names), the
//! version counter raised past every copied version, and the counts
//! checked. `arca-server --import-redb FILE` runs it into the engine the
//! configuration names (PostgreSQL, to go from one replica to several).
//!
//! The target must hold no Arca metadata yet, and the source server must be
//! stopped (redb refuses a file another process has open). Leases and
//! attachments are not copied: they belong to the processes that held them.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::engine::{Rows, WriteJob};
use super::{
    ALL, ATTACHMENTS, CHECKPOINT_ENTRIES, CHECKPOINT_PAGES, ENTRIES, MetaStore, REPLICAS, SECRETS,
    Span,
};
use crate::error::{Error, Result};

/// Rows copied in one transaction.
const BATCH: usize = 1000;

/// What an import copied: rows per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Table name → rows.
    pub rows: BTreeMap<&'static str, u64>,
    /// The highest entry version copied.
    pub highest_version: u64,
}

fn copied_tables() -> impl Iterator<Item = &'static str> {
    ALL.iter()
        .copied()
        .filter(|t| *t != REPLICAS.name && *t != ATTACHMENTS.name)
}

fn read_batch(store: &MetaStore, table: &'static str, after: Option<Vec<u8>>) -> Result<Rows> {
    let mut rows = Vec::new();
    store.engine().read_blocking(&mut |ops| {
        let start = match &after {
            Some(key) => Bound::Excluded(key.as_slice()),
            None => Bound::Unbounded,
        };
        rows = ops.scan(table, start, None, BATCH)?;
        Ok(())
    })?;
    Ok(rows)
}

/// Copies everything `from` holds into `to`, which must hold nothing.
/// `presign_key`, if given, becomes the deployment's shared presign key (so
/// URLs signed before the move keep working).
pub async fn copy_all(
    from: &MetaStore,
    to: &MetaStore,
    presign_key: Option<String>,
) -> Result<Imported> {
    for table in copied_tables() {
        let (target, name) = (to.clone(), table);
        let occupied = tokio::task::spawn_blocking(move || read_batch(&target, name, None))
            .await
            .map_err(|e| Error::Internal(format!("import task: {e}")))??;
        // The target's own first start may have made its shared secrets;
        // any other row means it already holds a deployment.
        if !occupied.is_empty() && table != SECRETS.name {
            return Err(Error::FailedPrecondition(format!(
                "the target metadata already holds Arca data (table {table}); \
                 import into an empty database"
            )));
        }
    }
    let mut imported = Imported::default();
    for table in copied_tables() {
        let mut after = None;
        loop {
            let (source, name, from_key) = (from.clone(), table, after.clone());
            let rows = tokio::task::spawn_blocking(move || read_batch(&source, name, from_key))
                .await
                .map_err(|e| Error::Internal(format!("import task: {e}")))??;
            let Some((last, _)) = rows.last() else { break };
            after = Some(last.clone());
            let count = rows.len() as u64;
            let full = rows.len() == BATCH;
            let batch = std::sync::Arc::new(rows);
            to.engine()
                .write(WriteJob::new(Box::new(move |ops| {
                    for (key, value) in batch.iter() {
                        ops.put(name, key, value)?;
                    }
                    Ok(())
                })))
                .await?;
            *imported.rows.entry(table).or_default() += count;
            if !full {
                break;
            }
        }
    }
    imported.highest_version = from
        .scan(|r| {
            let mut highest = 0;
            for row in r.rows(&ENTRIES, Span::all()) {
                highest = highest.max(row?.1.version);
            }
            for row in r.rows(&CHECKPOINT_ENTRIES, Span::all()) {
                highest = highest.max(row?.1.version);
            }
            for row in r.rows(&CHECKPOINT_PAGES, Span::all()) {
                for paged in row?.1.entries {
                    highest = highest.max(paged.entry.map_or(0, |e| e.version));
                }
            }
            Ok(highest)
        })
        .await?;
    let floor = imported.highest_version;
    to.write(move |w| {
        w.raise_version(floor)?;
        if let Some(key) = &presign_key {
            w.put(&SECRETS, "presign-key", key.as_str())?;
        }
        Ok(())
    })
    .await?;
    // What arrived is what was sent, table by table.
    for (table, expected) in &imported.rows {
        let (target, name) = (to.clone(), *table);
        let found = tokio::task::spawn_blocking(move || -> Result<u64> {
            let (mut count, mut after) = (0u64, None);
            loop {
                let rows = read_batch(&target, name, after)?;
                count += rows.len() as u64;
                match rows.last() {
                    Some((last, _)) if rows.len() == BATCH => after = Some(last.clone()),
                    _ => return Ok(count),
                }
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("import task: {e}")))??;
        // SECRETS may also hold what the target made at its first start.
        if found < *expected || (found != *expected && *table != SECRETS.name) {
            return Err(Error::DataLoss(format!(
                "import of table {table}: copied {expected} rows, the target holds {found}"
            )));
        }
    }
    Ok(imported)
}
