//! File operations: small unary reads, batches of reads and removals,
//! ranged reads for downloads, and the async wrappers of the tree rules
//! (small writes and the steps every write shares are `super::writes`').
//!
//! A write stages its content in the namespace's backend under a fresh
//! object key, completes it, then commits the metadata; only the commit
//! makes it visible. A refused commit queues the object for reclaim.

use std::ops::Range;
use std::sync::Arc;

use super::access::{self, Access};
use super::listing::{self, FindQuery, Page};
use super::tree::{self, Tree};
use super::{Core, MetadataUpdate, Precondition, page_size, page_token, parse_page_token};
use crate::auth::Identity;
use crate::blobs::ByteStream;
use crate::error::{Error, Result, invalid, precondition};
use crate::ids::validate_server_id;
use crate::meta::{self, EntryRecord};
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
            // The namespace and the entry, in one statement on a shared
            // engine (two when the namespace leads to a session not named
            // here: see `MetaStore::read_named`).
            let rows = |who: &Identity, ns_id: &str, path: &str| {
                Core::namespace_rows(who, ns_id).row(&meta::ENTRIES, (ns_id, path))
            };
            let (caller, id, at) = (who.clone(), ns_id.to_owned(), path.clone());
            self.meta
                .read_named(
                    || rows(who, ns_id, &path),
                    move |r| {
                        r.prefetch(|| rows(&caller, &id, &at))?;
                        let ns = Core::namespace_for(r, &caller, &id, Access::Read)?;
                        let entry = listing::stat(r, &ns, &at)?;
                        Ok((ns, entry))
                    },
                )
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

    pub(super) fn check_batch_len(&self, len: usize) -> Result<()> {
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
        let owner = self.owner_for_turns(ns_id).await;
        let (ns, caller, quotas) = (ns_id.to_owned(), who.clone(), self.quotas.clone());
        let retention = self.config.changes;
        let reads = || match owner {
            Some(owner) => owner.turns(meta::Wanted::default().row(&meta::NAMESPACES, ns_id)),
            None => meta::Wanted::default(),
        };
        let result = self
            .meta
            .write_reading(reads, move |txn| {
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

    /// Whose usage rows a change of `ns_id`'s tree rewrites, on an engine
    /// shared by replicas: every such change settles them (with the
    /// namespace's record), so its commit takes its turn on the sandbox's
    /// row as a file's commit does ([`super::quota::Owner::turns`]) rather
    /// than run beside the others and roll back at commit. One named-row
    /// read; none on an embedded engine, which has no turns. A namespace
    /// that cannot be read takes no turn: the transaction answers for it,
    /// with access's rules.
    pub(super) async fn owner_for_turns(&self, ns_id: &str) -> Option<super::quota::Owner> {
        if self.meta.engine().reads_inline() {
            return None;
        }
        let id = ns_id.to_owned();
        let wanted = meta::Wanted::default().row(&meta::NAMESPACES, ns_id);
        let found = self
            .meta
            .read_named(|| wanted, move |r| r.get(&meta::NAMESPACES, &id))
            .await;
        found.ok().flatten().map(|ns| super::quota::Owner::of(&ns))
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
                listing::stat(r, &ns, &p)
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
                listing::list(txn, &ns, &dir, recursive, limit, after.as_deref())
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
            glob: listing::compile_glob(&params.pattern)?,
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
                listing::find(txn, &ns, &query, limit, after.as_deref())
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
