//! Access profiles on every backend: each write path (unary, streamed,
//! batch, presigned, copy and move targets within and across namespaces,
//! mkdir, restore, fork, WebDAV) refuses what the profile forbids, naming
//! the rule and writing nothing; a read-only namespace refuses every
//! change but reads; the file limit binds growth; only keys (not session
//! tokens) change a profile; refusals are counted in the metrics.

use std::sync::Arc;
use std::time::Duration;

use arca_tests::{
    ADMIN, APP, Backend, TestServer, http, on_every_backend, pattern, pb, test_config,
};
use tonic::Code;

const MIB: u64 = 1 << 20;

fn strict_small() -> pb::AccessProfile {
    pb::AccessProfile {
        preset: "strict".into(),
        max_file_bytes: MIB,
        max_files: 4,
        ..Default::default()
    }
}

async fn create(
    server: &TestServer,
    secret: &str,
    profile: Option<pb::AccessProfile>,
) -> Result<pb::Namespace, tonic::Status> {
    server
        .as_secret(secret)
        .namespaces
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                user: "alice".into(),
                ..Default::default()
            }),
            profile,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Asserts a refusal with `code` whose message contains `needle`.
fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, needle: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{}", status.message());
    assert!(
        status.message().contains(needle),
        "{:?} lacks {needle:?}",
        status.message()
    );
}

async fn upload(
    server: &TestServer,
    ns: &str,
    path: &str,
    data: &[u8],
    declared: bool,
) -> Result<pb::Entry, tonic::Status> {
    server.upload_as(APP, ns, path, data, declared).await
}

async fn every_write_path_obeys_the_profile(backend: Backend) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    let port = arca_tests::free_port();
    config.metrics.listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let server = TestServer::start_with(config, dir).await;
    let ns = create(&server, APP, Some(strict_small())).await.unwrap();
    let profile = ns.profile.clone().expect("shown");
    assert_eq!(profile.preset, "strict");
    assert_eq!((profile.max_file_bytes, profile.max_files), (MIB, 4));
    assert!(profile.denied_globs.iter().any(|g| g == "**/.env"));
    let ns = ns.namespace_id;
    let mut files = server.client.files.clone();

    // Unary.
    server.write(&ns, "src/app.py", b"print(1)").await;
    refused(
        server.try_write(&ns, "config/.env", b"KEY=1").await,
        Code::PermissionDenied,
        "**/.env",
    );
    refused(
        server.try_write(&ns, "bin/tool.exe", b"MZ").await,
        Code::PermissionDenied,
        "**/*.exe",
    );
    // Streamed: refused at the start when the size is declared, at the
    // commit when it is not.
    let big = pattern((MIB + 1) as usize, 3);
    refused(
        upload(&server, &ns, "big.bin", &big, true).await,
        Code::FailedPrecondition,
        "largest file",
    );
    refused(
        upload(&server, &ns, "big.bin", &big, false).await,
        Code::FailedPrecondition,
        "largest file",
    );
    refused(
        upload(&server, &ns, "x/.env", b"k", false).await,
        Code::PermissionDenied,
        "**/.env",
    );
    // Batch: the bad item fails, named; the good one commits.
    let batch = files
        .batch_write(pb::BatchWriteRequest {
            namespace_id: ns.clone(),
            items: vec![
                pb::WriteFileRequest {
                    path: "ok.txt".into(),
                    data: b"ok".to_vec().into(),
                    ..Default::default()
                },
                pb::WriteFileRequest {
                    path: "deploy.sh".into(),
                    data: b"rm -rf /".to_vec().into(),
                    ..Default::default()
                },
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        batch.results[0].result,
        Some(pb::batch_item_result::Result::Entry(_))
    ));
    match &batch.results[1].result {
        Some(pb::batch_item_result::Result::Error(e)) => {
            assert_eq!(e.code, Code::PermissionDenied as i32);
            assert!(e.message.contains("**/*.sh"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    // Copy and move targets, within the namespace and from another.
    let copy = |src: &str, dst: &str, target: &str| pb::CopyRequest {
        namespace_id: ns.clone(),
        source: src.into(),
        destination: dst.into(),
        target_namespace_id: target.into(),
        ..Default::default()
    };
    refused(
        files.copy(copy("ok.txt", "ok.exe", "")).await,
        Code::PermissionDenied,
        "**/*.exe",
    );
    refused(
        files
            .r#move(pb::MoveRequest {
                namespace_id: ns.clone(),
                source: "ok.txt".into(),
                destination: ".env".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "**/.env",
    );
    let plain = server.workspace().await;
    server.write(&plain, "secrets/.env", b"TOKEN=x").await;
    refused(
        files
            .copy(pb::CopyRequest {
                namespace_id: plain.clone(),
                source: "secrets".into(),
                destination: "secrets".into(),
                target_namespace_id: ns.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "**/.env",
    );
    // Mkdir of a denied name.
    refused(
        files
            .mkdir(pb::MkdirRequest {
                namespace_id: ns.clone(),
                path: "a/.env".into(),
                parents: true,
                exist_ok: false,
            })
            .await,
        Code::PermissionDenied,
        "**/.env",
    );
    // Presigned: refused at PresignUpload for the path; at finalize for size.
    refused(
        server
            .client
            .presign_upload(&ns, "p/.env", None, Duration::from_secs(60))
            .await
            .map_err(status),
        Code::PermissionDenied,
        "**/.env",
    );
    let plan = server
        .client
        .presign_upload(&ns, "p/data.bin", None, Duration::from_secs(60))
        .await
        .unwrap();
    let headers: Vec<(String, String)> = plan
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let put = http(&plan.method, &plan.parts[0].url, &headers, big.clone()).await;
    assert_eq!(put.status, 200);
    refused(
        server
            .client
            .finalize_upload(&plan.upload_id, None, Vec::new())
            .await
            .map_err(status),
        Code::FailedPrecondition,
        "largest file",
    );
    // WebDAV: the same rule, as 403.
    let dav = http(
        "PUT",
        &format!("http://{}/dav/{ns}/dav.exe", server.addr),
        &[("authorization".into(), format!("Bearer {APP}"))],
        b"MZ".to_vec(),
    )
    .await;
    assert_eq!(dav.status, 403);

    // The file limit binds growth: 2 files now, 2 more fit, a fifth not;
    // replacing one still works.
    server.write(&ns, "three.txt", b"3").await;
    server.write(&ns, "four.txt", b"4").await;
    refused(
        server.try_write(&ns, "five.txt", b"5").await,
        Code::FailedPrecondition,
        "4",
    );
    server.write(&ns, "four.txt", b"4 again").await;
    assert_eq!(
        server.ls(&ns, "", true).await,
        vec!["four.txt", "ok.txt", "src", "src/app.py", "three.txt"]
    );

    // Restore of a checkpoint taken before a profile forbade its content.
    let ckpts = server.client.checkpoints.clone();
    let ckpt = ckpts
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: plain.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .checkpoint_id;
    server
        .client
        .namespaces
        .clone()
        .update_namespace(pb::UpdateNamespaceRequest {
            namespace_id: plain.clone(),
            profile: Some(pb::AccessProfile {
                preset: "default".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    server
        .client
        .files
        .clone()
        .remove(pb::RemoveRequest {
            namespace_id: plain.clone(),
            path: "secrets".into(),
            recursive: true,
        })
        .await
        .unwrap();
    refused(
        ckpts
            .clone()
            .restore_checkpoint(pb::RestoreCheckpointRequest {
                namespace_id: plain.clone(),
                checkpoint_id: ckpt,
            })
            .await,
        Code::PermissionDenied,
        "**/.env",
    );
    assert!(
        server.ls(&plain, "", true).await.is_empty(),
        "nothing restored"
    );

    // A fork into a profile that forbids its source's content.
    let mut fork = pb::CreateNamespaceRequest {
        scope: pb::Scope::User as i32,
        owner: Some(pb::Owner {
            user: "alice".into(),
            ..Default::default()
        }),
        source: Some(pb::NamespaceSource {
            namespace_id: plain.clone(),
            ..Default::default()
        }),
        profile: Some(pb::AccessProfile {
            preset: "untrusted".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    server.write(&plain, "logo.png", b"\x89PNG").await;
    refused(
        server
            .client
            .namespaces
            .clone()
            .create_namespace(fork.clone())
            .await,
        Code::FailedPrecondition,
        "MIME",
    );
    fork.profile = Some(pb::AccessProfile {
        preset: "testing".into(),
        ..Default::default()
    });
    server
        .client
        .namespaces
        .clone()
        .create_namespace(fork)
        .await
        .unwrap();

    // Every refusal was counted by rule.
    let metrics = http(
        "GET",
        &format!("http://127.0.0.1:{port}/metrics"),
        &[],
        Vec::new(),
    )
    .await;
    let text = String::from_utf8(metrics.body).unwrap();
    for rule in ["denied_glob", "max_file_bytes", "max_files", "allowed_mime"] {
        assert!(
            text.contains(&format!("arca_profile_violations_total{{rule=\"{rule}\"}}")),
            "{rule}: {text}"
        );
    }
}

fn status(e: arca_client::ClientError) -> tonic::Status {
    match e {
        arca_client::ClientError::Status(s) => s,
        other => tonic::Status::unknown(other.to_string()),
    }
}

async fn read_only_refuses_every_change(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "d/a.txt", b"a").await;
    let admin = server.as_secret(ADMIN);
    admin
        .namespaces
        .clone()
        .update_namespace(pb::UpdateNamespaceRequest {
            namespace_id: ns.clone(),
            profile: Some(pb::AccessProfile {
                preset: "readonly".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut files = server.client.files.clone();
    refused(
        server.try_write(&ns, "d/a.txt", b"b").await,
        Code::PermissionDenied,
        "read-only",
    );
    refused(
        files
            .remove(pb::RemoveRequest {
                namespace_id: ns.clone(),
                path: "d".into(),
                recursive: true,
            })
            .await,
        Code::PermissionDenied,
        "read-only",
    );
    refused(
        files
            .r#move(pb::MoveRequest {
                namespace_id: ns.clone(),
                source: "d/a.txt".into(),
                destination: "d/b.txt".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "read-only",
    );
    refused(
        files
            .set_metadata(pb::SetMetadataRequest {
                namespace_id: ns.clone(),
                path: "d/a.txt".into(),
                metadata: [("k".to_owned(), "v".to_owned())].into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "read-only",
    );
    // Moving out of it is a change to it too.
    let other = server.workspace().await;
    refused(
        files
            .r#move(pb::MoveRequest {
                namespace_id: ns.clone(),
                source: "d".into(),
                destination: "d".into(),
                target_namespace_id: other.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "read-only",
    );
    assert!(server.ls(&other, "", true).await.is_empty());
    // Reads, copies out and checkpoints still work.
    assert_eq!(server.read(&ns, "d/a.txt").await.unwrap(), b"a");
    files
        .copy(pb::CopyRequest {
            namespace_id: ns.clone(),
            source: "d".into(),
            destination: "d".into(),
            target_namespace_id: other.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    server
        .client
        .checkpoints
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(server.ls(&ns, "", true).await, vec!["d", "d/a.txt"]);
}

async fn only_keys_change_a_profile(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = server.open_session("alice").await;
    // A session token may fence a namespace it creates...
    let ns = create(&server, &token, Some(strict_small()))
        .await
        .unwrap()
        .namespace_id;
    // ...but not lift or change the fence afterwards.
    let change = |profile: Option<pb::AccessProfile>, clear: bool| pb::UpdateNamespaceRequest {
        namespace_id: ns.clone(),
        profile,
        clear_profile: clear,
        ..Default::default()
    };
    let as_token = server.as_secret(&token).namespaces;
    refused(
        as_token.clone().update_namespace(change(None, true)).await,
        Code::PermissionDenied,
        "session token",
    );
    let testing = pb::AccessProfile {
        preset: "testing".into(),
        ..Default::default()
    };
    refused(
        as_token
            .clone()
            .update_namespace(change(Some(testing.clone()), false))
            .await,
        Code::PermissionDenied,
        "session token",
    );
    // Bad profiles are refused as such.
    let app = server.client.namespaces.clone();
    let bad = |preset: &str, glob: &str| pb::AccessProfile {
        preset: preset.into(),
        denied_globs: if glob.is_empty() {
            vec![]
        } else {
            vec![glob.into()]
        },
        ..Default::default()
    };
    refused(
        app.clone()
            .update_namespace(change(Some(bad("lax", "")), false))
            .await,
        Code::InvalidArgument,
        "lax",
    );
    refused(
        app.clone()
            .update_namespace(change(Some(bad("", "a/[")), false))
            .await,
        Code::InvalidArgument,
        "glob",
    );
    refused(
        app.clone()
            .update_namespace(change(Some(testing), true))
            .await,
        Code::InvalidArgument,
        "not both",
    );
    refused(
        create(&server, APP, Some(bad("nope", ""))).await,
        Code::InvalidArgument,
        "nope",
    );
    // An app key clears it; the namespace then takes what it refused.
    refused(
        server.try_write(&ns, ".env", b"x").await,
        Code::PermissionDenied,
        "**/.env",
    );
    let cleared = app
        .clone()
        .update_namespace(change(None, true))
        .await
        .unwrap()
        .into_inner();
    assert!(cleared.profile.is_none());
    server.write(&ns, ".env", b"x").await;
}

on_every_backend!(
    every_write_path_obeys_the_profile,
    read_only_refuses_every_change,
    only_keys_change_a_profile,
);
