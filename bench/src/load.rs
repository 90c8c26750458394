//! Load and soak: hundreds of concurrent clients against one durable
//! filesystem-backend server on loopback, for a set time, each doing one
//! call or stream at a time, at random:
//! - 10 %: upload one of 24 files of 64 KiB to 64 MiB (log-spaced sizes)
//!   through the Upload stream in 1 MiB chunks, over its own path (so the
//!   disk holds one file per client and the reclaimer deletes the rest);
//!   the committed SHA-256 must be the file's;
//! - 10 %: download its last upload through the Download stream, every
//!   byte compared with what was sent and the trailer's SHA-256 checked;
//! - 80 %: small calls, timed: WriteFile of 1 KiB, ReadFile of it, List
//!   of the client's directory.
//!
//! The server's RSS is sampled every second, with the uploads and
//! downloads in flight (what the server holds grows with them). Reported: operations and
//! bytes per second, p50/p99/max latency of the small calls, errors (by
//! status code; target none), downloads verified (target: all), and RSS
//! after the warm-up (target: flat, max minus min under 64 MiB over a
//! 10-minute soak). Bounded in time (`--duration`) and in clients
//! (`--clients`); it stops by itself and talks to 127.0.0.1 only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arca_client::{Client, pb};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use sha2::Digest;

use crate::{MIB, connect, emit, start_arca, workspace};

/// Sizes of the files clients upload: 24 steps, log-spaced from 64 KiB to
/// 64 MiB.
const FILE_KINDS: usize = 24;
/// Connections the clients share (as a deployment's callers would come
/// from several processes).
const CONNECTIONS: usize = 8;

/// The files uploaded: slices of one buffer, with their SHA-256.
struct Files {
    buffer: Bytes,
    kinds: Vec<(usize, usize, String)>,
}

impl Files {
    fn new() -> Files {
        let max = 64 * MIB as usize;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut buffer = Vec::with_capacity(max + FILE_KINDS * 4099);
        while buffer.len() < max + FILE_KINDS * 4099 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            buffer.extend_from_slice(&state.to_le_bytes());
        }
        let buffer = Bytes::from(buffer);
        let (lo, hi) = ((64 << 10) as f64, max as f64);
        let kinds = (0..FILE_KINDS)
            .map(|i| {
                let size = (lo * (hi / lo).powf(i as f64 / (FILE_KINDS - 1) as f64)) as usize;
                let offset = i * 4099;
                let sha = hex::encode(sha2::Sha256::digest(&buffer[offset..offset + size]));
                (offset, size, sha)
            })
            .collect();
        Files { buffer, kinds }
    }

    fn content(&self, kind: usize) -> Bytes {
        let (offset, size, _) = self.kinds[kind];
        self.buffer.slice(offset..offset + size)
    }
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    uploads: u64,
    downloads: u64,
    downloads_verified: u64,
    bytes_up: u64,
    bytes_down: u64,
    small_calls: u64,
    /// Small-call latencies, microseconds.
    latencies_us: Vec<u32>,
    /// Errors by status code (or "mismatch" for wrong content).
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.uploads += other.uploads;
        self.downloads += other.downloads;
        self.downloads_verified += other.downloads_verified;
        self.bytes_up += other.bytes_up;
        self.bytes_down += other.bytes_down;
        self.small_calls += other.small_calls;
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    fn error(&mut self, what: impl Into<String>) {
        *self.errors.entry(what.into()).or_default() += 1;
    }
}

/// The first message seen for each status code, reported beside the
/// counts: a count alone does not say what went wrong.
static ERROR_EXAMPLES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

fn code(status: &tonic::Status) -> String {
    let code = format!("{:?}", status.code());
    ERROR_EXAMPLES
        .lock()
        .unwrap()
        .entry(code.clone())
        .or_insert_with(|| status.message().chars().take(300).collect());
    code
}

async fn upload(client: &Client, ns: &str, path: &str, data: Bytes) -> Result<String, String> {
    use pb::upload_request::Message as In;
    let total = data.len() as u64;
    let start = In::Start(pb::UploadStart {
        namespace_id: ns.into(),
        path: path.into(),
        total_size: Some(total),
        ..Default::default()
    });
    let chunks = (0..total.div_ceil(MIB)).map(move |i| {
        let from = (i * MIB) as usize;
        let to = ((i + 1) * MIB).min(total) as usize;
        In::Data(pb::UploadData {
            offset: from as u64,
            data: data.slice(from..to),
        })
    });
    let requests = futures::stream::iter(
        std::iter::once(start)
            .chain(chunks)
            .chain(std::iter::once(In::Finish(pb::UploadFinish::default())))
            .map(|m| pb::UploadRequest { message: Some(m) }),
    );
    let mut answers = client
        .files
        .clone()
        .upload(requests)
        .await
        .map_err(|s| code(&s))?
        .into_inner();
    while let Some(answer) = answers.next().await {
        if let Some(pb::upload_response::Message::Committed(e)) =
            answer.map_err(|s| code(&s))?.message
        {
            return Ok(e.sha256);
        }
    }
    Err("no commit".into())
}

/// Downloads `path` and compares it with `expected`; Ok(true) when every
/// byte and the trailer's digest match.
async fn download_and_verify(
    client: &Client,
    ns: &str,
    path: &str,
    expected: &Bytes,
    sha256: &str,
) -> Result<bool, String> {
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
        .map_err(|s| code(&s))?
        .into_inner();
    let (mut matches, mut got, mut trailer) = (true, 0usize, None);
    while let Some(message) = stream.next().await {
        match message.map_err(|s| code(&s))?.message {
            Some(pb::download_response::Message::Data(d)) => {
                let at = d.offset as usize;
                matches &= expected.get(at..at + d.data.len()) == Some(&d.data[..]);
                got += d.data.len();
            }
            Some(pb::download_response::Message::Trailer(t)) => trailer = Some(t.sha256),
            _ => {}
        }
        if trailer.is_some() {
            break;
        }
    }
    Ok(matches && got == expected.len() && trailer.as_deref() == Some(sha256))
}

/// Uploads and downloads in progress, sampled with the server's RSS: what
/// the server holds grows with the transfers in flight, so the RSS series
/// reads against them.
static UPLOADING: AtomicUsize = AtomicUsize::new(0);
static DOWNLOADING: AtomicUsize = AtomicUsize::new(0);

/// One sample of the server and the clients, each second.
#[derive(Clone, Copy)]
struct Sample {
    /// Seconds since the start.
    t: f64,
    /// The server's RSS, MiB.
    rss: f64,
    /// Uploads in flight.
    up: usize,
    /// Downloads in flight.
    down: usize,
}

/// Counts one transfer in flight while it lives.
struct InFlight(&'static AtomicUsize);

impl InFlight {
    fn start(gauge: &'static AtomicUsize) -> InFlight {
        gauge.fetch_add(1, Ordering::Relaxed);
        InFlight(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A small, fast generator: which operation, which file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn small_call<T>(
    tally: &mut Tally,
    call: impl Future<Output = Result<T, tonic::Status>>,
) -> Option<T> {
    let start = Instant::now();
    let result = call.await;
    tally
        .latencies_us
        .push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
    tally.small_calls += 1;
    match result {
        Ok(value) => Some(value),
        Err(status) => {
            tally.error(code(&status));
            None
        }
    }
}

/// One client: one call or stream at a time until `deadline`.
async fn client_loop(
    id: usize,
    client: Client,
    ns: String,
    files: Arc<Files>,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ ((id as u64 + 1) * 0x9E37_79B9));
    let dir = format!("c{id}");
    let (big, small) = (format!("{dir}/big.bin"), format!("{dir}/small.txt"));
    let mut uploaded: Option<usize> = None;
    let mut wrote_small = false;
    while Instant::now() < deadline {
        let roll = rng.next() % 100;
        if roll < 10 || (roll < 20 && uploaded.is_none()) {
            let kind = (rng.next() % FILE_KINDS as u64) as usize;
            let data = files.content(kind);
            let len = data.len() as u64;
            let in_flight = InFlight::start(&UPLOADING);
            let uploaded_sha = upload(&client, &ns, &big, data).await;
            drop(in_flight);
            match uploaded_sha {
                Ok(sha) if sha == files.kinds[kind].2 => {
                    tally.uploads += 1;
                    tally.bytes_up += len;
                    uploaded = Some(kind);
                }
                Ok(_) => tally.error("upload digest mismatch"),
                Err(e) => tally.error(e),
            }
        } else if roll < 20 {
            let kind = uploaded.unwrap_or_default();
            let expected = files.content(kind);
            tally.downloads += 1;
            let in_flight = InFlight::start(&DOWNLOADING);
            let verified =
                download_and_verify(&client, &ns, &big, &expected, &files.kinds[kind].2).await;
            drop(in_flight);
            match verified {
                Ok(true) => {
                    tally.downloads_verified += 1;
                    tally.bytes_down += expected.len() as u64;
                }
                Ok(false) => tally.error("download content mismatch"),
                Err(e) => tally.error(e),
            }
        } else if roll < 50 || !wrote_small {
            let request = pb::WriteFileRequest {
                namespace_id: ns.clone(),
                path: small.clone(),
                data: vec![(roll % 251) as u8; 1024].into(),
                ..Default::default()
            };
            wrote_small |= small_call(&mut tally, client.files.clone().write_file(request))
                .await
                .is_some();
        } else if roll < 80 {
            let request = pb::ReadFileRequest {
                namespace_id: ns.clone(),
                path: small.clone(),
                ..Default::default()
            };
            if let Some(read) =
                small_call(&mut tally, client.files.clone().read_file(request)).await
                && read.into_inner().data.len() != 1024
            {
                tally.error("small read size mismatch");
            }
        } else {
            let request = pb::ListRequest {
                namespace_id: ns.clone(),
                path: dir.clone(),
                ..Default::default()
            };
            small_call(&mut tally, client.files.clone().list(request)).await;
        }
    }
    tally
}

fn rss_mib(pid: u32) -> f64 {
    crate::status_mib(pid, "VmRSS:")
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    (sorted[at] as f64 / 100.0).round() / 10.0
}

/// The section: `clients` concurrent clients for `duration`.
pub async fn load(clients: usize, duration: Duration) {
    let here = std::env::current_dir().unwrap();
    let dir = tempfile::tempdir_in(&here).unwrap();
    let server = start_arca(dir.path(), "filesystem");
    let files = Arc::new(Files::new());
    let mut connections = Vec::new();
    let mut namespaces = Vec::new();
    for i in 0..CONNECTIONS {
        let client = connect(&server.addr).await;
        namespaces.push(workspace(&client, &format!("load{i}")).await);
        connections.push(client);
    }
    let pid = server.pid();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let started = Instant::now();
    let deadline = started + duration;
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while Instant::now() < deadline {
                tick.tick().await;
                let t = started.elapsed().as_secs_f64().round();
                let rss = rss_mib(pid);
                let up = UPLOADING.load(Ordering::Relaxed);
                let down = DOWNLOADING.load(Ordering::Relaxed);
                samples.lock().unwrap().push(Sample { t, rss, up, down });
                if (t as u64).is_multiple_of(30) {
                    eprintln!(
                        "load: {t} s, server RSS {rss} MiB, in flight: {up} uploads, {down} downloads"
                    );
                }
            }
        })
    };
    let tasks: Vec<_> = (0..clients)
        .map(|id| {
            let client = connections[id % CONNECTIONS].clone();
            let ns = namespaces[id % CONNECTIONS].clone();
            tokio::spawn(client_loop(id, client, ns, files.clone(), deadline))
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        match task.await {
            Ok(t) => tally.merge(t),
            Err(e) => tally.error(format!("client task failed: {e}")),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    sampler.abort();
    let samples = samples.lock().unwrap().clone();
    // Warm-up: the first sixth of the run, at most 30 s.
    let warm_up = (duration.as_secs_f64() / 6.0).min(30.0);
    let steady: Vec<f64> = samples
        .iter()
        .filter(|s| s.t >= warm_up)
        .map(|s| s.rss)
        .collect();
    let (min, max) = steady
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let every = (samples.len() / 20).max(1);
    let series: Vec<f64> = samples.iter().step_by(every).map(|s| s.rss).collect();
    let in_flight: Vec<[usize; 2]> = samples
        .iter()
        .step_by(every)
        .map(|s| [s.up, s.down])
        .collect();
    tally.latencies_us.sort_unstable();
    let lat = &tally.latencies_us;
    let per_s = |n: u64| (n as f64 / elapsed).round();
    emit(json!({
        "figure": "load",
        "backend": "filesystem",
        "clients": clients,
        "connections": CONNECTIONS,
        "duration_s": (elapsed * 10.0).round() / 10.0,
        "operations_per_s": per_s(tally.uploads + tally.downloads + tally.small_calls),
        "uploads_per_s": per_s(tally.uploads),
        "downloads_per_s": per_s(tally.downloads),
        "small_calls_per_s": per_s(tally.small_calls),
        "upload_mb_s": crate::mb_per_s(tally.bytes_up, elapsed),
        "download_mb_s": crate::mb_per_s(tally.bytes_down, elapsed),
        "small_call_latency_ms": {"p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99), "max": percentile(lat, 1.0)},
        "errors": tally.errors,
        "error_examples": ERROR_EXAMPLES.lock().unwrap().clone(),
        "downloads": tally.downloads,
        "downloads_verified": tally.downloads_verified,
        "rss_after_warm_up_mib": {"warm_up_s": warm_up, "min": min, "max": max, "max_minus_min": ((max - min) * 10.0).round() / 10.0, "last": steady.last()},
        "rss_series_mib": series,
        "uploads_downloads_in_flight_series": in_flight,
        "server_peak_rss_mib": server.peak_rss_mib(),
    }));
}
