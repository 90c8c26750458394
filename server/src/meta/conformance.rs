//! The behavioural suite every metadata [`Engine`](super::Engine) must pass.
//!
//! The twin of `blobs/conformance.rs`: one function per behaviour, each
//! taking a [`MetaStore`] over the engine and panicking on a violation;
//! [`run_all`] runs them in turn. The server's unit tests run it on redb,
//! the integration tests on PostgreSQL. Keys are made unique per call, so
//! the suite can share a store with other tests.

use std::sync::Arc;

use super::{
    ENTRIES, EntryRecord, GARBAGE, MetaStore, NAMESPACE_NAMES, Span, Step, USAGE, UsageRecord,
    key_of,
};
use crate::error::Error;

pub mod fetch;

fn unique(case: &str) -> String {
    format!("conformance-{case}-{}", crate::ids::new_id())
}

fn entry(size: u64) -> EntryRecord {
    EntryRecord {
        kind: super::KIND_FILE,
        size,
        ..Default::default()
    }
}

/// Runs every behaviour in turn.
pub async fn run_all(store: &MetaStore) {
    round_trip(store).await;
    reads_see_own_writes(store).await;
    every_change_is_read_back(store).await;
    a_failed_jobs_writes_are_unseen_by_its_group(store).await;
    failed_job_changes_nothing(store).await;
    byte_order_of_tuples(store).await;
    long_scans_and_seeks(store).await;
    long_keys_across_batches(store).await;
    scans_see_waiting_changes(store).await;
    keys_of_any_length(store).await;
    pages(store).await;
    delete_span(store).await;
    large_values(store).await;
    concurrent_increments(store).await;
    versions_are_unique_and_rising(store).await;
    versions_rise_past_a_floor(store).await;
    fetch::fetch_reads_named_rows(store).await;
    fetch::jobs_on_fetched_rows_run_again_when_they_stray(store).await;
}

/// What is written is read back; a delete says whether the key was there.
pub async fn round_trip(store: &MetaStore) {
    let ns = unique("round-trip");
    let key = (ns.clone(), "a/b".to_owned());
    let k = key.clone();
    store
        .write(move |w| {
            w.put(&ENTRIES, (&k.0, &k.1), &entry(5))?;
            w.put(&GARBAGE, (&k.0, "o"), &-7)?;
            w.put(&NAMESPACE_NAMES, &k.0, "id-1")
        })
        .await
        .unwrap();
    let k = key.clone();
    let (found, garbage, name, missing) = store
        .read(move |r| {
            Ok((
                r.get(&ENTRIES, (&k.0, &k.1))?,
                r.get(&GARBAGE, (&k.0, "o"))?,
                r.get(&NAMESPACE_NAMES, &k.0)?,
                r.get(&ENTRIES, (&k.0, "a"))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(found.unwrap().size, 5);
    assert_eq!(garbage, Some(-7));
    assert_eq!(name.as_deref(), Some("id-1"));
    assert!(missing.is_none());
    let k = key.clone();
    let deleted = store
        .write(move |w| {
            Ok((
                w.delete(&ENTRIES, (&k.0, &k.1))?,
                w.delete(&ENTRIES, (&k.0, &k.1))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(deleted, (true, false));
    let k = key;
    let gone = store
        .read(move |r| r.get(&ENTRIES, (&k.0, &k.1)))
        .await
        .unwrap();
    assert!(gone.is_none());
}

/// Inside a job, reads and scans see what the job wrote before them.
pub async fn reads_see_own_writes(store: &MetaStore) {
    let ns = unique("own-writes");
    let seen = store
        .write(move |w| {
            w.put(&ENTRIES, (&ns, "x"), &entry(1))?;
            w.put(&ENTRIES, (&ns, "y"), &entry(2))?;
            w.delete(&ENTRIES, (&ns, "x"))?;
            let point = w.get(&ENTRIES, (&ns, "y"))?.map(|e| e.size);
            let scanned = w.keys(&ENTRIES, Span::under(&[&ns], ""))?;
            Ok((point, scanned))
        })
        .await
        .unwrap();
    assert_eq!(seen.0, Some(2));
    assert_eq!(seen.1.len(), 1);
    assert_eq!(seen.1[0].1, "y");
}

/// Every change a job makes, of every kind, is what its next read of the
/// key answers, by point and by scan; a key read before it changed is
/// never answered from the earlier read (an engine may remember rows).
pub async fn every_change_is_read_back(store: &MetaStore) {
    let ns = unique("read-back");
    let n = ns.clone();
    let seen = store
        .write(move |w| {
            let size =
                |w: &super::Writer, p: &str| w.get(&ENTRIES, (&n, p)).map(|e| e.map(|e| e.size));
            let listed = |w: &super::Writer| {
                w.keys(&ENTRIES, Span::under(&[&n], ""))
                    .map(|keys| keys.into_iter().map(|(_, p)| p).collect::<Vec<_>>())
            };
            let mut seen = vec![(size(w, "a")?, listed(w)?)];
            w.put(&ENTRIES, (&n, "a"), &entry(1))?;
            seen.push((size(w, "a")?, listed(w)?));
            w.put(&ENTRIES, (&n, "a"), &entry(2))?;
            seen.push((size(w, "a")?, listed(w)?));
            let removed = w.delete(&ENTRIES, (&n, "a"))?;
            let again = w.delete(&ENTRIES, (&n, "a"))?;
            seen.push((size(w, "a")?, listed(w)?));
            w.put(&ENTRIES, (&n, "a"), &entry(3))?;
            w.put(&ENTRIES, (&n, "b"), &entry(4))?;
            seen.push((size(w, "a")?, listed(w)?));
            w.delete_span(&ENTRIES, Span::under(&[&n], ""))?;
            seen.push((size(w, "b")?, listed(w)?));
            w.put(&ENTRIES, (&n, "b"), &entry(5))?;
            seen.push((size(w, "b")?, listed(w)?));
            Ok((seen, removed, again))
        })
        .await
        .unwrap();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        seen.0,
        vec![
            (None, names(&[])),
            (Some(1), names(&["a"])),
            (Some(2), names(&["a"])),
            (None, names(&[])),
            (Some(3), names(&["a", "b"])),
            (None, names(&[])),
            (Some(5), names(&["b"])),
        ]
    );
    assert!(seen.1, "the first delete found the key");
    assert!(!seen.2, "the second delete did not");
    let after = store
        .read(move |r| {
            Ok((
                r.get(&ENTRIES, (&ns, "a"))?.map(|e| e.size),
                r.get(&ENTRIES, (&ns, "b"))?.map(|e| e.size),
            ))
        })
        .await
        .unwrap();
    assert_eq!(after, (None, Some(5)));
}

/// Jobs committed together never see what a failed job of their group
/// wrote, however their reads and its writes interleave.
pub async fn a_failed_jobs_writes_are_unseen_by_its_group(store: &MetaStore) {
    let ns = unique("unseen");
    let jobs = (0..16u64).map(|i| {
        let (store, ns) = (store.clone(), ns.clone());
        async move {
            store
                .write(move |w| {
                    let before = w.get(&ENTRIES, (&ns, "ghost"))?.map(|e| e.size);
                    if i % 2 == 1 {
                        w.put(&ENTRIES, (&ns, "ghost"), &entry(i))?;
                        return Err(Error::FailedPrecondition("refused".into()));
                    }
                    let listed = w.keys(&ENTRIES, Span::under(&[&ns], ""))?.len();
                    Ok((before, listed))
                })
                .await
        }
    });
    for (i, outcome) in futures::future::join_all(jobs)
        .await
        .into_iter()
        .enumerate()
    {
        match outcome {
            Ok(seen) => assert_eq!(seen, (None, 0), "job {i} saw a failed job's write"),
            Err(Error::FailedPrecondition(_)) => assert_eq!(i % 2, 1),
            Err(e) => panic!("job {i}: {e}"),
        }
    }
}

/// A job that fails after writing leaves nothing of what it wrote, and
/// its error reaches the caller unchanged; jobs beside it still commit.
pub async fn failed_job_changes_nothing(store: &MetaStore) {
    let ns = unique("failed");
    let jobs = (0..8).map(|i| {
        let (store, ns) = (store.clone(), ns.clone());
        async move {
            store
                .write(move |w| {
                    w.put(&ENTRIES, (&ns, &format!("f{i}")), &entry(i))?;
                    if i % 2 == 1 {
                        return Err(Error::FailedPrecondition(format!("refused {i}")));
                    }
                    Ok(i)
                })
                .await
        }
    });
    let outcomes = futures::future::join_all(jobs).await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(v) => assert_eq!(v as usize, i),
            Err(Error::FailedPrecondition(m)) => assert_eq!(m, format!("refused {i}")),
            Err(e) => panic!("job {i}: {e}"),
        }
    }
    let left = store
        .read(move |r| r.keys(&ENTRIES, Span::under(&[&ns], "")))
        .await
        .unwrap();
    let paths: Vec<String> = left.into_iter().map(|(_, p)| p).collect();
    assert_eq!(paths, ["f0", "f2", "f4", "f6"]);
}

/// Scans follow the order of the tuples: components with NUL bytes, with
/// non-ASCII bytes, and prefixes of one another; a span of a partial
/// component holds exactly the keys that extend it.
pub async fn byte_order_of_tuples(store: &MetaStore) {
    let ns = unique("order");
    let mut paths = vec![
        "a",
        "a\0",
        "a\0b",
        "a/",
        "a/b",
        "a0",
        "ab",
        "b",
        "\u{7f}",
        "é",
        "\u{10ffff}",
        "日本",
    ];
    let written: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    let other = format!("{ns}\0");
    let n = ns.clone();
    store
        .write(move |w| {
            for p in &written {
                w.put(&ENTRIES, (&n, p), &entry(1))?;
            }
            // A namespace id extending this one must not leak into its scans.
            w.put(&ENTRIES, (&other, "a"), &entry(1))?;
            w.put(&ENTRIES, (&format!("{n}x"), "a"), &entry(1))
        })
        .await
        .unwrap();
    paths.sort();
    let n = ns.clone();
    let (all, under_a, under_a_slash) = store
        .read(move |r| {
            let names = |span| -> crate::error::Result<Vec<String>> {
                Ok(r.keys(&ENTRIES, span)?
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect())
            };
            Ok((
                names(Span::under(&[&n], ""))?,
                names(Span::under(&[&n], "a"))?,
                names(Span::under(&[&n], "a/"))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(all, paths);
    assert_eq!(under_a, ["a", "a\0", "a\0b", "a/", "a/b", "a0", "ab"]);
    assert_eq!(under_a_slash, ["a/", "a/b"]);
}

/// A scan longer than any batch returns every row once, in order; a seek
/// skips ahead.
pub async fn long_scans_and_seeks(store: &MetaStore) {
    let ns = unique("long");
    let n = ns.clone();
    store
        .write(move |w| {
            for i in 0..5000 {
                w.put(&ENTRIES, (&n, &format!("{i:05}")), &entry(i))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let n = ns.clone();
    let (count, ordered, after_seek) = store
        .scan(move |r| {
            let mut last = None;
            let mut count = 0;
            let mut ordered = true;
            for row in r.rows(&ENTRIES, Span::under(&[&n], "")) {
                let ((_, path), _) = row?;
                ordered &= last.as_ref().is_none_or(|l: &String| *l < path);
                last = Some(path);
                count += 1;
            }
            let mut rows = r.rows(&ENTRIES, Span::under(&[&n], ""));
            rows.next().unwrap()?;
            rows.seek(key_of(&ENTRIES, (&n, "04990")));
            let rest = rows.count();
            Ok((count, ordered, rest))
        })
        .await
        .unwrap();
    assert_eq!(count, 5000);
    assert!(ordered);
    assert_eq!(after_seek, 10);
}

/// Keys far longer than an index entry may hold (incompressible, 6 KB),
/// several sharing their first 4 KB, are stored, found, ordered by their
/// bytes, replaced, deleted one by one and by span.
pub async fn keys_of_any_length(store: &MetaStore) {
    let ns = unique("long-keys");
    // Letters from a small generator: no compression shortens them.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut letters = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect()
    };
    let shared = letters(4000);
    let mut paths: Vec<String> = vec![
        format!("{shared}/{}", letters(2000)),
        format!("{shared}/{}", letters(2000)),
        format!("{shared}"),
        format!("{shared}0"),
        format!("{shared}/a"),
        letters(6000),
        "short".to_owned(),
    ];
    let (n, all) = (ns.clone(), paths.clone());
    store
        .write(move |w| {
            for (i, p) in all.iter().enumerate() {
                w.put(&ENTRIES, (&n, p), &entry(i as u64))?;
            }
            // Replacing a long key keeps one row.
            w.put(&ENTRIES, (&n, &all[0]), &entry(100))
        })
        .await
        .unwrap();
    let (n, all) = (ns.clone(), paths.clone());
    let (sizes, listed, under) = store
        .read(move |r| {
            let sizes = all
                .iter()
                .map(|p| r.get(&ENTRIES, (&n, p)).map(|e| e.map(|e| e.size)))
                .collect::<crate::error::Result<Vec<_>>>()?;
            let listed = r.keys(&ENTRIES, Span::under(&[&n], ""))?;
            let under = r.keys(&ENTRIES, Span::under(&[&n], &format!("{}/", &all[2])))?;
            Ok((sizes, listed, under))
        })
        .await
        .unwrap();
    assert_eq!(
        sizes,
        vec![
            Some(100),
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6)
        ]
    );
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let listed: Vec<String> = listed.into_iter().map(|(_, p)| p).collect();
    assert_eq!(listed, sorted, "long keys in byte order");
    assert_eq!(under.len(), 3, "the span under a long directory");
    let (n, all) = (ns.clone(), paths.clone());
    let (removed, spanned) = store
        .write(move |w| {
            let removed = w.delete(&ENTRIES, (&n, &all[1]))?;
            let spanned = w.delete_span(&ENTRIES, Span::under(&[&n], &format!("{}/", &all[2])))?;
            Ok((removed, spanned))
        })
        .await
        .unwrap();
    assert!(removed);
    assert_eq!(spanned, 2);
    let n = ns.clone();
    let left: Vec<String> = store
        .read(move |r| r.keys(&ENTRIES, Span::under(&[&n], "")))
        .await
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    paths.drain(0..2);
    paths.remove(2);
    paths.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(left, paths);
}

/// Many keys longer than an index entry sharing their first 4 KB, stored
/// in an order unlike theirs, come back in byte order across batches (an
/// engine that orders by a key's head must not cut a group of equal heads
/// at a batch's end).
pub async fn long_keys_across_batches(store: &MetaStore) {
    let ns = unique("long-batches");
    let shared = "s".repeat(4000);
    let mut paths: Vec<String> = (0..100u32)
        .map(|i| format!("{shared}/{:08}", i.wrapping_mul(2_654_435_761) % 1000))
        .collect();
    paths.extend((0..40u32).map(|i| format!("r{i:03}")));
    let (n, all) = (ns.clone(), paths.clone());
    store
        .write(move |w| {
            for (i, p) in all.iter().enumerate() {
                w.put(&ENTRIES, (&n, p), &entry(i as u64))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let n = ns.clone();
    let (listed, paged) = store
        .read(move |r| {
            let listed = r.keys(&ENTRIES, Span::under(&[&n], ""))?;
            // Pages of 7 resumed after each page's last key.
            let mut paged = Vec::new();
            let mut span = Span::under(&[&n], "");
            loop {
                let page = r.page(&ENTRIES, span.clone(), 7, |(_, p), _| {
                    Ok(Step::Take(p.clone()))
                })?;
                let Some((key, _)) = page.items.last() else {
                    break;
                };
                span = span.after(crate::meta::key_of(&ENTRIES, (&n, &key.1)));
                paged.extend(page.items.into_iter().map(|(_, p)| p));
                if !page.more {
                    break;
                }
            }
            Ok((listed, paged))
        })
        .await
        .unwrap();
    paths.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    paths.dedup();
    let listed: Vec<String> = listed.into_iter().map(|(_, p)| p).collect();
    assert_eq!(listed, paths, "listed in byte order");
    assert_eq!(paged, paths, "paged in byte order");
}

/// A job's scans see its own changes not yet sent and those of the jobs
/// before it in its group: puts appear, deletes hide rows (more of them
/// than a batch), a put replaced and a row deleted then put again hold
/// their last value.
pub async fn scans_see_waiting_changes(store: &MetaStore) {
    let ns = unique("waiting");
    let n = ns.clone();
    store
        .write(move |w| {
            for i in 0..80u64 {
                w.put(&ENTRIES, (&n, &format!("k{i:02}")), &entry(i))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let n = ns.clone();
    let seen = store
        .write(move |w| {
            for i in 0..45u64 {
                // Read first: the engine then knows the row is there.
                w.get(&ENTRIES, (&n, &format!("k{i:02}")))?;
                w.delete(&ENTRIES, (&n, &format!("k{i:02}")))?;
            }
            w.put(&ENTRIES, (&n, "k10"), &entry(1000))?;
            w.put(&ENTRIES, (&n, "k50a"), &entry(1))?;
            w.put(&ENTRIES, (&n, "k50a"), &entry(2))?;
            w.put(&ENTRIES, (&n, "z"), &entry(3))?;
            let rows: Vec<(String, u64)> = w
                .rows(&ENTRIES, Span::under(&[&n], ""))
                .map(|row| row.map(|((_, p), e)| (p, e.size)))
                .collect::<crate::error::Result<_>>()?;
            Ok(rows)
        })
        .await
        .unwrap();
    let mut expected: Vec<(String, u64)> = vec![("k10".into(), 1000)];
    expected.extend((45..80u64).map(|i| (format!("k{i:02}"), i)));
    expected.push(("k50a".into(), 2));
    expected.push(("z".into(), 3));
    expected.sort();
    assert_eq!(seen, expected);
    let n = ns.clone();
    let stored = store
        .read(move |r| r.keys(&ENTRIES, Span::under(&[&n], "")))
        .await
        .unwrap()
        .len();
    assert_eq!(stored, expected.len(), "what the job saw is what it stored");
}

/// The pager takes up to the limit, says whether more follow, resumes after
/// a key, skips and seeks as told.
pub async fn pages(store: &MetaStore) {
    let ns = unique("pages");
    let n = ns.clone();
    store
        .write(move |w| {
            for i in 0..25 {
                w.put(&ENTRIES, (&n, &format!("{i:02}")), &entry(i))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let n = ns.clone();
    let (first, second, odd, stopped) = store
        .read(move |r| {
            let span = || Span::under(&[&n], "");
            let take = |_: &(String, String), e: EntryRecord| Ok(Step::Take(e.size));
            let first = r.page(&ENTRIES, span(), 10, take)?;
            let after = key_of(&ENTRIES, (&n, &first.items.last().unwrap().0.1));
            let second = r.page(&ENTRIES, span().after(after), 20, take)?;
            let odd = r.page(&ENTRIES, span(), 5, |_, e| {
                Ok(if e.size % 2 == 1 {
                    Step::Take(e.size)
                } else {
                    Step::Skip
                })
            })?;
            let stopped = r.page(&ENTRIES, span(), 100, |_, e| {
                Ok(if e.size < 3 {
                    Step::Take(e.size)
                } else {
                    Step::Stop
                })
            })?;
            Ok((first, second, odd, stopped))
        })
        .await
        .unwrap();
    let sizes = |p: &super::Paged<(String, String), u64>| -> Vec<u64> {
        p.items.iter().map(|(_, s)| *s).collect()
    };
    assert_eq!(sizes(&first), (0..10).collect::<Vec<_>>());
    assert!(first.more);
    assert_eq!(sizes(&second), (10..25).collect::<Vec<_>>());
    assert!(!second.more);
    assert_eq!(sizes(&odd), [1, 3, 5, 7, 9]);
    assert!(odd.more);
    assert_eq!(sizes(&stopped), [0, 1, 2]);
    assert!(!stopped.more);
}

/// Deleting a span removes exactly its rows and counts them.
pub async fn delete_span(store: &MetaStore) {
    let ns = unique("delete-span");
    let n = ns.clone();
    let removed = store
        .write(move |w| {
            for p in ["d", "d/1", "d/2", "d/x/3", "e", "d0"] {
                w.put(&ENTRIES, (&n, p), &entry(1))?;
            }
            w.delete_span(&ENTRIES, Span::under(&[&n], "d/"))
        })
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let n = ns.clone();
    let left = store
        .read(move |r| r.keys(&ENTRIES, Span::under(&[&n], "")))
        .await
        .unwrap();
    let paths: Vec<String> = left.into_iter().map(|(_, p)| p).collect();
    assert_eq!(paths, ["d", "d0", "e"]);
}

/// Values of a megabyte with every byte value survive.
pub async fn large_values(store: &MetaStore) {
    let key = unique("large");
    let record = EntryRecord {
        sha256: String::new(),
        metadata: (0..64)
            .map(|i| (format!("k{i}"), "\u{0}\u{ff}é".repeat(4000)))
            .collect(),
        ..entry(9)
    };
    let (k, r) = (key.clone(), record.clone());
    store
        .write(move |w| w.put(&ENTRIES, (&k, "big"), &r))
        .await
        .unwrap();
    let k = key;
    let back = store
        .read(move |r| r.get(&ENTRIES, (&k, "big")))
        .await
        .unwrap();
    assert_eq!(back, Some(record));
}

/// Concurrent read-modify-write jobs on one row lose no update (an engine
/// that retries on conflict re-runs the job; one that groups serializes it).
pub async fn concurrent_increments(store: &MetaStore) {
    let key = Arc::new(unique("increments"));
    let jobs = (0..64).map(|_| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            store
                .write(move |w| {
                    let mut usage = w.get(&USAGE, &key)?.unwrap_or_default();
                    usage.bytes += 1;
                    w.put(&USAGE, &key, &usage)
                })
                .await
        }
    });
    for outcome in futures::future::join_all(jobs).await {
        outcome.unwrap();
    }
    let k = key.clone();
    let usage: Option<UsageRecord> = store.read(move |r| r.get(&USAGE, &k)).await.unwrap();
    assert_eq!(usage.unwrap().bytes, 64);
}

/// Versions from concurrent jobs are unique, and later jobs get larger ones.
pub async fn versions_are_unique_and_rising(store: &MetaStore) {
    let jobs = (0..32).map(|_| {
        let store = store.clone();
        async move {
            store
                .write(|w| Ok((w.next_version()?, w.next_version()?)))
                .await
        }
    });
    let mut all = Vec::new();
    for outcome in futures::future::join_all(jobs).await {
        let (a, b) = outcome.unwrap();
        assert!(b > a);
        all.extend([a, b]);
    }
    let before = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), before);
    let later = store.write(|w| w.next_version()).await.unwrap();
    assert!(later > *all.last().unwrap());
}

/// A raised floor holds for every later version; a lower one changes
/// nothing (metadata copied from another engine keeps its versions).
pub async fn versions_rise_past_a_floor(store: &MetaStore) {
    let now = store.write(|w| w.next_version()).await.unwrap();
    let floor = now + 1_000_000;
    store.write(move |w| w.raise_version(floor)).await.unwrap();
    let after = store.write(|w| w.next_version()).await.unwrap();
    assert!(after > floor, "{after} <= {floor}");
    store.write(|w| w.raise_version(5)).await.unwrap();
    let again = store.write(|w| w.next_version()).await.unwrap();
    assert!(again > after);
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redb_passes() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::MetaStore::open_redb(&dir.path().join("meta.redb")).unwrap();
        super::run_all(&store).await;
        store.close();
    }
}
