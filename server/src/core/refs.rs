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
//! **Lazy checkpoints.** A checkpoint copies a namespace's live entries, so
//! every object of its own it names is live in it at that moment. A
//! namespace with `lazy_refs` (every namespace made once all replicas read
//! `layout::LAZY_REFS`; an older one from its next checkpoint on) keeps
//! `live_refs`, its own live entries naming each of its objects, and
//! numbers its checkpoints (`CheckpointRecord::seq`, `CHECKPOINT_SEQS`).
//! Such a checkpoint adds no reference to its namespace's objects, so it
//! costs its entries, not an object row each. An object records the
//! `checkpoint_seq` at which its live stretch began (`live_since`); when
//! `live_refs` falls to zero, the stretch ends and the lazy checkpoints
//! made since then that still exist become references (`refs` and
//! `checkpoint_refs`). Deleting lazy checkpoint C releases, once per
//! object, only those it was counted for: every object it names whose
//! current stretch began after C, or that is not live (its earlier stretch,
//! which covered C, ended and counted it). An object live since before C
//! was never counted for C, and its stretch's end will not count C, gone.
//! Content borrowed from other namespaces, and checkpoints made before
//! (`seq` 0), keep a reference per entry. `counted_holds` states the rule;
//! the footprint recount checks every count against it.
//!
//! Destroying a namespace releases what it borrowed, then keeps the records
//! of its objects others still refer to (their keys stay under its prefix,
//! which still names their sandbox) and queues everything else under the
//! prefix for deletion. A kept object is reclaimed like any other when its
//! last reference goes.

use super::quota;
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

/// A file's reference to its object, by the keys of the rows that adding
/// or releasing it reads.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    /// The namespace owning the object.
    pub owner: &'a str,
    /// The object.
    pub object_id: &'a str,
    /// Its content's SHA-256 (the key of its digest row).
    pub sha256: &'a str,
}

impl<'a> FileRef<'a> {
    /// The reference of `entry`, an entry of namespace `ns`; none for a
    /// directory.
    pub fn of(entry: &'a EntryRecord, ns: &'a str) -> Option<Self> {
        (!entry.is_dir()).then(|| FileRef {
            owner: owner(entry, ns),
            object_id: &entry.object_id,
            sha256: &entry.sha256,
        })
    }
}

/// `wanted` and the object records of `refs`: what adding them reads.
pub fn object_rows<'a>(
    wanted: meta::Wanted,
    refs: impl IntoIterator<Item = FileRef<'a>>,
) -> meta::Wanted {
    wanted.rows(
        &meta::OBJECTS,
        refs.into_iter().map(|r| (r.owner, r.object_id)),
    )
}

/// `wanted` and what releasing `refs` reads: their object records, and the
/// digest rows the release of an object's last reference drops.
pub fn release_rows<'a, R>(wanted: meta::Wanted, refs: R) -> meta::Wanted
where
    R: IntoIterator<Item = FileRef<'a>>,
    R::IntoIter: Clone,
{
    let refs = refs.into_iter();
    object_rows(wanted, refs.clone()).rows(&meta::DIGESTS, refs.map(|r| (r.owner, r.sha256)))
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

    /// Reads the object records of these entries' files ahead, in batches
    /// (see `meta::Reader::prefetch`): a checkpoint, a restore or a
    /// recursive delete then costs a few round trips on a shared engine,
    /// not one per file.
    pub(super) fn prefetch_objects<'e>(
        &self,
        entries: impl IntoIterator<Item = &'e EntryRecord>,
    ) -> Result<()> {
        let ns = self.ns.id.as_str();
        self.txn.prefetch(|| {
            object_rows(
                meta::Wanted::default(),
                entries.into_iter().filter_map(|e| FileRef::of(e, ns)),
            )
        })
    }

    /// `prefetch_objects` for entries whose references are about to be
    /// dropped: also the digest rows a release reads when an object's last
    /// reference goes (without them, a restore or a removal of thousands
    /// of files read each one in a round trip of its own).
    pub(super) fn prefetch_releases<'e>(
        &self,
        entries: impl IntoIterator<Item = &'e EntryRecord, IntoIter: Clone>,
    ) -> Result<()> {
        let ns = self.ns.id.as_str();
        self.txn.prefetch(|| {
            release_rows(
                meta::Wanted::default(),
                entries.into_iter().filter_map(|e| FileRef::of(e, ns)),
            )
        })
    }

    /// Adds the reference a new entry (live or checkpointed) of this
    /// namespace makes to its object.
    pub(super) fn add_ref(&mut self, entry: &EntryRecord, held: Held) -> Result<()> {
        let owner = owner(entry, &self.ns.id).to_owned();
        let foreign = owner != self.ns.id;
        let mut object = load(self.txn, &owner, &entry.object_id)?;
        let was = object.only_checkpointed();
        object.refs += 1;
        if held == Held::Checkpoint {
            object.checkpoint_refs += 1;
        }
        if foreign {
            object.foreign_refs += 1;
            self.ns.borrowed += 1;
        } else if held == Held::Live && self.ns.lazy_refs {
            if object.live_refs == 0 {
                object.live_since = self.ns.checkpoint_seq;
            }
            object.live_refs += 1;
        }
        let mut payer = Payer::Tree(&self.ns.id, &mut self.held);
        settle_retention(self.txn, &mut payer, &owner, &mut object, was)?;
        self.txn
            .put(&meta::OBJECTS, (&owner, &entry.object_id), &object)
    }

    /// Drops the reference an entry of this namespace made to its object.
    pub(super) fn unref(&mut self, entry: &EntryRecord, held: Held) -> Result<()> {
        let owner = owner(entry, &self.ns.id).to_owned();
        if owner != self.ns.id {
            self.ns.borrowed = self.ns.borrowed.saturating_sub(1);
        }
        let ns_id = self.ns.id.clone();
        let stretch =
            (owner == ns_id && held == Held::Live && self.ns.lazy_refs).then(|| Stretch {
                ns: &ns_id,
                newest: self.ns.checkpoint_seq,
                deleted: self.ns.deleted_checkpoint_seq,
                counts: &mut self.checkpoints_since,
            });
        let mut payer = Payer::Tree(&ns_id, &mut self.held);
        self.freed |= release(
            self.txn,
            &mut payer,
            (&owner, &entry.object_id),
            held,
            self.now,
            stretch,
        )?;
        Ok(())
    }

    /// Drops lazy checkpoint `seq`'s hold on `object_id`, one of this
    /// namespace's own objects it holds (it is being deleted): a reference,
    /// if one was counted for it. None was while the object's current live
    /// stretch, which began before the checkpoint, lasts; that stretch's end
    /// will not count a checkpoint that is gone.
    pub(super) fn release_held(&mut self, object_id: &str, seq: u64) -> Result<()> {
        let object = self.object(object_id)?;
        if object.live_refs > 0 && object.live_since < seq {
            return Ok(());
        }
        let ns_id = self.ns.id.clone();
        let mut payer = Payer::Tree(&ns_id, &mut self.held);
        self.freed |= release(
            self.txn,
            &mut payer,
            (&ns_id, object_id),
            Held::Checkpoint,
            self.now,
            None,
        )?;
        Ok(())
    }

    /// Makes this namespace's checkpoints lazy from now on: counts the live
    /// references of each of its objects, once. Its checkpoints so far
    /// added their references; they keep them.
    pub(super) fn start_lazy_refs(&mut self) -> Result<()> {
        let mut live: std::collections::BTreeMap<String, u64> = Default::default();
        for row in self
            .txn
            .rows(&meta::ENTRIES, Span::under(&[&self.ns.id], ""))
        {
            let (_, entry) = row?;
            if !entry.is_dir() && entry.object_ns.is_empty() {
                *live.entry(entry.object_id).or_default() += 1;
            }
        }
        let ns = self.ns.id.clone();
        self.txn.prefetch(|| {
            meta::Wanted::default().rows(
                &meta::OBJECTS,
                live.keys().map(|id| (ns.as_str(), id.as_str())),
            )
        })?;
        for (id, count) in live {
            let mut object = self.object(&id)?;
            object.live_refs = count;
            object.live_since = self.ns.checkpoint_seq;
            self.save_object(&id, &object)?;
        }
        self.ns.lazy_refs = true;
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

/// Whether a reference is a live entry's or a checkpoint's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// An entry of the live tree.
    Live,
    /// An entry copied into a checkpoint.
    Checkpoint,
}

/// The live stretch of an object of a lazy namespace that a release may
/// end: the checkpoints it counts then.
struct Stretch<'a> {
    /// The namespace (the object's owner).
    ns: &'a str,
    /// Its `checkpoint_seq`.
    newest: u64,
    /// Its `deleted_checkpoint_seq`.
    deleted: u64,
    /// Counts found so far in this transaction, by `live_since`.
    counts: &'a mut std::collections::BTreeMap<u64, u64>,
}

impl Stretch<'_> {
    /// The lazy checkpoints of the namespace made since `live_since`: those
    /// that hold an object live since then, and are still there.
    fn count(self, txn: &Writer<'_>, live_since: u64) -> Result<u64> {
        if live_since >= self.newest {
            return Ok(0);
        }
        // None deleted since: every number since then is there (a commit
        // then reads no row for it, on an engine where a read is a round
        // trip).
        if live_since >= self.deleted {
            return Ok(self.newest - live_since);
        }
        if let Some(&known) = self.counts.get(&live_since) {
            return Ok(known);
        }
        let since = meta::key_of(&meta::CHECKPOINT_SEQS, (self.ns, live_since));
        let counted = txn
            .keys(
                &meta::CHECKPOINT_SEQS,
                Span::under(&[self.ns], "").after(since),
            )?
            .len() as u64;
        self.counts.insert(live_since, counted);
        Ok(counted)
    }
}

/// Who is charged when content becomes checkpoint-only.
enum Payer<'a> {
    /// The namespace a tree change works on (`.0`), through its pending
    /// change (recorded and checked when the tree finishes).
    Tree(&'a str, &'a mut quota::Change),
    /// A namespace being destroyed (`.0`): its whole footprint goes with
    /// it, so content it let go is charged to the object's owner.
    Destroyed(&'a str),
}

/// Moves `object`'s size into or out of someone's retained bytes when a
/// reference change made it checkpoint-only or live again (`was`: whether
/// it was checkpoint-only before). Growth is charged to the payer; a
/// release goes to whoever was charged, wherever that is.
fn settle_retention(
    txn: &Writer<'_>,
    payer: &mut Payer<'_>,
    owner: &str,
    object: &mut ObjectRecord,
    was: bool,
) -> Result<()> {
    let now = object.only_checkpointed();
    if was == now {
        return Ok(());
    }
    let size = quota::signed(object.size);
    let (charged, delta) = if now {
        let to = match payer {
            Payer::Tree(ns, _) => ns.to_string(),
            Payer::Destroyed(_) => owner.to_owned(),
        };
        object.retained_by.clone_from(&to);
        (to, size)
    } else {
        (std::mem::take(&mut object.retained_by), -size)
    };
    match payer {
        _ if charged.is_empty() => {}
        Payer::Tree(ns, held) if charged == *ns => held.retained_bytes += delta,
        Payer::Destroyed(ns) if charged == *ns => {}
        _ => {
            let change = quota::Change {
                retained_bytes: delta,
                ..quota::Change::default()
            };
            quota::record_for(txn, &charged, &change)?;
        }
    }
    Ok(())
}

/// Drops one reference (`held` by a live or checkpointed entry) to the
/// object `(owner, object_id)`; at zero it is queued for reclaim and no
/// longer offered for dedup. Returns whether it reached zero.
fn release(
    txn: &Writer<'_>,
    payer: &mut Payer<'_>,
    (owner, object_id): (&str, &str),
    held: Held,
    now: i64,
    stretch: Option<Stretch<'_>>,
) -> Result<bool> {
    let mut object = load(txn, owner, object_id)?;
    let was = object.only_checkpointed();
    if let Some(stretch) = stretch {
        object.live_refs = object.live_refs.saturating_sub(1);
        if object.live_refs == 0 {
            let counted = stretch.count(txn, object.live_since)?;
            object.refs += counted;
            object.checkpoint_refs += counted;
        }
    }
    object.refs = object.refs.saturating_sub(1);
    if held == Held::Checkpoint {
        object.checkpoint_refs = object.checkpoint_refs.saturating_sub(1);
    }
    let referrer = match payer {
        Payer::Tree(ns, _) | Payer::Destroyed(ns) => *ns,
    };
    if owner != referrer {
        object.foreign_refs = object.foreign_refs.saturating_sub(1);
    }
    settle_retention(txn, payer, owner, &mut object, was)?;
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
    let mut payer = Payer::Destroyed(&ns.id);
    if ns.borrowed > 0 {
        let mut borrowed = Vec::new();
        for row in txn.rows(&meta::ENTRIES, Span::under(&[&ns.id], "")) {
            let (_, entry) = row?;
            if !entry.is_dir() && !entry.object_ns.is_empty() {
                borrowed.push((entry, Held::Live));
            }
        }
        super::checkpoint_pages::for_each(txn, Some(&ns.id), |_, _, _, entry| {
            if !entry.is_dir() && !entry.object_ns.is_empty() {
                borrowed.push((entry, Held::Checkpoint));
            }
            Ok(())
        })?;
        for (entry, held) in borrowed {
            let object = (entry.object_ns.as_str(), entry.object_id.as_str());
            freed |= release(txn, &mut payer, object, held, now, None)?;
        }
    }
    let mut lent = Vec::new();
    for row in txn.rows(&meta::OBJECTS, Span::under(&[&ns.id], "")) {
        let ((_, id), object) = row?;
        if object.foreign_refs > 0 {
            lent.push((id, object));
        }
    }
    // The checkpoint references among a lent object's refs that are this
    // namespace's own go with it.
    let mut own_checkpoint_refs: std::collections::HashMap<String, u64> = Default::default();
    if !lent.is_empty() {
        own_checkpoint_refs.extend(counted_holds(txn, &ns.id)?);
    }
    let rows = || Span::under(&[&ns.id], "");
    txn.delete_span(&meta::OBJECTS, rows())?;
    txn.delete_span(&meta::DIGESTS, rows())?;
    txn.delete_span(&meta::GARBAGE, rows())?;
    let keep_recorded = !lent.is_empty();
    for (id, object) in lent {
        // Only other namespaces refer to it now. Were those all
        // checkpoints, no one is charged for it (its owner is gone).
        let own = own_checkpoint_refs.get(&id).copied().unwrap_or(0);
        let kept = ObjectRecord {
            refs: object.foreign_refs,
            checkpoint_refs: object.checkpoint_refs.saturating_sub(own),
            retained_by: String::new(),
            live_refs: 0,
            live_since: 0,
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

/// `ns`, a namespace about to be created, with lazy checkpoints from the
/// start when every live replica reads them: it has no objects yet, so
/// nothing needs counting.
pub(crate) fn born(
    r: &meta::Reader<'_>,
    ns: meta::NamespaceRecord,
) -> Result<meta::NamespaceRecord> {
    let lazy_refs = super::replicas::readable_layout(r)? >= meta::layout::LAZY_REFS;
    Ok(meta::NamespaceRecord { lazy_refs, ..ns })
}

/// The references namespace `ns`'s checkpoints count to its own objects,
/// by object id: an eager checkpoint's one per entry naming the object; a
/// lazy one's one per object, unless the object's live stretch (which
/// began before the checkpoint) still lasts. Borrowed content is not
/// included. The rule `release_held` and a stretch's end keep; the
/// footprint recount checks it.
pub(crate) fn counted_holds(
    r: &meta::Reader<'_>,
    ns: &str,
) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut seqs = std::collections::HashMap::new();
    for row in r.rows(&meta::CHECKPOINTS, Span::under(&[ns], "")) {
        let ((_, id), record) = row?;
        seqs.insert(id, record.seq);
    }
    let mut counted = std::collections::BTreeMap::<String, u64>::new();
    // (object id, seq) of each lazy hold, once per checkpoint.
    let mut lazy = std::collections::BTreeSet::new();
    super::checkpoint_pages::for_each(r, Some(ns), |_, ckpt, _, entry| {
        if !entry.is_dir() && entry.object_ns.is_empty() {
            match seqs.get(ckpt).copied().unwrap_or(0) {
                0 => *counted.entry(entry.object_id).or_default() += 1,
                seq => {
                    lazy.insert((entry.object_id, seq));
                }
            }
        }
        Ok(())
    })?;
    r.prefetch(|| {
        meta::Wanted::default().rows(&meta::OBJECTS, lazy.iter().map(|(id, _)| (ns, id.as_str())))
    })?;
    for (id, seq) in lazy {
        let object = r.get(&meta::OBJECTS, (ns, &id))?.unwrap_or_default();
        if !(object.live_refs > 0 && object.live_since < seq) {
            *counted.entry(id).or_default() += 1;
        }
    }
    Ok(counted)
}
