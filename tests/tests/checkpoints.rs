//! Checkpoints and dedup, on every backend: exact restore, durable and
//! unique ids, diffs, reference counting, and content stored once.

use arca_tests::{
    ADMIN, Backend, TestServer, assert_code, on_durable_backends, on_every_backend, pattern, pb,
    sha256,
};
use tonic::Code;

async fn create(server: &TestServer, ns: &str, name: &str) -> pb::Checkpoint {
    server
        .client
        .checkpoints
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.into(),
            name: name.into(),
            description: format!("{name} description"),
        })
        .await
        .unwrap()
        .into_inner()
}

/// The whole tree as (path, kind, sha256, sorted metadata) lines.
async fn tree(server: &TestServer, ns: &str) -> Vec<String> {
    let list = server
        .client
        .files
        .clone()
        .list(pb::ListRequest {
            namespace_id: ns.into(),
            recursive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    list.entries
        .iter()
        .map(|e| {
            let meta: std::collections::BTreeMap<_, _> = e.metadata.iter().collect();
            format!("{} {} {} {:?}", e.path, e.kind, e.sha256, meta)
        })
        .collect()
}

async fn restore_is_exact(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut files = server.client.files.clone();
    server.write(&ns, "keep.txt", b"unchanged").await;
    server.write(&ns, "change.txt", b"before").await;
    server
        .write(&ns, "gone/deleted.txt", b"deleted later")
        .await;
    files
        .mkdir(pb::MkdirRequest {
            namespace_id: ns.clone(),
            path: "empty/dir".into(),
            parents: true,
            exist_ok: false,
        })
        .await
        .unwrap();
    files
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "keep.txt".into(),
            metadata: [("tag".into(), "v1".into())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let snapshot = tree(&server, &ns).await;
    let cp = create(&server, &ns, "v1").await;
    assert_eq!(
        (cp.entry_count, cp.file_count, cp.total_bytes),
        (6, 3, 9 + 6 + 13)
    );

    // Change everything: a new file, a changed one, a deleted one, a removed
    // directory, new metadata.
    server.write(&ns, "new.txt", b"created after").await;
    server.write(&ns, "change.txt", b"after!").await;
    files
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "gone".into(),
            recursive: true,
        })
        .await
        .unwrap();
    files
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "empty".into(),
            recursive: true,
        })
        .await
        .unwrap();
    files
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "keep.txt".into(),
            metadata: [("tag".into(), "v2".into())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_ne!(tree(&server, &ns).await, snapshot);

    let restored = server.restore_checkpoint(&ns, &cp.checkpoint_id).await;
    assert_eq!(restored.entry_count, 6);
    assert_eq!(
        tree(&server, &ns).await,
        snapshot,
        "the live tree must become exactly the checkpoint's"
    );
    assert_code(server.read(&ns, "new.txt").await, Code::NotFound);
    assert_eq!(server.read(&ns, "change.txt").await.unwrap(), b"before");
    assert_eq!(
        server.read(&ns, "gone/deleted.txt").await.unwrap(),
        b"deleted later"
    );
    let info = server
        .client
        .namespaces
        .clone()
        .get_namespace(pb::GetNamespaceRequest {
            namespace_id: ns.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((info.file_count, info.total_bytes), (3, 28));
    // Restoring twice is the same, and a restore can itself be undone.
    let later = create(&server, &ns, "after-restore").await;
    server.write(&ns, "x", b"x").await;
    server.restore_checkpoint(&ns, &later.checkpoint_id).await;
    assert_eq!(tree(&server, &ns).await, snapshot);
}

/// A restore writes only the paths where the live tree and the checkpoint
/// differ: an unchanged entry keeps its version (a reader holding it still
/// holds the current one), a replaced one gets a new version, and the
/// counters (usage, references) agree with a recount afterwards.
async fn restore_writes_only_what_differs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "same.txt", b"never touched").await;
    server
        .write(&ns, "dir/same.txt", b"never touched either")
        .await;
    server.write(&ns, "edited.txt", b"as checkpointed").await;
    server.write(&ns, "removed.txt", b"removed after").await;
    let cp = create(&server, &ns, "base").await;
    let version = |e: Option<pb::Entry>| e.expect("entry").version;
    let same = version(server.entry(&ns, "same.txt").await);
    let nested = version(server.entry(&ns, "dir/same.txt").await);
    let dir = version(server.entry(&ns, "dir").await);

    server.write(&ns, "edited.txt", b"edited").await;
    server.write(&ns, "added.txt", b"added after").await;
    let mut files = server.client.files.clone();
    files
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "removed.txt".into(),
            recursive: false,
        })
        .await
        .unwrap();
    let edited = version(server.entry(&ns, "edited.txt").await);

    let restored = server.restore_checkpoint(&ns, &cp.checkpoint_id).await;
    assert_eq!(restored.entry_count, 5);
    assert_eq!(
        restored.entries_replaced, 2,
        "edited.txt replaced and added.txt removed; the rest untouched"
    );
    assert_eq!(version(server.entry(&ns, "same.txt").await), same);
    assert_eq!(version(server.entry(&ns, "dir/same.txt").await), nested);
    assert_eq!(version(server.entry(&ns, "dir").await), dir);
    assert!(version(server.entry(&ns, "edited.txt").await) > edited);
    assert!(version(server.entry(&ns, "removed.txt").await) > edited);
    assert!(server.entry(&ns, "added.txt").await.is_none());
    assert_eq!(
        server.read(&ns, "edited.txt").await.unwrap(),
        b"as checkpointed"
    );
    assert_eq!(
        server.read(&ns, "removed.txt").await.unwrap(),
        b"removed after"
    );

    // Restoring again changes nothing at all.
    let before = tree(&server, &ns).await;
    let again = server.restore_checkpoint(&ns, &cp.checkpoint_id).await;
    assert_eq!((again.entry_count, again.entries_replaced), (5, 0));
    assert_eq!(tree(&server, &ns).await, before);
    assert_eq!(version(server.entry(&ns, "same.txt").await), same);

    // The untouched entries' references still count once the
    // checkpoint's go: their content outlives a reclaimer pass.
    server
        .client
        .checkpoints
        .clone()
        .delete_checkpoint(pb::DeleteCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: cp.checkpoint_id,
        })
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(
        server.read(&ns, "same.txt").await.unwrap(),
        b"never touched"
    );
    assert_eq!(
        server.read(&ns, "dir/same.txt").await.unwrap(),
        b"never touched either"
    );
    server.assert_counts_agree().await;
}

async fn blob_checkpoints(backend: Backend) {
    let server = TestServer::start(backend).await;
    let blob = server
        .namespace(pb::NamespaceType::Blob, pb::Scope::User, "alice")
        .await;
    server.write(&blob, "data", b"one").await;
    let cp = create(&server, &blob, "one").await;
    server.write(&blob, "data", b"two").await;
    server.restore_checkpoint(&blob, &cp.checkpoint_id).await;
    assert_eq!(server.read(&blob, "data").await.unwrap(), b"one");
    // Restoring a checkpoint taken with another path keeps the BLOB to one file.
    server
        .client
        .files
        .clone()
        .r#move(pb::MoveRequest {
            namespace_id: blob.clone(),
            source: "data".into(),
            destination: "renamed".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    server.restore_checkpoint(&blob, &cp.checkpoint_id).await;
    assert_eq!(server.ls(&blob, "", true).await, vec!["data"]);
}

async fn ids_are_unique_and_listed_in_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "f", b"x").await;
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(
            create(&server, &ns, &format!("same-second-{i}"))
                .await
                .checkpoint_id,
        );
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 50, "ids collide");
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .client
            .checkpoints
            .clone()
            .list_checkpoints(pb::ListCheckpointsRequest {
                namespace_id: ns.clone(),
                page_size: 7,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        listed.extend(page.checkpoints.into_iter().map(|c| c.checkpoint_id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(listed, ids, "listed oldest first, each once");
    let got = server
        .client
        .checkpoints
        .clone()
        .get_checkpoint(pb::GetCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: ids[3].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((got.name.as_str(), got.entry_count), ("same-second-3", 1));
    let mut cps = server.client.checkpoints.clone();
    assert_code(
        cps.get_checkpoint(pb::GetCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: "0".repeat(32),
        })
        .await,
        Code::NotFound,
    );
    assert_code(
        cps.get_checkpoint(pb::GetCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: "../x".into(),
        })
        .await,
        Code::InvalidArgument,
    );
    assert_code(
        cps.restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: "0".repeat(32),
        })
        .await,
        Code::NotFound,
    );
    assert_code(
        cps.create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.clone(),
            name: "x".repeat(256),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
    );
    // Another user's session cannot checkpoint or restore alice's namespace.
    let (_, bob) = server.open_session("bob").await;
    let mut bobs = server.as_secret(&bob).checkpoints.clone();
    assert_code(
        bobs.create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.clone(),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
    );
    assert_code(
        bobs.restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: ids[0].clone(),
        })
        .await,
        Code::PermissionDenied,
    );
    assert_code(
        bobs.list_checkpoints(pb::ListCheckpointsRequest {
            namespace_id: ns.clone(),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
    );
}

async fn diffs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "a", b"a").await;
    server.write(&ns, "b", b"b").await;
    let one = create(&server, &ns, "one").await;
    server.write(&ns, "b", b"b2").await;
    server.write(&ns, "c", b"c").await;
    server
        .client
        .files
        .clone()
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "a".into(),
            recursive: false,
        })
        .await
        .unwrap();
    let two = create(&server, &ns, "two").await;
    server.write(&ns, "d", b"d").await;
    let diff = |to: String| {
        let mut cps = server.client.checkpoints.clone();
        let (ns, from) = (ns.clone(), one.checkpoint_id.clone());
        async move {
            let d = cps
                .diff_checkpoints(pb::DiffCheckpointsRequest {
                    namespace_id: ns,
                    from_checkpoint_id: from,
                    to_checkpoint_id: to,
                })
                .await
                .unwrap()
                .into_inner();
            let paths = |l: Vec<pb::PathChange>| l.into_iter().map(|c| c.path).collect::<Vec<_>>();
            (paths(d.added), paths(d.removed), paths(d.changed))
        }
    };
    assert_eq!(
        diff(two.checkpoint_id.clone()).await,
        (
            vec!["c".to_owned()],
            vec!["a".to_owned()],
            vec!["b".to_owned()]
        )
    );
    assert_eq!(
        diff(String::new()).await,
        (
            vec!["c".to_owned(), "d".to_owned()],
            vec!["a".to_owned()],
            vec!["b".to_owned()]
        )
    );
}

async fn checkpoints_hold_content_until_deleted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let root = server.blob_root().unwrap();
    let ns = server.workspace().await;
    let old = server.write(&ns, "f", b"old content").await;
    let cp = create(&server, &ns, "keep-old").await;
    server.write(&ns, "f", b"new content").await;
    server
        .client
        .files
        .clone()
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "f".into(),
            recursive: false,
        })
        .await
        .unwrap();
    // Nothing live refers to the old object, but the checkpoint does.
    let reclaim = server.client.checkpoints.clone();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert!(
        root.join(&old.grid_key).exists(),
        "a checkpointed object was reclaimed"
    );
    server.restore_checkpoint(&ns, &cp.checkpoint_id).await;
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"old content");
    // Once the checkpoint and the live file are gone, so is the object.
    reclaim
        .clone()
        .delete_checkpoint(pb::DeleteCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: cp.checkpoint_id.clone(),
        })
        .await
        .unwrap();
    assert!(
        root.join(&old.grid_key).exists(),
        "still referenced by the live file"
    );
    server
        .client
        .files
        .clone()
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "f".into(),
            recursive: false,
        })
        .await
        .unwrap();
    assert!(
        server
            .eventually(|| !root.join(&old.grid_key).exists())
            .await,
        "unreferenced object stayed"
    );
    assert_code(
        reclaim
            .clone()
            .delete_checkpoint(pb::DeleteCheckpointRequest {
                namespace_id: ns,
                checkpoint_id: cp.checkpoint_id,
            })
            .await,
        Code::NotFound,
    );
}

async fn checkpoints_survive_restart(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "f", b"v1").await;
    let cp = create(&server, &ns, "durable").await;
    server.write(&ns, "f", b"v2").await;
    let server = server.restart().await;
    server.restore_checkpoint(&ns, &cp.checkpoint_id).await;
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"v1");
}

async fn content_is_stored_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let a = server.write(&ns, "a", b"same bytes").await;
    let b = server.write(&ns, "dir/b", b"same bytes").await;
    assert_eq!(
        a.grid_key, b.grid_key,
        "identical content is stored once per namespace"
    );
    // Another namespace keeps its own copy.
    let other = server.workspace().await;
    let c = server.write(&other, "c", b"same bytes").await;
    assert_ne!(c.grid_key, a.grid_key);
    // An upload declaring a digest the namespace holds commits without bytes.
    let content = pattern(300_000, 9);
    let first = server
        .client
        .upload_bytes(
            pb::UploadStart {
                namespace_id: ns.clone(),
                path: "big1".into(),
                ..Default::default()
            },
            content.clone().into(),
            65_536,
        )
        .await
        .unwrap();
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "big2".into(),
        expected_sha256: sha256(&content),
        ..Default::default()
    };
    let start = pb::upload_request::Message::Start(start);
    let (mut stream, accepted) = arca_tests::UploadStream::open(&server, start)
        .await
        .unwrap();
    assert!(
        accepted.deduplicated,
        "the server must say the bytes are not needed"
    );
    let committed = match stream.rx.message().await.unwrap().unwrap().message.unwrap() {
        pb::upload_response::Message::Committed(e) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (
            committed.path.as_str(),
            committed.grid_key.as_str(),
            committed.size
        ),
        ("big2", first.grid_key.as_str(), 300_000)
    );
    // Bytes that turn out to match stored content reference it; the duplicate goes.
    let third = server
        .client
        .upload_bytes(
            pb::UploadStart {
                namespace_id: ns.clone(),
                path: "big3".into(),
                ..Default::default()
            },
            content.clone().into(),
            65_536,
        )
        .await
        .unwrap();
    assert_eq!(third.grid_key, first.grid_key);
    let got = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "big3".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(got.data == content);
    if let Some(root) = server.blob_root() {
        let info = server
            .client
            .namespaces
            .clone()
            .get_namespace(pb::GetNamespaceRequest {
                namespace_id: ns.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let objects = root.join(&info.grid_prefix).join("objects");
        let count = || std::fs::read_dir(&objects).map(|d| d.count()).unwrap_or(0);
        assert!(
            server.eventually(|| count() == 2).await,
            "{} objects on disk, expected 2",
            count()
        );
    }
    // Removing one of the sharers leaves the content for the others.
    server
        .client
        .files
        .clone()
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "big1".into(),
            recursive: false,
        })
        .await
        .unwrap();
    assert_eq!(server.read(&ns, "big2").await.unwrap(), content);
    let _ = ADMIN;
}

async fn restore_is_atomic_with_concurrent_writes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    for i in 0..200 {
        server.write(&ns, &format!("base/{i}"), b"base").await;
    }
    let cp = create(&server, &ns, "base").await;
    let writer = {
        let (client, ns) = (server.client.clone(), ns.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..150 {
                let r = pb::WriteFileRequest {
                    namespace_id: ns.clone(),
                    path: format!("new/{i}"),
                    data: format!("content {i}").into_bytes().into(),
                    ..Default::default()
                };
                if client.files.clone().write_file(r).await.is_ok() {
                    acked.push(i);
                }
            }
            acked
        })
    };
    for _ in 0..5 {
        server.restore_checkpoint(&ns, &cp.checkpoint_id).await;
        create(&server, &ns, "during").await;
    }
    let acked = writer.await.unwrap();
    assert_eq!(acked.len(), 150);
    // Every concurrent write is wholly there or wholly gone, never torn.
    for i in acked {
        match server.read(&ns, &format!("new/{i}")).await {
            Ok(data) => assert_eq!(data, format!("content {i}").into_bytes()),
            Err(s) => assert_eq!(s.code(), Code::NotFound),
        }
    }
    // And every checkpoint taken meanwhile is a consistent tree: the base intact.
    let list = server
        .client
        .checkpoints
        .clone()
        .list_checkpoints(pb::ListCheckpointsRequest {
            namespace_id: ns.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for cp in list.checkpoints {
        assert!(
            cp.file_count >= 200
                && cp.entry_count == cp.file_count + 1 + u64::from(cp.file_count > 200),
            "{cp:?}"
        );
    }
}

/// Paths as long as the limit allows, of letters no compression shortens,
/// several sharing their first 3 KB, are written, listed in order,
/// checkpointed, changed and restored exactly (metadata engines index long
/// keys differently from short ones).
async fn the_longest_paths_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let limit = server.config.limits.max_path_bytes;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut segment = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect()
    };
    let shared: Vec<String> = (0..15).map(|_| segment(200)).collect();
    let shared = shared.join("/");
    let tail = limit - shared.len() - 1;
    let mut paths = Vec::new();
    for len in [200, 200, 200, 200, 10] {
        paths.push(format!("{shared}/{}", segment(tail.min(len))));
    }
    assert!(paths.iter().all(|p| p.len() <= limit));
    for (i, path) in paths.iter().enumerate() {
        server.write(&ns, path, format!("v1 {i}").as_bytes()).await;
    }
    let mut sorted = paths.clone();
    sorted.sort();
    let listed: Vec<String> = server
        .ls(&ns, "", true)
        .await
        .into_iter()
        .filter(|p| p.len() > shared.len())
        .collect();
    assert_eq!(listed, sorted);
    let before = tree(&server, &ns).await;
    let cp = create(&server, &ns, "long").await;
    for path in &paths[..2] {
        server.write(&ns, path, b"changed").await;
    }
    server
        .client
        .files
        .clone()
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: paths[2].clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    server.restore_checkpoint(&ns, &cp.checkpoint_id).await;
    assert_eq!(tree(&server, &ns).await, before);
    for (i, path) in paths.iter().enumerate() {
        assert_eq!(
            server.read(&ns, path).await.unwrap(),
            format!("v1 {i}").as_bytes()
        );
    }
}

on_every_backend!(
    the_longest_paths_round_trip,
    restore_is_exact,
    restore_writes_only_what_differs,
    blob_checkpoints,
    ids_are_unique_and_listed_in_order,
    diffs,
    content_is_stored_once,
    restore_is_atomic_with_concurrent_writes
);
on_durable_backends!(
    checkpoints_hold_content_until_deleted,
    checkpoints_survive_restart
);
