//! Shared by the examples: connect to `ARCA_ADDR` (credential from
//! `ARCA_TOKEN`, or `./arca-data/admin.key` as written by the README's first
//! command), or, when no address is given, start a server in-process on a
//! free loopback port with a throwaway data directory.

#![allow(dead_code)]

use arca_client::{Client, pb};

/// A connection, and the server the example started (if it did).
pub struct Example {
    pub client: Client,
    _server: Option<(tokio::sync::oneshot::Sender<()>, tempfile::TempDir)>,
}

pub async fn connect() -> Example {
    if let Ok(addr) = std::env::var("ARCA_ADDR") {
        let token = std::env::var("ARCA_TOKEN")
            .or_else(|_| {
                std::fs::read_to_string("arca-data/admin.key").map(|k| k.trim().to_owned())
            })
            .expect("set ARCA_TOKEN, or run where ./arca-data/admin.key is");
        return Example {
            client: Client::connect(addr, &token).await.expect("connect"),
            _server: None,
        };
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = arca_server::Config {
        data_dir: dir.path().to_owned(),
        ..arca_server::Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(arca_server::serve(config, listener, async {
        let _ = stopped.await;
    }));
    // The server writes its first-start admin key as it opens.
    let key_file = dir.path().join("admin.key");
    let mut key = None;
    for _ in 0..200 {
        if let Ok(k) = std::fs::read_to_string(&key_file)
            && !k.trim().is_empty()
        {
            key = Some(k.trim().to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let client = Client::connect(format!("http://{addr}"), &key.expect("admin key"))
        .await
        .expect("connect");
    Example {
        client,
        _server: Some((stop, dir)),
    }
}

/// Creates a namespace for `user` in sandbox `examples`.
pub async fn namespace(
    client: &Client,
    ns_type: pb::NamespaceType,
    scope: pb::Scope,
    user: &str,
    session: &str,
) -> pb::Namespace {
    client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: ns_type as i32,
            scope: scope as i32,
            owner: Some(pb::Owner {
                sandbox: "examples".into(),
                user: user.into(),
                session: session.into(),
            }),
            ..Default::default()
        })
        .await
        .expect("create namespace")
        .into_inner()
}

pub async fn write(client: &Client, ns: &str, path: &str, data: &[u8]) -> pb::Entry {
    client
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: ns.into(),
            path: path.into(),
            data: data.to_vec().into(),
            ..Default::default()
        })
        .await
        .expect("write")
        .into_inner()
        .entry
        .expect("entry")
}

pub async fn read(client: &Client, ns: &str, path: &str) -> Vec<u8> {
    client
        .files
        .clone()
        .read_file(pb::ReadFileRequest {
            namespace_id: ns.into(),
            path: path.into(),
            ..Default::default()
        })
        .await
        .expect("read")
        .into_inner()
        .data
        .to_vec()
}
