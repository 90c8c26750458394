//! Session isolation: identity comes from the credential, so a session token
//! reaches its own user's data and nothing else.

mod common;

use arca_client::pb;
use tonic::Code;

#[tokio::main]
async fn main() {
    let example = common::connect().await;
    let app = &example.client;
    let open = |user: &'static str| {
        let mut sessions = app.sessions.clone();
        async move {
            sessions
                .open_session(pb::OpenSessionRequest {
                    user: user.into(),
                    sandbox: "examples".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .token
        }
    };
    let alice = app.with_secret(&open("alice").await).unwrap();
    let bob = app.with_secret(&open("bob").await).unwrap();
    let mine = alice
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    println!(
        "alice's namespace belongs to {:?}",
        mine.owner.as_ref().unwrap().user
    );
    common::write(&alice, &mine.namespace_id, "diary.txt", b"private").await;
    let peek = bob
        .files
        .clone()
        .read_file(pb::ReadFileRequest {
            namespace_id: mine.namespace_id.clone(),
            path: "diary.txt".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(peek.unwrap_err().code(), Code::PermissionDenied);
    println!("bob reading alice's file: PERMISSION_DENIED");
    let claim = bob
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                user: "alice".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(claim.unwrap_err().code(), Code::PermissionDenied);
    println!("bob naming alice as owner: PERMISSION_DENIED");
}
