//! Named sessions: opening a name again while its session lives returns
//! that session with a new token (both tokens work, the lease only grows),
//! names are per user and sandbox, a closed or expired name opens a new
//! session, and bad names are refused. Also across a restart.

use std::time::Duration;

use arca_tests::{APP, Backend, OTHER_APP, TestServer, assert_code, on_every_backend, pb};
use tonic::Code;

async fn open(
    server: &TestServer,
    secret: &str,
    user: &str,
    name: &str,
    ttl_secs: i64,
) -> Result<pb::OpenSessionResponse, tonic::Status> {
    server
        .as_secret(secret)
        .sessions
        .open_session(pb::OpenSessionRequest {
            user: user.into(),
            name: name.into(),
            ttl: Some(prost_types::Duration {
                seconds: ttl_secs,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Whether `token` is a live credential (it may read its own session).
async fn works(server: &TestServer, token: &str) -> bool {
    server
        .as_secret(token)
        .sessions
        .get_session(pb::GetSessionRequest {
            session_id: String::new(),
        })
        .await
        .is_ok()
}

fn id(opened: &pb::OpenSessionResponse) -> String {
    opened.session.as_ref().unwrap().session_id.clone()
}

async fn a_name_maps_to_one_live_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let first = open(&server, APP, "alice", "conversation-42", 600)
        .await
        .unwrap();
    assert!(!first.reopened);
    assert_eq!(first.session.as_ref().unwrap().name, "conversation-42");
    let again = open(&server, APP, "alice", "conversation-42", 60)
        .await
        .unwrap();
    assert!(again.reopened);
    assert_eq!(id(&again), id(&first), "the same session");
    assert_ne!(again.token, first.token, "with a new token");
    assert!(works(&server, &first.token).await && works(&server, &again.token).await);
    // The lease only grows: a shorter request leaves the longer lease.
    assert_eq!(
        again.session.as_ref().unwrap().expires_at,
        first.session.as_ref().unwrap().expires_at
    );

    // A SESSION namespace of it is reached through either token.
    let ns = server
        .as_secret(&first.token)
        .namespaces
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::Session as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    server
        .as_secret(&again.token)
        .namespaces
        .get_namespace(pb::GetNamespaceRequest {
            namespace_id: ns.clone(),
        })
        .await
        .unwrap();

    // Per user and per sandbox: the same name elsewhere is another session.
    let bob = open(&server, APP, "bob", "conversation-42", 600)
        .await
        .unwrap();
    assert!(!bob.reopened);
    assert_ne!(id(&bob), id(&first));
    let other = open(&server, OTHER_APP, "alice", "conversation-42", 600)
        .await
        .unwrap();
    assert_ne!(id(&other), id(&first));
    // Unnamed sessions are always new.
    let a = open(&server, APP, "alice", "", 600).await.unwrap();
    let b = open(&server, APP, "alice", "", 600).await.unwrap();
    assert_ne!(id(&a), id(&b));

    // Closed: every token stops working and the name opens a new session.
    server
        .client
        .sessions
        .clone()
        .close_session(pb::CloseSessionRequest {
            session_id: id(&first),
        })
        .await
        .unwrap();
    assert!(!works(&server, &first.token).await && !works(&server, &again.token).await);
    let fresh = open(&server, APP, "alice", "conversation-42", 600)
        .await
        .unwrap();
    assert!(!fresh.reopened);
    assert_ne!(id(&fresh), id(&first));

    // Across a restart the name still finds its session.
    let server = server.restart().await;
    let after = open(&server, APP, "alice", "conversation-42", 600)
        .await
        .unwrap();
    assert!(after.reopened);
    assert_eq!(id(&after), id(&fresh));
    assert!(works(&server, &fresh.token).await);
}

async fn expired_names_open_new_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let first = open(&server, APP, "alice", "short", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let next = open(&server, APP, "alice", "short", 600).await.unwrap();
    assert!(!next.reopened, "an expired session is not reopened");
    assert_ne!(id(&next), id(&first));
    assert!(!works(&server, &first.token).await);
}

async fn bad_names_and_callers_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    assert_code(
        open(&server, APP, "alice", &"n".repeat(129), 600).await,
        Code::InvalidArgument,
    );
    assert_code(
        open(&server, APP, "alice", "tab\there", 600).await,
        Code::InvalidArgument,
    );
    let session = open(&server, APP, "alice", "mine", 600).await.unwrap();
    // A session token opens no sessions, named or not.
    assert_code(
        open(&server, &session.token, "alice", "mine", 600).await,
        Code::PermissionDenied,
    );
    // Only 16 extra tokens are kept: the oldest stop working.
    let mut tokens = Vec::new();
    for _ in 0..17 {
        tokens.push(
            open(&server, APP, "alice", "mine", 600)
                .await
                .unwrap()
                .token,
        );
    }
    assert!(
        works(&server, &session.token).await,
        "the first token stays"
    );
    assert!(
        !works(&server, &tokens[0]).await,
        "the oldest extra token went"
    );
    assert!(works(&server, &tokens[16]).await);
}

on_every_backend!(
    a_name_maps_to_one_live_session,
    expired_names_open_new_sessions,
    bad_names_and_callers_are_refused,
);
