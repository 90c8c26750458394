//! Large transfers beside their ceilings, all in one run: a bare tonic
//! streaming echo with Arca's transport settings (its own process), the
//! disk's durable write rate, single-core SHA-256, and the memory and
//! filesystem backends through the raw stubs and the client library.
//!
//! The echo also measures plain uploads: the same stream hashed on a
//! thread of its own; hashed and kept in memory; hashed and written to a
//! file on another thread, flushed as it goes and fsynced at the end. They
//! do the work every upload must do, plainly, and nothing else (no
//! protocol, no metadata, no checks): a reference for what Arca adds or
//! saves beside the same work, and, against min(echo, SHA-256[, disk]),
//! for what that work reaches when transport, hash and storage share this
//! machine's cores. A reference, not a bound: how the work overlaps
//! matters, and Arca's may overlap better.
//!
//! A bound comes from CPU time: each upload's CPU seconds per GiB, the
//! server's and the sender's (this process) together, spread over every
//! core with none idle, give the fastest that much work could go here.
//! Against the same basis (`ratio_cpu_ceiling`, `upload_ratio_cpu_ceiling`)
//! it says whether a target is within reach of the work an upload does.

use super::*;

mod echo {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("arca.bench");
}

pub fn one_mib_chunk() -> Bytes {
    Bytes::from(
        (0..MIB as usize)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

// ------------------------------------------------------------------ echo

pub mod echo_server {
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
            Ok(Response::new(echo::Summary {
                bytes,
                sha256: Bytes::new(),
            }))
        }

        async fn sink_hashed(
            &self,
            request: Request<Streaming<echo::Chunk>>,
        ) -> Result<Response<echo::Summary>, Status> {
            hashed(request.into_inner(), Keep::Nothing).await
        }

        async fn sink_kept(
            &self,
            request: Request<Streaming<echo::Chunk>>,
        ) -> Result<Response<echo::Summary>, Status> {
            hashed(request.into_inner(), Keep::Memory).await
        }

        async fn sink_written(
            &self,
            request: Request<Streaming<echo::Chunk>>,
        ) -> Result<Response<echo::Summary>, Status> {
            hashed(request.into_inner(), Keep::File).await
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

    /// Where a hashed sink keeps what it received.
    #[derive(Clone, Copy, PartialEq)]
    enum Keep {
        Nothing,
        /// Every chunk, in memory, until the stream ends.
        Memory,
        /// A file in the working directory (the disk Arca's data is on),
        /// flushed as it goes, fsynced at the end, then removed.
        File,
    }

    /// A file being written: where it is, bytes not yet flushed, and the
    /// thread that flushes it beside the writes.
    type Written = (
        std::fs::File,
        std::path::PathBuf,
        u64,
        std::sync::mpsc::SyncSender<()>,
        std::thread::JoinHandle<()>,
    );

    /// A thread that takes chunks through a short queue and works on each
    /// with `state`, beside the receiving task as far as the machine
    /// allows; `end` makes its result once the queue closes.
    fn beside<S: Send + 'static, T: Send + 'static>(
        mut state: S,
        work: impl Fn(&mut S, Bytes) + Send + 'static,
        end: impl FnOnce(S) -> T + Send + 'static,
    ) -> (tokio::sync::mpsc::Sender<Bytes>, std::thread::JoinHandle<T>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let thread = std::thread::spawn(move || {
            while let Some(data) = rx.blocking_recv() {
                work(&mut state, data);
            }
            end(state)
        });
        (tx, thread)
    }

    /// Receives a stream and hashes it on a thread of its own and, for
    /// [`Keep::File`], writes it on another (flushed on a third): an
    /// upload's work done plainly, with no protocol, metadata or checks
    /// around it.
    async fn hashed(
        mut stream: Streaming<echo::Chunk>,
        keep: Keep,
    ) -> Result<Response<echo::Summary>, Status> {
        use sha2::Digest;
        use std::io::Write;
        let (hash_tx, hashing) = beside(
            (sha2::Sha256::new(), Vec::new()),
            move |(hasher, kept): &mut (sha2::Sha256, Vec<Bytes>), data: Bytes| {
                hasher.update(&data);
                if keep == Keep::Memory {
                    kept.push(data);
                }
            },
            |(hasher, _kept)| hasher.finalize(),
        );
        let writer = (keep == Keep::File).then(|| {
            let path = std::env::current_dir()
                .unwrap()
                .join(format!("echo-sink-{}", std::process::id()));
            let file = std::fs::File::create(&path).unwrap();
            // Pages written start for the disk every 8 MiB on a third
            // thread, as Arca's flushes do, so the fsync at the end is
            // short; a flush still running is not queued behind.
            let (flush, flushes) = std::sync::mpsc::sync_channel::<()>(0);
            let flusher = {
                let file = file.try_clone().unwrap();
                std::thread::spawn(move || {
                    while flushes.recv().is_ok() {
                        file.sync_data().unwrap();
                    }
                })
            };
            beside(
                (file, path, 0u64, flush, flusher),
                |(file, _, unflushed, flush, _): &mut Written, data: Bytes| {
                    file.write_all(&data).unwrap();
                    *unflushed += data.len() as u64;
                    if *unflushed >= 8 << 20 && flush.try_send(()).is_ok() {
                        *unflushed = 0;
                    }
                },
                |(file, path, _, flush, flusher)| {
                    drop(flush);
                    flusher.join().unwrap();
                    file.sync_all().unwrap();
                    std::fs::remove_file(&path).unwrap();
                },
            )
        });
        let mut bytes = 0;
        while let Some(chunk) = stream.next().await {
            let data = chunk?.data;
            bytes += data.len() as u64;
            if let Some((tx, _)) = &writer {
                tx.send(data.clone()).await.unwrap();
            }
            hash_tx.send(data).await.unwrap();
        }
        drop(hash_tx);
        let digest = hashing.join().expect("the hashing thread");
        if let Some((tx, thread)) = writer {
            drop(tx);
            thread.join().expect("the writing thread");
        }
        Ok(Response::new(echo::Summary {
            bytes,
            sha256: Bytes::copy_from_slice(&digest),
        }))
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

/// What the echo does with the bytes it receives.
#[derive(Clone, Copy)]
enum Sink {
    Discard,
    Hash,
    HashAndKeep,
    HashAndWrite,
}

/// The transport's ceiling: a bare tonic echo of the same bytes, in chunks
/// of the same size, with Arca's transport settings, as its own process.
struct Echo {
    process: Process,
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
        Echo { process, client }
    }

    /// Sends `size_mib` MiB to `sink`; the hashing sinks must give back
    /// `digest`, the SHA-256 of what was sent.
    async fn upload(&self, size_mib: u64, sink: Sink, digest: &[u8]) -> f64 {
        let mut client = self.client.clone();
        let chunk = one_mib_chunk();
        let start = Instant::now();
        let chunks = futures::stream::iter((0..size_mib).map(move |i| echo::Chunk {
            offset: i * MIB,
            data: chunk.clone(),
        }));
        let summary = match sink {
            Sink::Discard => client.sink(chunks).await,
            Sink::Hash => client.sink_hashed(chunks).await,
            Sink::HashAndKeep => client.sink_kept(chunks).await,
            Sink::HashAndWrite => client.sink_written(chunks).await,
        };
        let rate = mb_per_s(size_mib * MIB, start.elapsed().as_secs_f64());
        let summary = summary.unwrap().into_inner();
        assert_eq!(summary.bytes, size_mib * MIB);
        if !matches!(sink, Sink::Discard) {
            assert_eq!(
                &summary.sha256[..],
                digest,
                "the plain upload hashed what it got"
            );
        }
        rate
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
    // One core busy the whole time: its CPU seconds per GiB are its time.
    let cpu_s_per_gib = round3((1u64 << 30) as f64 / (rate * 1e6));
    emit(json!({
        "figure": "sha256_single_core",
        "mb_s": rate,
        "cpu_s_per_gib": cpu_s_per_gib,
        "digest_prefix": hex::encode(&digest[..4]),
    }));
    rate
}

/// The most an upload could reach on this machine with the CPU it used,
/// `cpu_s_per_gib` seconds per GiB on both sides together, were every core
/// busy with it the whole time: a ceiling from the work done, whatever its
/// overlap. Against the ratio's basis (`*_cpu_ceiling`), it says whether a
/// target is within reach of that much work on this many cores.
fn cpu_ceiling_mb_s(cpu_s_per_gib: f64) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (1u64 << 30) as f64 / 1e6 * cores / cpu_s_per_gib.max(1e-3)
}

pub async fn upload_once(client: &Client, ns: &str, path: &str, size_mib: u64) -> f64 {
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

pub async fn download_once(client: &Client, ns: &str, path: &str, size_mib: u64) -> f64 {
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
pub async fn transfers(size_mib: u64, runs: usize) {
    let echo = Echo::start().await;
    let sha256 = sha256_single_core();
    let digest = {
        use sha2::Digest;
        let chunk = one_mib_chunk();
        let mut hasher = sha2::Sha256::new();
        (0..size_mib).for_each(|_| hasher.update(&chunk));
        hasher.finalize()
    };
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
    // An upload's work done plainly beside the same transport: hashed;
    // hashed and kept in memory; hashed and written.
    let mut plain_up: [Vec<f64>; 3] = Default::default();
    let mut plain_cpu: [Vec<f64>; 3] = Default::default();
    let mut plain_ratio: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut plain_basis_ratio: [Vec<f64>; 3] = Default::default();
    // CPU seconds per GiB of the sending side (this process), and the
    // ceilings the CPU of both sides puts on each ratio.
    let mut plain_client_cpu: [Vec<f64>; 3] = Default::default();
    let mut plain_ceiling: [Vec<f64>; 3] = Default::default();
    let mut client_cpu_up: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut up_ceiling: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let (mut echo_cpu_up, mut echo_cpu_down) = (Vec::new(), Vec::new());
    let mut up: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut down: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut up_ratio: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut down_ratio: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut cpu_up: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut cpu_down: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut rss_after_upload = vec![0.0; servers.len()];
    let bytes = size_mib * MIB;
    for _ in 0..runs.max(1) {
        let meter = cpu::Meter::start(echo.process.pid());
        let e_up = echo.upload(size_mib, Sink::Discard, &digest).await;
        echo_cpu_up.push(meter.per_gib(bytes));
        let mut plain = [0.0; 3];
        for (i, sink) in [Sink::Hash, Sink::HashAndKeep, Sink::HashAndWrite]
            .into_iter()
            .enumerate()
        {
            let meter = cpu::Meter::start(echo.process.pid());
            let sender = cpu::Meter::start(std::process::id());
            plain[i] = echo.upload(size_mib, sink, &digest).await;
            plain_up[i].push(plain[i]);
            plain_cpu[i].push(meter.per_gib(bytes));
            plain_client_cpu[i].push(sender.per_gib(bytes));
        }
        let d = disk_durable_write(&here, size_mib);
        for (i, s) in servers.iter().enumerate() {
            let meter = cpu::Meter::start(s.process.pid());
            let sender = cpu::Meter::start(std::process::id());
            let u = upload_once(&s.client, &s.ns, "big.bin", size_mib).await;
            let (server_cpu, client_cpu) = (meter.per_gib(bytes), sender.per_gib(bytes));
            cpu_up[i].push(server_cpu);
            client_cpu_up[i].push(client_cpu);
            // What bounds an upload: the transport, the one hash of the
            // stream, and on the filesystem the disk's durable write.
            let basis = if s.backend == "filesystem" {
                e_up.min(sha256).min(d)
            } else {
                e_up.min(sha256)
            };
            up[i].push(u);
            up_ratio[i].push(u / basis);
            up_ceiling[i].push(cpu_ceiling_mb_s(server_cpu + client_cpu) / basis);
            // Beside the plain upload that does the same work.
            let same_work = if s.backend == "filesystem" {
                plain[2]
            } else {
                plain[1]
            };
            plain_ratio[i].push(u / same_work);
            rss_after_upload[i] = s.process.peak_rss_mib();
        }
        let meter = cpu::Meter::start(echo.process.pid());
        let e_down = echo.download(size_mib).await;
        echo_cpu_down.push(meter.per_gib(bytes));
        for (i, s) in servers.iter().enumerate() {
            let meter = cpu::Meter::start(s.process.pid());
            let x = download_once(&s.client, &s.ns, "big.bin", size_mib).await;
            cpu_down[i].push(meter.per_gib(bytes));
            down[i].push(x);
            down_ratio[i].push(x / e_down);
        }
        for (i, f) in plain.iter().enumerate() {
            // The plain uploads against the same basis as Arca's target:
            // what this work, done plainly, reaches on this machine.
            let basis = if i == 2 {
                e_up.min(sha256).min(d)
            } else {
                e_up.min(sha256)
            };
            plain_basis_ratio[i].push(f / basis);
            let used = plain_cpu[i].last().unwrap() + plain_client_cpu[i].last().unwrap();
            plain_ceiling[i].push(cpu_ceiling_mb_s(used) / basis);
        }
        echo_up.push(e_up);
        echo_down.push(e_down);
        disk.push(d);
    }
    emit(json!({
        "figure": "transport_echo",
        "size_mib": size_mib,
        "runs": runs,
        "upload_mb_s": best(&echo_up),
        "download_mb_s": best(&echo_down),
        "server_cpu_s_per_gib_up": median(echo_cpu_up),
        "server_cpu_s_per_gib_down": median(echo_cpu_down),
    }));
    emit(
        json!({"figure": "disk_durable_write", "size_mib": size_mib, "runs": runs, "mb_s": best(&disk)}),
    );
    for (i, name) in [
        "hashed",
        "hashed_and_kept_in_memory",
        "hashed_and_written_to_disk",
    ]
    .into_iter()
    .enumerate()
    {
        emit(json!({
            "figure": "plain_upload",
            "work": name,
            "size_mib": size_mib,
            "runs": runs,
            "upload_mb_s": best(&plain_up[i]),
            "server_cpu_s_per_gib_up": median(plain_cpu[i].clone()),
            "client_cpu_s_per_gib_up": median(plain_client_cpu[i].clone()),
            "ratio": round2(median(plain_basis_ratio[i].clone())),
            "ratio_cpu_ceiling": round2(median(plain_ceiling[i].clone())),
            "ratio_basis": if i == 2 { "min(transport echo, SHA-256, disk durable write), same run" } else { "min(transport echo, SHA-256), same run" },
        }));
    }
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
            "upload_ratio_basis": if s.backend == "filesystem" { "min(transport echo, SHA-256, disk durable write), same run" } else { "min(transport echo, SHA-256), same run" },
            "upload_ratio_target": 0.8,
            "upload_ratio_cpu_ceiling": round2(median(up_ceiling[i].clone())),
            "upload_ratio_to_plain": round2(median(plain_ratio[i].clone())),
            "upload_plain": if s.backend == "filesystem" { "echo hashed and written to disk, same run" } else { "echo hashed and kept in memory, same run" },
            "download_ratio": round2(median(down_ratio[i].clone())),
            "download_ratio_basis": "transport echo, same run",
            "download_ratio_target": 0.9,
            "server_cpu_s_per_gib_up": median(cpu_up[i].clone()),
            "client_cpu_s_per_gib_up": median(client_cpu_up[i].clone()),
            "server_cpu_s_per_gib_down": median(cpu_down[i].clone()),
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
