//! One large file through every door, beside nginx on the same file and the
//! same disk in the same run (issue: uploads at least 0.9 x nginx end to
//! end, the HTTP side at least 1.0 x):
//! - end to end: the client library (`upload_path`, `download_path`: hash
//!   at both ends, the download fsynced) and the CLI (`arca put`,
//!   `arca get`, as their own processes) against a durable
//!   filesystem-backend server, beside nginx's WebDAV PUT timed with an
//!   fsync of the stored file (durable against durable) and its GET into a
//!   file, fsynced as the client library's is;
//! - the HTTP side: a presigned PUT (URL, PUT, finalize) and GET, and
//!   WebDAV PUT and GET, all by curl, beside the same curl against nginx.
//!
//! Each run measures every path back to back; ratios are medians of the
//! per-run ratios, rates the best run. CPU seconds per GiB are the serving
//! process's (Arca's server or nginx), a figure that swings less than MB/s.

use std::path::Path;
use std::time::{Duration, Instant};

use arca_client::{Client, TransferOptions, pb};
use serde_json::json;

use crate::cpu::Meter;
use crate::mounts::{arca_cli_binary, have, timed_sh};
use crate::nginx::Nginx;
use crate::{
    BENCH_SECRET, MIB, Process, best, connect, emit, mb_per_s, median, round2, start_arca,
    workspace,
};

/// One timed transfer: its rate and the serving process's CPU per GiB.
#[derive(Default, Clone)]
struct Samples {
    mb_s: Vec<f64>,
    cpu_s_per_gib: Vec<f64>,
}

impl Samples {
    fn push(&mut self, size: u64, secs: f64, cpu: f64) {
        self.mb_s.push(mb_per_s(size, secs));
        self.cpu_s_per_gib.push(cpu);
    }

    fn summary(&self) -> serde_json::Value {
        json!({"mb_s": best(&self.mb_s), "cpu_s_per_gib": median(self.cpu_s_per_gib.clone())})
    }

    /// The median of the per-run ratios of these rates to `basis`'s.
    fn ratio_to(&self, basis: &Samples) -> f64 {
        round2(median(
            self.mb_s
                .iter()
                .zip(&basis.mb_s)
                .map(|(a, b)| a / b)
                .collect(),
        ))
    }
}

/// Runs `work` (which moves `size` bytes) timed, metering `pid`'s CPU.
async fn measure<F: Future<Output = ()>>(samples: &mut Samples, pid: u32, size: u64, work: F) {
    let meter = Meter::start(pid);
    let start = Instant::now();
    work.await;
    let secs = start.elapsed().as_secs_f64();
    samples.push(size, secs, meter.per_gib(size));
}

fn fsync(path: &Path) {
    std::fs::File::open(path).unwrap().sync_all().unwrap();
}

fn write_local_file(path: &Path, size_mib: u64) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let block: Vec<u8> = (0..MIB as usize)
        .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
        .collect();
    for i in 0..size_mib {
        let mut b = block.clone();
        b[..8].copy_from_slice(&i.to_le_bytes());
        file.write_all(&b).unwrap();
    }
    file.flush().unwrap();
}

/// The command line running the CLI `arca` (built before any timing).
fn cli(arca: &Path, server: &Process, args: &[&str]) -> String {
    let mut line = format!(
        "{} --addr http://{} --token {BENCH_SECRET}",
        arca.display(),
        server.addr
    );
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    line
}

async fn presigned_put(client: &Client, ns: &str, path: &str, local: &Path, size: u64) {
    let plan = client
        .presign_upload(ns, path, Some(size), Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(plan.parts.len(), 1, "one PUT on the filesystem backend");
    let headers: String = plan
        .headers
        .iter()
        .map(|(k, v)| format!(" -H '{k}: {v}'"))
        .collect();
    timed_sh(&format!(
        "curl -sf -X {} -T {}{headers} '{}'",
        plan.method,
        local.display(),
        plan.parts[0].url
    ));
    let entry = client
        .finalize_upload(&plan.upload_id, None, Vec::new())
        .await
        .unwrap();
    assert_eq!(entry.size, size);
}

/// The section: every door beside nginx.
pub async fn beside_nginx(size_mib: u64, runs: usize) {
    if !have("curl") {
        eprintln!("http: curl is not installed (Debian: curl); skipped");
        return;
    }
    let here = std::env::current_dir().unwrap();
    let dir = tempfile::tempdir_in(&here).unwrap();
    let nginx = match Nginx::start(&dir.path().join("nginx")) {
        Ok(nginx) => nginx,
        Err(why) => {
            eprintln!("http: skipped, no peer to compare with: {why}");
            return;
        }
    };
    let arca = arca_cli_binary();
    let server = start_arca(&dir.path().join("arca"), "filesystem");
    let client = connect(&server.addr).await;
    let ns = workspace(&client, "http").await;
    let size = size_mib * MIB;
    let local = dir.path().join("big.local");
    write_local_file(&local, size_mib);
    let out = dir.path().join("out.bin");
    let (arca_pid, nginx_pid) = (server.pid(), nginx.pid());
    let dav = format!("http://{}/dav/{ns}", server.addr);
    let auth = format!("Authorization: Bearer {BENCH_SECRET}");
    let options = TransferOptions::default();

    let mut nginx_put = Samples::default();
    let mut nginx_get_file = Samples::default();
    let mut nginx_get_null = Samples::default();
    let mut lib_up = Samples::default();
    let mut lib_down = Samples::default();
    let mut cli_put = Samples::default();
    let mut cli_get = Samples::default();
    let mut presigned_up = Samples::default();
    let mut presigned_down = Samples::default();
    let mut dav_put = Samples::default();
    let mut dav_get = Samples::default();
    for _ in 0..runs.max(1) {
        // Uploads, each path once, nginx first.
        let stored = nginx.root.join("big.bin");
        measure(&mut nginx_put, nginx_pid, size, async {
            timed_sh(&format!(
                "curl -sf -T {} {}/big.bin",
                local.display(),
                nginx.url
            ));
            fsync(&stored);
        })
        .await;
        measure(&mut lib_up, arca_pid, size, async {
            let start = pb::UploadStart {
                namespace_id: ns.clone(),
                path: "lib.bin".into(),
                ..Default::default()
            };
            client.upload_path(start, &local, &options).await.unwrap();
        })
        .await;
        let remote = format!("{ns}:cli.bin");
        let local_arg = local.display().to_string();
        measure(&mut cli_put, arca_pid, size, async {
            timed_sh(&cli(&arca, &server, &["put", &local_arg, &remote]));
        })
        .await;
        measure(&mut presigned_up, arca_pid, size, async {
            presigned_put(&client, &ns, "presigned.bin", &local, size).await;
        })
        .await;
        measure(&mut dav_put, arca_pid, size, async {
            timed_sh(&format!(
                "curl -sf -T {} -H '{auth}' {dav}/dav.bin",
                local.display()
            ));
        })
        .await;

        // Downloads into a file (end to end), then into /dev/null (HTTP).
        let out_arg = out.display().to_string();
        measure(&mut nginx_get_file, nginx_pid, size, async {
            timed_sh(&format!("curl -sf -o {out_arg} {}/big.bin", nginx.url));
            // The client library's download_path (and so `arca get`)
            // fsyncs what it wrote: durable against durable.
            fsync(&out);
        })
        .await;
        measure(&mut lib_down, arca_pid, size, async {
            let request = pb::DownloadRequest {
                namespace_id: ns.clone(),
                path: "lib.bin".into(),
                ..Default::default()
            };
            client.download_path(request, &out, &options).await.unwrap();
        })
        .await;
        measure(&mut cli_get, arca_pid, size, async {
            timed_sh(&cli(&arca, &server, &["get", &remote, &out_arg]));
        })
        .await;
        let _ = std::fs::remove_file(&out);
        measure(&mut nginx_get_null, nginx_pid, size, async {
            timed_sh(&format!("curl -sf -o /dev/null {}/big.bin", nginx.url));
        })
        .await;
        let url = client
            .presign_download(&ns, "presigned.bin", Duration::from_secs(600))
            .await
            .unwrap()
            .url;
        measure(&mut presigned_down, arca_pid, size, async {
            timed_sh(&format!("curl -sf -o /dev/null '{url}'"));
        })
        .await;
        measure(&mut dav_get, arca_pid, size, async {
            timed_sh(&format!("curl -sf -o /dev/null -H '{auth}' {dav}/dav.bin"));
        })
        .await;
    }
    for path in ["lib.bin", "cli.bin", "presigned.bin", "dav.bin"] {
        let entry = client
            .files
            .clone()
            .stat(pb::StatRequest {
                namespace_id: ns.clone(),
                path: path.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(entry.size, size, "{path} stored whole");
    }
    emit(json!({
        "figure": "end_to_end_beside_nginx",
        "backend": "filesystem",
        "size_mib": size_mib,
        "runs": runs,
        "nginx_put_fsync": nginx_put.summary(),
        "nginx_get_into_file": nginx_get_file.summary(),
        "client_library_upload": lib_up.summary(),
        "client_library_download_into_file": lib_down.summary(),
        "arca_put": cli_put.summary(),
        "arca_get": cli_get.summary(),
        "client_library_upload_ratio": lib_up.ratio_to(&nginx_put),
        "client_library_download_ratio": lib_down.ratio_to(&nginx_get_file),
        "arca_put_ratio": cli_put.ratio_to(&nginx_put),
        "arca_get_ratio": cli_get.ratio_to(&nginx_get_file),
        "ratio_target": 0.9,
    }));
    emit(json!({
        "figure": "http_beside_nginx",
        "backend": "filesystem",
        "size_mib": size_mib,
        "runs": runs,
        "client": "curl (HTTP/1.1)",
        "nginx_put_fsync": nginx_put.summary(),
        "nginx_get": nginx_get_null.summary(),
        "presigned_put_and_finalize": presigned_up.summary(),
        "presigned_get": presigned_down.summary(),
        "webdav_put": dav_put.summary(),
        "webdav_get": dav_get.summary(),
        "presigned_put_ratio": presigned_up.ratio_to(&nginx_put),
        "presigned_get_ratio": presigned_down.ratio_to(&nginx_get_null),
        "webdav_put_ratio": dav_put.ratio_to(&nginx_put),
        "webdav_get_ratio": dav_get.ratio_to(&nginx_get_null),
        "ratio_target": 1.0,
        "server_peak_rss_mib": server.peak_rss_mib(),
    }));
}
