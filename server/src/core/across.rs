//! Copy and move between namespaces.
//!
//! Within one sandbox and one backend, a copy is metadata only: the target's
//! entries share the source's objects (see `refs`), and a move takes the
//! entries out of the source in the same commit that puts them in the
//! target. Otherwise (another backend, or another sandbox, which only a
//! global admin reaches) the server streams each file's bytes from the
//! source's backend into a staged object of the target's, checks their
//! SHA-256 against the source entry's, commits the whole tree in one
//! commit, and for a move then removes the source only if it is unchanged.
//! Either way: read access to the source (write access for a move), write
//! access to the target, the target's quota and access profile.

use std::sync::Arc;

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::access::{self, Access};
use super::quota::Owner;
use super::refs::{Held, carried};
use super::replicas::InFlight;
use super::tree::{NewFile, Tree};
use super::{Core, Precondition};
use crate::auth::Identity;
use crate::error::{Error, Result, invalid, precondition};
use crate::ids::validate_server_id;
use crate::meta::{self, EntryRecord, NamespaceRecord, Span, Writer};
use crate::paths;

/// What a cross-namespace copy or move asks for.
#[derive(Debug, Clone)]
pub struct Relocate {
    /// The source namespace.
    pub from_ns: String,
    /// The source path.
    pub from: String,
    /// The target namespace.
    pub to_ns: String,
    /// The target path.
    pub to: String,
    /// Replace an existing target file.
    pub overwrite: bool,
    /// Create missing parents of the target.
    pub parents: bool,
    /// Remove the source (a move).
    pub remove_source: bool,
}

/// The source entry and everything beneath it, in path order.
fn source_tree(
    r: &crate::meta::Reader<'_>,
    ns: &NamespaceRecord,
    path: &str,
) -> Result<Vec<(String, EntryRecord)>> {
    if path.is_empty() {
        return Err(invalid("the root directory cannot be copied or moved"));
    }
    let entry = super::listing::stat(r, ns, path)?;
    let mut out = vec![(path.to_owned(), entry.clone())];
    if entry.is_dir() {
        let prefix = paths::subtree_prefix(path);
        for row in r.rows(&meta::ENTRIES, Span::under(&[&ns.id], &prefix)) {
            let ((_, p), e) = row?;
            out.push((p, e));
        }
    }
    Ok(out)
}

/// Checks the target side for `items` (the source tree) going to `to`.
fn check_target(
    tree: &Tree<'_>,
    items: &[(String, EntryRecord)],
    req: &Relocate,
) -> Result<(Option<EntryRecord>, Vec<String>)> {
    let (_, top) = &items[0];
    if tree.is_blob() {
        if top.is_dir() || req.to.contains('/') {
            return Err(precondition(
                "a BLOB namespace holds one file at its top level; it has no directories",
            ));
        }
        tree.check_blob_target(&req.to)?;
    }
    tree.destination(top, &req.to, req.overwrite, req.parents)
}

/// The target path of source path `path`.
fn target_path(req: &Relocate, path: &str) -> String {
    format!("{}{}", req.to, &path[req.from.len()..])
}

impl Core {
    /// Copies (or, with `remove_source`, moves) a file or tree, into another
    /// namespace or the same one.
    pub async fn relocate(
        self: &Arc<Self>,
        who: &Identity,
        mut req: Relocate,
    ) -> Result<(String, EntryRecord)> {
        let action = if req.remove_source { "Move" } else { "Copy" };
        if req.to_ns.is_empty() || req.to_ns == req.from_ns {
            return if req.remove_source {
                self.rename(
                    who,
                    &req.from_ns,
                    &req.from,
                    &req.to,
                    req.overwrite,
                    req.parents,
                )
                .await
            } else {
                self.copy(
                    who,
                    &req.from_ns,
                    &req.from,
                    &req.to,
                    req.overwrite,
                    req.parents,
                )
                .await
            };
        }
        let result = async {
            validate_server_id("namespace", &req.from_ns)?;
            validate_server_id("target namespace", &req.to_ns)?;
            let limits = self.config.limits.paths();
            req.from = paths::normalize(&req.from, limits)?;
            req.to = paths::normalize(&req.to, limits)?;
            let (caller, from, to) = (who.clone(), req.from_ns.clone(), req.to_ns.clone());
            let source_access = if req.remove_source {
                Access::Write
            } else {
                Access::Read
            };
            let (src, dst) = self
                .meta
                .read(move |r| {
                    Ok((
                        Core::namespace_for(r, &caller, &from, source_access)?,
                        Core::namespace_for(r, &caller, &to, Access::Write)?,
                    ))
                })
                .await?;
            let entry = if src.sandbox == dst.sandbox && src.backend == dst.backend {
                self.relocate_shared(who, &req, &src, &dst).await?
            } else {
                self.relocate_streamed(who, &req, &src, &dst).await?
            };
            Ok((req.to.clone(), entry))
        }
        .await;
        access::audit(who, action, &req.to_ns, &result);
        result
    }

    /// Metadata only, in one commit, which takes the turns of both
    /// namespaces' owners (one sandbox: `quota::Owner::turns`).
    async fn relocate_shared(
        &self,
        who: &Identity,
        req: &Relocate,
        src: &NamespaceRecord,
        dst: &NamespaceRecord,
    ) -> Result<EntryRecord> {
        let (caller, quotas, req) = (who.clone(), self.quotas.clone(), req.clone());
        let retention = self.config.changes;
        let owners = [Owner::of(src), Owner::of(dst)];
        let reads = || {
            owners
                .iter()
                .fold(meta::Wanted::default(), |wanted, owner| owner.turns(wanted))
        };
        let (entry, freed) = self
            .meta
            .write_reading(reads, move |txn| {
                let source_access = if req.remove_source {
                    Access::Write
                } else {
                    Access::Read
                };
                let src = Core::resolve_namespace(txn, Some(&caller), &req.from_ns, source_access)?;
                let items = source_tree(txn, &src, &req.from)?;
                let mut target =
                    Tree::open(txn, &req.to_ns, Some(&caller), quotas.clone(), retention)?;
                let (replaced, missing) = check_target(&target, &items, &req)?;
                let bytes: u64 = items
                    .iter()
                    .filter(|(_, e)| !e.is_dir())
                    .map(|(_, e)| e.size)
                    .sum();
                super::quota::check(
                    txn,
                    &quotas,
                    &target.ns,
                    bytes.saturating_sub(replaced.as_ref().map_or(0, |e| e.size)),
                    0,
                )?;
                target.create_dirs(&missing)?;
                if let Some(old) = &replaced {
                    target.file_gone(old)?;
                }
                for (path, entry) in &items {
                    let placed = EntryRecord {
                        version: target.next_version()?,
                        created_ms: if req.remove_source {
                            entry.created_ms
                        } else {
                            target.now
                        },
                        modified_ms: target.now,
                        ..carried(entry.clone(), &src.id, &target.ns.id)
                    };
                    if !placed.is_dir() {
                        // Referenced by the target before the source lets go.
                        target.add_ref(&placed, Held::Live)?;
                        target.file_added(&placed);
                    }
                    target.put(&target_path(&req, path), &placed)?;
                }
                let entry = target.require(&req.to)?;
                let mut freed = target.finish()?;
                if req.remove_source {
                    let mut source =
                        Tree::open(txn, &req.from_ns, Some(&caller), quotas.clone(), retention)?;
                    source.remove(&req.from, true)?;
                    freed |= source.finish()?;
                }
                Ok((entry, freed))
            })
            .await?;
        if freed {
            self.reclaim_wakeup.notify_one();
        }
        Ok(entry)
    }

    /// Bytes streamed between backends, then one commit in the target.
    async fn relocate_streamed(
        self: &Arc<Self>,
        who: &Identity,
        req: &Relocate,
        src: &NamespaceRecord,
        dst: &NamespaceRecord,
    ) -> Result<EntryRecord> {
        let (s, from) = (src.clone(), req.from.clone());
        let items = self.meta.read(move |r| source_tree(r, &s, &from)).await?;
        // Refuse what the target would refuse before moving any bytes.
        let (caller, quotas, check) = (
            who.clone(),
            self.quotas.clone(),
            (items.clone(), req.clone()),
        );
        self.meta
            .read(move |r| {
                let (items, req) = &check;
                let ns = Core::namespace_for(r, &caller, &req.to_ns, Access::Write)?;
                let bytes: u64 = items
                    .iter()
                    .filter(|(_, e)| !e.is_dir())
                    .map(|(_, e)| e.size)
                    .sum();
                super::quota::check(r, &quotas, &ns, bytes, 0)
            })
            .await?;
        let mut staged: Vec<(String, NewFile, InFlight)> = Vec::new();
        let outcome = async {
            for (path, entry) in items.iter().filter(|(_, e)| !e.is_dir()) {
                let opts = super::WriteOptions {
                    mime_type: entry.mime_type.clone(),
                    metadata: entry.metadata.clone(),
                    ..Default::default()
                };
                let mut file = NewFile::fresh(
                    dst,
                    self.new_object_id().await?,
                    entry.size,
                    entry.sha256.clone(),
                    opts,
                    Precondition::None,
                );
                let writing = self.writing(&file.object_key);
                self.stream_object(src, entry, dst, &file.object_key)
                    .await?;
                file.written = true;
                staged.push((target_path(req, path), file, writing));
            }
            let files: Vec<(String, NewFile)> = staged
                .iter()
                .map(|(p, f, _)| (p.clone(), f.clone()))
                .collect();
            let (caller, quotas, r) = (who.clone(), self.quotas.clone(), req.clone());
            let retention = self.config.changes;
            let dirs: Vec<String> = items
                .iter()
                .filter(|(_, e)| e.is_dir())
                .map(|(p, _)| target_path(req, p))
                .collect();
            let top = items[0].clone();
            let target = Owner::of(dst);
            self.meta
                .write_reading(
                    || target.turns_alone(),
                    move |txn| {
                        commit_streamed(txn, &caller, (&quotas, retention), &r, &top, &dirs, &files)
                    },
                )
                .await
        }
        .await;
        let entry = match outcome {
            Ok((entry, freed)) => {
                if freed {
                    self.reclaim_wakeup.notify_one();
                }
                entry
            }
            Err(e) => {
                for (_, file, _) in &staged {
                    self.abandon_object(&dst.id, file).await;
                }
                return Err(e);
            }
        };
        drop(staged);
        if req.remove_source {
            // Only the exact source that was copied goes.
            let (caller, quotas, r) = (who.clone(), self.quotas.clone(), req.clone());
            let retention = self.config.changes;
            let owner = Owner::of(src);
            let freed = self
                .meta
                .write_reading(|| owner.turns_alone(), move |txn| {
                    let mut source = Tree::open(txn, &r.from_ns, Some(&caller), quotas.clone(), retention)?;
                    let now = source_tree(txn, &source.ns, &r.from)?;
                    let same = now.len() == items.len()
                        && now.iter().zip(&items).all(|((pa, a), (pb, b))| pa == pb && a.version == b.version);
                    if !same {
                        return Err(Error::Aborted(format!(
                            "{} changed during the move; the copy in namespace {} was kept and the source left as it is",
                            r.from, r.to_ns
                        )));
                    }
                    source.remove(&r.from, true)?;
                    source.finish()
                })
                .await?;
            if freed {
                self.reclaim_wakeup.notify_one();
            }
        }
        Ok(entry)
    }

    /// Streams one object from `src`'s backend into `key` of `dst`'s,
    /// checking its size and SHA-256 against the entry.
    async fn stream_object(
        &self,
        src: &NamespaceRecord,
        entry: &EntryRecord,
        dst: &NamespaceRecord,
        key: &str,
    ) -> Result<()> {
        let mut reader = self
            .backend(&src.backend)?
            .read(&entry.object_key, 0..entry.size)
            .await?;
        let mut writer = self.backend(&dst.backend)?.begin(key).await?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let copied = async {
            while let Some(chunk) = reader.next().await {
                let chunk = chunk?;
                hash.update(&chunk);
                size += chunk.len() as u64;
                writer.write(chunk).await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = copied {
            let _ = writer.abort().await;
            return Err(e);
        }
        let digest = hex::encode(hash.finalize());
        if size != entry.size || digest != entry.sha256 {
            let _ = writer.abort().await;
            return Err(Error::DataLoss(format!(
                "the stored content of {} no longer matches its entry ({size} bytes, SHA-256 {digest})",
                entry.object_key
            )));
        }
        writer.complete().await
    }
}

/// The commit of a streamed copy: directories, then every staged file, in
/// the target, as one change.
fn commit_streamed(
    txn: &Writer<'_>,
    who: &Identity,
    (quotas, retention): (
        &Arc<crate::config::QuotaConfig>,
        crate::config::ChangesConfig,
    ),
    req: &Relocate,
    top: &(String, EntryRecord),
    dirs: &[String],
    files: &[(String, NewFile)],
) -> Result<(EntryRecord, bool)> {
    let mut target = Tree::open(txn, &req.to_ns, Some(who), quotas.clone(), retention)?;
    let (replaced, missing) = check_target(&target, std::slice::from_ref(top), req)?;
    target.create_dirs(&missing)?;
    target.create_dirs(dirs)?;
    if let Some(old) = &replaced {
        // commit_file below replaces a file at the top itself; a replaced
        // file elsewhere cannot happen (directories are never merged).
        debug_assert!(!old.is_dir());
    }
    let total: u64 = files.iter().map(|(_, f)| f.size).sum();
    super::quota::check(
        txn,
        quotas,
        &target.ns,
        total.saturating_sub(replaced.as_ref().map_or(0, |e| e.size)),
        0,
    )?;
    for (path, file) in files {
        target.commit_file(path, file.clone())?;
    }
    let entry = target.require(&req.to)?;
    let freed = target.finish()?;
    Ok((entry, freed))
}
