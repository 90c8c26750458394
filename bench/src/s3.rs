//! The S3 backend against moto (from the test command's venv), with the
//! filesystem backend's figures from the same run beside it.

use super::*;

pub async fn s3_backend(size_mib: u64, small: usize) {
    let venv = std::env::var("ARCA_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/arca-test-venv")
        });
    let moto = venv.join("bin/moto_server");
    if !moto.exists() {
        emit(
            json!({"figure": "s3", "skipped": format!("no moto_server in {} (run bash tests/run.sh once)", venv.display())}),
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut moto = Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let _ = S3_ENDPOINT.set(endpoint.clone());
    let store = arca_server::blobs::s3::S3Store::open(arca_server::blobs::s3::S3Settings {
        bucket: "arca-bench".into(),
        prefix: String::new(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint),
        path_style: true,
        static_credentials: Some(("bench".into(), "bench".into())),
        sse: None,
        sse_kms_key_id: None,
        part_size: 8 << 20,
        part_concurrency: 4,
        max_attempts: 3,
        attempt_timeout: std::time::Duration::from_secs(10),
    })
    .await
    .unwrap();
    store.ensure_bucket().await.unwrap();
    let mut figures = serde_json::Map::new();
    for backend in ["s3", "filesystem"] {
        let dir = crate::Scratch::new();
        let process = start_arca(dir.path(), backend);
        let client = connect(&process.addr).await;
        let ns = workspace(&client, "s3bench").await;
        let up = upload_once(&client, &ns, "big.bin", size_mib).await;
        let down = download_once(&client, &ns, "big.bin", size_mib).await;
        let (writes, reads) = small_round(&client, &ns, small).await;
        figures.insert(
            backend.to_owned(),
            json!({"upload_mb_s": up, "download_mb_s": down, "writes_per_s": writes.round(), "reads_per_s": reads.round(), "server_peak_rss_mib": process.peak_rss_mib()}),
        );
    }
    let _ = moto.kill();
    let _ = moto.wait();
    emit(
        json!({"figure": "s3_backend", "s3_server": "moto (in memory, Python)", "size_mib": size_mib, "small_files": small, "figures": figures}),
    );
}

/// `small` 1 KiB writes then reads by 16 callers; (writes/s, reads/s).
async fn small_round(client: &Client, ns: &str, small: usize) -> (f64, f64) {
    let callers = 16;
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let (client, ns) = (client.clone(), ns.to_owned());
            tokio::spawn(async move {
                for i in (c..small).step_by(callers) {
                    let mut data = vec![7u8; 1024];
                    data[..8].copy_from_slice(&(i as u64).to_le_bytes());
                    let r = pb::WriteFileRequest {
                        namespace_id: ns.clone(),
                        path: format!("s/{i}"),
                        data: data.into(),
                        ..Default::default()
                    };
                    client.files.clone().write_file(r).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let writes = small as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let (client, ns) = (client.clone(), ns.to_owned());
            tokio::spawn(async move {
                for i in (c..small).step_by(callers) {
                    let r = pb::ReadFileRequest {
                        namespace_id: ns.clone(),
                        path: format!("s/{i}"),
                        ..Default::default()
                    };
                    client.files.clone().read_file(r).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (writes, small as f64 / start.elapsed().as_secs_f64())
}
