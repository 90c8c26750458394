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

mod backends;
mod quota;

pub use backends::{BackendConfig, S3Config, ScopeBackends};
pub use quota::{Quota, QuotaConfig, QuotaLimits, SandboxQuota};

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
