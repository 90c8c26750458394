//! The primitives the reference artifact store needs, on every backend: a
//! namespace created with its first file in one commit, its summary, an
//! expiry that can be moved, and listing by the MIME type of a BLOB's file.

use std::sync::Arc;

use arca_tests::{
    Backend, TestServer, assert_code, on_every_backend, pattern, pb, sha256, test_config,
};
use tonic::Code;

fn blob(user: &str) -> pb::CreateNamespaceRequest {
    pb::CreateNamespaceRequest {
        r#type: pb::NamespaceType::Blob as i32,
        scope: pb::Scope::User as i32,
        owner: Some(pb::Owner {
            user: user.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn first_file(path: &str, data: &[u8], mime: &str) -> Option<pb::InitialFile> {
    Some(pb::InitialFile {
        path: path.into(),
        data: data.to_vec().into(),
        mime_type: mime.into(),
        ..Default::default()
    })
}

fn secs(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

/// Every key under the filesystem backend's root (empty for other backends).
fn stored_keys(server: &TestServer) -> Vec<String> {
    let Some(root) = server.blob_root() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for item in read.flatten() {
            let path = item.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    out
}

async fn created_with_its_first_file(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut ns = server.client.namespaces.clone();
    let content = pattern(10_000, 3);
    let made = ns
        .create_namespace(pb::CreateNamespaceRequest {
            summary: "Q4 report\nfinal".into(),
            metadata: [("quarter".to_owned(), "Q4".to_owned())].into(),
            initial_file: first_file("report.pdf", &content, "application/pdf"),
            ..blob("alice")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.summary, "Q4 report\nfinal");
    assert_eq!((made.file_count, made.total_bytes), (1, 10_000));
    assert_eq!(
        server.read(&made.namespace_id, "report.pdf").await.unwrap(),
        content
    );
    let entry = server
        .client
        .files
        .clone()
        .stat(pb::StatRequest {
            namespace_id: made.namespace_id.clone(),
            path: "report.pdf".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(entry.sha256, sha256(&content));
    assert_eq!(entry.mime_type, "application/pdf");
    assert!(
        entry.grid_key.starts_with(&made.grid_prefix),
        "{}",
        entry.grid_key
    );
    let got = ns
        .get_namespace(pb::GetNamespaceRequest {
            namespace_id: made.namespace_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.summary, made.summary);
    // An unnamed first file is "data"; a workspace takes one too.
    let unnamed = ns
        .create_namespace(pb::CreateNamespaceRequest {
            initial_file: first_file("", b"x", ""),
            ..blob("alice")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        server.read(&unnamed.namespace_id, "data").await.unwrap(),
        b"x"
    );
    let tree = ns
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            initial_file: first_file("src/main.py", b"print(1)", "text/x-python"),
            ..blob("alice")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        server.ls(&tree.namespace_id, "", true).await,
        ["src", "src/main.py"]
    );
}

async fn a_refused_first_file_creates_nothing(backend: Backend) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    config.quotas.user.max_file_bytes = 1000;
    config.quotas.user.max_bytes = 500;
    let server = TestServer::start_with(config, dir).await;
    let mut ns = server.client.namespaces.clone();
    let count = |server: &TestServer| {
        let mut ns = server.client.namespaces.clone();
        async move {
            ns.list_namespaces(pb::ListNamespacesRequest {
                user: "alice".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .namespaces
            .len()
        }
    };
    let bad_digest = pb::CreateNamespaceRequest {
        initial_file: Some(pb::InitialFile {
            expected_sha256: sha256(b"something else"),
            ..first_file("f", b"content", "").unwrap()
        }),
        ..blob("alice")
    };
    let status = assert_code(ns.create_namespace(bad_digest).await, Code::InvalidArgument);
    assert!(status.message().contains("SHA-256"), "{status:?}");
    let status = assert_code(
        ns.create_namespace(pb::CreateNamespaceRequest {
            initial_file: first_file("big", &pattern(2000, 1), ""),
            ..blob("alice")
        })
        .await,
        Code::ResourceExhausted,
    );
    assert!(status.message().contains("1000"), "{status:?}");
    for (path, code) in [
        ("../up", Code::InvalidArgument),
        ("a/b", Code::FailedPrecondition),
    ] {
        assert_code(
            ns.create_namespace(pb::CreateNamespaceRequest {
                initial_file: first_file(path, b"x", ""),
                ..blob("alice")
            })
            .await,
            code,
        );
    }
    assert_code(
        ns.create_namespace(pb::CreateNamespaceRequest {
            initial_file: Some(pb::InitialFile {
                mime_type: "bad\nmime".into(),
                ..first_file("f", b"x", "").unwrap()
            }),
            ..blob("alice")
        })
        .await,
        Code::InvalidArgument,
    );
    let over_unary = pattern(server.config.limits.max_unary_bytes as usize + 1, 2);
    let mut roomy = blob("bob");
    roomy.initial_file = first_file("f", &over_unary, "");
    assert_code(ns.create_namespace(roomy).await, Code::ResourceExhausted);
    // Refused inside the commit, after the bytes were stored: over the
    // user's total bytes (the largest-file limit passes).
    let status = assert_code(
        ns.create_namespace(pb::CreateNamespaceRequest {
            initial_file: first_file("f", &pattern(700, 4), ""),
            ..blob("alice")
        })
        .await,
        Code::ResourceExhausted,
    );
    assert!(status.message().contains("500"), "{status:?}");
    assert_eq!(count(&server).await, 0, "no namespace of a refused store");
    // What was staged for a refused commit is gone once the reclaimer ran.
    assert!(
        server.eventually(|| stored_keys(&server).is_empty()).await,
        "staged objects left: {:?}",
        stored_keys(&server)
    );
}

async fn update_summary_metadata_and_expiry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut ns = server.client.namespaces.clone();
    let made = ns
        .create_namespace(pb::CreateNamespaceRequest {
            ttl: secs(600),
            metadata: [("a".to_owned(), "1".to_owned())].into(),
            ..blob("alice")
        })
        .await
        .unwrap()
        .into_inner();
    let id = made.namespace_id.clone();
    let update = |expiry| pb::UpdateNamespaceRequest {
        namespace_id: id.clone(),
        expiry,
        ..Default::default()
    };
    let before = made.expires_at.unwrap().seconds;
    // Summary and metadata in one commit; nothing set keeps the rest.
    let got = ns
        .update_namespace(pb::UpdateNamespaceRequest {
            summary: Some("described".into()),
            metadata: [("b".to_owned(), "2".to_owned())].into(),
            ..update(None)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.summary, "described");
    assert_eq!(got.metadata.len(), 2);
    assert_eq!(got.expires_at.unwrap().seconds, before);
    let kept = ns
        .update_namespace(update(None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (kept.summary.as_str(), kept.metadata.len()),
        ("described", 2)
    );
    use pb::update_namespace_request::Expiry;
    let extended = ns
        .update_namespace(update(Some(Expiry::ExtendBy(secs(3600).unwrap()))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(extended.expires_at.unwrap().seconds, before + 3600);
    let soon = ns
        .update_namespace(update(Some(Expiry::ExpiresIn(secs(60).unwrap()))))
        .await
        .unwrap()
        .into_inner();
    assert!(soon.expires_at.unwrap().seconds < before);
    let forever = ns
        .update_namespace(update(Some(Expiry::ClearTtl(true))))
        .await
        .unwrap()
        .into_inner();
    assert!(forever.expires_at.is_none());
    let status = assert_code(
        ns.update_namespace(update(Some(Expiry::ExtendBy(secs(5).unwrap()))))
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("never expires"), "{status:?}");
    // Bad input: each refused, nothing changed.
    for bad in [
        update(Some(Expiry::ClearTtl(false))),
        update(Some(Expiry::ExtendBy(secs(0).unwrap()))),
        update(Some(Expiry::ExpiresIn(secs(-5).unwrap()))),
        pb::UpdateNamespaceRequest {
            summary: Some("x".repeat(4097)),
            ..update(None)
        },
        pb::UpdateNamespaceRequest {
            summary: Some("bell\u{7}".into()),
            ..update(None)
        },
        pb::UpdateNamespaceRequest {
            mode: 9,
            metadata: [("c".to_owned(), "3".to_owned())].into(),
            ..update(None)
        },
    ] {
        assert_code(ns.update_namespace(bad).await, Code::InvalidArgument);
    }
    let after = ns
        .get_namespace(pb::GetNamespaceRequest {
            namespace_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (after.summary.as_str(), after.metadata.len()),
        ("described", 2)
    );
    assert!(after.expires_at.is_none());
    // An expired namespace cannot be revived.
    let short = ns
        .create_namespace(pb::CreateNamespaceRequest {
            ttl: Some(prost_types::Duration {
                seconds: 0,
                nanos: 200_000_000,
            }),
            ..blob("alice")
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let code = ns
        .update_namespace(pb::UpdateNamespaceRequest {
            namespace_id: short.namespace_id,
            expiry: Some(Expiry::ClearTtl(true)),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .code();
    assert!(
        matches!(code, Code::NotFound | Code::PermissionDenied),
        "{code:?}"
    );
}

async fn list_by_the_mime_type_of_a_blob(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut ns = server.client.namespaces.clone();
    let mut ids = Vec::new();
    for (name, mime) in [
        ("a.pdf", "application/pdf"),
        ("b.png", "image/png"),
        ("c.jpg", "image/jpeg"),
    ] {
        let made = ns
            .create_namespace(pb::CreateNamespaceRequest {
                initial_file: first_file(name, b"x", mime),
                ..blob("alice")
            })
            .await
            .unwrap()
            .into_inner();
        ids.push(made.namespace_id);
    }
    // An empty BLOB and a workspace never match a MIME filter.
    ns.create_namespace(blob("alice")).await.unwrap();
    ns.create_namespace(pb::CreateNamespaceRequest {
        r#type: pb::NamespaceType::Workspace as i32,
        initial_file: first_file("x.png", b"x", "image/png"),
        ..blob("alice")
    })
    .await
    .unwrap();
    let listed = |prefix: &str| {
        let mut ns = ns.clone();
        let prefix = prefix.to_owned();
        async move {
            let mut got: Vec<String> = ns
                .list_namespaces(pb::ListNamespacesRequest {
                    user: "alice".into(),
                    mime_prefix: prefix,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .namespaces
                .into_iter()
                .map(|n| n.namespace_id)
                .collect();
            got.sort();
            got
        }
    };
    let mut images = vec![ids[1].clone(), ids[2].clone()];
    images.sort();
    assert_eq!(listed("image/").await, images);
    assert_eq!(listed("application/pdf").await, vec![ids[0].clone()]);
    assert_eq!(listed("video/").await, Vec::<String>::new());
    assert_eq!(listed("").await.len(), 5);
}

async fn a_session_token_reads_but_cannot_update_a_shared_namespace(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.as_secret(arca_tests::ADMIN);
    let shared = admin
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Blob as i32,
            scope: pb::Scope::Sandbox as i32,
            summary: "logo".into(),
            initial_file: first_file("logo.png", b"png", "image/png"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (_, token) = server.open_session("bob").await;
    let bob = server.as_secret(&token);
    assert_eq!(
        server.read(&shared.namespace_id, "logo.png").await.unwrap(),
        b"png"
    );
    assert_code(
        bob.namespaces
            .clone()
            .update_namespace(pb::UpdateNamespaceRequest {
                namespace_id: shared.namespace_id.clone(),
                summary: Some("mine now".into()),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    // Nor may a session token store into the shared scope in one call.
    assert_code(
        bob.namespaces
            .clone()
            .create_namespace(pb::CreateNamespaceRequest {
                r#type: pb::NamespaceType::Blob as i32,
                scope: pb::Scope::Sandbox as i32,
                initial_file: first_file("x", b"x", ""),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
}

on_every_backend!(
    created_with_its_first_file,
    a_refused_first_file_creates_nothing,
    update_summary_metadata_and_expiry,
    list_by_the_mime_type_of_a_blob,
    a_session_token_reads_but_cannot_update_a_shared_namespace,
);
