//! Namespaces and sessions by role: who may create, list, open and close
//! them, in their own sandbox and another.

use super::*;

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
