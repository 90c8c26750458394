//! Bad input at the edges, each answered with a clear status: messages
//! over the size limit on every kind of call, upload ids that do not tell
//! whether they exist elsewhere, file paths that name a directory, an
//! upload whose namespace goes away, HTTP requests for nothing, and the
//! metadata file's mode.

use std::sync::Arc;

use arca_tests::{
    APP, Backend, OTHER_APP, TestServer, assert_code, drain, pattern, pb, run_upload, test_config,
    upload,
};
use tonic::Code;

/// A server whose messages are limited to 5 MiB (chunks and unary content
/// to 4 MiB, the defaults).
async fn limited() -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Memory, dir.path());
    config.limits.max_message_bytes = 5 << 20;
    TestServer::start_with(config, dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_ends_every_stream_with_a_status() {
    use pb::upload_request::Message as In;
    let server = limited().await;
    let ns = server.workspace().await;
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "big.bin".into(),
        ..Default::default()
    };
    // Upload: start, one 6 MiB data message, finish. Not OK: the limit.
    let requests = upload(
        In::Start(start.clone()),
        vec![
            In::Data(pb::UploadData {
                offset: 0,
                data: pattern(6 << 20, 1).into(),
            }),
            In::Finish(pb::UploadFinish::default()),
        ],
    );
    let (messages, end) = run_upload(&server.client, requests).await;
    let status = assert_code(end, Code::OutOfRange);
    assert!(status.message().contains("too large"), "{status:?}");
    assert!(
        !messages
            .iter()
            .any(|m| matches!(m.message, Some(pb::upload_response::Message::Committed(_)))),
        "committed: {messages:?}"
    );
    assert_code(
        server
            .client
            .files
            .clone()
            .stat(pb::StatRequest {
                namespace_id: ns.clone(),
                path: "big.bin".into(),
            })
            .await,
        Code::NotFound,
    );
    // The same as the first message.
    let requests = upload(
        In::Start(pb::UploadStart {
            path: "p".repeat(6 << 20),
            ..start.clone()
        }),
        vec![],
    );
    let (_, end) = run_upload(&server.client, requests).await;
    assert_code(end, Code::OutOfRange);
    // Download: a request with a 6 MiB path.
    let request = pb::DownloadRequest {
        namespace_id: ns.clone(),
        path: "p".repeat(6 << 20),
        ..Default::default()
    };
    let (messages, end) = drain(
        server
            .client
            .files
            .clone()
            .download(futures::stream::iter(vec![request]))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert!(messages.is_empty());
    assert_code(end, Code::OutOfRange);
    // Unary calls answer the same way.
    assert_code(
        server
            .client
            .files
            .clone()
            .write_file(pb::WriteFileRequest {
                namespace_id: ns.clone(),
                path: "w".into(),
                data: pattern(6 << 20, 2).into(),
                ..Default::default()
            })
            .await,
        Code::OutOfRange,
    );
    // Under the limit all is well.
    server.write(&ns, "small", b"fine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_id_answers_the_same_whether_or_not_it_exists_elsewhere() {
    use pb::upload_request::Message as In;
    let server = TestServer::start(Backend::Memory).await;
    let ns = server.workspace().await;
    // A live upload of sandbox "sb", left resumable.
    let requests = upload(
        In::Start(pb::UploadStart {
            namespace_id: ns.clone(),
            path: "mine.bin".into(),
            ..Default::default()
        }),
        vec![In::Data(pb::UploadData {
            offset: 0,
            data: pattern(1000, 3).into(),
        })],
    );
    let (messages, _) = run_upload(&server.client, requests).await;
    let Some(pb::upload_response::Message::Accepted(accepted)) = &messages[0].message else {
        panic!("not accepted: {messages:?}")
    };
    let live = accepted.upload_id.clone();
    let made_up = "0123456789abcdef0123456789abcdef".to_owned();
    let other = server.as_secret(OTHER_APP);
    let mut answers = Vec::new();
    for id in [&live, &made_up] {
        let resume = upload(
            In::Resume(pb::UploadResume {
                upload_id: id.clone(),
            }),
            vec![],
        );
        let (_, end) = run_upload(&other, resume).await;
        let resumed = assert_code(end, Code::NotFound);
        let finalized = assert_code(
            other
                .presign
                .clone()
                .finalize_upload(pb::FinalizeUploadRequest {
                    upload_id: id.clone(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
        answers.push((
            resumed.message().replace(id.as_str(), "ID"),
            finalized.message().replace(id.as_str(), "ID"),
        ));
    }
    assert_eq!(
        answers[0], answers[1],
        "the answers tell a live id from a made-up one"
    );
    // Its owner still resumes it.
    let resume = upload(In::Resume(pb::UploadResume { upload_id: live }), vec![]);
    let (messages, _) = run_upload(&server.as_secret(APP), resume).await;
    assert!(matches!(
        messages.first().and_then(|m| m.message.as_ref()),
        Some(pb::upload_response::Message::Accepted(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_no_route_serves_are_404() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(Backend::Memory).await;
    for path in ["/", "/nothing", "/presigned/v1/", "/arca.v1.FileService"] {
        let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: arca\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start(Backend::Filesystem).await;
    server.workspace().await; // the server has opened its metadata
    let mode = std::fs::metadata(server.config.metadata_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_path_with_a_trailing_slash_is_refused() {
    use pb::upload_request::Message as In;
    let server = TestServer::start(Backend::Memory).await;
    let ns = server.workspace().await;
    let status = assert_code(
        server.try_write(&ns, "trail/", b"x").await,
        Code::InvalidArgument,
    );
    assert!(status.message().contains("directory"), "{status:?}");
    let requests = upload(
        In::Start(pb::UploadStart {
            namespace_id: ns.clone(),
            path: "trail/".into(),
            ..Default::default()
        }),
        vec![],
    );
    let (_, end) = run_upload(&server.client, requests).await;
    assert_code(end, Code::InvalidArgument);
    assert!(
        server.ls(&ns, "", true).await.is_empty(),
        "nothing was written"
    );
    // A directory path may still end with '/'.
    server
        .client
        .files
        .clone()
        .mkdir(pb::MkdirRequest {
            namespace_id: ns.clone(),
            path: "dir/".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    server.write(&ns, "dir/f", b"x").await;
    assert_eq!(server.ls(&ns, "dir/", false).await, ["dir/f"]);
}

async fn an_upload_whose_namespace_is_destroyed_says_it_is_gone(backend: Backend) {
    use pb::upload_request::Message as In;
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "doomed.bin".into(),
        ..Default::default()
    };
    let (stream, _) = arca_tests::UploadStream::open(&server, In::Start(start))
        .await
        .expect("accepted");
    let (tx, mut answers) = (stream.tx, stream.rx);
    let send = |m: In| {
        let tx = tx.clone();
        async move {
            tx.send(pb::UploadRequest { message: Some(m) })
                .await
                .is_ok()
        }
    };
    send(In::Data(pb::UploadData {
        offset: 0,
        data: pattern(1 << 20, 5).into(),
    }))
    .await;
    send(In::QueryState(pb::QueryState {})).await;
    answers.message().await.unwrap().expect("progress");
    server
        .client
        .namespaces
        .clone()
        .destroy_namespace(pb::DestroyNamespaceRequest {
            namespace_id: ns.clone(),
        })
        .await
        .unwrap();
    send(In::Data(pb::UploadData {
        offset: 1 << 20,
        data: pattern(1 << 20, 6).into(),
    }))
    .await;
    send(In::Finish(pb::UploadFinish::default())).await;
    drop(tx);
    let (_, end) = drain(answers).await;
    let code = end.as_ref().map_err(|s| s.code()).unwrap_err();
    assert!(
        matches!(code, Code::NotFound | Code::PermissionDenied),
        "a destroyed namespace must not read as retryable: {end:?}"
    );
}

arca_tests::on_every_backend!(an_upload_whose_namespace_is_destroyed_says_it_is_gone);
