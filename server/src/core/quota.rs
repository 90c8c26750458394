//! Quotas: everything a sandbox and a user can make the server hold — bytes
//! of files and of content only checkpoints keep, namespaces, the largest
//! file, entry rows and their metadata bytes, checkpoints, and the bytes of
//! unfinished uploads. Usage is kept in the metadata beside the data it
//! counts, changed in the same transactions, and checked before the commit,
//! so a change over a limit is RESOURCE_EXHAUSTED naming the limit and
//! leaves nothing behind. Only growth is checked: a change that frees
//! something always passes, even over a limit lowered since.

use crate::config::{QuotaConfig, QuotaLimits};
use crate::error::{Error, Result};
use crate::meta::{self, Footprint, NamespaceRecord, Reader, UploadRecord, UsageRecord, Writer};

/// The usage keys a namespace counts against: its sandbox, and its user if
/// it has one.
fn keys(ns: &NamespaceRecord) -> Vec<(String, bool)> {
    Owner::of(ns).keys()
}

/// `wanted` with the usage rows a change of `ns` reads.
pub fn reads(ns: &NamespaceRecord, wanted: meta::Wanted) -> meta::Wanted {
    wanted.rows(&meta::USAGE, keys(ns).iter().map(|(key, _)| key.as_str()))
}

/// Whose usage a namespace's changes count against (a namespace's owners
/// never change, so this can be known before its transaction).
#[derive(Debug, Clone, Default)]
pub struct Owner {
    /// The sandbox.
    pub sandbox: String,
    /// The user ("" for a SANDBOX-scope namespace).
    pub user: String,
}

impl Owner {
    /// The owners of `ns`.
    pub fn of(ns: &NamespaceRecord) -> Owner {
        Owner {
            sandbox: ns.sandbox.clone(),
            user: ns.user.clone(),
        }
    }

    /// The usage keys: the sandbox's, and the user's if there is one (with
    /// whether each is the sandbox's).
    fn keys(&self) -> Vec<(String, bool)> {
        let mut keys = vec![(self.sandbox.clone(), true)];
        if !self.user.is_empty() {
            keys.push((format!("{}/{}", self.sandbox, self.user), false));
        }
        keys
    }

    /// `wanted` with these usage rows, and the turn every commit of a
    /// file that counts against them takes: the sandbox's row. Such a
    /// commit may rewrite it, so writers of one sandbox on several
    /// replicas take turns on it (`meta::WriteJob::turns`) rather than
    /// roll back at commit. That turn orders every commit of the sandbox's
    /// users and namespaces as well, so the user's row and a namespace's
    /// record need none of their own: with one turn for all of them, more
    /// of the writers that queued behind a group can join it.
    pub fn turns(&self, wanted: meta::Wanted) -> meta::Wanted {
        self.keys()
            .iter()
            .fold(wanted, |w, (key, is_sandbox)| match is_sandbox {
                true => w.contended_row(&meta::USAGE, key),
                false => w.row(&meta::USAGE, key.as_str()),
            })
    }

    /// Only what [`Owner::turns`] adds: for a write that names no other
    /// rows ahead.
    pub fn turns_alone(&self) -> meta::Wanted {
        self.turns(meta::Wanted::default())
    }
}

fn read(r: &Reader<'_>, key: &str) -> Result<UsageRecord> {
    Ok(r.get(&meta::USAGE, key)?.unwrap_or_default())
}

/// A signed change of what a namespace holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    /// Bytes of live files.
    pub bytes: i64,
    /// Namespaces.
    pub namespaces: i64,
    /// Entry rows, live and checkpointed.
    pub entries: i64,
    /// Bytes of entry rows and checkpoint records.
    pub metadata_bytes: i64,
    /// Checkpoints.
    pub checkpoints: i64,
    /// Bytes only checkpoints keep.
    pub retained_bytes: i64,
    /// Bytes of unfinished uploads.
    pub staged_bytes: i64,
}

impl Change {
    /// Nothing changes.
    pub fn is_none(&self) -> bool {
        *self == Change::default()
    }

    /// The footprint after this change.
    pub fn apply(&self, f: Footprint) -> Footprint {
        Footprint {
            entries: f.entries.saturating_add_signed(self.entries),
            metadata_bytes: f.metadata_bytes.saturating_add_signed(self.metadata_bytes),
            checkpoints: f.checkpoints.saturating_add_signed(self.checkpoints),
            retained_bytes: f.retained_bytes.saturating_add_signed(self.retained_bytes),
            staged_bytes: f.staged_bytes.saturating_add_signed(self.staged_bytes),
        }
    }

    /// The change that takes `ns` (its files, footprint and itself) away.
    pub fn removing(ns: &NamespaceRecord) -> Change {
        let f = ns.footprint();
        let neg = |v: u64| -(i64::try_from(v).unwrap_or(i64::MAX));
        Change {
            bytes: neg(ns.total_bytes),
            namespaces: -1,
            entries: neg(f.entries),
            metadata_bytes: neg(f.metadata_bytes),
            checkpoints: neg(f.checkpoints),
            retained_bytes: neg(f.retained_bytes),
            staged_bytes: neg(f.staged_bytes),
        }
    }
}

/// A signed size.
pub fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The largest file `sandbox` may hold, if limited.
pub fn largest_file(quotas: &QuotaConfig, sandbox: &str) -> Option<u64> {
    let (sandbox_limits, user_limits) = quotas.for_sandbox(sandbox);
    [sandbox_limits.max_file_bytes, user_limits.max_file_bytes]
        .into_iter()
        .filter(|limit| *limit > 0)
        .min()
}

/// Refuses a file of `size` bytes over the largest-file quota.
pub fn check_file_size(quotas: &QuotaConfig, sandbox: &str, size: u64) -> Result<()> {
    let (sandbox_limits, user_limits) = quotas.for_sandbox(sandbox);
    for (limit, who) in [
        (sandbox_limits.max_file_bytes, "sandbox"),
        (user_limits.max_file_bytes, "user"),
    ] {
        if limit > 0 && size > limit {
            return Err(Error::ResourceExhausted(format!(
                "a file of {size} bytes is over the {who}'s largest-file quota \
                 (max_file_bytes) of {limit} bytes"
            )));
        }
    }
    Ok(())
}

/// Refuses a change that adds `add_bytes` of files and `add_namespaces`
/// namespaces over a quota of `ns`'s sandbox or user.
pub fn check(
    r: &Reader<'_>,
    quotas: &QuotaConfig,
    ns: &NamespaceRecord,
    add_bytes: u64,
    add_namespaces: u64,
) -> Result<()> {
    let change = Change {
        bytes: signed(add_bytes),
        namespaces: signed(add_namespaces),
        ..Change::default()
    };
    check_change(r, quotas, ns, &change)
}

/// One limit to check: its name, what is used, the growth, the limit, and
/// what is counted (for the message).
struct Dimension {
    limit_name: &'static str,
    used: u64,
    growth: i64,
    limit: u64,
    counted: &'static str,
}

fn dimensions(used: &UsageRecord, change: &Change, limits: &QuotaLimits) -> [Dimension; 6] {
    let f = used.footprint.unwrap_or_default();
    [
        Dimension {
            limit_name: "max_bytes",
            used: used.bytes.saturating_add(f.retained_bytes),
            growth: change.bytes.saturating_add(change.retained_bytes),
            limit: limits.max_bytes,
            counted: "bytes of files and of content only checkpoints keep",
        },
        Dimension {
            limit_name: "max_namespaces",
            used: used.namespaces,
            growth: change.namespaces,
            limit: limits.max_namespaces,
            counted: "namespaces",
        },
        Dimension {
            limit_name: "max_entries",
            used: f.entries,
            growth: change.entries,
            limit: limits.max_entries,
            counted: "entries (files and directories, live and in checkpoints)",
        },
        Dimension {
            limit_name: "max_metadata_bytes",
            used: f.metadata_bytes,
            growth: change.metadata_bytes,
            limit: limits.max_metadata_bytes,
            counted: "bytes of entry metadata (paths and records, live and in checkpoints)",
        },
        Dimension {
            limit_name: "max_checkpoints",
            used: f.checkpoints,
            growth: change.checkpoints,
            limit: limits.max_checkpoints,
            counted: "checkpoints",
        },
        Dimension {
            limit_name: "max_staged_bytes",
            used: f.staged_bytes,
            growth: change.staged_bytes,
            limit: limits.max_staged_bytes,
            counted: "bytes of unfinished uploads",
        },
    ]
}

/// Refuses a change that would take `ns`'s sandbox or user over a quota.
/// Only what grows is checked.
pub fn check_change(
    r: &Reader<'_>,
    quotas: &QuotaConfig,
    ns: &NamespaceRecord,
    change: &Change,
) -> Result<()> {
    let (sandbox_limits, user_limits) = quotas.for_sandbox(&ns.sandbox);
    for (key, is_sandbox) in keys(ns) {
        let limits = if is_sandbox {
            sandbox_limits
        } else {
            user_limits
        };
        let used = read(r, &key)?;
        let who = if is_sandbox { "sandbox" } else { "user" };
        for d in dimensions(&used, change, &limits) {
            let Ok(growth) = u64::try_from(d.growth) else {
                continue;
            };
            if growth > 0 && d.limit > 0 && d.used.saturating_add(growth) > d.limit {
                return Err(Error::ResourceExhausted(format!(
                    "over the {who}'s quota {} of {}: it holds {} {}; {growth} more do not fit",
                    d.limit_name, d.limit, d.used, d.counted
                )));
            }
        }
    }
    Ok(())
}

/// The byte quota that binds writes to `ns`: of its user or its sandbox,
/// whichever has less room left, as (used, limit); `None` when neither has
/// a byte limit. Content only checkpoints keep counts as used.
pub fn binding(
    r: &Reader<'_>,
    quotas: &QuotaConfig,
    ns: &NamespaceRecord,
) -> Result<Option<(u64, u64)>> {
    let (sandbox_limits, user_limits) = quotas.for_sandbox(&ns.sandbox);
    let mut tightest: Option<(u64, u64)> = None;
    for (key, is_sandbox) in keys(ns) {
        let limit = if is_sandbox {
            sandbox_limits.max_bytes
        } else {
            user_limits.max_bytes
        };
        if limit == 0 {
            continue;
        }
        let usage = read(r, &key)?;
        let used = usage
            .bytes
            .saturating_add(usage.footprint.unwrap_or_default().retained_bytes);
        let room = limit.saturating_sub(used);
        if tightest.is_none_or(|(u, l)| room < l.saturating_sub(u)) {
            tightest = Some((used, limit));
        }
    }
    Ok(tightest)
}

/// What `ns`'s sandbox and (if it has one) user hold, with their limits.
pub fn usage(
    r: &Reader<'_>,
    quotas: &QuotaConfig,
    ns: &NamespaceRecord,
) -> Result<Vec<(String, UsageRecord, QuotaLimits)>> {
    let (sandbox_limits, user_limits) = quotas.for_sandbox(&ns.sandbox);
    keys(ns)
        .into_iter()
        .map(|(key, is_sandbox)| {
            let used = read(r, &key)?;
            let limits = if is_sandbox {
                sandbox_limits
            } else {
                user_limits
            };
            Ok((key, used, limits))
        })
        .collect()
}

/// Records a change of bytes and namespaces (after `check`, in the same
/// transaction).
pub fn adjust(w: &Writer<'_>, ns: &NamespaceRecord, bytes: i64, namespaces: i64) -> Result<()> {
    adjust_change(
        w,
        ns,
        &Change {
            bytes,
            namespaces,
            ..Change::default()
        },
    )
}

/// Records a change of usage of `ns`'s sandbox and user (after
/// `check_change`, in the same transaction). `ns`'s own footprint is the
/// caller's to update.
pub fn adjust_change(w: &Writer<'_>, ns: &NamespaceRecord, change: &Change) -> Result<()> {
    if change.is_none() {
        return Ok(());
    }
    for (key, _) in keys(ns) {
        let mut used = read(w, &key)?;
        used.bytes = used.bytes.saturating_add_signed(change.bytes);
        used.namespaces = used.namespaces.saturating_add_signed(change.namespaces);
        used.footprint = Some(change.apply(used.footprint.unwrap_or_default()));
        w.put(&meta::USAGE, &key, &used)?;
    }
    Ok(())
}

/// Checks a change of `ns`'s footprint, records it in the usage of its
/// sandbox and user and in `ns` itself (which the caller saves).
pub fn settle(
    w: &Writer<'_>,
    quotas: &QuotaConfig,
    ns: &mut NamespaceRecord,
    change: &Change,
) -> Result<()> {
    settle_as(w, quotas, ns, change, change)
}

/// [`settle`], checking `checked` and recording `recorded` (which counts
/// more than is checked: the change log's rows, see `Tree::finish`).
pub fn settle_as(
    w: &Writer<'_>,
    quotas: &QuotaConfig,
    ns: &mut NamespaceRecord,
    checked: &Change,
    recorded: &Change,
) -> Result<()> {
    check_change(w, quotas, ns, checked)?;
    adjust_change(w, ns, recorded)?;
    ns.footprint = Some(recorded.apply(ns.footprint()));
    Ok(())
}

/// Records a change of a namespace other than the one a transaction works
/// on, unchecked (a change elsewhere moved its content between live and
/// checkpoint-only: no such move is ever refused). Loads and saves it;
/// returns whether it exists.
pub fn record_for(w: &Writer<'_>, ns_id: &str, change: &Change) -> Result<bool> {
    let Some(mut ns) = w.get(&meta::NAMESPACES, ns_id)? else {
        return Ok(false);
    };
    adjust_change(w, &ns, change)?;
    ns.footprint = Some(change.apply(ns.footprint()));
    w.put(&meta::NAMESPACES, ns_id, &ns)?;
    Ok(true)
}

/// The bytes an unfinished upload holds: its declared size (reserved when
/// it starts, so a too-large upload is refused before it sends anything),
/// or what it persisted when it declared none.
pub(crate) fn staged(record: &UploadRecord) -> u64 {
    record.total_size.unwrap_or(0).max(record.persisted)
}

/// Saves upload `id`'s record, charging its growth in staged bytes to its
/// namespace (checked: over `max_staged_bytes` it is RESOURCE_EXHAUSTED
/// and nothing is saved). Every write of an upload record passes here.
pub fn save_upload(
    w: &Writer<'_>,
    quotas: &QuotaConfig,
    id: &str,
    record: &UploadRecord,
) -> Result<()> {
    let before = w.get(&meta::UPLOADS, id)?.map_or(0, |r| staged(&r));
    let change = Change {
        staged_bytes: signed(staged(record)) - signed(before),
        ..Change::default()
    };
    if !change.is_none()
        && let Some(mut ns) = w.get(&meta::NAMESPACES, &record.namespace_id)?
    {
        settle(w, quotas, &mut ns, &change)?;
        w.put(&meta::NAMESPACES, &record.namespace_id, &ns)?;
    }
    w.put(&meta::UPLOADS, id, record)
}

/// Deletes upload `id`'s record (if any), releasing its staged bytes.
/// Every deletion of an upload record but a namespace's destroy (which
/// releases its whole footprint) passes here.
pub fn delete_upload(w: &Writer<'_>, id: &str) -> Result<()> {
    let Some(record) = w.get(&meta::UPLOADS, id)? else {
        return Ok(());
    };
    let change = Change {
        staged_bytes: -signed(staged(&record)),
        ..Change::default()
    };
    if !change.is_none() {
        record_for(w, &record.namespace_id, &change)?;
    }
    w.delete(&meta::UPLOADS, id)?;
    Ok(())
}
