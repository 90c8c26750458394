//! The Python SDK's figures: its transfer rate beside the Rust client's,
//! and small files by 64 asyncio tasks beside the reference library
//! (chuk-artifacts with its filesystem provider, in-process), whose venv the
//! benchmark makes itself. The SDK runs from `client/python/src`, so the
//! figures are of this checkout's code, in the test command's venv (grpcio).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::{BENCH_SECRET, emit, round2, start_arca};

/// The reference library and version the small-file figure compares with.
const REFERENCE: &str = "chuk-artifacts==0.11.4";

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../client/python")
}

fn home_cache(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(".cache")
        .join(name)
}

/// The test command's venv (grpcio, the SDK's dependencies), if it exists.
fn sdk_python() -> Result<PathBuf, String> {
    let venv = std::env::var("ARCA_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| home_cache("arca-test-venv"));
    let python = venv.join("bin/python");
    if python.exists() {
        Ok(python)
    } else {
        Err(format!(
            "no venv at {} (run bash tests/run.sh once)",
            venv.display()
        ))
    }
}

/// Runs `bench.py` with the checkout's SDK; its one JSON line.
fn run_sdk(args: &[&str]) -> Result<serde_json::Value, String> {
    let python = sdk_python()?;
    let output = Command::new(python)
        .arg(sdk_dir().join("bench.py"))
        .args(args)
        .env("PYTHONPATH", sdk_dir().join("src"))
        .output()
        .map_err(|e| format!("cannot run python: {e}"))?;
    parse(&output)
}

fn parse(output: &std::process::Output) -> Result<serde_json::Value, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| String::from_utf8_lossy(&output.stderr).trim().to_owned())
}

/// The SDK's 256 MiB upload and download on the filesystem server, beside
/// the Rust client library's rates measured in the same run.
pub fn transfer(addr: &str, rust_up: f64, rust_down: f64) {
    match run_sdk(&["transfer", addr, BENCH_SECRET, "256"]) {
        Ok(mut figure) => {
            let (up, down) = (
                figure["upload_mb_s"].as_f64().unwrap_or(0.0),
                figure["download_mb_s"].as_f64().unwrap_or(0.0),
            );
            figure["rust_client_upload_mb_s"] = json!(rust_up);
            figure["rust_client_download_mb_s"] = json!(rust_down);
            figure["upload_ratio_to_rust_client"] = json!(round2(up / rust_up));
            figure["download_ratio_to_rust_client"] = json!(round2(down / rust_down));
            emit(figure);
        }
        Err(why) => emit(json!({"figure": "python_sdk_transfer", "skipped": why})),
    }
}

/// A venv holding the reference library, made on first use.
fn reference_python() -> Result<PathBuf, String> {
    let venv = home_cache("arca-bench-reference-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(REFERENCE) {
        return Ok(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("python3 -m venv: {e}"))?;
    let installed = made.success()
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", REFERENCE])
            .status()
            .map_err(|e| format!("pip: {e}"))?
            .success();
    if !installed {
        return Err(format!("could not install {REFERENCE}"));
    }
    std::fs::write(&marker, REFERENCE).map_err(|e| e.to_string())?;
    Ok(python)
}

/// 1 KiB store then retrieve by 64 asyncio tasks: the SDK against a durable
/// filesystem-backed server (its own process), then the reference library
/// in-process with its filesystem provider, on the same disk.
pub fn small(count: usize) {
    let dir = crate::Scratch::new();
    let process = start_arca(dir.path(), "filesystem");
    let sdk = run_sdk(&["small", &process.addr, BENCH_SECRET, &count.to_string()]);
    drop(process);
    let reference = reference_python().and_then(|python| {
        let root = dir.path().join("reference");
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let output = Command::new(python)
            .arg(sdk_dir().join("bench_reference.py"))
            .arg(&root)
            .arg(count.to_string())
            .output()
            .map_err(|e| format!("cannot run python: {e}"))?;
        parse(&output)
    });
    match (&sdk, &reference) {
        (Ok(ours), Ok(theirs)) => {
            let ratio = |key: &str| {
                round2(ours[key].as_f64().unwrap_or(0.0) / theirs[key].as_f64().unwrap_or(1.0))
            };
            emit(ours.clone());
            emit(theirs.clone());
            emit(json!({
                "figure": "python_sdk_small_vs_reference",
                "arca": "durable (fsync), over gRPC to a filesystem-backed server",
                "reference": "in-process, filesystem provider, memory sessions",
                "store_ratio": ratio("store_per_s"),
                "retrieve_ratio": ratio("retrieve_per_s"),
            }));
        }
        _ => emit(json!({
            "figure": "python_sdk_small_vs_reference",
            "sdk": sdk.map_err(|e| e.to_string()).err(),
            "reference": reference.err(),
        })),
    }
}
