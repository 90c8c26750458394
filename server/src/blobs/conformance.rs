//! The behavioural suite every [`BlobStore`] must pass.
//!
//! One function per behaviour, each taking `&dyn BlobStore` and panicking on
//! a violation; [`run_all`] runs them in turn. The server's unit tests run it
//! on the memory and filesystem backends, and every backend added later
//! (S3 included) runs the same suite. Keys are made unique per call so the
//! suite can share a store with other tests.

use bytes::Bytes;

use super::{BlobStore, read_all};
use crate::error::Error;

fn key(case: &str) -> String {
    format!(
        "grid/conformance/shared/{}/objects/{case}",
        crate::ids::new_id()
    )
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Runs every behaviour in turn.
pub async fn run_all(store: &dyn BlobStore) {
    round_trip(store).await;
    put_whole_object(store).await;
    empty_object(store).await;
    nothing_visible_before_complete(store).await;
    abort_leaves_nothing(store).await;
    drop_leaves_nothing(store).await;
    ranged_reads(store).await;
    suspend_and_resume(store).await;
    resume_truncates_to_persisted(store).await;
    discard_removes_staged(store).await;
    missing_objects(store).await;
    promote_moves_an_object(store).await;
    remembered_digests_stay_with_their_object(store).await;
    list_and_delete_prefix(store).await;
    large_object_in_many_chunks(store).await;
    persist_reports_rise_to_settle(store).await;
}

/// Written bytes read back identically; size reports the length.
pub async fn round_trip(store: &dyn BlobStore) {
    let key = key("round-trip");
    let data = pattern(3 * 1024 * 1024 + 17, 1);
    let mut w = store.begin(&key).await.unwrap();
    for chunk in data.chunks(1 << 20) {
        w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    // A backend may persist less than was written (S3 keeps the tail for
    // the next part), never more.
    assert!(w.persist().await.unwrap() <= data.len() as u64);
    w.complete().await.unwrap();
    assert_eq!(read_all(store, &key, 0..u64::MAX).await.unwrap(), data);
    assert_eq!(store.size(&key).await.unwrap(), Some(data.len() as u64));
}

/// `put` stores a whole object in one step, atomically, leaving no staging.
pub async fn put_whole_object(store: &dyn BlobStore) {
    let key = key("put");
    let prefix = key.rsplit_once('/').unwrap().0.to_owned() + "/";
    store
        .put(&key, Bytes::from_static(b"small object"))
        .await
        .unwrap();
    assert_eq!(
        read_all(store, &key, 0..u64::MAX).await.unwrap(),
        b"small object"
    );
    assert_eq!(store.list(&prefix).await.unwrap(), vec![key.clone()]);
}

/// A zero-byte object exists and reads as empty.
pub async fn empty_object(store: &dyn BlobStore) {
    let key = key("empty");
    store.begin(&key).await.unwrap().complete().await.unwrap();
    assert_eq!(store.size(&key).await.unwrap(), Some(0));
    assert!(read_all(store, &key, 0..u64::MAX).await.unwrap().is_empty());
}

/// A staged write is invisible until complete.
pub async fn nothing_visible_before_complete(store: &dyn BlobStore) {
    let key = key("staged");
    let mut w = store.begin(&key).await.unwrap();
    w.write(Bytes::from_static(b"not yet")).await.unwrap();
    w.persist().await.unwrap();
    assert_eq!(store.size(&key).await.unwrap(), None);
    assert!(matches!(
        store.read(&key, 0..10).await.err(),
        Some(Error::NotFound(_))
    ));
    w.complete().await.unwrap();
    assert_eq!(store.size(&key).await.unwrap(), Some(7));
}

/// Abort leaves neither object nor staged state.
pub async fn abort_leaves_nothing(store: &dyn BlobStore) {
    let key = key("abort");
    let prefix = key.rsplit_once('/').unwrap().0.to_owned() + "/";
    let mut w = store.begin(&key).await.unwrap();
    w.write(Bytes::from_static(b"doomed")).await.unwrap();
    w.persist().await.unwrap();
    w.abort().await.unwrap();
    assert_eq!(store.size(&key).await.unwrap(), None);
    assert!(store.list(&prefix).await.unwrap().is_empty());
}

/// Dropping an unfinished writer is an abort.
pub async fn drop_leaves_nothing(store: &dyn BlobStore) {
    let key = key("drop");
    let prefix = key.rsplit_once('/').unwrap().0.to_owned() + "/";
    {
        let mut w = store.begin(&key).await.unwrap();
        w.write(Bytes::from_static(b"dropped")).await.unwrap();
    }
    assert_eq!(store.size(&key).await.unwrap(), None);
    assert!(
        store.list(&prefix).await.unwrap().is_empty(),
        "dropped write left state"
    );
}

/// Ranges are honoured and clipped to the object.
pub async fn ranged_reads(store: &dyn BlobStore) {
    let key = key("ranges");
    let data = pattern(2 * 1024 * 1024 + 5, 7);
    let mut w = store.begin(&key).await.unwrap();
    w.write(Bytes::from(data.clone())).await.unwrap();
    w.complete().await.unwrap();
    for (start, end) in [
        (0u64, 1u64),
        (5, 1_048_600),
        (1_048_576, 2_097_157),
        (2_000_000, 9_999_999),
        (10, 10),
    ] {
        let got = read_all(store, &key, start..end).await.unwrap();
        let end = (end as usize).min(data.len());
        assert_eq!(got, &data[start as usize..end], "range {start}..{end}");
    }
    assert!(
        read_all(store, &key, 3_000_000..3_000_001)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A suspended write resumes where it was persisted and completes whole;
/// the writer sends again from the offset the backend reported.
pub async fn suspend_and_resume(store: &dyn BlobStore) {
    let key = key("resume");
    let data = pattern(7 * 1024 * 1024 + 3, 4);
    let mut w = store.begin(&key).await.unwrap();
    for chunk in data[..6 * 1024 * 1024].chunks(1 << 20) {
        w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    let persisted = w.persist().await.unwrap();
    assert!(persisted <= 6 * 1024 * 1024);
    let token = w.token();
    w.suspend();
    assert_eq!(store.size(&key).await.unwrap(), None);
    let mut w = store.resume(&key, &token, persisted).await.unwrap();
    w.write(Bytes::copy_from_slice(&data[persisted as usize..]))
        .await
        .unwrap();
    w.complete().await.unwrap();
    assert!(read_all(store, &key, 0..u64::MAX).await.unwrap() == data);
}

/// Resume keeps only what was persisted, dropping later unpersisted bytes.
pub async fn resume_truncates_to_persisted(store: &dyn BlobStore) {
    let key = key("truncate");
    let kept = pattern(6 * 1024 * 1024, 8);
    let mut w = store.begin(&key).await.unwrap();
    w.write(Bytes::from(kept.clone())).await.unwrap();
    let persisted = w.persist().await.unwrap();
    w.write(Bytes::from_static(b"-lost")).await.unwrap();
    let token = w.token();
    w.suspend();
    let mut w = store.resume(&key, &token, persisted).await.unwrap();
    w.write(Bytes::copy_from_slice(&kept[persisted as usize..]))
        .await
        .unwrap();
    w.write(Bytes::from_static(b"+new")).await.unwrap();
    w.complete().await.unwrap();
    let mut expected = kept;
    expected.extend_from_slice(b"+new");
    assert!(read_all(store, &key, 0..u64::MAX).await.unwrap() == expected);
}

/// Discarding a suspended write makes it unresumable and leaves nothing.
pub async fn discard_removes_staged(store: &dyn BlobStore) {
    let key = key("discard");
    let prefix = key.rsplit_once('/').unwrap().0.to_owned() + "/";
    let mut w = store.begin(&key).await.unwrap();
    w.write(Bytes::from_static(b"x")).await.unwrap();
    let persisted = w.persist().await.unwrap();
    let token = w.token();
    w.suspend();
    store.discard(&key, &token).await.unwrap();
    store.discard(&key, &token).await.unwrap();
    assert!(matches!(
        store.resume(&key, &token, persisted).await.err(),
        Some(Error::NotFound(_))
    ));
    assert!(store.list(&prefix).await.unwrap().is_empty());
}

/// Missing objects: NOT_FOUND on read, `None` size, delete succeeds.
pub async fn missing_objects(store: &dyn BlobStore) {
    let key = key("missing");
    assert!(matches!(
        store.read(&key, 0..1).await.err(),
        Some(Error::NotFound(_))
    ));
    assert_eq!(store.size(&key).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

/// `promote` moves a completed object: its content appears at the new key
/// and the old key is gone; promoting a missing object is NOT_FOUND.
pub async fn promote_moves_an_object(store: &dyn BlobStore) {
    let (from, to) = (key("promote-from"), key("promote-to"));
    let data = pattern(2 * 1024 * 1024 + 5, 9);
    store.put(&from, Bytes::from(data.clone())).await.unwrap();
    store.promote(&from, &to).await.unwrap();
    assert_eq!(read_all(store, &to, 0..u64::MAX).await.unwrap(), data);
    assert_eq!(store.size(&from).await.unwrap(), None);
    assert!(matches!(
        store.promote(&from, &key("promote-nowhere")).await.err(),
        Some(Error::NotFound(_))
    ));
}

/// A digest its writer remembered stays with its object, through
/// `promote`, exactly; an object written again without one has none.
/// Returns whether the backend keeps them at all (one may not: callers
/// then hash the content).
pub async fn remembered_digests_stay_with_their_object(store: &dyn BlobStore) -> bool {
    let (from, to) = (key("digest-from"), key("digest-to"));
    // The backend keeps the digest, it does not check it.
    let sha256 = "0a".repeat(32);
    let mut w = store.begin(&from).await.unwrap();
    w.write(Bytes::from_static(b"abc")).await.unwrap();
    w.remember_sha256(&sha256);
    w.complete().await.unwrap();
    let kept = store.remembered_sha256(&from).await.unwrap();
    assert!(
        kept.is_none() || kept.as_deref() == Some(sha256.as_str()),
        "{kept:?}"
    );
    store.promote(&from, &to).await.unwrap();
    assert_eq!(store.remembered_sha256(&to).await.unwrap(), kept);
    assert_eq!(store.remembered_sha256(&from).await.unwrap(), None);
    store.put(&to, Bytes::from_static(b"xyz")).await.unwrap();
    assert_eq!(
        store.remembered_sha256(&to).await.unwrap(),
        None,
        "a new write of the key has no digest"
    );
    store.delete(&to).await.unwrap();
    kept.is_some()
}

/// Listing is by prefix and sorted; deleting a prefix removes it all,
/// staged writes included, and nothing beside it.
pub async fn list_and_delete_prefix(store: &dyn BlobStore) {
    let ns = crate::ids::new_id();
    let prefix = format!("grid/conformance/user-u/{ns}/");
    let beside = format!("grid/conformance/user-u/{ns}x/objects/keep");
    for name in ["b", "a", "c"] {
        let mut w = store
            .begin(&format!("{prefix}objects/{name}"))
            .await
            .unwrap();
        w.write(Bytes::from_static(b"1")).await.unwrap();
        w.complete().await.unwrap();
    }
    let mut staged = store
        .begin(&format!("{prefix}objects/staged"))
        .await
        .unwrap();
    staged.write(Bytes::from_static(b"s")).await.unwrap();
    staged.persist().await.unwrap();
    staged.suspend();
    store
        .begin(&beside)
        .await
        .unwrap()
        .complete()
        .await
        .unwrap();

    let listed = store.list(&prefix).await.unwrap();
    let objects: Vec<_> = listed
        .iter()
        .filter(|k| !k.ends_with(".partial"))
        .cloned()
        .collect();
    assert_eq!(
        objects,
        ["a", "b", "c"].map(|n| format!("{prefix}objects/{n}"))
    );
    assert_eq!(
        listed.len(),
        4,
        "the staged write is listed too: {listed:?}"
    );
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);

    store.delete_prefix(&prefix).await.unwrap();
    assert!(store.list(&prefix).await.unwrap().is_empty());
    assert_eq!(store.size(&beside).await.unwrap(), Some(0));
}

/// Many chunks make one object in order.
pub async fn large_object_in_many_chunks(store: &dyn BlobStore) {
    let key = key("large");
    let mut w = store.begin(&key).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..64u8 {
        let chunk = pattern(64 * 1024 + usize::from(i), i);
        expected.extend_from_slice(&chunk);
        w.write(Bytes::from(chunk)).await.unwrap();
        if i % 16 == 0 {
            w.persist().await.unwrap();
        }
    }
    w.complete().await.unwrap();
    assert_eq!(read_all(store, &key, 0..u64::MAX).await.unwrap(), expected);
}

/// `persist` may report less than was written (work in flight counts
/// later), but its reports never fall, each is a write boundary, and
/// `settle` waits: after it, a resume from what it reported keeps exactly
/// that prefix.
pub async fn persist_reports_rise_to_settle(store: &dyn BlobStore) {
    let key = key("settle");
    let chunk = 1 << 20;
    let data = pattern(12 * chunk + 5, 9);
    let mut w = store.begin(&key).await.unwrap();
    let mut boundaries = vec![0u64];
    let mut last = 0;
    for piece in data.chunks(chunk) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
        boundaries.push(boundaries.last().unwrap() + piece.len() as u64);
        let reported = w.persist().await.unwrap();
        assert!(reported >= last, "persist fell from {last} to {reported}");
        assert!(
            boundaries.contains(&reported),
            "{reported} is not a write boundary"
        );
        last = reported;
    }
    let settled = w.settle().await.unwrap();
    assert!(settled >= last && boundaries.contains(&settled));
    let token = w.token();
    w.suspend();
    let mut w = store.resume(&key, &token, settled).await.unwrap();
    w.write(Bytes::copy_from_slice(&data[settled as usize..]))
        .await
        .unwrap();
    w.complete().await.unwrap();
    assert!(read_all(store, &key, 0..u64::MAX).await.unwrap() == data);
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_backend_conforms() {
        let store = crate::blobs::memory::MemoryStore::new();
        super::run_all(&store).await;
        assert!(super::remembered_digests_stay_with_their_object(&store).await);
    }

    /// Against the S3-compatible server the test command starts (moto);
    /// `ARCA_TEST_S3_ENDPOINT` names it.
    #[tokio::test]
    async fn s3_backend_conforms() {
        let Ok(endpoint) = std::env::var("ARCA_TEST_S3_ENDPOINT") else {
            eprintln!(
                "ARCA_TEST_S3_ENDPOINT is not set: run through tests/run.sh, which starts an S3 server"
            );
            return;
        };
        let store = crate::blobs::s3::S3Store::open(crate::blobs::s3::S3Settings {
            bucket: "arca-conformance".into(),
            prefix: format!("run-{}/", crate::ids::new_id()),
            region: "us-east-1".into(),
            endpoint: Some(endpoint),
            path_style: true,
            static_credentials: Some(("test".into(), "test".into())),
            sse: None,
            sse_kms_key_id: None,
            part_size: 5 << 20,
            part_concurrency: 2,
            max_attempts: 3,
            attempt_timeout: std::time::Duration::from_secs(10),
        })
        .await
        .unwrap();
        store.ensure_bucket().await.unwrap();
        super::run_all(&store).await;
    }

    #[tokio::test]
    async fn filesystem_backend_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::blobs::fs::FsStore::open(dir.path()).unwrap();
        super::run_all(&store).await;
        // Digests are kept where the filesystem keeps user extended
        // attributes (tmpfs before Linux 6.6 does not: then none is, and
        // finalize hashes the content instead, as the suite allows).
        let probe = std::fs::File::create(dir.path().join("xattr-probe")).unwrap();
        let keeps_attributes = rustix::fs::fsetxattr(
            &probe,
            "user.arca.probe",
            b"1",
            rustix::fs::XattrFlags::empty(),
        )
        .is_ok();
        assert_eq!(
            super::remembered_digests_stay_with_their_object(&store).await,
            keeps_attributes
        );
    }
}
