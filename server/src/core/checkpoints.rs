//! Checkpoints: durable, exact, metadata-only snapshots of a namespace.
//!
//! Creating a checkpoint copies the namespace's entries (stored as
//! `checkpoint_pages` says) and holds every object they name: content
//! borrowed from other namespaces by a reference each, the namespace's own
//! (all live at that moment) lazily, as `super::refs` explains; restoring
//! replaces the live entries with the checkpoint's in one commit; deleting
//! drops the copies and what they held. Content is never copied, so the
//! cost follows the number of entries, not bytes; objects a checkpoint
//! holds are never reclaimed. Ids are UUIDv7: unique even
//! when created in the same millisecond, and ordered by creation.

use std::sync::Arc;

use prost::Message;

use super::access::Access;
use super::checkpoint_pages;
use super::quota;
use super::refs::Held;
use super::tree::Tree;
use super::{Core, page_size, page_token, parse_page_token};
use crate::auth::Identity;
use crate::error::{Result, invalid, not_found};
use crate::ids::validate_server_id;
use crate::meta::{self, CheckpointRecord, EntryRecord, Reader, Span, Step, Writer};

/// A checkpoint with its id.
pub type Checkpoint = (String, CheckpointRecord);

/// What a diff found: `(path, before, after)` triples.
#[derive(Debug, Default)]
pub struct Diff {
    /// Only on the newer side.
    pub added: Vec<(String, Option<EntryRecord>, Option<EntryRecord>)>,
    /// Only on the older side.
    pub removed: Vec<(String, Option<EntryRecord>, Option<EntryRecord>)>,
    /// On both, different.
    pub changed: Vec<(String, Option<EntryRecord>, Option<EntryRecord>)>,
}

fn new_checkpoint_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Whether two entries differ in kind, content or metadata.
fn differs(a: &EntryRecord, b: &EntryRecord) -> bool {
    a.kind != b.kind
        || a.sha256 != b.sha256
        || a.size != b.size
        || a.metadata != b.metadata
        || a.mime_type != b.mime_type
}

/// Whether two entries at one path differ in anything but their version:
/// what a restore must write.
fn differs_beyond_version(a: &EntryRecord, b: &EntryRecord) -> bool {
    *a != EntryRecord {
        version: a.version,
        ..b.clone()
    }
}

/// Every live entry of `ns`, in path order.
fn live_entries(r: &Reader<'_>, ns: &str) -> Result<Vec<(String, EntryRecord)>> {
    r.rows(&meta::ENTRIES, Span::under(&[ns], ""))
        .map(|row| row.map(|((_, path), entry)| (path, entry)))
        .collect()
}

impl Tree<'_> {
    /// Snapshots the live tree as checkpoint `id`.
    fn create_checkpoint(
        &mut self,
        id: &str,
        name: &str,
        description: &str,
    ) -> Result<CheckpointRecord> {
        let entries = live_entries(self.txn, &self.ns.id)?;
        let mut record = CheckpointRecord {
            name: name.to_owned(),
            description: description.to_owned(),
            created_ms: self.now,
            ..Default::default()
        };
        checkpoint_pages::write(self.txn, &self.ns.id, id, &entries)?;
        for (path, entry) in &entries {
            // Counted per entry, as a row of its own would be: the quota
            // does not depend on how the copies are stored.
            self.count_row(path, None, Some(entry));
            record.entry_count += 1;
            if !entry.is_dir() {
                record.file_count += 1;
                record.total_bytes += entry.size;
            }
        }
        // A lazy checkpoint holds the namespace's own objects without a
        // reference each: every one is live now (see `super::refs`).
        // Content borrowed from other namespaces is referenced as before,
        // and so is everything while a replica that counts references the
        // older way is live.
        let lazy = super::replicas::readable_layout(self.txn)? >= meta::layout::LAZY_REFS;
        if lazy && !self.ns.lazy_refs {
            self.start_lazy_refs()?;
        }
        let referenced = |e: &&EntryRecord| !e.is_dir() && (!lazy || !e.object_ns.is_empty());
        if lazy {
            self.ns.checkpoint_seq += 1;
            record.seq = self.ns.checkpoint_seq;
            self.checkpoints_since.clear();
            self.txn
                .put(&meta::CHECKPOINT_SEQS, (&self.ns.id, record.seq), id)?;
        }
        self.prefetch_objects(entries.iter().map(|(_, e)| e).filter(referenced))?;
        for entry in entries.iter().map(|(_, e)| e).filter(referenced) {
            self.add_ref(entry, Held::Checkpoint)?;
        }
        self.count_checkpoint(id, &record, 1);
        self.txn
            .put(&meta::CHECKPOINTS, (&self.ns.id, id), &record)?;
        Ok(record)
    }

    /// Counts checkpoint record `id` coming (`sign` 1) or going (-1), for
    /// the metadata quotas.
    fn count_checkpoint(&mut self, id: &str, record: &CheckpointRecord, sign: i64) {
        let bytes = quota::signed((id.len() + record.encoded_len()) as u64);
        self.held.checkpoints += sign;
        self.held.metadata_bytes += sign * bytes;
    }

    fn checkpoint(&self, id: &str) -> Result<CheckpointRecord> {
        self.txn
            .get(&meta::CHECKPOINTS, (&self.ns.id, id))?
            .ok_or_else(|| not_found(format!("checkpoint {id} not found")))
    }

    /// Makes the live tree exactly checkpoint `id`'s. Returns (entries now,
    /// live entries removed or replaced).
    ///
    /// Only the paths where the two differ are written: an entry the live
    /// tree already holds as the checkpoint has it (all but its version)
    /// keeps its row, its version and its object's reference. So a restore
    /// costs the changes since the checkpoint, not the tree's size, and a
    /// reader holding an unchanged entry's version still holds the current
    /// one. Every entry written gets a new version, as any write does.
    fn restore_checkpoint(&mut self, id: &str) -> Result<(u64, u64)> {
        let record = self.checkpoint(id)?;
        self.guard_change("")?;
        self.note_restored(id);
        let snapshot = checkpoint_pages::all(self.txn, &self.ns.id, id)?;
        let live = live_entries(self.txn, &self.ns.id)?;
        let Diff {
            added,
            removed,
            changed,
        } = merge(live, snapshot, differs_beyond_version);
        let going = || {
            (removed.iter().chain(&changed))
                .filter_map(|(path, before, _)| Some((path, before.as_ref()?)))
        };
        let coming = || {
            (added.iter().chain(&changed))
                .filter_map(|(path, _, after)| Some((path, after.as_ref()?)))
        };
        // Quotas are checked by `finish` on what the restore really adds
        // (content only this checkpoint kept is already counted).
        self.prefetch_objects(coming().map(|(_, e)| e))?;
        self.prefetch_releases(going().map(|(_, e)| e))?;
        // References first, so no object shared by both sides touches zero.
        for (_, entry) in coming().filter(|(_, e)| !e.is_dir()) {
            self.add_ref(entry, Held::Live)?;
        }
        for (path, entry) in going() {
            self.count_row(path, Some(entry), None);
            if !entry.is_dir() {
                self.file_gone(entry)?;
            }
        }
        for (path, _, _) in &removed {
            self.txn.delete(&meta::ENTRIES, (&self.ns.id, path))?;
        }
        for (path, entry) in coming() {
            let restored = EntryRecord {
                version: self.next_version()?,
                ..entry.clone()
            };
            if !restored.is_dir() {
                self.file_added(&restored);
            }
            // A changed path's row is overwritten; its old row was counted
            // out above.
            self.put_absent(path, &restored)?;
        }
        Ok((record.entry_count, (removed.len() + changed.len()) as u64))
    }

    /// Deletes checkpoint `id` and its references.
    fn delete_checkpoint(&mut self, id: &str) -> Result<()> {
        let record = self.checkpoint(id)?;
        let snapshot = checkpoint_pages::all(self.txn, &self.ns.id, id)?;
        checkpoint_pages::delete(self.txn, &self.ns.id, id)?;
        self.prefetch_releases(snapshot.iter().map(|(_, e)| e))?;
        let lazy = record.seq > 0;
        if lazy {
            self.txn
                .delete(&meta::CHECKPOINT_SEQS, (&self.ns.id, record.seq))?;
            self.ns.deleted_checkpoint_seq = self.ns.deleted_checkpoint_seq.max(record.seq);
            self.checkpoints_since.clear();
        }
        // A lazy checkpoint holds each of its namespace's objects once,
        // however many of its entries name it.
        let mut held = std::collections::BTreeSet::new();
        for (path, entry) in &snapshot {
            self.count_row(path, Some(entry), None);
            if entry.is_dir() {
                continue;
            }
            if lazy && entry.object_ns.is_empty() {
                held.insert(entry.object_id.as_str());
            } else {
                self.unref(entry, Held::Checkpoint)?;
            }
        }
        for object_id in held {
            self.release_held(object_id, record.seq)?;
        }
        self.count_checkpoint(id, &record, -1);
        self.txn.delete(&meta::CHECKPOINTS, (&self.ns.id, id))?;
        Ok(())
    }
}

impl Core {
    /// Creates a checkpoint of the namespace's tree.
    pub async fn create_checkpoint(
        &self,
        who: &Identity,
        ns_id: &str,
        name: &str,
        description: &str,
    ) -> Result<Checkpoint> {
        if name.len() > 255 || name.chars().any(char::is_control) {
            return Err(invalid(
                "checkpoint name must be at most 255 bytes without control characters",
            ));
        }
        if description.len() > 4096 {
            return Err(invalid("checkpoint description must be at most 4096 bytes"));
        }
        let id = new_checkpoint_id();
        let (key, name, description) = (id.clone(), name.to_owned(), description.to_owned());
        let record = self
            .mutate(who, "CreateCheckpoint", ns_id, move |t| {
                t.create_checkpoint(&key, &name, &description)
            })
            .await?;
        Ok((id, record))
    }

    /// Restores a checkpoint; returns (entries now, live entries replaced).
    pub async fn restore_checkpoint(
        &self,
        who: &Identity,
        ns_id: &str,
        ckpt: &str,
    ) -> Result<(u64, u64)> {
        validate_server_id("checkpoint", ckpt)?;
        let key = ckpt.to_owned();
        self.mutate(who, "RestoreCheckpoint", ns_id, move |t| {
            t.restore_checkpoint(&key)
        })
        .await
    }

    /// Deletes a checkpoint.
    pub async fn delete_checkpoint(&self, who: &Identity, ns_id: &str, ckpt: &str) -> Result<()> {
        validate_server_id("checkpoint", ckpt)?;
        let key = ckpt.to_owned();
        self.mutate(who, "DeleteCheckpoint", ns_id, move |t| {
            t.delete_checkpoint(&key)
        })
        .await
    }

    /// One checkpoint.
    pub async fn get_checkpoint(
        &self,
        who: &Identity,
        ns_id: &str,
        ckpt: &str,
    ) -> Result<Checkpoint> {
        validate_server_id("checkpoint", ckpt)?;
        let (who, ns_id, ckpt) = (who.clone(), ns_id.to_owned(), ckpt.to_owned());
        self.meta
            .read(move |r| {
                Core::namespace_for(r, &who, &ns_id, Access::Read)?;
                r.get(&meta::CHECKPOINTS, (&ns_id, &ckpt))?
                    .map(|record| (ckpt.clone(), record))
                    .ok_or_else(|| not_found(format!("checkpoint {ckpt} not found")))
            })
            .await
    }

    /// A page of a namespace's checkpoints, oldest first.
    pub async fn list_checkpoints(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        page: u32,
        token: &str,
    ) -> Result<(Vec<Checkpoint>, String)> {
        let after = parse_page_token(token)?;
        let limit = page_size(page, 100, 1000);
        let (who, ns_id) = (who.clone(), ns_id.to_owned());
        self.scan(move |r| {
            Core::namespace_for(r, &who, &ns_id, Access::Read)?;
            let mut span = Span::under(&[&ns_id], "");
            if let Some(after) = &after {
                span = span.after(meta::key_of(&meta::CHECKPOINTS, (&ns_id, after)));
            }
            let page = r.page(&meta::CHECKPOINTS, span, limit, |_, record| {
                Ok(Step::Take(record))
            })?;
            let out: Vec<Checkpoint> = page
                .items
                .into_iter()
                .map(|((_, id), record)| (id, record))
                .collect();
            let next = match out.last() {
                Some((id, _)) if page.more => page_token(id),
                _ => String::new(),
            };
            Ok((out, next))
        })
        .await
    }

    /// Compares checkpoint `from` with checkpoint `to`, or with the live
    /// tree when `to` is empty.
    pub async fn diff_checkpoints(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Diff> {
        validate_server_id("checkpoint", from)?;
        if !to.is_empty() {
            validate_server_id("checkpoint", to)?;
        }
        let (who, ns_id, from, to) = (
            who.clone(),
            ns_id.to_owned(),
            from.to_owned(),
            to.to_owned(),
        );
        self.scan(move |r| {
            Core::namespace_for(r, &who, &ns_id, Access::Read)?;
            for id in [from.as_str(), to.as_str()]
                .into_iter()
                .filter(|id| !id.is_empty())
            {
                if r.get(&meta::CHECKPOINTS, (&ns_id, id))?.is_none() {
                    return Err(not_found(format!("checkpoint {id} not found")));
                }
            }
            let before = checkpoint_pages::all(r, &ns_id, &from)?;
            let after = if to.is_empty() {
                live_entries(r, &ns_id)?
            } else {
                checkpoint_pages::all(r, &ns_id, &to)?
            };
            Ok(merge(before, after, differs))
        })
        .await
    }
}

/// Walks two path-ordered lists together; entries at one path are changed
/// when `differ` says so.
fn merge(
    before: Vec<(String, EntryRecord)>,
    after: Vec<(String, EntryRecord)>,
    differ: fn(&EntryRecord, &EntryRecord) -> bool,
) -> Diff {
    let mut diff = Diff::default();
    let (mut a, mut b) = (before.into_iter().peekable(), after.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return diff,
            (Some(_), None) => {
                let (p, e) = a.next().expect("peeked");
                diff.removed.push((p, Some(e), None));
            }
            (None, Some(_)) => {
                let (p, e) = b.next().expect("peeked");
                diff.added.push((p, None, Some(e)));
            }
            (Some((pa, _)), Some((pb, _))) => match pa.cmp(pb) {
                std::cmp::Ordering::Less => {
                    let (p, e) = a.next().expect("peeked");
                    diff.removed.push((p, Some(e), None));
                }
                std::cmp::Ordering::Greater => {
                    let (p, e) = b.next().expect("peeked");
                    diff.added.push((p, None, Some(e)));
                }
                std::cmp::Ordering::Equal => {
                    let ((p, ea), (_, eb)) = (a.next().expect("peeked"), b.next().expect("peeked"));
                    if differ(&ea, &eb) {
                        diff.changed.push((p, Some(ea), Some(eb)));
                    }
                }
            },
        }
    }
}

/// Removes every checkpoint row of a namespace (it is being destroyed).
pub(crate) fn remove_all(w: &Writer<'_>, ns: &str) -> Result<()> {
    checkpoint_pages::delete_namespace(w, ns)?;
    w.delete_span(&meta::CHECKPOINTS, Span::under(&[ns], ""))?;
    w.delete_span(&meta::CHECKPOINT_SEQS, Span::under(&[ns], ""))?;
    Ok(())
}
