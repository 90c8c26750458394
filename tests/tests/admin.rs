//! The admin Stats RPC: usage by sandbox, backend and scope (logical and
//! stored bytes), sessions, uploads, checkpoints, backend reachability; and
//! who may see what.

use arca_tests::{
    ADMIN, APP, Backend, GLOBAL_ADMIN, OTHER_ADMIN, TestServer, assert_code, on_every_backend, pb,
};
use tonic::Code;

async fn stats(
    server: &TestServer,
    secret: &str,
    sandbox: &str,
) -> Result<pb::GetStatsResponse, tonic::Status> {
    server
        .as_secret(secret)
        .admin
        .get_stats(pb::GetStatsRequest {
            sandbox: sandbox.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn stats_add_up(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "a.txt", b"hello").await;
    server.write(&ns, "b.txt", b"hello").await; // same content: stored once
    server.write(&ns, "c.txt", b"world!").await;
    server
        .client
        .checkpoints
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.clone(),
            name: "one".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    let _session = server.open_session("bob").await;
    // Another sandbox's namespace, which the sandbox admin must not see.
    let other = server.as_secret(arca_tests::OTHER_APP);
    other
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                sandbox: "other".into(),
                user: "zed".into(),
                session: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();

    let mine = stats(&server, ADMIN, "").await.unwrap();
    assert_eq!(mine.usage.len(), 1, "{:?}", mine.usage);
    let row = &mine.usage[0];
    assert_eq!(row.sandbox, "sb");
    assert_eq!(row.scope, pb::Scope::User as i32);
    assert_eq!((row.namespaces, row.files, row.bytes), (1, 3, 16));
    assert_eq!((row.stored_objects, row.stored_bytes), (2, 11));
    assert_eq!(mine.checkpoints, 1);
    assert_eq!(mine.active_sessions, 1);
    assert_eq!(mine.uploads_in_progress, 0);
    assert_eq!(
        mine.metadata_bytes, 0,
        "only for keys reaching every sandbox"
    );
    assert!(
        mine.backends
            .iter()
            .all(|b| b.reachable && b.location.is_empty())
    );

    let all = stats(&server, GLOBAL_ADMIN, "").await.unwrap();
    assert_eq!(all.usage.len(), 2);
    assert!(all.metadata_bytes > 0);
    assert!(all.backends.iter().all(|b| !b.location.is_empty()));
    let only_other = stats(&server, GLOBAL_ADMIN, "other").await.unwrap();
    assert_eq!(only_other.usage.len(), 1);
    assert_eq!(only_other.usage[0].sandbox, "other");

    // Apps and sessions may not; a sandbox admin reaches only its own;
    // a malformed sandbox is bad input.
    assert_code(stats(&server, APP, "").await, Code::PermissionDenied);
    let (_, token) = server.open_session("carol").await;
    assert_code(stats(&server, &token, "").await, Code::PermissionDenied);
    assert_code(
        stats(&server, OTHER_ADMIN, "sb").await,
        Code::PermissionDenied,
    );
    assert_code(stats(&server, ADMIN, "../x").await, Code::InvalidArgument);
    assert_code(
        server
            .client
            .anonymous()
            .admin
            .get_stats(pb::GetStatsRequest::default())
            .await,
        Code::Unauthenticated,
    );
}

on_every_backend!(stats_add_up);
