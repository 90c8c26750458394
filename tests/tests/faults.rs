//! The reference library's access, expiry and isolation faults, one test
//! each: Arca must have none of them.

use std::sync::Arc;
use std::time::Duration;

use arca_tests::{APP, Backend, OTHER_APP, TestServer, assert_code, pb, test_config};
use tonic::Code;

fn user_ns(user: &str) -> pb::CreateNamespaceRequest {
    pb::CreateNamespaceRequest {
        r#type: pb::NamespaceType::Workspace as i32,
        scope: pb::Scope::User as i32,
        owner: Some(pb::Owner {
            sandbox: String::new(),
            user: user.into(),
            session: String::new(),
        }),
        ..Default::default()
    }
}

/// Fault: naming another user's id read, overwrote or re-owned their files.
#[tokio::test]
async fn naming_another_user_gives_no_access() {
    let server = TestServer::start(Backend::Filesystem).await;
    let alices = server.workspace().await;
    server.write(&alices, "secret.txt", b"alice only").await;
    let (_, bob_token) = server.open_session("bob").await;
    let bob = server.as_secret(&bob_token);
    // Bob names alice as the owner: refused, not silently re-owned.
    assert_code(
        bob.namespaces
            .clone()
            .create_namespace(user_ns("alice"))
            .await,
        Code::PermissionDenied,
    );
    // Bob reads, overwrites, renames or re-tags alice's files: refused.
    let mut files = bob.files.clone();
    assert_code(
        files
            .read_file(pb::ReadFileRequest {
                namespace_id: alices.clone(),
                path: "secret.txt".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        files
            .write_file(pb::WriteFileRequest {
                namespace_id: alices.clone(),
                path: "secret.txt".into(),
                data: b"bob".to_vec().into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        bob.namespaces
            .clone()
            .update_namespace_metadata(pb::UpdateNamespaceMetadataRequest {
                namespace_id: alices.clone(),
                metadata: [("owner".into(), "bob".into())].into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(
        server.read(&alices, "secret.txt").await.unwrap(),
        b"alice only"
    );
    // Bob's own namespace is his, whatever he asks for.
    let mine = bob
        .namespaces
        .clone()
        .create_namespace(user_ns(""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.owner.unwrap().user, "bob");
}

/// Fault: made-up session ids were accepted.
#[tokio::test]
async fn made_up_sessions_are_refused() {
    let server = TestServer::start(Backend::Filesystem).await;
    let made_up = "0123456789abcdef0123456789abcdef";
    let request = pb::CreateNamespaceRequest {
        r#type: pb::NamespaceType::Blob as i32,
        scope: pb::Scope::Session as i32,
        owner: Some(pb::Owner {
            sandbox: "sb".into(),
            user: "alice".into(),
            session: made_up.into(),
        }),
        ..Default::default()
    };
    assert_code(
        server
            .client
            .namespaces
            .clone()
            .create_namespace(request)
            .await,
        Code::FailedPrecondition,
    );
    // A made-up or guessed bearer token is no credential.
    for secret in [
        "arca_st_00",
        made_up,
        "Bearer",
        "test-app-of-sbX",
        "TEST-APP-OF-SB",
    ] {
        assert_code(
            server
                .as_secret(secret)
                .namespaces
                .clone()
                .list_namespaces(pb::ListNamespacesRequest::default())
                .await,
            Code::Unauthenticated,
        );
    }
    // Another user's session id cannot carry someone else's namespace.
    let (bobs_session, _) = server.open_session("bob").await;
    let request = pb::CreateNamespaceRequest {
        r#type: pb::NamespaceType::Blob as i32,
        scope: pb::Scope::Session as i32,
        owner: Some(pb::Owner {
            sandbox: "sb".into(),
            user: "alice".into(),
            session: bobs_session,
        }),
        ..Default::default()
    };
    assert_code(
        server
            .client
            .namespaces
            .clone()
            .create_namespace(request)
            .await,
        Code::FailedPrecondition,
    );
}

/// Fault: one sandbox could read another's session files.
#[tokio::test]
async fn sandboxes_are_isolated() {
    let server = TestServer::start(Backend::Filesystem).await;
    let ns = server
        .namespace(pb::NamespaceType::Workspace, pb::Scope::Session, "alice")
        .await;
    server.write(&ns, "f", b"sb only").await;
    let other = server.as_secret(OTHER_APP);
    let (_, other_session) = {
        let opened = other
            .sessions
            .clone()
            .open_session(pb::OpenSessionRequest {
                user: "alice".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        (opened.session.unwrap().session_id, opened.token)
    };
    for client in [other.clone(), server.as_secret(&other_session)] {
        assert_code(
            client
                .files
                .clone()
                .read_file(pb::ReadFileRequest {
                    namespace_id: ns.clone(),
                    path: "f".into(),
                    ..Default::default()
                })
                .await,
            Code::PermissionDenied,
        );
        let listed = client
            .namespaces
            .clone()
            .list_namespaces(pb::ListNamespacesRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(
            listed
                .namespaces
                .iter()
                .all(|n| n.owner.as_ref().unwrap().sandbox == "other")
        );
    }
}

/// Fault: a user id containing `../` placed files outside the storage root.
#[tokio::test]
async fn ids_cannot_escape_the_storage_root() {
    let server = TestServer::start(Backend::Filesystem).await;
    let before: Vec<_> = std::fs::read_dir(server.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for user in ["../evil", "..", "a/../../b", "/abs", "a\\b", "."] {
        assert_code(
            server
                .client
                .namespaces
                .clone()
                .create_namespace(user_ns(user))
                .await,
            Code::InvalidArgument,
        );
        assert_code(
            server
                .client
                .sessions
                .clone()
                .open_session(pb::OpenSessionRequest {
                    user: user.into(),
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
        );
    }
    let after: Vec<_> = std::fs::read_dir(server.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "something was created beside the data");
    // Everything that exists lives under grid/ in the backend root.
    let root = server.blob_root().unwrap();
    if root.exists() {
        for entry in std::fs::read_dir(&root).unwrap() {
            assert_eq!(entry.unwrap().file_name(), "grid");
        }
    }
}

/// Fault: namespace expiry was never enforced, and expired data never
/// deleted. Here: unreadable the moment it expires, then deleted from the
/// backend by the reclaimer, also across a restart in the middle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_data_is_unreadable_then_deleted_across_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Filesystem, dir.path());
    config.reclaim.interval_secs = 1;
    let server = TestServer::start_with(config, dir).await;
    let root = server.blob_root().unwrap();
    let mut ns_client = server.client.namespaces.clone();
    let short = ns_client
        .create_namespace(pb::CreateNamespaceRequest {
            ttl: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            ..user_ns("alice")
        })
        .await
        .unwrap()
        .into_inner();
    let keep = ns_client
        .create_namespace(user_ns("alice"))
        .await
        .unwrap()
        .into_inner();
    let expiring = server.write(&short.namespace_id, "f", b"expiring").await;
    let kept = server.write(&keep.namespace_id, "f", b"kept").await;
    // A session whose lease runs out takes its namespace with it.
    let session = server
        .client
        .sessions
        .clone()
        .open_session(pb::OpenSessionRequest {
            user: "alice".into(),
            ttl: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let session_id = session.session.unwrap().session_id;
    let session_ns = ns_client
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::Session as i32,
            owner: Some(pb::Owner {
                sandbox: "sb".into(),
                user: "alice".into(),
                session: session_id.clone(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let session_file = server
        .write(&session_ns.namespace_id, "f", b"ephemeral")
        .await;
    for e in [&expiring, &kept, &session_file] {
        assert!(root.join(&e.grid_key).exists());
    }
    // Stop before expiry; restart after it.
    let (config, dir) = server.stop().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let server = TestServer::start_with(config, dir).await;
    // Unreadable: NOT_FOUND while expired, PERMISSION_DENIED (like any id
    // that does not exist) once the reclaimer has destroyed it.
    for ns in [&short.namespace_id, &session_ns.namespace_id] {
        let code = server.read(ns, "f").await.unwrap_err().code();
        assert!(
            matches!(code, Code::NotFound | Code::PermissionDenied),
            "{code:?}"
        );
    }
    assert_code(
        server
            .as_secret(&session.token)
            .namespaces
            .clone()
            .list_namespaces(pb::ListNamespacesRequest::default())
            .await,
        Code::Unauthenticated,
    );
    let gone = |key: &str| !root.join(key).exists() && !root.join(key).parent().unwrap().exists();
    assert!(
        server
            .eventually(|| gone(&expiring.grid_key) && gone(&session_file.grid_key))
            .await,
        "expired content stayed on disk"
    );
    assert_eq!(server.read(&keep.namespace_id, "f").await.unwrap(), b"kept");
    assert!(root.join(&kept.grid_key).exists());
    assert_code(
        server
            .client
            .sessions
            .clone()
            .get_session(pb::GetSessionRequest { session_id })
            .await,
        Code::PermissionDenied,
    );
}

/// Quotas: over a limit is RESOURCE_EXHAUSTED and nothing of the write stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_refuse_and_leave_nothing() {
    use arca_server::config::Quota;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Filesystem, dir.path());
    config.quotas.user = Quota {
        max_bytes: 100,
        max_namespaces: 2,
        max_file_bytes: 50,
        ..Quota::default()
    };
    config.quotas.sandbox = Quota {
        max_bytes: 1000,
        max_namespaces: 10,
        max_file_bytes: 0,
        ..Quota::default()
    };
    let server = TestServer::start_with(config, dir).await;
    let root = server.blob_root().unwrap();
    let ns = server.workspace().await;
    let info = server
        .client
        .namespaces
        .clone()
        .get_namespace(pb::GetNamespaceRequest {
            namespace_id: ns.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let objects = root.join(&info.grid_prefix).join("objects");
    let count = || std::fs::read_dir(&objects).map(|d| d.count()).unwrap_or(0);
    // Largest file.
    assert_code(
        server.try_write(&ns, "big", &[0u8; 51]).await,
        Code::ResourceExhausted,
    );
    assert_eq!(count(), 0);
    // User bytes: 40 + 40 fit, a third 40 does not; overwriting in place does.
    server.write(&ns, "a", &[1u8; 40]).await;
    server.write(&ns, "b", &[2u8; 40]).await;
    assert_code(
        server.try_write(&ns, "c", &[3u8; 40]).await,
        Code::ResourceExhausted,
    );
    server.write(&ns, "a", &[4u8; 45]).await;
    assert_code(
        server
            .client
            .files
            .clone()
            .copy(pb::CopyRequest {
                namespace_id: ns.clone(),
                source: "a".into(),
                destination: "a2".into(),
                ..Default::default()
            })
            .await,
        Code::ResourceExhausted,
    );
    // Streams: refused at start when the size is declared, mid-stream otherwise.
    let declared = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "up".into(),
        total_size: Some(60),
        ..Default::default()
    };
    assert!(
        server
            .client
            .upload_bytes(declared, vec![0u8; 60].into(), 10)
            .await
            .is_err()
    );
    let undeclared = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "up".into(),
        ..Default::default()
    };
    match server
        .client
        .upload_bytes(undeclared, vec![0u8; 60].into(), 10)
        .await
    {
        Err(arca_client::ClientError::Status(s)) => assert_eq!(s.code(), Code::ResourceExhausted),
        other => panic!("expected RESOURCE_EXHAUSTED, got {other:?}"),
    }
    let mut paths = server.ls(&ns, "", true).await;
    paths.sort();
    assert_eq!(paths, vec!["a", "b"]);
    // Namespaces per user.
    server.workspace().await;
    assert_code(
        server
            .client
            .namespaces
            .clone()
            .create_namespace(user_ns("alice"))
            .await,
        Code::ResourceExhausted,
    );
    // Another user has a quota of their own.
    server
        .client
        .namespaces
        .clone()
        .create_namespace(user_ns("bob"))
        .await
        .unwrap();
    // Nothing of the refused writes stays in the backend once reclaimed.
    assert!(
        server.eventually(|| count() == 2).await,
        "{} objects on disk",
        count()
    );
    // Freed space is usable again.
    server
        .client
        .files
        .clone()
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "b".into(),
            recursive: false,
        })
        .await
        .unwrap();
    server.write(&ns, "c", &[3u8; 40]).await;
    let _ = APP;
}

/// A sandbox's quota counts all its users together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_quota_spans_users() {
    use arca_server::config::Quota;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Memory, dir.path());
    config.quotas.sandbox = Quota {
        max_bytes: 100,
        max_namespaces: 3,
        max_file_bytes: 0,
        ..Quota::default()
    };
    let server = TestServer::start_with(config, dir).await;
    let alice = server.workspace().await;
    let bob = server
        .client
        .namespaces
        .clone()
        .create_namespace(user_ns("bob"))
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    server.write(&alice, "a", &[1u8; 60]).await;
    assert_code(
        server.try_write(&bob, "b", &[2u8; 60]).await,
        Code::ResourceExhausted,
    );
    server.write(&bob, "b", &[2u8; 40]).await;
    server
        .client
        .namespaces
        .clone()
        .create_namespace(user_ns("carol"))
        .await
        .unwrap();
    assert_code(
        server
            .client
            .namespaces
            .clone()
            .create_namespace(user_ns("dave"))
            .await,
        Code::ResourceExhausted,
    );
    // Destroying a namespace gives its bytes and its slot back.
    server
        .client
        .namespaces
        .clone()
        .destroy_namespace(pb::DestroyNamespaceRequest {
            namespace_id: alice,
        })
        .await
        .unwrap();
    server
        .client
        .namespaces
        .clone()
        .create_namespace(user_ns("dave"))
        .await
        .unwrap();
    server.write(&bob, "c", &[3u8; 55]).await;
    // Another sandbox is not affected.
    let other = server
        .as_secret(OTHER_APP)
        .namespaces
        .clone()
        .create_namespace(user_ns("erin"))
        .await
        .unwrap()
        .into_inner();
    server
        .as_secret(OTHER_APP)
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: other.namespace_id,
            path: "x".into(),
            data: vec![0u8; 90].into(),
            ..Default::default()
        })
        .await
        .unwrap();
}
