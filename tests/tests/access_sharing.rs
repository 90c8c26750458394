//! Access matrix rows for the calls that reach two namespaces or change a
//! namespace's fence: a fork (CreateNamespace with a source), Copy and Move
//! with a target namespace, and UpdateNamespace's access profile. Every
//! credential against a SESSION, USER and SANDBOX namespace, with the exact
//! status, and proof that refused calls change nothing.

use arca_tests::{ADMIN, APP, Backend, OTHER_ADMIN, OTHER_APP, TestServer, pb};
use tonic::{Code, Status};

type Outcome = Result<(), Status>;

fn ok<T>(r: Result<T, Status>) -> Outcome {
    r.map(|_| ())
}

async fn create(client: &arca_client::Client, scope: pb::Scope, owner: pb::Owner) -> String {
    let ns = client
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
    client
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: ns.clone(),
            path: "f".into(),
            data: b"content".to_vec().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    ns
}

fn user(name: &str) -> pb::Owner {
    pb::Owner {
        user: name.into(),
        ..Default::default()
    }
}

/// Everything of a namespace an admin of every sandbox can see.
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
    let entries: Vec<(String, u64)> = list
        .entries
        .iter()
        .map(|e| (e.path.clone(), e.version))
        .collect();
    format!("{:?} {} {:?}", info.profile, info.file_count, entries)
}

/// The calls of the matrix by `client` on `ns`, with `own` a namespace
/// `client` may write (where one exists).
async fn calls(
    client: &arca_client::Client,
    ns: &str,
    own: &str,
    fork_owner: pb::Owner,
    tag: &str,
) -> Vec<(&'static str, Outcome, bool)> {
    let mut files = client.files.clone();
    let mut namespaces = client.namespaces.clone();
    let copy = |from: &str, to: &str, dst: &str| pb::CopyRequest {
        namespace_id: from.into(),
        source: "f".into(),
        target_namespace_id: to.into(),
        destination: dst.into(),
        overwrite: true,
        parents: false,
    };
    // (name, outcome, whether it needs write on `ns` rather than read)
    vec![
        (
            "CreateNamespace source=ns",
            ok(namespaces
                .create_namespace(pb::CreateNamespaceRequest {
                    scope: pb::Scope::User as i32,
                    owner: Some(fork_owner),
                    source: Some(pb::NamespaceSource {
                        namespace_id: ns.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await),
            false,
        ),
        (
            "Copy ns -> own",
            ok(files.copy(copy(ns, own, &format!("from-{tag}"))).await),
            false,
        ),
        (
            "Copy own -> ns",
            ok(files.copy(copy(own, ns, &format!("to-{tag}"))).await),
            true,
        ),
        (
            "Move ns -> own",
            ok(files
                .r#move(pb::MoveRequest {
                    namespace_id: ns.into(),
                    source: "f".into(),
                    target_namespace_id: own.into(),
                    destination: format!("moved-{tag}"),
                    overwrite: true,
                    parents: false,
                })
                .await),
            true,
        ),
    ]
}

async fn profile_change(client: &arca_client::Client, ns: &str) -> Outcome {
    ok(client
        .namespaces
        .clone()
        .update_namespace(pb::UpdateNamespaceRequest {
            namespace_id: ns.into(),
            profile: Some(pb::AccessProfile {
                preset: "strict".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_namespace_calls_every_role_every_scope() {
    use pb::Scope::{Sandbox, Session, User};
    let server = TestServer::start(Backend::Filesystem).await;
    let (alice_session, alice_token) = server.open_session("alice").await;
    let (_, bob_token) = server.open_session("bob").await;
    let admin = server.as_secret(ADMIN);
    let alice = server.as_secret(&alice_token);
    let bob = server.as_secret(&bob_token);
    let other_admin = server.as_secret(OTHER_ADMIN);
    let session_owner = pb::Owner {
        user: "alice".into(),
        session: alice_session.clone(),
        ..Default::default()
    };
    // Each credential's own writable namespace (the target of copies).
    let keys_own = create(&admin, User, user("dave")).await;
    let alice_own = create(&alice, User, pb::Owner::default()).await;
    let bob_own = create(&bob, User, pb::Owner::default()).await;
    let other_own = create(&other_admin, User, user("erin")).await;

    let denied = Some(Code::PermissionDenied);
    let roles: Vec<(&str, arca_client::Client, &str, pb::Owner)> = vec![
        ("admin", admin.clone(), &keys_own, user("dave")),
        ("app", server.as_secret(APP), &keys_own, user("dave")),
        (
            "own session",
            alice.clone(),
            &alice_own,
            pb::Owner::default(),
        ),
        (
            "other user's session",
            bob.clone(),
            &bob_own,
            pb::Owner::default(),
        ),
        (
            "other sandbox's app",
            server.as_secret(OTHER_APP),
            &other_own,
            user("erin"),
        ),
        (
            "other sandbox's admin",
            other_admin.clone(),
            &other_own,
            user("erin"),
        ),
        (
            "no credential",
            server.client.anonymous(),
            &keys_own,
            user("dave"),
        ),
    ];
    for (role, client, own, fork_owner) in &roles {
        for scope in [Session, User, Sandbox] {
            // A fresh source for every row, so a permitted move has a file.
            let ns = match scope {
                Session => create(&admin, Session, session_owner.clone()).await,
                User => create(&admin, User, user("alice")).await,
                _ => create(&admin, Sandbox, pb::Owner::default()).await,
            };
            let (read, write) = match (*role, scope) {
                ("admin", _) => (None, None),
                ("app", Sandbox) | ("own session", Sandbox) | ("other user's session", Sandbox) => {
                    (None, denied)
                }
                ("app", _) | ("own session", _) => (None, None),
                ("other user's session", _) => (denied, denied),
                ("other sandbox's app" | "other sandbox's admin", _) => (denied, denied),
                _ => (Some(Code::Unauthenticated), Some(Code::Unauthenticated)),
            };
            let before = snapshot(&server, &ns).await;
            let tag = role.replace([' ', '\''], "-");
            let mut refused_any = false;
            for (call, outcome, needs_write) in
                calls(client, &ns, own, fork_owner.clone(), &tag).await
            {
                let expected = if needs_write { write } else { read };
                match (outcome, expected) {
                    (Ok(()), None) => {}
                    (Err(status), Some(code)) if status.code() == code => refused_any = true,
                    (outcome, expected) => {
                        panic!("{role} {call} on {scope:?}: expected {expected:?}, got {outcome:?}")
                    }
                }
            }
            // Changing a profile needs write access and a key.
            let profile_expected = match (*role, write) {
                (_, Some(code)) => Some(code),
                ("own session", None) => denied,
                _ => None,
            };
            let outcome = profile_change(client, &ns).await;
            match (&outcome, profile_expected) {
                (Ok(()), None) => {}
                (Err(status), Some(code)) if status.code() == code => {}
                _ => panic!(
                    "{role} profile change on {scope:?}: expected {profile_expected:?}, got {outcome:?}"
                ),
            }
            if write.is_some() && refused_any {
                assert_eq!(
                    before,
                    snapshot(&server, &ns).await,
                    "{role} was refused on {scope:?} but something changed"
                );
            }
        }
    }
}
