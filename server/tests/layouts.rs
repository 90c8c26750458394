//! A rolling update across changes of the metadata rows' layout, on
//! PostgreSQL with a real replica: rows are written in a newer layout only
//! while every live replica reads it (`ReplicaRecord::layout`): checkpoint
//! pages, and checkpoints that hold their namespace's objects lazily.
//!
//! tests/run.sh starts the PostgreSQL and S3 servers these need.

mod support;

use support::cluster::{APP, Cluster, checkpoint, client, read, restore, workspace, write};

/// Rows of checkpoint `ckpt` of `ns`: (one row per entry, pages).
async fn checkpoint_rows(
    meta: &arca_server::meta::MetaStore,
    ns: &str,
    ckpt: &str,
) -> (usize, usize) {
    use arca_server::meta::{self, Span};
    let (ns, ckpt) = (ns.to_owned(), ckpt.to_owned());
    meta.scan(move |r| {
        let under = || Span::under(&[&ns, &ckpt], "");
        let rows = r.rows(&meta::CHECKPOINT_ENTRIES, under()).count();
        let pages = r.rows(&meta::CHECKPOINT_PAGES, under()).count();
        Ok((rows, pages))
    })
    .await
    .unwrap()
}

/// Whether namespace `ns` holds its objects lazily, and checkpoint
/// `ckpt`'s place in its sequence (0: it holds a reference per entry).
async fn lazy(meta: &arca_server::meta::MetaStore, ns: &str, ckpt: &str) -> (bool, u64) {
    use arca_server::meta;
    let (ns, ckpt) = (ns.to_owned(), ckpt.to_owned());
    meta.scan(move |r| {
        let record = r.get(&meta::NAMESPACES, &ns)?.expect("namespace");
        let checkpoint = r
            .get(&meta::CHECKPOINTS, (&ns, &ckpt))?
            .expect("checkpoint");
        Ok((record.lazy_refs, checkpoint.seq))
    })
    .await
    .unwrap()
}

/// A replica of a binary from before checkpoint pages reads none, nor lazy
/// checkpoints: while one is live (it registered with no layout), a new
/// namespace keeps no live counts and its checkpoints are stored one row
/// per entry, each with a reference per entry; once it has shut down, the
/// next checkpoint counts the namespace's live references once and is
/// stored in pages and held lazily. Both restore exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_stay_readable_to_a_live_replica_of_an_older_layout() {
    use arca_server::meta::{self, ReplicaRecord};
    let cluster = Cluster::new("");
    let replica = cluster.start("a");
    let a = client(&replica, APP).await;
    let store = cluster.metadata().await;
    let older = |retired: bool| {
        move |w: &meta::Writer<'_>| {
            let record = ReplicaRecord {
                expires_ms: w.now_ms() + 600_000,
                started_ms: w.now_ms(),
                host: "older".into(),
                retired,
                layout: meta::layout::ENTRY_ROWS,
            };
            w.put(&meta::REPLICAS, "older0", &record)
        }
    };
    store.write(older(false)).await.unwrap();
    let ns = workspace(&a, "alice").await;
    let files = 300; // more than one page
    for i in 0..files {
        write(
            &a,
            &ns,
            &format!("d{}/f{i:03}", i % 3),
            format!("v1 {i}").as_bytes(),
            None,
        )
        .await
        .unwrap();
    }
    let while_older = checkpoint(&a, &ns, "while an older replica is live").await;
    let entries = files + 3; // and the three directories
    assert_eq!(
        checkpoint_rows(&store, &ns, &while_older).await,
        (entries, 0),
        "one row per entry, readable by the older replica"
    );
    assert_eq!(
        lazy(&store, &ns, &while_older).await,
        (false, 0),
        "a reference per entry, as the older replica counts them"
    );
    // The older replica shuts down cleanly.
    store.write(older(true)).await.unwrap();
    let after_older = checkpoint(&a, &ns, "after").await;
    let (rows, pages) = checkpoint_rows(&store, &ns, &after_older).await;
    assert_eq!(rows, 0);
    assert_eq!(pages, 2, "{files} files and 3 directories in pages of 256");
    assert_eq!(lazy(&store, &ns, &after_older).await, (true, 1));
    // Recounted now, with the live counts just made and both kinds of
    // checkpoint holding the same objects.
    let differences = store
        .scan(arca_server::core::footprint::differences)
        .await
        .unwrap();
    assert!(differences.is_empty(), "{differences:?}");
    store.close();

    for ckpt in [&while_older, &after_older] {
        for i in (0..files).step_by(2) {
            write(&a, &ns, &format!("d{}/f{i:03}", i % 3), b"v2", None)
                .await
                .unwrap();
        }
        restore(&a, &ns, ckpt).await;
        for i in 0..files {
            let path = format!("d{}/f{i:03}", i % 3);
            assert_eq!(
                read(&a, &ns, &path).await.unwrap(),
                format!("v1 {i}").as_bytes()
            );
        }
    }
    // What the quotas count agrees with a recount over both layouts.
    let store = cluster.metadata().await;
    let differences = store
        .scan(arca_server::core::footprint::differences)
        .await
        .unwrap();
    store.close();
    assert!(differences.is_empty(), "{differences:?}");
}
