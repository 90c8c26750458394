//! Batches: many small files in one call; each item succeeds or fails alone.

mod common;

use arca_client::pb;

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
    let mut files = client.files.clone();
    let mut items: Vec<pb::WriteFileRequest> = (0..100)
        .map(|i| pb::WriteFileRequest {
            path: format!("notes/{i:03}.txt"),
            data: format!("note {i}").into_bytes().into(),
            ..Default::default()
        })
        .collect();
    items.push(pb::WriteFileRequest {
        path: "../outside".into(),
        data: b"refused".to_vec().into(),
        ..Default::default()
    });
    let written = files
        .batch_write(pb::BatchWriteRequest {
            namespace_id: ns.clone(),
            items,
        })
        .await
        .unwrap()
        .into_inner();
    let failed: Vec<_> = written
        .results
        .iter()
        .filter(|r| matches!(r.result, Some(pb::batch_item_result::Result::Error(_))))
        .map(|r| r.path.as_str())
        .collect();
    println!(
        "wrote {} files; refused {failed:?}",
        written.results.len() - failed.len()
    );
    assert_eq!(failed, ["../outside"]);
    let read = files
        .batch_read(pb::BatchReadRequest {
            namespace_id: ns.clone(),
            paths: vec!["notes/007.txt".into(), "notes/missing.txt".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.results[0].data.as_ref(), b"note 7");
    assert!(matches!(
        read.results[1].result,
        Some(pb::batch_item_result::Result::Error(_))
    ));
    let deleted = files
        .batch_delete(pb::BatchDeleteRequest {
            namespace_id: ns,
            paths: (0..50).map(|i| format!("notes/{i:03}.txt")).collect(),
            recursive: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.results.iter().all(|r| r.error.is_none()));
    println!("deleted {} files in one call", deleted.results.len());
}
