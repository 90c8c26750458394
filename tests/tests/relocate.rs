//! Copy and move across namespaces on every backend: a session file
//! promoted into its user's storage outlives the session; a tree moved
//! between namespaces leaves one as it appears in the other; content is
//! shared within a sandbox and backend, and streamed (with its digest
//! checked) into another backend or sandbox; every refusal (no read on the
//! source, no write on the target, another sandbox, quota, an existing
//! destination, a BLOB's rules) changes nothing.

use std::sync::Arc;
use std::time::Duration;

use arca_server::config::BackendConfig;
use arca_tests::{
    ADMIN, APP, Backend, GLOBAL_ADMIN, OTHER_APP, TestServer, assert_code, on_every_backend,
    pattern, pb, sha256, test_config,
};
use tonic::Code;

async fn copy(
    server: &TestServer,
    secret: &str,
    from: (&str, &str),
    to: (&str, &str),
    overwrite: bool,
) -> Result<pb::Entry, tonic::Status> {
    server
        .as_secret(secret)
        .files
        .copy(pb::CopyRequest {
            namespace_id: from.0.into(),
            source: from.1.into(),
            target_namespace_id: to.0.into(),
            destination: to.1.into(),
            overwrite,
            parents: true,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn mv(
    server: &TestServer,
    secret: &str,
    from: (&str, &str),
    to: (&str, &str),
) -> Result<pb::Entry, tonic::Status> {
    server
        .as_secret(secret)
        .files
        .r#move(pb::MoveRequest {
            namespace_id: from.0.into(),
            source: from.1.into(),
            target_namespace_id: to.0.into(),
            destination: to.1.into(),
            overwrite: false,
            parents: true,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn namespace_as(
    server: &TestServer,
    secret: &str,
    scope: pb::Scope,
    ns_type: pb::NamespaceType,
    backend: &str,
    owner: pb::Owner,
) -> pb::Namespace {
    server
        .as_secret(secret)
        .namespaces
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: ns_type as i32,
            scope: scope as i32,
            owner: Some(owner),
            backend: backend.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn get(server: &TestServer, ns: &str) -> pb::Namespace {
    server
        .as_secret(ADMIN)
        .namespaces
        .get_namespace(pb::GetNamespaceRequest {
            namespace_id: ns.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn alice() -> pb::Owner {
    pb::Owner {
        user: "alice".into(),
        ..Default::default()
    }
}

async fn a_session_file_promoted_outlives_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (session, token) = server.open_session("alice").await;
    let scratch = namespace_as(
        &server,
        &token,
        pb::Scope::Session,
        pb::NamespaceType::Workspace,
        "",
        pb::Owner::default(),
    )
    .await
    .namespace_id;
    let body = pattern(2 << 20, 9);
    server.write(&scratch, "out/report.md", b"# findings").await;
    server.write(&scratch, "out/data.bin", &body).await;
    let keep = namespace_as(
        &server,
        &token,
        pb::Scope::User,
        pb::NamespaceType::Workspace,
        "",
        pb::Owner::default(),
    )
    .await
    .namespace_id;

    // The session token promotes a whole directory into its user's storage.
    let promoted = copy(
        &server,
        &token,
        (&scratch, "out"),
        (&keep, "kept/out"),
        false,
    )
    .await
    .unwrap();
    assert_eq!(promoted.path, "kept/out");
    let shared = server.entry(&keep, "kept/out/data.bin").await.unwrap();
    assert_eq!(shared.sha256, sha256(&body));
    assert!(
        shared
            .grid_key
            .starts_with(&format!("grid/sb/sess-{session}/")),
        "shared, not copied: {}",
        shared.grid_key
    );
    assert_eq!(
        get(&server, &keep).await.total_bytes,
        body.len() as u64 + 10
    );

    // The session ends: its namespace goes, the promoted files stay.
    server
        .client
        .sessions
        .clone()
        .close_session(pb::CloseSessionRequest {
            session_id: session.clone(),
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_code(
        server.read(&scratch, "out/report.md").await,
        Code::PermissionDenied,
    );
    assert_eq!(server.read(&keep, "kept/out/data.bin").await.unwrap(), body);
    assert_eq!(
        server.read(&keep, "kept/out/report.md").await.unwrap(),
        b"# findings"
    );
}

async fn a_move_across_namespaces_is_one_commit(backend: Backend) {
    let server = TestServer::start(backend).await;
    let a = server.workspace().await;
    let b = server.workspace().await;
    server.write(&a, "tree/x.txt", b"x").await;
    server.write(&a, "tree/sub/y.txt", b"yy").await;
    server.write(&a, "stay.txt", b"s").await;
    let moved = mv(&server, APP, (&a, "tree"), (&b, "landed"))
        .await
        .unwrap();
    assert_eq!(moved.kind, pb::EntryKind::Directory as i32);
    assert_eq!(server.ls(&a, "", true).await, vec!["stay.txt"]);
    assert_eq!(
        server.ls(&b, "", true).await,
        vec!["landed", "landed/sub", "landed/sub/y.txt", "landed/x.txt"]
    );
    assert_eq!(server.read(&b, "landed/sub/y.txt").await.unwrap(), b"yy");
    let (na, nb) = (get(&server, &a).await, get(&server, &b).await);
    assert_eq!((na.file_count, na.total_bytes), (1, 1));
    assert_eq!((nb.file_count, nb.total_bytes), (2, 3));
    // Destroying the namespace the content came from breaks nothing.
    server
        .as_secret(ADMIN)
        .namespaces
        .destroy_namespace(pb::DestroyNamespaceRequest {
            namespace_id: a.clone(),
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.read(&b, "landed/x.txt").await.unwrap(), b"x");

    // An existing destination needs overwrite; a BLOB takes one file only.
    server.write(&b, "one.txt", b"1").await;
    server.write(&b, "two.txt", b"2").await;
    let c = server.workspace().await;
    server.write(&c, "one.txt", b"old").await;
    assert_code(
        copy(&server, APP, (&b, "one.txt"), (&c, "one.txt"), false).await,
        Code::AlreadyExists,
    );
    copy(&server, APP, (&b, "one.txt"), (&c, "one.txt"), true)
        .await
        .unwrap();
    assert_eq!(server.read(&c, "one.txt").await.unwrap(), b"1");
    let blob = server
        .namespace(pb::NamespaceType::Blob, pb::Scope::User, "alice")
        .await;
    assert_code(
        copy(&server, APP, (&b, "landed"), (&blob, "landed"), false).await,
        Code::FailedPrecondition,
    );
    copy(&server, APP, (&b, "one.txt"), (&blob, "one.txt"), false)
        .await
        .unwrap();
    assert_code(
        copy(&server, APP, (&b, "two.txt"), (&blob, "two.txt"), false).await,
        Code::FailedPrecondition,
    );
    assert_eq!(server.ls(&blob, "", true).await, vec!["one.txt"]);
}

async fn denials_and_quotas_change_nothing(backend: Backend) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config.quotas.user.max_bytes = 1 << 20;
    let server = TestServer::start_with(config, dir).await;
    let shared = namespace_as(
        &server,
        ADMIN,
        pb::Scope::Sandbox,
        pb::NamespaceType::Workspace,
        "",
        pb::Owner::default(),
    )
    .await
    .namespace_id;
    server
        .as_secret(ADMIN)
        .files
        .write_file(pb::WriteFileRequest {
            namespace_id: shared.clone(),
            path: "lib/tool.py".into(),
            data: b"print('hi')".to_vec().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, token) = server.open_session("alice").await;
    let own = namespace_as(
        &server,
        APP,
        pb::Scope::User,
        pb::NamespaceType::Workspace,
        "",
        alice(),
    )
    .await
    .namespace_id;
    let bobs = server
        .namespace(pb::NamespaceType::Workspace, pb::Scope::User, "bob")
        .await;
    server.write(&bobs, "b.txt", b"bob").await;

    // Read on the source suffices to copy out of a shared namespace...
    copy(&server, &token, (&shared, "lib"), (&own, "lib"), false)
        .await
        .unwrap();
    assert_eq!(
        server.read(&own, "lib/tool.py").await.unwrap(),
        b"print('hi')"
    );
    // ...a move needs write there; a copy into it needs write too.
    assert_code(
        mv(&server, &token, (&shared, "lib/tool.py"), (&own, "t.py")).await,
        Code::PermissionDenied,
    );
    assert_code(
        copy(&server, APP, (&own, "lib"), (&shared, "mine"), false).await,
        Code::PermissionDenied,
    );
    assert!(server.entry(&shared, "lib/tool.py").await.is_some());
    assert!(server.entry(&shared, "mine").await.is_none());
    // Another user's namespace, either way; another sandbox's key.
    assert_code(
        copy(&server, &token, (&bobs, "b.txt"), (&own, "b.txt"), false).await,
        Code::PermissionDenied,
    );
    assert_code(
        copy(&server, &token, (&own, "lib"), (&bobs, "lib"), false).await,
        Code::PermissionDenied,
    );
    assert_code(
        copy(&server, OTHER_APP, (&own, "lib"), (&own, "x"), false).await,
        Code::PermissionDenied,
    );
    assert_code(
        copy(&server, APP, (&own, "../x"), (&bobs, "x"), false).await,
        Code::InvalidArgument,
    );
    assert_code(
        copy(&server, APP, (&own, "lib"), ("not-an-id", "x"), false).await,
        Code::InvalidArgument,
    );
    assert_code(
        copy(&server, APP, (&own, "missing"), (&bobs, "x"), false).await,
        Code::NotFound,
    );
    assert!(server.entry(&own, "b.txt").await.is_none());
    assert!(server.entry(&bobs, "lib").await.is_none());

    // The target's quota: 600 KiB fits once into alice's 1 MiB, not twice.
    let big = pattern(600 << 10, 4);
    server.write(&bobs, "big.bin", &big).await;
    copy(&server, APP, (&bobs, "big.bin"), (&own, "big-1.bin"), false)
        .await
        .unwrap();
    assert_code(
        copy(&server, APP, (&bobs, "big.bin"), (&own, "big-2.bin"), false).await,
        Code::ResourceExhausted,
    );
    assert_code(
        mv(&server, APP, (&bobs, "big.bin"), (&own, "big-3.bin")).await,
        Code::ResourceExhausted,
    );
    assert!(
        server.entry(&bobs, "big.bin").await.is_some(),
        "a refused move keeps its source"
    );
    assert!(server.entry(&own, "big-2.bin").await.is_none());
}

/// A server on `backend` with a second, in-memory backend "spare".
async fn with_spare(backend: Backend) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config
        .backends
        .insert("spare".into(), BackendConfig::Memory);
    TestServer::start_with(config, dir).await
}

async fn across_backends_and_sandboxes_the_bytes_are_streamed(backend: Backend) {
    let server = with_spare(backend).await;
    let home = server.workspace().await;
    let spare = namespace_as(
        &server,
        APP,
        pb::Scope::User,
        pb::NamespaceType::Workspace,
        "spare",
        alice(),
    )
    .await;
    let body = pattern(5 << 20, 2);
    server.write(&home, "d/small.txt", b"small").await;
    server.write(&home, "d/e/empty", b"").await;
    server
        .upload_as(APP, &home, "d/big.bin", &body, true)
        .await
        .unwrap();

    let copied = copy(
        &server,
        APP,
        (&home, "d"),
        (&spare.namespace_id, "d"),
        false,
    )
    .await
    .unwrap();
    assert_eq!(copied.kind, pb::EntryKind::Directory as i32);
    let big = server
        .entry(&spare.namespace_id, "d/big.bin")
        .await
        .unwrap();
    assert_eq!(big.sha256, sha256(&body));
    assert!(
        big.grid_key.starts_with(&spare.grid_prefix),
        "its own object: {}",
        big.grid_key
    );
    assert_eq!(
        server.read(&spare.namespace_id, "d/e/empty").await.unwrap(),
        b""
    );
    assert_eq!(
        get(&server, &spare.namespace_id).await.total_bytes,
        body.len() as u64 + 5
    );

    // A move across backends: the source goes once the target is committed.
    mv(
        &server,
        APP,
        (&home, "d/small.txt"),
        (&spare.namespace_id, "small.txt"),
    )
    .await
    .unwrap();
    assert!(server.entry(&home, "d/small.txt").await.is_none());
    assert_eq!(
        server.read(&spare.namespace_id, "small.txt").await.unwrap(),
        b"small"
    );

    // A global admin copies into another sandbox: streamed, keyed there.
    let elsewhere = namespace_as(
        &server,
        GLOBAL_ADMIN,
        pb::Scope::User,
        pb::NamespaceType::Workspace,
        "",
        pb::Owner {
            sandbox: "other".into(),
            user: "carol".into(),
            ..Default::default()
        },
    )
    .await;
    copy(
        &server,
        GLOBAL_ADMIN,
        (&home, "d/big.bin"),
        (&elsewhere.namespace_id, "big.bin"),
        false,
    )
    .await
    .unwrap();
    let there = server
        .as_secret(GLOBAL_ADMIN)
        .files
        .stat(pb::StatRequest {
            namespace_id: elsewhere.namespace_id.clone(),
            path: "big.bin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        there.grid_key.starts_with("grid/other/"),
        "{}",
        there.grid_key
    );
    assert_eq!(there.sha256, sha256(&body));
}

on_every_backend!(
    a_session_file_promoted_outlives_the_session,
    a_move_across_namespaces_is_one_commit,
    denials_and_quotas_change_nothing,
    across_backends_and_sandboxes_the_bytes_are_streamed,
);
