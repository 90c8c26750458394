//! Quotas in the configuration: defaults for every sandbox and user, and
//! per-sandbox overrides; 0 means unlimited.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Quotas; 0 means unlimited. `sandbox` and `user` apply to every sandbox
/// and every user; `sandboxes.<name>` overrides both for one sandbox.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Defaults for every sandbox.
    pub sandbox: Quota,
    /// Defaults for every user.
    pub user: Quota,
    /// Per-sandbox overrides.
    pub sandboxes: BTreeMap<String, SandboxQuota>,
}

/// Limits of one sandbox and of each of its users.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxQuota {
    /// The sandbox's own limits.
    pub sandbox: Quota,
    /// Each user's limits in this sandbox.
    pub user: Quota,
}

/// One set of limits; 0 means unlimited. The metadata limits left unset
/// take the defaults of their level ([`QuotaLimits::SANDBOX`], [`QuotaLimits::USER`]).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Quota {
    /// Total bytes of files, with the content only checkpoints keep.
    pub max_bytes: u64,
    /// Number of namespaces.
    pub max_namespaces: u64,
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Entry rows: files and directories, live and copied into checkpoints.
    pub max_entries: Option<u64>,
    /// Bytes of those rows (paths and entry metadata) and of checkpoints.
    pub max_metadata_bytes: Option<u64>,
    /// Checkpoints.
    pub max_checkpoints: Option<u64>,
    /// Bytes staged by unfinished uploads; unset: as many as `max_bytes`.
    pub max_staged_bytes: Option<u64>,
}

/// One set of limits as enforced; 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    /// Total bytes of files, with the content only checkpoints keep.
    pub max_bytes: u64,
    /// Number of namespaces.
    pub max_namespaces: u64,
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Entry rows, live and checkpointed.
    pub max_entries: u64,
    /// Bytes of entry rows and checkpoint records.
    pub max_metadata_bytes: u64,
    /// Checkpoints.
    pub max_checkpoints: u64,
    /// Bytes staged by unfinished uploads.
    pub max_staged_bytes: u64,
}

impl QuotaLimits {
    /// A sandbox's metadata limits when none are configured: room for a
    /// large application, yet one sandbox cannot fill a metadata volume.
    pub const SANDBOX: QuotaLimits = QuotaLimits {
        max_bytes: 0,
        max_namespaces: 0,
        max_file_bytes: 0,
        max_entries: 10_000_000,
        max_metadata_bytes: 4 << 30,
        max_checkpoints: 100_000,
        max_staged_bytes: 0,
    };

    /// A user's metadata limits when none are configured: a million
    /// entries, 256 MiB of their metadata, a thousand checkpoints.
    pub const USER: QuotaLimits = QuotaLimits {
        max_bytes: 0,
        max_namespaces: 0,
        max_file_bytes: 0,
        max_entries: 1_000_000,
        max_metadata_bytes: 256 << 20,
        max_checkpoints: 1_000,
        max_staged_bytes: 0,
    };
}

impl Quota {
    /// These limits with the unset ones taken from `defaults`.
    pub fn resolve(&self, defaults: QuotaLimits) -> QuotaLimits {
        QuotaLimits {
            max_bytes: self.max_bytes,
            max_namespaces: self.max_namespaces,
            max_file_bytes: self.max_file_bytes,
            max_entries: self.max_entries.unwrap_or(defaults.max_entries),
            max_metadata_bytes: self
                .max_metadata_bytes
                .unwrap_or(defaults.max_metadata_bytes),
            max_checkpoints: self.max_checkpoints.unwrap_or(defaults.max_checkpoints),
            max_staged_bytes: self.max_staged_bytes.unwrap_or(self.max_bytes),
        }
    }
}

impl QuotaConfig {
    /// The limits of `sandbox` and of a user in it.
    pub fn for_sandbox(&self, sandbox: &str) -> (QuotaLimits, QuotaLimits) {
        let (sandbox_quota, user_quota) = match self.sandboxes.get(sandbox) {
            Some(q) => (q.sandbox, q.user),
            None => (self.sandbox, self.user),
        };
        (
            sandbox_quota.resolve(QuotaLimits::SANDBOX),
            user_quota.resolve(QuotaLimits::USER),
        )
    }
}
