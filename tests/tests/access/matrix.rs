//! The matrix: every read and write RPC, each credential, each scope, with
//! the exact status, and an admin's snapshot before and after to prove a
//! refused write changed nothing.

use super::*;

/// Everything an admin can observe of a namespace, to prove nothing changed.
async fn snapshot(server: &TestServer, ns: &str) -> String {
    let admin = server.as_secret(arca_tests::GLOBAL_ADMIN);
    let info = admin
        .namespaces
        .clone()
        .get_namespace(pb::GetNamespaceRequest {
            namespace_id: ns.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let list = admin
        .files
        .clone()
        .list(pb::ListRequest {
            namespace_id: ns.into(),
            recursive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let content = admin
        .files
        .clone()
        .read_file(pb::ReadFileRequest {
            namespace_id: ns.into(),
            path: "f".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    fn sorted(
        m: &std::collections::HashMap<String, String>,
    ) -> std::collections::BTreeMap<&String, &String> {
        m.iter().collect()
    }
    let entries: Vec<String> = list
        .entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {:?}",
                e.path,
                e.size,
                e.sha256,
                e.version,
                sorted(&e.metadata)
            )
        })
        .collect();
    let f = content.entry.unwrap();
    format!(
        "{:?} {} {} {:?} {:?} {:?}",
        sorted(&info.metadata),
        info.file_count,
        info.total_bytes,
        entries,
        f.version,
        content.data
    )
}

/// Every read RPC on `ns`.
async fn reads(client: &arca_client::Client, ns: &str) -> Vec<(&'static str, Outcome)> {
    let mut files = client.files.clone();
    let id = ns.to_owned();
    let (dl_files, dl_id) = (files.clone(), id.clone());
    let download = async move {
        let (mut dl_files, id) = (dl_files, dl_id);
        let mut stream = dl_files
            .download(futures::stream::iter([pb::DownloadRequest {
                namespace_id: id.clone(),
                path: "f".into(),
                ..Default::default()
            }]))
            .await?
            .into_inner();
        while stream.message().await?.is_some() {}
        Ok(())
    };
    vec![
        (
            "GetNamespace",
            ok(client
                .namespaces
                .clone()
                .get_namespace(pb::GetNamespaceRequest {
                    namespace_id: id.clone(),
                })
                .await),
        ),
        (
            "ReadFile",
            ok(files
                .read_file(pb::ReadFileRequest {
                    namespace_id: id.clone(),
                    path: "f".into(),
                    ..Default::default()
                })
                .await),
        ),
        (
            "Stat",
            ok(files
                .stat(pb::StatRequest {
                    namespace_id: id.clone(),
                    path: "f".into(),
                })
                .await),
        ),
        (
            "List",
            ok(files
                .list(pb::ListRequest {
                    namespace_id: id.clone(),
                    ..Default::default()
                })
                .await),
        ),
        (
            "Find",
            ok(files
                .find(pb::FindRequest {
                    namespace_id: id.clone(),
                    pattern: "*".into(),
                    ..Default::default()
                })
                .await),
        ),
        (
            "GetMetadata",
            ok(files
                .get_metadata(pb::GetMetadataRequest {
                    namespace_id: id.clone(),
                    path: "f".into(),
                })
                .await),
        ),
        ("BatchRead", batch_read(&mut files, &id).await),
        ("Download", download.await),
        (
            "ListChanges",
            ok(client
                .changes
                .clone()
                .list_changes(pb::ListChangesRequest {
                    namespace_id: id.clone(),
                    since_revision: Some(0),
                    ..Default::default()
                })
                .await),
        ),
        (
            "ExportArchive",
            ok(client
                .archives
                .clone()
                .export_archive(pb::ExportArchiveRequest {
                    namespace_id: id.clone(),
                    checkpoint_id: String::new(),
                })
                .await),
        ),
        (
            "WatchNamespace",
            ok(client
                .changes
                .clone()
                .watch_namespace(pb::WatchNamespaceRequest {
                    namespace_id: id.clone(),
                    since_revision: Some(0),
                    filter: None,
                })
                .await),
        ),
        (
            "PresignDownload",
            ok(client
                .presign
                .clone()
                .presign_download(pb::PresignDownloadRequest {
                    namespace_id: id.clone(),
                    path: "f".into(),
                    expires_in_secs: 60,
                })
                .await),
        ),
    ]
}

async fn batch_read(
    files: &mut pb::file_service_client::FileServiceClient<arca_client::AuthChannel>,
    ns: &str,
) -> Outcome {
    let results = files
        .batch_read(pb::BatchReadRequest {
            namespace_id: ns.into(),
            paths: vec!["f".into()],
        })
        .await?
        .into_inner()
        .results;
    match &results[0].result {
        Some(pb::batch_item_result::Result::Error(e)) => {
            Err(Status::new(Code::from_i32(e.code), e.message.clone()))
        }
        _ => Ok(()),
    }
}

/// Every write RPC on `ns` (DestroyNamespace is tried separately).
async fn writes(client: &arca_client::Client, ns: &str, tag: &str) -> Vec<(&'static str, Outcome)> {
    let mut files = client.files.clone();
    let id = ns.to_owned();
    let (up_files, up_id) = (files.clone(), id.clone());
    let upload = async move {
        let (mut files, id) = (up_files, up_id);
        let requests = vec![
            pb::UploadRequest {
                message: Some(In::Start(pb::UploadStart {
                    namespace_id: id.clone(),
                    path: format!("up-{tag}"),
                    ..Default::default()
                })),
            },
            pb::UploadRequest {
                message: Some(In::Data(pb::UploadData {
                    offset: 0,
                    data: b"streamed".to_vec().into(),
                })),
            },
            pb::UploadRequest {
                message: Some(In::Finish(pb::UploadFinish::default())),
            },
        ];
        let mut answers = files
            .upload(futures::stream::iter(requests))
            .await?
            .into_inner();
        while answers.message().await?.is_some() {}
        Ok(())
    };
    let (presign, pu_id) = (client.presign.clone(), id.clone());
    let presigned = async move {
        let plan = presign
            .clone()
            .presign_upload(pb::PresignUploadRequest {
                namespace_id: pu_id,
                path: format!("p-{tag}"),
                ..Default::default()
            })
            .await?
            .into_inner();
        let put = arca_tests::http("PUT", &plan.parts[0].url, &[], b"presigned".to_vec()).await;
        assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
        presign
            .clone()
            .finalize_upload(pb::FinalizeUploadRequest {
                upload_id: plan.upload_id,
                ..Default::default()
            })
            .await?;
        Ok(())
    };
    let (bw_files, bw_id) = (files.clone(), id.clone());
    let batch_write = async move {
        let (files, id) = (bw_files, bw_id);
        let items = vec![pb::WriteFileRequest {
            path: format!("b-{tag}"),
            data: b"x".to_vec().into(),
            ..Default::default()
        }];
        let results = files
            .clone()
            .batch_write(pb::BatchWriteRequest {
                namespace_id: id.clone(),
                items,
            })
            .await?
            .into_inner()
            .results;
        match &results[0].result {
            Some(pb::batch_item_result::Result::Error(e)) => {
                Err(Status::new(Code::from_i32(e.code), e.message.clone()))
            }
            _ => Ok(()),
        }
    };
    let (bd_files, bd_id) = (files.clone(), id.clone());
    let batch_delete = async move {
        let (files, id) = (bd_files, bd_id);
        let results = files
            .clone()
            .batch_delete(pb::BatchDeleteRequest {
                namespace_id: id.clone(),
                paths: vec![format!("b-{tag}")],
                recursive: false,
            })
            .await?
            .into_inner()
            .results;
        match &results[0].error {
            Some(e) => Err(Status::new(Code::from_i32(e.code), e.message.clone())),
            None => Ok(()),
        }
    };
    vec![
        (
            "WriteFile",
            ok(files
                .write_file(pb::WriteFileRequest {
                    namespace_id: id.clone(),
                    path: format!("w-{tag}"),
                    data: b"w".to_vec().into(),
                    ..Default::default()
                })
                .await),
        ),
        ("Upload", upload.await),
        (
            "Mkdir",
            ok(files
                .mkdir(pb::MkdirRequest {
                    namespace_id: id.clone(),
                    path: format!("d-{tag}"),
                    parents: true,
                    exist_ok: true,
                })
                .await),
        ),
        (
            "Copy",
            ok(files
                .copy(pb::CopyRequest {
                    namespace_id: id.clone(),
                    source: "f".into(),
                    destination: format!("c-{tag}"),
                    overwrite: true,
                    parents: false,
                    target_namespace_id: String::new(),
                })
                .await),
        ),
        (
            "Move",
            ok(files
                .r#move(pb::MoveRequest {
                    namespace_id: id.clone(),
                    source: format!("c-{tag}"),
                    destination: format!("m-{tag}"),
                    overwrite: true,
                    parents: false,
                    target_namespace_id: String::new(),
                })
                .await),
        ),
        (
            "Remove",
            ok(files
                .remove(pb::RemoveRequest {
                    namespace_id: id.clone(),
                    path: format!("m-{tag}"),
                    recursive: false,
                })
                .await),
        ),
        (
            "SetMetadata",
            ok(files
                .set_metadata(pb::SetMetadataRequest {
                    namespace_id: id.clone(),
                    path: "f".into(),
                    metadata: [(tag.to_owned(), "1".to_owned())].into(),
                    ..Default::default()
                })
                .await),
        ),
        ("BatchWrite", batch_write.await),
        ("BatchDelete", batch_delete.await),
        ("PresignUpload+FinalizeUpload", presigned.await),
        (
            "UpdateNamespaceMetadata",
            ok(client
                .namespaces
                .clone()
                .update_namespace_metadata(pb::UpdateNamespaceMetadataRequest {
                    namespace_id: id.clone(),
                    metadata: [(tag.to_owned(), "1".to_owned())].into(),
                    ..Default::default()
                })
                .await),
        ),
        (
            "UpdateNamespace",
            ok(client
                .namespaces
                .clone()
                .update_namespace(pb::UpdateNamespaceRequest {
                    namespace_id: id.clone(),
                    summary: Some(tag.to_owned()),
                    ..Default::default()
                })
                .await),
        ),
        ("ImportArchive", import_one(client, &id, tag).await),
    ]
}

/// ImportArchive of a one-file tar.
async fn import_one(client: &arca_client::Client, ns: &str, tag: &str) -> Outcome {
    arca_tests::import_one_file(client, ns, &format!("imp-{tag}"), b"imported").await
}

fn check(
    role: &str,
    scope: pb::Scope,
    results: Vec<(&'static str, Outcome)>,
    expected: Option<Code>,
) {
    for (rpc, outcome) in results {
        match (outcome, expected) {
            (Ok(()), None) => {}
            (Err(status), Some(code)) if status.code() == code => {}
            (outcome, expected) => {
                panic!("{role} {rpc} on {scope:?}: expected {expected:?}, got {outcome:?}")
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_every_role_every_scope() {
    let w = world().await;
    let s = &w.server;
    use pb::Scope::{Sandbox, Session, User};
    let roles: Vec<(&str, arca_client::Client)> = vec![
        ("admin", s.as_secret(ADMIN)),
        ("app", s.as_secret(APP)),
        ("own session", s.as_secret(&w.alice_token)),
        ("other user's session", s.as_secret(&w.bob_token)),
        ("other sandbox's app", s.as_secret(OTHER_APP)),
        ("other sandbox's admin", s.as_secret(OTHER_ADMIN)),
        ("no credential", s.client.anonymous()),
        ("closed session", s.as_secret(&w.expired_token)),
        ("made-up secret", s.as_secret("arca_st_0000")),
    ];
    let denied = Some(Code::PermissionDenied);
    let unauthenticated = Some(Code::Unauthenticated);
    for (role, client) in &roles {
        for (scope, ns) in &w.scopes {
            let (read, write) = match (*role, *scope) {
                ("admin", _) => (None, None),
                ("app", Sandbox) => (None, denied),
                ("app", _) => (None, None),
                ("own session", Sandbox) => (None, denied),
                ("own session", Session | User) => (None, None),
                ("other user's session", Sandbox) => (None, denied),
                ("other user's session", _) => (denied, denied),
                ("other sandbox's app" | "other sandbox's admin", _) => (denied, denied),
                _ => (unauthenticated, unauthenticated),
            };
            check(role, *scope, reads(client, ns).await, read);
            let before = snapshot(s, ns).await;
            let tag = role.replace([' ', '\''], "-");
            check(role, *scope, writes(client, ns, &tag).await, write);
            if write.is_some() {
                assert_eq!(
                    before,
                    snapshot(s, ns).await,
                    "{role} was refused on {scope:?} but something changed"
                );
            }
        }
    }
    // Destroy: refused for everyone without write rights, and the namespace stays.
    for (role, client) in &roles {
        for (scope, ns) in &w.scopes {
            let may = matches!(
                (*role, *scope),
                ("admin", _) | ("app", Session | User) | ("own session", Session | User)
            );
            if may {
                continue;
            }
            let before = snapshot(s, ns).await;
            let result = client
                .namespaces
                .clone()
                .destroy_namespace(pb::DestroyNamespaceRequest {
                    namespace_id: ns.clone(),
                })
                .await;
            assert!(result.is_err(), "{role} destroyed {scope:?}");
            assert_eq!(before, snapshot(s, ns).await);
        }
    }
    // The session owner may destroy its own namespaces.
    let own = s.as_secret(&w.alice_token);
    for (scope, ns) in &w.scopes[..2] {
        own.namespaces
            .clone()
            .destroy_namespace(pb::DestroyNamespaceRequest {
                namespace_id: ns.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("{scope:?}: {e}"));
    }
}
