//! Credentials: who is calling.
//!
//! Every call carries `authorization: Bearer <secret>`. A secret is an API
//! key (configured as the SHA-256 of the secret, with a sandbox and a role)
//! or a session token (stored in redb only as its SHA-256; see
//! `core::sessions`). This module owns the key ring, the first-start admin
//! key and the [`Identity`] a credential resolves to. What an identity may do
//! is decided in `core::access`, nowhere else.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{ApiKeyConfig, AuthConfig, Config, KeyRole};
use crate::error::{Error, Result};

/// Who a credential says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The sandbox the credential belongs to.
    pub sandbox: String,
    /// What it may do.
    pub role: Role,
    /// For logs and audit: `key:<id>` or `session:<id>`, never a secret.
    pub principal: String,
}

/// The role of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// An admin key: everything in its sandbox, or in every sandbox.
    Admin {
        /// Reaches every sandbox.
        all_sandboxes: bool,
    },
    /// An app key: a trusted backend acting for the users of its sandbox.
    App,
    /// A session token: one user in one session.
    Session {
        /// The session's user.
        user: String,
        /// The session id.
        session: String,
    },
}

impl Identity {
    /// Whether the credential reaches `sandbox` at all.
    pub fn reaches_sandbox(&self, sandbox: &str) -> bool {
        self.sandbox == sandbox
            || matches!(
                self.role,
                Role::Admin {
                    all_sandboxes: true
                }
            )
    }

    /// Whether the credential reaches every sandbox.
    pub fn is_global_admin(&self) -> bool {
        matches!(
            self.role,
            Role::Admin {
                all_sandboxes: true
            }
        )
    }
}

/// Lowercase hex SHA-256 of a secret.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret: `prefix` then 256 random bits in hex.
pub fn new_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// Equality that takes the same time wherever the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Name of the first-start admin key file in the data directory.
pub const BOOTSTRAP_KEY_FILE: &str = "admin.key";
/// Id of the first-start admin key.
pub const BOOTSTRAP_KEY_ID: &str = "bootstrap-admin";
/// Sandbox of the first-start admin key (which reaches every sandbox).
pub const BOOTSTRAP_SANDBOX: &str = "default";

/// The configured API keys.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<(String, Vec<u8>, ApiKeyConfig)>,
    /// Set when no key was configured and the first-start key is in use.
    bootstrap: Option<PathBuf>,
}

impl KeyRing {
    /// The keys of the configuration and of its keys file (read and
    /// validated: private, well-formed, no id twice), without creating the
    /// first-start key. `--check-config` runs this too.
    pub fn configured(config: &Config) -> Result<std::collections::BTreeMap<String, ApiKeyConfig>> {
        let mut configured = config.auth.keys.clone();
        if let Some(file) = &config.auth.keys_file {
            let text = read_private_file(file)?;
            configured = Self::with_keys_file(config, configured, &text).map_err(|e| {
                Error::InvalidArgument(format!("keys file {}: {e}", file.display()))
            })?;
        }
        Ok(configured)
    }

    /// `configured` with the keys of a keys file's `text` added, checked
    /// as a whole (well-formed, no id twice, every key valid). The one
    /// parser of keys files.
    pub fn with_keys_file(
        config: &Config,
        mut configured: std::collections::BTreeMap<String, ApiKeyConfig>,
        text: &str,
    ) -> Result<std::collections::BTreeMap<String, ApiKeyConfig>> {
        let extra: AuthConfig =
            toml::from_str(text).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        for (id, key) in extra.keys {
            if configured.insert(id.clone(), key).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "key {id:?} is defined twice"
                )));
            }
        }
        Config {
            auth: AuthConfig {
                keys: configured.clone(),
                ..config.auth.clone()
            },
            ..Config::default()
        }
        .finalize()?;
        Ok(configured)
    }

    /// Loads the keys of the configuration and its keys file; with none,
    /// creates (or reuses) the first-start admin key in the data directory,
    /// or writes `shared_bootstrap` there (the one a shared metadata engine
    /// holds for every replica).
    pub fn load(config: &Config, shared_bootstrap: Option<String>) -> Result<KeyRing> {
        let mut configured = Self::configured(config)?;
        let mut bootstrap = None;
        if configured.is_empty() {
            let path = config.data_dir.join(BOOTSTRAP_KEY_FILE);
            let secret = match shared_bootstrap {
                Some(secret) => {
                    write_secret_file(&path, &secret)?;
                    secret
                }
                None => bootstrap_secret(&path)?,
            };
            configured.insert(
                BOOTSTRAP_KEY_ID.to_owned(),
                ApiKeyConfig {
                    sandbox: BOOTSTRAP_SANDBOX.to_owned(),
                    role: KeyRole::Admin,
                    all_sandboxes: true,
                    secret_sha256: sha256_hex(&secret),
                },
            );
            bootstrap = Some(path);
        }
        let keys = configured
            .into_iter()
            .map(|(id, key)| {
                let hash = hex::decode(&key.secret_sha256).unwrap_or_default();
                (id, hash, key)
            })
            .collect();
        Ok(KeyRing { keys, bootstrap })
    }

    /// The first-start key file, when no keys are configured.
    pub fn bootstrap_key_file(&self) -> Option<&Path> {
        self.bootstrap.as_deref()
    }

    /// The identity of an API key secret, comparing against every key in
    /// constant time.
    pub fn find(&self, secret: &str) -> Option<Identity> {
        let hash = Sha256::digest(secret.as_bytes());
        let mut found = None;
        for (id, key_hash, key) in &self.keys {
            if constant_time_eq(key_hash, &hash) {
                found = Some(Identity {
                    sandbox: key.sandbox.clone(),
                    role: match key.role {
                        KeyRole::Admin => Role::Admin {
                            all_sandboxes: key.all_sandboxes,
                        },
                        KeyRole::App => Role::App,
                    },
                    principal: format!("key:{id}"),
                });
            }
        }
        found
    }
}

/// Reads a file holding secrets, refusing one that other users may read.
pub fn read_private_file(path: &Path) -> Result<String> {
    check_private(path)?;
    std::fs::read_to_string(path)
        .map_err(|e| Error::InvalidArgument(format!("reading {}: {e}", path.display())))
}

fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::InvalidArgument(format!("reading {}: {e}", path.display())))?;
        if meta.permissions().mode() & 0o004 != 0 {
            return Err(Error::InvalidArgument(format!(
                "{} is readable by every user; it holds secrets: chmod o-r (0600 is best)",
                path.display()
            )));
        }
    }
    Ok(())
}

fn bootstrap_secret(path: &Path) -> Result<String> {
    load_or_create_secret(path, "arca_k_")
}

/// Reads the secret in `path`, or creates the file (mode 0600) with a new
/// random secret starting with `prefix` if there is none. Refuses a file
/// other users may read, or an empty one.
pub fn load_or_create_secret(path: &Path, prefix: &str) -> Result<String> {
    if path.exists() {
        let secret = read_private_file(path)?.trim().to_owned();
        if secret.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{} is empty",
                path.display()
            )));
        }
        return Ok(secret);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("create {}: {e}", dir.display())))?;
    }
    let secret = new_secret(prefix)?;
    write_new_secret_file(path, &secret)?;
    Ok(secret)
}

/// Writes `secret` to `path` (mode 0600) unless the file already holds it.
fn write_secret_file(path: &Path, secret: &str) -> Result<()> {
    if path.exists() && read_private_file(path)?.trim() == secret {
        return Ok(());
    }
    if path.exists() {
        std::fs::remove_file(path)
            .map_err(|e| Error::Internal(format!("replace {}: {e}", path.display())))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("create {}: {e}", dir.display())))?;
    }
    write_new_secret_file(path, secret)
}

fn write_new_secret_file(path: &Path, secret: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::Internal(format!("create {}: {e}", path.display())))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::Internal(format!("write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_by_secret_only() {
        let mut config = Config::default();
        config.auth.keys.insert(
            "ops".into(),
            ApiKeyConfig {
                sandbox: "acme".into(),
                role: KeyRole::App,
                all_sandboxes: false,
                secret_sha256: sha256_hex("s3cret"),
            },
        );
        let ring = KeyRing::load(&config, None).unwrap();
        assert!(ring.bootstrap_key_file().is_none());
        let who = ring.find("s3cret").unwrap();
        assert_eq!(
            (who.sandbox.as_str(), who.principal.as_str(), who.role),
            ("acme", "key:ops", Role::App)
        );
        assert!(ring.find("s3cret ").is_none());
        assert!(ring.find("").is_none());
    }

    #[test]
    fn first_start_creates_a_private_admin_key_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let ring = KeyRing::load(&config, None).unwrap();
        let path = ring.bootstrap_key_file().unwrap().to_owned();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let secret = std::fs::read_to_string(&path).unwrap().trim().to_owned();
        assert!(ring.find(&secret).unwrap().is_global_admin());
        // A restart reuses it.
        let again = KeyRing::load(&config, None).unwrap();
        assert!(again.find(&secret).is_some());
        // A world-readable key file is refused.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(KeyRing::load(&config, None).is_err());
    }

    #[test]
    fn keys_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.toml");
        std::fs::write(
            &file,
            format!(
                "[keys.app]\nsandbox = \"acme\"\nrole = \"app\"\nsecret_sha256 = \"{}\"\n",
                sha256_hex("k")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = Config {
            auth: AuthConfig {
                keys_file: Some(file.clone()),
                ..AuthConfig::default()
            },
            ..Config::default()
        };
        assert!(KeyRing::load(&config, None).is_err());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ring = KeyRing::load(&config, None).unwrap();
        assert_eq!(ring.find("k").unwrap().sandbox, "acme");
    }
}
