//! The Arca benchmark: starts the server itself (the release `arca-server`
//! binary, as its own process, so its peak RSS is its own) and prints one
//! JSON line per figure.
//!
//! Figures, all in one run so they compare as ratios on a noisy machine:
//! 1. upload and download of a large file in 1 MiB chunks on the memory and
//!    filesystem backends, beside a bare tonic streaming echo of the same
//!    bytes (the transport's ceiling), the disk's own durable write rate and
//!    single-core SHA-256, with CPU seconds per GiB, and plain uploads (the
//!    echo hashing, keeping, writing what it gets): see
//!    [`transfer`];
//! 2. the same file end to end (client library, `arca put`/`get`) and over
//!    HTTP (presigned URLs, WebDAV) beside nginx on the same disk: see
//!    [`http`] and [`nginx`];
//! 3. small 1 KiB writes and reads by 64 concurrent callers;
//! 4. recursive List and Find over a workspace of 100,000 files;
//! 5. checkpoint create and restore on 10,000-file workspaces of 10 MiB and
//!    of 1 GiB (their cost must follow entries, not bytes);
//! 6. the S3 backend against moto, beside the filesystem backend;
//! 7. the mounts (WebDAV, FUSE) beside gRPC: see [`mounts`];
//! 8. the Python SDK: its 256 MiB transfer beside the Rust client's (in the
//!    transfer section), and 1 KiB store/retrieve by 64 asyncio tasks
//!    against a durable filesystem server beside the reference library
//!    (chuk-artifacts, in-process) on the same workload.
//! 9. forks of 10,000 files at 10 MiB and 1 GiB, and a cross-namespace copy
//!    of a large file beside its upload: see [`sharing`];
//! 10. the change feed (write-to-event latency with 100 watchers, events
//!     per second) and tar export and import of 1 GiB in 10,000 files beside
//!     the upload and download of the same bytes: see [`feed`];
//! 11. load and soak: hundreds of concurrent clients mixing transfers and
//!     small calls for a set time, with the server's RSS each second: see
//!     [`load`].
//!
//! Usage: `cargo run --release -p arca-bench -- --help` lists the flags;
//! `--only SECTION` runs one section. Transfers run `--runs` times
//! (default 3), interleaved with their ceilings.
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

mod cpu;
mod feed;
mod http;
mod load;
mod metadata;
mod mounts;
mod nginx;
mod postgres;
mod python;
mod s3;
mod sharing;
mod transfer;

use transfer::{download_once, upload_once};

const MIB: u64 = 1 << 20;
/// The S3 test server the `s3` section started.
static S3_ENDPOINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// The app key the benchmark's servers are configured with.
const BENCH_SECRET: &str = "arca-bench-app-key";

/// What to measure and how much. Every section runs unless `--only` names one.
#[derive(Debug, clap::Parser)]
#[command(
    name = "arca-bench",
    about = "Arca's benchmark: starts the servers it measures and prints one JSON line per figure"
)]
struct Args {
    /// Size of the large transfers, in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Number of 1 KiB writes (and reads) in the small-files section (0:
    /// skip it).
    #[arg(long, default_value_t = 20_000)]
    small: usize,
    /// Files in the tree-scan workspace (0: skip the tree figures).
    #[arg(long, default_value_t = 100_000)]
    tree: usize,
    /// Files in the checkpointed workspaces (0: skip the checkpoint figures).
    #[arg(long, default_value_t = 10_000)]
    checkpoint_files: usize,
    /// Runs of each transfer figure (interleaved with their ceilings).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Size of the S3 backend's large transfer, in MiB.
    #[arg(long, default_value_t = 256)]
    s3_size_mib: u64,
    /// Number of 1 KiB writes (and reads) through the S3 backend.
    #[arg(long, default_value_t = 2000)]
    s3_small: usize,
    /// Number of 1 KiB stores (and retrieves) through the Python SDK.
    #[arg(long, default_value_t = 5000)]
    python_small: usize,
    /// Concurrent clients (each one stream at a time) in the load section.
    #[arg(long, default_value_t = 500)]
    clients: usize,
    /// How long the load section runs, in seconds (600 for a soak).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Run one section only.
    #[arg(long, value_enum)]
    only: Option<Section>,
    /// Serve the bare tonic echo (the benchmark starts itself this way).
    #[arg(long, hide = true)]
    echo_server: bool,
}

/// The sections of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    Transfer,
    Http,
    Small,
    Tree,
    Checkpoints,
    S3,
    Python,
    Postgres,
    Mounts,
    Feed,
    Archives,
    Forks,
    Load,
}

/// The metadata engine the servers started now use: its label in the
/// figures, and the configuration that selects it.
static METADATA: std::sync::Mutex<(&str, String)> = std::sync::Mutex::new(("redb", String::new()));

/// Scratch directories of the sections, removed when the benchmark ends
/// rather than when their section does. On a journal-less ext4 (this
/// machine's root filesystem) a new file's inode is found by stepping over
/// every free inode of its group that was deleted in the last five minutes
/// (ext4's `recently_deleted`, one buffer lookup each): a section that came
/// after the removal of another's ten thousand files paid a scan of them in
/// every file it created, 35-40 % of the server's CPU in the small-files
/// figures, so the order of the sections decided their figures.
static SCRATCH: std::sync::Mutex<Vec<tempfile::TempDir>> = std::sync::Mutex::new(Vec::new());

/// A section's working directory (see [`SCRATCH`]).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
        let path = dir.path().to_owned();
        SCRATCH.lock().unwrap().push(dir);
        Scratch(path)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

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

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() { 0.0 } else { xs[xs.len() / 2] }
}

fn best(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(0.0, f64::max)
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
    status_mib(pid, "VmHWM:")
}

/// A memory figure (`VmHWM:`, `VmRSS:`) of process `pid`'s
/// `/proc/PID/status`, in MiB to one decimal; 0 when it is gone.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
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
    // Always ask cargo: a stale server binary would measure old code.
    release_binary("arca-server", "arca-server")
}

/// Builds `bin` of workspace package `package` in release (cargo does
/// nothing when it is fresh) and gives its path, beside this program. The
/// manifest goes by path: the benchmark runs from a scratch directory on
/// the disk it measures, not from the repository.
fn release_binary(package: &str, bin: &str) -> std::path::PathBuf {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--manifest-path", manifest])
        .args(["-p", package, "--bin", bin])
        .status()
        .unwrap_or_else(|e| panic!("cargo build {bin}: {e}"));
    assert!(status.success(), "cargo build {bin} failed");
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join(bin)
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

fn main() {
    let args = <Args as clap::Parser>::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.echo_server {
        runtime.block_on(transfer::echo_server::run());
        return;
    }
    runtime.block_on(async {
        let run = |section: Section| args.only.is_none_or(|o| o == section);
        if run(Section::Transfer) {
            transfer::transfers(args.size_mib, args.runs).await;
        }
        if run(Section::Http) {
            http::beside_nginx(args.size_mib, args.runs).await;
        }
        if run(Section::Small) && args.small > 0 {
            metadata::small_files("memory", args.small).await;
            metadata::small_files("filesystem", args.small).await;
        }
        if run(Section::Tree) && args.tree > 0 {
            metadata::tree_scan(args.tree).await;
        }
        if run(Section::Checkpoints) && args.checkpoint_files > 0 {
            metadata::checkpoints(args.checkpoint_files).await;
        }
        if run(Section::S3) {
            s3::s3_backend(args.s3_size_mib, args.s3_small).await;
        }
        if run(Section::Python) {
            python::small(args.python_small);
        }
        if run(Section::Postgres) {
            postgres::engines(args.small, args.checkpoint_files, args.tree).await;
        }
        if run(Section::Mounts) {
            mounts::mounts(args.size_mib, args.runs).await;
        }
        if run(Section::Feed) {
            feed::changes(100, 1000).await;
        }
        if run(Section::Archives) {
            feed::archives(10_000, args.size_mib, args.runs).await;
        }
        if run(Section::Forks) {
            sharing::sharing(10_000, args.size_mib, args.runs).await;
        }
        if run(Section::Load) {
            load::load(args.clients, std::time::Duration::from_secs(args.duration)).await;
        }
    });
    SCRATCH.lock().unwrap().clear();
}
