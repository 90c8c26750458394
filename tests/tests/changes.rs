//! The change feed against a live server, on every backend: every change
//! kind logged under consecutive revisions; a watch that resumes from its
//! last revision (after a reconnect and after a restart) misses nothing
//! and sees nothing twice; filters; retention and OUT_OF_RANGE; a stalled
//! watcher under a write flood holds no memory; denials; a destroyed
//! namespace ends its watches; the log counted as metadata.

use std::collections::HashMap;
use std::time::Duration;

use arca_tests::{
    APP, Backend, OTHER_APP, TestServer, assert_code, on_every_backend, pb, test_config,
};
use pb::ChangeKind as K;
use pb::watch_namespace_response::Message as Out;
use tonic::Code;

/// Every change of `ns` after `since`, through ListChanges pages of `page`.
async fn list_all(
    server: &TestServer,
    ns: &str,
    since: u64,
    filter: Option<pb::ChangeFilter>,
    page: u32,
) -> (Vec<pb::Change>, u64) {
    let mut changes = Vec::new();
    let mut since = since;
    loop {
        let answer = server
            .client
            .changes
            .clone()
            .list_changes(pb::ListChangesRequest {
                namespace_id: ns.into(),
                since_revision: Some(since),
                filter: filter.clone(),
                page_size: page,
            })
            .await
            .expect("ListChanges")
            .into_inner();
        changes.extend(answer.changes);
        assert!(answer.revision >= since, "a page never goes back");
        since = answer.revision;
        if !answer.more {
            return (changes, since);
        }
    }
}

fn kinds(changes: &[pb::Change]) -> Vec<(K, String, String)> {
    changes
        .iter()
        .map(|c| (c.kind(), c.path.clone(), c.old_path.clone()))
        .collect()
}

fn kind(k: K, path: &str) -> (K, String, String) {
    (k, path.into(), String::new())
}

async fn watch(
    server: &TestServer,
    secret: &str,
    ns: &str,
    since: Option<u64>,
    filter: Option<pb::ChangeFilter>,
) -> Result<tonic::Streaming<pb::WatchNamespaceResponse>, tonic::Status> {
    server
        .as_secret(secret)
        .changes
        .watch_namespace(pb::WatchNamespaceRequest {
            namespace_id: ns.into(),
            since_revision: since,
            filter,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The next message of a watch, within 10 s.
async fn next(stream: &mut tonic::Streaming<pb::WatchNamespaceResponse>) -> Option<Out> {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a watch message within 10 s")
        .expect("the watch goes on")
        .map(|m| m.message.expect("a message"))
}

/// The next `n` changes of a watch (progress messages skipped).
async fn changes(
    stream: &mut tonic::Streaming<pb::WatchNamespaceResponse>,
    n: usize,
) -> Vec<pb::Change> {
    let mut out = Vec::new();
    while out.len() < n {
        match next(stream).await.expect("more changes") {
            Out::Change(c) => out.push(c),
            Out::Progress(_) => {}
            Out::Started(s) => panic!("started twice: {s:?}"),
        }
    }
    out
}

async fn mkdir(server: &TestServer, ns: &str, path: &str) {
    server
        .client
        .files
        .clone()
        .mkdir(pb::MkdirRequest {
            namespace_id: ns.into(),
            path: path.into(),
            parents: true,
            exist_ok: false,
        })
        .await
        .expect("mkdir");
}

async fn move_entry(server: &TestServer, ns: &str, from: &str, to: &str) {
    server
        .client
        .files
        .clone()
        .r#move(pb::MoveRequest {
            namespace_id: ns.into(),
            source: from.into(),
            destination: to.into(),
            overwrite: true,
            parents: true,
            target_namespace_id: String::new(),
        })
        .await
        .expect("move");
}

/// Each kind of change is logged once, in order, under consecutive
/// revisions from 1, with the entry it left; the namespace's creation
/// (with its first file) is revision 0 and logs nothing.
async fn every_kind_is_logged_in_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let (none, head) = list_all(&server, &ns, 0, None, 100).await;
    assert!(none.is_empty() && head == 0, "{none:?} {head}");

    server.write(&ns, "a.txt", b"one").await;
    server.write(&ns, "a.txt", b"two").await;
    mkdir(&server, &ns, "d").await;
    server.write(&ns, "d/x.txt", b"x").await;
    server
        .client
        .files
        .clone()
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "a.txt".into(),
            metadata: HashMap::from([("k".into(), "v".into())]),
            ..Default::default()
        })
        .await
        .unwrap();
    let checkpoint = server
        .client
        .checkpoints
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .checkpoint_id;
    move_entry(&server, &ns, "d", "e").await;
    server
        .client
        .files
        .clone()
        .copy(pb::CopyRequest {
            namespace_id: ns.clone(),
            source: "a.txt".into(),
            destination: "b.txt".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    server.remove(&ns, "e").await;
    server
        .client
        .checkpoints
        .clone()
        .restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: checkpoint.clone(),
        })
        .await
        .unwrap();

    let (log, head) = list_all(&server, &ns, 0, None, 3).await;
    assert_eq!(
        kinds(&log),
        vec![
            kind(K::FileCreated, "a.txt"),
            kind(K::FileReplaced, "a.txt"),
            kind(K::DirectoryCreated, "d"),
            kind(K::FileCreated, "d/x.txt"),
            kind(K::MetadataChanged, "a.txt"),
            (K::Moved, "e".into(), "d".into()),
            (K::Moved, "e/x.txt".into(), "d/x.txt".into()),
            kind(K::FileCreated, "b.txt"),
            kind(K::FileDeleted, "e/x.txt"),
            kind(K::DirectoryRemoved, "e"),
            kind(K::Restored, ""),
        ]
    );
    let revisions: Vec<u64> = log.iter().map(|c| c.revision).collect();
    assert_eq!(revisions, (1..=11).collect::<Vec<u64>>());
    assert_eq!(head, 11);
    assert_eq!(log[10].checkpoint_id, checkpoint);
    let replaced = log[1].entry.as_ref().unwrap();
    assert_eq!(replaced.size, 3);
    assert_eq!(replaced.sha256, arca_tests::sha256(b"two"));
    assert!(
        log[4].entry.as_ref().unwrap().metadata.is_empty(),
        "metadata left out"
    );
    let deleted = log[8].entry.as_ref().unwrap();
    assert_eq!(deleted.size, 1, "a removal carries the entry as it was");

    // A namespace made with a first file starts at revision 0 with it.
    let blob = server
        .client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Blob as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                sandbox: "sb".into(),
                user: "alice".into(),
                session: String::new(),
            }),
            initial_file: Some(pb::InitialFile {
                path: "data".into(),
                data: b"first".to_vec().into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    let (log, head) = list_all(&server, &blob, 0, None, 10).await;
    assert!(log.is_empty() && head == 0);
    server.assert_counts_agree().await;
}

/// A watch from now sends what commits after it started; one that
/// reconnects with its last revision (also after a server restart) gets
/// exactly the changes it had not seen.
async fn watches_resume_exactly(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "before.txt", b"b").await;
    let mut stream = watch(&server, APP, &ns, None, None).await.unwrap();
    let Some(Out::Started(started)) = next(&mut stream).await else {
        panic!("no start");
    };
    assert_eq!((started.since_revision, started.head_revision), (1, 1));
    for i in 0..5 {
        server.write(&ns, &format!("f{i}"), b"x").await;
    }
    let seen = changes(&mut stream, 3).await;
    let last = seen.last().unwrap().revision;
    assert_eq!(
        seen.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
        ["f0", "f1", "f2"]
    );
    drop(stream);
    server.write(&ns, "f5", b"x").await;

    // Reconnect with the last revision seen: f3, f4, f5 and nothing else.
    let mut stream = watch(&server, APP, &ns, Some(last), None).await.unwrap();
    assert!(matches!(next(&mut stream).await, Some(Out::Started(_))));
    let rest = changes(&mut stream, 3).await;
    assert_eq!(
        rest.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
        ["f3", "f4", "f5"]
    );
    assert_eq!(rest[0].revision, last + 1);
    let last = rest[2].revision;
    drop(stream);

    let server = server.restart().await;
    server.write(&ns, "after-restart", b"x").await;
    let mut stream = watch(&server, APP, &ns, Some(last), None).await.unwrap();
    assert!(matches!(next(&mut stream).await, Some(Out::Started(_))));
    let after = changes(&mut stream, 1).await;
    assert_eq!(after[0].path, "after-restart");
    assert_eq!(after[0].revision, last + 1);
    // Caught up: live changes as they commit.
    server.write(&ns, "live", b"x").await;
    assert_eq!(changes(&mut stream, 1).await[0].path, "live");
}

/// Filters by directory and glob (on a move's old path too); the progress
/// message tells how far a filtered watch has looked.
async fn filters_select_changes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let filter = Some(pb::ChangeFilter {
        path_prefix: "src".into(),
        glob: "**/*.rs".into(),
    });
    let mut stream = watch(&server, APP, &ns, Some(0), filter.clone())
        .await
        .unwrap();
    assert!(matches!(next(&mut stream).await, Some(Out::Started(_))));
    mkdir(&server, &ns, "src/deep").await;
    server.write(&ns, "src/deep/main.rs", b"fn main() {}").await;
    server.write(&ns, "src/notes.md", b"no").await;
    server.write(&ns, "other/lib.rs", b"no").await;
    move_entry(&server, &ns, "src/deep/main.rs", "bin/main.rs").await;
    let seen = changes(&mut stream, 2).await;
    assert_eq!(
        kinds(&seen),
        vec![
            kind(K::FileCreated, "src/deep/main.rs"),
            (K::Moved, "bin/main.rs".into(), "src/deep/main.rs".into()),
        ]
    );
    let head = seen[1].revision;
    server.write(&ns, "src/more.md", b"no").await;
    // Nothing wanted follows; progress says where the watch has looked.
    loop {
        match next(&mut stream).await.unwrap() {
            Out::Progress(p) if p.revision == head + 1 => break,
            Out::Progress(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let (listed, reached) = list_all(&server, &ns, 0, filter, 1).await;
    assert_eq!(kinds(&listed), kinds(&seen));
    assert_eq!(reached, head + 1);
    // A bad filter is INVALID_ARGUMENT.
    let bad = Some(pb::ChangeFilter {
        path_prefix: "../x".into(),
        glob: String::new(),
    });
    assert_code(
        watch(&server, APP, &ns, None, bad).await,
        Code::InvalidArgument,
    );
}

/// Asking for the changes after `since`, which the log no longer holds, is
/// OUT_OF_RANGE naming the oldest revision it keeps.
async fn assert_behind_the_log(server: &TestServer, ns: &str, since: u64, oldest: u64) {
    let status = assert_code(
        server
            .client
            .changes
            .clone()
            .list_changes(pb::ListChangesRequest {
                namespace_id: ns.to_owned(),
                since_revision: Some(since),
                ..Default::default()
            })
            .await,
        Code::OutOfRange,
    );
    assert!(
        status
            .message()
            .contains(&format!("oldest_revision={oldest}")),
        "{status:?}"
    );
}

/// The log keeps no change older than `retain_secs`: the next commit after
/// they age drops them (wherever the count stands), the rest stay exact,
/// and the trimmed rows are uncounted.
async fn changes_past_their_age_go(backend: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config.changes.retain_secs = 5;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    for i in 0..3 {
        server.write(&ns, &format!("old{i}"), b"x").await;
    }
    // The old changes were logged before this instant: waiting from it for
    // the retention ages them however slowly a loaded machine ran, and
    // leaves "middle" seconds of slack on either side.
    let old_logged = tokio::time::Instant::now();
    let (kept, head) = list_all(&server, &ns, 0, None, 10).await;
    assert_eq!((kept.len(), head), (3, 3), "young changes stay");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    server.write(&ns, "middle", b"x").await;
    let (kept, _) = list_all(&server, &ns, 0, None, 10).await;
    assert_eq!(kept.len(), 4, "nothing has aged yet");
    tokio::time::sleep_until(old_logged + std::time::Duration::from_millis(5300)).await;
    server.write(&ns, "new", b"x").await;
    let (kept, head) = list_all(&server, &ns, 3, None, 10).await;
    assert_eq!(head, 5);
    assert_eq!(
        kept.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
        ["middle", "new"],
        "the three aged changes went, the younger stayed"
    );
    assert_behind_the_log(&server, &ns, 1, 4).await;
    server.assert_counts_agree().await;
}

/// The log keeps `retain_count` changes: asking from before them is
/// OUT_OF_RANGE naming the oldest kept; a revision from the future is
/// INVALID_ARGUMENT; the kept ones are exact; trimmed rows are uncounted.
async fn retention_and_out_of_range(backend: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config.changes.retain_count = 5;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    for i in 0..12 {
        server.write(&ns, &format!("f{i:02}"), b"x").await;
    }
    let (kept, head) = list_all(&server, &ns, 7, None, 2).await;
    assert_eq!(head, 12);
    assert_eq!(
        kept.iter().map(|c| c.revision).collect::<Vec<_>>(),
        [8, 9, 10, 11, 12]
    );
    assert_behind_the_log(&server, &ns, 6, 8).await;
    assert_code(
        watch(&server, APP, &ns, Some(3), None).await,
        Code::OutOfRange,
    );
    assert_code(
        watch(&server, APP, &ns, Some(13), None).await,
        Code::InvalidArgument,
    );
    // One commit of more changes than are kept keeps its last ones.
    mkdir(&server, &ns, "a/b/c/d/e/f/g").await;
    let (kept, head) = list_all(&server, &ns, 14, None, 10).await;
    assert_eq!(head, 19);
    assert_eq!(kept.len(), 5);
    assert_eq!(kept[4].path, "a/b/c/d/e/f/g");
    server.assert_counts_agree().await;
}

/// Watches obey read access: another sandbox's key and another user's
/// session are refused; a session may watch its own user's namespace.
async fn watches_obey_access(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    assert_code(
        watch(&server, OTHER_APP, &ns, None, None).await,
        Code::PermissionDenied,
    );
    let (_, bob) = server.open_session("bob").await;
    assert_code(
        watch(&server, &bob, &ns, None, None).await,
        Code::PermissionDenied,
    );
    assert_code(
        server
            .as_secret(&bob)
            .changes
            .list_changes(pb::ListChangesRequest {
                namespace_id: ns.clone(),
                since_revision: Some(0),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    let (_, alice) = server.open_session("alice").await;
    let mut stream = watch(&server, &alice, &ns, Some(0), None).await.unwrap();
    assert!(matches!(next(&mut stream).await, Some(Out::Started(_))));
    assert_code(
        watch(&server, APP, "0123456789abcdef0123456789abcdef", None, None).await,
        Code::PermissionDenied,
    );
}

/// Destroying a namespace ends its watches with DESTROYED, then OK.
async fn destroy_ends_watches(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut stream = watch(&server, APP, &ns, None, None).await.unwrap();
    assert!(matches!(next(&mut stream).await, Some(Out::Started(_))));
    server
        .as_secret(arca_tests::ADMIN)
        .namespaces
        .destroy_namespace(pb::DestroyNamespaceRequest {
            namespace_id: ns.clone(),
        })
        .await
        .unwrap();
    loop {
        match next(&mut stream).await {
            Some(Out::Change(c)) => {
                assert_eq!(c.kind(), K::Destroyed);
                break;
            }
            Some(Out::Progress(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(next(&mut stream).await.is_none(), "the watch ends OK");
}

on_every_backend!(
    changes_past_their_age_go,
    every_kind_is_logged_in_order,
    watches_resume_exactly,
    filters_select_changes,
    retention_and_out_of_range,
    watches_obey_access,
    destroy_ends_watches,
);

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A watcher that never reads, under a flood of writes, holds no memory
/// for them: with the log at its retained size (so the database stops
/// growing), 6,000 more changes of ~8 KB each as messages (long paths) go
/// by while the process's RSS stays flat; the stalled watcher, read at
/// last, has its changes in order and then ends OUT_OF_RANGE, since the
/// log moved past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_watcher_holds_no_memory() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Memory, dir.path());
    config.changes.retain_count = 2000;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    let deep: String = (0..15)
        .map(|i| format!("{i:02}{}/", "s".repeat(248)))
        .collect();
    mkdir(&server, &ns, deep.trim_end_matches('/')).await;
    let mut stalled = watch(&server, APP, &ns, Some(0), None).await.unwrap();
    let flood = |rounds: usize| {
        let (client, ns, deep) = (server.client.clone(), ns.clone(), deep.clone());
        async move {
            for _ in 0..rounds {
                let items = (0..100)
                    .map(|i| pb::WriteFileRequest {
                        path: format!("{deep}file-{i:03}"),
                        data: vec![b'x'; 16].into(),
                        ..Default::default()
                    })
                    .collect();
                client
                    .files
                    .clone()
                    .batch_write(pb::BatchWriteRequest {
                        namespace_id: ns.clone(),
                        items,
                    })
                    .await
                    .unwrap();
            }
        }
    };
    flood(25).await;
    let warm = rss_kib();
    flood(60).await;
    let after = rss_kib();
    let grown = after.saturating_sub(warm);
    eprintln!("RSS {warm} KiB after warm-up, {after} KiB after 6,000 more changes");
    assert!(
        grown < 16 * 1024,
        "RSS grew {grown} KiB under a stalled watcher"
    );
    let mut revisions = Vec::new();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stalled.message()).await {
            Ok(Ok(Some(m))) => {
                if let Some(Out::Change(c)) = m.message {
                    revisions.push(c.revision);
                }
            }
            Ok(Ok(None)) => panic!("ended OK"),
            Ok(Err(status)) => break status,
            Err(_) => panic!("the stalled watch neither sent nor ended"),
        }
    };
    assert_eq!(ended.code(), Code::OutOfRange, "{ended:?}");
    assert!(!revisions.is_empty());
    let expected: Vec<u64> = (1..=revisions.len() as u64).collect();
    assert_eq!(revisions, expected, "consecutive from the first");
}
