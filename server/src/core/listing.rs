//! Reads of a namespace's tree from a snapshot: one entry ([`stat`]), a
//! directory's children or subtree in pages ([`list`]), and files matching
//! a glob, a MIME prefix and metadata ([`find`]). Both page in path order
//! and resume after the last path of the page before.

use std::collections::BTreeMap;

use super::tree::root_entry;
use crate::error::{Result, invalid, not_found, precondition};
use crate::meta::{self, ENTRIES, EntryRecord, NamespaceRecord, Reader, Span, Step};
use crate::paths;

/// The entry at `path` in a read snapshot ("" is the root).
pub fn stat(r: &Reader<'_>, ns: &NamespaceRecord, path: &str) -> Result<EntryRecord> {
    if path.is_empty() {
        return Ok(root_entry(ns));
    }
    r.get(&ENTRIES, (&ns.id, path))?
        .ok_or_else(|| not_found(format!("{path} not found")))
}

/// A page of entries from a read snapshot.
pub struct Page {
    /// The entries, with their paths.
    pub entries: Vec<(String, EntryRecord)>,
    /// The last path, if more follow.
    pub next_after: Option<String>,
}

/// Lists `dir` (direct children, or the whole subtree), in path order,
/// starting after `after`. Direct listing skips each child directory's
/// subtree with one seek, so its cost follows the children, not the tree.
pub fn list(
    r: &Reader<'_>,
    ns: &NamespaceRecord,
    dir: &str,
    recursive: bool,
    limit: usize,
    after: Option<&str>,
) -> Result<Page> {
    let dir_entry = stat(r, ns, dir)?;
    if !dir_entry.is_dir() {
        return Err(precondition(format!("{dir} is a file, not a directory")));
    }
    let prefix = paths::subtree_prefix(dir);
    let page = r.page(
        &ENTRIES,
        entries_after(ns, &prefix, after),
        limit,
        |(_, path), entry| {
            let rest = &path[prefix.len()..];
            Ok(match rest.find('/') {
                // Inside a child directory: jump past its subtree ('0' follows '/').
                Some(slash) if !recursive => Step::SeekTo(meta::key_of(
                    &ENTRIES,
                    (&ns.id, &format!("{prefix}{}0", &rest[..slash])),
                )),
                _ => Step::Take(entry),
            })
        },
    )?;
    Ok(Page::from(page))
}

/// The entries of `ns` under `prefix`, after the path `after` if given.
fn entries_after(ns: &NamespaceRecord, prefix: &str, after: Option<&str>) -> Span {
    let span = Span::under(&[&ns.id], prefix);
    match after {
        Some(a) => span.after(meta::key_of(&ENTRIES, (&ns.id, a))),
        None => span,
    }
}

impl From<meta::Paged<(String, String), EntryRecord>> for Page {
    fn from(page: meta::Paged<(String, String), EntryRecord>) -> Page {
        let entries: Vec<(String, EntryRecord)> = page
            .items
            .into_iter()
            .map(|((_, path), entry)| (path, entry))
            .collect();
        let next_after = if page.more {
            entries.last().map(|(p, _)| p.clone())
        } else {
            None
        };
        Page {
            entries,
            next_after,
        }
    }
}

/// What Find looks for.
pub struct FindQuery {
    /// Directory to search under.
    pub dir: String,
    /// Compiled glob over the path relative to `dir`; `None` matches all.
    pub glob: Option<globset::GlobMatcher>,
    /// MIME prefix.
    pub mime_prefix: String,
    /// Required metadata pairs.
    pub metadata: BTreeMap<String, String>,
}

/// Compiles a Find glob: `*` and `?` stay within a segment, `**` crosses.
pub fn compile_glob(pattern: &str) -> Result<Option<globset::GlobMatcher>> {
    if pattern.is_empty() {
        return Ok(None);
    }
    let glob = globset::GlobBuilder::new(pattern.trim_start_matches('/'))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| invalid(format!("bad glob pattern: {e}")))?;
    Ok(Some(glob.compile_matcher()))
}

/// Finds files under `query.dir` matching the query, in path order.
pub fn find(
    r: &Reader<'_>,
    ns: &NamespaceRecord,
    query: &FindQuery,
    limit: usize,
    after: Option<&str>,
) -> Result<Page> {
    let dir_entry = stat(r, ns, &query.dir)?;
    if !dir_entry.is_dir() {
        return Err(precondition(format!(
            "{} is a file, not a directory",
            query.dir
        )));
    }
    let prefix = paths::subtree_prefix(&query.dir);
    let page = r.page(
        &ENTRIES,
        entries_after(ns, &prefix, after),
        limit,
        |(_, path), entry| {
            let matches = !entry.is_dir()
                && entry.mime_type.starts_with(&query.mime_prefix)
                && query
                    .metadata
                    .iter()
                    .all(|(k, v)| entry.metadata.get(k) == Some(v))
                && query
                    .glob
                    .as_ref()
                    .is_none_or(|glob| glob.is_match(&path[prefix.len()..]));
            Ok(if matches {
                Step::Take(entry)
            } else {
                Step::Skip
            })
        },
    )?;
    Ok(Page::from(page))
}
