//! Forks and templates: a namespace created from another's tree.
//!
//! A fork copies the source's entries (its live tree, or a checkpoint's)
//! into the new namespace in the commit that creates it, each file sharing
//! the source's object (see `refs`): the cost follows the number of
//! entries, never their bytes. Forking a template rewrites its small UTF-8
//! text files with the caller's variables into objects of the fork's own,
//! staged before the commit; the commit then checks that those files are
//! still what was read, so a template changed meanwhile is ABORTED, never
//! half-applied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::access::Access;
use super::namespaces::claim_name;
use super::quota;
use super::refs::{Held, carried};
use super::replicas::InFlight;
use super::tree::{NewFile, Tree};
use super::{Core, Precondition, WriteOptions};
use crate::auth::Identity;
use crate::error::{Error, Result, invalid};
use crate::ids::validate_server_id;
use crate::meta::{self, EntryRecord, NamespaceRecord, PurgeRecord, Reader, Span};

/// Text files of a template up to this size are rewritten with variables.
pub const TEMPLATE_FILE_BYTES: u64 = 1024 * 1024;
/// Variables one fork may give.
pub const MAX_VARIABLES: usize = 256;
/// Bytes of one variable's value.
pub const MAX_VARIABLE_BYTES: usize = 64 * 1024;
/// Bytes of one variable's name.
const MAX_VARIABLE_NAME: usize = 64;

/// Where a fork starts from.
#[derive(Debug, Clone, Default)]
pub struct ForkSource {
    /// The source namespace.
    pub namespace_id: String,
    /// One of its checkpoints ("" for its live tree).
    pub checkpoint_id: String,
    /// Values for a template's placeholders.
    pub variables: BTreeMap<String, String>,
}

/// A template file rewritten for the fork, staged and waiting for the commit.
struct Rewritten {
    /// The source object it was made from (the commit checks it is still there).
    source_object: String,
    file: NewFile,
    _writing: InFlight,
}

/// The entries of the source, as of one snapshot.
fn source_entries(
    r: &Reader<'_>,
    who: &Identity,
    source: &ForkSource,
) -> Result<(NamespaceRecord, Vec<(String, EntryRecord)>)> {
    let ns = Core::namespace_for(r, who, &source.namespace_id, Access::Read)?;
    let entries = if source.checkpoint_id.is_empty() {
        r.rows(&meta::ENTRIES, Span::under(&[&ns.id], ""))
            .map(|row| row.map(|((_, path), e)| (path, e)))
            .collect::<Result<Vec<_>>>()?
    } else {
        if r.get(&meta::CHECKPOINTS, (&ns.id, &source.checkpoint_id))?
            .is_none()
        {
            return Err(crate::error::not_found(format!(
                "checkpoint {} of namespace {} not found",
                source.checkpoint_id, ns.id
            )));
        }
        super::checkpoint_pages::all(r, &ns.id, &source.checkpoint_id)?
    };
    Ok((ns, entries))
}

/// Checks the variables a fork gives.
fn validate_variables(vars: &BTreeMap<String, String>) -> Result<()> {
    if vars.len() > MAX_VARIABLES {
        return Err(invalid(format!(
            "{} template variables; at most {MAX_VARIABLES}",
            vars.len()
        )));
    }
    for (name, value) in vars {
        if !is_variable_name(name) {
            return Err(invalid(format!(
                "template variable name {name:?} must be 1 to {MAX_VARIABLE_NAME} letters, digits or _, not starting with a digit"
            )));
        }
        if value.len() > MAX_VARIABLE_BYTES {
            return Err(invalid(format!(
                "template variable {name} is {} bytes; at most {MAX_VARIABLE_BYTES}",
                value.len()
            )));
        }
    }
    Ok(())
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_VARIABLE_NAME
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What substituting did to one text.
#[derive(Debug, PartialEq)]
pub struct Substituted {
    /// The new text.
    pub text: String,
    /// Placeholders it held, with or without a value.
    pub used: BTreeSet<String>,
    /// Placeholders without a value.
    pub missing: BTreeSet<String>,
    /// Whether anything changed (a placeholder or an escape).
    pub changed: bool,
}

/// Replaces `${name}` with its value; `$${` stands for a literal `${`.
/// Only names of letters, digits and `_` are placeholders; anything else
/// (`${ x }`, `${a:-b}`) is left as it is.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Substituted {
    let mut out = String::with_capacity(text.len());
    let mut used = BTreeSet::new();
    let mut missing = BTreeSet::new();
    let mut changed = false;
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            changed = true;
            continue;
        }
        if let Some(after) = tail.strip_prefix("${")
            && let Some(end) = after.find('}')
            && is_variable_name(&after[..end])
        {
            let name = &after[..end];
            used.insert(name.to_owned());
            match vars.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    missing.insert(name.to_owned());
                }
            }
            changed = true;
            rest = &after[end + 1..];
            continue;
        }
        out.push('$');
        rest = &tail[1..];
    }
    out.push_str(rest);
    Substituted {
        text: out,
        used,
        missing,
        changed,
    }
}

impl Core {
    /// Reads the fork's source before anything is created: the caller may
    /// read it, and the type and backend asked for (if any) are its.
    /// Returns the source namespace.
    pub(super) async fn resolve_fork_source(
        &self,
        who: &Identity,
        source: &ForkSource,
    ) -> Result<NamespaceRecord> {
        validate_server_id("source namespace", &source.namespace_id)?;
        if !source.checkpoint_id.is_empty() {
            validate_server_id("checkpoint", &source.checkpoint_id)?;
        }
        validate_variables(&source.variables)?;
        let (who, id) = (who.clone(), source.namespace_id.clone());
        let ns = self
            .meta
            .read(move |r| Core::namespace_for(r, &who, &id, Access::Read))
            .await?;
        if !ns.template && !source.variables.is_empty() {
            return Err(invalid(format!(
                "namespace {} is not a template; variables apply only to templates",
                ns.id
            )));
        }
        Ok(ns)
    }

    /// Rewrites the template's text files with the variables and stages
    /// them as objects of the fork (`fork` is not committed yet, so a purge
    /// of its prefix is queued first, as for a first file: a crash or a
    /// refused commit leaves nothing behind).
    async fn stage_template(
        self: &Arc<Self>,
        who: &Identity,
        fork: &NamespaceRecord,
        source: &ForkSource,
    ) -> Result<BTreeMap<String, Rewritten>> {
        let (caller, src) = (who.clone(), source.clone());
        let (src_ns, entries) = self
            .meta
            .read(move |r| source_entries(r, &caller, &src))
            .await?;
        let store = self.backend(&src_ns.backend)?;
        let mut texts = Vec::new();
        let mut used = BTreeSet::new();
        for (path, entry) in entries {
            if entry.is_dir() || entry.size > TEMPLATE_FILE_BYTES {
                continue;
            }
            let bytes =
                crate::blobs::read_all(store.as_ref(), &entry.object_key, 0..entry.size).await?;
            let Ok(text) = String::from_utf8(bytes) else {
                continue; // not text: shared as it is
            };
            if text.contains('\0') {
                continue;
            }
            let done = substitute(&text, &source.variables);
            if let Some(name) = done.missing.first() {
                return Err(invalid(format!(
                    "template variable {name} is used in {path} but has no value"
                )));
            }
            used.extend(done.used.iter().cloned());
            if done.changed {
                texts.push((path, entry, done.text));
            }
        }
        if let Some(unknown) = source.variables.keys().find(|name| !used.contains(*name)) {
            return Err(invalid(format!(
                "template variable {unknown} is not used by any file of template {}",
                src_ns.id
            )));
        }
        let limit = self.config.limits.max_unary_bytes;
        if let Some((path, _, text)) = texts.iter().find(|(_, _, t)| t.len() as u64 > limit) {
            return Err(invalid(format!(
                "{path} would be {} bytes after substitution; at most {limit}",
                text.len()
            )));
        }
        if texts.is_empty() {
            return Ok(BTreeMap::new());
        }
        let (id, intent) = (
            fork.id.clone(),
            PurgeRecord {
                backend: fork.backend.clone(),
                prefix: fork.grid_prefix.clone(),
                writer: self.replica.writer_tag(),
                ..Default::default()
            },
        );
        self.meta
            .write(move |txn| txn.put(&meta::PURGES, &id, &intent))
            .await?;
        let target = self.backend(&fork.backend)?;
        let mut staged = BTreeMap::new();
        for (path, entry, text) in texts {
            let data = bytes::Bytes::from(text.into_bytes());
            let opts = WriteOptions {
                mime_type: entry.mime_type.clone(),
                metadata: entry.metadata.clone(),
                ..Default::default()
            };
            let sha256 = hex::encode(Sha256::digest(&data));
            let mut file = NewFile::fresh(
                fork,
                self.new_object_id().await?,
                data.len() as u64,
                sha256,
                opts,
                Precondition::None,
            );
            let writing = self.writing(&file.object_key);
            if let Err(e) = target.put(&file.object_key, data).await {
                self.reclaim_wakeup.notify_one();
                return Err(e);
            }
            file.written = true;
            staged.insert(
                path,
                Rewritten {
                    source_object: entry.object_id,
                    file,
                    _writing: writing,
                },
            );
        }
        Ok(staged)
    }

    /// Creates `fork` (checked and built by `create_namespace`) holding the
    /// source's tree, in one commit.
    pub(super) async fn commit_fork(
        self: &Arc<Self>,
        who: &Identity,
        fork: NamespaceRecord,
        source: ForkSource,
        source_ns: &NamespaceRecord,
    ) -> Result<NamespaceRecord> {
        let rewritten = if source_ns.template {
            self.stage_template(who, &fork, &source).await?
        } else {
            BTreeMap::new()
        };
        let plan: BTreeMap<String, (String, NewFile)> = rewritten
            .iter()
            .map(|(path, r)| (path.clone(), (r.source_object.clone(), r.file.clone())))
            .collect();
        let staged_any = !plan.is_empty();
        let (caller, quotas) = (who.clone(), self.quotas.clone());
        let retention = self.config.changes;
        // The fork is in its source's sandbox, whose turn orders the
        // commits that rewrite both their records and the usage rows.
        let owner = quota::Owner::of(&fork);
        let committed = self
            .meta
            .write_reading(
                || owner.turns_alone(),
                move |txn| {
                    let (src_ns, entries) = source_entries(txn, &caller, &source)?;
                    if src_ns.sandbox != fork.sandbox || src_ns.backend != fork.backend {
                        return Err(Error::Internal(
                            "a fork left its source's sandbox or backend".into(),
                        ));
                    }
                    claim_name(txn, &fork)?;
                    let fork = super::refs::born(txn, fork.clone())?;
                    txn.put(&meta::NAMESPACES, &fork.id, &fork)?;
                    quota::check(txn, &quotas, &fork, 0, 1)?;
                    quota::adjust(txn, &fork, 0, 1)?;
                    let mut tree = Tree::open(txn, &fork.id, None, quotas.clone(), retention)?;
                    tree.as_created();
                    for (path, entry) in entries {
                        if let Some((source_object, file)) = plan.get(&path) {
                            if entry.object_id != *source_object {
                                return Err(Error::Aborted(format!(
                                    "template file {path} changed during the fork; retry"
                                )));
                            }
                            tree.commit_file(&path, file.clone())?;
                            continue;
                        }
                        let copy = EntryRecord {
                            version: tree.next_version()?,
                            ..carried(entry, &src_ns.id, &fork.id)
                        };
                        if !copy.is_dir() {
                            tree.add_ref(&copy, Held::Live)?;
                            tree.file_added(&copy);
                        }
                        tree.put(&path, &copy)?;
                    }
                    let added = u64::try_from(tree.held.bytes).unwrap_or(0);
                    quota::check(txn, &quotas, &tree.ns, added, 0)?;
                    let ns = tree.ns.clone();
                    tree.finish()?;
                    txn.delete(&meta::PURGES, &ns.id)?;
                    Ok(ns)
                },
            )
            .await;
        drop(rewritten);
        if committed.is_err() && staged_any {
            // Its purge intent deletes the staged files.
            self.reclaim_wakeup.notify_one();
        }
        let ns = committed?;
        tracing::info!(namespace = %ns.id, source = %source_ns.id, files = ns.file_count, "namespace forked");
        Ok(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn placeholders_escapes_and_lookalikes() {
        let v = vars(&[("project_name", "My App"), ("n", "1")]);
        let done = substitute("# ${project_name} v${n} $${n} ${ x } ${a:-b} $5 $", &v);
        assert_eq!(done.text, "# My App v1 ${n} ${ x } ${a:-b} $5 $");
        assert!(done.changed);
        assert!(done.missing.is_empty());
        assert_eq!(done.used, ["n", "project_name"].map(String::from).into());
        let done = substitute("hello ${who} and ${who}", &v);
        assert_eq!(done.missing, ["who"].map(String::from).into());
        let plain = substitute("no placeholders: $HOME ${", &v);
        assert!(!plain.changed);
        assert_eq!(plain.text, "no placeholders: $HOME ${");
        assert_eq!(substitute("é${n}é", &v).text, "é1é");
    }

    #[test]
    fn variable_names_and_sizes() {
        assert!(validate_variables(&vars(&[("a_1", "x"), ("_b", "")])).is_ok());
        for bad in ["", "1a", "a-b", "a b", "é"] {
            assert!(validate_variables(&vars(&[(bad, "x")])).is_err(), "{bad:?}");
        }
        let big = "x".repeat(MAX_VARIABLE_BYTES + 1);
        assert!(validate_variables(&vars(&[("a", &big)])).is_err());
    }
}
