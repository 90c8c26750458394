//! Access profiles: rules a namespace's writes must pass beyond who may
//! write (the reference's security profiles).
//!
//! A profile is stored with its namespace and checked by the tree
//! operations every write path goes through (a commit of a file, mkdir,
//! remove, copy, move, metadata, restore, fork), so no door can skip it.
//! Streamed and presigned uploads are also checked before their bytes move.
//! A refusal names the rule, changes nothing, and is counted (metric
//! `arca_profile_violations_total{rule}`) and logged as an audit event.
//!
//! Path rules use the Find glob syntax: `*` and `?` stay within a segment,
//! `**` crosses segments, and `**/x` also matches `x` at the top.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result, invalid, precondition};
use crate::meta::ProfileRecord;

/// Globs a profile may hold, per list.
pub const MAX_GLOBS: usize = 64;
/// Bytes of one glob or MIME prefix.
pub const MAX_RULE_BYTES: usize = 1024;

/// Secrets and keys nobody should write into a shared workspace.
const SECRETS: &[&str] = &[
    "**/.env",
    "**/.env.*",
    "**/*.pem",
    "**/*.key",
    "**/id_rsa*",
    "**/id_ed25519*",
];
/// Programs and scripts a host might run.
const EXECUTABLES: &[&str] = &[
    "**/*.exe",
    "**/*.dll",
    "**/*.so",
    "**/*.dylib",
    "**/*.bat",
    "**/*.cmd",
    "**/*.ps1",
    "**/*.sh",
    "**/*.msi",
    "**/*.com",
    "**/*.scr",
];

const MIB: u64 = 1024 * 1024;

/// The preset names, in the order the README lists them.
pub const PRESETS: &[&str] = &["default", "strict", "readonly", "untrusted", "testing"];

/// The rules of a named preset (the reference's security profiles):
/// - `default`: moderate; no secrets files, files up to 1 GiB, 100,000 files;
/// - `strict`: no secrets or executables, files up to 10 MiB, 10,000 files;
/// - `readonly`: no change of any kind;
/// - `untrusted`: for code nobody vouches for: no secrets, executables,
///   hidden files or directories; text and JSON only; files up to 1 MiB,
///   1,000 files;
/// - `testing`: no rules beyond access and quotas (for development).
pub fn preset(name: &str) -> Result<ProfileRecord> {
    let globs = |lists: &[&[&str]]| -> Vec<String> {
        lists
            .iter()
            .flat_map(|l| l.iter())
            .map(|g| (*g).to_owned())
            .collect()
    };
    let base = ProfileRecord {
        preset: name.to_owned(),
        ..Default::default()
    };
    Ok(match name {
        "default" => ProfileRecord {
            denied_globs: globs(&[SECRETS]),
            max_file_bytes: 1024 * MIB,
            max_files: 100_000,
            ..base
        },
        "strict" => ProfileRecord {
            denied_globs: globs(&[SECRETS, EXECUTABLES]),
            max_file_bytes: 10 * MIB,
            max_files: 10_000,
            ..base
        },
        "readonly" => ProfileRecord {
            read_only: true,
            ..base
        },
        "untrusted" => ProfileRecord {
            denied_globs: globs(&[SECRETS, EXECUTABLES, &["**/.*", "**/.*/**"]]),
            allowed_mime_prefixes: vec!["text/".into(), "application/json".into()],
            max_file_bytes: MIB,
            max_files: 1_000,
            ..base
        },
        "testing" => base,
        other => {
            return Err(invalid(format!(
                "unknown access profile preset {other:?}; known: {}",
                PRESETS.join(", ")
            )));
        }
    })
}

/// A profile as a caller asks for it: a preset and the fields that replace
/// its values.
#[derive(Debug, Clone, Default)]
pub struct ProfileRequest {
    /// Preset to start from ("" for none).
    pub preset: String,
    /// Replaces the preset's read-only flag when set.
    pub read_only: Option<bool>,
    /// Replace the preset's when non-empty.
    pub allowed_globs: Vec<String>,
    /// Replace the preset's when non-empty.
    pub denied_globs: Vec<String>,
    /// Replaces the preset's when non-zero.
    pub max_file_bytes: u64,
    /// Replaces the preset's when non-zero.
    pub max_files: u64,
    /// Replace the preset's when non-empty.
    pub allowed_mime_prefixes: Vec<String>,
}

impl ProfileRequest {
    /// The stored profile this asks for, validated.
    pub fn resolve(self) -> Result<ProfileRecord> {
        let mut p = if self.preset.is_empty() {
            ProfileRecord::default()
        } else {
            preset(&self.preset)?
        };
        if let Some(read_only) = self.read_only {
            p.read_only = read_only;
        }
        if !self.allowed_globs.is_empty() {
            p.allowed_globs = self.allowed_globs;
        }
        if !self.denied_globs.is_empty() {
            p.denied_globs = self.denied_globs;
        }
        if self.max_file_bytes != 0 {
            p.max_file_bytes = self.max_file_bytes;
        }
        if self.max_files != 0 {
            p.max_files = self.max_files;
        }
        if !self.allowed_mime_prefixes.is_empty() {
            p.allowed_mime_prefixes = self.allowed_mime_prefixes;
        }
        for (what, list) in [
            ("allowed_globs", &p.allowed_globs),
            ("denied_globs", &p.denied_globs),
            ("allowed_mime_prefixes", &p.allowed_mime_prefixes),
        ] {
            if list.len() > MAX_GLOBS {
                return Err(invalid(format!(
                    "access profile {what} holds {} rules; at most {MAX_GLOBS}",
                    list.len()
                )));
            }
            if let Some(rule) = list.iter().find(|r| {
                r.is_empty() || r.len() > MAX_RULE_BYTES || r.chars().any(char::is_control)
            }) {
                return Err(invalid(format!(
                    "access profile {what} rule {rule:?} must be 1 to {MAX_RULE_BYTES} bytes without control characters"
                )));
            }
        }
        Rules::compile(&p)?;
        Ok(p)
    }
}

/// A profile ready to check paths against.
pub struct Rules {
    name: String,
    read_only: bool,
    allowed: Option<GlobSet>,
    allowed_list: Vec<String>,
    denied: GlobSet,
    denied_list: Vec<String>,
    max_file_bytes: u64,
    max_files: u64,
    mime_prefixes: Vec<String>,
}

fn glob_set(globs: &[String]) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for g in globs {
        let glob = GlobBuilder::new(g.trim_start_matches('/'))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| invalid(format!("bad access profile glob {g:?}: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| invalid(format!("bad access profile globs: {e}")))
}

impl Rules {
    /// Compiles a stored profile.
    pub fn compile(p: &ProfileRecord) -> Result<Rules> {
        Ok(Rules {
            name: if p.preset.is_empty() {
                "custom".to_owned()
            } else {
                p.preset.clone()
            },
            read_only: p.read_only,
            allowed: (!p.allowed_globs.is_empty())
                .then(|| glob_set(&p.allowed_globs))
                .transpose()?,
            allowed_list: p.allowed_globs.clone(),
            denied: glob_set(&p.denied_globs)?,
            denied_list: p.denied_globs.clone(),
            max_file_bytes: p.max_file_bytes,
            max_files: p.max_files,
            mime_prefixes: p.allowed_mime_prefixes.clone(),
        })
    }

    fn violation(&self, rule: &'static str, ns: &str, path: &str, error: Error) -> Error {
        crate::metrics::metrics().profile_violation(rule);
        tracing::info!(
            target: "arca::audit",
            namespace = ns,
            path,
            profile = %self.name,
            rule,
            "access profile violation"
        );
        error
    }

    /// Any change to the tree at all (delete, metadata, restore).
    pub fn check_change(&self, ns: &str, path: &str) -> Result<()> {
        if self.read_only {
            return Err(self.violation(
                "read_only",
                ns,
                path,
                Error::PermissionDenied(format!(
                    "namespace {ns} is read-only (access profile {:?})",
                    self.name
                )),
            ));
        }
        Ok(())
    }

    /// A directory created at `path`.
    pub fn check_dir(&self, ns: &str, path: &str) -> Result<()> {
        self.check_change(ns, path)?;
        self.check_denied(ns, path)
    }

    fn check_denied(&self, ns: &str, path: &str) -> Result<()> {
        let hits = self.denied.matches(path);
        if let Some(&first) = hits.first() {
            return Err(self.violation(
                "denied_glob",
                ns,
                path,
                Error::PermissionDenied(format!(
                    "{path} matches the denied glob {:?} of access profile {:?}",
                    self.denied_list[first], self.name
                )),
            ));
        }
        Ok(())
    }

    /// A file of `size` bytes and type `mime` written at `path`.
    pub fn check_file(&self, ns: &str, path: &str, size: Option<u64>, mime: &str) -> Result<()> {
        self.check_change(ns, path)?;
        if let Some(allowed) = &self.allowed
            && !allowed.is_match(path)
        {
            return Err(self.violation(
                "allowed_glob",
                ns,
                path,
                Error::PermissionDenied(format!(
                    "{path} matches none of the allowed globs {:?} of access profile {:?}",
                    self.allowed_list, self.name
                )),
            ));
        }
        self.check_denied(ns, path)?;
        if let Some(size) = size
            && self.max_file_bytes > 0
            && size > self.max_file_bytes
        {
            return Err(self.violation(
                "max_file_bytes",
                ns,
                path,
                precondition(format!(
                    "{path} is {size} bytes, over the largest file of {} bytes of access profile {:?}",
                    self.max_file_bytes, self.name
                )),
            ));
        }
        if !self.mime_prefixes.is_empty()
            && !self
                .mime_prefixes
                .iter()
                .any(|p| mime.starts_with(p.as_str()))
        {
            return Err(self.violation(
                "allowed_mime",
                ns,
                path,
                precondition(format!(
                    "{path} has MIME type {mime:?}, not one of {:?} that access profile {:?} allows",
                    self.mime_prefixes, self.name
                )),
            ));
        }
        Ok(())
    }

    /// The namespace would hold `files` files.
    pub fn check_count(&self, ns: &str, path: &str, files: u64) -> Result<()> {
        if self.max_files > 0 && files > self.max_files {
            return Err(self.violation(
                "max_files",
                ns,
                path,
                precondition(format!(
                    "namespace {ns} would hold {files} files, over the {} of access profile {:?}",
                    self.max_files, self.name
                )),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(name: &str) -> Rules {
        Rules::compile(&preset(name).unwrap()).unwrap()
    }

    #[test]
    fn presets_decide_as_documented() {
        let strict = rules("strict");
        assert!(
            strict
                .check_file("n", "src/main.py", Some(10), "text/x-python")
                .is_ok()
        );
        for bad in [
            ".env",
            "app/.env",
            "app/.env.local",
            "bin/tool.exe",
            "k/id_rsa",
        ] {
            assert!(
                matches!(
                    strict.check_file("n", bad, Some(1), "text/plain"),
                    Err(Error::PermissionDenied(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            strict.check_file("n", "big.bin", Some(11 * MIB), ""),
            Err(Error::FailedPrecondition(_))
        ));
        let ro = rules("readonly");
        assert!(ro.check_change("n", "a").is_err());
        assert!(ro.check_file("n", "a", Some(0), "text/plain").is_err());
        let untrusted = rules("untrusted");
        assert!(
            untrusted
                .check_file("n", "notes/a.txt", Some(5), "text/plain")
                .is_ok()
        );
        assert!(
            untrusted
                .check_file("n", "a.json", Some(5), "application/json")
                .is_ok()
        );
        assert!(
            untrusted
                .check_file("n", "a.png", Some(5), "image/png")
                .is_err()
        );
        assert!(
            untrusted
                .check_file("n", ".git/config", Some(5), "text/plain")
                .is_err()
        );
        assert!(untrusted.check_dir("n", "x/.git").is_err());
        assert!(untrusted.check_count("n", "a", 1001).is_err());
        let testing = rules("testing");
        assert!(
            testing
                .check_file("n", ".env", Some(u64::MAX), "x/y")
                .is_ok()
        );
        assert!(preset("lax").is_err());
    }

    #[test]
    fn requests_replace_preset_values() {
        let p = ProfileRequest {
            preset: "strict".into(),
            allowed_globs: vec!["src/**".into()],
            max_file_bytes: 5,
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(p.preset, "strict");
        let r = Rules::compile(&p).unwrap();
        assert!(r.check_file("n", "src/a/b.rs", Some(5), "").is_ok());
        assert!(r.check_file("n", "docs/a.md", Some(5), "").is_err());
        assert!(r.check_file("n", "src/a.rs", Some(6), "").is_err());
        assert!(r.check_file("n", "src/.env", Some(1), "").is_err());
        let bad = ProfileRequest {
            denied_globs: vec!["a/[".into()],
            ..Default::default()
        };
        assert!(matches!(bad.resolve(), Err(Error::InvalidArgument(_))));
        let empty_rule = ProfileRequest {
            allowed_mime_prefixes: vec![String::new()],
            ..Default::default()
        };
        assert!(empty_rule.resolve().is_err());
    }
}
