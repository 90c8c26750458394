//! Small writes: a file sent whole in one call (WriteFile, BatchWrite), and
//! the steps every write shares — checking its target before content moves
//! (access, precondition, profile, and whether the namespace already holds
//! the content), committing a stored object as a file, and queueing one
//! whose commit was refused for reclaim.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::access::{self, Access};
use super::listing;
use super::quota;
use super::tree::{self, NewFile, Replaced, Tree};
use super::{Core, Precondition, WriteOptions};
use crate::auth::Identity;
use crate::error::{Error, Result, invalid, precondition};
use crate::ids::validate_server_id;
use crate::meta::{self, EntryRecord, NamespaceRecord};
use crate::paths;

impl Core {
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
            let (ns, checked) = self
                .check_write_target(
                    who,
                    ns_id,
                    &write.path,
                    &write.opts,
                    Some(write.data.len() as u64),
                    Some(&write.sha256),
                )
                .await?;
            self.write_checked(who, &ns, checked, write).await
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
    /// through, with what that check found.
    async fn write_checked(
        self: &Arc<Self>,
        who: &Identity,
        ns: &NamespaceRecord,
        checked: Checked,
        write: SmallWrite,
    ) -> Result<EntryRecord> {
        let Checked { stored, replaces } = checked;
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
        file.replaces = replaces;
        // Content the namespace already holds is committed without storing
        // the bytes again; if it vanished meanwhile, store them after all.
        if stored == Some(size) {
            match self
                .commit_object(
                    who,
                    &ns.id,
                    &quota::Owner::of(ns),
                    &write.path,
                    file.clone(),
                )
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
        self.commit_object(who, &ns.id, &quota::Owner::of(ns), &write.path, file)
            .await
    }

    /// Commits a completed object as the file at `path`; if the commit is
    /// refused, the object is queued for reclaim and the refusal returned.
    pub(crate) async fn commit_object(
        &self,
        who: &Identity,
        ns_id: &str,
        owner: &quota::Owner,
        path: &str,
        file: NewFile,
    ) -> Result<EntryRecord> {
        let (ns, p, f) = (ns_id.to_owned(), path.to_owned(), file.clone());
        let (caller, quotas) = (who.clone(), self.quotas.clone());
        let retention = self.config.changes;
        let reads = || owner.turns(tree::commit_reads(ns_id, path, &file));
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
    /// snapshot (one read, not two, before a write that may deduplicate),
    /// and the file the write would replace.
    pub(crate) async fn check_write_target(
        &self,
        who: &Identity,
        ns_id: &str,
        path: &str,
        opts: &WriteOptions,
        size: Option<u64>,
        content: Option<&str>,
    ) -> Result<(NamespaceRecord, Checked)> {
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
    /// in one read (a BatchWrite's), and one more for the objects their
    /// digests lead to: the namespace's own refusal fails the call, each
    /// target's refusal only its answer.
    pub(crate) async fn check_write_targets(
        &self,
        who: &Identity,
        ns_id: &str,
        targets: Vec<WriteTarget>,
    ) -> Result<(NamespaceRecord, Vec<Result<Checked>>)> {
        // The namespace, the targets and their digests: one statement on a
        // shared engine.
        let rows = |who: &Identity, ns_id: &str, targets: &[WriteTarget]| {
            Core::namespace_rows(who, ns_id)
                .rows(&meta::ENTRIES, targets.iter().map(|t| (ns_id, &*t.path)))
                .rows(
                    &meta::DIGESTS,
                    targets
                        .iter()
                        .filter_map(|t| t.content.as_deref())
                        .map(|sha256| (ns_id, sha256)),
                )
        };
        let targets = Arc::new(targets);
        let (caller, id, job_targets) = (who.clone(), ns_id.to_owned(), targets.clone());
        let (ns, checked) = self
            .meta
            .read_named(
                || rows(who, ns_id, &targets),
                move |r| {
                    let (who, ns_id, targets) = (&caller, &*id, &*job_targets);
                    r.prefetch(|| rows(who, ns_id, targets))?;
                    let ns = Core::namespace_for(r, who, ns_id, Access::Write)?;
                    let rules = ns
                        .profile
                        .as_ref()
                        .map(super::profile::Rules::compile)
                        .transpose()?;
                    let checked: Vec<Result<(Option<String>, Option<Replaced>)>> = targets
                        .iter()
                        .map(|target| check_target(r, &ns, rules.as_ref(), target))
                        .collect();
                    Ok((ns, checked))
                },
            )
            .await?;
        // The objects the digests lead to, in a read of their own: a check
        // before the bytes move needs no single snapshot (the commit checks
        // again in its transaction; a size found here only decides whether
        // the bytes are sent), and a job naming them ahead would have had
        // to read the digests first.
        let ids: Vec<String> = checked
            .iter()
            .filter_map(|c| c.as_ref().ok().and_then(|(object, _)| object.clone()))
            .collect();
        let objects: HashMap<String, Option<meta::ObjectRecord>> = if ids.is_empty() {
            HashMap::new()
        } else {
            let (id, job_ids) = (ns_id.to_owned(), ids.clone());
            self.meta
                .read_named(
                    || {
                        meta::Wanted::default()
                            .rows(&meta::OBJECTS, ids.iter().map(|o| (ns_id, o.as_str())))
                    },
                    move |r| {
                        job_ids
                            .iter()
                            .map(|o| Ok((o.clone(), r.get(&meta::OBJECTS, (&id, o))?)))
                            .collect()
                    },
                )
                .await?
        };
        let checked = checked
            .into_iter()
            .map(|c| {
                c.map(|(object, replaces)| Checked {
                    stored: object
                        .and_then(|o| objects.get(&o).cloned().flatten())
                        .filter(|o| o.refs > 0)
                        .map(|o| o.size),
                    replaces,
                })
            })
            .collect();
        Ok((ns, checked))
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
                    let checked = answer.ok_or_else(|| {
                        Error::Internal("a checked write target left no answer".into())
                    })??;
                    core.write_checked(&who, &*ns?, checked, write).await
                }
                .await;
                access::audit(&who, "WriteFile", &ns_id, &result);
                (raw, result)
            }
        });
        Ok(futures::future::join_all(writes).await)
    }
}

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
/// precondition. Returns the object the target's digest names in the
/// namespace, if any, and the file the write would replace.
fn check_target(
    r: &meta::Reader<'_>,
    ns: &NamespaceRecord,
    rules: Option<&super::profile::Rules>,
    target: &WriteTarget,
) -> Result<(Option<String>, Option<Replaced>)> {
    let path = &target.path;
    if let Some(rules) = rules {
        rules.check_file(&ns.id, path, target.size, &target.mime_type)?;
    }
    let existing = match listing::stat(r, ns, path) {
        Ok(e) => Some(e),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    if existing.as_ref().is_some_and(EntryRecord::is_dir) {
        return Err(precondition(format!("{path} is a directory")));
    }
    tree::check_precondition(path, existing.as_ref(), target.precondition)?;
    let replaces = existing.and_then(|e| Replaced::of(&e, &ns.id));
    let object = match &target.content {
        Some(sha256) => r.get(&meta::DIGESTS, (&ns.id, sha256))?,
        None => None,
    };
    Ok((object, replaces))
}

/// What a check before content moves found for one write.
pub(crate) struct Checked {
    /// The size of live content with the write's digest the namespace
    /// holds (the bytes need not be sent when it matches).
    pub stored: Option<u64>,
    /// The file the write would replace.
    pub replaces: Option<Replaced>,
}
