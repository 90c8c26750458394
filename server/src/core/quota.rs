//! Quotas: bytes and namespaces per sandbox and per user, and the largest
//! file. Usage is kept in the metadata beside the data it counts, changed in the
//! same transactions, and checked before anything is written, so a write
//! over a limit is RESOURCE_EXHAUSTED and leaves nothing behind.

use crate::config::{Quota, QuotaConfig};
use crate::error::{Error, Result};
use crate::meta::{self, NamespaceRecord, Reader, UsageRecord, Writer};

/// The usage keys a namespace counts against: its sandbox, and its user if
/// it has one.
fn keys(ns: &NamespaceRecord) -> Vec<(String, bool)> {
    let mut keys = vec![(ns.sandbox.clone(), true)];
    if !ns.user.is_empty() {
        keys.push((format!("{}/{}", ns.sandbox, ns.user), false));
    }
    keys
}

fn read(r: &Reader<'_>, key: &str) -> Result<UsageRecord> {
    Ok(r.get(&meta::USAGE, key)?.unwrap_or_default())
}

/// The largest file `sandbox` may hold, if limited.
pub fn largest_file(quotas: &QuotaConfig, sandbox: &str) -> Option<u64> {
    let (sandbox_quota, user_quota) = quotas.for_sandbox(sandbox);
    [sandbox_quota.max_file_bytes, user_quota.max_file_bytes]
        .into_iter()
        .filter(|limit| *limit > 0)
        .min()
}

/// Refuses a file of `size` bytes over the largest-file quota.
pub fn check_file_size(quotas: &QuotaConfig, sandbox: &str, size: u64) -> Result<()> {
    let (sandbox_quota, user_quota) = quotas.for_sandbox(sandbox);
    for limit in [sandbox_quota.max_file_bytes, user_quota.max_file_bytes] {
        if limit > 0 && size > limit {
            return Err(Error::ResourceExhausted(format!(
                "a file of {size} bytes is over the largest-file quota of {limit} bytes"
            )));
        }
    }
    Ok(())
}

/// Refuses a change that would take `ns`'s sandbox or user over a quota.
pub fn check(
    r: &Reader<'_>,
    quotas: &QuotaConfig,
    ns: &NamespaceRecord,
    add_bytes: u64,
    add_namespaces: u64,
) -> Result<()> {
    if add_bytes == 0 && add_namespaces == 0 {
        return Ok(());
    }
    let (sandbox_quota, user_quota) = quotas.for_sandbox(&ns.sandbox);
    for (key, is_sandbox) in keys(ns) {
        let quota: Quota = if is_sandbox {
            sandbox_quota
        } else {
            user_quota
        };
        let used = read(r, &key)?;
        let who = if is_sandbox { "sandbox" } else { "user" };
        if quota.max_bytes > 0 && used.bytes.saturating_add(add_bytes) > quota.max_bytes {
            return Err(Error::ResourceExhausted(format!(
                "the {who} holds {} of its {} bytes; {add_bytes} more do not fit",
                used.bytes, quota.max_bytes
            )));
        }
        if quota.max_namespaces > 0
            && used.namespaces.saturating_add(add_namespaces) > quota.max_namespaces
        {
            return Err(Error::ResourceExhausted(format!(
                "the {who} has {} of its {} namespaces",
                used.namespaces, quota.max_namespaces
            )));
        }
    }
    Ok(())
}

/// The byte quota that binds writes to `ns`: of its user or its sandbox,
/// whichever has less room left, as (used, limit); `None` when neither has
/// a byte limit.
pub fn binding(
    r: &Reader<'_>,
    quotas: &QuotaConfig,
    ns: &NamespaceRecord,
) -> Result<Option<(u64, u64)>> {
    let (sandbox_quota, user_quota) = quotas.for_sandbox(&ns.sandbox);
    let mut tightest: Option<(u64, u64)> = None;
    for (key, is_sandbox) in keys(ns) {
        let limit = if is_sandbox {
            sandbox_quota.max_bytes
        } else {
            user_quota.max_bytes
        };
        if limit == 0 {
            continue;
        }
        let used = read(r, &key)?.bytes;
        let room = limit.saturating_sub(used);
        if tightest.is_none_or(|(u, l)| room < l.saturating_sub(u)) {
            tightest = Some((used, limit));
        }
    }
    Ok(tightest)
}

/// Records a change of usage (after `check`, in the same transaction).
pub fn adjust(w: &Writer<'_>, ns: &NamespaceRecord, bytes: i64, namespaces: i64) -> Result<()> {
    if bytes == 0 && namespaces == 0 {
        return Ok(());
    }
    for (key, _) in keys(ns) {
        let mut used = read(w, &key)?;
        used.bytes = used.bytes.saturating_add_signed(bytes);
        used.namespaces = used.namespaces.saturating_add_signed(namespaces);
        w.put(&meta::USAGE, &key, &used)?;
    }
    Ok(())
}
