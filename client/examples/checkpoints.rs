//! Checkpoints: snapshot, change, diff, restore exactly.

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
    common::write(client, &ns, "plan.md", b"step 1").await;
    let mut checkpoints = client.checkpoints.clone();
    let v1 = checkpoints
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.clone(),
            name: "v1".into(),
            description: "before the agent ran".into(),
        })
        .await
        .unwrap()
        .into_inner();
    common::write(client, &ns, "plan.md", b"step 1\nstep 2").await;
    common::write(client, &ns, "scratch.txt", b"temporary").await;
    let diff = checkpoints
        .diff_checkpoints(pb::DiffCheckpointsRequest {
            namespace_id: ns.clone(),
            from_checkpoint_id: v1.checkpoint_id.clone(),
            to_checkpoint_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    println!(
        "since v1: added {:?}, changed {:?}",
        diff.added.iter().map(|c| &c.path).collect::<Vec<_>>(),
        diff.changed.iter().map(|c| &c.path).collect::<Vec<_>>()
    );
    checkpoints
        .restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: v1.checkpoint_id,
        })
        .await
        .unwrap();
    assert_eq!(common::read(client, &ns, "plan.md").await, b"step 1");
    let gone = client
        .files
        .clone()
        .stat(pb::StatRequest {
            namespace_id: ns.clone(),
            path: "scratch.txt".into(),
        })
        .await;
    assert!(gone.is_err(), "files created after the checkpoint are gone");
    println!("restored v1 exactly");
}
