//! AbortUpload on every backend: a broken streamed upload and a presigned
//! one end at once (staged bytes gone, nothing committed, the id dead), an
//! upload a stream holds is ABORTED, and another user's or an unknown id
//! gets the one same NOT_FOUND.

use std::time::Duration;

use arca_tests::{
    Backend, TestServer, UploadStream, assert_code, http, on_every_backend, pattern, pb, sha256,
};
use pb::upload_request::Message as In;
use tonic::Code;

const MIB: usize = 1 << 20;

async fn abort(server: &TestServer, secret: &str, id: &str) -> Result<u64, tonic::Status> {
    server
        .as_secret(secret)
        .files
        .abort_upload(pb::AbortUploadRequest {
            upload_id: id.into(),
        })
        .await
        .map(|r| r.into_inner().discarded_bytes)
}

async fn in_progress(server: &TestServer) -> u64 {
    server.stats().await.uploads_in_progress
}

/// Opens an upload stream and sends `content`, until the server has
/// received all of it; returns the stream and the upload id.
async fn half_upload(server: &TestServer, ns: &str, content: &[u8]) -> (UploadStream, String) {
    let start = pb::UploadStart {
        namespace_id: ns.into(),
        path: "big.bin".into(),
        total_size: Some(2 * content.len() as u64),
        ..Default::default()
    };
    let (mut stream, accepted) = UploadStream::open(server, In::Start(start)).await.unwrap();
    stream.send_all(0, content, MIB).await;
    stream.state(content.len()).await;
    (stream, accepted.upload_id)
}

async fn streamed_uploads_abort_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let content = pattern(6 * MIB, 4);
    let (stream, id) = half_upload(&server, &ns, &content).await;

    // Held by its stream: not now.
    assert_code(abort(&server, arca_tests::APP, &id).await, Code::Aborted);

    drop(stream);
    // The stream lets go of it when the server sees the stream end.
    let mut discarded = None;
    for _ in 0..200 {
        match abort(&server, arca_tests::APP, &id).await {
            Ok(bytes) => {
                discarded = Some(bytes);
                break;
            }
            Err(s) if s.code() == Code::Aborted => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(s) => panic!("abort: {s:?}"),
        }
    }
    let discarded = discarded.expect("the upload stayed held");
    assert!(
        discarded > 0 && discarded <= content.len() as u64,
        "{discarded}"
    );
    assert_eq!(in_progress(&server).await, 0);
    assert!(
        server.ls(&ns, "", true).await.is_empty(),
        "nothing committed"
    );

    // The id is dead: resume and abort again are NOT_FOUND.
    assert_code(abort(&server, arca_tests::APP, &id).await, Code::NotFound);
    let resumed = UploadStream::open(
        &server,
        In::Resume(pb::UploadResume {
            upload_id: id.clone(),
        }),
    )
    .await
    .map(|(_, accepted)| accepted);
    assert_code(resumed, Code::NotFound);
    // The same path uploads anew afterwards.
    let entry = server.write(&ns, "big.bin", b"fresh").await;
    assert_eq!(entry.sha256, sha256(b"fresh"));
}

async fn presigned_uploads_abort_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let plan = server
        .client
        .presign_upload(&ns, "in/p.bin", Some(1000), Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        abort(&server, arca_tests::APP, &plan.upload_id)
            .await
            .unwrap(),
        0
    );
    assert_eq!(in_progress(&server).await, 0);
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, None, Vec::new())
            .await,
        Code::NotFound,
    );
    // The server's own URLs take no body any more. S3 signed its URL
    // itself and cannot be told: what lands there is never committed and
    // the orphan sweep deletes it.
    let put = http(&plan.method, &plan.parts[0].url, &[], pattern(1000, 1)).await;
    if backend != Backend::S3 {
        assert!(put.status >= 400, "PUT after abort answered {}", put.status);
    }
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, None, Vec::new())
            .await,
        Code::NotFound,
    );
    assert!(server.ls(&ns, "", true).await.is_empty());
}

async fn aborts_of_others_and_unknown_ids_are_not_found(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let plan = server
        .client
        .presign_upload(&ns, "mine.bin", Some(10), Duration::from_secs(600))
        .await
        .unwrap();
    let (_, bob) = server.open_session("bob").await;
    let foreign = assert_code(abort(&server, &bob, &plan.upload_id).await, Code::NotFound);
    let unknown = assert_code(
        abort(&server, &bob, "0123456789abcdef0123456789abcdef").await,
        Code::NotFound,
    );
    assert_eq!(
        foreign.message().replace(&plan.upload_id, "ID"),
        unknown
            .message()
            .replace("0123456789abcdef0123456789abcdef", "ID"),
        "an id of someone else's upload must not be told from an unknown one"
    );
    assert_code(
        abort(&server, &bob, "not-an-id").await,
        Code::InvalidArgument,
    );
    assert_code(
        abort(&server, arca_tests::OTHER_APP, &plan.upload_id).await,
        Code::NotFound,
    );
    // Still there for its uploader.
    assert_eq!(in_progress(&server).await, 1);
    abort(&server, arca_tests::APP, &plan.upload_id)
        .await
        .unwrap();
}

on_every_backend!(
    streamed_uploads_abort_at_once,
    presigned_uploads_abort_at_once,
    aborts_of_others_and_unknown_ids_are_not_found,
);
