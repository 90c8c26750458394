//! Object references: which namespace owns each object, and who refers to it.
//!
//! An object is stored under the grid prefix of the namespace that wrote it
//! and recorded in `OBJECTS` under that namespace's id. Entries of the same
//! namespace (live or in its checkpoints) refer to it by id; entries of other
//! namespaces of the same sandbox and backend (forks, cross-namespace copies)
//! refer to it by id *and* owner (`EntryRecord::object_ns`), so no content
//! is copied. `ObjectRecord::refs` counts every reference and
//! `ObjectRecord::foreign_refs` those from other namespaces; a namespace's
//! `borrowed` counts its own references to others' objects.
//!
//! Destroying a namespace releases what it borrowed, then keeps the records
//! of its objects others still refer to (their keys stay under its prefix,
//! which still names their sandbox) and queues everything else under the
//! prefix for deletion. A kept object is reclaimed like any other when its
//! last reference goes.

use super::tree::Tree;
use crate::error::{Error, Result};
use crate::meta::{self, EntryRecord, ObjectRecord, PurgeRecord, Span, Writer};

/// The namespace owning the object of `entry`, an entry of namespace `ns`.
pub fn owner<'a>(entry: &'a EntryRecord, ns: &'a str) -> &'a str {
    if entry.object_ns.is_empty() {
        ns
    } else {
        &entry.object_ns
    }
}

/// `entry` of namespace `from` as an entry of namespace `to`: its object
/// keeps its owner, named explicitly unless that is `to`.
pub fn carried(entry: EntryRecord, from: &str, to: &str) -> EntryRecord {
    let owner = owner(&entry, from).to_owned();
    EntryRecord {
        object_ns: if owner == to { String::new() } else { owner },
        ..entry
    }
}

fn load(txn: &Writer<'_>, owner: &str, object_id: &str) -> Result<ObjectRecord> {
    txn.get(&meta::OBJECTS, (owner, object_id))?.ok_or_else(|| {
        Error::Internal(format!(
            "object {object_id} of namespace {owner} has no record"
        ))
    })
}

impl Tree<'_> {
    /// The record of one of this namespace's own objects.
    pub(super) fn object(&self, object_id: &str) -> Result<ObjectRecord> {
        load(self.txn, &self.ns.id, object_id)
    }

    /// Saves the record of one of this namespace's own objects.
    pub(super) fn save_object(&mut self, object_id: &str, object: &ObjectRecord) -> Result<()> {
        self.txn
            .put(&meta::OBJECTS, (&self.ns.id, object_id), object)
    }

    /// Adds the reference a new entry (live or checkpointed) of this
    /// namespace makes to its object.
    pub(super) fn add_ref(&mut self, entry: &EntryRecord) -> Result<()> {
        let owner = owner(entry, &self.ns.id).to_owned();
        let foreign = owner != self.ns.id;
        let mut object = load(self.txn, &owner, &entry.object_id)?;
        object.refs += 1;
        if foreign {
            object.foreign_refs += 1;
            self.ns.borrowed += 1;
        }
        self.txn
            .put(&meta::OBJECTS, (&owner, &entry.object_id), &object)
    }

    /// Drops the reference an entry of this namespace made to its object.
    pub(super) fn unref(&mut self, entry: &EntryRecord) -> Result<()> {
        let owner = owner(entry, &self.ns.id).to_owned();
        if owner != self.ns.id {
            self.ns.borrowed = self.ns.borrowed.saturating_sub(1);
        }
        self.freed |= release(
            self.txn,
            &owner,
            &entry.object_id,
            owner != self.ns.id,
            self.now,
        )?;
        Ok(())
    }

    /// A live object of this namespace with this content, other than
    /// `except`: its id and key.
    pub fn stored_content(
        &self,
        sha256: &str,
        size: u64,
        except: &str,
    ) -> Result<Option<(String, String)>> {
        let Some(id) = self.txn.get(&meta::DIGESTS, (&self.ns.id, sha256))? else {
            return Ok(None);
        };
        if id == except {
            return Ok(None);
        }
        let object = self.object(&id)?;
        Ok(
            (object.refs > 0 && object.size == size && object.sha256 == sha256)
                .then_some((id, object.key)),
        )
    }

    /// Records an object that was completed but will never be committed
    /// (its commit was refused), so the reclaimer deletes it.
    pub fn abandon_object(&mut self, object_id: &str, key: &str, size: u64) -> Result<()> {
        let object = ObjectRecord {
            key: key.to_owned(),
            backend: self.ns.backend.clone(),
            size,
            ..Default::default()
        };
        self.save_object(object_id, &object)?;
        self.txn
            .put(&meta::GARBAGE, (&self.ns.id, object_id), &self.now)?;
        self.freed = true;
        Ok(())
    }
}

/// Drops one reference to object `object_id` of namespace `owner`; at zero
/// it is queued for reclaim and no longer offered for dedup. Returns whether
/// it reached zero.
fn release(
    txn: &Writer<'_>,
    owner: &str,
    object_id: &str,
    foreign: bool,
    now: i64,
) -> Result<bool> {
    let mut object = load(txn, owner, object_id)?;
    object.refs = object.refs.saturating_sub(1);
    if foreign {
        object.foreign_refs = object.foreign_refs.saturating_sub(1);
    }
    let freed = object.refs == 0;
    if freed {
        txn.put(&meta::GARBAGE, (owner, object_id), &now)?;
        let digest = (owner, object.sha256.as_str());
        if txn.get(&meta::DIGESTS, digest)?.as_deref() == Some(object_id) {
            txn.delete(&meta::DIGESTS, digest)?;
        }
    }
    txn.put(&meta::OBJECTS, (owner, object_id), &object)?;
    Ok(freed)
}

/// Settles the references of namespace `ns` as it is destroyed (in the
/// destroying transaction, before its entry rows go): releases what its
/// entries borrowed from other namespaces when it borrowed anything, keeps
/// the records of its own objects others still refer to, and drops the
/// rest of its object, digest and garbage rows. Returns the purge to queue
/// for its prefix, and whether a borrowed object became unreferenced.
pub(crate) fn settle_destroyed(
    txn: &Writer<'_>,
    ns: &meta::NamespaceRecord,
    now: i64,
) -> Result<(PurgeRecord, bool)> {
    let mut freed = false;
    if ns.borrowed > 0 {
        let mut borrowed = Vec::new();
        for row in txn.rows(&meta::ENTRIES, Span::under(&[&ns.id], "")) {
            let (_, entry) = row?;
            if !entry.is_dir() && !entry.object_ns.is_empty() {
                borrowed.push(entry);
            }
        }
        for row in txn.rows(&meta::CHECKPOINT_ENTRIES, Span::under(&[&ns.id], "")) {
            let (_, entry) = row?;
            if !entry.is_dir() && !entry.object_ns.is_empty() {
                borrowed.push(entry);
            }
        }
        for entry in borrowed {
            freed |= release(txn, &entry.object_ns, &entry.object_id, true, now)?;
        }
    }
    let mut lent = Vec::new();
    for row in txn.rows(&meta::OBJECTS, Span::under(&[&ns.id], "")) {
        let ((_, id), object) = row?;
        if object.foreign_refs > 0 {
            lent.push((id, object));
        }
    }
    let rows = || Span::under(&[&ns.id], "");
    txn.delete_span(&meta::OBJECTS, rows())?;
    txn.delete_span(&meta::DIGESTS, rows())?;
    txn.delete_span(&meta::GARBAGE, rows())?;
    let keep_recorded = !lent.is_empty();
    for (id, object) in lent {
        // Only other namespaces refer to it now.
        let kept = ObjectRecord {
            refs: object.foreign_refs,
            ..object
        };
        txn.put(&meta::OBJECTS, (&ns.id, &id), &kept)?;
    }
    let purge = PurgeRecord {
        backend: ns.backend.clone(),
        prefix: ns.grid_prefix.clone(),
        keep_recorded,
        writer: String::new(),
    };
    Ok((purge, freed))
}
