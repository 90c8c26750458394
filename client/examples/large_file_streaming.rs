//! Large files: a streamed upload with progress from the server's persisted
//! bytes, and a download checked against the whole-file digest.

mod common;

use std::sync::Arc;

use arca_client::{TransferOptions, pb};

#[tokio::main]
async fn main() {
    let example = common::connect().await;
    let client = &example.client;
    let ns = common::namespace(
        client,
        pb::NamespaceType::Workspace,
        pb::Scope::User,
        "alice",
        "",
    )
    .await
    .namespace_id;
    let size = 64 << 20;
    let data: Vec<u8> = (0..size)
        .map(|i: usize| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let options = TransferOptions {
        progress: Some(Arc::new(move |done| {
            println!("  persisted {:>3}%", done * 100 / size as u64)
        })),
        ..TransferOptions::default()
    };
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "dataset.bin".into(),
        ..Default::default()
    };
    let entry = client
        .upload_from(start, std::io::Cursor::new(data.clone()), &options)
        .await
        .unwrap();
    println!("uploaded {} bytes, sha256 {}", entry.size, entry.sha256);
    let mut sink = Vec::new();
    let request = pb::DownloadRequest {
        namespace_id: ns,
        path: "dataset.bin".into(),
        ..Default::default()
    };
    client
        .download_into(request, &mut sink, &TransferOptions::default())
        .await
        .unwrap();
    assert!(sink == data);
    println!("downloaded and verified against the trailer's digest");
}
