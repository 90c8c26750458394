//! Operator statistics: usage by sandbox, backend and scope, and the state
//! of the backends, for admin keys.
//!
//! One read transaction scans the namespaces, sessions, uploads, objects and
//! checkpoints tables, so the figures are one consistent snapshot. Rows are
//! limited to the sandboxes the admin key reaches.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::auth::{Identity, Role};
use crate::config::{BackendConfig, QuotaLimits};
use crate::error::{Error, Result};
use crate::meta::{self, NamespaceRecord, Span};

use super::{Core, is_alive};

/// Usage of one (sandbox, backend, scope).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Live namespaces.
    pub namespaces: u64,
    /// Files in their live trees.
    pub files: u64,
    /// Sum of those files' sizes.
    pub bytes: u64,
    /// Referenced stored objects.
    pub stored_objects: u64,
    /// Their bytes.
    pub stored_bytes: u64,
}

/// A backend's state.
#[derive(Debug, Clone)]
pub struct BackendState {
    /// Configured name.
    pub name: String,
    /// Kind.
    pub kind: &'static str,
    /// Whether it answers now.
    pub reachable: bool,
    /// Where it keeps objects (for a key reaching every sandbox only).
    pub location: String,
}

/// The statistics.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Usage keyed by (sandbox, backend, scope).
    pub usage: BTreeMap<(String, String, i32), Usage>,
    /// Sessions whose lease holds.
    pub active_sessions: u64,
    /// Uploads not yet committed.
    pub uploads_in_progress: u64,
    /// Checkpoints kept.
    pub checkpoints: u64,
    /// Bytes of the metadata file (only for a key reaching every sandbox).
    pub metadata_bytes: u64,
    /// Every backend.
    pub backends: Vec<BackendState>,
    /// What each sandbox and user holds against its quotas: (sandbox,
    /// user or empty, usage, limits).
    pub quotas: Vec<(String, String, meta::UsageRecord, QuotaLimits)>,
}

impl Core {
    /// Statistics as admin `who` may see them, limited to `sandbox` if
    /// given. PERMISSION_DENIED for any other role.
    pub async fn stats(self: &Arc<Self>, who: &Identity, sandbox: &str) -> Result<Stats> {
        let Role::Admin { all_sandboxes } = who.role else {
            return Err(Error::PermissionDenied(
                "statistics are for admin keys".into(),
            ));
        };
        if !sandbox.is_empty() {
            crate::ids::validate_id("sandbox", sandbox)?;
            if !who.reaches_sandbox(sandbox) {
                return Err(Error::PermissionDenied(format!(
                    "this key does not reach sandbox {sandbox:?}"
                )));
            }
        }
        let (caller, only, quotas) = (who.clone(), sandbox.to_owned(), self.quotas.clone());
        let wanted = move |sb: &str| caller.reaches_sandbox(sb) && (only.is_empty() || only == sb);
        let mut stats = self
            .scan(move |txn| {
                let now = txn.now_ms();
                let mut stats = Stats::default();
                let mut namespaces: HashMap<String, NamespaceRecord> = HashMap::new();
                let mut recorded = std::collections::HashSet::new();
                for row in txn.rows(&meta::NAMESPACES, Span::all()) {
                    let (_, ns) = row?;
                    recorded.insert(ns.id.clone());
                    if !wanted(&ns.sandbox) || !is_alive(&ns, txn, now)? {
                        continue;
                    }
                    let row = stats
                        .usage
                        .entry((ns.sandbox.clone(), ns.backend.clone(), ns.scope))
                        .or_default();
                    row.namespaces += 1;
                    row.files += ns.file_count;
                    row.bytes += ns.total_bytes;
                    namespaces.insert(ns.id.clone(), ns);
                }
                for row in txn.rows(&meta::OBJECTS, Span::all()) {
                    let ((ns_id, _), object) = row?;
                    if object.refs == 0 {
                        continue;
                    }
                    let Some(ns) = namespaces.get(&ns_id) else {
                        // A destroyed namespace's object other namespaces
                        // still share: counted where its grid key says.
                        if !recorded.contains(&ns_id)
                            && let Some((sandbox, scope)) = crate::grid::owner_of_key(&object.key)
                            && wanted(&sandbox)
                        {
                            let row = stats
                                .usage
                                .entry((sandbox, object.backend.clone(), scope as i32))
                                .or_default();
                            row.stored_objects += 1;
                            row.stored_bytes += object.size;
                        }
                        continue;
                    };
                    if let Some(row) =
                        stats
                            .usage
                            .get_mut(&(ns.sandbox.clone(), ns.backend.clone(), ns.scope))
                    {
                        row.stored_objects += 1;
                        row.stored_bytes += object.size;
                    }
                }
                for (ns_id, _) in txn.keys(&meta::CHECKPOINTS, Span::all())? {
                    if namespaces.contains_key(&ns_id) {
                        stats.checkpoints += 1;
                    }
                }
                for row in txn.rows(&meta::SESSIONS, Span::all()) {
                    let (_, session) = row?;
                    if session.expires_ms > now && wanted(&session.sandbox) {
                        stats.active_sessions += 1;
                    }
                }
                for row in txn.rows(&meta::UPLOADS, Span::all()) {
                    let (_, upload) = row?;
                    if namespaces.contains_key(&upload.namespace_id) {
                        stats.uploads_in_progress += 1;
                    }
                }
                for row in txn.rows(&meta::USAGE, Span::all()) {
                    let (key, used) = row?;
                    let (sandbox, user) = key.split_once('/').unwrap_or((&key, ""));
                    if !wanted(sandbox) {
                        continue;
                    }
                    let (sandbox_limits, user_limits) = quotas.for_sandbox(sandbox);
                    let limits = if user.is_empty() {
                        sandbox_limits
                    } else {
                        user_limits
                    };
                    stats
                        .quotas
                        .push((sandbox.to_owned(), user.to_owned(), used, limits));
                }
                stats.quotas.sort_by(|a, b| {
                    (&a.0, !a.1.is_empty(), &a.1).cmp(&(&b.0, !b.1.is_empty(), &b.1))
                });
                Ok(stats)
            })
            .await?;
        if all_sandboxes {
            stats.metadata_bytes = self.meta.engine().stored_bytes().unwrap_or(0);
        }
        for (name, config) in &self.config.backends {
            let (kind, location) = match config {
                BackendConfig::Memory => ("memory", "process memory".to_owned()),
                BackendConfig::Filesystem { root } => ("filesystem", root.display().to_string()),
                BackendConfig::S3(s3) => ("s3", format!("s3://{}/{}", s3.bucket, s3.prefix)),
            };
            let reachable = match self.backends.get(name) {
                Ok(store) => store.reachable().await,
                Err(_) => false,
            };
            stats.backends.push(BackendState {
                name: name.clone(),
                kind,
                reachable,
                // Where the bytes of every sandbox are is operator knowledge.
                location: if all_sandboxes {
                    location
                } else {
                    String::new()
                },
            });
        }
        Ok(stats)
    }
}
