//! The change feed and archives: write-to-event latency with 100 watchers
//! (p50/p99 over every watcher's every event), events per second under
//! concurrent writers, and export and import of 1 GiB in 10,000 files
//! beside the upload and download of the same bytes as one file, in the
//! same run on the filesystem backend.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pb::watch_namespace_response::Message as Watched;

use super::*;

/// Starts `watchers` watches of `ns` from now; each records when it saw
/// each revision.
async fn watchers(
    client: &Client,
    ns: &str,
    watchers: usize,
) -> Arc<Mutex<Vec<Vec<(u64, Instant)>>>> {
    let seen = Arc::new(Mutex::new(vec![Vec::new(); watchers]));
    for w in 0..watchers {
        let mut stream = client
            .changes
            .clone()
            .watch_namespace(pb::WatchNamespaceRequest {
                namespace_id: ns.into(),
                since_revision: None,
                filter: None,
            })
            .await
            .unwrap()
            .into_inner();
        // The start message: the watch is in place before writes begin.
        stream.message().await.unwrap().unwrap();
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(Some(m)) = stream.message().await {
                if let Some(Watched::Change(c)) = m.message {
                    seen.lock().unwrap()[w].push((c.revision, Instant::now()));
                }
            }
        });
    }
    seen
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    round2(sorted[at])
}

async fn write(client: &Client, ns: &str, path: String) {
    client
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: ns.into(),
            path,
            data: vec![b'x'; 1024].into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Waits until every watcher has seen `revision`.
async fn all_seen(seen: &Mutex<Vec<Vec<(u64, Instant)>>>, revision: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = seen
            .lock()
            .unwrap()
            .iter()
            .all(|w| w.last().is_some_and(|(r, _)| *r >= revision));
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "watchers did not catch up");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn changes(watcher_count: usize, writes: usize) {
    let dir = crate::Scratch::new();
    let process = start_arca(dir.path(), "filesystem");
    let client = connect(&process.addr).await;
    let ns = workspace(&client, "feed").await;
    // Every watch shares one connection's worth of streams per 50.
    let mut clients = Vec::new();
    for _ in 0..watcher_count.div_ceil(50) {
        clients.push(connect(&process.addr).await);
    }
    let mut seen = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let n = 50.min(watcher_count - i * 50);
        seen.push(watchers(c, &ns, n).await);
    }

    // Latency: one write at a time, each timed from its call to each
    // watcher's receipt of its change.
    let mut started = Vec::with_capacity(writes);
    for i in 0..writes {
        started.push(Instant::now());
        write(&client, &ns, format!("lat-f{i}")).await;
    }
    for s in &seen {
        all_seen(s, writes as u64).await;
    }
    let mut latencies = Vec::new();
    for s in &seen {
        for watcher in s.lock().unwrap().iter() {
            for (revision, at) in watcher {
                let start = started[(*revision - 1) as usize];
                latencies.push(at.duration_since(start).as_secs_f64() * 1000.0);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    emit(json!({
        "figure": "watch_latency",
        "backend": "filesystem",
        "watchers": watcher_count,
        "writes": writes,
        "events": latencies.len(),
        "p50_ms": percentile(&latencies, 0.5),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": percentile(&latencies, 1.0),
        "note": "from the WriteFile call to the watcher's receipt of its change; one write at a time",
    }));

    // Throughput: 16 writers at once; events delivered per second over all
    // watchers until the last has the last change.
    let flood = writes * 4;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (client, ns) = (client.clone(), ns.clone());
        tasks.push(tokio::spawn(async move {
            for i in (w..flood).step_by(16) {
                write(&client, &ns, format!("flood-{w}-f{i}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let committed = start.elapsed().as_secs_f64();
    // Every path is at the top: one change per write, no directories.
    let last = (writes + flood) as u64;
    for s in &seen {
        all_seen(s, last).await;
    }
    let delivered = start.elapsed().as_secs_f64();
    let events = flood * watcher_count;
    emit(json!({
        "figure": "watch_throughput",
        "backend": "filesystem",
        "watchers": watcher_count,
        "writers": 16,
        "writes": flood,
        "writes_per_s": (flood as f64 / committed).round(),
        "events_delivered_per_s": (events as f64 / delivered).round(),
        "caught_up_after_last_write_ms": round2((delivered - committed) * 1000.0),
    }));
}

pub async fn archives(files: usize, total_mib: u64, runs: usize) {
    use pb::export_archive_response::Message as Piece;
    use pb::import_archive_request::Message as In;
    let dir = crate::Scratch::new();
    let process = start_arca(dir.path(), "filesystem");
    let client = connect(&process.addr).await;
    let source = workspace(&client, "archive-source").await;
    let file_bytes = (total_mib * MIB) as usize / files;
    metadata::fill(&client, &source, files, file_bytes).await;
    let bytes = (file_bytes * files) as u64;
    let single = workspace(&client, "archive-single").await;
    let tar = dir.path().join("export.tar");
    let (mut export_s, mut import_s) = (vec![], vec![]);
    let (mut upload_mb_s, mut download_mb_s) = (vec![], vec![]);
    for run in 0..runs {
        // Export into a file (as `arca export` does, without the fsync).
        let start = Instant::now();
        let mut stream = client
            .archives
            .clone()
            .export_archive(pb::ExportArchiveRequest {
                namespace_id: source.clone(),
                checkpoint_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tar).unwrap());
        while let Some(m) = stream.message().await.unwrap() {
            if let Some(Piece::Data(d)) = m.message {
                out.write_all(&d).unwrap();
            }
        }
        out.flush().unwrap();
        drop(out);
        export_s.push(start.elapsed().as_secs_f64());

        // Import it into a fresh namespace, from the file.
        let target = workspace(&client, &format!("archive-target-{run}")).await;
        let start = Instant::now();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(pb::ImportArchiveRequest {
            message: Some(In::Start(pb::ImportStart {
                namespace_id: target.clone(),
                ..Default::default()
            })),
        })
        .await
        .unwrap();
        let path = tar.clone();
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut file = tokio::fs::File::open(path).await.unwrap();
            loop {
                let mut piece = vec![0; 1 << 20];
                let n = file.read(&mut piece).await.unwrap();
                if n == 0 {
                    break;
                }
                piece.truncate(n);
                let message = pb::ImportArchiveRequest {
                    message: Some(In::Data(piece.into())),
                };
                if tx.send(message).await.is_err() {
                    break;
                }
            }
        });
        let imported = client
            .archives
            .clone()
            .import_archive(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        reader.await.unwrap();
        import_s.push(start.elapsed().as_secs_f64());
        assert_eq!(imported.files, files as u64);

        // The same bytes as one file, up and down.
        upload_mb_s.push(upload_once(&client, &single, "one.bin", total_mib).await);
        download_mb_s.push(download_once(&client, &single, "one.bin", total_mib).await);
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::MAX, f64::min);
    let top = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let (export, import) = (best(&export_s), best(&import_s));
    let (upload, download) = (top(&upload_mb_s), top(&download_mb_s));
    emit(json!({
        "figure": "archives",
        "backend": "filesystem",
        "files": files,
        "bytes": bytes,
        "runs": runs,
        "export_s": round2(export),
        "export_mb_s": mb_per_s(bytes, export),
        "import_s": round2(import),
        "import_mb_s": mb_per_s(bytes, import),
        "upload_one_file_mb_s": upload,
        "download_one_file_mb_s": download,
        "export_to_download": round2(mb_per_s(bytes, export) / download),
        "import_to_upload": round2(mb_per_s(bytes, import) / upload),
        "note": "best of the runs; export to a file, import from it; one-file figures are the same bytes through Upload and Download",
    }));
}
