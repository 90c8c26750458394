//! Conversion of redb files written before the engine boundary.
//!
//! Those files held one typed redb table per logical table (`&str` and
//! tuple-of-`&str` keys, `&[u8]`, `&str`, `i64` and `u64` values). At open,
//! in the same transaction that creates the `kv/` tables, every row of a
//! typed table is copied with its key in the tuple encoding and its value
//! in the codec of `tables`, and the typed table is deleted: a crash during
//! the conversion leaves the file as it was, and a converted file is never
//! converted again.

use ::redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::keys;
use crate::error::Result;

const NAMESPACES: TableDefinition<&str, &[u8]> = TableDefinition::new("namespaces");
const NAMESPACE_NAMES: TableDefinition<&str, &str> = TableDefinition::new("namespace_names");
const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entries");
const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
const GARBAGE: TableDefinition<(&str, &str), i64> = TableDefinition::new("garbage");
const PURGES: TableDefinition<&str, &[u8]> = TableDefinition::new("purges");
const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const SESSION_TOKENS: TableDefinition<&str, &str> = TableDefinition::new("session_tokens");
const USAGE: TableDefinition<&str, &[u8]> = TableDefinition::new("usage");
const CHECKPOINTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("checkpoints");
const CHECKPOINT_ENTRIES: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("checkpoint_entries");
const DIGESTS: TableDefinition<(&str, &str), &str> = TableDefinition::new("digests");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// Where the redb engine keeps a logical table, and the key of its version
/// counter: the layout converted into (the engine passes its own).
pub struct Layout {
    /// The stored name of a logical table.
    pub stored_name: fn(&str) -> String,
    /// The key of the version counter in the `counters` table.
    pub version_key: &'static [u8],
}

fn target<'t>(
    txn: &'t WriteTransaction,
    layout: &Layout,
    name: &str,
) -> Result<::redb::Table<'t, &'static [u8], &'static [u8]>> {
    let stored = (layout.stored_name)(name);
    Ok(txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&stored))?)
}

/// Converts the typed tables of an earlier layout, if the file has them.
pub fn convert(txn: &WriteTransaction, layout: &Layout) -> Result<()> {
    let handles: Vec<_> = txn
        .list_tables()?
        .filter(|t| !t.name().starts_with("kv/"))
        .collect();
    let typed: Vec<String> = handles.iter().map(|t| t.name().to_owned()).collect();
    if typed.is_empty() {
        return Ok(());
    }
    tracing::info!(tables = ?typed, "metadata: converting a file of the earlier typed layout");
    let has = |name: &str| typed.iter().any(|t| t == name);

    for def in [NAMESPACES, PURGES, UPLOADS, SESSIONS, USAGE] {
        if has(def.name()) {
            let mut out = target(txn, layout, def.name())?;
            for row in txn.open_table(def)?.iter()? {
                let (k, v) = row?;
                out.insert(keys::tuple(&[k.value()]).as_slice(), v.value())?;
            }
        }
    }
    for def in [NAMESPACE_NAMES, SESSION_TOKENS] {
        if has(def.name()) {
            let mut out = target(txn, layout, def.name())?;
            for row in txn.open_table(def)?.iter()? {
                let (k, v) = row?;
                out.insert(keys::tuple(&[k.value()]).as_slice(), v.value().as_bytes())?;
            }
        }
    }
    for def in [ENTRIES, OBJECTS, CHECKPOINTS] {
        if has(def.name()) {
            let mut out = target(txn, layout, def.name())?;
            for row in txn.open_table(def)?.iter()? {
                let (k, v) = row?;
                let (a, b) = k.value();
                out.insert(keys::tuple(&[a, b]).as_slice(), v.value())?;
            }
        }
    }
    if has(DIGESTS.name()) {
        let mut out = target(txn, layout, DIGESTS.name())?;
        for row in txn.open_table(DIGESTS)?.iter()? {
            let (k, v) = row?;
            let (a, b) = k.value();
            out.insert(keys::tuple(&[a, b]).as_slice(), v.value().as_bytes())?;
        }
    }
    if has(GARBAGE.name()) {
        let mut out = target(txn, layout, GARBAGE.name())?;
        for row in txn.open_table(GARBAGE)?.iter()? {
            let (k, v) = row?;
            let (a, b) = k.value();
            out.insert(
                keys::tuple(&[a, b]).as_slice(),
                v.value().to_be_bytes().as_slice(),
            )?;
        }
    }
    if has(CHECKPOINT_ENTRIES.name()) {
        let mut out = target(txn, layout, CHECKPOINT_ENTRIES.name())?;
        for row in txn.open_table(CHECKPOINT_ENTRIES)?.iter()? {
            let (k, v) = row?;
            let (a, b, c) = k.value();
            out.insert(keys::tuple(&[a, b, c]).as_slice(), v.value())?;
        }
    }
    if has(COUNTERS.name()) {
        let mut out = target(txn, layout, "counters")?;
        if let Some(version) = txn.open_table(COUNTERS)?.get("version")? {
            out.insert(layout.version_key, version.value().to_be_bytes().as_slice())?;
        }
    }

    for handle in handles {
        txn.delete_table(handle)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::redb::{Database, ReadableDatabase};

    /// A file of the typed layout opens with every row where the engine
    /// looks for it, and the version counter carries on.
    #[tokio::test]
    async fn a_typed_file_is_converted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let ns = crate::meta::NamespaceRecord {
                id: "n1".into(),
                ..Default::default()
            };
            txn.open_table(NAMESPACES)
                .unwrap()
                .insert("n1", prost::Message::encode_to_vec(&ns).as_slice())
                .unwrap();
            let entry = crate::meta::EntryRecord {
                kind: crate::meta::KIND_FILE,
                size: 3,
                version: 7,
                ..Default::default()
            };
            txn.open_table(ENTRIES)
                .unwrap()
                .insert(
                    ("n1", "a/b"),
                    prost::Message::encode_to_vec(&entry).as_slice(),
                )
                .unwrap();
            txn.open_table(DIGESTS)
                .unwrap()
                .insert(("n1", "sha"), "o1")
                .unwrap();
            txn.open_table(GARBAGE)
                .unwrap()
                .insert(("n1", "o2"), 42)
                .unwrap();
            txn.open_table(COUNTERS)
                .unwrap()
                .insert("version", 7)
                .unwrap();
            txn.commit().unwrap();
        }
        let store = crate::meta::MetaStore::open_redb(&path).unwrap();
        let found = store
            .read(|r| {
                Ok((
                    r.get(&crate::meta::NAMESPACES, "n1")?,
                    r.get(&crate::meta::ENTRIES, ("n1", "a/b"))?,
                    r.get(&crate::meta::DIGESTS, ("n1", "sha"))?,
                    r.get(&crate::meta::GARBAGE, ("n1", "o2"))?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(found.0.unwrap().id, "n1");
        assert_eq!(found.1.unwrap().version, 7);
        assert_eq!(found.2.as_deref(), Some("o1"));
        assert_eq!(found.3, Some(42));
        let next = store.write(|w| w.next_version()).await.unwrap();
        assert_eq!(next, 8);
        store.close();
        let db = Database::open(&path).unwrap();
        let names: Vec<String> = db
            .begin_read()
            .unwrap()
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_owned())
            .collect();
        assert!(names.iter().all(|n| n.starts_with("kv/")), "{names:?}");
    }
}
