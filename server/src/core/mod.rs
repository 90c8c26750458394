//! The core: storage policy between the thin gRPC services and the stores.
//!
//! It decides what a request may change and how: namespace rules (scopes,
//! owners, names, TTL), tree rules (parents, BLOB's single file,
//! preconditions), reference counting of immutable objects, resumable
//! uploads and reclaim. It speaks domain types, never protobuf messages
//! (enums excepted), and reaches storage only through `crate::meta` and
//! `crate::blobs`.

pub mod access;
pub mod across;
pub mod archive;
pub mod changes;
pub mod checkpoint_pages;
pub mod checkpoints;
pub mod files;
pub mod footprint;
pub mod forks;
pub mod listing;
pub mod namespaces;
pub mod presign;
pub mod profile;
pub mod quota;
pub mod reclaim;
pub mod refs;
pub mod replicas;
mod secrets;
pub mod sessions;
pub mod stats;
pub mod tree;
pub mod uploads;
pub mod writes;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth::Identity;
use crate::blobs::{Backends, BlobStore};
use crate::config::Config;
use crate::error::{Error, Result, invalid, not_found};
use crate::meta::{self, MetaStore, NamespaceRecord, Reader};
use access::Access;

/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY: usize = 256;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE: usize = 4096;
/// Most metadata pairs on one namespace or entry.
pub const MAX_METADATA_PAIRS: usize = 128;
/// MIME type used when a write names none.
pub const DEFAULT_MIME: &str = "application/octet-stream";

/// The shared state of a running server.
pub struct Core {
    /// Metadata.
    pub meta: MetaStore,
    /// Blob backends.
    pub backends: Backends,
    /// The (finalized) configuration.
    pub config: Config,
    /// The API keys.
    pub keys: crate::auth::KeyRing,
    /// Quotas (shared with metadata jobs).
    pub quotas: Arc<crate::config::QuotaConfig>,
    /// Signs the presigned URLs this server serves itself.
    pub signer: crate::presign::UrlSigner,
    /// Wakes the reclaimer when there is work.
    pub reclaim_wakeup: Notify,
    /// Leases, attachments and writes in flight (see `replicas`).
    pub replica: replicas::Replica,
}

/// A condition a write must meet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Precondition {
    /// None.
    #[default]
    None,
    /// The path must not exist.
    MustNotExist,
    /// The path must exist with this version.
    VersionMatch(u64),
}

/// How a metadata map changes.
#[derive(Debug, Clone)]
pub enum MetadataUpdate {
    /// Becomes exactly this map.
    Replace(BTreeMap<String, String>),
    /// These keys are set, those removed.
    Merge {
        /// Keys to set.
        set: BTreeMap<String, String>,
        /// Keys to remove.
        remove: Vec<String>,
    },
}

impl MetadataUpdate {
    /// Applies the update to `map`, validating the result.
    pub fn apply(self, map: &mut BTreeMap<String, String>) -> Result<()> {
        match self {
            MetadataUpdate::Replace(new) => *map = new,
            MetadataUpdate::Merge { set, remove } => {
                for key in remove {
                    map.remove(&key);
                }
                map.extend(set);
            }
        }
        validate_metadata(map)
    }
}

/// What a file write carries besides content.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// MIME type (empty: the default).
    pub mime_type: String,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Commit condition.
    pub precondition: Precondition,
    /// Expected lowercase hex SHA-256, if any.
    pub expected_sha256: Option<String>,
}

impl WriteOptions {
    /// Validates and normalises the options of a write of `path`: a file
    /// written without a MIME type gets the one its name suggests.
    pub fn validated_for(mut self, path: &str) -> Result<Self> {
        validate_metadata(&self.metadata)?;
        if self.mime_type.is_empty() {
            self.mime_type = crate::mime::guess(path).to_owned();
        }
        if self.mime_type.len() > 255 || self.mime_type.chars().any(char::is_control) {
            return Err(invalid(
                "mime type is longer than 255 bytes or has control characters",
            ));
        }
        if let Some(sha) = &self.expected_sha256 {
            validate_sha256(sha)?;
        }
        Ok(self)
    }
}

/// Checks a metadata map against the limits.
pub fn validate_metadata(map: &BTreeMap<String, String>) -> Result<()> {
    if map.len() > MAX_METADATA_PAIRS {
        return Err(invalid(format!(
            "metadata has more than {MAX_METADATA_PAIRS} pairs"
        )));
    }
    for (k, v) in map {
        if k.is_empty() || k.len() > MAX_METADATA_KEY || k.chars().any(char::is_control) {
            return Err(invalid(format!(
                "metadata key {k:?} must be 1 to {MAX_METADATA_KEY} bytes without control characters"
            )));
        }
        if v.len() > MAX_METADATA_VALUE {
            return Err(invalid(format!(
                "metadata value of {k:?} is longer than {MAX_METADATA_VALUE} bytes"
            )));
        }
    }
    Ok(())
}

/// Checks a caller's SHA-256 (64 lowercase hex characters).
pub fn validate_sha256(sha: &str) -> Result<()> {
    if crate::ids::is_sha256_hex(sha) {
        Ok(())
    } else {
        Err(invalid(
            "expected_sha256 must be 64 lowercase hex characters",
        ))
    }
}

/// Whether a namespace is alive at `now`: before its TTL and, for SESSION
/// scope, while its session's lease holds.
pub fn is_alive(ns: &NamespaceRecord, r: &Reader<'_>, now: i64) -> Result<bool> {
    if ns.expires_ms.is_some_and(|at| at <= now) {
        return Ok(false);
    }
    if ns.scope == arca_proto::v1::Scope::Session as i32 {
        let session = r.get(&meta::SESSIONS, &ns.session)?;
        return Ok(session.is_some_and(|s| s.expires_ms > now && s.sandbox == ns.sandbox));
    }
    Ok(true)
}

/// Encodes a page token (the last key returned) opaquely.
pub fn page_token(last: &str) -> String {
    hex::encode(last)
}

/// Decodes a page token; empty means the first page.
pub fn parse_page_token(token: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = hex::decode(token).map_err(|_| invalid("malformed page token"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| invalid("malformed page token"))
}

/// The page size to use: `default` for 0, at most `max`.
pub fn page_size(requested: u32, default: usize, max: usize) -> usize {
    if requested == 0 {
        default
    } else {
        (requested as usize).min(max)
    }
}

impl Core {
    /// Opens the metadata store and the configured backends.
    pub async fn open(config: Config) -> Result<Arc<Self>> {
        let backends = Backends::open(&config.backends).await?;
        let meta = MetaStore::open(&config).await?;
        Self::open_with_meta(config, backends, meta).await
    }

    /// Opens the metadata store over the given backends (tests use this to
    /// put a fault-injecting backend in place).
    pub async fn open_with(config: Config, backends: Backends) -> Result<Arc<Self>> {
        let meta = MetaStore::open(&config).await?;
        Self::open_with_meta(config, backends, meta).await
    }

    /// Opens over the given metadata store and backends (tests use this to
    /// put a fault-injecting engine in place). On a shared engine this
    /// registers the replica and keeps its lease, and the secrets no file
    /// gives come from the engine, so every replica uses the same ones.
    pub async fn open_with_meta(
        config: Config,
        backends: Backends,
        meta: MetaStore,
    ) -> Result<Arc<Self>> {
        let shared = meta.engine().shared();
        let bootstrap_key = if shared && crate::auth::KeyRing::configured(&config)?.is_empty() {
            Some(secrets::shared_secret(&meta, "bootstrap-key", "arca_k_").await?)
        } else {
            None
        };
        let keys = crate::auth::KeyRing::load(&config, bootstrap_key)?;
        let presign_key = if shared && config.presign.hmac_key_file.is_none() {
            Some(secrets::shared_secret(&meta, "presign-key", "arca_p_").await?)
        } else {
            None
        };
        let signer = crate::presign::UrlSigner::load(&config, presign_key)?;
        let replica = replicas::Replica::new(shared, config.metadata.replica_lease_secs);
        let core = Arc::new(Core {
            meta,
            backends,
            keys,
            signer,
            quotas: Arc::new(config.quotas.clone()),
            config,
            reclaim_wakeup: Notify::new(),
            replica,
        });
        core.register_replica().await?;
        footprint::migrate(&core.meta).await?;
        core.keep_replica_alive();
        Ok(core)
    }

    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Result<Arc<dyn BlobStore>> {
        self.backends.get(name).cloned()
    }

    /// The namespace `id` as `who` may see it for `access` (`None`: the
    /// server itself). A namespace the caller may not reach is refused the
    /// same way whether or not it exists; one past its TTL, or whose
    /// session's lease ran out, is NOT_FOUND (unreadable from that moment).
    pub fn resolve_namespace(
        r: &Reader<'_>,
        who: Option<&Identity>,
        id: &str,
        access: Access,
    ) -> Result<NamespaceRecord> {
        crate::ids::validate_server_id("namespace", id)?;
        let found = r.get(&meta::NAMESPACES, id)?;
        let ns = match (found, who) {
            (None, Some(who)) => return Err(access::denied(who, id)),
            (None, None) => return Err(not_found(format!("namespace {id} not found"))),
            (Some(ns), Some(who)) if !access::may_access(who, &ns, access) => {
                return Err(access::denied(who, id));
            }
            (Some(ns), _) => ns,
        };
        if !is_alive(&ns, r, r.now_ms())? {
            return Err(not_found(format!("namespace {id} has expired")));
        }
        Ok(ns)
    }

    /// [`Core::resolve_namespace`] for a caller.
    pub fn namespace_for(
        r: &Reader<'_>,
        who: &Identity,
        id: &str,
        access: Access,
    ) -> Result<NamespaceRecord> {
        let found = Self::resolve_namespace(r, Some(who), id, access);
        // Every lookup comes here, so every denied read is logged here
        // (writes log their own outcome, denials included).
        if access == Access::Read && matches!(found, Err(Error::PermissionDenied(_))) {
            access::audit(who, "Read", id, &found);
        }
        found
    }

    /// The rows [`Core::namespace_for`] reads, for a job that names its
    /// rows ahead: the namespace, and a session caller's own session (a
    /// session namespace lives as long as its session, and a session
    /// reaches only its own).
    pub fn namespace_rows(who: &Identity, id: &str) -> meta::Wanted {
        let wanted = meta::Wanted::default().row(&meta::NAMESPACES, id);
        match &who.role {
            crate::auth::Role::Session { session, .. } => wanted.row(&meta::SESSIONS, session),
            _ => wanted,
        }
    }

    /// Runs `f` on a blocking thread with a read snapshot, for scans.
    pub async fn scan<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.meta.scan(f).await
    }

    /// Stops background work and closes the metadata store.
    pub fn close(&self) {
        self.meta.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A page token is what the server made of a key (never empty: a
        /// page ends at an entry), or refused: arbitrary input never panics
        /// and never becomes a key unless it is the hex of UTF-8.
        #[test]
        fn page_tokens_round_trip_or_are_refused(token in "\\PC{0,60}", key in "\\PC{1,40}") {
            match parse_page_token(&token) {
                Ok(Some(k)) => proptest::prop_assert_eq!(page_token(&k), token.to_ascii_lowercase()),
                Ok(None) => proptest::prop_assert!(token.is_empty()),
                Err(e) => proptest::prop_assert!(matches!(e, Error::InvalidArgument(_))),
            }
            proptest::prop_assert_eq!(parse_page_token(&page_token(&key)).unwrap(), Some(key));
        }
    }
}
