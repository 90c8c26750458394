//! The Arca benchmark: starts the server itself (the release `arca-server`
//! binary, as its own process, so its peak RSS is its own) and prints one
//! JSON line per figure.
//!
//! Figures, all in one run so they compare as ratios on a noisy machine:
//! 1. upload and download of a large file in 1 MiB chunks on the memory and
//!    filesystem backends, beside a bare tonic streaming echo of the same
//!    bytes (the transport's ceiling) and the disk's own durable write rate;
//! 2. small 1 KiB writes and reads by 64 concurrent callers;
//! 3. recursive List and Find over a workspace of 100,000 files;
//! 4. checkpoint create and restore on 10,000-file workspaces of 10 MiB and
//!    of 1 GiB (their cost must follow entries, not bytes);
//! 5. the S3 backend against moto, beside the filesystem backend;
//! 6. the mounts (WebDAV, FUSE) beside gRPC: see [`mounts`];
//! 7. the Python SDK: its 256 MiB transfer beside the Rust client's (in the
//!    transfer section), and 1 KiB store/retrieve by 64 asyncio tasks
//!    against a durable filesystem server beside the reference library
//!    (chuk-artifacts, in-process) on the same workload.
//! 8. forks of 10,000 files at 10 MiB and 1 GiB, and a cross-namespace copy
//!    of a large file beside its upload: see [`sharing`];
//! 9. the change feed (write-to-event latency with 100 watchers, events per
//!    second) and tar export and import of 1 GiB in 10,000 files beside the
//!    upload and download of the same bytes: see [`feed`];
//!
//! Usage: `cargo run --release -p arca-bench -- [--size-mib N] [--small N]
//! [--tree N] [--runs N] [--s3-size-mib N] [--s3-small N] [--python-small N]
//! [--only transfer|small|tree|checkpoints|s3|python|postgres|mounts|forks|feed|archives]`. Transfers run
//! `--runs` times (default 3), interleaved with their ceilings.
//! `ARCA_BENCH_SERVER=/path/to/arca-server` runs the figures against another
//! build (to compare two commits alternately in one session).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use arca_client::{Client, pb};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

mod feed;
mod metadata;
mod mounts;
mod postgres;
mod python;
mod s3;
mod sharing;

mod echo {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("arca.bench");
}

const MIB: u64 = 1 << 20;
/// The S3 test server the `s3` section started.
static S3_ENDPOINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// The app key the benchmark's servers are configured with.
const BENCH_SECRET: &str = "arca-bench-app-key";

struct Args {
    size_mib: u64,
    small: usize,
    tree: usize,
    only: Option<String>,
    runs: usize,
    s3_size_mib: u64,
    s3_small: usize,
    python_small: usize,
}

fn parse_args() -> (bool, Args) {
    let mut args = Args {
        size_mib: 1024,
        small: 20_000,
        tree: 100_000,
        runs: 3,
        s3_size_mib: 256,
        s3_small: 2000,
        python_small: 5000,
        only: None,
    };
    let mut echo_server = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--echo-server" => echo_server = true,
            "--size-mib" => {
                args.size_mib = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--size-mib N")
            }
            "--small" => args.small = it.next().and_then(|v| v.parse().ok()).expect("--small N"),
            "--tree" => args.tree = it.next().and_then(|v| v.parse().ok()).expect("--tree N"),
            "--only" => args.only = it.next(),
            "--runs" => args.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--s3-size-mib" => {
                args.s3_size_mib = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--s3-size-mib N")
            }
            "--s3-small" => {
                args.s3_small = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--s3-small N")
            }
            "--python-small" => {
                args.python_small = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--python-small N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    (echo_server, args)
}

/// The metadata engine the servers started now use: its label in the
/// figures, and the configuration that selects it.
static METADATA: std::sync::Mutex<(&str, String)> = std::sync::Mutex::new(("redb", String::new()));

fn emit(mut value: serde_json::Value) {
    if let Some(figure) = value.as_object_mut() {
        let engine = METADATA.lock().unwrap().0;
        figure.insert("metadata".into(), json!(engine));
    }
    println!("{value}");
    let _ = std::io::stdout().flush();
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    (bytes as f64 / 1e6 / secs * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A server process started by the benchmark.
struct Process {
    child: Child,
    addr: String,
}

impl Process {
    fn spawn(mut command: Command, marker: &str) -> Process {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.strip_prefix(marker) {
                break rest.trim().to_owned();
            }
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["fields"]["message"] == marker
            {
                break event["fields"]["address"].as_str().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Process { child, addr }
    }

    /// The process id.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far, in MiB (VmHWM).
    fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id())
    }
}

/// Peak resident set size of process `pid` so far, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    (kib / 1024.0 * 10.0).round() / 10.0
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn arca_server_binary() -> std::path::PathBuf {
    // Another build to compare with in the same run (an A/B of two commits
    // on this noisy machine); otherwise the one cargo builds now.
    if let Some(other) = std::env::var_os("ARCA_BENCH_SERVER") {
        return other.into();
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().join("arca-server");
    // Always ask cargo: a stale server binary would measure old code.
    {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--release", "-p", "arca-server"])
            .status()
            .expect("cargo build arca-server");
        assert!(status.success());
    }
    bin
}

fn start_arca(dir: &std::path::Path, backend: &str) -> Process {
    start_arca_at(dir, &dir.join("blobs"), backend)
}

/// A server with its data in `dir` and the filesystem backend's objects in
/// `blobs` (replicas of one deployment share it, as they share the
/// metadata database).
fn start_arca_at(dir: &std::path::Path, blobs: &std::path::Path, backend: &str) -> Process {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("arca.toml");
    let backends = match backend {
        "memory" => "[backends.memory]\nkind = \"memory\"\n".to_owned(),
        "s3" => {
            use std::os::unix::fs::PermissionsExt;
            let (id, secret) = (dir.join("s3-id"), dir.join("s3-secret"));
            for path in [&id, &secret] {
                std::fs::write(path, "bench").unwrap();
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            format!(
                "[backends.s3]\nkind = \"s3\"\nbucket = \"arca-bench\"\nendpoint = \"{}\"\npath_style = true\naccess_key_id_file = \"{}\"\nsecret_access_key_file = \"{}\"\n",
                S3_ENDPOINT.get().expect("the S3 test server's endpoint"),
                id.display(),
                secret.display()
            )
        }
        // The filesystem backend (the default) and a memory one beside it.
        "filesystem+memory" => format!(
            "[backends.filesystem]\nkind = \"filesystem\"\nroot = \"{}\"\n[backends.memory]\nkind = \"memory\"\n",
            blobs.display()
        ),
        _ => format!(
            "[backends.filesystem]\nkind = \"filesystem\"\nroot = \"{}\"\n",
            blobs.display()
        ),
    };
    let backend = backend.split('+').next().unwrap_or(backend);
    let metadata = METADATA.lock().unwrap().1.clone();
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[log]\nformat = \"json\"\nfilter = \"warn,arca_server::api=info\"\n[reclaim]\ngrace_secs = 0\ninterval_secs = 1\n{backends}[default_backend]\nall = \"{backend}\"\n[auth.keys.bench]\nsandbox = \"bench\"\nrole = \"app\"\nsecret_sha256 = \"{}\"\n{metadata}",
            dir.display(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(BENCH_SECRET.as_bytes())),
        ),
    )
    .unwrap();
    let mut command = Command::new(arca_server_binary());
    command.arg("--config").arg(&config);
    Process::spawn(command, "arca listening")
}

async fn connect(addr: &str) -> Client {
    Client::connect(format!("http://{addr}"), BENCH_SECRET)
        .await
        .expect("connect")
}

async fn workspace(client: &Client, user: &str) -> String {
    client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                sandbox: "bench".into(),
                user: user.into(),
                session: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id
}

fn one_mib_chunk() -> Bytes {
    Bytes::from(
        (0..MIB as usize)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

// ------------------------------------------------------------------ echo

mod echo_server {
    use std::pin::Pin;

    use bytes::Bytes;
    use futures::{Stream, StreamExt};
    use tonic::{Request, Response, Status, Streaming};

    use super::echo;

    pub struct EchoService;

    #[tonic::async_trait]
    impl echo::echo_server::Echo for EchoService {
        type SourceStream = Pin<Box<dyn Stream<Item = Result<echo::Chunk, Status>> + Send>>;

        async fn sink(
            &self,
            request: Request<Streaming<echo::Chunk>>,
        ) -> Result<Response<echo::Summary>, Status> {
            let mut stream = request.into_inner();
            let mut bytes = 0;
            while let Some(chunk) = stream.next().await {
                bytes += chunk?.data.len() as u64;
            }
            Ok(Response::new(echo::Summary { bytes }))
        }

        async fn source(
            &self,
            request: Request<echo::SourceRequest>,
        ) -> Result<Response<Self::SourceStream>, Status> {
            let r = request.into_inner();
            let data = Bytes::from(vec![7u8; r.chunk as usize]);
            let count = r.total / r.chunk;
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            tokio::spawn(async move {
                for i in 0..count {
                    if tx
                        .send(Ok(echo::Chunk {
                            offset: i * r.chunk,
                            data: data.clone(),
                        }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
            Ok(Response::new(Box::pin(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            )))
        }
    }

    /// Runs the echo server with Arca's transport settings.
    pub async fn run() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("ECHO_LISTENING {}", listener.local_addr().unwrap());
        let service = echo::echo_server::EchoServer::new(EchoService)
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(8 << 20)
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    }
}

/// The transport's ceiling: a bare tonic echo of the same bytes, in chunks
/// of the same size, with Arca's transport settings, as its own process.
struct Echo {
    _process: Process,
    client: echo::echo_client::EchoClient<tonic::transport::Channel>,
}

impl Echo {
    async fn start() -> Echo {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.arg("--echo-server");
        let process = Process::spawn(command, "ECHO_LISTENING");
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", process.addr))
            .unwrap()
            .tcp_nodelay(true)
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(8 << 20)
            .connect()
            .await
            .unwrap();
        let client = echo::echo_client::EchoClient::new(channel)
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        Echo {
            _process: process,
            client,
        }
    }

    async fn upload(&self, size_mib: u64) -> f64 {
        let mut client = self.client.clone();
        let chunk = one_mib_chunk();
        let start = Instant::now();
        let chunks = futures::stream::iter((0..size_mib).map(move |i| echo::Chunk {
            offset: i * MIB,
            data: chunk.clone(),
        }));
        assert_eq!(
            client.sink(chunks).await.unwrap().into_inner().bytes,
            size_mib * MIB
        );
        mb_per_s(size_mib * MIB, start.elapsed().as_secs_f64())
    }

    async fn download(&self, size_mib: u64) -> f64 {
        let mut client = self.client.clone();
        let start = Instant::now();
        let mut stream = client
            .source(echo::SourceRequest {
                total: size_mib * MIB,
                chunk: MIB,
            })
            .await
            .unwrap()
            .into_inner();
        let mut got = 0;
        while let Some(chunk) = stream.next().await {
            got += chunk.unwrap().data.len() as u64;
        }
        assert_eq!(got, size_mib * MIB);
        mb_per_s(got, start.elapsed().as_secs_f64())
    }
}

/// The disk's own durable write rate: the same bytes to a file, then fsync.
fn disk_durable_write(dir: &std::path::Path, size_mib: u64) -> f64 {
    let path = dir.join("disk-probe");
    let chunk = one_mib_chunk();
    let start = Instant::now();
    let mut file = std::fs::File::create(&path).unwrap();
    for _ in 0..size_mib {
        file.write_all(&chunk).unwrap();
    }
    file.sync_all().unwrap();
    let rate = mb_per_s(size_mib * MIB, start.elapsed().as_secs_f64());
    drop(file);
    let _ = std::fs::remove_file(&path);
    rate
}

/// SHA-256 on one core over 256 MiB that is not in cache: every upload is
/// hashed once by the server, so this bounds upload speed too.
fn sha256_single_core() -> f64 {
    use sha2::Digest;
    let data: Vec<u8> = (0..256 * MIB as usize)
        .map(|i| (i * 131 % 253) as u8)
        .collect();
    let start = Instant::now();
    let digest = sha2::Sha256::digest(&data);
    let rate = mb_per_s(data.len() as u64, start.elapsed().as_secs_f64());
    emit(
        json!({"figure": "sha256_single_core", "mb_s": rate, "digest_prefix": hex::encode(&digest[..4])}),
    );
    rate
}

async fn upload_once(client: &Client, ns: &str, path: &str, size_mib: u64) -> f64 {
    use pb::upload_request::Message as In;
    let chunk = one_mib_chunk();
    let total = size_mib * MIB;
    let start = Instant::now();
    let first = In::Start(pb::UploadStart {
        namespace_id: ns.into(),
        path: path.into(),
        total_size: Some(total),
        ..Default::default()
    });
    let requests = futures::stream::iter(
        std::iter::once(first)
            .chain((0..size_mib).map(move |i| {
                In::Data(pb::UploadData {
                    offset: i * MIB,
                    data: chunk.clone(),
                })
            }))
            .chain(std::iter::once(In::Finish(pb::UploadFinish::default())))
            .map(|m| pb::UploadRequest { message: Some(m) }),
    );
    let mut answers = client
        .files
        .clone()
        .upload(requests)
        .await
        .unwrap()
        .into_inner();
    let mut committed = None;
    while let Some(answer) = answers.next().await {
        if let Some(pb::upload_response::Message::Committed(e)) = answer.unwrap().message {
            committed = Some(e);
        }
    }
    assert_eq!(committed.expect("committed").size, total);
    mb_per_s(total, start.elapsed().as_secs_f64())
}

async fn download_once(client: &Client, ns: &str, path: &str, size_mib: u64) -> f64 {
    let start = Instant::now();
    let request = pb::DownloadRequest {
        namespace_id: ns.into(),
        path: path.into(),
        ..Default::default()
    };
    let mut stream = client
        .files
        .clone()
        .download(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let mut got = 0;
    while let Some(message) = stream.next().await {
        if let Some(pb::download_response::Message::Data(d)) = message.unwrap().message {
            got += d.data.len() as u64;
        }
    }
    assert_eq!(got, size_mib * MIB);
    mb_per_s(got, start.elapsed().as_secs_f64())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() { 0.0 } else { xs[xs.len() / 2] }
}

fn best(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(0.0, f64::max)
}

/// One Arca server under test for transfers.
struct ArcaUnderTest {
    backend: &'static str,
    process: Process,
    client: Client,
    ns: String,
    _dir: tempfile::TempDir,
}

/// Transfers, interleaved: in each run the echo, the disk and both backends
/// are measured back to back, so each ratio compares figures taken under the
/// same conditions. The ratios reported are the medians over runs; the
/// speeds are the best runs.
async fn transfers(size_mib: u64, runs: usize) {
    let echo = Echo::start().await;
    let sha256 = sha256_single_core();
    let mut servers = Vec::new();
    for backend in ["memory", "filesystem"] {
        let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
        let process = start_arca(dir.path(), backend);
        let client = connect(&process.addr).await;
        let ns = workspace(&client, "transfer").await;
        servers.push(ArcaUnderTest {
            backend,
            process,
            client,
            ns,
            _dir: dir,
        });
    }
    let here = std::env::current_dir().unwrap();
    let (mut echo_up, mut echo_down, mut disk) = (Vec::new(), Vec::new(), Vec::new());
    let mut up: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut down: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut up_ratio: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut down_ratio: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut rss_after_upload = vec![0.0; servers.len()];
    for _ in 0..runs.max(1) {
        let e_up = echo.upload(size_mib).await;
        let d = disk_durable_write(&here, size_mib);
        for (i, s) in servers.iter().enumerate() {
            let u = upload_once(&s.client, &s.ns, "big.bin", size_mib).await;
            let basis = if s.backend == "filesystem" {
                e_up.min(d)
            } else {
                e_up
            };
            up[i].push(u);
            up_ratio[i].push(u / basis);
            rss_after_upload[i] = s.process.peak_rss_mib();
        }
        let e_down = echo.download(size_mib).await;
        for (i, s) in servers.iter().enumerate() {
            let x = download_once(&s.client, &s.ns, "big.bin", size_mib).await;
            down[i].push(x);
            down_ratio[i].push(x / e_down);
        }
        echo_up.push(e_up);
        echo_down.push(e_down);
        disk.push(d);
    }
    emit(
        json!({"figure": "transport_echo", "size_mib": size_mib, "runs": runs, "upload_mb_s": best(&echo_up), "download_mb_s": best(&echo_down)}),
    );
    emit(
        json!({"figure": "disk_durable_write", "size_mib": size_mib, "runs": runs, "mb_s": best(&disk)}),
    );
    for (i, s) in servers.iter().enumerate() {
        emit(json!({
            "figure": "arca_transfer",
            "backend": s.backend,
            "size_mib": size_mib,
            "chunk_mib": 1,
            "runs": runs,
            "upload_mb_s": best(&up[i]),
            "download_mb_s": best(&down[i]),
            "upload_ratio": round2(median(up_ratio[i].clone())),
            "upload_ratio_basis": if s.backend == "filesystem" { "min(transport echo, disk durable write), same run" } else { "transport echo, same run" },
            "upload_ratio_to_sha256": round2(best(&up[i]) / sha256),
            "download_ratio": round2(median(down_ratio[i].clone())),
            "server_peak_rss_mib_after_upload": rss_after_upload[i],
            "server_peak_rss_mib": s.process.peak_rss_mib(),
        }));
    }
    // The client library on the filesystem server, beside the raw stubs'
    // figures above: it hashes what it sends and verifies what it receives.
    let fs = &servers[1];
    let mut lib_up = Vec::new();
    let mut lib_down = Vec::new();
    for _ in 0..runs.max(1) {
        let (up, down) = client_library_once(&fs.client, &fs.ns, size_mib).await;
        lib_up.push(up);
        lib_down.push(down);
    }
    emit(json!({
        "figure": "client_library_transfer",
        "backend": "filesystem",
        "size_mib": size_mib,
        "upload_mb_s": best(&lib_up),
        "download_mb_s": best(&lib_down),
        "raw_stub_upload_mb_s": best(&up[1]),
        "raw_stub_download_mb_s": best(&down[1]),
    }));
    python::transfer(&fs.process.addr, best(&lib_up), best(&lib_down));
}

async fn client_library_once(client: &Client, ns: &str, size_mib: u64) -> (f64, f64) {
    let data: Vec<u8> = (0..(size_mib * MIB) as usize)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let progressed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = progressed.clone();
    let options = arca_client::TransferOptions {
        progress: Some(std::sync::Arc::new(move |n| {
            seen.store(n, std::sync::atomic::Ordering::Relaxed)
        })),
        ..Default::default()
    };
    let start = Instant::now();
    let upload = pb::UploadStart {
        namespace_id: ns.into(),
        path: "library.bin".into(),
        ..Default::default()
    };
    client
        .upload_from(upload, std::io::Cursor::new(data), &options)
        .await
        .unwrap();
    let up = mb_per_s(size_mib * MIB, start.elapsed().as_secs_f64());
    assert_eq!(
        progressed.load(std::sync::atomic::Ordering::Relaxed),
        size_mib * MIB
    );
    let start = Instant::now();
    let request = pb::DownloadRequest {
        namespace_id: ns.into(),
        path: "library.bin".into(),
        ..Default::default()
    };
    client
        .download_into(request, &mut tokio::io::sink(), &options)
        .await
        .unwrap();
    (up, mb_per_s(size_mib * MIB, start.elapsed().as_secs_f64()))
}

fn main() {
    let (echo_server, args) = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if echo_server {
        runtime.block_on(echo_server::run());
        return;
    }
    runtime.block_on(async {
        let run = |section: &str| args.only.as_deref().is_none_or(|o| o == section);
        if run("transfer") {
            transfers(args.size_mib, args.runs).await;
        }
        if run("small") {
            metadata::small_files("memory", args.small).await;
            metadata::small_files("filesystem", args.small).await;
        }
        if run("tree") {
            metadata::tree_scan(args.tree).await;
        }
        if run("checkpoints") {
            metadata::checkpoints(10_000).await;
        }
        if run("s3") {
            s3::s3_backend(args.s3_size_mib, args.s3_small).await;
        }
        if run("python") {
            python::small(args.python_small);
        }
        if run("postgres") {
            postgres::engines(args.small, args.tree).await;
        }
        if run("mounts") {
            mounts::mounts(args.size_mib, args.runs).await;
        }
        if run("feed") {
            feed::changes(100, 1000).await;
        }
        if run("archives") {
            feed::archives(10_000, args.size_mib, args.runs).await;
        }
        if run("forks") {
            sharing::sharing(10_000, args.size_mib, args.runs).await;
        }
    });
}
