//! Namespace rules: creation (scope and owner checks, unique names, TTL,
//! backend choice), lookup, listing, metadata and destruction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arca_proto::v1::{NamespaceType, Scope};
use redb::ReadableTable;

use super::{Core, MetadataUpdate, page_size, page_token, parse_page_token, validate_metadata};
use crate::error::{Error, Result, invalid, not_found};
use crate::grid;
use crate::ids::{new_id, validate_id, validate_server_id};
use crate::meta::{self, NamespaceRecord, PurgeRecord, decode};

/// What CreateNamespace asks for.
#[derive(Debug, Clone)]
pub struct NewNamespace {
    /// BLOB or WORKSPACE.
    pub ns_type: NamespaceType,
    /// SESSION, USER or SANDBOX.
    pub scope: Scope,
    /// Owning sandbox.
    pub sandbox: String,
    /// Owning user.
    pub user: String,
    /// Owning session.
    pub session: String,
    /// Optional name.
    pub name: String,
    /// Initial metadata.
    pub metadata: BTreeMap<String, String>,
    /// Optional time to live.
    pub ttl: Option<Duration>,
    /// Optional backend name.
    pub backend: String,
}

/// ListNamespaces filters.
#[derive(Debug, Clone, Default)]
pub struct NamespaceFilter {
    /// Sandbox to list (required).
    pub sandbox: String,
    /// Only this scope.
    pub scope: Option<Scope>,
    /// Only this user.
    pub user: String,
    /// Only this session.
    pub session: String,
    /// Only this type.
    pub ns_type: Option<NamespaceType>,
    /// Only names with this prefix.
    pub name_prefix: String,
    /// Only namespaces with all these pairs.
    pub metadata: BTreeMap<String, String>,
}

impl NamespaceFilter {
    fn matches(&self, ns: &NamespaceRecord) -> bool {
        ns.sandbox == self.sandbox
            && self.scope.is_none_or(|s| ns.scope == s as i32)
            && (self.user.is_empty() || ns.user == self.user)
            && (self.session.is_empty() || ns.session == self.session)
            && self.ns_type.is_none_or(|t| ns.ns_type == t as i32)
            && ns.name.starts_with(&self.name_prefix)
            && self
                .metadata
                .iter()
                .all(|(k, v)| ns.metadata.get(k) == Some(v))
    }
}

/// What a destroy removed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Destroyed {
    /// Files removed.
    pub files: u64,
    /// Bytes removed.
    pub bytes: u64,
}

fn name_key(ns: &NamespaceRecord) -> String {
    format!(
        "{}\x1f{}\x1f{}\x1f{}\x1f{}",
        ns.sandbox, ns.scope, ns.user, ns.session, ns.name
    )
}

impl Core {
    /// Creates a namespace.
    pub async fn create_namespace(self: &Arc<Self>, req: NewNamespace) -> Result<NamespaceRecord> {
        if req.ns_type == NamespaceType::Unspecified {
            return Err(invalid("namespace type is required (BLOB or WORKSPACE)"));
        }
        validate_id("sandbox", &req.sandbox)?;
        match req.scope {
            Scope::Unspecified => {
                return Err(invalid("scope is required (SESSION, USER or SANDBOX)"));
            }
            Scope::Session => {
                validate_id("user", &req.user)?;
                validate_id("session", &req.session)?;
            }
            Scope::User => {
                validate_id("user", &req.user)?;
                if !req.session.is_empty() {
                    return Err(invalid(
                        "a USER-scope namespace belongs to no session; leave session empty",
                    ));
                }
            }
            Scope::Sandbox => {
                if !req.user.is_empty() || !req.session.is_empty() {
                    return Err(invalid(
                        "a SANDBOX-scope namespace belongs to no user or session",
                    ));
                }
            }
        }
        if req.name.len() > 255 || req.name.chars().any(char::is_control) {
            return Err(invalid(
                "namespace name must be at most 255 bytes without control characters",
            ));
        }
        validate_metadata(&req.metadata)?;
        let ttl_ms = match req.ttl {
            Some(ttl) if ttl.is_zero() => return Err(invalid("ttl must be positive")),
            Some(ttl) => {
                Some(i64::try_from(ttl.as_millis()).map_err(|_| invalid("ttl is too long"))?)
            }
            None => None,
        };
        let backend = if req.backend.is_empty() {
            self.default_backend(req.scope)
        } else {
            req.backend.clone()
        };
        self.backend(&backend)?;

        let id = new_id();
        let now = meta::now_ms();
        let record = NamespaceRecord {
            grid_prefix: grid::namespace_prefix(
                req.scope,
                &req.sandbox,
                &req.user,
                &req.session,
                &id,
            )?,
            id,
            ns_type: req.ns_type as i32,
            scope: req.scope as i32,
            name: req.name,
            sandbox: req.sandbox,
            user: req.user,
            session: req.session,
            metadata: req.metadata,
            created_ms: now,
            expires_ms: ttl_ms.map(|t| now.saturating_add(t)),
            backend,
            file_count: 0,
            total_bytes: 0,
        };
        let stored = record.clone();
        self.meta
            .write(move |txn| {
                if !stored.name.is_empty() {
                    let mut names = txn.open_table(meta::NAMESPACE_NAMES)?;
                    let key = name_key(&stored);
                    if let Some(existing) = names.get(key.as_str())?.map(|v| v.value().to_owned()) {
                        // A name held by an expired namespace is free again.
                        let namespaces = txn.open_table(meta::NAMESPACES)?;
                        if Core::live_namespace(&namespaces, &existing).is_ok() {
                            return Err(Error::AlreadyExists(format!(
                                "a namespace named {:?} already exists for this owner and scope",
                                stored.name
                            )));
                        }
                    }
                    names.insert(key.as_str(), stored.id.as_str())?;
                }
                txn.open_table(meta::NAMESPACES)?.insert(
                    stored.id.as_str(),
                    prost::Message::encode_to_vec(&stored).as_slice(),
                )?;
                Ok(())
            })
            .await?;
        tracing::info!(namespace = %record.id, scope = record.scope, sandbox = %record.sandbox, "namespace created");
        Ok(record)
    }

    fn default_backend(&self, scope: Scope) -> String {
        let d = &self.config.default_backend;
        let specific = match scope {
            Scope::Session => &d.session,
            Scope::User => &d.user,
            Scope::Sandbox => &d.sandbox,
            Scope::Unspecified => &d.all,
        };
        if specific.is_empty() {
            d.all.clone()
        } else {
            specific.clone()
        }
    }

    /// Returns a live namespace.
    pub fn get_namespace(&self, id: &str) -> Result<NamespaceRecord> {
        self.meta.read(|txn| Core::namespace_in(txn, id))
    }

    /// Lists namespaces matching `filter`, a page at a time.
    pub async fn list_namespaces(
        self: &Arc<Self>,
        filter: NamespaceFilter,
        requested_page: u32,
        token: &str,
    ) -> Result<(Vec<NamespaceRecord>, String)> {
        validate_id("sandbox", &filter.sandbox)?;
        let after = parse_page_token(token)?;
        let limit = page_size(requested_page, 100, 1000);
        self.scan(move |txn| {
            let table = txn.open_table(meta::NAMESPACES)?;
            let now = meta::now_ms();
            let mut out = Vec::new();
            let range = match &after {
                Some(a) => table.range::<&str>((
                    std::ops::Bound::Excluded(a.as_str()),
                    std::ops::Bound::Unbounded,
                ))?,
                None => table.range::<&str>(..)?,
            };
            for item in range {
                let (_, value) = item?;
                let ns: NamespaceRecord = decode(value.value())?;
                if ns.expires_ms.is_some_and(|at| at <= now) || !filter.matches(&ns) {
                    continue;
                }
                if out.len() == limit {
                    let last: &NamespaceRecord = out.last().expect("limit > 0");
                    return Ok((out.clone(), page_token(&last.id)));
                }
                out.push(ns);
            }
            Ok((out, String::new()))
        })
        .await
    }

    /// Replaces or merges a namespace's metadata.
    pub async fn update_namespace_metadata(
        &self,
        id: &str,
        update: MetadataUpdate,
    ) -> Result<NamespaceRecord> {
        validate_server_id("namespace", id)?;
        let id = id.to_owned();
        self.meta
            .write(move |txn| {
                let mut table = txn.open_table(meta::NAMESPACES)?;
                let mut ns = Core::live_namespace(&table, &id)?;
                update.apply(&mut ns.metadata)?;
                table.insert(id.as_str(), prost::Message::encode_to_vec(&ns).as_slice())?;
                Ok(ns)
            })
            .await
    }

    /// Destroys a namespace: its metadata goes in one commit, then its grid
    /// prefix is deleted from the backend. The deletion is queued in the
    /// same commit, so a crash before it finishes is resumed by the reclaimer.
    pub async fn destroy_namespace(self: &Arc<Self>, id: &str) -> Result<Destroyed> {
        validate_server_id("namespace", id)?;
        let ns_id = id.to_owned();
        let (destroyed, purge) = self
            .meta
            .write(move |txn| {
                let mut namespaces = txn.open_table(meta::NAMESPACES)?;
                let ns: NamespaceRecord = meta::get_record(&namespaces, &ns_id)?
                    .ok_or_else(|| not_found(format!("namespace {ns_id} not found")))?;
                namespaces.remove(ns_id.as_str())?;
                if !ns.name.is_empty() {
                    let mut names = txn.open_table(meta::NAMESPACE_NAMES)?;
                    let key = name_key(&ns);
                    if names.get(key.as_str())?.is_some_and(|v| v.value() == ns_id) {
                        names.remove(key.as_str())?;
                    }
                }
                for def in [meta::ENTRIES, meta::OBJECTS] {
                    remove_namespace_rows(&mut txn.open_table(def)?, &ns_id)?;
                }
                {
                    let mut garbage = txn.open_table(meta::GARBAGE)?;
                    for object in namespace_keys(&garbage, &ns_id)? {
                        garbage.remove((ns_id.as_str(), object.as_str()))?;
                    }
                }
                {
                    let mut uploads = txn.open_table(meta::UPLOADS)?;
                    let mut doomed = Vec::new();
                    for item in uploads.iter()? {
                        let (k, v) = item?;
                        let upload: meta::UploadRecord = decode(v.value())?;
                        if upload.namespace_id == ns_id {
                            doomed.push(k.value().to_owned());
                        }
                    }
                    for upload in doomed {
                        uploads.remove(upload.as_str())?;
                    }
                }
                let purge = PurgeRecord {
                    backend: ns.backend.clone(),
                    prefix: ns.grid_prefix.clone(),
                };
                txn.open_table(meta::PURGES)?.insert(
                    ns_id.as_str(),
                    prost::Message::encode_to_vec(&purge).as_slice(),
                )?;
                Ok((
                    Destroyed {
                        files: ns.file_count,
                        bytes: ns.total_bytes,
                    },
                    purge,
                ))
            })
            .await?;
        tracing::info!(namespace = %id, files = destroyed.files, bytes = destroyed.bytes, "namespace destroyed");
        // Delete the content now; if this fails the reclaimer retries it.
        if let Err(e) = self.purge_prefix(id, &purge).await {
            tracing::warn!(namespace = %id, error = %e, "purge deferred to the reclaimer");
            self.reclaim_wakeup.notify_one();
        }
        Ok(destroyed)
    }
}

fn remove_namespace_rows(table: &mut redb::Table<(&str, &str), &[u8]>, ns: &str) -> Result<()> {
    for key in namespace_keys(table, ns)? {
        table.remove((ns, key.as_str()))?;
    }
    Ok(())
}

/// The second halves of every `(ns, _)` key of a table.
pub(crate) fn namespace_keys<V: redb::Value + 'static>(
    table: &impl ReadableTable<(&'static str, &'static str), V>,
    ns: &str,
) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for item in table.range((ns, "")..)? {
        let (k, _) = item?;
        let (key_ns, rest) = k.value();
        if key_ns != ns {
            break;
        }
        keys.push(rest.to_owned());
    }
    Ok(keys)
}
