//! The change feed: each namespace's durable change log, and reading it.
//!
//! A `Tree` notes each row it changes (the methods below); every committed
//! change is logged in the commit that makes it
//! visible ([`append`], called by `Tree::finish`), under the namespace's
//! next revision: revisions of one namespace are consecutive, and a reader
//! that resumes after the last revision it saw misses nothing and sees
//! nothing twice. The tree as created (its first file, a fork's copy) is
//! revision 0. The log keeps at most `changes.retain_count` changes per
//! namespace and none older than `changes.retain_secs` (applied when the
//! namespace is next written); a reader behind what is kept is told so
//! (OUT_OF_RANGE, naming the oldest kept revision) and resyncs. Its rows
//! count against the metadata quota (see `Tree::finish`). A destroyed
//! namespace's log goes with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use prost::Message;

use super::Core;
use super::access::Access;
use super::tree::Tree;
use crate::auth::Identity;
use crate::config::ChangesConfig;
use crate::error::{Error, Result, invalid};
use crate::ids::validate_server_id;
use crate::meta::{
    self, CHANGES, ChangeRecord, EntryRecord, NamespaceRecord, Span, Step, Writer, change_kind,
};
use crate::paths;

/// Bytes a change takes in the log: its key and its record (what the
/// metadata quota counts, and `super::footprint` recounts).
pub fn logged_bytes(ns_id: &str, change: &ChangeRecord) -> u64 {
    (ns_id.len() + 16 + change.encoded_len()) as u64
}

/// The revisions of `ns`'s log that a commit logging `count` changes
/// drops for the count kept (read, to uncount their bytes).
pub(super) fn over_count(
    ns: &NamespaceRecord,
    count: u64,
    retention: ChangesConfig,
) -> std::ops::Range<u64> {
    let keep_from = (ns.revision + count).saturating_sub(retention.retain_count) + 1;
    ns.oldest_change()..keep_from.min(ns.revision + 1)
}

/// Revisions read in blocks of this many when a full log is trimmed.
const TRIM_BLOCK: u64 = 64;

/// The revisions to read ahead for a commit that logs `count` changes:
/// those it drops for the count kept ([`over_count`]), widened to whole
/// aligned blocks of [`TRIM_BLOCK`], so that the commits after it in the
/// same group (each dropping the next revision of a full log) find theirs
/// read and a group of small writes reads the log once, not once a commit.
/// Revisions past either end of the log are read as absent.
pub(super) fn trim_reads(
    ns: &NamespaceRecord,
    count: u64,
    retention: ChangesConfig,
) -> std::ops::Range<u64> {
    let dropped = over_count(ns, count, retention);
    if dropped.is_empty() {
        return dropped;
    }
    dropped.start / TRIM_BLOCK * TRIM_BLOCK..dropped.end.div_ceil(TRIM_BLOCK) * TRIM_BLOCK
}

/// Logs `changes` under `ns`'s next revisions and trims the log to the
/// retention; returns the change of the log's bytes. Changes a single
/// commit makes beyond the count kept are given revisions but not written.
pub(super) fn append(
    txn: &Writer<'_>,
    ns: &mut NamespaceRecord,
    changes: &[ChangeRecord],
    retention: ChangesConfig,
) -> Result<i64> {
    if changes.is_empty() {
        return Ok(0);
    }
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let previous = ns.revision;
    let mut oldest = ns.oldest_change();
    let last = previous + changes.len() as u64;
    let keep_from = last.saturating_sub(retention.retain_count) + 1;
    let over_count = over_count(ns, changes.len() as u64, retention);
    let mut bytes = 0i64;
    for (revision, change) in (previous + 1..).zip(changes) {
        if revision >= keep_from {
            txn.put(&CHANGES, (&ns.id, revision), change)?;
            bytes += signed(logged_bytes(&ns.id, change));
        }
    }
    // Over the count, the oldest go whatever their age: their keys are
    // known, so they are read in one go (a full log drops one a commit).
    // A revision with no row (the commit that made it logged nothing) is
    // passed over.
    txn.prefetch(|| {
        meta::Wanted::default().rows(
            &CHANGES,
            trim_reads(ns, changes.len() as u64, retention)
                .map(|revision| (ns.id.as_str(), revision)),
        )
    })?;
    for revision in over_count.clone() {
        if let Some(change) = txn.get(&CHANGES, (&ns.id, revision))? {
            txn.delete(&CHANGES, (&ns.id, revision))?;
            bytes -= signed(logged_bytes(&ns.id, &change));
        }
    }
    oldest = oldest.max(over_count.end);
    // Then, while too old: read only when the log may hold such a change
    // (its bound says so, or is not known), from the oldest kept, in one
    // ordered scan, up to the first young enough.
    let cutoff_ms = txn.now_ms().saturating_sub(
        i64::try_from(retention.retain_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    );
    let mut from_ms = ns.changes_from_ms;
    if oldest <= previous && (from_ms == 0 || from_ms < cutoff_ms) {
        let span = Span::under(&[&ns.id], "").after(meta::key_of(&CHANGES, (&ns.id, oldest - 1)));
        let mut kept = None;
        for row in txn.rows(&CHANGES, span) {
            let ((_, revision), change) = row?;
            if revision > previous {
                break;
            }
            if change.committed_ms >= cutoff_ms {
                kept = Some((revision, change.committed_ms));
                break;
            }
            txn.delete(&CHANGES, (&ns.id, revision))?;
            bytes -= signed(logged_bytes(&ns.id, &change));
        }
        (oldest, from_ms) = kept.unwrap_or((previous + 1, 0));
    }
    // The changes just logged are the newest: the bound covers them too.
    let appended_ms = changes.iter().map(|c| c.committed_ms).min().unwrap_or(0);
    ns.changes_from_ms = if oldest > previous || from_ms == 0 {
        appended_ms
    } else {
        from_ms.min(appended_ms)
    };
    ns.revision = last;
    ns.changes_from = oldest.max(keep_from);
    Ok(bytes)
}

/// What a tree change logs: `Tree` calls these as its rows change.
impl Tree<'_> {
    /// Logs no change for what follows: the tree being made is the
    /// namespace's revision 0 (its creation, or a fork's copy).
    pub(super) fn as_created(&mut self) {
        self.recording = false;
    }

    /// Logs `kind` at `path` for `entry` (its user metadata left out).
    pub(super) fn note(&mut self, kind: i32, path: &str, old_path: &str, entry: &EntryRecord) {
        if !self.recording {
            return;
        }
        self.changes.push(ChangeRecord {
            kind,
            path: path.to_owned(),
            old_path: old_path.to_owned(),
            entry: Some(EntryRecord {
                metadata: BTreeMap::new(),
                ..entry.clone()
            }),
            committed_ms: self.now,
            checkpoint_id: String::new(),
        });
    }

    /// Logs an entry row at `path` going from `before` to `after`.
    pub(super) fn note_row(
        &mut self,
        path: &str,
        before: Option<&EntryRecord>,
        after: Option<&EntryRecord>,
    ) {
        use change_kind::*;
        let kind = match (before, after) {
            (None, Some(a)) if a.is_dir() => DIRECTORY_CREATED,
            (None, Some(_)) => FILE_CREATED,
            (Some(b), Some(a)) if !a.is_dir() && (b.object_id != a.object_id || b.is_dir()) => {
                FILE_REPLACED
            }
            (Some(_), Some(_)) => METADATA_CHANGED,
            (Some(b), None) if b.is_dir() => DIRECTORY_REMOVED,
            (Some(_), None) => FILE_DELETED,
            (None, None) => return,
        };
        if let Some(entry) = after.or(before) {
            self.note(kind, path, "", entry);
        }
    }

    /// Logs the whole tree replaced by checkpoint `checkpoint_id`'s, as one
    /// change; the rows the restore writes are not logged one by one.
    pub(super) fn note_restored(&mut self, checkpoint_id: &str) {
        if !self.recording {
            return;
        }
        self.changes.clear();
        self.changes.push(ChangeRecord {
            kind: change_kind::RESTORED,
            committed_ms: self.now,
            checkpoint_id: checkpoint_id.to_owned(),
            ..Default::default()
        });
        self.recording = false;
    }
}

/// Which changes a reader wants: those at or under a directory, and
/// matching a glob (on the path, or the old path of a move). A change of
/// the whole tree (a restore) always matches.
#[derive(Clone, Default)]
pub struct ChangeFilter {
    prefix: String,
    glob: Option<globset::GlobMatcher>,
}

impl ChangeFilter {
    /// The filter of `prefix` (a directory, "" for all) and `glob` (as
    /// Find's: `*` within a segment, `**` across; "" for any).
    pub fn new(core: &Core, prefix: &str, glob: &str) -> Result<ChangeFilter> {
        Ok(ChangeFilter {
            prefix: paths::normalize(prefix, core.config.limits.paths())?,
            glob: super::listing::compile_glob(glob)?,
        })
    }

    fn path_matches(&self, path: &str) -> bool {
        paths::is_within(path, &self.prefix) && self.glob.as_ref().is_none_or(|g| g.is_match(path))
    }

    /// Whether `change` is wanted.
    pub fn matches(&self, change: &ChangeRecord) -> bool {
        change.path.is_empty()
            || self.path_matches(&change.path)
            || (!change.old_path.is_empty() && self.path_matches(&change.old_path))
    }
}

/// A page of a namespace's change log.
pub struct ChangesPage {
    /// The wanted changes, with their revisions, in order.
    pub changes: Vec<(u64, ChangeRecord)>,
    /// The revision the page reaches: every change up to it was looked at
    /// (those not wanted were left out). The next page starts after it.
    pub reached: u64,
    /// The namespace's last revision.
    pub head: u64,
    /// The oldest revision the log keeps.
    pub oldest: u64,
    /// Whether wanted changes follow this page.
    pub more: bool,
}

impl Core {
    /// Up to `limit` wanted changes of `ns_id` after revision `since`, as
    /// `who` reads them. `None` for `since`: from the namespace's last
    /// revision (an empty page that says where "now" is).
    pub async fn list_changes(
        &self,
        who: &Identity,
        ns_id: &str,
        since: Option<u64>,
        filter: &ChangeFilter,
        limit: usize,
    ) -> Result<ChangesPage> {
        validate_server_id("namespace", ns_id)?;
        let (who, ns_id, filter) = (who.clone(), ns_id.to_owned(), filter.clone());
        self.meta
            .scan(move |r| {
                let ns = Core::namespace_for(r, &who, &ns_id, Access::Read)?;
                let (head, oldest) = (ns.revision, ns.oldest_change());
                let since = since.unwrap_or(head);
                if since > head {
                    return Err(invalid(format!(
                        "revision {since} is ahead of the namespace, which is at revision {head}"
                    )));
                }
                if since.saturating_add(1) < oldest {
                    return Err(Error::OutOfRange(format!(
                        "revision {since} is no longer kept: the oldest kept change is revision \
                         {oldest} (oldest_revision={oldest}); list the tree again and watch from \
                         revision {head}"
                    )));
                }
                let span =
                    Span::under(&[&ns.id], "").after(meta::key_of(&CHANGES, (&ns.id, since)));
                let page = r.page(&CHANGES, span, limit, |_, change| {
                    Ok(if filter.matches(&change) {
                        Step::Take(change)
                    } else {
                        Step::Skip
                    })
                })?;
                let changes: Vec<(u64, ChangeRecord)> = page
                    .items
                    .into_iter()
                    .map(|((_, revision), change)| (revision, change))
                    .collect();
                let reached = match changes.last() {
                    Some((revision, _)) if page.more => *revision,
                    _ => head,
                };
                Ok(ChangesPage {
                    changes,
                    reached,
                    head,
                    oldest,
                    more: page.more,
                })
            })
            .await
    }

    /// Whether namespace `ns_id` still exists (for a watch told it may not
    /// read it any more: gone, or its access changed).
    pub async fn namespace_exists(&self, ns_id: &str) -> Result<bool> {
        let ns_id = ns_id.to_owned();
        self.meta
            .read(move |r| Ok(r.get(&meta::NAMESPACES, &ns_id)?.is_some()))
            .await
    }

    /// The bell this process's commits ring with the id of each namespace
    /// whose log they wrote; a watcher subscribes before it reads, so no
    /// commit falls between its read and its wait.
    pub fn change_bell(&self) -> tokio::sync::broadcast::Receiver<Arc<str>> {
        self.meta.bell()
    }
}
