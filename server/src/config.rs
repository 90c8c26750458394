//! Server configuration: one serde struct, layered.
//!
//! Layers, later wins: built-in defaults (loopback address, `./arca-data`,
//! one filesystem backend), then a TOML file, then `ARCA_*` environment
//! variables, then command-line flags (the last two are applied by
//! `main.rs` through clap). Unknown keys in the file are errors, so a typo
//! never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::paths::PathLimits;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory holding the redb file and, by default, the filesystem backend.
    pub data_dir: PathBuf,
    /// Named blob backends.
    pub backends: BTreeMap<String, BackendConfig>,
    /// The backend used when a namespace names none, per scope.
    pub default_backend: ScopeBackends,
    /// Size and length limits.
    pub limits: Limits,
    /// Resumable uploads.
    pub uploads: UploadConfig,
    /// The reclaimer of unreferenced content.
    pub reclaim: ReclaimConfig,
    /// Seconds a shutdown waits for in-flight calls before it closes them.
    pub shutdown_grace_secs: u64,
    /// Logging.
    pub log: LogConfig,
    /// Credentials and sessions.
    pub auth: AuthConfig,
    /// Quotas per sandbox and per user.
    pub quotas: QuotaConfig,
    /// TLS; plaintext when absent.
    pub tls: Option<TlsConfig>,
    /// Presigned URLs.
    pub presign: PresignConfig,
    /// The Prometheus metrics endpoint.
    pub metrics: MetricsConfig,
    /// Where metadata lives.
    pub metadata: MetadataConfig,
    /// WebDAV on the HTTP side of the listening port.
    pub webdav: WebdavConfig,
    /// The change feed: how much of each namespace's change log is kept.
    pub changes: ChangesConfig,
}

/// The change log each namespace keeps for watchers and ListChanges. A
/// change leaves it when either bound passes; a watcher behind the oldest
/// kept revision is told so (OUT_OF_RANGE) and resyncs.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangesConfig {
    /// Most changes kept per namespace.
    pub retain_count: u64,
    /// Longest a change is kept, in seconds.
    pub retain_secs: u64,
    /// How often a watcher looks at the log for changes committed by other
    /// replicas (this replica's commits wake it at once), in milliseconds.
    pub poll_ms: u64,
}

impl Default for ChangesConfig {
    fn default() -> Self {
        ChangesConfig {
            retain_count: 10_000,
            retain_secs: 7 * 24 * 3600,
            poll_ms: 500,
        }
    }
}

/// WebDAV, served under `/dav/` on the listening port.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebdavConfig {
    /// Whether `/dav/` is served at all.
    pub enabled: bool,
    /// Most entries a `PROPFIND` with `Depth: infinity` may answer with;
    /// a larger tree is refused with `propfind-finite-depth` (RFC 4918
    /// 9.1), so one request cannot walk a whole workspace.
    pub max_infinite_depth_entries: usize,
}

impl Default for WebdavConfig {
    fn default() -> Self {
        WebdavConfig {
            enabled: true,
            max_infinite_depth_entries: 10_000,
        }
    }
}

/// Which metadata engine holds namespaces, entries, sessions and uploads.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetadataEngine {
    /// A redb file in the data directory: zero configuration, one replica.
    #[default]
    Redb,
    /// A PostgreSQL database shared by every replica.
    Postgres,
}

/// Where metadata lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataConfig {
    /// The engine.
    pub engine: MetadataEngine,
    /// PostgreSQL: a file holding the connection URL
    /// (`postgres://user@host:5432/db?sslmode=require`); refused if every
    /// user may read it, since it may carry the password.
    pub url_file: Option<PathBuf>,
    /// PostgreSQL: a file holding the password, if the URL has none.
    pub password_file: Option<PathBuf>,
    /// PostgreSQL: PEM CA certificates to trust for TLS to the database
    /// (the system's roots when absent). TLS is used unless the URL says
    /// `sslmode=disable`.
    pub ca_file: Option<PathBuf>,
    /// PostgreSQL: connections per replica.
    pub pool_size: usize,
    /// PostgreSQL: seconds to wait for a connection before UNAVAILABLE.
    pub connect_timeout_secs: u64,
    /// PostgreSQL: seconds a replica's lease lasts without renewal (renewed
    /// every third of it). A replica that dies is taken for dead this long
    /// after: then another may resume its uploads and sweep what it left.
    pub replica_lease_secs: u64,
    /// redb: MiB of the in-process page cache (redb's own default is 1 GiB,
    /// which a replica under a container's memory limit would spend on
    /// metadata pages the kernel's page cache holds anyway).
    pub redb_cache_mib: usize,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            engine: MetadataEngine::Redb,
            url_file: None,
            password_file: None,
            ca_file: None,
            pool_size: 16,
            connect_timeout_secs: 5,
            replica_lease_secs: 15,
            redb_cache_mib: crate::meta::DEFAULT_REDB_CACHE_MIB,
        }
    }
}

/// The Prometheus metrics endpoint.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served (plain HTTP, no credential: keep it
    /// on a port only the cluster reaches). Off when absent.
    pub listen: Option<SocketAddr>,
}

/// Presigned URLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresignConfig {
    /// Longest expiry a URL may be given, in seconds.
    pub max_expiry_secs: u64,
    /// Seconds a presigned upload may still be finalized after its URLs
    /// expired; after that the reclaimer discards it.
    pub finalize_window_secs: u64,
    /// The base URL clients reach this server at (scheme, host, port), for
    /// the URLs it serves itself (filesystem and memory backends). Default:
    /// the listening address, `https` with TLS. Set it behind a proxy or an
    /// ingress.
    pub public_url: Option<String>,
    /// A file holding the HMAC key that signs those URLs (at least 32
    /// characters; refused if other users may read it). Default: a key
    /// generated on first start in `presign.key` in the data directory.
    pub hmac_key_file: Option<PathBuf>,
}

impl Default for PresignConfig {
    fn default() -> Self {
        PresignConfig {
            max_expiry_secs: 24 * 3600,
            finalize_window_secs: 3600,
            public_url: None,
            hmac_key_file: None,
        }
    }
}

/// Server TLS (rustls).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key; refused if other users may read it.
    pub key_file: PathBuf,
    /// PEM CA bundle: when set, clients must present a certificate it signed.
    pub client_ca_file: Option<PathBuf>,
}

/// Credentials and sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// API keys by id. Only the SHA-256 of each secret is configured.
    pub keys: BTreeMap<String, ApiKeyConfig>,
    /// A TOML file holding more `[keys.<id>]` entries; refused if other
    /// users may read it.
    pub keys_file: Option<PathBuf>,
    /// Lease of a session opened without a TTL, in seconds.
    pub session_default_ttl_secs: u64,
    /// Longest lease a session may ask for, in seconds.
    pub session_max_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            keys: BTreeMap::new(),
            keys_file: None,
            session_default_ttl_secs: 3600,
            session_max_ttl_secs: 24 * 3600,
        }
    }
}

/// One API key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The sandbox it belongs to.
    pub sandbox: String,
    /// What it may do.
    pub role: KeyRole,
    /// Admin keys only: reach every sandbox.
    #[serde(default)]
    pub all_sandboxes: bool,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_sha256: String,
}

/// The role of an API key.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    /// Everything in its sandbox (or all sandboxes); writes SANDBOX scope.
    Admin,
    /// A trusted backend: opens sessions for its users and acts for them.
    App,
}

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

/// One blob backend, tagged by `kind`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BackendConfig {
    /// Objects in process memory; lost on restart.
    Memory,
    /// Objects as files under `root`.
    Filesystem {
        /// The directory holding the objects.
        root: PathBuf,
    },
    /// Objects in an S3 bucket (AWS or S3-compatible).
    S3(S3Config),
}

/// An S3 backend.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Prefix of every key in the bucket.
    #[serde(default)]
    pub prefix: String,
    /// Region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Endpoint URL, for S3-compatible stores.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Path-style addressing (most S3-compatible stores want it).
    #[serde(default)]
    pub path_style: bool,
    /// File holding the access key id; with `secret_access_key_file`,
    /// instead of the default AWS credential chain.
    #[serde(default)]
    pub access_key_id_file: Option<PathBuf>,
    /// File holding the secret access key; refused if world-readable.
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    /// Server-side encryption: `AES256` or `aws:kms`.
    #[serde(default)]
    pub sse: Option<String>,
    /// KMS key id for `aws:kms`.
    #[serde(default)]
    pub sse_kms_key_id: Option<String>,
    /// Multipart part size in MiB (at least 5).
    #[serde(default = "default_part_mib")]
    pub part_size_mib: u64,
    /// Parts of one upload sent at once (at least 1). Memory per upload:
    /// about (part_concurrency + 1) x part size.
    #[serde(default = "default_part_concurrency")]
    pub part_concurrency: usize,
    /// Attempts per request, retries with jittered backoff included.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Seconds one attempt may take before it is retried (a stalled store
    /// is an error, not a hang). Large parts need time: keep it generous.
    #[serde(default = "default_attempt_timeout")]
    pub attempt_timeout_secs: u64,
}

fn default_attempt_timeout() -> u64 {
    60
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

fn default_part_mib() -> u64 {
    8
}

fn default_part_concurrency() -> usize {
    4
}

fn default_attempts() -> u32 {
    5
}

/// Which backend each scope uses by default. Empty falls back to `all`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeBackends {
    /// Default for every scope.
    pub all: String,
    /// Override for SESSION scope.
    pub session: String,
    /// Override for USER scope.
    pub user: String,
    /// Override for SANDBOX scope.
    pub sandbox: String,
}

/// Limits on requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest content of a unary WriteFile/ReadFile and of a whole batch.
    pub max_unary_bytes: u64,
    /// Largest data chunk in an upload message.
    pub max_chunk_bytes: u64,
    /// Longest path in bytes.
    pub max_path_bytes: usize,
    /// Longest path segment in bytes.
    pub max_segment_bytes: usize,
    /// Most items in one batch call.
    pub max_batch_items: usize,
    /// Largest gRPC message accepted (must exceed the chunk and unary limits).
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_unary_bytes: 4 << 20,
            max_chunk_bytes: 4 << 20,
            max_path_bytes: 4096,
            max_segment_bytes: 255,
            max_batch_items: 1000,
            max_message_bytes: 16 << 20,
        }
    }
}

impl Limits {
    /// The path limits part.
    pub fn paths(&self) -> PathLimits {
        PathLimits {
            max_path_bytes: self.max_path_bytes,
            max_segment_bytes: self.max_segment_bytes,
        }
    }
}

/// Resumable uploads.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Seconds an unfinished upload stays resumable after it was last active.
    pub lease_secs: u64,
    /// Bytes received between the starts of durable persists (a progress
    /// message follows each one that ends).
    pub persist_interval_bytes: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            lease_secs: 24 * 3600,
            persist_interval_bytes: 4 << 20,
        }
    }
}

/// The reclaimer.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReclaimConfig {
    /// Seconds an unreferenced object is kept before deletion, so reads that
    /// resolved it just before it was replaced can finish.
    pub grace_secs: u64,
    /// Seconds between background passes (a pass also runs when work appears).
    pub interval_secs: u64,
}

impl Default for ReclaimConfig {
    fn default() -> Self {
        ReclaimConfig {
            grace_secs: 60,
            interval_secs: 30,
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (default) or `json` (one event per line).
    pub format: LogFormat,
    /// An `EnvFilter` directive, e.g. `info` or `arca_server=debug`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// JSON, one event per line.
    Json,
}

/// Name of the backend the zero-config server uses.
pub const DEFAULT_BACKEND: &str = "local";

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7420)),
            data_dir: PathBuf::from("arca-data"),
            backends: BTreeMap::new(),
            default_backend: ScopeBackends::default(),
            limits: Limits::default(),
            uploads: UploadConfig::default(),
            reclaim: ReclaimConfig::default(),
            shutdown_grace_secs: 10,
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            quotas: QuotaConfig::default(),
            tls: None,
            presign: PresignConfig::default(),
            metrics: MetricsConfig::default(),
            metadata: MetadataConfig::default(),
            webdav: WebdavConfig::default(),
            changes: ChangesConfig::default(),
        }
    }
}

impl Config {
    /// Parses a TOML document over the defaults.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::InvalidArgument(format!("configuration: {e}")))
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidArgument(format!("reading {}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// A configuration with one in-memory backend, for tests and benchmarks.
    pub fn in_memory(data_dir: &Path) -> Self {
        let mut config = Config {
            data_dir: data_dir.to_owned(),
            ..Config::default()
        };
        config
            .backends
            .insert("mem".to_owned(), BackendConfig::Memory);
        config.default_backend.all = "mem".to_owned();
        config
    }

    /// Fills in what the layers left open and checks the whole: the
    /// filesystem backend under the data directory when no backend is
    /// configured, scope defaults that name existing backends, coherent limits.
    pub fn finalize(mut self) -> Result<Self> {
        if self.backends.is_empty() {
            self.backends.insert(
                DEFAULT_BACKEND.to_owned(),
                BackendConfig::Filesystem {
                    root: self.data_dir.join("blobs"),
                },
            );
        }
        if self.default_backend.all.is_empty() {
            self.default_backend.all = if self.backends.contains_key(DEFAULT_BACKEND) {
                DEFAULT_BACKEND.to_owned()
            } else {
                self.backends.keys().next().cloned().unwrap_or_default()
            };
        }
        for name in [
            &self.default_backend.all,
            &self.default_backend.session,
            &self.default_backend.user,
            &self.default_backend.sandbox,
        ] {
            if !name.is_empty() && !self.backends.contains_key(name) {
                return Err(Error::InvalidArgument(format!(
                    "configuration: default backend {name:?} is not among the configured backends"
                )));
            }
        }
        let l = &self.limits;
        if l.max_message_bytes as u64 <= l.max_chunk_bytes.max(l.max_unary_bytes) {
            return Err(Error::InvalidArgument(
                "configuration: limits.max_message_bytes must exceed max_chunk_bytes and max_unary_bytes".into(),
            ));
        }
        if l.max_segment_bytes == 0 || l.max_path_bytes < l.max_segment_bytes {
            return Err(Error::InvalidArgument(
                "configuration: path limits are incoherent".into(),
            ));
        }
        for (id, key) in &self.auth.keys {
            crate::ids::validate_id("key", id)?;
            crate::ids::validate_id("sandbox", &key.sandbox)?;
            if !crate::ids::is_sha256_hex(&key.secret_sha256) {
                return Err(Error::InvalidArgument(format!(
                    "configuration: key {id:?}: secret_sha256 must be 64 lowercase hex characters"
                )));
            }
            if key.all_sandboxes && key.role != KeyRole::Admin {
                return Err(Error::InvalidArgument(format!(
                    "configuration: key {id:?}: only admin keys may reach all sandboxes"
                )));
            }
        }
        let c = &self.changes;
        if c.retain_count == 0 || c.retain_secs == 0 || c.poll_ms == 0 || c.poll_ms > 60_000 {
            return Err(Error::InvalidArgument(
                "configuration: changes.retain_count and retain_secs must be positive, \
                 poll_ms between 1 and 60000"
                    .into(),
            ));
        }
        if self.auth.session_default_ttl_secs == 0
            || self.auth.session_max_ttl_secs < self.auth.session_default_ttl_secs
        {
            return Err(Error::InvalidArgument(
                "configuration: session TTLs must be positive, the default at most the maximum"
                    .into(),
            ));
        }
        if self.presign.max_expiry_secs == 0 {
            return Err(Error::InvalidArgument(
                "configuration: presign.max_expiry_secs must be > 0".into(),
            ));
        }
        if let Some(url) = &self.presign.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Error::InvalidArgument(format!(
                "configuration: presign.public_url {url:?} must start with http:// or https://"
            )));
        }
        if self.metadata.engine == MetadataEngine::Postgres {
            if self.metadata.url_file.is_none() {
                return Err(Error::InvalidArgument(
                    "configuration: metadata.engine = \"postgres\" needs metadata.url_file".into(),
                ));
            }
            if self.metadata.pool_size == 0 {
                return Err(Error::InvalidArgument(
                    "configuration: metadata.pool_size must be > 0".into(),
                ));
            }
            // Renewed every third of it: a second would renew three times a
            // second; an hour would leave a dead replica's uploads stuck.
            if !(1..=600).contains(&self.metadata.replica_lease_secs) {
                return Err(Error::InvalidArgument(
                    "configuration: metadata.replica_lease_secs must be 1 to 600".into(),
                ));
            }
        }
        if self.uploads.persist_interval_bytes == 0 {
            return Err(Error::InvalidArgument(
                "configuration: uploads.persist_interval_bytes must be > 0".into(),
            ));
        }
        Ok(self)
    }

    /// The redb file.
    pub fn metadata_path(&self) -> PathBuf {
        self.data_dir.join("arca.redb")
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_config_is_loopback_filesystem() {
        let c = Config::default().finalize().unwrap();
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.default_backend.all, DEFAULT_BACKEND);
        assert!(matches!(
            c.backends[DEFAULT_BACKEND],
            BackendConfig::Filesystem { .. }
        ));
    }

    #[test]
    fn toml_layers_over_defaults() {
        let c = Config::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            [backends.fast]
            kind = "memory"
            [backends.disk]
            kind = "filesystem"
            root = "/var/lib/arca"
            [default_backend]
            all = "disk"
            session = "fast"
            [limits]
            max_unary_bytes = 1024
            "#,
        )
        .unwrap()
        .finalize()
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.default_backend.session, "fast");
        assert_eq!(c.limits.max_unary_bytes, 1024);
        assert_eq!(c.limits.max_chunk_bytes, 4 << 20);
    }

    #[test]
    fn unknown_keys_and_bad_references_are_refused() {
        assert!(Config::from_toml("listne = \"127.0.0.1:1\"").is_err());
        assert!(Config::from_toml("[backends.x]\nkind = \"tape\"").is_err());
        let c = Config::from_toml("[default_backend]\nall = \"nope\"").unwrap();
        assert!(c.finalize().is_err());
    }
}
