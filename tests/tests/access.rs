//! Access control, end to end: every RPC against every kind of credential
//! and every scope, with the exact status, and proof that refused writes
//! change nothing. Then each fault of the reference library, as its own test.

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
    use pb::import_archive_request::Message as Part;
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(8);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, format!("imp-{tag}"), &b"imported"[..])
        .unwrap();
    let archive = builder.into_inner().unwrap();
    let messages = vec![
        pb::ImportArchiveRequest {
            message: Some(Part::Start(pb::ImportStart {
                namespace_id: ns.to_owned(),
                ..Default::default()
            })),
        },
        pb::ImportArchiveRequest {
            message: Some(Part::Data(archive.into())),
        },
    ];
    ok(client
        .archives
        .clone()
        .import_archive(futures::stream::iter(messages))
        .await)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_list_namespaces_by_role() {
    let w = world().await;
    let s = &w.server;
    let create =
        |scope: pb::Scope, user: &str, session: &str, sandbox: &str| pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: scope as i32,
            owner: Some(pb::Owner {
                sandbox: sandbox.into(),
                user: user.into(),
                session: session.into(),
            }),
            ..Default::default()
        };
    let sess = w.alice_session.as_str();
    let cases: Vec<(&str, String, pb::CreateNamespaceRequest, Option<Code>)> = vec![
        (
            "admin",
            ADMIN.into(),
            create(pb::Scope::Sandbox, "", "", ""),
            None,
        ),
        (
            "admin",
            ADMIN.into(),
            create(pb::Scope::Session, "alice", sess, ""),
            None,
        ),
        (
            "app",
            APP.into(),
            create(pb::Scope::User, "alice", "", ""),
            None,
        ),
        (
            "app",
            APP.into(),
            create(pb::Scope::Session, "alice", sess, ""),
            None,
        ),
        (
            "app",
            APP.into(),
            create(pb::Scope::Sandbox, "", "", ""),
            Some(Code::PermissionDenied),
        ),
        (
            "app",
            APP.into(),
            create(pb::Scope::Session, "bob", sess, ""),
            Some(Code::FailedPrecondition),
        ),
        (
            "own session",
            w.alice_token.clone(),
            create(pb::Scope::Session, "", "", ""),
            None,
        ),
        (
            "own session",
            w.alice_token.clone(),
            create(pb::Scope::User, "", "", ""),
            None,
        ),
        (
            "own session",
            w.alice_token.clone(),
            create(pb::Scope::Sandbox, "", "", ""),
            Some(Code::PermissionDenied),
        ),
        (
            "bob's session",
            w.bob_token.clone(),
            create(pb::Scope::User, "alice", "", ""),
            Some(Code::PermissionDenied),
        ),
        (
            "bob's session",
            w.bob_token.clone(),
            create(pb::Scope::Session, "alice", sess, ""),
            Some(Code::PermissionDenied),
        ),
        (
            "other sandbox",
            OTHER_APP.into(),
            create(pb::Scope::User, "alice", "", "sb"),
            Some(Code::PermissionDenied),
        ),
        (
            "closed session",
            w.expired_token.clone(),
            create(pb::Scope::User, "", "", ""),
            Some(Code::Unauthenticated),
        ),
    ];
    for (role, secret, request, expected) in cases {
        let result = s
            .as_secret(&secret)
            .namespaces
            .clone()
            .create_namespace(request.clone())
            .await;
        match (result, expected) {
            (Ok(ns), None) => {
                let ns = ns.into_inner();
                let owner = ns.owner.unwrap();
                assert_eq!(owner.sandbox, "sb", "{role}");
                if role == "own session" {
                    assert_eq!(owner.user, "alice");
                }
            }
            (Err(status), Some(code)) => {
                assert_eq!(status.code(), code, "{role} {request:?}: {status:?}")
            }
            (other, _) => panic!("{role} {request:?}: expected {expected:?}, got {other:?}"),
        }
    }
    // Bob's session sees the sandbox's shared namespaces and nothing of alice's.
    let listed = s
        .as_secret(&w.bob_token)
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
            .all(|n| n.scope == pb::Scope::Sandbox as i32),
        "{:?}",
        listed.namespaces
    );
    let alices = s
        .as_secret(&w.alice_token)
        .namespaces
        .clone()
        .list_namespaces(pb::ListNamespacesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        alices
            .namespaces
            .iter()
            .all(|n| n.scope == pb::Scope::Sandbox as i32
                || n.owner.as_ref().unwrap().user == "alice")
    );
    assert!(alices.namespaces.len() > listed.namespaces.len());
    assert_code(
        s.as_secret(OTHER_APP)
            .namespaces
            .clone()
            .list_namespaces(pb::ListNamespacesRequest {
                sandbox: "sb".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_by_role() {
    let w = world().await;
    let s = &w.server;
    let id = w.alice_session.clone();
    let open = |user: &str, sandbox: &str| pb::OpenSessionRequest {
        user: user.into(),
        sandbox: sandbox.into(),
        ..Default::default()
    };
    for (role, secret, expected) in [
        ("admin", ADMIN.to_owned(), None),
        ("app", APP.to_owned(), None),
        (
            "own session",
            w.alice_token.clone(),
            Some(Code::PermissionDenied),
        ),
        (
            "other sandbox",
            OTHER_APP.to_owned(),
            Some(Code::PermissionDenied),
        ),
    ] {
        let sandbox = if role == "other sandbox" { "sb" } else { "" };
        let result = s
            .as_secret(&secret)
            .sessions
            .clone()
            .open_session(open("dave", sandbox))
            .await;
        assert_eq!(
            result.as_ref().err().map(Status::code),
            expected,
            "{role}: {result:?}"
        );
    }
    assert_code(
        s.client
            .sessions
            .clone()
            .open_session(open("../etc", ""))
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        s.client
            .anonymous()
            .sessions
            .clone()
            .open_session(open("dave", ""))
            .await,
        Code::Unauthenticated,
    );
    for (role, secret, expected) in [
        ("admin", ADMIN.to_owned(), None),
        ("app", APP.to_owned(), None),
        ("own session", w.alice_token.clone(), None),
        (
            "bob's session",
            w.bob_token.clone(),
            Some(Code::PermissionDenied),
        ),
        (
            "other sandbox",
            OTHER_ADMIN.to_owned(),
            Some(Code::PermissionDenied),
        ),
        (
            "closed session",
            w.expired_token.clone(),
            Some(Code::Unauthenticated),
        ),
    ] {
        let client = s.as_secret(&secret);
        let got = client
            .sessions
            .clone()
            .get_session(pb::GetSessionRequest {
                session_id: id.clone(),
            })
            .await;
        assert_eq!(
            got.as_ref().err().map(Status::code),
            expected,
            "{role} get: {got:?}"
        );
        let renewed = client
            .sessions
            .clone()
            .renew_session(pb::RenewSessionRequest {
                session_id: id.clone(),
                ..Default::default()
            })
            .await;
        assert_eq!(
            renewed.as_ref().err().map(Status::code),
            expected,
            "{role} renew: {renewed:?}"
        );
    }
    // A session reads and renews itself without naming its id, and never lists.
    let alice = s.as_secret(&w.alice_token);
    let me = alice
        .sessions
        .clone()
        .get_session(pb::GetSessionRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (me.session_id.as_str(), me.user.as_str()),
        (id.as_str(), "alice")
    );
    assert_code(
        alice
            .sessions
            .clone()
            .list_sessions(pb::ListSessionsRequest::default())
            .await,
        Code::PermissionDenied,
    );
    let listed = s
        .client
        .sessions
        .clone()
        .list_sessions(pb::ListSessionsRequest {
            user: "alice".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.sessions.len(), 1);
    assert_code(
        s.client
            .sessions
            .clone()
            .renew_session(pb::RenewSessionRequest {
                session_id: id.clone(),
                ttl: Some(prost_types::Duration {
                    seconds: 10 * 86400,
                    nanos: 0,
                }),
            })
            .await,
        Code::InvalidArgument,
    );
    // Bob cannot close alice's session; alice can, and her session namespace goes.
    assert_code(
        s.as_secret(&w.bob_token)
            .sessions
            .clone()
            .close_session(pb::CloseSessionRequest {
                session_id: id.clone(),
            })
            .await,
        Code::PermissionDenied,
    );
    let closed = alice
        .sessions
        .clone()
        .close_session(pb::CloseSessionRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.namespaces_destroyed, 1);
    assert_code(
        alice
            .sessions
            .clone()
            .get_session(pb::GetSessionRequest::default())
            .await,
        Code::Unauthenticated,
    );
    assert_code(s.read(&w.scopes[0].1, "f").await, Code::PermissionDenied);
    // Her USER namespace outlives the session.
    assert_eq!(s.read(&w.scopes[1].1, "f").await.unwrap(), b"original");
}
