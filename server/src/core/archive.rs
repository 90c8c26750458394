//! Archives as the core sees them: the entries an export sends, a page at a
//! time, and an import's items staged as objects and committed as one tree
//! change (all of it, or nothing). The tar format itself is
//! `crate::archive`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::access::{self, Access};
use super::tree::{NewFile, Tree};
use super::{Core, MetadataUpdate, Precondition, WriteOptions, quota};
use crate::archive::read::Item;
use crate::auth::Identity;
use crate::error::{Error, Result, invalid, not_found};
use crate::ids::validate_server_id;
use crate::meta::{self, EntryRecord, NamespaceRecord, Span, Step};
use crate::paths;

/// Most entries one import may hold (its list is kept until the commit).
pub const MAX_IMPORT_ENTRIES: usize = 1_000_000;

/// What an export will send, counted when it starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportCount {
    /// Files.
    pub files: u64,
    /// Directories.
    pub directories: u64,
    /// Bytes of content.
    pub content_bytes: u64,
}

/// One page of the entries an export sends.
pub struct ExportPage {
    /// The namespace (its backend holds the content).
    pub ns: NamespaceRecord,
    /// Entries in path order.
    pub entries: Vec<(String, EntryRecord)>,
    /// The last path, if more follow.
    pub next_after: Option<String>,
}

/// Where and how an import goes.
#[derive(Debug, Clone)]
pub struct ImportTarget {
    /// The namespace.
    pub ns_id: String,
    /// The directory the archive's paths go under ("" for the root).
    pub dir: String,
    /// Whether files already at the archive's paths are replaced.
    pub overwrite: bool,
}

/// What an import committed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Imported {
    /// Files written.
    pub files: u64,
    /// Directories in the archive.
    pub directories: u64,
    /// Bytes of content.
    pub content_bytes: u64,
}

impl Core {
    /// One page of the entries of `ns_id`'s live tree, or of its checkpoint
    /// `checkpoint`, after the path `after`, as `who` reads them.
    pub async fn export_page(
        &self,
        who: &Identity,
        ns_id: &str,
        checkpoint: Option<&str>,
        after: Option<String>,
        limit: usize,
    ) -> Result<ExportPage> {
        validate_server_id("namespace", ns_id)?;
        let (who, ns_id) = (who.clone(), ns_id.to_owned());
        let checkpoint = checkpoint.map(str::to_owned);
        self.scan(move |r| {
            let ns = Core::namespace_for(r, &who, &ns_id, Access::Read)?;
            let (entries, more) = match &checkpoint {
                None => {
                    let span = Span::under(&[&ns.id], "");
                    let span = match &after {
                        Some(a) => span.after(meta::key_of(&meta::ENTRIES, (&ns.id, a))),
                        None => span,
                    };
                    let page = r.page(&meta::ENTRIES, span, limit, |_, e| Ok(Step::Take(e)))?;
                    let entries: Vec<_> =
                        page.items.into_iter().map(|((_, p), e)| (p, e)).collect();
                    (entries, page.more)
                }
                Some(id) => {
                    if r.get(&meta::CHECKPOINTS, (&ns.id, id))?.is_none() {
                        return Err(not_found(format!("checkpoint {id} not found")));
                    }
                    super::checkpoint_pages::after(r, &ns.id, id, after.as_deref(), limit)?
                }
            };
            let next_after = if more {
                entries.last().map(|(p, _)| p.clone())
            } else {
                None
            };
            Ok(ExportPage {
                ns,
                entries,
                next_after,
            })
        })
        .await
    }

    /// Counts what an export of `ns_id` (or its checkpoint) will send.
    pub async fn export_count(
        &self,
        who: &Identity,
        ns_id: &str,
        checkpoint: Option<&str>,
    ) -> Result<ExportCount> {
        let mut count = ExportCount::default();
        let mut after = None;
        loop {
            let page = self
                .export_page(who, ns_id, checkpoint, after, 10_000)
                .await?;
            for (_, e) in &page.entries {
                if e.is_dir() {
                    count.directories += 1;
                } else {
                    count.files += 1;
                    count.content_bytes += e.size;
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(count),
            }
        }
    }

    /// Imports the items `items` delivers into `target` as `who`: every
    /// file's content staged as a new object as it arrives (bounded by the
    /// byte quota's room and the largest-file quota before it is written),
    /// then one commit of the whole tree. Any failure (a bad item, the
    /// stream's end before the archive's, a refused commit) commits nothing
    /// and queues what was staged for reclaim.
    pub async fn import_archive(
        self: &Arc<Self>,
        who: &Identity,
        target: ImportTarget,
        items: mpsc::Receiver<Result<Item>>,
    ) -> Result<Imported> {
        let result = self.import_as(who, &target, items).await;
        access::audit(who, "ImportArchive", &target.ns_id, &result);
        result
    }

    async fn import_as(
        self: &Arc<Self>,
        who: &Identity,
        target: &ImportTarget,
        mut items: mpsc::Receiver<Result<Item>>,
    ) -> Result<Imported> {
        validate_server_id("namespace", &target.ns_id)?;
        let limits = self.config.limits.paths();
        let dir = paths::normalize(&target.dir, limits)?;
        let (caller, ns_id, quotas) = (who.clone(), target.ns_id.clone(), self.quotas.clone());
        let (ns, room) = self
            .meta
            .read(move |r| {
                let ns = Core::namespace_for(r, &caller, &ns_id, Access::Write)?;
                let room = quota::binding(r, &quotas, &ns)?
                    .map(|(used, limit)| limit.saturating_sub(used));
                Ok((ns, room))
            })
            .await?;
        let mut staged = Staged::default();
        let outcome = self
            .stage_items(&ns, &dir, room, &mut items, &mut staged)
            .await;
        let outcome = match outcome {
            Ok(()) => {
                self.commit_import(who, target, &quota::Owner::of(&ns), &staged)
                    .await
            }
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            for (_, file) in &staged.files {
                if file.written {
                    self.abandon_object(&ns.id, file).await;
                }
            }
        }
        outcome
    }

    async fn stage_items(
        self: &Arc<Self>,
        ns: &NamespaceRecord,
        dir: &str,
        room: Option<u64>,
        items: &mut mpsc::Receiver<Result<Item>>,
        staged: &mut Staged,
    ) -> Result<()> {
        let limits = self.config.limits.paths();
        let place = |path: &str| -> Result<String> {
            let joined = if dir.is_empty() {
                path.to_owned()
            } else {
                format!("{dir}/{path}")
            };
            paths::normalize_entry(&joined, limits)
                .map_err(|e| invalid(format!("entry {path:?}: {e}")))
        };
        let mut pending: Option<Item> = None;
        loop {
            let item = match pending.take() {
                Some(item) => item,
                None => match items.recv().await {
                    Some(item) => item?,
                    None => return Ok(()),
                },
            };
            if staged.files.len() + staged.dirs.len() >= MAX_IMPORT_ENTRIES {
                return Err(Error::ResourceExhausted(format!(
                    "an archive may hold at most {MAX_IMPORT_ENTRIES} entries"
                )));
            }
            match item {
                Item::Directory { path, metadata } => {
                    crate::core::validate_metadata(&metadata)
                        .map_err(|e| invalid(format!("entry {path:?}: {e}")))?;
                    staged.dirs.push((place(&path)?, metadata));
                }
                Item::Link { path, target } => {
                    let source = place(&target)?;
                    let Some(&at) = staged.by_path.get(&source) else {
                        return Err(invalid(format!(
                            "hard link {path:?}: {target:?} is not staged"
                        )));
                    };
                    let original = staged.files[at].1.clone();
                    let file = NewFile {
                        object_id: self.new_object_id().await?,
                        written: false,
                        ..original
                    };
                    let placed = place(&path)?;
                    staged.content_bytes += file.size;
                    staged.by_path.insert(placed.clone(), staged.files.len());
                    staged.files.push((placed, file));
                }
                Item::Data(_) => {
                    return Err(Error::Internal("archive content without its file".into()));
                }
                Item::File {
                    path,
                    size,
                    sha256,
                    mime_type,
                    metadata,
                } => {
                    let placed = place(&path)?;
                    quota::check_file_size(&self.quotas, &ns.sandbox, size)
                        .map_err(|e| Error::ResourceExhausted(format!("entry {path:?}: {e}")))?;
                    if let Some(room) = room
                        && staged.content_bytes.saturating_add(size) > room
                    {
                        return Err(Error::ResourceExhausted(format!(
                            "entry {path:?}: the archive's content passes the byte quota \
                             (max_bytes): {} bytes fit, {} would be needed",
                            room,
                            staged.content_bytes.saturating_add(size)
                        )));
                    }
                    let opts = WriteOptions {
                        mime_type,
                        metadata,
                        ..Default::default()
                    }
                    .validated_for(&placed)
                    .map_err(|e| invalid(format!("entry {path:?}: {e}")))?;
                    let object_id = self.new_object_id().await?;
                    let mut file = NewFile::fresh(
                        ns,
                        object_id,
                        size,
                        String::new(),
                        opts,
                        Precondition::None,
                    );
                    // Kept until the commit: the orphan sweep leaves it be.
                    staged.in_flight.push(self.writing(&file.object_key));
                    let store = self.backend(&ns.backend)?;
                    let mut writer = store.begin(&file.object_key).await?;
                    let mut hash = Sha256::new();
                    let mut received = 0u64;
                    let copied: Result<()> = async {
                        while received < size {
                            match items.recv().await {
                                Some(Ok(Item::Data(piece))) => {
                                    received += piece.len() as u64;
                                    if received > size {
                                        return Err(invalid(format!(
                                            "entry {path:?} holds more than its {size} bytes"
                                        )));
                                    }
                                    hash.update(&piece);
                                    writer.write(piece).await?;
                                }
                                Some(Ok(other)) => {
                                    pending = Some(other);
                                    break;
                                }
                                Some(Err(e)) => return Err(e),
                                None => break,
                            }
                        }
                        if received != size {
                            return Err(invalid(format!(
                                "entry {path:?} is cut short: {received} of its {size} bytes"
                            )));
                        }
                        Ok(())
                    }
                    .await;
                    if let Err(e) = copied {
                        let _ = writer.abort().await;
                        return Err(e);
                    }
                    let digest = hex::encode(hash.finalize());
                    if let Some(declared) = &sha256
                        && *declared != digest
                    {
                        let _ = writer.abort().await;
                        return Err(invalid(format!(
                            "entry {path:?}: its content's SHA-256 is {digest}, not the {declared} \
                             its ARCA.sha256 record declares"
                        )));
                    }
                    writer.complete().await?;
                    file.sha256 = digest;
                    file.written = true;
                    staged.content_bytes += size;
                    staged.by_path.insert(placed.clone(), staged.files.len());
                    staged.files.push((placed, file));
                }
            }
        }
    }

    /// Commits the staged archive in one transaction, which takes the
    /// turn of the namespace's owners (`quota::Owner::turns`), as every
    /// commit that settles their usage does.
    async fn commit_import(
        self: &Arc<Self>,
        who: &Identity,
        target: &ImportTarget,
        owner: &quota::Owner,
        staged: &Staged,
    ) -> Result<Imported> {
        let (caller, quotas, retention) = (who.clone(), self.quotas.clone(), self.config.changes);
        let (ns_id, overwrite) = (target.ns_id.clone(), target.overwrite);
        let dir = paths::normalize(&target.dir, self.config.limits.paths())?;
        let dirs = staged.dirs.clone();
        let files = staged.files.clone();
        let freed = self
            .meta
            .write_reading(
                || owner.turns_alone(),
                move |txn| {
                    let mut tree =
                        Tree::open(txn, &ns_id, Some(&caller), quotas.clone(), retention)?;
                    if !dir.is_empty() {
                        tree.mkdir(&dir, true, true)?;
                    }
                    for (path, metadata) in &dirs {
                        tree.mkdir(path, true, true)?;
                        if !metadata.is_empty() {
                            tree.set_metadata(
                                path,
                                MetadataUpdate::Replace(metadata.clone()),
                                None,
                            )?;
                        }
                    }
                    for (path, file) in &files {
                        let precondition = if overwrite {
                            Precondition::None
                        } else {
                            Precondition::MustNotExist
                        };
                        tree.commit_file(
                            path,
                            NewFile {
                                precondition,
                                ..file.clone()
                            },
                        )?;
                    }
                    tree.finish()
                },
            )
            .await?;
        if freed {
            self.reclaim_wakeup.notify_one();
        }
        Ok(Imported {
            files: staged.files.len() as u64,
            directories: staged.dirs.len() as u64,
            content_bytes: staged.content_bytes,
        })
    }
}

/// What an import has staged so far.
#[derive(Default)]
struct Staged {
    dirs: Vec<(String, BTreeMap<String, String>)>,
    files: Vec<(String, NewFile)>,
    /// Where each staged file is in `files`, by its path (hard links).
    by_path: HashMap<String, usize>,
    content_bytes: u64,
    in_flight: Vec<super::replicas::InFlight>,
}
