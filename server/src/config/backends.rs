//! Blob backends in the configuration: each named backend's kind and
//! settings, and which one each scope uses by default.

use std::path::PathBuf;

use serde::Deserialize;

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
