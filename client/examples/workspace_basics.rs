//! Workspace basics: directories, copy and move (metadata only), find and
//! metadata.

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
    files
        .mkdir(pb::MkdirRequest {
            namespace_id: ns.clone(),
            path: "src/pkg".into(),
            parents: true,
            exist_ok: false,
        })
        .await
        .unwrap();
    for (path, data) in [
        ("src/pkg/a.py", "a = 1"),
        ("src/pkg/b.py", "b = 2"),
        ("README.md", "# demo"),
    ] {
        common::write(client, &ns, path, data.as_bytes()).await;
    }
    let copied = files
        .copy(pb::CopyRequest {
            namespace_id: ns.clone(),
            source: "src".into(),
            destination: "backup".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    println!(
        "copied src -> {} (no bytes copied: objects are shared)",
        copied.path
    );
    files
        .r#move(pb::MoveRequest {
            namespace_id: ns.clone(),
            source: "backup".into(),
            destination: "old/src".into(),
            parents: true,
            ..Default::default()
        })
        .await
        .unwrap();
    files
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "src/pkg/a.py".into(),
            metadata: [("role".into(), "entry".into())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let found = files
        .find(pb::FindRequest {
            namespace_id: ns.clone(),
            pattern: "**/*.py".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let paths: Vec<_> = found.entries.iter().map(|e| e.path.as_str()).collect();
    println!("find **/*.py -> {paths:?}");
    assert_eq!(
        paths,
        [
            "old/src/pkg/a.py",
            "old/src/pkg/b.py",
            "src/pkg/a.py",
            "src/pkg/b.py"
        ]
    );
    let tagged = files
        .find(pb::FindRequest {
            namespace_id: ns.clone(),
            metadata: [("role".into(), "entry".into())].into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tagged.entries.len(), 1);
}
