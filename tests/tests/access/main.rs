//! Access control, end to end: every RPC against every kind of credential
//! and every scope, with the exact status, and proof that refused writes
//! change nothing (`matrix`); who may create, list and open namespaces and
//! sessions (`roles`). The namespaces they try are made here.

mod matrix;
mod roles;

use arca_tests::{ADMIN, APP, Backend, OTHER_ADMIN, OTHER_APP, TestServer, assert_code, pb};
use pb::upload_request::Message as In;
use tonic::{Code, Status};

type Outcome = Result<(), Status>;

fn ok<T>(r: Result<T, Status>) -> Outcome {
    r.map(|_| ())
}

/// The namespaces of the matrix: alice's session namespace, alice's user
/// namespace and the sandbox's shared one, each with a file `f`.
struct World {
    server: TestServer,
    alice_session: String,
    alice_token: String,
    bob_token: String,
    expired_token: String,
    scopes: Vec<(pb::Scope, String)>,
}

async fn world() -> World {
    let server = TestServer::start(Backend::Filesystem).await;
    let (alice_session, alice_token) = server.open_session("alice").await;
    let (_, bob_token) = server.open_session("bob").await;
    // A session that is closed: its token must stop working at once.
    let (closed, expired_token) = server.open_session("carol").await;
    server
        .client
        .sessions
        .clone()
        .close_session(pb::CloseSessionRequest { session_id: closed })
        .await
        .unwrap();
    let admin = server.as_secret(ADMIN);
    let mut scopes = Vec::new();
    for (scope, owner) in [
        (
            pb::Scope::Session,
            pb::Owner {
                sandbox: "sb".into(),
                user: "alice".into(),
                session: alice_session.clone(),
            },
        ),
        (
            pb::Scope::User,
            pb::Owner {
                sandbox: "sb".into(),
                user: "alice".into(),
                session: String::new(),
            },
        ),
        (
            pb::Scope::Sandbox,
            pb::Owner {
                sandbox: "sb".into(),
                ..Default::default()
            },
        ),
    ] {
        let ns = admin
            .namespaces
            .clone()
            .create_namespace(pb::CreateNamespaceRequest {
                r#type: pb::NamespaceType::Workspace as i32,
                scope: scope as i32,
                owner: Some(owner),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .namespace_id;
        admin
            .files
            .clone()
            .write_file(pb::WriteFileRequest {
                namespace_id: ns.clone(),
                path: "f".into(),
                data: b"original".to_vec().into(),
                ..Default::default()
            })
            .await
            .unwrap();
        scopes.push((scope, ns));
    }
    World {
        server,
        alice_session,
        alice_token,
        bob_token,
        expired_token,
        scopes,
    }
}
