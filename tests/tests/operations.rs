//! Operations: the Prometheus endpoint serves every series after a few
//! calls, on its own port, without a credential.

use std::sync::Arc;
use std::time::Duration;

use arca_tests::{Backend, TestServer, free_port, http, test_config};

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_serve_every_series() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Filesystem, dir.path());
    let port = free_port();
    config.metrics.listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    server.write(&ns, "a.txt", b"hello metrics").await;
    assert_eq!(server.read(&ns, "a.txt").await.unwrap(), b"hello metrics");
    let _ = server.read(&ns, "missing.txt").await;
    let signed = server
        .client
        .presign_download(&ns, "a.txt", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(http("GET", &signed.url, &[], Vec::new()).await.status, 200);
    // Let the reclaimer run a pass (interval 1 s in tests).
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let answer = http(
        "GET",
        &format!("http://127.0.0.1:{port}/metrics"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(answer.status, 200);
    let text = String::from_utf8(answer.body).unwrap();
    let ok_writes = sample(
        &text,
        r#"arca_requests_total{rpc="arca.v1.FileService/WriteFile",code="Ok"}"#,
    );
    assert!(ok_writes.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        sample(
            &text,
            r#"arca_requests_total{rpc="arca.v1.FileService/ReadFile",code="NotFound"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"arca_requests_total{rpc="presigned.download",code="200"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    for series in [
        r#"arca_request_duration_seconds_bucket{le="0.001",rpc="arca.v1.FileService/WriteFile"}"#,
        r#"arca_received_bytes_total{rpc="arca.v1.FileService/WriteFile"}"#,
        r#"arca_sent_bytes_total{rpc="arca.v1.FileService/ReadFile"}"#,
        r#"arca_active_requests{rpc="arca.v1.FileService/ReadFile"}"#,
        "arca_attached_uploads ",
        "arca_backend_errors_total ",
        "arca_s3_retries_total ",
        "arca_s3_attempt_failures_total ",
        "arca_reclaim_passes_total ",
        "arca_reclaim_failures_total ",
        "arca_reclaim_deleted_objects_total ",
        "arca_reclaim_expired_uploads_total ",
        "arca_metadata_bytes ",
    ] {
        assert!(sample(&text, series).is_some(), "no {series} in\n{text}");
    }
    assert!(sample(&text, "arca_metadata_bytes ").unwrap() > 0.0);
    assert!(sample(&text, "arca_reclaim_passes_total ").unwrap() >= 1.0);
    // Bytes written went in; bytes read came out.
    assert!(
        sample(
            &text,
            r#"arca_received_bytes_total{rpc="arca.v1.FileService/WriteFile"}"#
        )
        .unwrap()
            >= 13.0
    );
}
