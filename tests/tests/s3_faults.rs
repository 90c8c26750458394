//! The S3 backend when S3 goes away: an upload fails cleanly with nothing
//! half-written visible, and readiness reports NOT_SERVING until the bucket
//! answers again. Uses its own moto server (ARCA_TEST_MOTO_SERVER, which
//! tests/run.sh sets) so that stopping it disturbs no other test.

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
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tx.send(pb::UploadRequest {
        message: Some(In::Start(pb::UploadStart {
            namespace_id: ns.clone(),
            path: "doomed.bin".into(),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut answers = server
        .client
        .files
        .clone()
        .upload(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    answers.message().await.unwrap();
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
