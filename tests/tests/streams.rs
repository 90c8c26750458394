//! Upload and Download streams: round trips, ranges, several requests on one
//! stream, every protocol error, broken streams, resume (also across a
//! restart) and persistence, on every backend where it applies.

use arca_tests::{
    Backend, TestServer, UploadStream, assert_code, on_every_backend, pattern, pb, sha256,
};
use pb::upload_request::Message as In;
use pb::upload_response::Message as Out;
use tonic::Code;

const MIB: usize = 1 << 20;

/// What the backend reports persisted after `sent` bytes: everything on the
/// memory and filesystem backends; on S3 only whole parts (at least 5 MiB,
/// cut at chunk boundaries), never more than was sent.
fn assert_persisted(backend: Backend, persisted: u64, sent: u64) {
    if backend == Backend::S3 {
        assert!(persisted <= sent, "persisted {persisted} of {sent}");
        assert!(
            persisted == 0 || persisted >= 5 * MIB as u64,
            "S3 persists whole parts: {persisted}"
        );
    } else {
        assert_eq!(persisted, sent);
    }
}

fn start(ns: &str, path: &str) -> pb::UploadStart {
    pb::UploadStart {
        namespace_id: ns.into(),
        path: path.into(),
        ..Default::default()
    }
}

fn committed(answers: &[Out]) -> pb::Entry {
    match answers.last() {
        Some(Out::Committed(e)) => e.clone(),
        other => panic!("expected committed, got {other:?}"),
    }
}

async fn stat(server: &TestServer, ns: &str, path: &str) -> Result<pb::Entry, tonic::Status> {
    Ok(server
        .client
        .files
        .clone()
        .stat(pb::StatRequest {
            namespace_id: ns.into(),
            path: path.into(),
        })
        .await?
        .into_inner())
}

async fn resume_until_free(
    server: &TestServer,
    upload_id: &str,
) -> (UploadStream, pb::UploadAccepted) {
    // The broken stream's server side lets go of the upload a moment later.
    for _ in 0..200 {
        match UploadStream::open(
            server,
            In::Resume(pb::UploadResume {
                upload_id: upload_id.into(),
            }),
        )
        .await
        {
            Ok(opened) => return opened,
            Err(s) if s.code() == Code::Aborted => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            Err(s) => panic!("resume failed: {s}"),
        }
    }
    panic!("the upload stayed attached to its broken stream");
}

async fn upload_download_round_trip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let content = pattern(9 * MIB + 123, 5);
    let s = pb::UploadStart {
        mime_type: "application/x-tar".into(),
        total_size: Some(content.len() as u64),
        expected_sha256: sha256(&content),
        metadata: [("k".to_owned(), "v".to_owned())].into(),
        ..start(&ns, "big/archive.tar")
    };
    let (stream, accepted) = UploadStream::open(&server, In::Start(s)).await.unwrap();
    assert_eq!(accepted.persisted_offset, 0);
    assert_eq!(accepted.upload_id.len(), 32);
    assert!(accepted.lease_expires_at.is_some());
    stream.send_all(0, &content, MIB).await;
    let (answers, end) = stream.drain(true).await;
    end.unwrap();
    let progress: Vec<u64> = answers
        .iter()
        .filter_map(|m| {
            if let Out::Progress(p) = m {
                Some(p.persisted_offset)
            } else {
                None
            }
        })
        .collect();
    if backend == Backend::S3 {
        // Whole parts only, acknowledged while later ones are on their way
        // (part_concurrency): progress moves a part at a time, and a part
        // still in flight when the last chunk arrives is reported by the
        // commit alone.
        assert!(
            progress.windows(2).all(|w| w[0] < w[1])
                && progress.iter().all(|p| p % (5 * MIB as u64) == 0),
            "{progress:?}"
        );
    } else {
        // The fdatasync (filesystem) and the record's save (every backend)
        // run beside the stream: progress is reported when they end (at a
        // later chunk, or while the stream waits), so it may lag (a save
        // still running at `finish` is told by the commit alone;
        // `a_paused_client_hears_progress` pins that it is told), but it
        // only rises, at chunk boundaries (the last of which is the end of
        // the short last chunk, when a flush covering it ends before the
        // commit), from the first 4 MiB.
        let end = content.len() as u64;
        assert!(
            progress.first().is_none_or(|p| *p >= 4 * MIB as u64)
                && progress.windows(2).all(|w| w[0] < w[1])
                && progress
                    .iter()
                    .all(|p| (p % MIB as u64 == 0 && *p <= end) || *p == end),
            "{progress:?}"
        );
    }
    let entry = committed(&answers);
    assert_eq!(
        (entry.path.as_str(), entry.size, entry.sha256.clone()),
        ("big/archive.tar", content.len() as u64, sha256(&content))
    );
    assert_eq!(entry.mime_type, "application/x-tar");

    let got = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "big/archive.tar".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.data.len(), content.len());
    assert!(got.data == content);
    assert_eq!(got.sha256, sha256(&content));
    assert_eq!(got.header.entry.unwrap().version, entry.version);
    // The same content streamed to a writer.
    let mut sink = Vec::new();
    server
        .client
        .download_to(
            pb::DownloadRequest {
                namespace_id: ns.clone(),
                path: "big/archive.tar".into(),
                ..Default::default()
            },
            &mut sink,
        )
        .await
        .unwrap();
    assert!(sink == content);
}

/// A client that sends 12 MiB and then waits, sending nothing (not even a
/// state query), still hears progress up to what the backend made durable:
/// the stream reports a flush or part that ends while it is idle.
async fn a_paused_client_hears_progress(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let content = pattern(12 * MIB, 3);
    let (mut stream, _) = UploadStream::open(&server, In::Start(start(&ns, "paused.bin")))
        .await
        .unwrap();
    stream.send_all(0, &content, MIB).await;
    // Everything but S3's unfinished last part is durable and told.
    let expected = if backend == Backend::S3 {
        10 * MIB as u64
    } else {
        8 * MIB as u64
    };
    let heard = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            match stream.rx.message().await.unwrap().unwrap().message.unwrap() {
                Out::Progress(p) if p.persisted_offset >= expected => return p,
                Out::Progress(_) => {}
                other => panic!("expected progress, got {other:?}"),
            }
        }
    })
    .await
    .expect("progress reaches the client while it waits");
    assert!(heard.persisted_offset <= heard.received_offset);
    assert!(heard.received_offset <= 12 * MIB as u64);
    let (answers, end) = stream.drain(true).await;
    end.unwrap();
    assert_eq!(committed(&answers).sha256, sha256(&content));
}

async fn several_requests_on_one_download_stream(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let big = pattern(3 * MIB + 7, 1);
    server
        .client
        .upload_bytes(start(&ns, "big"), big.clone().into(), MIB)
        .await
        .unwrap();
    server.write(&ns, "small", b"small file").await;
    let requests = vec![
        pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "big".into(),
            offset: MIB as u64 - 3,
            length: MIB as u64 + 10,
            ..Default::default()
        },
        pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "small".into(),
            ..Default::default()
        },
        pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "big".into(),
            offset: 3 * MIB as u64,
            length: 1000,
            ..Default::default()
        },
        pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "big".into(),
            ..Default::default()
        },
    ];
    let expected: Vec<(&[u8], u64, String)> = vec![
        (&big[MIB - 3..2 * MIB + 7], big.len() as u64, sha256(&big)),
        (b"small file", 10, sha256(b"small file")),
        (&big[3 * MIB..], big.len() as u64, sha256(&big)),
        (&big[..], big.len() as u64, sha256(&big)),
    ];
    let mut rx = server
        .client
        .files
        .clone()
        .download(futures::stream::iter(requests.clone()))
        .await
        .unwrap()
        .into_inner();
    for (i, (want, total, digest)) in expected.into_iter().enumerate() {
        let header = match rx.message().await.unwrap().unwrap().message.unwrap() {
            pb::download_response::Message::Header(h) => h,
            other => panic!("request {i}: expected header, got {other:?}"),
        };
        assert_eq!(
            (header.offset, header.length, header.total_size),
            (requests[i].offset, want.len() as u64, total)
        );
        let mut got = Vec::new();
        let mut next = header.offset;
        loop {
            match rx.message().await.unwrap().unwrap().message.unwrap() {
                pb::download_response::Message::Data(d) => {
                    assert_eq!(d.offset, next, "chunks carry their offsets");
                    next += d.data.len() as u64;
                    got.extend_from_slice(&d.data);
                }
                pb::download_response::Message::Trailer(t) => {
                    assert_eq!(t.sha256, digest, "the trailer has the whole file's digest");
                    assert_eq!(t.bytes_sent, want.len() as u64);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(got == want, "request {i} content");
    }
    assert!(rx.message().await.unwrap().is_none());
}

async fn download_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let e = server.write(&ns, "f", b"0123456789").await;
    let req = |path: &str, offset: u64, version: Option<u64>| pb::DownloadRequest {
        namespace_id: ns.clone(),
        path: path.into(),
        offset,
        length: 0,
        if_version_match: version,
    };
    let check = |r: pb::DownloadRequest, code: Code| {
        let client = server.client.clone();
        async move {
            match client.download(r).await {
                Err(arca_client::ClientError::Status(s)) => assert_eq!(s.code(), code, "{s:?}"),
                other => panic!("expected {code:?}, got {other:?}"),
            }
        }
    };
    check(req("missing", 0, None), Code::NotFound).await;
    check(req("f", 11, None), Code::OutOfRange).await;
    check(req("f", 0, Some(e.version + 100)), Code::FailedPrecondition).await;
    check(req("../f", 0, None), Code::InvalidArgument).await;
    check(
        pb::DownloadRequest {
            namespace_id: "x".into(),
            ..req("f", 0, None)
        },
        Code::InvalidArgument,
    )
    .await;
    let exact = server
        .client
        .download(req("f", 10, Some(e.version)))
        .await
        .unwrap();
    assert!(exact.data.is_empty());
}

async fn digest_and_size_mismatch_commit_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let content = pattern(100_000, 2);

    let s = pb::UploadStart {
        expected_sha256: sha256(b"something else"),
        ..start(&ns, "digest")
    };
    let (stream, accepted) = UploadStream::open(&server, In::Start(s)).await.unwrap();
    stream.send_all(0, &content, 30_000).await;
    let (_, end) = stream.drain(true).await;
    assert_code(end, Code::InvalidArgument);
    assert_code(stat(&server, &ns, "digest").await, Code::NotFound);
    // Content known bad is discarded, not resumable.
    let resumed = UploadStream::open(
        &server,
        In::Resume(pb::UploadResume {
            upload_id: accepted.upload_id,
        }),
    )
    .await;
    assert!(
        matches!(resumed, Err(ref s) if s.code() == Code::NotFound || s.code() == Code::Aborted),
        "{:?}",
        resumed.err()
    );

    // Digest given only at finish.
    let (stream, _) = UploadStream::open(&server, In::Start(start(&ns, "late-digest")))
        .await
        .unwrap();
    stream.send_all(0, &content, 30_000).await;
    stream
        .send(In::Finish(pb::UploadFinish {
            expected_sha256: sha256(b"nope"),
        }))
        .await;
    let (_, end) = stream.drain(false).await;
    assert_code(end, Code::InvalidArgument);
    assert_code(stat(&server, &ns, "late-digest").await, Code::NotFound);

    // Too few bytes for the declared size.
    let s = pb::UploadStart {
        total_size: Some(100_001),
        ..start(&ns, "short")
    };
    let (stream, _) = UploadStream::open(&server, In::Start(s)).await.unwrap();
    stream.send_all(0, &content, 30_000).await;
    let (_, end) = stream.drain(true).await;
    assert_code(end, Code::InvalidArgument);
    assert_code(stat(&server, &ns, "short").await, Code::NotFound);

    // Too many bytes for the declared size.
    let s = pb::UploadStart {
        total_size: Some(50_000),
        ..start(&ns, "long")
    };
    let (stream, _) = UploadStream::open(&server, In::Start(s)).await.unwrap();
    stream.send_all(0, &content, 30_000).await;
    let (_, end) = stream.drain(true).await;
    assert_code(end, Code::InvalidArgument);
    assert_code(stat(&server, &ns, "long").await, Code::NotFound);

    // A bad expected digest is refused at start.
    let s = pb::UploadStart {
        expected_sha256: "not-hex".into(),
        ..start(&ns, "bad")
    };
    assert_code(
        UploadStream::open(&server, In::Start(s)).await.map(|_| ()),
        Code::InvalidArgument,
    );
    assert_eq!(server.ls(&ns, "", true).await, Vec::<String>::new());
}

async fn offsets_and_message_order(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let content = pattern(50_000, 4);

    // A gap: refused, and the upload stays resumable from what was persisted.
    let (stream, accepted) = UploadStream::open(&server, In::Start(start(&ns, "gap")))
        .await
        .unwrap();
    stream.data(0, &content[..10_000]).await;
    stream.data(20_000, &content[20_000..30_000]).await;
    let (_, end) = stream.drain(false).await;
    let status = assert_code(end, Code::InvalidArgument);
    assert!(status.message().contains("10000"), "{status:?}");
    assert_code(stat(&server, &ns, "gap").await, Code::NotFound);
    let (stream, resumed) = resume_until_free(&server, &accepted.upload_id).await;
    assert_persisted(backend, resumed.persisted_offset, 10_000);
    // An overlap: refused too.
    stream.data(5_000, &content[5_000..20_000]).await;
    let (_, end) = stream.drain(false).await;
    assert_code(end, Code::InvalidArgument);
    // Resume and finish properly.
    let (stream, resumed) = resume_until_free(&server, &accepted.upload_id).await;
    stream
        .send_all(resumed.persisted_offset as usize, &content, 7_000)
        .await;
    let (answers, end) = stream.drain(true).await;
    end.unwrap();
    assert_eq!(committed(&answers).sha256, sha256(&content));
    assert_eq!(server.read(&ns, "gap").await.unwrap(), content);

    // Data before start.
    let data_first = UploadStream::open(
        &server,
        In::Data(pb::UploadData {
            offset: 0,
            data: vec![1].into(),
        }),
    )
    .await;
    assert_code(data_first.map(|_| ()), Code::InvalidArgument);
    // Finish before start.
    assert_code(
        UploadStream::open(&server, In::Finish(pb::UploadFinish::default()))
            .await
            .map(|_| ()),
        Code::InvalidArgument,
    );
    // Start twice.
    let (stream, _) = UploadStream::open(&server, In::Start(start(&ns, "twice")))
        .await
        .unwrap();
    stream.send(In::Start(start(&ns, "twice"))).await;
    let (_, end) = stream.drain(false).await;
    assert_code(end, Code::InvalidArgument);
    // A chunk over the limit (4 MiB by default).
    let (stream, _) = UploadStream::open(&server, In::Start(start(&ns, "huge-chunk")))
        .await
        .unwrap();
    stream.data(0, &vec![0u8; 4 * MIB + 1]).await;
    let (_, end) = stream.drain(false).await;
    assert_code(end, Code::InvalidArgument);
    // Unknown and malformed upload ids.
    assert_code(
        UploadStream::open(
            &server,
            In::Resume(pb::UploadResume {
                upload_id: "0".repeat(32),
            }),
        )
        .await
        .map(|_| ()),
        Code::NotFound,
    );
    assert_code(
        UploadStream::open(
            &server,
            In::Resume(pb::UploadResume {
                upload_id: "../x".into(),
            }),
        )
        .await
        .map(|_| ()),
        Code::InvalidArgument,
    );
    // Bad targets are refused before any byte moves.
    assert_code(
        UploadStream::open(&server, In::Start(start(&ns, "../x")))
            .await
            .map(|_| ()),
        Code::InvalidArgument,
    );
    assert_code(
        UploadStream::open(&server, In::Start(start(&"e".repeat(32), "x")))
            .await
            .map(|_| ()),
        Code::PermissionDenied,
    );
    for path in ["huge-chunk", "twice"] {
        assert_code(stat(&server, &ns, path).await, Code::NotFound);
    }
}

async fn upload_preconditions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let v1 = server.write(&ns, "f", b"first").await;
    let must_not_exist = Some(pb::Precondition {
        condition: Some(pb::precondition::Condition::MustNotExist(true)),
    });
    let s = pb::UploadStart {
        precondition: must_not_exist,
        ..start(&ns, "f")
    };
    assert_code(
        UploadStream::open(&server, In::Start(s)).await.map(|_| ()),
        Code::AlreadyExists,
    );
    // A version precondition that holds at start but not at commit commits nothing.
    let if_v1 = Some(pb::Precondition {
        condition: Some(pb::precondition::Condition::IfVersionMatch(v1.version)),
    });
    let (stream, _) = UploadStream::open(
        &server,
        In::Start(pb::UploadStart {
            precondition: if_v1,
            ..start(&ns, "f")
        }),
    )
    .await
    .unwrap();
    stream.data(0, b"second").await;
    server.write(&ns, "f", b"concurrent").await;
    let (_, end) = stream.drain(true).await;
    assert_code(end, Code::FailedPrecondition);
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"concurrent");
}

async fn broken_stream_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let content = pattern(6 * MIB + 11, 8);
    let s = pb::UploadStart {
        total_size: Some(content.len() as u64),
        expected_sha256: sha256(&content),
        ..start(&ns, "resumed.bin")
    };
    let (mut stream, accepted) = UploadStream::open(&server, In::Start(s)).await.unwrap();
    stream.send_all(0, &content[..5 * MIB + 3], MIB / 2).await;
    let state = stream.state(5 * MIB + 3).await;
    assert_persisted(backend, state.persisted_offset, (5 * MIB + 3) as u64);
    // Cut the stream abruptly: the response side goes first (a reset).
    drop(stream.rx);
    drop(stream.tx);
    assert_code(stat(&server, &ns, "resumed.bin").await, Code::NotFound);
    assert!(
        server.ls(&ns, "", true).await.is_empty(),
        "nothing is visible before the commit"
    );

    let (stream, resumed) = resume_until_free(&server, &accepted.upload_id).await;
    assert_eq!(resumed.upload_id, accepted.upload_id);
    assert_eq!(resumed.persisted_offset, state.persisted_offset);
    stream
        .send_all(resumed.persisted_offset as usize, &content, MIB)
        .await;
    let (answers, end) = stream.drain(true).await;
    end.unwrap();
    assert_eq!(committed(&answers).sha256, sha256(&content));
    let got = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "resumed.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(got.data == content);
    // A finished upload cannot be resumed again.
    assert_code(
        UploadStream::open(
            &server,
            In::Resume(pb::UploadResume {
                upload_id: accepted.upload_id,
            }),
        )
        .await
        .map(|_| ()),
        Code::NotFound,
    );

    // Closing without finish (a clean half-close) also leaves it resumable,
    // and the last answer says how far it got.
    let (stream, accepted) = UploadStream::open(&server, In::Start(start(&ns, "paused")))
        .await
        .unwrap();
    stream.data(0, b"first half, ").await;
    let (answers, end) = stream.drain(false).await;
    end.unwrap();
    let Some(Out::Progress(last)) = answers.last() else {
        panic!("no final progress: {answers:?}")
    };
    assert_persisted(backend, last.persisted_offset, 12);
    let (stream, resumed) = resume_until_free(&server, &accepted.upload_id).await;
    assert_eq!(resumed.persisted_offset, last.persisted_offset);
    let whole = b"first half, second half";
    let from = resumed.persisted_offset as usize;
    stream.data(from, &whole[from..]).await;
    let (answers, end) = stream.drain(true).await;
    end.unwrap();
    assert_eq!(committed(&answers).size, 23);
    assert_eq!(
        server.read(&ns, "paused").await.unwrap(),
        b"first half, second half"
    );

    // One upload cannot be attached to two streams at once.
    let (stream, accepted) = UploadStream::open(&server, In::Start(start(&ns, "busy")))
        .await
        .unwrap();
    let second = UploadStream::open(
        &server,
        In::Resume(pb::UploadResume {
            upload_id: accepted.upload_id.clone(),
        }),
    )
    .await;
    assert_code(second.map(|_| ()), Code::Aborted);
    stream.drain(true).await.1.unwrap();
}

async fn resume_across_restart(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let content = pattern(5 * MIB + 99, 6);
    let s = pb::UploadStart {
        expected_sha256: sha256(&content),
        ..start(&ns, "restart.bin")
    };
    let (mut stream, accepted) = UploadStream::open(&server, In::Start(s)).await.unwrap();
    stream.send_all(0, &content[..3 * MIB], MIB).await;
    let state = stream.state(3 * MIB).await;
    assert_eq!(state.persisted_offset, 3 * MIB as u64);
    drop(stream);
    let server = server.restart().await;
    assert_code(stat(&server, &ns, "restart.bin").await, Code::NotFound);
    let (stream, resumed) = resume_until_free(&server, &accepted.upload_id).await;
    assert_eq!(resumed.persisted_offset, 3 * MIB as u64);
    stream.send_all(3 * MIB, &content, MIB).await;
    let (answers, end) = stream.drain(true).await;
    end.unwrap();
    assert_eq!(committed(&answers).sha256, sha256(&content));
    let got = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "restart.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(got.data == content);
}

async fn committed_data_survives_restart(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut expected = Vec::new();
    for i in 0..50 {
        let data = pattern(1000 + i, i as u8);
        server
            .write(&ns, &format!("dir{}/f{i}", i % 5), &data)
            .await;
        expected.push((format!("dir{}/f{i}", i % 5), data));
    }
    let big = pattern(2 * MIB + 1, 77);
    server
        .client
        .upload_bytes(start(&ns, "big"), big.clone().into(), MIB)
        .await
        .unwrap();
    let server = server.restart().await;
    for (path, data) in expected {
        assert_eq!(server.read(&ns, &path).await.unwrap(), data);
    }
    let got = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "big".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(got.data == big);
    let info = server
        .client
        .namespaces
        .clone()
        .get_namespace(pb::GetNamespaceRequest { namespace_id: ns })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.file_count, 51);
}

async fn expired_upload_lease_is_reclaimed(backend: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = arca_tests::test_config(backend, dir.path());
    config.uploads.lease_secs = 1;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    let (stream, accepted) = UploadStream::open(&server, In::Start(start(&ns, "abandoned")))
        .await
        .unwrap();
    stream.data(0, b"partial").await;
    stream.drain(false).await.1.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resumed = UploadStream::open(
        &server,
        In::Resume(pb::UploadResume {
            upload_id: accepted.upload_id,
        }),
    )
    .await;
    assert_code(resumed.map(|_| ()), Code::NotFound);
    if let Some(root) = server.blob_root() {
        let prefix = root.join(format!("grid/sb/user-alice/{ns}/objects"));
        let leftovers = || std::fs::read_dir(&prefix).map(|d| d.count()).unwrap_or(0);
        assert!(
            server.eventually(|| leftovers() == 0).await,
            "the expired upload's staged file stayed"
        );
    }
}

on_every_backend!(
    upload_download_round_trip,
    a_paused_client_hears_progress,
    several_requests_on_one_download_stream,
    download_errors,
    digest_and_size_mismatch_commit_nothing,
    offsets_and_message_order,
    upload_preconditions,
    broken_stream_resumes,
    expired_upload_lease_is_reclaimed,
);

// Memory content does not outlive the process, by design.
arca_tests::on_durable_backends!(resume_across_restart, committed_data_survives_restart);
