//! Forks and templates on every backend: a fork of a live tree or of a
//! checkpoint shares the source's content (no bytes copied), the two evolve
//! apart, destroying the source or deleting the checkpoint leaves the fork
//! whole, and the shared objects go once nothing refers to them; every
//! refusal (no read access, another sandbox, wrong type or backend, quota,
//! bad variables) creates nothing. Templates substitute `${name}` in their
//! small UTF-8 text files only.

use std::collections::HashMap;
use std::time::Duration;

use arca_tests::{
    ADMIN, APP, Backend, GLOBAL_ADMIN, OTHER_APP, TestServer, assert_code, on_every_backend,
    pattern, pb, sha256,
};
use tonic::Code;

fn fork_request(
    source: &str,
    checkpoint: &str,
    vars: &[(&str, &str)],
) -> pb::CreateNamespaceRequest {
    pb::CreateNamespaceRequest {
        scope: pb::Scope::User as i32,
        owner: Some(pb::Owner {
            user: "alice".into(),
            ..Default::default()
        }),
        source: Some(pb::NamespaceSource {
            namespace_id: source.into(),
            checkpoint_id: checkpoint.into(),
            variables: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }),
        ..Default::default()
    }
}

async fn fork_as(
    server: &TestServer,
    secret: &str,
    request: pb::CreateNamespaceRequest,
) -> Result<pb::Namespace, tonic::Status> {
    server
        .as_secret(secret)
        .namespaces
        .create_namespace(request)
        .await
        .map(tonic::Response::into_inner)
}

/// The tree of `ns` as path → SHA-256 ("/" for directories).
async fn tree(server: &TestServer, ns: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for path in server.ls(ns, "", true).await {
        let entry = server.entry(ns, &path).await.unwrap();
        let digest = if entry.kind == pb::EntryKind::Directory as i32 {
            "/".to_owned()
        } else {
            entry.sha256
        };
        out.insert(path, digest);
    }
    out
}

/// Stored objects and bytes of sandbox `sb`, as GetStats reports them.
async fn stored(server: &TestServer) -> (u64, u64) {
    let stats = server.stats().await;
    stats
        .usage
        .iter()
        .filter(|row| row.sandbox == "sb")
        .fold((0, 0), |(o, b), row| {
            (o + row.stored_objects, b + row.stored_bytes)
        })
}

/// Every key the filesystem backend holds, when the backend is one.
fn blob_files(server: &TestServer) -> Option<usize> {
    let root = server.blob_root()?;
    Some(walkdir(&root).into_iter().filter(|p| p.is_file()).count())
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(read) = std::fs::read_dir(dir) {
        for entry in read.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walkdir(&path));
            }
            out.push(path);
        }
    }
    out
}

async fn a_fork_shares_content_and_outlives_its_source(backend: Backend) {
    let server = TestServer::start(backend).await;
    let src = server.workspace().await;
    let big = pattern(3 << 20, 7);
    server.write(&src, "a/one.txt", b"one").await;
    server.write(&src, "a/b/two.bin", &big).await;
    server.write(&src, "top.md", b"# top").await;
    server
        .client
        .files
        .clone()
        .mkdir(pb::MkdirRequest {
            namespace_id: src.clone(),
            path: "empty/dir".into(),
            parents: true,
            exist_ok: false,
        })
        .await
        .unwrap();
    let (objects_before, bytes_before) = stored(&server).await;

    let fork = fork_as(&server, APP, fork_request(&src, "", &[]))
        .await
        .unwrap();
    assert_eq!(
        fork.r#type,
        pb::NamespaceType::Workspace as i32,
        "the source's type"
    );
    assert_eq!(fork.file_count, 3);
    assert_eq!(fork.total_bytes, 3 + big.len() as u64 + 5);
    assert!(fork.grid_prefix.contains(&fork.namespace_id));
    assert_eq!(
        tree(&server, &fork.namespace_id).await,
        tree(&server, &src).await
    );
    // No content was copied: the backend holds what it held, and the
    // fork's files name the source's objects.
    assert_eq!(stored(&server).await, (objects_before, bytes_before));
    let shared = server
        .entry(&fork.namespace_id, "a/b/two.bin")
        .await
        .unwrap();
    assert_eq!(
        shared.grid_key,
        server.entry(&src, "a/b/two.bin").await.unwrap().grid_key
    );
    assert!(shared.grid_key.starts_with("grid/sb/user-alice/"));

    // The two evolve apart.
    server
        .write(&fork.namespace_id, "a/one.txt", b"changed")
        .await;
    server.write(&src, "only-in-source", b"s").await;
    assert_eq!(server.read(&src, "a/one.txt").await.unwrap(), b"one");
    assert_eq!(
        server.read(&fork.namespace_id, "a/one.txt").await.unwrap(),
        b"changed"
    );
    assert!(
        server
            .entry(&fork.namespace_id, "only-in-source")
            .await
            .is_none()
    );

    // Destroying the source leaves the fork whole, through reclaim passes.
    server.destroy(&src).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        server
            .read(&fork.namespace_id, "a/b/two.bin")
            .await
            .unwrap(),
        big
    );
    assert_eq!(
        server.read(&fork.namespace_id, "top.md").await.unwrap(),
        b"# top"
    );
    // The shared objects are still counted, under the sandbox.
    let (objects, bytes) = stored(&server).await;
    assert_eq!(objects, 3, "two shared and the fork's own");
    assert_eq!(bytes, big.len() as u64 + 5 + 7);

    // Once the fork goes too, nothing is left.
    server.destroy(&fork.namespace_id).await;
    let mut left = (1, 1);
    for _ in 0..50 {
        left = stored(&server).await;
        let files = blob_files(&server).unwrap_or(0);
        if left == (0, 0) && files == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, (0, 0));
    if let Some(files) = blob_files(&server) {
        assert_eq!(files, 0, "every shared object was deleted from the backend");
    }
}

async fn a_fork_of_a_checkpoint_survives_its_deletion(backend: Backend) {
    let server = TestServer::start(backend).await;
    let src = server.workspace().await;
    server.write(&src, "f.txt", b"v1").await;
    server.write(&src, "keep.txt", b"k").await;
    let ckpt = server.checkpoint(&src, "before").await;
    server.write(&src, "f.txt", b"v2").await;
    server.write(&src, "new.txt", b"n").await;

    let fork = fork_as(&server, APP, fork_request(&src, &ckpt, &[]))
        .await
        .unwrap();
    assert_eq!(
        server.read(&fork.namespace_id, "f.txt").await.unwrap(),
        b"v1"
    );
    assert!(server.entry(&fork.namespace_id, "new.txt").await.is_none());
    server
        .client
        .checkpoints
        .clone()
        .delete_checkpoint(pb::DeleteCheckpointRequest {
            namespace_id: src.clone(),
            checkpoint_id: ckpt.clone(),
        })
        .await
        .unwrap();
    server.destroy(&src).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        server.read(&fork.namespace_id, "f.txt").await.unwrap(),
        b"v1"
    );
    assert_eq!(
        server.read(&fork.namespace_id, "keep.txt").await.unwrap(),
        b"k"
    );
    // A fork of a fork names the first owner and still reads.
    let second = fork_as(&server, APP, fork_request(&fork.namespace_id, "", &[]))
        .await
        .unwrap();
    server.destroy(&fork.namespace_id).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        server.read(&second.namespace_id, "f.txt").await.unwrap(),
        b"v1"
    );
}

async fn refused_forks_create_nothing(backend: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = arca_tests::test_config(backend, dir.path());
    config.quotas.user.max_bytes = 1 << 20;
    let server = TestServer::start_with(config, dir).await;
    let src = server.workspace().await;
    server.write(&src, "f.txt", b"hello").await;
    let bobs = server
        .namespace(pb::NamespaceType::Workspace, pb::Scope::User, "bob")
        .await;
    server.write(&bobs, "secret", b"bob's").await;
    let (_, alice_token) = server.open_session("alice").await;
    let count = || async {
        server
            .stats()
            .await
            .usage
            .iter()
            .map(|r| r.namespaces)
            .sum::<u64>()
    };
    let before = count().await;

    // Bob's namespace is not alice's to read.
    let status = fork_as(&server, &alice_token, fork_request(&bobs, "", &[])).await;
    assert_code(status, Code::PermissionDenied);
    // Another sandbox's app key cannot read sb's namespaces.
    let mut other = fork_request(&src, "", &[]);
    other.owner = None;
    assert_code(
        fork_as(&server, OTHER_APP, other).await,
        Code::PermissionDenied,
    );
    // A global admin reaches both sandboxes, but a fork stays in its source's.
    let mut elsewhere = fork_request(&src, "", &[]);
    elsewhere.owner = Some(pb::Owner {
        sandbox: "other".into(),
        user: "carol".into(),
        ..Default::default()
    });
    assert_code(
        fork_as(&server, GLOBAL_ADMIN, elsewhere).await,
        Code::FailedPrecondition,
    );
    // Type, backend, first file, checkpoint, variables.
    let mut blob = fork_request(&src, "", &[]);
    blob.r#type = pb::NamespaceType::Blob as i32;
    assert_code(fork_as(&server, APP, blob).await, Code::InvalidArgument);
    let mut backend_asked = fork_request(&src, "", &[]);
    backend_asked.backend = "elsewhere".into();
    assert_code(
        fork_as(&server, APP, backend_asked).await,
        Code::InvalidArgument,
    );
    let mut with_file = fork_request(&src, "", &[]);
    with_file.initial_file = Some(pb::InitialFile {
        data: b"x".to_vec().into(),
        ..Default::default()
    });
    assert_code(
        fork_as(&server, APP, with_file).await,
        Code::InvalidArgument,
    );
    let unknown_ckpt = fork_request(&src, "0123456789abcdef0123456789abcdef", &[]);
    assert_code(fork_as(&server, APP, unknown_ckpt).await, Code::NotFound);
    let bad_ckpt = fork_request(&src, "../x", &[]);
    assert_code(fork_as(&server, APP, bad_ckpt).await, Code::InvalidArgument);
    let not_template = fork_request(&src, "", &[("x", "1")]);
    let status = fork_as(&server, APP, not_template).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("not a template"),
        "{}",
        status.message()
    );
    let gone = fork_request(&"0".repeat(32), "", &[]);
    assert_code(fork_as(&server, APP, gone).await, Code::PermissionDenied);

    // Over alice's byte quota: 600 KiB forked twice does not fit in 1 MiB.
    server.write(&src, "big", &pattern(600 << 10, 1)).await;
    let first = fork_as(&server, APP, fork_request(&bobs, "", &[])).await;
    assert!(first.is_ok(), "bob's small namespace fits");
    let over = fork_as(&server, APP, fork_request(&src, "", &[])).await;
    assert_code(over, Code::ResourceExhausted);
    assert_eq!(count().await, before + 1, "only the fork that fit exists");
}

async fn templates_substitute_their_text_files(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.as_secret(ADMIN);
    let template = admin
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::Sandbox as i32,
            template: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(template.template);
    let t = template.namespace_id.clone();
    let write = |path: &'static str, data: Vec<u8>| {
        let mut files = admin.files.clone();
        let t = t.clone();
        async move {
            files
                .write_file(pb::WriteFileRequest {
                    namespace_id: t,
                    path: path.into(),
                    data: data.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    write(
        "app/README.md",
        b"# ${project_name}\n\n${project_description}\n".to_vec(),
    )
    .await;
    write(
        "app/src/main.py",
        b"def main():\n    print('Hello from ${project_name}!')  # $${not_a_var}\n".to_vec(),
    )
    .await;
    let mut binary = b"\xff\xfe${project_name}".to_vec();
    binary.extend(pattern(100, 3));
    write("app/logo.bin", binary.clone()).await;
    let mut large = "${project_name}\n".as_bytes().to_vec();
    large.extend(std::iter::repeat_n(b'a', 1 << 20));
    let large_entry = server
        .upload_as(ADMIN, &t, "app/large.txt", &large, false)
        .await
        .unwrap();
    assert_eq!(large_entry.size, large.len() as u64);

    // A session token forks the shared template into its user's storage.
    let (_, token) = server.open_session("alice").await;
    let vars = [
        ("project_name", "My App"),
        ("project_description", "A sample ☂ project"),
    ];
    let fork = fork_as(&server, &token, fork_request(&t, "", &vars))
        .await
        .unwrap();
    let f = fork.namespace_id.clone();
    assert!(!fork.template, "a fork is not itself a template");
    assert_eq!(
        server.read(&f, "app/README.md").await.unwrap(),
        "# My App\n\nA sample ☂ project\n".as_bytes()
    );
    assert_eq!(
        server.read(&f, "app/src/main.py").await.unwrap(),
        b"def main():\n    print('Hello from My App!')  # ${not_a_var}\n"
    );
    assert_eq!(
        server.read(&f, "app/logo.bin").await.unwrap(),
        binary,
        "not text: untouched"
    );
    let copied_large = server.entry(&f, "app/large.txt").await.unwrap();
    assert_eq!(
        copied_large.sha256,
        sha256(&large),
        "over the bound: untouched"
    );
    let readme = server.entry(&f, "app/README.md").await.unwrap();
    assert_eq!(readme.mime_type, "text/markdown");
    // The template itself is unchanged.
    assert_eq!(
        server.read(&t, "app/README.md").await.unwrap(),
        b"# ${project_name}\n\n${project_description}\n"
    );

    // A missing variable, an unknown one, a bad name: nothing is created.
    let before = server
        .stats()
        .await
        .usage
        .iter()
        .map(|r| r.namespaces)
        .sum::<u64>();
    let missing = fork_as(
        &server,
        &token,
        fork_request(&t, "", &[("project_name", "x")]),
    )
    .await
    .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(
        missing.message().contains("project_description"),
        "{}",
        missing.message()
    );
    let mut extra = vars.to_vec();
    extra.push(("colour", "blue"));
    let unknown = fork_as(&server, &token, fork_request(&t, "", &extra))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(
        unknown.message().contains("colour"),
        "{}",
        unknown.message()
    );
    let mut bad = vars.to_vec();
    bad.push(("not-a-name", "x"));
    assert_code(
        fork_as(&server, &token, fork_request(&t, "", &bad)).await,
        Code::InvalidArgument,
    );
    let after = server
        .stats()
        .await
        .usage
        .iter()
        .map(|r| r.namespaces)
        .sum::<u64>();
    assert_eq!(before, after);

    // Templates are marked later too, and unmarked.
    let user_ns = server.workspace().await;
    server.write(&user_ns, "hello.txt", b"Hi ${who}").await;
    let status = fork_as(&server, APP, fork_request(&user_ns, "", &[("who", "you")])).await;
    assert_code(status, Code::InvalidArgument);
    server
        .client
        .namespaces
        .clone()
        .update_namespace(pb::UpdateNamespaceRequest {
            namespace_id: user_ns.clone(),
            template: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let greeted = fork_as(&server, APP, fork_request(&user_ns, "", &[("who", "you")]))
        .await
        .unwrap();
    assert_eq!(
        server
            .read(&greeted.namespace_id, "hello.txt")
            .await
            .unwrap(),
        b"Hi you"
    );
}

on_every_backend!(
    a_fork_shares_content_and_outlives_its_source,
    a_fork_of_a_checkpoint_survives_its_deletion,
    refused_forks_create_nothing,
    templates_substitute_their_text_files,
);
