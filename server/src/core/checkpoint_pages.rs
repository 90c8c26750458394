//! Where a checkpoint's copies of its entries are stored, and the one way
//! to read them back.
//!
//! A checkpoint made now stores its entries in pages of up to
//! [`PAGE_ENTRIES`], in path order, each keyed by its last path
//! (`CHECKPOINT_PAGES`): making a checkpoint of 10,000 entries writes 40
//! rows, not 10,000 (on PostgreSQL each row is an index entry and WAL of its
//! own). Checkpoints made before pages hold one row per entry
//! (`CHECKPOINT_ENTRIES`); they are still read, restored and deleted, and
//! never rewritten. So are checkpoints made while a replica of an older
//! binary, which reads no pages, is live: rows are written then, so that
//! replica never takes a checkpoint for empty. Every reader goes through
//! here and sees one sequence of `(path, entry)` in path order either way.

use crate::error::{Error, Result};
use crate::meta::{self, CheckpointPage, EntryRecord, PagedEntry, Reader, Span, Writer};

/// Entries per page: a page of typical entries stays in the tens of KiB.
pub const PAGE_ENTRIES: usize = 256;

/// The entries of a page, checked whole.
fn unpack(page: CheckpointPage) -> Result<impl Iterator<Item = (String, EntryRecord)>> {
    page.entries
        .into_iter()
        .map(|PagedEntry { path, entry }| {
            entry.map(|entry| (path, entry)).ok_or_else(|| {
                Error::Metadata("a checkpoint page holds a path without its entry".into())
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Vec::into_iter)
}

/// Stores `entries` (in path order) as checkpoint `ckpt` of namespace `ns`:
/// in pages, or one row each while a live replica reads no pages (one of
/// an older binary, during a rolling update).
pub fn write(
    w: &Writer<'_>,
    ns: &str,
    ckpt: &str,
    entries: &[(String, EntryRecord)],
) -> Result<()> {
    if super::replicas::readable_layout(w)? < meta::layout::CHECKPOINT_PAGES {
        for (path, entry) in entries {
            w.put(&meta::CHECKPOINT_ENTRIES, (ns, ckpt, path), entry)?;
        }
        return Ok(());
    }
    for run in entries.chunks(PAGE_ENTRIES) {
        let Some((last, _)) = run.last() else {
            continue;
        };
        let page = CheckpointPage {
            entries: run
                .iter()
                .map(|(path, entry)| PagedEntry {
                    path: path.clone(),
                    entry: Some(entry.clone()),
                })
                .collect(),
        };
        w.put(&meta::CHECKPOINT_PAGES, (ns, ckpt, last), &page)?;
    }
    Ok(())
}

/// Every entry of checkpoint `ckpt` of `ns`, in path order.
pub fn all(r: &Reader<'_>, ns: &str, ckpt: &str) -> Result<Vec<(String, EntryRecord)>> {
    let mut out = Vec::new();
    for row in r.rows(&meta::CHECKPOINT_PAGES, Span::under(&[ns, ckpt], "")) {
        out.extend(unpack(row?.1)?);
    }
    for row in r.rows(&meta::CHECKPOINT_ENTRIES, Span::under(&[ns, ckpt], "")) {
        let ((_, _, path), entry) = row?;
        out.push((path, entry));
    }
    Ok(out)
}

/// Up to `limit` entries of checkpoint `ckpt` of `ns` whose paths come
/// after `after` (from the first with none), in path order, and whether
/// more follow.
pub fn after(
    r: &Reader<'_>,
    ns: &str,
    ckpt: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<(String, EntryRecord)>, bool)> {
    let from = |table_key: Vec<u8>| {
        let span = Span::under(&[ns, ckpt], "");
        match after {
            Some(_) => span.after(table_key),
            None => span,
        }
    };
    let mut out = Vec::new();
    // Pages are keyed by their last path: the first page after `after`'s
    // key is the one holding the next path.
    let span = from(meta::key_of(
        &meta::CHECKPOINT_PAGES,
        (ns, ckpt, after.unwrap_or("")),
    ));
    for row in r.rows(&meta::CHECKPOINT_PAGES, span) {
        for (path, entry) in unpack(row?.1)? {
            if after.is_some_and(|a| path.as_str() <= a) {
                continue;
            }
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push((path, entry));
        }
    }
    let span = from(meta::key_of(
        &meta::CHECKPOINT_ENTRIES,
        (ns, ckpt, after.unwrap_or("")),
    ));
    let page = r.page(
        &meta::CHECKPOINT_ENTRIES,
        span,
        limit - out.len(),
        |_, e| Ok(meta::Step::Take(e)),
    )?;
    out.extend(page.items.into_iter().map(|((_, _, path), e)| (path, e)));
    Ok((out, page.more))
}

/// Calls `visit` with (namespace id, checkpoint id, path, entry) for every
/// entry of every checkpoint of namespace `ns`, or of every namespace with
/// `None`.
pub fn for_each(
    r: &Reader<'_>,
    ns: Option<&str>,
    mut visit: impl FnMut(&str, &str, &str, EntryRecord) -> Result<()>,
) -> Result<()> {
    let span = || match ns {
        Some(ns) => Span::under(&[ns], ""),
        None => Span::all(),
    };
    for row in r.rows(&meta::CHECKPOINT_PAGES, span()) {
        let ((ns, ckpt, _), page) = row?;
        for (path, entry) in unpack(page)? {
            visit(&ns, &ckpt, &path, entry)?;
        }
    }
    for row in r.rows(&meta::CHECKPOINT_ENTRIES, span()) {
        let ((ns, ckpt, path), entry) = row?;
        visit(&ns, &ckpt, &path, entry)?;
    }
    Ok(())
}

/// Deletes the stored entries of checkpoint `ckpt` of `ns`.
pub fn delete(w: &Writer<'_>, ns: &str, ckpt: &str) -> Result<()> {
    w.delete_span(&meta::CHECKPOINT_PAGES, Span::under(&[ns, ckpt], ""))?;
    w.delete_span(&meta::CHECKPOINT_ENTRIES, Span::under(&[ns, ckpt], ""))?;
    Ok(())
}

/// Deletes the stored entries of every checkpoint of `ns`.
pub fn delete_namespace(w: &Writer<'_>, ns: &str) -> Result<()> {
    w.delete_span(&meta::CHECKPOINT_PAGES, Span::under(&[ns], ""))?;
    w.delete_span(&meta::CHECKPOINT_ENTRIES, Span::under(&[ns], ""))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::MetaStore;

    fn entry(version: u64) -> EntryRecord {
        EntryRecord {
            version,
            size: version,
            ..Default::default()
        }
    }

    /// Paths whose order is not the order they were made in.
    fn entries(n: usize) -> Vec<(String, EntryRecord)> {
        let mut out: Vec<_> = (0..n)
            .map(|i| (format!("d{}/f{i}", i % 7), entry(i as u64 + 1)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every way of reading: whole, entry by entry through `after` with
    /// pages of `limit`, and through `for_each`.
    async fn read_back(store: &MetaStore, ckpt: &str, limit: usize) -> Vec<(String, EntryRecord)> {
        let ckpt = ckpt.to_owned();
        store
            .scan(move |r| {
                let whole = all(r, "ns", &ckpt)?;
                let mut paged = Vec::new();
                let mut from: Option<String> = None;
                loop {
                    let (items, more) = after(r, "ns", &ckpt, from.as_deref(), limit)?;
                    assert!(items.len() <= limit);
                    from = items.last().map(|(p, _)| p.clone());
                    paged.extend(items);
                    if !more {
                        break;
                    }
                }
                assert_eq!(paged, whole, "paged through {limit} at a time");
                let mut visited = Vec::new();
                for_each(r, Some("ns"), |ns, id, path, e| {
                    assert_eq!(ns, "ns");
                    if id == ckpt {
                        visited.push((path.to_owned(), e));
                    }
                    Ok(())
                })?;
                assert_eq!(visited, whole);
                Ok(whole)
            })
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_layouts_read_back_in_path_order_and_delete_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open_redb(&dir.path().join("meta.redb")).unwrap();
        let made = entries(3 * PAGE_ENTRIES + 17);
        let (paged, rows) = (made.clone(), made.clone());
        store
            .write(move |w| {
                write(w, "ns", "new", &paged)?;
                // A checkpoint made before pages: one row per entry.
                for (path, e) in &rows {
                    w.put(&meta::CHECKPOINT_ENTRIES, ("ns", "old", path), e)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        for limit in [1, 100, PAGE_ENTRIES, made.len(), made.len() + 5] {
            assert_eq!(read_back(&store, "new", limit).await, made);
            assert_eq!(read_back(&store, "old", limit).await, made);
        }
        store.write(|w| delete(w, "ns", "new")).await.unwrap();
        assert!(read_back(&store, "new", 10).await.is_empty());
        assert_eq!(
            read_back(&store, "old", 10).await,
            made,
            "only its own entries go"
        );
        store.write(|w| delete_namespace(w, "ns")).await.unwrap();
        assert!(read_back(&store, "old", 10).await.is_empty());
        store.close();
    }
}
