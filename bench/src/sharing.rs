//! Forks and cross-namespace copies: a fork of 10,000 files must cost the
//! same whatever their size (metadata only; target at most 100 ms), and a
//! copy of a 1 GiB file into another namespace of the same backend must
//! cost nothing like its upload, while one into another backend streams
//! the bytes (compared with the upload of the same file in the same run).

use super::*;

/// Best of three forks of `source`, in milliseconds.
async fn fork_ms(client: &Client, source: &str, files: usize) -> f64 {
    let mut best = f64::MAX;
    for round in 0..3 {
        let start = Instant::now();
        let fork = client
            .namespaces
            .clone()
            .create_namespace(pb::CreateNamespaceRequest {
                scope: pb::Scope::User as i32,
                owner: Some(pb::Owner {
                    sandbox: "bench".into(),
                    user: format!("forker{round}"),
                    session: String::new(),
                }),
                source: Some(pb::NamespaceSource {
                    namespace_id: source.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        best = best.min(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(fork.file_count, files as u64);
    }
    round2(best)
}

async fn copy_ms(client: &Client, from: &str, to: &str, destination: &str) -> f64 {
    let start = Instant::now();
    client
        .files
        .clone()
        .copy(pb::CopyRequest {
            namespace_id: from.into(),
            source: "big.bin".into(),
            target_namespace_id: to.into(),
            destination: destination.into(),
            overwrite: true,
            parents: false,
        })
        .await
        .unwrap();
    round2(start.elapsed().as_secs_f64() * 1000.0)
}

pub async fn sharing(files: usize, size_mib: u64, runs: usize) {
    let dir = crate::Scratch::new();
    let process = start_arca(dir.path(), "filesystem+memory");
    let client = connect(&process.addr).await;

    let small = workspace(&client, "fork-small").await;
    metadata::fill(&client, &small, files, 1024).await;
    let large = workspace(&client, "fork-large").await;
    let big_file = (1usize << 30) / files;
    metadata::fill(&client, &large, files, big_file).await;
    let small_ms = fork_ms(&client, &small, files).await;
    let large_ms = fork_ms(&client, &large, files).await;
    emit(json!({
        "figure": "fork",
        "backend": "filesystem",
        "files": files,
        "small_workspace_mib": (files * 1024) >> 20,
        "large_workspace_mib": (files * big_file) >> 20,
        "fork_ms_small": small_ms,
        "fork_ms_large": large_ms,
        "ratio_large_to_small": round2(large_ms / small_ms),
        "target_ms": 100,
    }));

    // One file of `size_mib`, uploaded, then copied across namespaces.
    let source = workspace(&client, "copy-source").await;
    let same_backend = workspace(&client, "copy-target").await;
    let other_backend = client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                sandbox: "bench".into(),
                user: "copy-elsewhere".into(),
                session: String::new(),
            }),
            backend: "memory".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    let data: Vec<u8> = (0..(size_mib * MIB) as usize)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let (mut upload_s, mut shared_ms, mut streamed_s) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let start = Instant::now();
        client
            .upload_from(
                pb::UploadStart {
                    namespace_id: source.clone(),
                    path: "big.bin".into(),
                    ..Default::default()
                },
                std::io::Cursor::new(data.clone()),
                &Default::default(),
            )
            .await
            .unwrap();
        upload_s.push(start.elapsed().as_secs_f64());
        shared_ms.push(copy_ms(&client, &source, &same_backend, &format!("copy-{run}.bin")).await);
        streamed_s.push(
            copy_ms(&client, &source, &other_backend, &format!("copy-{run}.bin")).await / 1000.0,
        );
    }
    let best = |v: &[f64]| v.iter().cloned().fold(f64::MAX, f64::min);
    let bytes = size_mib * MIB;
    emit(json!({
        "figure": "cross_namespace_copy",
        "size_mib": size_mib,
        "runs": runs,
        "upload_mb_s": mb_per_s(bytes, best(&upload_s)),
        "copy_same_backend_ms": best(&shared_ms),
        "copy_other_backend_mb_s": mb_per_s(bytes, best(&streamed_s)),
        "copy_other_backend_to_upload": round2(best(&upload_s) / best(&streamed_s)),
        "note": "same backend: the target shares the object (metadata only); other backend (filesystem to memory): the server streams and re-hashes the bytes",
    }));
}
