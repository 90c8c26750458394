//! Quick start: a workspace, a file written and read back, a listing.
//! `cargo run -p arca-client --example quickstart` (starts its own server
//! unless `ARCA_ADDR` is set).

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
    .await;
    println!("namespace {} at {}", ns.namespace_id, ns.grid_prefix);
    let entry = common::write(client, &ns.namespace_id, "/main.py", b"print('hello')").await;
    println!(
        "wrote {} ({} bytes, sha256 {})",
        entry.path, entry.size, entry.sha256
    );
    common::write(
        client,
        &ns.namespace_id,
        "/config.json",
        br#"{"version": "1.0"}"#,
    )
    .await;
    assert_eq!(
        common::read(client, &ns.namespace_id, "main.py").await,
        b"print('hello')"
    );
    let list = client
        .files
        .clone()
        .list(pb::ListRequest {
            namespace_id: ns.namespace_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let paths: Vec<_> = list.entries.iter().map(|e| e.path.as_str()).collect();
    println!("ls / -> {paths:?}");
    assert_eq!(paths, ["config.json", "main.py"]);
}
