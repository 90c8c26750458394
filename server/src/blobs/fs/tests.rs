//! The filesystem backend's own tests (the shared suite is in
//! `blobs::conformance`): reads whether or not the page cache holds the
//! object.

use futures::StreamExt;
use rustix::fs::{Advice, fadvise};

use super::read::{READ_CHUNK, read_cached};
use super::*;

/// Leaves the page cache holding only the first `cached` bytes of the
/// file at `path` (its pages are clean: the object was fsynced when
/// completed).
fn cache_only(path: &Path, cached: usize) {
    let file = File::open(path).unwrap();
    fadvise(&file, 0, None, Advice::DontNeed).unwrap();
    if cached > 0 {
        // Without read ahead, so the cache gets these bytes only.
        fadvise(&file, 0, None, Advice::Random).unwrap();
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut vec![0u8; cached], 0).unwrap();
    }
}

/// An object reads back as written whether the page cache holds all of
/// it (copied on the asking thread), none of it (read on a blocking
/// thread), or part of its first chunk (the blocking read goes on from
/// where the cached part ended).
#[tokio::test]
async fn chunks_read_back_whether_or_not_the_page_cache_holds_them() {
    // On the repository's disk: a tmpfs would keep every page.
    let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let data: Vec<u8> = (0..READ_CHUNK * 3 + 1000)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    // How much of the first chunk the cache holds, if it was emptied.
    for (n, cached) in [None, Some(0), Some(READ_CHUNK / 2)]
        .into_iter()
        .enumerate()
    {
        // Two copies: the probe shows what the cache holds (its read
        // starts the disk's read ahead, so it is not the copy read).
        let (probe, object) = (format!("ns/probe-{n}"), format!("ns/object-{n}"));
        for key in [&probe, &object] {
            store.put(key, Bytes::from(data.clone())).await.unwrap();
        }
        if let Some(cached) = cached {
            for key in [&probe, &object] {
                cache_only(&store.path_of(key).unwrap(), cached);
            }
            let file = File::open(store.path_of(&probe).unwrap()).unwrap();
            let found = read_cached(&file, 0, &mut vec![0u8; READ_CHUNK]);
            assert_eq!(found, cached, "bytes of the first chunk the cache held");
        }
        // Each chunk dropped before the next is read (its buffer is used
        // again), then every chunk held to the end (none is).
        let mut got = Vec::new();
        let mut chunks = store.read(&object, 0..u64::MAX).await.unwrap();
        while let Some(chunk) = chunks.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got.len(), data.len(), "with {cached:?} bytes cached");
        assert!(got == data, "content differs with {cached:?} bytes cached");
        let held: Vec<Bytes> = store
            .read(&object, 0..u64::MAX)
            .await
            .unwrap()
            .map(|chunk| chunk.unwrap())
            .collect()
            .await;
        assert!(held.concat() == data, "held chunks differ");
    }
}
