//! Namespace rules: creation (scope and owner checks, unique names, TTL,
//! backend choice), lookup, listing, metadata and destruction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arca_proto::v1::{NamespaceType, Scope};

use super::access::{self, Access};
use super::forks::ForkSource;
use super::profile::ProfileRequest;
use super::quota;
use super::tree::{NewFile, Tree};
use super::{
    Core, MetadataUpdate, WriteOptions, page_size, page_token, parse_page_token, validate_metadata,
};
use crate::auth::Identity;
use crate::error::{Error, Result, invalid, not_found};
use crate::grid;
use crate::ids::{new_id, validate_id, validate_server_id};
use crate::meta::{self, NamespaceRecord, PurgeRecord, Reader, Span, Step, Writer};

/// What CreateNamespace asks for.
#[derive(Debug, Clone, Default)]
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
    /// Optional summary.
    pub summary: String,
    /// Optional first file, committed with the namespace.
    pub initial_file: Option<InitialFile>,
    /// Fork this source's tree (not with `initial_file`).
    pub source: Option<ForkSource>,
    /// Mark it as a template.
    pub template: bool,
    /// Its access profile.
    pub profile: Option<ProfileRequest>,
}

/// A namespace's first file, committed in the namespace's own commit.
#[derive(Debug, Clone)]
pub struct InitialFile {
    /// Path (empty: "data").
    pub path: String,
    /// The whole content (at most the unary limit).
    pub data: bytes::Bytes,
    /// MIME type, metadata and expected digest.
    pub opts: WriteOptions,
}

/// What UpdateNamespace changes; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct NamespaceUpdate {
    /// New summary.
    pub summary: Option<String>,
    /// Metadata change.
    pub metadata: Option<MetadataUpdate>,
    /// Expiry change.
    pub expiry: Option<ExpiryChange>,
    /// Mark or unmark as a template.
    pub template: Option<bool>,
    /// Set (`Some(Some(_))`) or remove (`Some(None)`) the access profile.
    pub profile: Option<Option<ProfileRequest>>,
}

/// How UpdateNamespace moves an expiry.
#[derive(Debug, Clone, Copy)]
pub enum ExpiryChange {
    /// Expires this long from now.
    In(Duration),
    /// Expires this much later than now planned.
    ExtendBy(Duration),
    /// Never expires.
    Clear,
}

/// An [`ExpiryChange`] checked, in milliseconds.
#[derive(Debug, Clone, Copy)]
enum ExpiryMs {
    In(i64),
    ExtendBy(i64),
    Clear,
}

impl ExpiryChange {
    fn in_ms(self) -> Result<ExpiryMs> {
        Ok(match self {
            ExpiryChange::In(d) => ExpiryMs::In(duration_ms("expires_in", d)?),
            ExpiryChange::ExtendBy(d) => ExpiryMs::ExtendBy(duration_ms("extend_by", d)?),
            ExpiryChange::Clear => ExpiryMs::Clear,
        })
    }
}

/// The longest summary, in bytes.
pub const MAX_SUMMARY: usize = 4096;

fn validate_summary(summary: &str) -> Result<()> {
    if summary.len() > MAX_SUMMARY
        || summary
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(format!(
            "summary must be at most {MAX_SUMMARY} bytes without control characters other than newline and tab"
        )));
    }
    Ok(())
}

fn duration_ms(what: &str, d: Duration) -> Result<i64> {
    if d.is_zero() {
        return Err(invalid(format!("{what} must be positive")));
    }
    i64::try_from(d.as_millis()).map_err(|_| invalid(format!("{what} is too long")))
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
    /// Only BLOB namespaces whose file's MIME type starts with this.
    pub mime_prefix: String,
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
    pub async fn create_namespace(
        self: &Arc<Self>,
        who: &Identity,
        req: NewNamespace,
    ) -> Result<NamespaceRecord> {
        let result = self.create_namespace_as(who, req).await;
        access::audit(
            who,
            "CreateNamespace",
            result.as_ref().map_or("", |ns| ns.id.as_str()),
            &result,
        );
        result
    }

    async fn create_namespace_as(
        self: &Arc<Self>,
        who: &Identity,
        mut req: NewNamespace,
    ) -> Result<NamespaceRecord> {
        // A fork is of its source's type and on its source's backend.
        let fork = match req.source.take() {
            None => None,
            Some(source) => {
                if req.initial_file.is_some() {
                    return Err(invalid(
                        "a namespace is created with a source or with an initial file, not both",
                    ));
                }
                let src = self.resolve_fork_source(who, &source).await?;
                if req.ns_type == NamespaceType::Unspecified {
                    req.ns_type = NamespaceType::try_from(src.ns_type).unwrap_or_default();
                } else if req.ns_type as i32 != src.ns_type {
                    return Err(invalid(format!(
                        "a fork has its source's type; namespace {} is not of the type asked for",
                        src.id
                    )));
                }
                if req.backend.is_empty() {
                    req.backend = src.backend.clone();
                } else if req.backend != src.backend {
                    return Err(invalid(format!(
                        "a fork lives on its source's backend {:?}, not {:?} (its content is shared, not copied)",
                        src.backend, req.backend
                    )));
                }
                Some((source, src))
            }
        };
        if req.ns_type == NamespaceType::Unspecified {
            return Err(invalid("namespace type is required (BLOB or WORKSPACE)"));
        }
        if req.scope == Scope::Unspecified {
            return Err(invalid("scope is required (SESSION, USER or SANDBOX)"));
        }
        (req.sandbox, req.user, req.session) =
            access::owner_for_create(who, req.scope, &req.sandbox, &req.user, &req.session)?;
        validate_id("sandbox", &req.sandbox)?;
        match req.scope {
            Scope::Unspecified => {
                return Err(invalid("scope is required (SESSION, USER or SANDBOX)"));
            }
            Scope::Session => {
                validate_id("user", &req.user)?;
                validate_server_id("session", &req.session)?;
                // A SESSION namespace lives on a real, live session of its user.
                if !self
                    .session_belongs(&req.session, &req.sandbox, &req.user)
                    .await?
                {
                    return Err(Error::FailedPrecondition(format!(
                        "session {} is not a live session of user {:?} in sandbox {:?}",
                        req.session, req.user, req.sandbox
                    )));
                }
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
        if let Some((_, src)) = &fork
            && src.sandbox != req.sandbox
        {
            return Err(Error::FailedPrecondition(format!(
                "a fork stays in its source's sandbox {:?} (its content is shared, and grid keys name the sandbox)",
                src.sandbox
            )));
        }
        validate_metadata(&req.metadata)?;
        validate_summary(&req.summary)?;
        let profile = req
            .profile
            .take()
            .map(ProfileRequest::resolve)
            .transpose()?;
        let ttl_ms = req.ttl.map(|ttl| duration_ms("ttl", ttl)).transpose()?;
        let backend = if req.backend.is_empty() {
            self.default_backend(req.scope)
        } else {
            req.backend.clone()
        };
        self.backend(&backend)?;

        let id = new_id();
        let now = self.meta.now_ms();
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
            summary: req.summary,
            borrowed: 0,
            template: req.template,
            profile,
            footprint: None,
            revision: 0,
            changes_from: 0,
            changes_from_ms: 0,
            // Set in the creating transaction (`refs::born`).
            lazy_refs: false,
            checkpoint_seq: 0,
            deleted_checkpoint_seq: 0,
        };
        if let Some((source, src)) = fork {
            return self.commit_fork(who, record, source, &src).await;
        }
        let initial = match req.initial_file {
            Some(file) => Some(self.stage_initial_file(&record, file).await?),
            None => None,
        };
        let stored = record.clone();
        let quotas = self.quotas.clone();
        let retention = self.config.changes;
        let first = initial
            .as_ref()
            .map(|(path, file, _)| (path.clone(), file.clone()));
        // Its usage rows are every commit's of the sandbox: it takes its
        // turn on them (see `quota::Owner::turns`).
        let owner = quota::Owner::of(&record);
        let committed = self
            .meta
            .write_reading(
                || owner.turns_alone(),
                move |txn| {
                    // Everything is checked before anything is written (a job
                    // in a grouped commit must not half-write): the quota for
                    // the namespace and its first file together, and the name.
                    let first_size = first.as_ref().map_or(0, |(_, f)| f.size);
                    quota::check(txn, &quotas, &stored, first_size, 1)?;
                    claim_name(txn, &stored)?;
                    let stored = super::refs::born(txn, stored.clone())?;
                    txn.put(&meta::NAMESPACES, &stored.id, &stored)?;
                    quota::adjust(txn, &stored, 0, 1)?;
                    let Some((path, file)) = first.clone() else {
                        return Ok(stored.clone());
                    };
                    // Its checks passed above; a refusal now would leave the
                    // namespace written, so it fails the whole group instead.
                    let unexpected = |e: Error| {
                        Error::Internal(format!(
                            "the first file was refused after its namespace was written: {e}"
                        ))
                    };
                    let mut tree = Tree::open(txn, &stored.id, None, quotas.clone(), retention)
                        .map_err(unexpected)?;
                    tree.as_created();
                    tree.commit_file(&path, file).map_err(unexpected)?;
                    let ns = tree.ns.clone();
                    tree.finish().map_err(unexpected)?;
                    // The content is committed: the intent to purge it goes.
                    txn.delete(&meta::PURGES, &ns.id)?;
                    Ok(ns)
                },
            )
            .await;
        drop(initial);
        let record = committed.inspect_err(|_| {
            // A refused first file leaves its purge intent: the reclaimer
            // deletes the staged object.
            self.reclaim_wakeup.notify_one();
        })?;
        tracing::info!(namespace = %record.id, scope = record.scope, sandbox = %record.sandbox, "namespace created");
        Ok(record)
    }

    /// Checks and stores a new namespace's first file before the commit
    /// that creates both. The namespace does not exist yet, so no orphan
    /// sweep covers its prefix: a purge of the prefix is queued first (an
    /// intent the creating commit removes), so a crash or a refused commit
    /// leaves nothing behind. The object stays marked in flight until the
    /// returned guard drops, which keeps the reclaimer off the prefix.
    async fn stage_initial_file(
        self: &Arc<Self>,
        ns: &NamespaceRecord,
        file: InitialFile,
    ) -> Result<(String, NewFile, super::replicas::InFlight)> {
        let raw = if file.path.is_empty() {
            "data"
        } else {
            file.path.as_str()
        };
        let path = crate::paths::normalize_file(raw, self.config.limits.paths())?;
        if ns.ns_type == NamespaceType::Blob as i32 && path.contains('/') {
            return Err(crate::error::precondition(
                "a BLOB namespace holds one file at its top level; it has no directories",
            ));
        }
        let opts = file.opts.validated_for(&path)?;
        let sha256 = self.small_content_sha256(
            &file.data,
            opts.expected_sha256.as_deref(),
            "create the namespace, then Upload",
        )?;
        let size = file.data.len() as u64;
        quota::check_file_size(&self.quotas, &ns.sandbox, size)?;
        let mut staged = NewFile::fresh(
            ns,
            self.new_object_id().await?,
            size,
            sha256,
            opts,
            super::Precondition::None,
        );
        let object_key = staged.object_key.clone();
        let writing = self.writing(&object_key);
        let (id, intent) = (
            ns.id.clone(),
            PurgeRecord {
                backend: ns.backend.clone(),
                prefix: ns.grid_prefix.clone(),
                writer: self.replica.writer_tag(),
                ..Default::default()
            },
        );
        self.meta
            .write(move |txn| txn.put(&meta::PURGES, &id, &intent))
            .await?;
        if let Err(e) = self.backend(&ns.backend)?.put(&object_key, file.data).await {
            self.reclaim_wakeup.notify_one();
            return Err(e);
        }
        staged.written = true;
        Ok((path, staged, writing))
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
    pub async fn get_namespace(&self, who: &Identity, id: &str) -> Result<NamespaceRecord> {
        let (who, id) = (who.clone(), id.to_owned());
        self.meta
            .read(move |r| Core::namespace_for(r, &who, &id, Access::Read))
            .await
    }

    /// The byte quota binding writes to namespace `id`, as (used, limit),
    /// for a caller who may read it; `None` when no byte limit applies.
    pub async fn namespace_quota(&self, who: &Identity, id: &str) -> Result<Option<(u64, u64)>> {
        let (who, id, quotas) = (who.clone(), id.to_owned(), self.quotas.clone());
        self.meta
            .read(move |r| {
                let ns = Core::namespace_for(r, &who, &id, Access::Read)?;
                super::quota::binding(r, &quotas, &ns)
            })
            .await
    }

    /// Lists namespaces matching `filter`, a page at a time.
    pub async fn list_namespaces(
        self: &Arc<Self>,
        who: &Identity,
        mut filter: NamespaceFilter,
        requested_page: u32,
        token: &str,
    ) -> Result<(Vec<NamespaceRecord>, String)> {
        if filter.sandbox.is_empty() {
            filter.sandbox = who.sandbox.clone();
        }
        validate_id("sandbox", &filter.sandbox)?;
        if !who.reaches_sandbox(&filter.sandbox) {
            return Err(Error::PermissionDenied(format!(
                "this credential does not reach sandbox {:?}",
                filter.sandbox
            )));
        }
        let after = parse_page_token(token)?;
        let limit = page_size(requested_page, 100, 1000);
        let who = who.clone();
        self.scan(move |r| {
            let now = r.now_ms();
            let span = match &after {
                Some(a) => Span::all().after(meta::key_of(&meta::NAMESPACES, a)),
                None => Span::all(),
            };
            let page = r.page(&meta::NAMESPACES, span, limit, |_, ns| {
                // Only what the caller may read, and only what is alive.
                let shown = filter.matches(&ns)
                    && access::may_access(&who, &ns, Access::Read)
                    && super::is_alive(&ns, r, now)?
                    && blob_mime_matches(r, &ns, &filter.mime_prefix)?;
                Ok(if shown { Step::Take(ns) } else { Step::Skip })
            })?;
            let out: Vec<NamespaceRecord> = page.items.into_iter().map(|(_, ns)| ns).collect();
            let next = match out.last() {
                Some(last) if page.more => page_token(&last.id),
                _ => String::new(),
            };
            Ok((out, next))
        })
        .await
    }

    /// Replaces or merges a namespace's metadata.
    pub async fn update_namespace_metadata(
        &self,
        who: &Identity,
        id: &str,
        update: MetadataUpdate,
    ) -> Result<NamespaceRecord> {
        let change = NamespaceUpdate {
            metadata: Some(update),
            ..Default::default()
        };
        let result = self.update_namespace_as(who, id, change).await;
        access::audit(who, "UpdateNamespaceMetadata", id, &result);
        result
    }

    /// Changes a live namespace's summary, metadata and expiry in one commit.
    pub async fn update_namespace(
        &self,
        who: &Identity,
        id: &str,
        update: NamespaceUpdate,
    ) -> Result<NamespaceRecord> {
        let result = self.update_namespace_as(who, id, update).await;
        access::audit(who, "UpdateNamespace", id, &result);
        result
    }

    async fn update_namespace_as(
        &self,
        who: &Identity,
        id: &str,
        update: NamespaceUpdate,
    ) -> Result<NamespaceRecord> {
        let (ns_id, caller) = (id.to_owned(), who.clone());
        {
            if let Some(summary) = &update.summary {
                validate_summary(summary)?;
            }
            // Durations checked and turned into milliseconds once, before the job.
            let expiry = update.expiry.map(ExpiryChange::in_ms).transpose()?;
            let profile = match update.profile.clone() {
                None => None,
                Some(change) => {
                    // A session token may not lift (or change) the fence
                    // the code holding it runs in.
                    if matches!(who.role, crate::auth::Role::Session { .. }) {
                        return Err(Error::PermissionDenied(
                            "an access profile is changed with an admin or app key, not a session token"
                                .into(),
                        ));
                    }
                    Some(change.map(ProfileRequest::resolve).transpose()?)
                }
            };
            // It rewrites the namespace's record, as every commit of its
            // files does: it takes their turn.
            let owner = self.owner_for_turns(&ns_id).await;
            let reads = || owner.map(|o| o.turns_alone()).unwrap_or_default();
            self.meta
                .write_reading(reads, move |txn| {
                    let mut ns =
                        Core::resolve_namespace(txn, Some(&caller), &ns_id, Access::Write)?;
                    if let Some(summary) = &update.summary {
                        ns.summary = summary.clone();
                    }
                    if let Some(change) = &update.metadata {
                        change.clone().apply(&mut ns.metadata)?;
                    }
                    if let Some(template) = update.template {
                        ns.template = template;
                    }
                    if let Some(profile) = &profile {
                        ns.profile = profile.clone();
                    }
                    let now = txn.now_ms();
                    match expiry {
                        None => {}
                        Some(ExpiryMs::In(ms)) => ns.expires_ms = Some(now.saturating_add(ms)),
                        Some(ExpiryMs::ExtendBy(ms)) => {
                            let Some(at) = ns.expires_ms else {
                                return Err(Error::FailedPrecondition(format!(
                                    "namespace {ns_id} has no TTL to extend: it never expires"
                                )));
                            };
                            ns.expires_ms = Some(at.saturating_add(ms));
                        }
                        Some(ExpiryMs::Clear) => ns.expires_ms = None,
                    }
                    txn.put(&meta::NAMESPACES, &ns_id, &ns)?;
                    Ok(ns)
                })
                .await
        }
    }

    /// Destroys a namespace: its metadata goes in one commit, then its grid
    /// prefix is deleted from the backend. The deletion is queued in the
    /// same commit, so a crash before it finishes is resumed by the reclaimer.
    pub async fn destroy_namespace(
        self: &Arc<Self>,
        who: &Identity,
        id: &str,
    ) -> Result<Destroyed> {
        let result = async {
            // Expired namespaces can still be destroyed by whoever owns them.
            validate_server_id("namespace", id)?;
            let key = id.to_owned();
            let found = self
                .meta
                .read(move |r| r.get(&meta::NAMESPACES, &key))
                .await?;
            match found {
                Some(ns) if access::may_access(who, &ns, Access::Write) => {
                    self.destroy_namespace_unchecked(id).await
                }
                _ => Err(access::denied(who, id)),
            }
        }
        .await;
        access::audit(who, "DestroyNamespace", id, &result);
        result
    }

    /// Destroys a namespace without an access check (sessions ending,
    /// expiry, and `destroy_namespace` after its check).
    pub(crate) async fn destroy_namespace_unchecked(
        self: &Arc<Self>,
        id: &str,
    ) -> Result<Destroyed> {
        validate_server_id("namespace", id)?;
        let ns_id = id.to_owned();
        // Its usage rows are settled: it takes their turn.
        let owner = self.owner_for_turns(id).await;
        let reads = || owner.map(|o| o.turns_alone()).unwrap_or_default();
        let (destroyed, purge) = self
            .meta
            .write_reading(reads, move |txn| {
                let ns = txn
                    .get(&meta::NAMESPACES, &ns_id)?
                    .ok_or_else(|| not_found(format!("namespace {ns_id} not found")))?;
                txn.delete(&meta::NAMESPACES, &ns_id)?;
                if !ns.name.is_empty() {
                    let key = name_key(&ns);
                    if txn.get(&meta::NAMESPACE_NAMES, &key)?.as_deref() == Some(ns_id.as_str()) {
                        txn.delete(&meta::NAMESPACE_NAMES, &key)?;
                    }
                }
                let (purge, freed) = super::refs::settle_destroyed(txn, &ns, txn.now_ms())?;
                txn.delete_span(&meta::ENTRIES, Span::under(&[&ns_id], ""))?;
                txn.delete_span(&meta::CHANGES, Span::under(&[&ns_id], ""))?;
                super::checkpoints::remove_all(txn, &ns_id)?;
                let mut doomed = Vec::new();
                for row in txn.rows(&meta::UPLOADS, Span::all()) {
                    let (id, upload) = row?;
                    if upload.namespace_id == ns_id {
                        doomed.push(id);
                    }
                }
                for upload in doomed {
                    txn.delete(&meta::UPLOADS, &upload)?;
                }
                // Everything it held goes with it: files, entries,
                // checkpoints, what only they kept, staged uploads.
                quota::adjust_change(txn, &ns, &quota::Change::removing(&ns))?;
                txn.put(&meta::PURGES, &ns_id, &purge)?;
                Ok((
                    Destroyed {
                        files: ns.file_count,
                        bytes: ns.total_bytes,
                    },
                    (purge, freed),
                ))
            })
            .await?;
        let (purge, freed) = purge;
        if freed {
            // Content it borrowed lost its last reference.
            self.reclaim_wakeup.notify_one();
        }
        tracing::info!(namespace = %id, files = destroyed.files, bytes = destroyed.bytes, "namespace destroyed");
        // Delete the content now; if this fails, or a write is still in
        // flight under the prefix, the reclaimer finishes it.
        match self.purge_prefix(id, &purge).await {
            Ok(true) => {}
            Ok(false) => self.reclaim_wakeup.notify_one(),
            Err(e) => {
                tracing::warn!(namespace = %id, error = %e, "purge deferred to the reclaimer");
                self.reclaim_wakeup.notify_one();
            }
        }
        Ok(destroyed)
    }
}

/// Takes `ns`'s name among its owner's namespaces of its scope, in the
/// creating transaction: ALREADY_EXISTS while a live namespace holds it (a
/// name held by an expired one is free again).
pub(super) fn claim_name(txn: &Writer<'_>, ns: &NamespaceRecord) -> Result<()> {
    if ns.name.is_empty() {
        return Ok(());
    }
    let key = name_key(ns);
    if let Some(existing) = txn.get(&meta::NAMESPACE_NAMES, &key)? {
        let live = Core::resolve_namespace(txn, None, &existing, Access::Read);
        if live.is_ok() {
            return Err(Error::AlreadyExists(format!(
                "a namespace named {:?} already exists for this owner and scope",
                ns.name
            )));
        }
    }
    txn.put(&meta::NAMESPACE_NAMES, &key, &ns.id)
}

/// Whether `ns` passes a MIME filter: empty passes everything; otherwise
/// only a BLOB whose one file's MIME type starts with the prefix.
fn blob_mime_matches(r: &Reader<'_>, ns: &NamespaceRecord, prefix: &str) -> Result<bool> {
    if prefix.is_empty() {
        return Ok(true);
    }
    if ns.ns_type != NamespaceType::Blob as i32 {
        return Ok(false);
    }
    for row in r.rows(&meta::ENTRIES, Span::under(&[&ns.id], "")) {
        let (_, entry) = row?;
        if !entry.is_dir() {
            return Ok(entry.mime_type.starts_with(prefix));
        }
    }
    Ok(false)
}
