//! Presigned URLs, used with a plain HTTP client: download (whole and
//! ranged), upload then finalize (one PUT, or S3 multipart parts), on every
//! backend; and on the server's own endpoint (filesystem, memory), every
//! misuse refused: expired, tampered, another method, another object.

use std::sync::Arc;
use std::time::Duration;

use arca_tests::{
    Backend, HttpAnswer, TestServer, assert_code, http, on_every_backend, pattern, pb, sha256,
    test_config,
};
use tonic::Code;

const HOUR: Duration = Duration::from_secs(3600);

async fn get(url: &str, range: Option<&str>) -> HttpAnswer {
    let headers = range
        .map(|r| vec![("range".to_owned(), r.to_owned())])
        .unwrap_or_default();
    http("GET", url, &headers, Vec::new()).await
}

/// Sends `data` through an upload plan, part by part; returns what
/// FinalizeUpload needs of a multipart plan (each part's ETag).
async fn put_plan(plan: &pb::PresignUploadResponse, data: &[u8]) -> Vec<pb::UploadedPart> {
    let mut uploaded = Vec::new();
    let headers: Vec<(String, String)> = plan
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for part in &plan.parts {
        let body = if plan.parts.len() == 1 {
            data.to_vec()
        } else {
            data[part.offset as usize..(part.offset + part.length) as usize].to_vec()
        };
        let answer = http(&plan.method, &part.url, &headers, body).await;
        assert_eq!(
            answer.status,
            200,
            "part {}: {}",
            part.part_number,
            String::from_utf8_lossy(&answer.body)
        );
        if plan.parts.len() > 1 {
            uploaded.push(pb::UploadedPart {
                part_number: part.part_number,
                etag: answer.headers["etag"].clone(),
            });
        }
    }
    uploaded
}

async fn stat(server: &TestServer, ns: &str, path: &str) -> Result<pb::Entry, tonic::Status> {
    server
        .client
        .files
        .clone()
        .stat(pb::StatRequest {
            namespace_id: ns.into(),
            path: path.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn download_whole_and_ranged(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let data = pattern(3 * 1024 * 1024 + 11, 4);
    server.write(&ns, "docs/report.bin", &data).await;
    let signed = server
        .client
        .presign_download(&ns, "docs/report.bin", HOUR)
        .await
        .unwrap();
    assert_eq!(signed.method, "GET");
    assert_eq!(signed.entry.as_ref().unwrap().sha256, sha256(&data));

    let whole = get(&signed.url, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, data);
    let part = get(&signed.url, Some("bytes=1000-1999")).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, data[1000..2000]);
    let tail = get(&signed.url, Some("bytes=-10")).await;
    assert_eq!(tail.body, data[data.len() - 10..]);

    // The URL is bound to the object signed: an overwrite does not change
    // what it serves, and once the old content is reclaimed it is gone.
    server.write(&ns, "docs/report.bin", b"new content").await;
    let after = get(&signed.url, Some("bytes=0-9")).await;
    assert!(
        after.status == 404 || after.body == data[..10],
        "an overwrite changed what a signed URL serves"
    );
    let mut gone = false;
    for _ in 0..100 {
        if get(&signed.url, Some("bytes=0-9")).await.status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "reclaimed content is still served");
}

async fn upload_then_finalize(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    // Past the S3 test part size (5 MiB): a multipart plan there.
    let data = pattern(12 * 1024 * 1024 + 3, 8);
    let plan = server
        .client
        .presign_upload(&ns, "in/big.bin", Some(data.len() as u64), HOUR)
        .await
        .unwrap();
    assert_eq!(plan.method, "PUT");
    if backend == Backend::S3 {
        assert_eq!(plan.parts.len(), 3, "a multipart plan on S3");
        assert_eq!(
            plan.parts.iter().map(|p| p.length).sum::<u64>(),
            data.len() as u64
        );
    } else {
        assert_eq!(plan.parts.len(), 1);
    }
    let parts = put_plan(&plan, &data).await;
    assert_code(stat(&server, &ns, "in/big.bin").await, Code::NotFound);
    if parts.len() > 1 {
        // Every part must be named, with its own ETag.
        assert_code(
            server
                .client
                .finalize_upload(&plan.upload_id, None, parts[..1].to_vec())
                .await,
            Code::InvalidArgument,
        );
        let mut wrong = parts.clone();
        wrong[0].etag = wrong[1].etag.clone();
        assert_code(
            server
                .client
                .finalize_upload(&plan.upload_id, None, wrong)
                .await,
            Code::InvalidArgument,
        );
    } else {
        let stray = vec![pb::UploadedPart {
            part_number: 1,
            etag: "x".into(),
        }];
        assert_code(
            server
                .client
                .finalize_upload(&plan.upload_id, None, stray)
                .await,
            Code::InvalidArgument,
        );
    }
    assert_code(stat(&server, &ns, "in/big.bin").await, Code::NotFound);

    let entry = server
        .client
        .finalize_upload(&plan.upload_id, Some(&sha256(&data)), parts)
        .await
        .unwrap();
    assert_eq!(entry.size, data.len() as u64);
    assert_eq!(entry.sha256, sha256(&data));
    let read = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "in/big.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(read.data, data);
    // Finalized once: the id is spent.
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, None, vec![])
            .await,
        Code::NotFound,
    );

    // A URL used again after finalize cannot change the committed content.
    let small = server
        .client
        .presign_upload(&ns, "in/small.txt", None, HOUR)
        .await
        .unwrap();
    put_plan(&small, b"first").await;
    server
        .client
        .finalize_upload(&small.upload_id, None, vec![])
        .await
        .unwrap();
    let again = http("PUT", &small.parts[0].url, &[], b"second".to_vec()).await;
    assert!(again.status == 200 || again.status == 404);
    assert_eq!(server.read(&ns, "in/small.txt").await.unwrap(), b"first");

    // A URL used twice before finalize: the second body commits, with its
    // own digest (each PUT's digest stays with its own staged object).
    let twice = server
        .client
        .presign_upload(&ns, "in/twice.txt", None, HOUR)
        .await
        .unwrap();
    put_plan(&twice, b"the first body").await;
    put_plan(&twice, b"a second, longer body").await;
    let entry = server
        .client
        .finalize_upload(&twice.upload_id, None, vec![])
        .await
        .unwrap();
    assert_eq!(entry.sha256, sha256(b"a second, longer body"));
    assert_eq!(
        server.read(&ns, "in/twice.txt").await.unwrap(),
        b"a second, longer body"
    );
}

async fn finalize_refuses_bad_content(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let presign = |path: &'static str, size: Option<u64>| {
        let client = server.client.clone();
        let ns = ns.clone();
        async move { client.presign_upload(&ns, path, size, HOUR).await.unwrap() }
    };

    // Nothing uploaded yet: FAILED_PRECONDITION, and the upload stays.
    let plan = presign("a.txt", None).await;
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, None, vec![])
            .await,
        Code::FailedPrecondition,
    );
    put_plan(&plan, b"hello").await;
    // A wrong digest discards the upload and commits nothing.
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, Some(&sha256(b"other")), vec![])
            .await,
        Code::InvalidArgument,
    );
    assert_code(stat(&server, &ns, "a.txt").await, Code::NotFound);
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, None, vec![])
            .await,
        Code::NotFound,
    );

    // A size other than the declared one.
    let plan = presign("b.txt", Some(10)).await;
    put_plan(&plan, b"only seven").await;
    put_plan(&plan, b"seven!!").await;
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, None, vec![])
            .await,
        Code::InvalidArgument,
    );
    assert_code(stat(&server, &ns, "b.txt").await, Code::NotFound);

    // A malformed digest, an unknown id.
    assert_code(
        server
            .client
            .finalize_upload(&plan.upload_id, Some("xyz"), vec![])
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        server
            .client
            .finalize_upload("no-such-upload", None, vec![])
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        server
            .client
            .finalize_upload("0123456789abcdef0123456789abcdef", None, vec![])
            .await,
        Code::NotFound,
    );
}

async fn requests_are_validated_and_checked_like_reads_and_writes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "dir/file.txt", b"x").await;
    let files = server.client.presign.clone();
    let download = |path: &str, secs: u32| pb::PresignDownloadRequest {
        namespace_id: ns.clone(),
        path: path.into(),
        expires_in_secs: secs,
    };
    // Expiry beyond the maximum; a directory; a missing file; a bad path.
    assert_code(
        files
            .clone()
            .presign_download(download("dir/file.txt", 86_401))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        files.clone().presign_download(download("dir", 60)).await,
        Code::FailedPrecondition,
    );
    assert_code(
        files.clone().presign_download(download("nope", 60)).await,
        Code::NotFound,
    );
    assert_code(
        files.clone().presign_download(download("../x", 60)).await,
        Code::InvalidArgument,
    );
    // The reference's three choices are all accepted.
    for secs in [900, 3600, 86_400] {
        files
            .clone()
            .presign_download(download("dir/file.txt", secs))
            .await
            .unwrap();
    }
    // Uploads: a precondition that already fails, a bad digest, a directory.
    let upload = |path: &str| pb::PresignUploadRequest {
        namespace_id: ns.clone(),
        path: path.into(),
        ..Default::default()
    };
    assert_code(
        files
            .clone()
            .presign_upload(pb::PresignUploadRequest {
                precondition: Some(pb::Precondition {
                    condition: Some(pb::precondition::Condition::MustNotExist(true)),
                }),
                ..upload("dir/file.txt")
            })
            .await,
        Code::AlreadyExists,
    );
    assert_code(
        files
            .clone()
            .presign_upload(pb::PresignUploadRequest {
                expected_sha256: "not-hex".into(),
                ..upload("new.txt")
            })
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        files.clone().presign_upload(upload("dir")).await,
        Code::FailedPrecondition,
    );

    // Access: another user's session may neither read nor write alice's
    // workspace; another sandbox does not see it; no credential, no URL.
    let (_, bob) = server.open_session("bob").await;
    let bob = server.as_secret(&bob).presign;
    assert_code(
        bob.clone()
            .presign_download(download("dir/file.txt", 60))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        bob.clone().presign_upload(upload("evil.txt")).await,
        Code::PermissionDenied,
    );
    let other = server.as_secret(arca_tests::OTHER_APP).presign;
    assert_code(
        other
            .clone()
            .presign_download(download("dir/file.txt", 60))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        server
            .client
            .anonymous()
            .presign
            .presign_download(download("dir/file.txt", 60))
            .await,
        Code::Unauthenticated,
    );
    // A session may read, not write, its sandbox's SANDBOX-scope namespaces.
    let shared = server
        .namespace(pb::NamespaceType::Workspace, pb::Scope::Sandbox, "")
        .await;
    server
        .as_secret(arca_tests::ADMIN)
        .files
        .write_file(pb::WriteFileRequest {
            namespace_id: shared.clone(),
            path: "s.txt".into(),
            data: b"s".to_vec().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, carol) = server.open_session("carol").await;
    let carol = server.as_secret(&carol).presign;
    carol
        .clone()
        .presign_download(pb::PresignDownloadRequest {
            namespace_id: shared.clone(),
            path: "s.txt".into(),
            expires_in_secs: 60,
        })
        .await
        .unwrap();
    assert_code(
        carol
            .clone()
            .presign_upload(pb::PresignUploadRequest {
                namespace_id: shared.clone(),
                path: "t.txt".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    // Only a writer of the target finalizes; to others the upload is unknown.
    let plan = server
        .client
        .presign_upload(&ns, "mine.txt", None, HOUR)
        .await
        .unwrap();
    assert_code(
        bob.clone()
            .finalize_upload(pb::FinalizeUploadRequest {
                upload_id: plan.upload_id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    // A presigned upload is not resumable as a stream, nor the reverse.
    let mut stream = server
        .client
        .files
        .clone()
        .upload(futures::stream::iter(vec![pb::UploadRequest {
            message: Some(pb::upload_request::Message::Resume(pb::UploadResume {
                upload_id: plan.upload_id.clone(),
            })),
        }]))
        .await
        .map(tonic::Response::into_inner);
    let resumed = match &mut stream {
        Ok(s) => s.message().await.map(|_| ()),
        Err(status) => Err(status.clone()),
    };
    assert_code(resumed, Code::FailedPrecondition);
}

on_every_backend!(
    download_whole_and_ranged,
    upload_then_finalize,
    finalize_refuses_bad_content,
    requests_are_validated_and_checked_like_reads_and_writes,
);

/// The misuse suite for the URLs the server serves itself.
async fn own_urls_refuse_misuse(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "a.txt", b"content of a").await;
    server.write(&ns, "b.txt", b"content of b").await;
    let a = server
        .client
        .presign_download(&ns, "a.txt", HOUR)
        .await
        .unwrap();
    let b = server
        .client
        .presign_download(&ns, "b.txt", HOUR)
        .await
        .unwrap();
    assert!(
        a.url
            .starts_with(&format!("http://{}/presigned/v1/", server.addr))
    );
    assert_eq!(get(&a.url, None).await.body, b"content of a");
    let refused = |answer: HttpAnswer, why: &str| {
        assert_eq!(
            answer.status,
            403,
            "{why}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    };

    // Tampered: one signature digit, the expiry, a missing signature.
    let (base, query) = a.url.split_once('?').unwrap();
    let flipped = {
        let mut q = query.to_owned();
        let last = q.pop().unwrap();
        q.push(if last == '0' { '1' } else { '0' });
        format!("{base}?{q}")
    };
    refused(get(&flipped, None).await, "a flipped signature digit");
    let later = a.url.replace("expires=", "expires=9");
    refused(get(&later, None).await, "a changed expiry");
    refused(get(base, None).await, "no signature");
    // Another object: b's path with a's query.
    let b_base = b.url.split_once('?').unwrap().0;
    refused(
        get(&format!("{b_base}?{query}"), None).await,
        "another object",
    );
    // Another method: a download URL used to PUT.
    refused(
        http("PUT", &a.url, &[], b"overwrite".to_vec()).await,
        "a download URL used for PUT",
    );
    assert_eq!(server.read(&ns, "a.txt").await.unwrap(), b"content of a");
    // An upload URL used to GET, or for another upload.
    let up = server
        .client
        .presign_upload(&ns, "c.txt", None, HOUR)
        .await
        .unwrap();
    refused(
        get(&up.parts[0].url, None).await,
        "an upload URL used for GET",
    );
    let other_up = server
        .client
        .presign_upload(&ns, "d.txt", None, HOUR)
        .await
        .unwrap();
    let (up_base, _) = up.parts[0].url.split_once('?').unwrap();
    let (_, other_query) = other_up.parts[0].url.split_once('?').unwrap();
    refused(
        http(
            "PUT",
            &format!("{up_base}?{other_query}"),
            &[],
            b"x".to_vec(),
        )
        .await,
        "another upload's signature",
    );
    // A range past the end.
    let past = get(&a.url, Some("bytes=100-")).await;
    assert_eq!(past.status, 416);

    // Expired: signed for one second.
    let short = server
        .client
        .presign
        .clone()
        .presign_download(pb::PresignDownloadRequest {
            namespace_id: ns.clone(),
            path: "a.txt".into(),
            expires_in_secs: 1,
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = get(&short.url, None).await;
    refused(expired, "an expired URL");
}

/// An upload never finalized is discarded when its lease runs out: its
/// staged content goes (on S3, the multipart upload of a multipart plan is
/// aborted too), and finalize no longer knows it.
async fn unfinalized_uploads_are_reclaimed(backend: Backend) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config.presign.finalize_window_secs = 0;
    let s3_prefix = format!("{}/", dir.path().file_name().unwrap().to_string_lossy());
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    let plan = |path: &'static str, size: Option<u64>| {
        let presign = server.client.presign.clone();
        let ns = ns.clone();
        async move {
            presign
                .clone()
                .presign_upload(pb::PresignUploadRequest {
                    namespace_id: ns,
                    path: path.into(),
                    total_size: size,
                    expires_in_secs: 1,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let single = plan("never.txt", None).await;
    put_plan(&single, b"staged but never finalized").await;
    // A multipart plan on S3 (two parts of 5 MiB), of which one part came.
    let big = pattern(6 << 20, 3);
    let multi = plan("never-big.bin", Some(big.len() as u64)).await;
    let first = &multi.parts[0];
    let answer = http(
        "PUT",
        &first.url,
        &[],
        big[..first.length.max(1) as usize].to_vec(),
    )
    .await;
    assert_eq!(answer.status, 200);

    let stored = || async {
        match backend {
            Backend::Filesystem => server.blob_root().map(|root| {
                walk(&root)
                    .into_iter()
                    .filter(|p| p.contains("/objects/"))
                    .collect::<Vec<_>>()
            }),
            Backend::S3 => {
                use arca_server::blobs::BlobStore;
                let store = arca_tests::s3_store(&s3_prefix).await;
                Some(store.list("").await.unwrap())
            }
            Backend::Memory => None,
        }
    };
    if let Some(keys) = stored().await {
        assert_eq!(keys.len(), 2, "{keys:?}");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for upload in [&single.upload_id, &multi.upload_id] {
        let mut gone = false;
        for _ in 0..50 {
            match server.client.finalize_upload(upload, None, vec![]).await {
                Err(arca_client::ClientError::Status(s)) if s.code() == Code::NotFound => {
                    gone = true;
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert!(gone, "an expired presigned upload was still finalizable");
    }
    if stored().await.is_some() {
        let mut empty = false;
        for _ in 0..50 {
            if stored().await.is_some_and(|keys| keys.is_empty()) {
                empty = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            empty,
            "staged content of expired uploads stayed: {:?}",
            stored().await
        );
    }
    assert_code(stat(&server, &ns, "never.txt").await, Code::NotFound);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.to_string_lossy().into_owned());
            }
        }
    }
    out
}

mod by_backend {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_refuses_misuse() {
        own_urls_refuse_misuse(Backend::Memory).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filesystem_refuses_misuse() {
        own_urls_refuse_misuse(Backend::Filesystem).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_reclaims_unfinalized() {
        unfinalized_uploads_are_reclaimed(Backend::Memory).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filesystem_reclaims_unfinalized() {
        unfinalized_uploads_are_reclaimed(Backend::Filesystem).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn s3_reclaims_unfinalized() {
        if arca_tests::s3_endpoint().is_none() {
            eprintln!("ARCA_TEST_S3_ENDPOINT is not set: run through tests/run.sh");
            return;
        }
        arca_tests::ensure_s3_bucket_at(&arca_tests::s3_endpoint().unwrap()).await;
        unfinalized_uploads_are_reclaimed(Backend::S3).await;
    }

    /// The key persists: a URL signed before a restart works after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn urls_survive_a_restart() {
        let server = TestServer::start(Backend::Filesystem).await;
        let ns = server.workspace().await;
        server.write(&ns, "kept.txt", b"kept").await;
        let signed = server
            .client
            .presign_download(&ns, "kept.txt", HOUR)
            .await
            .unwrap();
        let old_addr = server.addr;
        let server = server.restart().await;
        let url = signed
            .url
            .replace(&old_addr.to_string(), &server.addr.to_string());
        assert_eq!(get(&url, None).await.body, b"kept");
    }
}
