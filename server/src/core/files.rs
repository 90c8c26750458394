//! File operations: small unary reads and writes, batches, ranged reads for
//! downloads, and the async wrappers of the tree rules.
//!
//! A write stages its content in the namespace's backend under a fresh
//! object key, completes it, then commits the metadata; only the commit
//! makes it visible. A refused commit queues the object for reclaim.

use std::ops::Range;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::access::{self, Access};
use super::quota;
use super::tree::{self, FindQuery, NewFile, Page, Tree};
use super::{
    Core, MetadataUpdate, Precondition, WriteOptions, page_size, page_token, parse_page_token,
};
use crate::auth::Identity;
use crate::blobs::ByteStream;
use crate::error::{Error, Result, invalid, precondition};
use crate::ids::validate_server_id;
use crate::meta::{self, EntryRecord, NamespaceRecord};
use crate::paths;

/// What a Find call asks for, before validation.
#[derive(Debug, Clone, Default)]
pub struct FindParams {
    /// Directory to search under.
    pub dir: String,
    /// Glob over the path relative to `dir`.
    pub pattern: String,
    /// MIME prefix.
    pub mime_prefix: String,
    /// Required metadata pairs.
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// A file resolved for reading: its entry at one version and the range.
pub struct OpenRead {
    /// The entry (its object is immutable, so the read is consistent).
    pub entry: EntryRecord,
    /// The range that will be sent.
    pub range: Range<u64>,
    /// The content of that range.
    pub stream: ByteStream,
}

impl Core {
    fn path(&self, raw: &str) -> Result<String> {
        paths::normalize(raw, self.config.limits.paths())
    }

    fn entry_path(&self, raw: &str) -> Result<String> {
        paths::normalize_entry(raw, self.config.limits.paths())
    }

    /// Checks content sent whole in one message: at most the unary limit
    /// (RESOURCE_EXHAUSTED, with `instead` saying what to use) and the
    /// expected digest if one was given. Returns its SHA-256.
    pub(crate) fn small_content_sha256(
        &self,
        data: &[u8],
        expected: Option<&str>,
        instead: &str,
    ) -> Result<String> {
        let limit = self.config.limits.max_unary_bytes;
        if data.len() as u64 > limit {
            return Err(Error::ResourceExhausted(format!(
                "{} bytes is over the unary limit of {limit}; {instead}",
                data.len()
            )));
        }
        let sha256 = hex::encode(Sha256::digest(data));
        if let Some(expected) = expected
            && expected != sha256
        {
            return Err(invalid(format!(
                "content SHA-256 is {sha256}, not the expected {expected}"
            )));
        }
        Ok(sha256)
    }

    /// Writes a small file in one call.
    pub async fn write_file(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        raw_path: &str,
        data: bytes::Bytes,
        opts: WriteOptions,
    ) -> Result<EntryRecord> {
        validate_server_id("namespace", ns_id)?;
        let result = async {
            let write = self.small_write(raw_path, data, opts)?;
            // Fail early, before any bytes move, on what can be known now.
            let (ns, stored) = self
                .check_write_target(
                    who,
                    ns_id,
                    &write.path,
                    &write.opts,
                    Some(write.data.len() as u64),
                    Some(&write.sha256),
                )
                .await?;
            self.write_checked(who, &ns, stored, write).await
        }
        .await;
        access::audit(who, "WriteFile", ns_id, &result);
        result
    }

    /// A small write's own checks (its path, options, size and digest),
    /// before any read.
    fn small_write(
        &self,
        raw_path: &str,
        data: bytes::Bytes,
        opts: WriteOptions,
    ) -> Result<SmallWrite> {
        let path = paths::normalize_file(raw_path, self.config.limits.paths())?;
        let opts = opts.validated_for(&path)?;
        let sha256 =
            self.small_content_sha256(&data, opts.expected_sha256.as_deref(), "use Upload")?;
        Ok(SmallWrite {
            path,
            data,
            opts,
            sha256,
        })
    }

    /// Stores and commits a small write that its target's check let
    /// through; `stored` is the size of live content with its digest the
    /// namespace holds (from that check).
    async fn write_checked(
        self: &Arc<Self>,
        who: &Identity,
        ns: &NamespaceRecord,
        stored: Option<u64>,
        write: SmallWrite,
    ) -> Result<EntryRecord> {
        let size = write.data.len() as u64;
        quota::check_file_size(&self.quotas, &ns.sandbox, size)?;
        let precondition = write.opts.precondition;
        let mut file = NewFile::fresh(
            ns,
            self.new_object_id().await?,
            size,
            write.sha256,
            write.opts,
            precondition,
        );
        // Content the namespace already holds is committed without storing
        // the bytes again; if it vanished meanwhile, store them after all.
        if stored == Some(size) {
            match self
                .commit_object(who, &ns.id, &write.path, file.clone())
                .await
            {
                Err(Error::Aborted(_)) => {}
                done => return done,
            }
        }
        let _writing = self.writing(&file.object_key);
        self.backend(&ns.backend)?
            .put(&file.object_key, write.data)
            .await?;
        file.written = true;
        self.commit_object(who, &ns.id, &write.path, file).await
    }

    /// Commits a completed object as the file at `path`; if the commit is
    /// refused, the object is queued for reclaim and the refusal returned.
    pub(crate) async fn commit_object(
        &self,
        who: &Identity,
        ns_id: &str,
        path: &str,
        file: NewFile,
    ) -> Result<EntryRecord> {
        let (ns, p, f) = (ns_id.to_owned(), path.to_owned(), file.clone());
        let (caller, quotas) = (who.clone(), self.quotas.clone());
        let retention = self.config.changes;
        let reads = tree::commit_reads(ns_id, path, &file.sha256);
        let result = self
            .meta
            .write_reading(reads, move |txn| {
                let mut tree = Tree::open(txn, &ns, Some(&caller), quotas.clone(), retention)?;
                let entry = tree.commit_file(&p, f.clone())?;
                Ok((entry, tree.finish()?))
            })
            .await;
        match result {
            Ok((entry, freed)) => {
                if freed {
                    self.reclaim_wakeup.notify_one();
                }
                Ok(entry)
            }
            Err(refusal) => {
                if file.written {
                    self.abandon_object(ns_id, &file).await;
                }
                Err(refusal)
            }
        }
    }

    /// Queues a staged object whose commit was refused for reclaim.
    pub(crate) async fn abandon_object(&self, ns_id: &str, file: &NewFile) {
        let ns = ns_id.to_owned();
        let (id, key, size) = (file.object_id.clone(), file.object_key.clone(), file.size);
        let quotas = self.quotas.clone();
        let retention = self.config.changes;
        let recorded = self
            .meta
            .write(move |txn| {
                let mut tree = Tree::open(txn, &ns, None, quotas.clone(), retention)?;
                tree.abandon_object(&id, &key, size)?;
                tree.finish()
            })
            .await;
        match recorded {
            Ok(_) => self.reclaim_wakeup.notify_one(),
            // The namespace is gone: its whole prefix is being purged anyway.
            Err(Error::NotFound(_)) => {}
            Err(e) => {
                tracing::warn!(object = %file.object_key, error = %e, "could not queue an abandoned object")
            }
        }
    }

    /// Checks, before content moves, what a write to `path` of `size`
    /// bytes (if known) and type `mime` can already be refused for: access,
    /// the precondition and the access profile. The commit checks again
    /// atomically. With `content` (a SHA-256), also the size of live
    /// content with that digest the namespace holds, from the same
    /// snapshot (one read, not two, before a write that may deduplicate).
    pub(crate) async fn check_write_target(
        &self,
        who: &Identity,
        ns_id: &str,
        path: &str,
        opts: &WriteOptions,
        size: Option<u64>,
        content: Option<&str>,
    ) -> Result<(NamespaceRecord, Option<u64>)> {
        let target = WriteTarget {
            path: path.to_owned(),
            precondition: opts.precondition,
            mime_type: opts.mime_type.clone(),
            size,
            content: content.map(str::to_owned),
        };
        let (ns, mut checked) = self.check_write_targets(who, ns_id, vec![target]).await?;
        let stored = checked
            .pop()
            .ok_or_else(|| Error::Internal("a checked write target left no answer".into()))??;
        Ok((ns, stored))
    }

    /// [`Core::check_write_target`] for several writes to one namespace,
    /// in one read (a BatchWrite's): the namespace's own refusal fails the
    /// call, each target's refusal only its answer.
    pub(crate) async fn check_write_targets(
        &self,
        who: &Identity,
        ns_id: &str,
        targets: Vec<WriteTarget>,
    ) -> Result<(NamespaceRecord, Vec<Result<Option<u64>>>)> {
        let (who, ns_id) = (who.clone(), ns_id.to_owned());
        self.meta
            .read(move |r| {
                let digests = || targets.iter().filter_map(|t| t.content.as_deref());
                r.prefetch(
                    meta::Wanted::default()
                        .row(&meta::NAMESPACES, &ns_id)
                        .rows(&meta::ENTRIES, targets.iter().map(|t| (&*ns_id, &*t.path)))
                        .rows(&meta::DIGESTS, digests().map(|sha256| (&*ns_id, sha256))),
                )?;
                let ns = Core::namespace_for(r, &who, &ns_id, Access::Write)?;
                let rules = ns
                    .profile
                    .as_ref()
                    .map(super::profile::Rules::compile)
                    .transpose()?;
                // The objects the digests name, in one more round trip.
                let mut objects = Vec::new();
                for sha256 in digests() {
                    objects.extend(r.get(&meta::DIGESTS, (&ns_id, sha256))?);
                }
                r.prefetch(
                    meta::Wanted::default()
                        .rows(&meta::OBJECTS, objects.iter().map(|id| (&*ns_id, &**id))),
                )?;
                let checked = targets
                    .iter()
                    .map(|target| check_target(r, &ns, rules.as_ref(), target))
                    .collect();
                Ok((ns, checked))
            })
            .await
    }

    /// Resolves a file and opens a ranged read of it. `length` 0 means to
    /// the end; an offset past the end is OUT_OF_RANGE.
    pub async fn open_read(
        &self,
        who: &Identity,
        ns_id: &str,
        raw_path: &str,
        offset: u64,
        length: u64,
        if_version: Option<u64>,
    ) -> Result<OpenRead> {
        validate_server_id("namespace", ns_id)?;
        let path = self.entry_path(raw_path)?;
        let (ns, entry) = {
            let (who, ns_id, path) = (who.clone(), ns_id.to_owned(), path.clone());
            self.meta
                .read(move |r| {
                    // Both rows in one round trip on a shared engine.
                    r.prefetch(
                        meta::Wanted::default()
                            .row(&meta::NAMESPACES, &ns_id)
                            .row(&meta::ENTRIES, (&ns_id, &path)),
                    )?;
                    let ns = Core::namespace_for(r, &who, &ns_id, Access::Read)?;
                    let entry = tree::stat(r, &ns, &path)?;
                    Ok((ns, entry))
                })
                .await?
        };
        if entry.is_dir() {
            return Err(precondition(format!("{path} is a directory")));
        }
        if let Some(v) = if_version {
            tree::check_precondition(&path, Some(&entry), Precondition::VersionMatch(v))?;
        }
        if offset > entry.size {
            return Err(Error::OutOfRange(format!(
                "offset {offset} is past the end of {path} ({} bytes)",
                entry.size
            )));
        }
        let available = entry.size - offset;
        let len = if length == 0 {
            available
        } else {
            length.min(available)
        };
        let range = offset..offset + len;
        let stream = self
            .backend(&ns.backend)?
            .read(&entry.object_key, range.clone())
            .await
            .map_err(|e| match e {
                // The entry says the object exists: its absence is lost data.
                Error::NotFound(_) => {
                    Error::DataLoss(format!("the content of {path} is missing from the backend"))
                }
                other => other,
            })?;
        Ok(OpenRead {
            entry,
            range,
            stream,
        })
    }

    /// Reads a small file (or range) whole, within the unary limit.
    pub async fn read_file(
        &self,
        who: &Identity,
        ns_id: &str,
        raw_path: &str,
        offset: u64,
        length: u64,
    ) -> Result<(EntryRecord, Vec<u8>)> {
        let limit = self.config.limits.max_unary_bytes;
        let open = self
            .open_read(who, ns_id, raw_path, offset, length, None)
            .await?;
        if open.range.end - open.range.start > limit {
            return Err(precondition(format!(
                "{} bytes is over the unary limit of {limit}; use Download or a smaller range",
                open.range.end - open.range.start
            )));
        }
        let data = collect(open.stream, open.range.end - open.range.start).await?;
        Ok((open.entry, data))
    }

    /// Reads several small files; each item fails on its own, and items past
    /// the unary limit (counted over the whole batch) are refused.
    pub async fn batch_read(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        paths: Vec<String>,
    ) -> Result<Vec<(String, Result<(EntryRecord, Vec<u8>)>)>> {
        validate_server_id("namespace", ns_id)?;
        self.check_batch_len(paths.len())?;
        let limit = self.config.limits.max_unary_bytes;
        let mut budget = limit;
        let mut out = Vec::with_capacity(paths.len());
        for raw in paths {
            let result = async {
                let open = self.open_read(who, ns_id, &raw, 0, 0, None).await?;
                let len = open.range.end - open.range.start;
                if len > budget {
                    return Err(precondition(format!(
                        "the batch's content would exceed the unary limit of {limit} bytes; read this file alone"
                    )));
                }
                budget -= len;
                let data = collect(open.stream, len).await?;
                Ok((open.entry, data))
            }
            .await;
            out.push((raw, result));
        }
        Ok(out)
    }

    /// Writes several small files; each item fails on its own. Their
    /// targets are checked in one read, their contents stored
    /// concurrently, and their commits group into few metadata
    /// transactions.
    pub async fn batch_write(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        items: Vec<(String, bytes::Bytes, WriteOptions)>,
    ) -> Result<Vec<(String, Result<EntryRecord>)>> {
        validate_server_id("namespace", ns_id)?;
        self.check_batch_len(items.len())?;
        let prepared: Vec<(String, Result<SmallWrite>)> = items
            .into_iter()
            .map(|(raw, data, opts)| {
                let write = self.small_write(&raw, data, opts);
                (raw, write)
            })
            .collect();
        let targets: Vec<WriteTarget> = prepared
            .iter()
            .filter_map(|(_, write)| write.as_ref().ok().map(SmallWrite::target))
            .collect();
        let checked = match targets.is_empty() {
            true => Ok(None),
            false => self
                .check_write_targets(who, ns_id, targets)
                .await
                .map(Some),
        };
        let (ns, mut answers) = match checked {
            Ok(Some((ns, answers))) => (Ok(Arc::new(ns)), answers.into_iter()),
            Ok(None) => (
                Err(Error::Internal("no write target was checked".into())),
                Vec::new().into_iter(),
            ),
            Err(e) => (Err(e), Vec::new().into_iter()),
        };
        let writes = prepared.into_iter().map(|(raw, write)| {
            // Each valid item takes its target's answer, in order.
            let answer = match (&write, &ns) {
                (Err(_), _) => None,
                (Ok(_), Err(e)) => Some(Err(e.clone())),
                (Ok(_), Ok(_)) => answers.next(),
            };
            let (core, who, ns, ns_id) = (self.clone(), who.clone(), ns.clone(), ns_id.to_owned());
            async move {
                let result = async {
                    let write = write?;
                    let stored = answer.ok_or_else(|| {
                        Error::Internal("a checked write target left no answer".into())
                    })??;
                    core.write_checked(&who, &*ns?, stored, write).await
                }
                .await;
                access::audit(&who, "WriteFile", &ns_id, &result);
                (raw, result)
            }
        });
        Ok(futures::future::join_all(writes).await)
    }

    /// Removes several paths; each item fails on its own.
    pub async fn batch_delete(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        paths: Vec<String>,
        recursive: bool,
    ) -> Result<Vec<(String, Result<u64>)>> {
        validate_server_id("namespace", ns_id)?;
        self.check_batch_len(paths.len())?;
        let removals = paths.into_iter().map(|path| {
            let core = self.clone();
            let ns = ns_id.to_owned();
            let who = who.clone();
            async move {
                let result = core.remove(&who, &ns, &path, recursive).await;
                (path, result)
            }
        });
        Ok(futures::future::join_all(removals).await)
    }

    fn check_batch_len(&self, len: usize) -> Result<()> {
        let max = self.config.limits.max_batch_items;
        if len > max {
            return Err(invalid(format!(
                "a batch holds at most {max} items, not {len}"
            )));
        }
        Ok(())
    }

    /// Runs `f` on the namespace's tree in one grouped commit, as `who`,
    /// logging the audit event `action`.
    pub(crate) async fn mutate<T: Send + 'static>(
        &self,
        who: &Identity,
        action: &'static str,
        ns_id: &str,
        f: impl Fn(&mut Tree<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        validate_server_id("namespace", ns_id)?;
        let (ns, caller, quotas) = (ns_id.to_owned(), who.clone(), self.quotas.clone());
        let retention = self.config.changes;
        let result = self
            .meta
            .write(move |txn| {
                let mut tree = Tree::open(txn, &ns, Some(&caller), quotas.clone(), retention)?;
                let value = f(&mut tree)?;
                Ok((value, tree.finish()?))
            })
            .await;
        access::audit(who, action, ns_id, &result);
        let (value, freed) = result?;
        if freed {
            self.reclaim_wakeup.notify_one();
        }
        Ok(value)
    }

    /// Creates a directory.
    pub async fn mkdir(
        &self,
        who: &Identity,
        ns_id: &str,
        raw: &str,
        parents: bool,
        exist_ok: bool,
    ) -> Result<EntryRecord> {
        let path = self.entry_path(raw)?;
        self.mutate(who, "Mkdir", ns_id, move |t| {
            t.mkdir(&path, parents, exist_ok)
        })
        .await
    }

    /// Removes a file or directory.
    pub async fn remove(
        &self,
        who: &Identity,
        ns_id: &str,
        raw: &str,
        recursive: bool,
    ) -> Result<u64> {
        let path = self.path(raw)?;
        self.mutate(who, "Remove", ns_id, move |t| t.remove(&path, recursive))
            .await
    }

    /// Copies a file or directory (metadata only).
    pub async fn copy(
        &self,
        who: &Identity,
        ns_id: &str,
        src: &str,
        dst: &str,
        overwrite: bool,
        parents: bool,
    ) -> Result<(String, EntryRecord)> {
        let (src, dst) = (self.path(src)?, self.path(dst)?);
        let out = dst.clone();
        let entry = self
            .mutate(who, "Copy", ns_id, move |t| {
                t.copy(&src, &dst, overwrite, parents)
            })
            .await?;
        Ok((out, entry))
    }

    /// Moves a file or directory (metadata only).
    pub async fn rename(
        &self,
        who: &Identity,
        ns_id: &str,
        src: &str,
        dst: &str,
        overwrite: bool,
        parents: bool,
    ) -> Result<(String, EntryRecord)> {
        let (src, dst) = (self.path(src)?, self.path(dst)?);
        let out = dst.clone();
        let entry = self
            .mutate(who, "Move", ns_id, move |t| {
                t.rename(&src, &dst, overwrite, parents)
            })
            .await?;
        Ok((out, entry))
    }

    /// Replaces or merges an entry's metadata.
    pub async fn set_metadata(
        &self,
        who: &Identity,
        ns_id: &str,
        raw: &str,
        update: MetadataUpdate,
        if_version: Option<u64>,
    ) -> Result<(String, EntryRecord)> {
        let path = self.path(raw)?;
        let out = path.clone();
        let entry = self
            .mutate(who, "SetMetadata", ns_id, move |t| {
                t.set_metadata(&path, update.clone(), if_version)
            })
            .await?;
        Ok((out, entry))
    }

    /// One entry.
    pub async fn stat(
        &self,
        who: &Identity,
        ns_id: &str,
        raw: &str,
    ) -> Result<(String, EntryRecord)> {
        validate_server_id("namespace", ns_id)?;
        let path = self.path(raw)?;
        let (caller, ns_id, p) = (who.clone(), ns_id.to_owned(), path.clone());
        let entry = self
            .meta
            .read(move |r| {
                let ns = Core::namespace_for(r, &caller, &ns_id, Access::Read)?;
                tree::stat(r, &ns, &p)
            })
            .await?;
        Ok((path, entry))
    }

    /// A page of a directory listing.
    pub async fn list(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        raw: &str,
        recursive: bool,
        page: u32,
        token: &str,
    ) -> Result<(Page, String)> {
        validate_server_id("namespace", ns_id)?;
        let dir = self.path(raw)?;
        let after = parse_page_token(token)?;
        let limit = page_size(page, 1000, 10_000);
        let ns_id = ns_id.to_owned();
        let caller = who.clone();
        let page = self
            .scan(move |txn| {
                let ns = Core::namespace_for(txn, &caller, &ns_id, Access::Read)?;
                tree::list(txn, &ns, &dir, recursive, limit, after.as_deref())
            })
            .await?;
        let next = page
            .next_after
            .as_deref()
            .map(page_token)
            .unwrap_or_default();
        Ok((page, next))
    }

    /// A page of Find results.
    pub async fn find(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        params: FindParams,
        page: u32,
        token: &str,
    ) -> Result<(Page, String)> {
        validate_server_id("namespace", ns_id)?;
        let query = FindQuery {
            dir: self.path(&params.dir)?,
            glob: tree::compile_glob(&params.pattern)?,
            mime_prefix: params.mime_prefix,
            metadata: params.metadata,
        };
        let after = parse_page_token(token)?;
        let limit = page_size(page, 1000, 10_000);
        let ns_id = ns_id.to_owned();
        let caller = who.clone();
        let page = self
            .scan(move |txn| {
                let ns = Core::namespace_for(txn, &caller, &ns_id, Access::Read)?;
                tree::find(txn, &ns, &query, limit, after.as_deref())
            })
            .await?;
        let next = page
            .next_after
            .as_deref()
            .map(page_token)
            .unwrap_or_default();
        Ok((page, next))
    }
}

/// Gathers a (size-checked) stream into memory.
async fn collect(mut stream: ByteStream, len: u64) -> Result<Vec<u8>> {
    use futures::StreamExt;
    let mut data = Vec::with_capacity(len as usize);
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk?);
    }
    Ok(data)
}

/// The size of live content with this digest in namespace `ns_id`, if it
/// holds any.
/// A small file sent whole, checked on its own (see `Core::small_write`).
struct SmallWrite {
    /// Its normalised path.
    path: String,
    /// Its content.
    data: bytes::Bytes,
    /// Its validated options.
    opts: WriteOptions,
    /// The SHA-256 of `data`.
    sha256: String,
}

impl SmallWrite {
    /// What its check before content moves needs.
    fn target(&self) -> WriteTarget {
        WriteTarget {
            path: self.path.clone(),
            precondition: self.opts.precondition,
            mime_type: self.opts.mime_type.clone(),
            size: Some(self.data.len() as u64),
            content: Some(self.sha256.clone()),
        }
    }
}

/// A write to check before its content moves (see
/// `Core::check_write_targets`).
pub(crate) struct WriteTarget {
    /// The normalised path.
    pub path: String,
    /// The commit's condition.
    pub precondition: Precondition,
    /// The MIME type (the access profile may restrict it).
    pub mime_type: String,
    /// The size, when known.
    pub size: Option<u64>,
    /// The content's SHA-256, when known: the answer then says whether the
    /// namespace holds live content with it, and its size.
    pub content: Option<String>,
}

/// Checks one write target on snapshot `r` of namespace `ns` (whose
/// profile compiled to `rules`): the profile, what is at the path, the
/// precondition. Returns the size of live content with the target's
/// digest, if the namespace holds any.
fn check_target(
    r: &meta::Reader<'_>,
    ns: &NamespaceRecord,
    rules: Option<&super::profile::Rules>,
    target: &WriteTarget,
) -> Result<Option<u64>> {
    let path = &target.path;
    if let Some(rules) = rules {
        rules.check_file(&ns.id, path, target.size, &target.mime_type)?;
    }
    let existing = match tree::stat(r, ns, path) {
        Ok(e) => Some(e),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    if existing.as_ref().is_some_and(EntryRecord::is_dir) {
        return Err(precondition(format!("{path} is a directory")));
    }
    tree::check_precondition(path, existing.as_ref(), target.precondition)?;
    match &target.content {
        Some(sha256) => live_size(r, &ns.id, sha256),
        None => Ok(None),
    }
}

fn live_size(r: &meta::Reader<'_>, ns_id: &str, sha256: &str) -> Result<Option<u64>> {
    let Some(id) = r.get(&meta::DIGESTS, (ns_id, sha256))? else {
        return Ok(None);
    };
    let object = r.get(&meta::OBJECTS, (ns_id, &id))?;
    Ok(object.filter(|o| o.refs > 0).map(|o| o.size))
}
