//! The S3 backend when S3 fails: gone altogether, answering 5xx, or
//! stalling. An upload fails cleanly with nothing half-written visible,
//! resumes once the store is back, leaves no multipart upload behind, and
//! readiness reports NOT_SERVING while the bucket does not answer. The
//! stopped-server test uses its own moto server (ARCA_TEST_MOTO_SERVER,
//! which tests/run.sh sets) so that stopping it disturbs no other test; the
//! 5xx and stall tests put a fault proxy in front of the shared one.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use arca_tests::{Backend, TestServer, assert_code, pb, test_config};
use pb::upload_request::Message as In;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

fn start_moto(port: u16) -> Child {
    let binary = std::env::var("ARCA_TEST_MOTO_SERVER").expect("ARCA_TEST_MOTO_SERVER");
    Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto")
}

async fn wait_for(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto did not start");
}

async fn status(server: &TestServer) -> ServingStatus {
    let mut health = HealthClient::new(server.client.channel());
    health
        .check(HealthCheckRequest {
            service: "arca.v1.FileService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status()
}

async fn wait_status(server: &TestServer, want: ServingStatus) {
    for _ in 0..80 {
        if status(server).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("readiness never became {want:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_going_away_commits_nothing_and_readiness_follows() {
    if std::env::var("ARCA_TEST_MOTO_SERVER").is_err() {
        eprintln!("ARCA_TEST_MOTO_SERVER is not set: run through tests/run.sh");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut moto = start_moto(port);
    wait_for(port).await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Memory, dir.path());
    let base = arca_tests::s3_config(dir.path(), &endpoint, "faults/", 2, 5);
    config.backends = base.backends;
    config.default_backend = base.default_backend;
    arca_tests::ensure_s3_bucket_at(&endpoint).await;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    wait_status(&server, ServingStatus::Serving).await;

    // An upload that has sent a part when S3 goes away.
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "doomed.bin".into(),
        ..Default::default()
    };
    let (stream, _) = arca_tests::UploadStream::open(&server, In::Start(start))
        .await
        .unwrap();
    let (tx, mut answers) = (stream.tx, stream.rx);
    for i in 0..6u64 {
        tx.send(pb::UploadRequest {
            message: Some(In::Data(pb::UploadData {
                offset: i << 20,
                data: vec![i as u8; 1 << 20].into(),
            })),
        })
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    moto.kill().unwrap();
    moto.wait().unwrap();
    for i in 6..8u64 {
        let _ = tx
            .send(pb::UploadRequest {
                message: Some(In::Data(pb::UploadData {
                    offset: i << 20,
                    data: vec![i as u8; 1 << 20].into(),
                })),
            })
            .await;
    }
    let _ = tx
        .send(pb::UploadRequest {
            message: Some(In::Finish(pb::UploadFinish::default())),
        })
        .await;
    drop(tx);
    let mut ended = Ok(());
    loop {
        match answers.message().await {
            Ok(Some(pb::UploadResponse {
                message: Some(pb::upload_response::Message::Committed(e)),
            })) => panic!("committed without S3: {e:?}"),
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(status) => {
                ended = Err(status);
                break;
            }
        }
    }
    let status_code = ended.expect_err("the upload must fail").code();
    assert_eq!(
        status_code,
        Code::Unavailable,
        "a backend that is down is UNAVAILABLE"
    );
    assert_code(
        server
            .client
            .files
            .clone()
            .stat(pb::StatRequest {
                namespace_id: ns.clone(),
                path: "doomed.bin".into(),
            })
            .await,
        Code::NotFound,
    );
    // Small writes fail cleanly too, and leave nothing visible.
    assert_code(
        server.try_write(&ns, "small", b"x").await,
        Code::Unavailable,
    );
    assert_code(
        server
            .client
            .files
            .clone()
            .stat(pb::StatRequest {
                namespace_id: ns.clone(),
                path: "small".into(),
            })
            .await,
        Code::NotFound,
    );
    wait_status(&server, ServingStatus::NotServing).await;

    // S3 back: ready again, and writes work.
    let mut moto = start_moto(port);
    wait_for(port).await;
    arca_tests::ensure_s3_bucket_at(&endpoint).await;
    wait_status(&server, ServingStatus::Serving).await;
    server.write(&ns, "after", b"back").await;
    assert_eq!(server.read(&ns, "after").await.unwrap(), b"back");
    moto.kill().unwrap();
    let _ = moto.wait();
}

/// How an upload stream goes: sends 1 MiB chunks of `data` from the offset
/// the server accepts at, up to `to`, then `finish` if asked. Returns the
/// upload id, the last persisted offset seen and how the stream ended.
/// Without `finish` the client leaves after the data (a half-closed stream:
/// the server keeps what it made durable and says how much).
async fn upload_through(
    server: &TestServer,
    first: In,
    data: &[u8],
    to: usize,
    finish: bool,
) -> (String, u64, Result<pb::Entry, tonic::Status>) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::UploadRequest {
        message: Some(first),
    })
    .await
    .unwrap();
    let mut answers = match server
        .client
        .files
        .clone()
        .upload(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
    {
        Ok(answers) => answers.into_inner(),
        Err(status) => return (String::new(), 0, Err(status)),
    };
    let (id, mut persisted) = match answers.message().await {
        Ok(Some(pb::UploadResponse {
            message: Some(pb::upload_response::Message::Accepted(a)),
        })) => (a.upload_id, a.persisted_offset),
        Ok(other) => panic!("expected accepted, got {other:?}"),
        Err(status) => return (String::new(), 0, Err(status)),
    };
    let sender = {
        let data = data.to_vec();
        let from = persisted as usize;
        tokio::spawn(async move {
            for at in (from..to).step_by(1 << 20) {
                let end = (at + (1 << 20)).min(to);
                let message = In::Data(pb::UploadData {
                    offset: at as u64,
                    data: data[at..end].to_vec().into(),
                });
                if tx
                    .send(pb::UploadRequest {
                        message: Some(message),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if finish {
                let _ = tx
                    .send(pb::UploadRequest {
                        message: Some(In::Finish(pb::UploadFinish::default())),
                    })
                    .await;
                tx.closed().await;
            }
            // Without finish the stream ends here: the client leaves.
        })
    };
    let ended = loop {
        match answers.message().await {
            Ok(Some(pb::UploadResponse {
                message: Some(pb::upload_response::Message::Progress(p)),
            })) => persisted = p.persisted_offset,
            Ok(Some(pb::UploadResponse {
                message: Some(pb::upload_response::Message::Committed(e)),
            })) => break Ok(e),
            Ok(Some(_)) => {}
            Ok(None) => break Err(tonic::Status::unknown("stream ended without a commit")),
            Err(status) => break Err(status),
        }
    };
    sender.abort();
    (id, persisted, ended)
}

/// A store that answers 5xx, then one that stalls: the upload fails with
/// UNAVAILABLE and nothing is visible; once the store is back it resumes
/// from the persisted offset and commits exactly the content; no multipart
/// upload is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_answering_5xx_or_stalling_fails_cleanly_and_resumes() {
    let Some(endpoint) = arca_tests::s3_endpoint() else {
        eprintln!("ARCA_TEST_S3_ENDPOINT is not set: run through tests/run.sh");
        return;
    };
    arca_tests::ensure_s3_bucket_at(&endpoint).await;
    let target: std::net::SocketAddr = endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("a loopback S3 endpoint");
    let proxy = arca_tests::FaultProxy::start(target).await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let prefix = format!("faultproxy-{}/", arca_server::ids::new_id());
    let mut config = test_config(Backend::Memory, dir.path());
    // Two attempts of at most two seconds each: the store is given up on
    // quickly, so the test is short.
    let base = arca_tests::s3_config(dir.path(), &format!("http://{}", proxy.addr), &prefix, 2, 2);
    config.backends = base.backends;
    config.default_backend = base.default_backend;
    let server = TestServer::start_with(config, dir.clone()).await;
    let ns = server.workspace().await;

    for (fault, path) in [
        (arca_tests::Fault::Unavailable, "five-xx.bin"),
        (arca_tests::Fault::Stall, "stalled.bin"),
    ] {
        let data = arca_tests::pattern(12 * 1024 * 1024 + 5, path.len() as u8);
        let start = In::Start(pb::UploadStart {
            namespace_id: ns.clone(),
            path: path.into(),
            total_size: Some(data.len() as u64),
            ..Default::default()
        });
        // Six MiB, then the client leaves: the server keeps what reached
        // the store in whole parts (one 5 MiB part), resumable.
        let (id, persisted, _) = upload_through(&server, start, &data, 6 << 20, false).await;
        assert!(persisted >= 5 << 20, "{persisted}");
        proxy.set(fault);
        let resume = || {
            In::Resume(pb::UploadResume {
                upload_id: id.clone(),
            })
        };
        // The stream's hold on the upload ends a moment after it is left.
        let mut ended = Err(tonic::Status::aborted("not tried"));
        for _ in 0..50 {
            ended = upload_through(&server, resume(), &data, data.len(), true)
                .await
                .2;
            match &ended {
                Err(status) if status.code() == Code::Aborted => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                _ => break,
            }
        }
        let status = ended.expect_err("an upload through a failing store must fail");
        assert_eq!(status.code(), Code::Unavailable, "{fault:?}: {status:?}");
        assert_code(
            server
                .client
                .files
                .clone()
                .stat(pb::StatRequest {
                    namespace_id: ns.clone(),
                    path: path.into(),
                })
                .await,
            Code::NotFound,
        );

        // The store is back: resume from what was persisted, and commit.
        proxy.set(arca_tests::Fault::Pass);
        let mut committed = None;
        for _ in 0..50 {
            match upload_through(&server, resume(), &data, data.len(), true)
                .await
                .2
            {
                Ok(entry) => {
                    committed = Some(entry);
                    break;
                }
                Err(status) if status.code() == Code::Aborted => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(status) => panic!("{fault:?}: resuming failed: {status:?}"),
            }
        }
        let entry = committed.expect("the upload resumed and committed");
        assert_eq!(entry.size, data.len() as u64);
        assert_eq!(entry.sha256, arca_tests::sha256(&data));
        assert_eq!(
            server
                .client
                .download(pb::DownloadRequest {
                    namespace_id: ns.clone(),
                    path: path.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .data,
            data
        );
    }

    // No multipart upload is left under the test prefix.
    let direct = arca_tests::s3_store(&prefix).await;
    use arca_server::blobs::BlobStore;
    let left: Vec<String> = direct
        .list("")
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "multipart uploads left behind: {left:?}");
}
