//! Tree rules inside one metadata transaction: parents, the BLOB rule,
//! preconditions, reference counts and namespace totals.
//!
//! [`Tree`] wraps the tables of one write transaction for one namespace. Its
//! operations check first and write after, as the grouped committer needs:
//! an operation that returns a verdict has changed nothing. Reads of a tree
//! from a snapshot (stat, list, find) are `super::listing`'s.

use arca_proto::v1::NamespaceType;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::access::Access;
use super::profile::Rules;
use super::quota;
use super::refs::{self, FileRef, Held};
use super::{Core, MetadataUpdate, Precondition};
use crate::auth::Identity;
use crate::config::{ChangesConfig, QuotaConfig};
use crate::error::{Error, Result, invalid, not_found, precondition};
use crate::meta::{
    self, ChangeRecord, ENTRIES, EntryRecord, KIND_DIRECTORY, KIND_FILE, NamespaceRecord,
    ObjectRecord, Span, Writer, change_kind,
};
use crate::paths;

/// A file about to be committed: its object is complete in the backend.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// The object id.
    pub object_id: String,
    /// The object's backend key.
    pub object_key: String,
    /// Content size.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// MIME type.
    pub mime_type: String,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Commit condition.
    pub precondition: Precondition,
    /// Whether the object's bytes were written. When not, the commit must
    /// find the same content already stored (dedup) or is ABORTED.
    pub written: bool,
    /// What must still hold for written bytes to commit.
    pub fence: super::replicas::Fence,
    /// The file the commit is expected to replace, when a check before the
    /// bytes moved found one.
    pub replaces: Option<Replaced>,
}

/// The file a commit is expected to replace: what a check before the
/// bytes moved found at its path. Its object's record and digest are read
/// ahead with the commit's rows, as the release of its reference reads
/// them. Only a hint: a commit that finds another file there reads that
/// one's rows itself.
#[derive(Debug, Clone)]
pub struct Replaced {
    /// The namespace owning its object.
    pub owner: String,
    /// Its object.
    pub object_id: String,
    /// Its content's SHA-256.
    pub sha256: String,
}

impl Replaced {
    /// The hint for `entry`, a file of namespace `ns`.
    pub fn of(entry: &EntryRecord, ns: &str) -> Option<Replaced> {
        FileRef::of(entry, ns).map(|r| Replaced {
            owner: r.owner.to_owned(),
            object_id: r.object_id.to_owned(),
            sha256: r.sha256.to_owned(),
        })
    }

    /// The reference the commit is expected to release.
    pub fn file_ref(&self) -> FileRef<'_> {
        FileRef {
            owner: &self.owner,
            object_id: &self.object_id,
            sha256: &self.sha256,
        }
    }
}

impl NewFile {
    /// A file of `size` bytes with this digest, to be stored under a fresh
    /// object key in `ns`'s grid prefix (not written yet).
    pub fn fresh(
        ns: &NamespaceRecord,
        object_id: String,
        size: u64,
        sha256: String,
        opts: super::WriteOptions,
        precondition: Precondition,
    ) -> NewFile {
        NewFile {
            object_key: crate::grid::object_key(&ns.grid_prefix, &object_id),
            object_id,
            size,
            sha256,
            mime_type: opts.mime_type,
            metadata: opts.metadata,
            precondition,
            written: false,
            fence: super::replicas::Fence::WriterAlive,
            replaces: None,
        }
    }
}

/// The rows a commit of `file` as the file at `path` of namespace `ns`
/// reads, known before it runs: the namespace, the entry, its parents, the
/// content's digest, and the object and digest of the file it is expected
/// to replace (see `meta::WriteJob::reads`). The namespace's record,
/// which every commit rewrites, is taken in turns through its sandbox's
/// usage row (`quota::Owner::turns`).
pub fn commit_reads(ns: &str, path: &str, file: &NewFile) -> meta::Wanted {
    let wanted = meta::Wanted::default()
        .row(&meta::NAMESPACES, ns)
        .rows(
            &ENTRIES,
            std::iter::once(path)
                .chain(paths::ancestors(path))
                .map(|p| (ns, p)),
        )
        .row(&meta::DIGESTS, (ns, &file.sha256));
    refs::release_rows(wanted, file.replaces.iter().map(Replaced::file_ref))
}

/// The synthetic root directory entry.
pub fn root_entry(ns: &NamespaceRecord) -> EntryRecord {
    EntryRecord {
        kind: KIND_DIRECTORY,
        created_ms: ns.created_ms,
        modified_ms: ns.created_ms,
        ..Default::default()
    }
}

/// Checks a precondition against what is at the path now.
pub fn check_precondition(
    path: &str,
    existing: Option<&EntryRecord>,
    condition: Precondition,
) -> Result<()> {
    match (condition, existing) {
        (Precondition::None, _) | (Precondition::MustNotExist, None) => Ok(()),
        (Precondition::MustNotExist, Some(_)) => {
            Err(Error::AlreadyExists(format!("{path} already exists")))
        }
        (Precondition::VersionMatch(_), None) => {
            Err(precondition(format!("{path} does not exist")))
        }
        (Precondition::VersionMatch(want), Some(e)) if e.version == want => Ok(()),
        (Precondition::VersionMatch(want), Some(e)) => Err(precondition(format!(
            "{path} is at version {}, not {want}",
            e.version
        ))),
    }
}

/// One namespace in one write transaction.
pub struct Tree<'t> {
    pub(super) txn: &'t Writer<'t>,
    /// The namespace; its totals are updated in place and saved by `finish`.
    pub ns: NamespaceRecord,
    pub(super) now: i64,
    /// Whether an object became unreferenced (the reclaimer has work).
    pub freed: bool,
    pub(super) quotas: Arc<QuotaConfig>,
    /// What the changes so far add to (or take from) what the namespace
    /// holds; checked against the quotas and recorded by `finish`.
    pub(super) held: quota::Change,
    /// The namespace's access profile, if it has one.
    rules: Option<Arc<Rules>>,
    /// Files it held when opened (a profile's file limit binds growth).
    files_at_open: u64,
    /// The changes so far, for the change log (see `super::changes`).
    pub(super) changes: Vec<ChangeRecord>,
    /// Whether entry rows written now are changes to log (not while a
    /// namespace is created, nor inside a move or a restore, which log
    /// themselves as one change).
    pub(super) recording: bool,
    /// How much of the change log to keep.
    retention: ChangesConfig,
    /// Lazy checkpoints made since each `ObjectRecord::live_since` a
    /// release asked about, so a release of thousands of files counts them
    /// once (see `super::refs`); emptied when a checkpoint comes or goes.
    pub(super) checkpoints_since: BTreeMap<u64, u64>,
}

impl<'t> Tree<'t> {
    /// Opens the live namespace `ns_id` for changes by `who` (`None`: the
    /// server itself).
    pub fn open(
        txn: &'t Writer<'t>,
        ns_id: &str,
        who: Option<&Identity>,
        quotas: Arc<QuotaConfig>,
        retention: ChangesConfig,
    ) -> Result<Tree<'t>> {
        let ns = Core::resolve_namespace(txn, who, ns_id, Access::Write)?;
        let rules = ns
            .profile
            .as_ref()
            .map(|p| Rules::compile(p).map(Arc::new))
            .transpose()?;
        Ok(Tree {
            txn,
            files_at_open: ns.file_count,
            ns,
            now: txn.now_ms(),
            freed: false,
            quotas,
            held: quota::Change::default(),
            rules,
            changes: Vec::new(),
            recording: true,
            retention,
            checkpoints_since: BTreeMap::new(),
        })
    }

    /// Saves the namespace totals. Call once, after the last change.
    pub fn finish(mut self) -> Result<bool> {
        if let Some(rules) = &self.rules
            && self.ns.file_count > self.files_at_open
        {
            rules.check_count(&self.ns.id, "", self.ns.file_count)?;
        }
        // The log's rows are counted as metadata, but checked only with a
        // change that grows the tree's own: removing or moving never fails
        // for want of room to log it.
        let logged = super::changes::append(self.txn, &mut self.ns, &self.changes, self.retention)?;
        let held = self.held;
        let recorded = quota::Change {
            metadata_bytes: held.metadata_bytes + logged,
            ..held
        };
        let grows = held.entries > 0 || held.metadata_bytes > 0;
        let checked = if grows { recorded } else { held };
        quota::settle_as(self.txn, &self.quotas, &mut self.ns, &checked, &recorded)?;
        self.txn.put(&meta::NAMESPACES, &self.ns.id, &self.ns)?;
        if !self.changes.is_empty() {
            self.txn.announce(&self.ns.id);
        }
        Ok(self.freed)
    }

    pub(super) fn is_blob(&self) -> bool {
        self.ns.ns_type == NamespaceType::Blob as i32
    }

    /// The entry at `path` ("" is the root directory).
    pub fn get(&self, path: &str) -> Result<Option<EntryRecord>> {
        if path.is_empty() {
            return Ok(Some(root_entry(&self.ns)));
        }
        self.txn.get(&ENTRIES, (&self.ns.id, path))
    }

    /// The entry at `path`, or NOT_FOUND.
    pub fn require(&self, path: &str) -> Result<EntryRecord> {
        self.get(path)?
            .ok_or_else(|| not_found(format!("{} not found", display(path))))
    }

    /// Checks the ancestors of `path` and returns those missing, outermost
    /// first. An ancestor that is a file is FAILED_PRECONDITION; a missing one
    /// is NOT_FOUND unless `create` is set.
    pub fn missing_parents(&self, path: &str, create: bool) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for ancestor in paths::ancestors(path) {
            match self.get(ancestor)? {
                Some(e) if e.is_dir() => {}
                Some(_) => {
                    return Err(precondition(format!(
                        "{ancestor} is a file, not a directory"
                    )));
                }
                None if create => missing.push(ancestor.to_owned()),
                None => {
                    return Err(not_found(format!(
                        "parent directory {ancestor} does not exist"
                    )));
                }
            }
        }
        Ok(missing)
    }

    pub(super) fn next_version(&self) -> Result<u64> {
        self.txn.next_version()
    }

    /// Writes the entry at `path`: every entry a tree operation creates or
    /// changes passes through here, and so past the access profile.
    pub(super) fn put(&mut self, path: &str, entry: &EntryRecord) -> Result<()> {
        if let Some(rules) = &self.rules {
            if entry.is_dir() {
                rules.check_dir(&self.ns.id, path)?;
            } else {
                rules.check_file(&self.ns.id, path, Some(entry.size), &entry.mime_type)?;
            }
        }
        let before = self.txn.get(&ENTRIES, (&self.ns.id, path))?;
        self.count_row(path, before.as_ref(), Some(entry));
        self.note_row(path, before.as_ref(), Some(entry));
        self.txn.put(&ENTRIES, (&self.ns.id, path), entry)
    }

    /// `put` where the caller knows no entry is at `path` (it just removed
    /// them all), sparing the read.
    pub(super) fn put_absent(&mut self, path: &str, entry: &EntryRecord) -> Result<()> {
        if let Some(rules) = &self.rules {
            if entry.is_dir() {
                rules.check_dir(&self.ns.id, path)?;
            } else {
                rules.check_file(&self.ns.id, path, Some(entry.size), &entry.mime_type)?;
            }
        }
        self.count_row(path, None, Some(entry));
        self.note_row(path, None, Some(entry));
        self.txn.put(&ENTRIES, (&self.ns.id, path), entry)
    }

    /// Deletes the entry row at `path`, which holds `entry` (its file's
    /// bytes and reference are the caller's: see `file_gone`).
    pub(super) fn delete_entry(&mut self, path: &str, entry: &EntryRecord) -> Result<()> {
        self.count_row(path, Some(entry), None);
        self.note_row(path, Some(entry), None);
        self.txn.delete(&ENTRIES, (&self.ns.id, path))?;
        Ok(())
    }

    /// Counts an entry row (live or checkpointed) at `path` changing from
    /// `before` to `after`, for the metadata quotas.
    pub(super) fn count_row(
        &mut self,
        path: &str,
        before: Option<&EntryRecord>,
        after: Option<&EntryRecord>,
    ) {
        let bytes = |e: &EntryRecord| quota::signed((path.len() + e.encoded_len()) as u64);
        self.held.entries += i64::from(after.is_some()) - i64::from(before.is_some());
        self.held.metadata_bytes += after.map_or(0, bytes) - before.map_or(0, bytes);
    }

    /// Refuses any change at all to a read-only namespace.
    pub(super) fn guard_change(&self, path: &str) -> Result<()> {
        match &self.rules {
            Some(rules) => rules.check_change(&self.ns.id, path),
            None => Ok(()),
        }
    }

    pub(super) fn create_dirs(&mut self, dirs: &[String]) -> Result<()> {
        for dir in dirs {
            let entry = EntryRecord {
                kind: KIND_DIRECTORY,
                version: self.next_version()?,
                created_ms: self.now,
                modified_ms: self.now,
                ..Default::default()
            };
            self.put(dir, &entry)?;
        }
        Ok(())
    }

    /// Counts a file leaving the tree.
    pub(super) fn file_gone(&mut self, entry: &EntryRecord) -> Result<()> {
        self.ns.file_count = self.ns.file_count.saturating_sub(1);
        self.ns.total_bytes = self.ns.total_bytes.saturating_sub(entry.size);
        self.held.bytes -= quota::signed(entry.size);
        self.unref(entry, Held::Live)
    }

    /// Counts a file joining the tree (its object reference is the caller's).
    pub(super) fn file_added(&mut self, entry: &EntryRecord) {
        self.ns.file_count += 1;
        self.ns.total_bytes += entry.size;
        self.held.bytes += quota::signed(entry.size);
    }

    /// Every entry strictly beneath `dir`, in path order.
    pub fn subtree(&self, dir: &str) -> Result<Vec<(String, EntryRecord)>> {
        let prefix = paths::subtree_prefix(dir);
        self.txn
            .rows(&ENTRIES, Span::under(&[&self.ns.id], &prefix))
            .map(|row| row.map(|((_, path), entry)| (path, entry)))
            .collect()
    }

    /// Whether the namespace holds any entry other than `path`.
    fn holds_other_than(&self, path: &str) -> Result<bool> {
        for row in self
            .txn
            .rows(&ENTRIES, Span::under(&[&self.ns.id], ""))
            .take(2)
        {
            let ((_, other), _) = row?;
            if other != path {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) fn check_blob_target(&self, path: &str) -> Result<()> {
        if path.contains('/') {
            return Err(precondition(
                "a BLOB namespace holds one file at its top level; it has no directories",
            ));
        }
        if self.holds_other_than(path)? {
            return Err(precondition(
                "a BLOB namespace holds exactly one file; it already has another path",
            ));
        }
        Ok(())
    }

    /// Commits a completed object as the file at `path`, replacing a file
    /// there (whose object loses a reference).
    pub fn commit_file(&mut self, path: &str, file: NewFile) -> Result<EntryRecord> {
        // The rows this commit reads, in one round trip on a shared engine
        // (none when its group read them ahead): the entry, its parents,
        // the content's digest, the changes a full log drops, the usage
        // it counts against and its fence's row (the last two are the same
        // for the whole group: its first commit fetches them).
        self.txn.prefetch(|| {
            let ns = self.ns.id.as_str();
            let trimmed = super::changes::trim_reads(&self.ns, 1, self.retention);
            let wanted = commit_reads(ns, path, &file)
                .rows(&meta::CHANGES, trimmed.map(|revision| (ns, revision)));
            let wanted = super::quota::reads(&self.ns, wanted);
            match file.written {
                true => file.fence.reads(&file.object_id, wanted),
                false => wanted,
            }
        })?;
        if file.written {
            file.fence.check(self.txn, &file.object_id)?;
        }
        let existing = self.get(path)?;
        if existing.as_ref().is_some_and(EntryRecord::is_dir) {
            return Err(precondition(format!("{path} is a directory")));
        }
        check_precondition(path, existing.as_ref(), file.precondition)?;
        if self.is_blob() {
            self.check_blob_target(path)?;
        }
        let missing = self.missing_parents(path, true)?;
        quota::check_file_size(&self.quotas, &self.ns.sandbox, file.size)?;
        // The byte quota is checked by `finish`, on what the commit really
        // adds: content only a checkpoint kept becomes live again for free.

        // Content this namespace already holds is referenced, not kept twice.
        let reuse = self.stored_content(&file.sha256, file.size, &file.object_id)?;
        if reuse.is_none() && !file.written {
            return Err(Error::Aborted(
                "the content to reference is gone; send its bytes".into(),
            ));
        }
        let (object_id, object_key) = match &reuse {
            Some(found) => found.clone(),
            None => (file.object_id.clone(), file.object_key.clone()),
        };

        self.create_dirs(&missing)?;
        let entry = EntryRecord {
            kind: KIND_FILE,
            object_id: object_id.clone(),
            object_key: object_key.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            mime_type: file.mime_type,
            metadata: file.metadata,
            version: self.next_version()?,
            created_ms: existing.as_ref().map_or(self.now, |e| e.created_ms),
            modified_ms: self.now,
            object_ns: String::new(),
        };
        match reuse {
            Some(_) => {
                self.add_ref(&entry, Held::Live)?;
                if file.written {
                    // The bytes just sent duplicate stored ones: drop them.
                    self.abandon_object(&file.object_id, &file.object_key, file.size)?;
                }
            }
            None => {
                let object = ObjectRecord {
                    key: file.object_key,
                    backend: self.ns.backend.clone(),
                    size: file.size,
                    sha256: file.sha256.clone(),
                    refs: 1,
                    live_refs: u64::from(self.ns.lazy_refs),
                    live_since: self.ns.checkpoint_seq,
                    ..Default::default()
                };
                self.save_object(&object_id, &object)?;
                self.txn
                    .put(&meta::DIGESTS, (&self.ns.id, &file.sha256), &object_id)?;
            }
        }
        if let Some(old) = &existing {
            self.file_gone(old)?;
        }
        self.file_added(&entry);
        self.put(path, &entry)?;
        Ok(entry)
    }

    /// Creates a directory.
    pub fn mkdir(&mut self, path: &str, parents: bool, exist_ok: bool) -> Result<EntryRecord> {
        if self.is_blob() {
            return Err(precondition("a BLOB namespace has no directories"));
        }
        match self.get(path)? {
            Some(e) if e.is_dir() && exist_ok => return Ok(e),
            Some(e) if e.is_dir() => {
                return Err(Error::AlreadyExists(format!("{path} already exists")));
            }
            Some(_) => return Err(Error::AlreadyExists(format!("{path} exists and is a file"))),
            None => {}
        }
        let mut missing = self.missing_parents(path, parents)?;
        missing.push(path.to_owned());
        self.create_dirs(&missing)?;
        self.require(path)
    }

    /// Removes a file or directory; returns the number of entries removed.
    pub fn remove(&mut self, path: &str, recursive: bool) -> Result<u64> {
        if path.is_empty() {
            return Err(invalid("the root directory cannot be removed"));
        }
        let entry = self.require(path)?;
        self.guard_change(path)?;
        let beneath = if entry.is_dir() {
            self.subtree(path)?
        } else {
            Vec::new()
        };
        if !beneath.is_empty() && !recursive {
            return Err(precondition(format!(
                "{path} is a non-empty directory; set recursive to remove it"
            )));
        }
        self.prefetch_releases(beneath.iter().map(|(_, e)| e))?;
        for (child, child_entry) in &beneath {
            self.delete_entry(child, child_entry)?;
            if !child_entry.is_dir() {
                self.file_gone(child_entry)?;
            }
        }
        self.delete_entry(path, &entry)?;
        if !entry.is_dir() {
            self.file_gone(&entry)?;
        }
        Ok(beneath.len() as u64 + 1)
    }

    /// Checks a copy or move destination; returns the file it would replace
    /// and the parents to create.
    fn prepare_destination(
        &self,
        src: &str,
        src_entry: &EntryRecord,
        dst: &str,
        overwrite: bool,
        parents: bool,
    ) -> Result<(Option<EntryRecord>, Vec<String>)> {
        if src.is_empty() {
            return Err(invalid("the root directory cannot be copied or moved"));
        }
        if dst.is_empty() {
            return Err(invalid("the destination must not be the root directory"));
        }
        if src == dst {
            return Err(invalid("source and destination are the same path"));
        }
        if src_entry.is_dir() && paths::is_within(dst, src) {
            return Err(invalid("a directory cannot be copied or moved into itself"));
        }
        self.destination(src_entry, dst, overwrite, parents)
    }

    /// Checks a copy or move destination in this namespace for `src_entry`
    /// (from this namespace or another); returns the file it would replace
    /// and the parents to create.
    pub(super) fn destination(
        &self,
        src_entry: &EntryRecord,
        dst: &str,
        overwrite: bool,
        parents: bool,
    ) -> Result<(Option<EntryRecord>, Vec<String>)> {
        if dst.is_empty() {
            return Err(invalid("the destination must not be the root directory"));
        }
        let existing = self.get(dst)?;
        match &existing {
            Some(e) if e.is_dir() => {
                return Err(Error::AlreadyExists(format!(
                    "{dst} is an existing directory; directories are never merged"
                )));
            }
            Some(_) if src_entry.is_dir() => {
                return Err(Error::AlreadyExists(format!("{dst} is an existing file")));
            }
            Some(_) if !overwrite => {
                return Err(Error::AlreadyExists(format!(
                    "{dst} already exists; set overwrite to replace it"
                )));
            }
            _ => {}
        }
        let missing = self.missing_parents(dst, parents)?;
        Ok((existing, missing))
    }

    /// Copies a file or directory tree; content objects gain references.
    pub fn copy(
        &mut self,
        src: &str,
        dst: &str,
        overwrite: bool,
        parents: bool,
    ) -> Result<EntryRecord> {
        let src_entry = self.require(src)?;
        if self.is_blob() {
            return Err(precondition(
                "a BLOB namespace holds exactly one file; it cannot hold a copy",
            ));
        }
        let (replaced, missing) =
            self.prepare_destination(src, &src_entry, dst, overwrite, parents)?;
        let beneath = if src_entry.is_dir() {
            self.subtree(src)?
        } else {
            Vec::new()
        };
        let copied_bytes: u64 = std::iter::once(&src_entry)
            .chain(beneath.iter().map(|(_, e)| e))
            .filter(|e| !e.is_dir())
            .map(|e| e.size)
            .sum();
        let freed_bytes = replaced.as_ref().map_or(0, |e| e.size);
        quota::check(
            self.txn,
            &self.quotas,
            &self.ns,
            copied_bytes.saturating_sub(freed_bytes),
            0,
        )?;

        self.create_dirs(&missing)?;
        if let Some(old) = &replaced {
            self.file_gone(old)?;
        }
        self.prefetch_objects(std::iter::once(&src_entry).chain(beneath.iter().map(|(_, e)| e)))?;
        for (path, entry) in std::iter::once((src.to_owned(), src_entry)).chain(beneath) {
            let target = format!("{dst}{}", &path[src.len()..]);
            let copied = EntryRecord {
                version: self.next_version()?,
                created_ms: self.now,
                modified_ms: self.now,
                ..entry
            };
            if !copied.is_dir() {
                self.add_ref(&copied, Held::Live)?;
                self.file_added(&copied);
            }
            self.put(&target, &copied)?;
        }
        self.require(dst)
    }

    /// Moves a file or directory tree; references are unchanged.
    pub fn rename(
        &mut self,
        src: &str,
        dst: &str,
        overwrite: bool,
        parents: bool,
    ) -> Result<EntryRecord> {
        let src_entry = self.require(src)?;
        if self.is_blob() && dst.contains('/') {
            return Err(precondition(
                "a BLOB namespace holds one file at its top level",
            ));
        }
        let (replaced, missing) =
            self.prepare_destination(src, &src_entry, dst, overwrite, parents)?;
        let beneath = if src_entry.is_dir() {
            self.subtree(src)?
        } else {
            Vec::new()
        };

        self.create_dirs(&missing)?;
        if let Some(old) = &replaced {
            self.file_gone(old)?;
        }
        self.prefetch_objects(std::iter::once(&src_entry).chain(beneath.iter().map(|(_, e)| e)))?;
        for (path, entry) in std::iter::once((src.to_owned(), src_entry)).chain(beneath) {
            let target = format!("{dst}{}", &path[src.len()..]);
            let recording = std::mem::replace(&mut self.recording, false);
            self.delete_entry(&path, &entry)?;
            let moved = EntryRecord {
                version: self.next_version()?,
                modified_ms: self.now,
                ..entry
            };
            self.put(&target, &moved)?;
            self.recording = recording;
            self.note(change_kind::MOVED, &target, &path, &moved);
        }
        self.require(dst)
    }

    /// Replaces or merges an entry's metadata.
    pub fn set_metadata(
        &mut self,
        path: &str,
        update: MetadataUpdate,
        if_version: Option<u64>,
    ) -> Result<EntryRecord> {
        if path.is_empty() {
            return Err(invalid(
                "the root directory has no metadata; use the namespace's",
            ));
        }
        let mut entry = self.require(path)?;
        if let Some(v) = if_version {
            check_precondition(path, Some(&entry), Precondition::VersionMatch(v))?;
        }
        update.apply(&mut entry.metadata)?;
        entry.version = self.next_version()?;
        entry.modified_ms = self.now;
        self.put(path, &entry)?;
        Ok(entry)
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}
