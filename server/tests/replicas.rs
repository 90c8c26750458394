//! Several real server processes sharing one PostgreSQL database (metadata)
//! and one S3 server (content), as the `ha` deployment runs them:
//!
//! - what one replica writes another reads; a session token and a
//!   presigned URL made on one work on another;
//! - an upload started on one, whose replica is killed with SIGKILL
//!   mid-stream, resumes on another with exact content, and is never
//!   attached to two streams at once;
//! - replicas racing precondition overwrites of one path: one winner a round;
//! - a checkpoint restore on one while another writes: each write wholly
//!   before or after it;
//! - the reclaimer's replica killed: another takes its turn, nothing live
//!   is deleted; the same content written on one while another's reclaimer
//!   deletes an unreferenced copy never leaves a dangling reference;
//! - a quota enforced across replicas writing at once;
//! - a watch on one replica sees another's commits.
//!
//! `database.rs` has PostgreSQL stopped and started under two replicas and
//! a redb deployment moved to PostgreSQL; `layouts.rs` the rolling update
//! across a change of the rows' layout.
//!
//! tests/run.sh starts the PostgreSQL and S3 servers these need.

mod support;

use std::time::{Duration, Instant};

use arca_client::{Client, pb};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use support::Process;
use support::cluster::{
    APP, Cluster, checkpoint, client, list, open_session, read, workspace, write,
};
use tonic::Code;

fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A plain HTTP/1.1 GET of `path_and_query` on `addr`: status and body.
async fn http_get(addr: &str, path_and_query: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_replica_writes_every_other_serves() {
    let cluster = Cluster::new("");
    let replicas: Vec<Process> = ["a", "b", "c"].iter().map(|n| cluster.start(n)).collect();
    let (a, b, c) = (
        client(&replicas[0], APP).await,
        client(&replicas[1], APP).await,
        client(&replicas[2], APP).await,
    );
    let ns = workspace(&a, "alice").await;
    write(&a, &ns, "docs/a.txt", b"from a", None).await.unwrap();
    // A volume every replica mounts (the filesystem backend on shared
    // storage): its presigned URLs are the server's own, signed with the
    // deployment's key.
    let on_shared_volume = a
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                sandbox: "sb".into(),
                user: "alice".into(),
                session: String::new(),
            }),
            backend: "volume".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    write(&a, &on_shared_volume, "docs/a.txt", b"from a", None)
        .await
        .unwrap();
    write(&c, &ns, "docs/c.txt", b"from c", None).await.unwrap();
    for other in [&a, &b, &c] {
        assert_eq!(read(other, &ns, "docs/a.txt").await.unwrap(), b"from a");
        assert_eq!(read(other, &ns, "docs/c.txt").await.unwrap(), b"from c");
    }
    assert_eq!(list(&b, &ns, "docs").await.len(), 2);

    // A session opened on A is a credential on B.
    let opened = open_session(&a, "alice").await;
    let on_b = client(&replicas[1], &opened.token).await;
    let session = on_b
        .sessions
        .clone()
        .get_session(pb::GetSessionRequest {
            session_id: String::new(),
        })
        .await
        .expect("B accepts A's session token")
        .into_inner();
    assert_eq!(session.session_id, opened.session.unwrap().session_id);

    // A URL signed by A is served by B (the key is the deployment's).
    let signed = a
        .presign
        .clone()
        .presign_download(pb::PresignDownloadRequest {
            namespace_id: on_shared_volume,
            path: "docs/a.txt".into(),
            expires_in_secs: 60,
        })
        .await
        .unwrap()
        .into_inner();
    let after_scheme = signed.url.trim_start_matches("http://");
    let path_and_query = &after_scheme[after_scheme.find('/').unwrap()..];
    let (status, body) = http_get(&replicas[1].addr, path_and_query).await;
    assert_eq!(
        status,
        200,
        "{} {}",
        signed.url,
        String::from_utf8_lossy(&body)
    );
    assert_eq!(body, b"from a");
}

/// Sends `start`, then `data` in 64 KiB chunks from `from`, on a raw Upload
/// stream; returns the upload id and the stream's sender and responses
/// once the server has persisted at least `persisted_at_least` bytes.
async fn upload_until_persisted(
    client: &Client,
    start: pb::upload_request::Message,
    data: &[u8],
    persisted_at_least: u64,
) -> (
    String,
    tokio::sync::mpsc::Sender<pb::UploadRequest>,
    tonic::Streaming<pb::UploadResponse>,
) {
    use pb::upload_request::Message as In;
    use pb::upload_response::Message as Out;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tx.send(pb::UploadRequest {
        message: Some(start),
    })
    .await
    .unwrap();
    let mut responses = client
        .files
        .clone()
        .upload(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let Some(Out::Accepted(accepted)) = responses.message().await.unwrap().unwrap().message else {
        panic!("expected accepted");
    };
    let mut offset = accepted.persisted_offset;
    for chunk in data[offset as usize..].chunks(64 << 10) {
        tx.send(pb::UploadRequest {
            message: Some(In::Data(pb::UploadData {
                offset,
                data: Bytes::copy_from_slice(chunk),
            })),
        })
        .await
        .unwrap();
        offset += chunk.len() as u64;
    }
    // Ask for the state: the server persists what it can (S3 keeps the
    // tail of a part back) and answers with progress.
    tx.send(pb::UploadRequest {
        message: Some(In::QueryState(pb::QueryState {})),
    })
    .await
    .unwrap();
    let persisted = async {
        loop {
            match responses.message().await.unwrap().unwrap().message {
                Some(Out::Progress(p)) if p.persisted_offset >= persisted_at_least => break,
                Some(Out::Progress(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), persisted)
        .await
        .expect("the server persists what it was sent");
    (accepted.upload_id, tx, responses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_on_another_replica_after_its_replica_is_killed() {
    let cluster = Cluster::new("");
    let mut a_process = cluster.start("a");
    let b_process = cluster.start("b");
    let (a, b) = (client(&a_process, APP).await, client(&b_process, APP).await);
    let ns = workspace(&a, "alice").await;
    // S3 persists whole parts (5 MiB here): send past the first one.
    let data = content(7, 12 << 20);
    let start = pb::upload_request::Message::Start(pb::UploadStart {
        namespace_id: ns.clone(),
        path: "big.bin".into(),
        total_size: Some(data.len() as u64),
        expected_sha256: hex::encode(Sha256::digest(&data)),
        ..Default::default()
    });
    // Half the content reaches A, a part of it persisted; the stream stays open.
    let (upload_id, held, _responses) =
        upload_until_persisted(&a, start, &data[..data.len() / 2], 5 << 20).await;

    // While A's stream holds it, B refuses a second stream on it.
    let resume = || {
        pb::upload_request::Message::Resume(pb::UploadResume {
            upload_id: upload_id.clone(),
        })
    };
    let second = b
        .resume(&upload_id, chunked(&data))
        .await
        .expect_err("two streams on one upload");
    assert!(
        second.to_string().contains("in use"),
        "B must refuse while A holds the upload: {second}"
    );

    // A dies mid-stream; once its lease lapses, B takes the upload over.
    a_process.kill();
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    let entry = loop {
        match b.resume(&upload_id, chunked(&data)).await {
            Ok(entry) => break entry,
            Err(e) if e.to_string().contains("in use") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("resume on B: {e}"),
        }
    };
    assert_eq!(entry.size, data.len() as u64);
    assert_eq!(entry.sha256, hex::encode(Sha256::digest(&data)));
    let downloaded = b
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "big.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(downloaded.data, data);
    // The upload is gone once committed: a further resume is refused.
    let again = upload_until_persisted_or_status(&b, resume()).await;
    assert_eq!(again, Code::NotFound);
}

/// `data` as a stream of 1 MiB chunks.
fn chunked(data: &[u8]) -> impl futures::Stream<Item = Bytes> + Send + 'static {
    let chunks: Vec<Bytes> = data.chunks(1 << 20).map(Bytes::copy_from_slice).collect();
    futures::stream::iter(chunks)
}

async fn upload_until_persisted_or_status(
    client: &Client,
    first: pb::upload_request::Message,
) -> Code {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::UploadRequest {
        message: Some(first),
    })
    .await
    .unwrap();
    let result = client
        .files
        .clone()
        .upload(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    match result {
        Err(status) => status.code(),
        Ok(response) => match response.into_inner().message().await {
            Err(status) => status.code(),
            Ok(_) => Code::Ok,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_precondition_overwrites_have_one_winner_a_round() {
    let cluster = Cluster::new("");
    let (pa, pb_) = (cluster.start("a"), cluster.start("b"));
    let (a, b) = (client(&pa, APP).await, client(&pb_, APP).await);
    let ns = workspace(&a, "alice").await;
    let mut version = write(&a, &ns, "race", b"round 0", None)
        .await
        .unwrap()
        .version;
    for round in 1..=20u32 {
        let condition = || {
            Some(pb::Precondition {
                condition: Some(pb::precondition::Condition::IfVersionMatch(version)),
            })
        };
        let (from_a, from_b) = (
            format!("round {round} by a").into_bytes(),
            format!("round {round} by b").into_bytes(),
        );
        let (ra, rb) = tokio::join!(
            write(&a, &ns, "race", &from_a, condition()),
            write(&b, &ns, "race", &from_b, condition()),
        );
        let (winner, content) = match (ra, rb) {
            (Ok(e), Err(s)) => {
                assert!(
                    matches!(s.code(), Code::FailedPrecondition | Code::Aborted),
                    "{s}"
                );
                (e, from_a)
            }
            (Err(s), Ok(e)) => {
                assert!(
                    matches!(s.code(), Code::FailedPrecondition | Code::Aborted),
                    "{s}"
                );
                (e, from_b)
            }
            (ra, rb) => panic!("round {round}: not exactly one winner: {ra:?} {rb:?}"),
        };
        assert!(winner.version > version);
        version = winner.version;
        assert_eq!(read(&b, &ns, "race").await.unwrap(), content);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_on_one_replica_is_atomic_to_writes_on_another() {
    let cluster = Cluster::new("");
    let (pa, pb_) = (cluster.start("a"), cluster.start("b"));
    let (a, b) = (client(&pa, APP).await, client(&pb_, APP).await);
    let ns = workspace(&a, "alice").await;
    for i in 0..200 {
        write(
            &a,
            &ns,
            &format!("tree/f{i:03}"),
            format!("v1 {i}").as_bytes(),
            None,
        )
        .await
        .unwrap();
    }
    let before = checkpoint(&a, &ns, "before").await;
    for i in (0..200).step_by(2) {
        write(&b, &ns, &format!("tree/f{i:03}"), b"v2", None)
            .await
            .unwrap();
    }
    // B writes new files one after another while A restores.
    let writer = {
        let (b, ns) = (b.clone(), ns.clone());
        tokio::spawn(async move {
            let mut acknowledged = 0u32;
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                write(&b, &ns, &format!("late/w{acknowledged:05}"), b"late", None)
                    .await
                    .unwrap();
                acknowledged += 1;
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restored = a
        .checkpoints
        .clone()
        .restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: before,
        })
        .await;
    if let Err(e) = restored {
        panic!("restore: {e}; A logged {:?}", pa.events("request failed"));
    }
    let written = writer.await.unwrap();
    // Every file the checkpoint held is as it was.
    for i in 0..200 {
        assert_eq!(
            read(&b, &ns, &format!("tree/f{i:03}")).await.unwrap(),
            format!("v1 {i}").as_bytes()
        );
    }
    // The late writes that survive are exactly those after the restore: a
    // suffix of the sequence (none half before and half after).
    let survivors: Vec<u32> = list(&a, &ns, "late")
        .await
        .iter()
        .map(|e| e.path.trim_start_matches("late/w").parse().unwrap())
        .collect();
    let first = survivors.first().copied().unwrap_or(written);
    assert_eq!(
        survivors,
        (first..written).collect::<Vec<_>>(),
        "late writes must be wholly before or after the restore"
    );
    assert!(first > 0, "the restore ran after some writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reclaimer_moves_on_when_its_replica_dies_and_deletes_nothing_live() {
    let cluster = Cluster::new("");
    let mut pa = cluster.start("a");
    assert!(
        pa.wait_for_log(
            "this replica took the background turn",
            Duration::from_secs(10)
        )
        .await,
        "the first replica takes the reclaimer's turn"
    );
    let pb_ = cluster.start("b");
    let (a, b) = (client(&pa, APP).await, client(&pb_, APP).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !pb_.logged("this replica took the background turn"),
        "one replica at a time reclaims"
    );
    let ns = workspace(&a, "alice").await;
    let mut live = Vec::new();
    for i in 0..20u64 {
        let data = content(100 + i, 3000);
        write(&a, &ns, &format!("keep/{i}"), &data, None)
            .await
            .unwrap();
        live.push((format!("keep/{i}"), data));
    }
    pa.kill();
    assert!(
        pb_.wait_for_log(
            "this replica took the background turn",
            Duration::from_secs(20)
        )
        .await,
        "the survivor takes the turn"
    );
    // Garbage made now is reclaimed by B.
    write(&b, &ns, "churn", &content(1, 5000), None)
        .await
        .unwrap();
    write(&b, &ns, "churn", &content(2, 5000), None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pb_.logged_report_with("deleted_objects: 1") {
        assert!(Instant::now() < deadline, "B reclaims the replaced object");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let B's passes (and A's leftovers' sweep) run, then check everything.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for (path, data) in &live {
        assert_eq!(&read(&b, &ns, path).await.unwrap(), data, "{path}");
    }
    assert_eq!(read(&b, &ns, "churn").await.unwrap(), content(2, 5000));
}

trait ReportLog {
    fn logged_report_with(&self, text: &str) -> bool;
}

impl ReportLog for Process {
    /// Whether a "reclaim pass" event's report contains `text`.
    fn logged_report_with(&self, text: &str) -> bool {
        self.events("reclaim pass").iter().any(|e| {
            e["fields"]["report"]
                .as_str()
                .is_some_and(|r| r.contains(text))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_written_again_while_the_reclaimer_deletes_a_copy_stays_readable() {
    let cluster = Cluster::new("");
    let pa = cluster.start("a");
    assert!(
        pa.wait_for_log(
            "this replica took the background turn",
            Duration::from_secs(10)
        )
        .await
    );
    let pb_ = cluster.start("b");
    let (a, b) = (client(&pa, APP).await, client(&pb_, APP).await);
    let ns = workspace(&a, "alice").await;
    // Each round: A stores content and removes it at once (its object is
    // queued for A's reclaimer, grace 0) while B stores the same content.
    for round in 0..30u64 {
        let data = content(1000 + round, 2048);
        write(&a, &ns, &format!("a/{round}"), &data, None)
            .await
            .unwrap();
        let mut files = a.files.clone();
        let remove = files.remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: format!("a/{round}"),
            recursive: false,
        });
        let path = format!("b/{round}");
        let (removed, written) = tokio::join!(remove, write(&b, &ns, &path, &data, None));
        removed.unwrap();
        written.unwrap();
    }
    // A's reclaimer has had its passes: every file B wrote reads whole.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for round in 0..30u64 {
        assert_eq!(
            read(&b, &ns, &format!("b/{round}")).await.unwrap(),
            content(1000 + round, 2048),
            "b/{round} lost its content"
        );
    }
    assert!(pa.logged("reclaim pass"), "the reclaimer ran meanwhile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_holds_across_replicas_writing_at_once() {
    let cluster = Cluster::new("[quotas.user]\nmax_bytes = 200000\n");
    let (pa, pb_) = (cluster.start("a"), cluster.start("b"));
    let (a, b) = (client(&pa, APP).await, client(&pb_, APP).await);
    let ns = workspace(&a, "alice").await;
    let writer = |client: Client, ns: String, name: &'static str| {
        tokio::spawn(async move {
            let mut accepted = 0u64;
            for i in 0..20u64 {
                let data = content(i + if name == "a" { 0 } else { 100 }, 10_000);
                match write(&client, &ns, &format!("{name}/{i}"), &data, None).await {
                    Ok(_) => accepted += 1,
                    Err(s) => assert_eq!(s.code(), Code::ResourceExhausted, "{s}"),
                }
            }
            accepted
        })
    };
    let (ta, tb) = (
        writer(a.clone(), ns.clone(), "a"),
        writer(b.clone(), ns.clone(), "b"),
    );
    let accepted = ta.await.unwrap() + tb.await.unwrap();
    assert_eq!(
        accepted, 20,
        "exactly the quota's worth of 10 kB files fits"
    );
    let stored: u64 = list(&b, &ns, "").await.iter().map(|e| e.size).sum();
    assert_eq!(stored, 200_000);
}

/// A watch on one replica sees what another commits (by polling the shared
/// log, `changes.poll_ms`), in order, each change once; a watcher that
/// moves to another replica resumes from its last revision exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_on_one_replica_sees_another_replicas_commits() {
    use pb::watch_namespace_response::Message as Out;
    let cluster = Cluster::new("[changes]\npoll_ms = 100\n");
    let (pa, pb_) = (cluster.start("a"), cluster.start("b"));
    let (a, b) = (client(&pa, APP).await, client(&pb_, APP).await);
    let ns = workspace(&a, "alice").await;
    let watch = |c: &Client, since: Option<u64>| {
        let (mut changes, ns) = (c.changes.clone(), ns.clone());
        async move {
            changes
                .watch_namespace(pb::WatchNamespaceRequest {
                    namespace_id: ns,
                    since_revision: since,
                    filter: None,
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let next_changes = |mut stream: tonic::Streaming<pb::WatchNamespaceResponse>, n: usize| async move {
        let mut got = Vec::new();
        while got.len() < n {
            let message = tokio::time::timeout(Duration::from_secs(10), stream.message())
                .await
                .expect("a change within 10 s")
                .unwrap()
                .unwrap();
            if let Some(Out::Change(c)) = message.message {
                got.push((c.revision, c.path));
            }
        }
        (got, stream)
    };
    let on_b = watch(&b, Some(0)).await;
    for i in 0..5 {
        write(&a, &ns, &format!("f{i}"), b"x", None).await.unwrap();
    }
    let (seen, stream) = next_changes(on_b, 3).await;
    drop(stream);
    assert_eq!(seen, [(1, "f0".into()), (2, "f1".into()), (3, "f2".into())]);
    // Moved to replica A, from the last revision seen on B.
    let on_a = watch(&a, Some(3)).await;
    write(&b, &ns, "f5", b"x", None).await.unwrap();
    let (rest, _) = next_changes(on_a, 3).await;
    assert_eq!(rest, [(4, "f3".into()), (5, "f4".into()), (6, "f5".into())]);
}
