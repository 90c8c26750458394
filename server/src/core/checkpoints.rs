//! Checkpoints: durable, exact, metadata-only snapshots of a namespace.
//!
//! Creating a checkpoint copies the namespace's entries into
//! `CHECKPOINT_ENTRIES` and adds a reference to every object they name;
//! restoring replaces the live entries with the checkpoint's in one commit;
//! deleting drops the copies and their references. Content is never copied,
//! so the cost follows the number of entries, not bytes; objects a
//! checkpoint references are never reclaimed. Ids are UUIDv7: unique even
//! when created in the same millisecond, and ordered by creation.

use std::sync::Arc;

use redb::ReadableTable;

use super::access::Access;
use super::tree::Tree;
use super::{Core, page_size, page_token, parse_page_token};
use crate::auth::Identity;
use crate::error::{Result, invalid, not_found};
use crate::ids::validate_server_id;
use crate::meta::{self, CheckpointRecord, EntryRecord, decode};

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

/// Every entry of checkpoint `ckpt` of `ns`, in path order.
fn checkpoint_entries(
    table: &impl ReadableTable<(&'static str, &'static str, &'static str), &'static [u8]>,
    ns: &str,
    ckpt: &str,
) -> Result<Vec<(String, EntryRecord)>> {
    let mut out = Vec::new();
    for item in table.range((ns, ckpt, "")..)? {
        let (k, v) = item?;
        let (key_ns, key_ckpt, path) = k.value();
        if key_ns != ns || key_ckpt != ckpt {
            break;
        }
        out.push((path.to_owned(), decode(v.value())?));
    }
    Ok(out)
}

/// Every live entry of `ns`, in path order.
fn live_entries(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    ns: &str,
) -> Result<Vec<(String, EntryRecord)>> {
    let mut out = Vec::new();
    for item in table.range((ns, "")..)? {
        let (k, v) = item?;
        let (key_ns, path) = k.value();
        if key_ns != ns {
            break;
        }
        out.push((path.to_owned(), decode(v.value())?));
    }
    Ok(out)
}

impl Tree<'_> {
    /// Snapshots the live tree as checkpoint `id`.
    fn create_checkpoint(
        &mut self,
        id: &str,
        name: String,
        description: String,
    ) -> Result<CheckpointRecord> {
        let entries = live_entries(&self.entries, &self.ns.id)?;
        let mut record = CheckpointRecord {
            name,
            description,
            created_ms: self.now,
            ..Default::default()
        };
        let mut copies = self.txn.open_table(meta::CHECKPOINT_ENTRIES)?;
        for (path, entry) in &entries {
            copies.insert(
                (self.ns.id.as_str(), id, path.as_str()),
                prost::Message::encode_to_vec(entry).as_slice(),
            )?;
            record.entry_count += 1;
            if !entry.is_dir() {
                record.file_count += 1;
                record.total_bytes += entry.size;
            }
        }
        drop(copies);
        for (_, entry) in entries.iter().filter(|(_, e)| !e.is_dir()) {
            self.add_ref(&entry.object_id)?;
        }
        self.txn.open_table(meta::CHECKPOINTS)?.insert(
            (self.ns.id.as_str(), id),
            prost::Message::encode_to_vec(&record).as_slice(),
        )?;
        Ok(record)
    }

    fn checkpoint(&self, id: &str) -> Result<CheckpointRecord> {
        let table = self.txn.open_table(meta::CHECKPOINTS)?;
        let record = table
            .get((self.ns.id.as_str(), id))?
            .map(|v| decode(v.value()))
            .transpose()?;
        record.ok_or_else(|| not_found(format!("checkpoint {id} not found")))
    }

    /// Makes the live tree exactly checkpoint `id`'s. Returns (entries now,
    /// live entries replaced).
    fn restore_checkpoint(&mut self, id: &str) -> Result<(u64, u64)> {
        let record = self.checkpoint(id)?;
        let snapshot = checkpoint_entries(
            &self.txn.open_table(meta::CHECKPOINT_ENTRIES)?,
            &self.ns.id,
            id,
        )?;
        let live = live_entries(&self.entries, &self.ns.id)?;
        let live_bytes: u64 = live
            .iter()
            .filter(|(_, e)| !e.is_dir())
            .map(|(_, e)| e.size)
            .sum();
        super::quota::check(
            self.txn,
            &self.quotas,
            &self.ns,
            record.total_bytes.saturating_sub(live_bytes),
            0,
        )?;

        // References first, so no object shared by both sides touches zero.
        for (_, entry) in snapshot.iter().filter(|(_, e)| !e.is_dir()) {
            self.add_ref(&entry.object_id)?;
        }
        for (path, entry) in &live {
            self.entries.remove((self.ns.id.as_str(), path.as_str()))?;
            if !entry.is_dir() {
                self.file_gone(entry)?;
            }
        }
        for (path, entry) in snapshot {
            let restored = EntryRecord {
                version: self.next_version()?,
                ..entry
            };
            if !restored.is_dir() {
                self.file_added(&restored);
            }
            self.put(&path, &restored)?;
        }
        Ok((record.entry_count, live.len() as u64))
    }

    /// Deletes checkpoint `id` and its references.
    fn delete_checkpoint(&mut self, id: &str) -> Result<()> {
        self.checkpoint(id)?;
        let mut copies = self.txn.open_table(meta::CHECKPOINT_ENTRIES)?;
        let snapshot = checkpoint_entries(&copies, &self.ns.id, id)?;
        for (path, _) in &snapshot {
            copies.remove((self.ns.id.as_str(), id, path.as_str()))?;
        }
        drop(copies);
        for (_, entry) in snapshot.iter().filter(|(_, e)| !e.is_dir()) {
            self.unref(&entry.object_id)?;
        }
        self.txn
            .open_table(meta::CHECKPOINTS)?
            .remove((self.ns.id.as_str(), id))?;
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
                t.create_checkpoint(&key, name, description)
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
    pub fn get_checkpoint(&self, who: &Identity, ns_id: &str, ckpt: &str) -> Result<Checkpoint> {
        validate_server_id("checkpoint", ckpt)?;
        self.meta.read(|txn| {
            Core::namespace_for(txn, who, ns_id, Access::Read)?;
            let table = txn.open_table(meta::CHECKPOINTS)?;
            let record = table
                .get((ns_id, ckpt))?
                .map(|v| decode(v.value()))
                .transpose()?;
            record
                .map(|r| (ckpt.to_owned(), r))
                .ok_or_else(|| not_found(format!("checkpoint {ckpt} not found")))
        })
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
        self.scan(move |txn| {
            Core::namespace_for(txn, &who, &ns_id, Access::Read)?;
            let table = txn.open_table(meta::CHECKPOINTS)?;
            let mut out: Vec<Checkpoint> = Vec::new();
            let start = after.as_deref().unwrap_or("");
            for item in table.range((ns_id.as_str(), start)..)? {
                let (k, v) = item?;
                let (key_ns, id) = k.value();
                if key_ns != ns_id {
                    break;
                }
                if after.as_deref() == Some(id) {
                    continue;
                }
                if out.len() == limit {
                    let next = page_token(&out[out.len() - 1].0);
                    return Ok((out, next));
                }
                out.push((id.to_owned(), decode(v.value())?));
            }
            Ok((out, String::new()))
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
        self.scan(move |txn| {
            Core::namespace_for(txn, &who, &ns_id, Access::Read)?;
            let records = txn.open_table(meta::CHECKPOINTS)?;
            for id in [from.as_str(), to.as_str()]
                .into_iter()
                .filter(|id| !id.is_empty())
            {
                if records.get((ns_id.as_str(), id))?.is_none() {
                    return Err(not_found(format!("checkpoint {id} not found")));
                }
            }
            let copies = txn.open_table(meta::CHECKPOINT_ENTRIES)?;
            let before = checkpoint_entries(&copies, &ns_id, &from)?;
            let after = if to.is_empty() {
                live_entries(&txn.open_table(meta::ENTRIES)?, &ns_id)?
            } else {
                checkpoint_entries(&copies, &ns_id, &to)?
            };
            Ok(merge(before, after))
        })
        .await
    }
}

/// Walks two path-ordered lists together.
fn merge(before: Vec<(String, EntryRecord)>, after: Vec<(String, EntryRecord)>) -> Diff {
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
                    if differs(&ea, &eb) {
                        diff.changed.push((p, Some(ea), Some(eb)));
                    }
                }
            },
        }
    }
}

/// Removes every checkpoint row of a namespace (it is being destroyed).
pub(crate) fn remove_all(txn: &redb::WriteTransaction, ns: &str) -> Result<()> {
    let mut records = txn.open_table(meta::CHECKPOINTS)?;
    let ids = super::namespaces::namespace_keys(&records, ns)?;
    let mut copies = txn.open_table(meta::CHECKPOINT_ENTRIES)?;
    for id in &ids {
        for (path, _) in checkpoint_entries(&copies, ns, id)? {
            copies.remove((ns, id.as_str(), path.as_str()))?;
        }
        records.remove((ns, id.as_str()))?;
    }
    Ok(())
}
