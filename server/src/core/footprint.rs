//! Recounting what every namespace holds from the rows themselves: the
//! footprints, the checkpoint references of objects and the usage that
//! commits keep incrementally for the quotas (`core::quota`).
//!
//! [`count`] is the definition those counters must match: the tests run it
//! after their workloads as the oracle. [`migrate`] rewrites the counters
//! from it once, on a database written before they were kept (its entries,
//! checkpoints and uploads were never counted), and marks that done.

use std::collections::BTreeMap;

use prost::Message;

use crate::error::Result;
use crate::meta::{self, Footprint, MetaStore, ObjectRecord, Reader, Span, UsageRecord, Writer};

/// The mark [`migrate`] leaves.
const COUNTED: &str = "footprints-counted";

/// Everything recounted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counted {
    /// Namespace id → its footprint.
    pub namespaces: BTreeMap<String, Footprint>,
    /// Usage key (`sandbox` or `sandbox/user`) → the sums over its
    /// namespaces.
    pub usage: BTreeMap<String, UsageRecord>,
    /// (owner, object id) → its record with `checkpoint_refs` and
    /// `retained_by` as they must be.
    pub objects: BTreeMap<(String, String), ObjectRecord>,
}

fn usage_keys(ns: &meta::NamespaceRecord) -> Vec<String> {
    let mut keys = vec![ns.sandbox.clone()];
    if !ns.user.is_empty() {
        keys.push(format!("{}/{}", ns.sandbox, ns.user));
    }
    keys
}

/// Recounts everything from the rows. An object only checkpoints refer to
/// keeps whoever it names as charged, if that namespace exists, or else is
/// charged to its owner (the rule of a database counted for the first time).
pub fn count(r: &Reader<'_>) -> Result<Counted> {
    let mut counted = Counted::default();
    let mut records = BTreeMap::new();
    for row in r.rows(&meta::NAMESPACES, Span::all()) {
        let (id, ns) = row?;
        counted.namespaces.insert(id.clone(), Footprint::default());
        records.insert(id, ns);
    }
    let row_bytes = |path: &str, e: &meta::EntryRecord| (path.len() + e.encoded_len()) as u64;
    for row in r.rows(&meta::ENTRIES, Span::all()) {
        let ((ns, path), entry) = row?;
        if let Some(f) = counted.namespaces.get_mut(&ns) {
            f.entries += 1;
            f.metadata_bytes += row_bytes(&path, &entry);
        }
    }
    for row in r.rows(&meta::CHANGES, Span::all()) {
        let ((ns, _), change) = row?;
        if let Some(f) = counted.namespaces.get_mut(&ns) {
            f.metadata_bytes += super::changes::logged_bytes(&ns, &change);
        }
    }
    let mut checkpoint_refs: BTreeMap<(String, String), u64> = BTreeMap::new();
    super::checkpoint_pages::for_each(r, None, |ns, _, path, entry| {
        if let Some(f) = counted.namespaces.get_mut(ns) {
            f.entries += 1;
            f.metadata_bytes += row_bytes(path, &entry);
        }
        if !entry.is_dir() {
            let owner = if entry.object_ns.is_empty() {
                ns.to_owned()
            } else {
                entry.object_ns
            };
            *checkpoint_refs.entry((owner, entry.object_id)).or_default() += 1;
        }
        Ok(())
    })?;
    for row in r.rows(&meta::CHECKPOINTS, Span::all()) {
        let ((ns, id), record) = row?;
        if let Some(f) = counted.namespaces.get_mut(&ns) {
            f.checkpoints += 1;
            f.metadata_bytes += (id.len() + record.encoded_len()) as u64;
        }
    }
    for row in r.rows(&meta::UPLOADS, Span::all()) {
        let (_, upload) = row?;
        if let Some(f) = counted.namespaces.get_mut(&upload.namespace_id) {
            f.staged_bytes += super::quota::staged(&upload);
        }
    }
    for row in r.rows(&meta::OBJECTS, Span::all()) {
        let ((owner, id), mut object) = row?;
        object.checkpoint_refs = checkpoint_refs
            .get(&(owner.clone(), id.clone()))
            .copied()
            .unwrap_or(0);
        if object.only_checkpointed() {
            if !counted.namespaces.contains_key(&object.retained_by) {
                object.retained_by = if counted.namespaces.contains_key(&owner) {
                    owner.clone()
                } else {
                    String::new()
                };
            }
            if let Some(f) = counted.namespaces.get_mut(&object.retained_by) {
                f.retained_bytes += object.size;
            }
        } else {
            object.retained_by.clear();
        }
        counted.objects.insert((owner, id), object);
    }
    for (id, ns) in &records {
        let f = counted.namespaces[id];
        for key in usage_keys(ns) {
            let used = counted.usage.entry(key).or_default();
            used.bytes += ns.total_bytes;
            used.namespaces += 1;
            let sum = used.footprint.get_or_insert_with(Footprint::default);
            sum.entries += f.entries;
            sum.metadata_bytes += f.metadata_bytes;
            sum.checkpoints += f.checkpoints;
            sum.retained_bytes += f.retained_bytes;
            sum.staged_bytes += f.staged_bytes;
        }
    }
    Ok(counted)
}

/// Where the stored counters differ from [`count`]: one line per
/// difference (none when they agree). Usage rows of nothing count as zero.
pub fn differences(r: &Reader<'_>) -> Result<Vec<String>> {
    let counted = count(r)?;
    let mut found = Vec::new();
    for row in r.rows(&meta::NAMESPACES, Span::all()) {
        let (id, ns) = row?;
        let want = counted.namespaces[&id];
        if ns.footprint() != want {
            found.push(format!(
                "namespace {id}: stored {:?}, counted {want:?}",
                ns.footprint()
            ));
        }
    }
    let mut stored_usage = BTreeMap::new();
    for row in r.rows(&meta::USAGE, Span::all()) {
        let (key, used) = row?;
        stored_usage.insert(key, used);
    }
    let keys: std::collections::BTreeSet<&String> =
        stored_usage.keys().chain(counted.usage.keys()).collect();
    let normal = |u: UsageRecord| UsageRecord {
        footprint: Some(u.footprint.unwrap_or_default()),
        ..u
    };
    for key in keys {
        let stored = normal(stored_usage.get(key).copied().unwrap_or_default());
        let want = normal(counted.usage.get(key).copied().unwrap_or_default());
        if stored != want {
            found.push(format!("usage {key}: stored {stored:?}, counted {want:?}"));
        }
    }
    for row in r.rows(&meta::OBJECTS, Span::all()) {
        let ((owner, id), object) = row?;
        let want = &counted.objects[&(owner.clone(), id.clone())];
        if object.checkpoint_refs != want.checkpoint_refs || object.retained_by != want.retained_by
        {
            found.push(format!(
                "object {owner}/{id}: stored {} checkpoint refs charged to {:?}, counted {} charged to {:?}",
                object.checkpoint_refs, object.retained_by, want.checkpoint_refs, want.retained_by
            ));
        }
    }
    Ok(found)
}

/// Rewrites every counter from [`count`] (footprints, usage, objects'
/// checkpoint references), keeping the usage of bytes and namespaces.
fn rewrite(w: &Writer<'_>) -> Result<()> {
    let counted = count(w)?;
    for ((owner, id), object) in &counted.objects {
        w.put(&meta::OBJECTS, (owner, id), object)?;
    }
    let mut records = Vec::new();
    for row in w.rows(&meta::NAMESPACES, Span::all()) {
        records.push(row?);
    }
    for (id, mut ns) in records {
        ns.footprint = Some(counted.namespaces[&id]);
        w.put(&meta::NAMESPACES, &id, &ns)?;
    }
    let mut usage = Vec::new();
    for row in w.rows(&meta::USAGE, Span::all()) {
        usage.push(row?);
    }
    for (key, mut used) in usage {
        used.footprint = counted.usage.get(&key).and_then(|u| u.footprint);
        w.put(&meta::USAGE, &key, &used)?;
    }
    Ok(())
}

/// Counts a database written before the counters were kept, once (any
/// replica may run it; the mark makes the others' runs no change).
pub async fn migrate(meta: &MetaStore) -> Result<()> {
    meta.write(|txn| {
        if txn.get(&meta::MARKS, COUNTED)?.is_some() {
            return Ok(());
        }
        let fresh = txn.rows(&meta::NAMESPACES, Span::all()).next().is_none();
        if !fresh {
            tracing::info!("counting the metadata every namespace holds, once, for its quotas");
            rewrite(txn)?;
        }
        txn.put(&meta::MARKS, COUNTED, &txn.now_ms())
    })
    .await
}
