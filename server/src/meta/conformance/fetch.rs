//! The behaviours of reads on fetched rows (`MetaStore::read_named`):
//! what [`Engine::fetch`](crate::meta::Engine::fetch) answers, and how a
//! job on its rows runs again when it reads past them. Part of the suite
//! every engine passes (see the parent module).

use std::sync::Arc;

use super::{entry, unique};
use crate::meta::{ENTRIES, EntryRecord, MetaStore, NAMESPACE_NAMES, Span};

/// [`Engine::fetch`](crate::meta::Engine::fetch) answers each named row in
/// order, absent ones and repeats included, whatever the table or the
/// key's length.
pub async fn fetch_reads_named_rows(store: &MetaStore) {
    let ns = unique("fetch");
    let long = "x".repeat(5000);
    let (k, l) = (ns.clone(), long.clone());
    store
        .write(move |w| {
            w.put(&ENTRIES, (&k, "a"), &entry(1))?;
            w.put(&ENTRIES, (&k, &l), &entry(2))?;
            w.put(&NAMESPACE_NAMES, &k, "id-f")
        })
        .await
        .unwrap();
    let named = crate::meta::Wanted::default()
        .row(&ENTRIES, (&ns, "a"))
        .row(&NAMESPACE_NAMES, &ns)
        .row(&ENTRIES, (&ns, "missing"))
        .row(&ENTRIES, (&ns, &long))
        .row(&ENTRIES, (&ns, "a"))
        .rows;
    let values = store.engine().fetch(&named).await.unwrap();
    let sizes: Vec<Option<u64>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| match (i, v) {
            (1, v) => v.as_ref().map(|name| name.len() as u64),
            (_, v) => v.as_deref().map(|bytes| {
                <crate::meta::Proto<EntryRecord> as crate::meta::ValueCodec>::decode(bytes)
                    .unwrap()
                    .size
            }),
        })
        .collect();
    assert_eq!(sizes, [Some(1), Some(4), None, Some(2), Some(1)]);
    assert_eq!(values[1].as_deref(), Some(&b"id-f"[..]));
    assert!(store.engine().fetch(&[]).await.unwrap().is_empty());
}

/// A job on fetched rows answers from them and runs once; one that reads
/// a row it did not name (or a row that a named one leads to) runs again
/// with it fetched too, and one that scans runs again on a snapshot: each
/// answers as a read job would.
pub async fn jobs_on_fetched_rows_run_again_when_they_stray(store: &MetaStore) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Each run again is counted, by what ran next.
    let retries = || {
        let metrics = crate::metrics::metrics();
        (
            metrics.named_read_retries("fetch"),
            metrics.named_read_retries("read_job"),
        )
    };
    let counted_before = retries();
    let ns = unique("fetched-jobs");
    let k = ns.clone();
    store
        .write(move |w| {
            w.put(&ENTRIES, (&k, "a"), &entry(1))?;
            w.put(&ENTRIES, (&k, "b"), &entry(2))
        })
        .await
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (k, counted) = (ns.clone(), runs.clone());
    let named = store
        .read_fetched(
            || crate::meta::Wanted::default().row(&ENTRIES, (&ns, "a")),
            move |r| {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(r.get(&ENTRIES, (&k, "a"))?.map(|e| e.size))
            },
        )
        .await
        .unwrap();
    assert_eq!((named, runs.load(Ordering::SeqCst)), (Some(1), 1));
    assert_eq!(retries(), counted_before);

    let runs = Arc::new(AtomicUsize::new(0));
    let (k, counted) = (ns.clone(), runs.clone());
    let strayed = store
        .read_fetched(
            || crate::meta::Wanted::default().row(&ENTRIES, (&ns, "a")),
            move |r| {
                counted.fetch_add(1, Ordering::SeqCst);
                // A job that swallows the refusal still runs again.
                let b = r.get(&ENTRIES, (&k, "b")).ok().flatten();
                Ok((
                    r.get(&ENTRIES, (&k, "a"))?.map(|e| e.size),
                    b.map(|e| e.size),
                ))
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (strayed, runs.load(Ordering::SeqCst)),
        ((Some(1), Some(2)), 2)
    );
    assert_eq!(retries(), (counted_before.0 + 1, counted_before.1));

    // A row that names the key of the next.
    let k = ns.clone();
    store
        .write(move |w| w.put(&NAMESPACE_NAMES, &k, "b"))
        .await
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (k, counted) = (ns.clone(), runs.clone());
    let led = store
        .read_fetched(
            || crate::meta::Wanted::default().row(&NAMESPACE_NAMES, &ns),
            move |r| {
                counted.fetch_add(1, Ordering::SeqCst);
                let Some(next) = r.get(&NAMESPACE_NAMES, &k)? else {
                    return Ok(None);
                };
                Ok(r.get(&ENTRIES, (&k, &next))?.map(|e| e.size))
            },
        )
        .await
        .unwrap();
    assert_eq!((led, runs.load(Ordering::SeqCst)), (Some(2), 2));
    assert_eq!(retries(), (counted_before.0 + 2, counted_before.1));

    let runs = Arc::new(AtomicUsize::new(0));
    let (k, counted) = (ns.clone(), runs.clone());
    let scanned = store
        .read_fetched(crate::meta::Wanted::default, move |r| {
            counted.fetch_add(1, Ordering::SeqCst);
            let rows: Vec<_> = r
                .rows(&ENTRIES, Span::under(&[&k], ""))
                .collect::<crate::error::Result<_>>()?;
            Ok(rows.len())
        })
        .await
        .unwrap();
    assert_eq!((scanned, runs.load(Ordering::SeqCst)), (2, 2));
    assert_eq!(retries(), (counted_before.0 + 2, counted_before.1 + 1));
}
