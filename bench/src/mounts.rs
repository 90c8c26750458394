//! The mounts, beside the gRPC path in the same run, on a durable
//! filesystem-backend server: WebDAV PUT and GET of a large file (curl as
//! the client) beside the client library's upload and download of the
//! same file; reading it through a FUSE mount (`arca mount`, release
//! build) beside the download; `tar -x` of 1,000 x 4 KiB files into the
//! mount; `ls -lR` of 10,000 entries; and the peak RSS of the server and of
//! the mount process after a large file went through each path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arca_client::{Client, TransferOptions, pb};
use serde_json::json;

use crate::{
    BENCH_SECRET, MIB, best, connect, emit, mb_per_s, median, peak_rss_mib, round2, start_arca,
    workspace,
};

pub fn arca_cli_binary() -> PathBuf {
    crate::release_binary("arca-cli", "arca")
}

fn mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(&*path.to_string_lossy()))
}

/// A running `arca mount`.
struct Mount {
    child: Child,
    point: PathBuf,
}

impl Mount {
    fn start(addr: &str, ns: &str, point: &Path) -> Mount {
        std::fs::create_dir_all(point).unwrap();
        let child = Command::new(arca_cli_binary())
            .args([
                "--addr",
                &format!("http://{addr}"),
                "--token",
                BENCH_SECRET,
                "mount",
                ns,
            ])
            .arg(point)
            .stderr(Stdio::null())
            .spawn()
            .expect("arca mount");
        for _ in 0..400 {
            if mounted(point) {
                return Mount {
                    child,
                    point: point.to_owned(),
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("the mount did not appear");
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        if mounted(&self.point) {
            let _ = Command::new("fusermount3")
                .args(["-u", "-z"])
                .arg(&self.point)
                .status();
        }
    }
}

pub fn timed_sh(script: &str) -> f64 {
    let start = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "`{script}` failed");
    start.elapsed().as_secs_f64()
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn grpc_upload(client: &Client, ns: &str, path: &str, local: &Path, size: u64) -> f64 {
    let start = Instant::now();
    let upload = pb::UploadStart {
        namespace_id: ns.into(),
        path: path.into(),
        ..Default::default()
    };
    client
        .upload_path(upload, local, &TransferOptions::default())
        .await
        .unwrap();
    mb_per_s(size, start.elapsed().as_secs_f64())
}

async fn grpc_download(client: &Client, ns: &str, path: &str, size: u64) -> f64 {
    let start = Instant::now();
    let request = pb::DownloadRequest {
        namespace_id: ns.into(),
        path: path.into(),
        ..Default::default()
    };
    client
        .download_into(request, &mut tokio::io::sink(), &TransferOptions::default())
        .await
        .unwrap();
    mb_per_s(size, start.elapsed().as_secs_f64())
}

/// The mounts section.
pub async fn mounts(size_mib: u64, runs: usize) {
    for tool in ["curl", "fusermount3", "tar"] {
        if !have(tool) {
            eprintln!("mounts: {tool} is not installed (Debian: curl, fuse3, tar); skipped");
            return;
        }
    }
    let here = std::env::current_dir().unwrap();
    let dir = tempfile::tempdir_in(&here).unwrap();
    let server = start_arca(dir.path(), "filesystem");
    let client = connect(&server.addr).await;
    let ns = workspace(&client, "mounts").await;
    let size = size_mib * MIB;
    let local = dir.path().join("big.local");
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&local).unwrap());
        let block: Vec<u8> = (0..MIB as usize)
            .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
            .collect();
        for i in 0..size_mib {
            let mut b = block.clone();
            b[0] = i as u8;
            file.write_all(&b).unwrap();
        }
    }
    let dav = format!("http://{}/dav/{ns}", server.addr);
    let auth = format!("Authorization: Bearer {BENCH_SECRET}");
    let (mut put, mut get, mut up, mut down) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut put_ratio, mut get_ratio) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let u = grpc_upload(&client, &ns, "grpc.bin", &local, size).await;
        let p = mb_per_s(
            size,
            timed_sh(&format!(
                "curl -sf -T {} -H '{auth}' {dav}/dav.bin",
                local.display()
            )),
        );
        let d = grpc_download(&client, &ns, "grpc.bin", size).await;
        let g = mb_per_s(
            size,
            timed_sh(&format!("curl -sf -o /dev/null -H '{auth}' {dav}/dav.bin")),
        );
        put_ratio.push(p / u);
        get_ratio.push(g / d);
        put.push(p);
        get.push(g);
        up.push(u);
        down.push(d);
    }
    let dav_entry = client
        .files
        .clone()
        .stat(pb::StatRequest {
            namespace_id: ns.clone(),
            path: "dav.bin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dav_entry.size, size, "the WebDAV PUT stored the whole file");
    emit(json!({
        "figure": "webdav_transfer",
        "backend": "filesystem",
        "size_mib": size_mib,
        "runs": runs,
        "client": "curl (HTTP/1.1)",
        "put_mb_s": best(&put),
        "get_mb_s": best(&get),
        "grpc_upload_mb_s": best(&up),
        "grpc_download_mb_s": best(&down),
        "put_ratio_to_grpc_upload": round2(median(put_ratio)),
        "get_ratio_to_grpc_download": round2(median(get_ratio)),
        "server_peak_rss_mib": peak_rss_mib(server.pid()),
    }));

    // The same file read through a FUSE mount, beside the gRPC download.
    let point = dir.path().join("mnt");
    let mount = Mount::start(&server.addr, &ns, &point);
    let (mut read, mut read_ratio) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let d = grpc_download(&client, &ns, "grpc.bin", size).await;
        let m = mb_per_s(
            size,
            timed_sh(&format!("cat {}/grpc.bin > /dev/null", point.display())),
        );
        read.push(m);
        read_ratio.push(m / d);
    }
    let write_secs = timed_sh(&format!(
        "cp {} {}/through-mount.bin",
        local.display(),
        point.display()
    ));
    emit(json!({
        "figure": "fuse_large_file",
        "backend": "filesystem",
        "size_mib": size_mib,
        "runs": runs,
        "read_mb_s": best(&read),
        "read_ratio_to_grpc_download": round2(median(read_ratio)),
        "write_cp_mb_s": mb_per_s(size, write_secs),
        "mount_peak_rss_mib": peak_rss_mib(mount.child.id()),
        "server_peak_rss_mib": peak_rss_mib(server.pid()),
    }));

    // tar -x of 1,000 x 4 KiB files into the mount.
    let src = dir.path().join("tar-src");
    for i in 0..1000 {
        let path = src.join(format!("d{}/f{i}.txt", i % 20));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![(i % 251) as u8; 4096]).unwrap();
    }
    let archive = dir.path().join("files.tar");
    timed_sh(&format!(
        "tar -cf {} -C {} .",
        archive.display(),
        src.display()
    ));
    let mut tar_rates = Vec::new();
    for run in 0..runs.max(1) {
        let target = point.join(format!("tar-{run}"));
        let secs = timed_sh(&format!(
            "mkdir {t} && tar -xf {} -C {t}",
            archive.display(),
            t = target.display()
        ));
        tar_rates.push((1000.0 / secs).round());
    }

    // ls -lR of 10,000 entries written through gRPC batches.
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.push(pb::WriteFileRequest {
            namespace_id: ns.clone(),
            path: format!("tree/d{:03}/f{i}", i % 100),
            data: vec![b'x'; 16].into(),
            ..Default::default()
        });
        if batch.len() == 100 {
            client
                .files
                .clone()
                .batch_write(pb::BatchWriteRequest {
                    namespace_id: ns.clone(),
                    items: std::mem::take(&mut batch),
                })
                .await
                .unwrap();
        }
    }
    let mut ls = Vec::new();
    for _ in 0..runs.max(1) {
        // Past the mount's cache TTL: every run asks the server.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        ls.push(timed_sh(&format!(
            "ls -lR {}/tree > /dev/null",
            point.display()
        )));
    }
    emit(json!({
        "figure": "fuse_metadata",
        "backend": "filesystem",
        "runs": runs,
        "tar_x_1000_files_per_s": best(&tar_rates),
        "ls_lr_10000_entries_s": round2(ls.iter().cloned().fold(f64::MAX, f64::min)),
        "mount_peak_rss_mib": peak_rss_mib(mount.child.id()),
    }));
    mount.stop();
}
