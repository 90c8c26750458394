//! Recounting what every namespace holds from the rows themselves: the
//! footprints, the reference counts of objects and the usage that
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
    /// (owner, object id) → its record with its reference counts and
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

/// The references to one object, as counted from the entries.
#[derive(Debug, Default)]
struct Refs {
    /// All of them (`ObjectRecord::refs`).
    refs: u64,
    /// Other namespaces' entries.
    foreign: u64,
    /// Checkpoints'.
    checkpoint: u64,
    /// Its owner's live entries, when its owner keeps them.
    live: u64,
}

/// The (owner, object id) of file entry `entry` of namespace `ns`.
fn object_key(ns: &str, entry: meta::EntryRecord) -> (String, String) {
    (super::refs::owner(&entry, ns).to_owned(), entry.object_id)
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
    let mut refs: BTreeMap<(String, String), Refs> = BTreeMap::new();
    for row in r.rows(&meta::ENTRIES, Span::all()) {
        let ((ns, path), entry) = row?;
        if let Some(f) = counted.namespaces.get_mut(&ns) {
            f.entries += 1;
            f.metadata_bytes += row_bytes(&path, &entry);
        }
        if !entry.is_dir() {
            let own = entry.object_ns.is_empty();
            let lazy = own && records.get(&ns).is_some_and(|n| n.lazy_refs);
            let object = refs.entry(object_key(&ns, entry)).or_default();
            object.refs += 1;
            object.foreign += u64::from(!own);
            object.live += u64::from(lazy);
        }
    }
    for row in r.rows(&meta::CHANGES, Span::all()) {
        let ((ns, _), change) = row?;
        if let Some(f) = counted.namespaces.get_mut(&ns) {
            f.metadata_bytes += super::changes::logged_bytes(&ns, &change);
        }
    }
    super::checkpoint_pages::for_each(r, None, |ns, _, path, entry| {
        if let Some(f) = counted.namespaces.get_mut(ns) {
            f.entries += 1;
            f.metadata_bytes += row_bytes(path, &entry);
        }
        // Borrowed content: a reference per entry. A namespace's own is
        // counted below, by the rule its checkpoints follow.
        if !entry.is_dir() && !entry.object_ns.is_empty() {
            let object = refs.entry(object_key(ns, entry)).or_default();
            object.refs += 1;
            object.checkpoint += 1;
            object.foreign += 1;
        }
        Ok(())
    })?;
    for ns in records.keys() {
        for (id, n) in super::refs::counted_holds(r, ns)? {
            let object = refs.entry((ns.clone(), id)).or_default();
            object.refs += n;
            object.checkpoint += n;
        }
    }
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
        let want = refs
            .remove(&(owner.clone(), id.clone()))
            .unwrap_or_default();
        object.refs = want.refs;
        object.foreign_refs = want.foreign;
        object.checkpoint_refs = want.checkpoint;
        if records.get(&owner).is_some_and(|n| n.lazy_refs) {
            object.live_refs = want.live;
        }
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
/// difference (none when they agree). Usage rows of nothing count as zero;
/// every reference count of every object is compared, and the sequence of
/// lazy checkpoints must name exactly those there are.
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
    // Each lazy checkpoint has its place in its namespace's sequence, and
    // the sequence holds nothing else.
    let mut sequence = BTreeMap::new();
    for row in r.rows(&meta::CHECKPOINT_SEQS, Span::all()) {
        let (at, id) = row?;
        sequence.insert(at, id);
    }
    for row in r.rows(&meta::CHECKPOINTS, Span::all()) {
        let ((ns, id), record) = row?;
        if record.seq > 0 && sequence.remove(&(ns.clone(), record.seq)).as_ref() != Some(&id) {
            found.push(format!(
                "checkpoint {ns}/{id}: not at {} in the sequence",
                record.seq
            ));
        }
    }
    for ((ns, seq), id) in sequence {
        found.push(format!(
            "checkpoint sequence {ns}/{seq}: names {id}, not a checkpoint there"
        ));
    }
    for row in r.rows(&meta::OBJECTS, Span::all()) {
        let ((owner, id), object) = row?;
        let want = &counted.objects[&(owner.clone(), id.clone())];
        let counters = |o: &ObjectRecord| {
            (
                o.refs,
                o.foreign_refs,
                o.checkpoint_refs,
                o.live_refs,
                o.retained_by.clone(),
            )
        };
        if counters(&object) != counters(want) {
            found.push(format!(
                "object {owner}/{id}: stored (refs, foreign, checkpoint, live, charged to) {:?}, counted {:?}",
                counters(&object),
                counters(want)
            ));
        }
    }
    Ok(found)
}

/// Rewrites every counter from [`count`] (footprints, usage, objects'
/// checkpoint references), keeping the usage of bytes and namespaces.
fn rewrite(w: &Writer<'_>) -> Result<()> {
    let counted = count(w)?;
    for ((owner, id), want) in counted.objects {
        // Only what was not kept before: a database this old has no lazy
        // checkpoints, and its reference counts were always kept.
        let object = ObjectRecord {
            checkpoint_refs: want.checkpoint_refs,
            retained_by: want.retained_by.clone(),
            ..w.get(&meta::OBJECTS, (&owner, &id))?.unwrap_or(want)
        };
        w.put(&meta::OBJECTS, (&owner, &id), &object)?;
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
