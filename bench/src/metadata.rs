//! Workloads whose cost is the metadata: many small files written and read
//! by 64 callers, scans of a large tree, and checkpoints of 10,000 files
//! (whose cost must follow entries, not bytes).

use super::*;

pub async fn small_files(backend: &str, count: usize) {
    small_files_through(backend, count, 1, 1).await;
}

/// 1 KiB writes, then reads, by 64 callers spread over `replicas` server
/// processes of one deployment (one metadata engine, one blob root) and
/// over `namespaces` workspaces. Every replica serves callers of every
/// namespace (caller `c` goes to replica `c % replicas` and namespace
/// `c / replicas % namespaces`), so replicas share each namespace's rows.
pub async fn small_files_through(backend: &str, count: usize, replicas: usize, namespaces: usize) {
    let dir = crate::Scratch::new();
    let processes: Vec<_> = (0..replicas)
        .map(|r| {
            let data = if replicas == 1 {
                dir.path().to_owned()
            } else {
                dir.path().join(format!("replica-{r}"))
            };
            crate::start_arca_at(&data, &dir.path().join("blobs"), backend)
        })
        .collect();
    let mut clients = Vec::new();
    for process in &processes {
        clients.push(connect(&process.addr).await);
    }
    let client = clients[0].clone();
    let mut spaces = Vec::new();
    for _ in 0..namespaces {
        spaces.push(workspace(&client, "small").await);
    }
    let namespace_of = |c: usize| spaces[c / replicas % namespaces].clone();
    let writes = write_all(&clients, &namespace_of, count, 0).await;
    let reads = by_callers(&clients, &namespace_of, count, |client, ns, i| async move {
        let r = client
            .files
            .clone()
            .read_file(pb::ReadFileRequest {
                namespace_id: ns,
                path: format!("d{}/f{i}", i % 100),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(r.into_inner().data.len(), 1024);
    })
    .await;
    // Every file again, each the first change since a checkpoint: what a
    // checkpoint adds to the writes after it (the release of an object a
    // checkpoint holds counts the checkpoints made while it was live).
    for ns in &spaces {
        clients[0]
            .checkpoints
            .clone()
            .create_checkpoint(pb::CreateCheckpointRequest {
                namespace_id: ns.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let overwrites = write_all(&clients, &namespace_of, count, 1).await;
    let moves = move_all(&clients, &namespace_of, count).await;
    emit(json!({
        "figure": "small_files",
        "backend": backend,
        "files": count,
        "file_bytes": 1024,
        "callers": CALLERS,
        "replicas": replicas,
        "namespaces": namespaces,
        "durable": backend == "filesystem",
        "writes_per_s": writes.round(),
        "reads_per_s": reads.round(),
        "overwrites_after_checkpoint_per_s": overwrites.round(),
        "moves_per_s": moves.round(),
    }));
}

/// Renames files `0..count` of the small-files layout within their
/// directory, spread as `write_all` spreads them: a change of the tree
/// alone (no content), which rewrites the same namespace and usage rows a
/// write does; moves per second.
async fn move_all(clients: &[Client], namespace_of: &dyn Fn(usize) -> String, count: usize) -> f64 {
    by_callers(clients, namespace_of, count, |client, ns, i| async move {
        client
            .files
            .clone()
            .r#move(pb::MoveRequest {
                namespace_id: ns,
                source: format!("d{}/f{i}", i % 100),
                destination: format!("d{}/moved{i}", i % 100),
                ..Default::default()
            })
            .await
            .unwrap();
    })
    .await
}

/// Writes files `0..count` of the small-files layout (1 KiB, distinct
/// content for each file and `round`); writes per second.
async fn write_all(
    clients: &[Client],
    namespace_of: &dyn Fn(usize) -> String,
    count: usize,
    round: u64,
) -> f64 {
    by_callers(
        clients,
        namespace_of,
        count,
        move |client, ns, i| async move {
            // Distinct content: dedup must not turn writes into no-ops.
            let mut data = vec![42u8; 1024];
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            data[8..16].copy_from_slice(&round.to_le_bytes());
            client
                .files
                .clone()
                .write_file(pb::WriteFileRequest {
                    namespace_id: ns,
                    path: format!("d{}/f{i}", i % 100),
                    data: data.into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        },
    )
    .await
}

/// Callers of the small-files figures, each one request at a time.
const CALLERS: usize = 64;

/// Runs `op(client, namespace, i)` for every `i` in `0..count` by
/// `CALLERS` callers, caller `c` taking every 64th from `c`, through
/// `clients[c % clients.len()]` into `namespace_of(c)`; operations per
/// second.
async fn by_callers<F, Done>(
    clients: &[Client],
    namespace_of: &dyn Fn(usize) -> String,
    count: usize,
    op: F,
) -> f64
where
    F: Fn(Client, String, usize) -> Done + Clone + Send + 'static,
    Done: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|c| {
            let (client, ns) = (clients[c % clients.len()].clone(), namespace_of(c));
            let op = op.clone();
            tokio::spawn(async move {
                for i in (c..count).step_by(CALLERS) {
                    op(client.clone(), ns.clone(), i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    count as f64 / start.elapsed().as_secs_f64()
}

pub async fn tree_scan(count: usize) {
    let dir = crate::Scratch::new();
    let process = start_arca(dir.path(), "memory");
    let client = connect(&process.addr).await;
    let ns = workspace(&client, "tree").await;
    let start = Instant::now();
    let batches: Vec<_> =
        (0..count)
            .step_by(1000)
            .map(|from| {
                let (client, ns) = (client.clone(), ns.clone());
                async move {
                    let items = (from..(from + 1000).min(count))
                        .map(|i| pb::WriteFileRequest {
                            path: format!(
                                "d{}/s{}/f{i}.{}",
                                i % 100,
                                (i / 100) % 10,
                                if i % 2 == 0 { "py" } else { "txt" }
                            ),
                            data: Bytes::from_static(b"x"),
                            ..Default::default()
                        })
                        .collect();
                    let results = client
                        .files
                        .clone()
                        .batch_write(pb::BatchWriteRequest {
                            namespace_id: ns,
                            items,
                        })
                        .await
                        .unwrap();
                    assert!(results.into_inner().results.iter().all(|r| matches!(
                        r.result,
                        Some(pb::batch_item_result::Result::Entry(_))
                    )));
                }
            })
            .collect();
    futures::stream::iter(batches)
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    let build = start.elapsed().as_secs_f64();

    let mut files = client.files.clone();
    let start = Instant::now();
    let (mut listed, mut token) = (0, String::new());
    loop {
        let page = files
            .list(pb::ListRequest {
                namespace_id: ns.clone(),
                path: String::new(),
                recursive: true,
                page_size: 10_000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        listed += page.entries.len();
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let list_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let (mut found, mut token) = (0, String::new());
    loop {
        let page = files
            .find(pb::FindRequest {
                namespace_id: ns.clone(),
                pattern: "**/*.py".into(),
                page_size: 10_000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        found += page.entries.len();
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let find_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let direct = files
        .list(pb::ListRequest {
            namespace_id: ns.clone(),
            path: "d7".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .len();
    let direct_secs = start.elapsed().as_secs_f64();
    assert_eq!(found, count.div_ceil(2));
    emit(json!({
        "figure": "tree_scan",
        "files": count,
        "entries": listed,
        "build_secs": round2(build),
        "recursive_list_secs": round2(list_secs),
        "recursive_list_entries_per_s": (listed as f64 / list_secs).round(),
        "find_py_matches": found,
        "find_secs": round2(find_secs),
        "direct_list_of_one_dir_ms": round2(direct_secs * 1000.0),
        "direct_list_children": direct,
    }));
    drop(process);
}

/// Creates checkpoint `name` of `ns`; returns it and how long it took, in ms.
async fn timed_create(client: &Client, ns: &str, name: &str) -> (pb::Checkpoint, f64) {
    let start = Instant::now();
    let cp = client
        .checkpoints
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.to_owned(),
            name: name.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    (cp, start.elapsed().as_secs_f64() * 1000.0)
}

/// Restores checkpoint `id` of `ns`; returns what it answered and how long
/// it took, in ms.
async fn timed_restore(
    client: &Client,
    ns: &str,
    id: String,
) -> (pb::RestoreCheckpointResponse, f64) {
    let start = Instant::now();
    let restored = client
        .checkpoints
        .clone()
        .restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.to_owned(),
            checkpoint_id: id,
        })
        .await
        .unwrap()
        .into_inner();
    (restored, start.elapsed().as_secs_f64() * 1000.0)
}

/// Builds a workspace of `files` files of `file_bytes` each (every one
/// distinct, so dedup does not shrink it), then times checkpoint create and
/// restore (best of 3 each; a restore follows one new file, so it has a
/// change to undo).
async fn checkpoint_case(client: &Client, files: usize, file_bytes: usize) -> (f64, f64) {
    let ns = workspace(client, &format!("cp{files}x{file_bytes}")).await;
    fill(client, &ns, files, file_bytes).await;
    let mut create_ms = f64::MAX;
    let mut restore_ms = f64::MAX;
    for round in 0..3 {
        let (cp, ms) = timed_create(client, &ns, &format!("bench-{round}")).await;
        create_ms = create_ms.min(ms);
        assert_eq!(cp.file_count, files as u64);
        client
            .files
            .clone()
            .write_file(pb::WriteFileRequest {
                namespace_id: ns.clone(),
                path: format!("changed-{round}"),
                data: Bytes::from_static(b"x"),
                ..Default::default()
            })
            .await
            .unwrap();
        let (_, ms) = timed_restore(client, &ns, cp.checkpoint_id).await;
        restore_ms = restore_ms.min(ms);
    }
    (round2(create_ms), round2(restore_ms))
}

/// A restore costs the entries that differ: the worst case, every file
/// of the workspace rewritten since the checkpoint.
async fn restore_all_changed(client: &Client, files: usize) -> f64 {
    let ns = workspace(client, &format!("cp{files}-all-changed")).await;
    fill(client, &ns, files, 1024).await;
    let (cp, _) = timed_create(client, &ns, "before").await;
    fill_salted(client, &ns, files, 1024, 0x5a).await;
    let (restored, ms) = timed_restore(client, &ns, cp.checkpoint_id).await;
    assert_eq!(restored.entries_replaced, files as u64);
    round2(ms)
}

pub async fn checkpoints(files: usize) {
    let dir = crate::Scratch::new();
    let process = start_arca(dir.path(), "filesystem");
    let client = connect(&process.addr).await;
    let (small_create, small_restore) = checkpoint_case(&client, files, 1024).await;
    let big_file = (1usize << 30) / files;
    let (big_create, big_restore) = checkpoint_case(&client, files, big_file).await;
    let (ref_create, ref_restore) = checkpoint_case(&client, 1000, 4096).await;
    let all_changed = restore_all_changed(&client, files).await;
    emit(json!({
        "figure": "checkpoints",
        "backend": "filesystem",
        "files": files,
        "small_workspace_mib": (files * 1024) >> 20,
        "large_workspace_mib": (files * big_file) >> 20,
        "create_ms_small": small_create,
        "restore_ms_small": small_restore,
        "create_ms_large": big_create,
        "restore_ms_large": big_restore,
        "restore_ms_small_every_file_changed": all_changed,
        "create_ratio_large_to_small": round2(big_create / small_create),
        "restore_ratio_large_to_small": round2(big_restore / small_restore),
        "create_ms_1000_files_4kib": ref_create,
        "restore_ms_1000_files_4kib": ref_restore,
        "reference_library_1000_files_4kib": {"create_ms": 540, "restore_ms": 1280},
    }));
}

/// Writes `files` distinct files of `file_bytes` each into `ns`, in batches,
/// spread over 100 directories.
pub(crate) async fn fill(client: &Client, ns: &str, files: usize, file_bytes: usize) {
    fill_salted(client, ns, files, file_bytes, 0).await;
}

/// `fill`, with every file's content also set by `salt`: a fill with
/// another salt changes every file.
async fn fill_salted(client: &Client, ns: &str, files: usize, file_bytes: usize, salt: u8) {
    let ns = ns.to_owned();
    let per_batch = (12 << 20) / file_bytes.max(1);
    let per_batch = per_batch.clamp(1, 1000);
    for from in (0..files).step_by(per_batch) {
        let items = (from..(from + per_batch).min(files))
            .map(|i| {
                let mut data = vec![(i % 251) as u8 ^ salt; file_bytes];
                data[..8.min(file_bytes)]
                    .copy_from_slice(&(i as u64).to_le_bytes()[..8.min(file_bytes)]);
                pb::WriteFileRequest {
                    path: format!("d{}/f{i}", i % 100),
                    data: data.into(),
                    ..Default::default()
                }
            })
            .collect();
        let results = client
            .files
            .clone()
            .batch_write(pb::BatchWriteRequest {
                namespace_id: ns.clone(),
                items,
            })
            .await
            .unwrap();
        assert!(
            results
                .into_inner()
                .results
                .iter()
                .all(|r| matches!(r.result, Some(pb::batch_item_result::Result::Entry(_))))
        );
    }
}
