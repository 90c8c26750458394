//! BLOB basics: a session-scoped blob holds exactly one file; overwriting
//! keeps it one file; a second path is refused; closing the session takes it.

mod common;

use arca_client::pb;
use tonic::Code;

#[tokio::main]
async fn main() {
    let example = common::connect().await;
    let client = &example.client;
    let opened = client
        .sessions
        .clone()
        .open_session(pb::OpenSessionRequest {
            user: "alice".into(),
            sandbox: "examples".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let session = opened.session.unwrap().session_id;
    let blob = common::namespace(
        client,
        pb::NamespaceType::Blob,
        pb::Scope::Session,
        "alice",
        &session,
    )
    .await;
    common::write(client, &blob.namespace_id, "data.bin", b"first").await;
    common::write(client, &blob.namespace_id, "data.bin", b"second").await;
    assert_eq!(
        common::read(client, &blob.namespace_id, "data.bin").await,
        b"second"
    );
    let second = client
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: blob.namespace_id.clone(),
            path: "other.bin".into(),
            data: b"x".to_vec().into(),
            ..Default::default()
        })
        .await;
    assert_eq!(second.unwrap_err().code(), Code::FailedPrecondition);
    println!("a BLOB holds one file: a second path is FAILED_PRECONDITION");
    let closed = client
        .sessions
        .clone()
        .close_session(pb::CloseSessionRequest {
            session_id: session,
        })
        .await
        .unwrap()
        .into_inner();
    println!(
        "closing the session destroyed {} namespace(s)",
        closed.namespaces_destroyed
    );
    assert_eq!(closed.namespaces_destroyed, 1);
}
