//! Tree calls: Stat, List, Mkdir, Remove, Copy, Move and Find, on every backend.

use arca_tests::{Backend, TestServer, assert_code, on_every_backend, pb};
use tonic::Code;

async fn tree(server: &TestServer) -> String {
    let ns = server.workspace().await;
    for path in [
        "a/x.py",
        "a/y.txt",
        "a/sub/z.py",
        "a-b/q.md",
        "a.txt",
        "b/deep/er/w.py",
        "top.py",
    ] {
        server.write(&ns, path, path.as_bytes()).await;
    }
    ns
}

async fn list_direct_and_recursive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = tree(&server).await;
    assert_eq!(
        server.ls(&ns, "", false).await,
        vec!["a", "a-b", "a.txt", "b", "top.py"]
    );
    assert_eq!(
        server.ls(&ns, "a", false).await,
        vec!["a/sub", "a/x.py", "a/y.txt"]
    );
    assert_eq!(
        server.ls(&ns, "/a/", false).await,
        vec!["a/sub", "a/x.py", "a/y.txt"]
    );
    assert_eq!(
        server.ls(&ns, "a", true).await,
        vec!["a/sub", "a/sub/z.py", "a/x.py", "a/y.txt"]
    );
    assert_eq!(server.ls(&ns, "", true).await.len(), 13);
    let mut files = server.client.files.clone();
    // Pages of one still visit every child exactly once, in order.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = files
            .list(pb::ListRequest {
                namespace_id: ns.clone(),
                path: String::new(),
                recursive: false,
                page_size: 1,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.entries.into_iter().map(|e| e.path));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, vec!["a", "a-b", "a.txt", "b", "top.py"]);
    assert_code(
        files
            .list(pb::ListRequest {
                namespace_id: ns.clone(),
                path: "nope".into(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        files
            .list(pb::ListRequest {
                namespace_id: ns.clone(),
                path: "a.txt".into(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    let root = files
        .stat(pb::StatRequest {
            namespace_id: ns.clone(),
            path: "/".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(root.kind, pb::EntryKind::Directory as i32);
    let file = files
        .stat(pb::StatRequest {
            namespace_id: ns.clone(),
            path: "a/x.py".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((file.kind, file.size), (pb::EntryKind::File as i32, 6));
}

async fn mkdir_rules(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut files = server.client.files.clone();
    let mkdir = |path: &str, parents: bool, exist_ok: bool| pb::MkdirRequest {
        namespace_id: ns.clone(),
        path: path.into(),
        parents,
        exist_ok,
    };
    assert_code(
        files.mkdir(mkdir("x/y", false, false)).await,
        Code::NotFound,
    );
    let made = files
        .mkdir(mkdir("x/y", true, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (made.path.as_str(), made.kind),
        ("x/y", pb::EntryKind::Directory as i32)
    );
    assert_code(
        files.mkdir(mkdir("x/y", true, false)).await,
        Code::AlreadyExists,
    );
    files.mkdir(mkdir("x/y", true, true)).await.unwrap();
    server.write(&ns, "file", b"f").await;
    assert_code(
        files.mkdir(mkdir("file", true, true)).await,
        Code::AlreadyExists,
    );
    assert_code(
        files.mkdir(mkdir("file/sub", true, false)).await,
        Code::FailedPrecondition,
    );
    assert_code(
        files.mkdir(mkdir("", true, false)).await,
        Code::InvalidArgument,
    );
    assert_code(
        files.mkdir(mkdir("a/../b", true, false)).await,
        Code::InvalidArgument,
    );
    assert_eq!(server.ls(&ns, "", true).await, vec!["file", "x", "x/y"]);
}

async fn remove_rules(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = tree(&server).await;
    let mut files = server.client.files.clone();
    let rm = |path: &str, recursive: bool| pb::RemoveRequest {
        namespace_id: ns.clone(),
        path: path.into(),
        recursive,
    };
    assert_code(files.remove(rm("a", false)).await, Code::FailedPrecondition);
    assert_code(files.remove(rm("", true)).await, Code::InvalidArgument);
    assert_code(files.remove(rm("nope", true)).await, Code::NotFound);
    assert_eq!(
        files
            .remove(rm("a", true))
            .await
            .unwrap()
            .into_inner()
            .entries_removed,
        5
    );
    assert_eq!(
        server.ls(&ns, "", false).await,
        vec!["a-b", "a.txt", "b", "top.py"]
    );
    assert_eq!(
        files
            .remove(rm("top.py", false))
            .await
            .unwrap()
            .into_inner()
            .entries_removed,
        1
    );
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
    assert_eq!(info.file_count, 3);
}

async fn copy_and_move_directories(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = tree(&server).await;
    let mut files = server.client.files.clone();
    let before = files
        .stat(pb::StatRequest {
            namespace_id: ns.clone(),
            path: "a/x.py".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let copy = |src: &str, dst: &str, overwrite: bool, parents: bool| pb::CopyRequest {
        namespace_id: ns.clone(),
        source: src.into(),
        destination: dst.into(),
        overwrite,
        parents,
        ..Default::default()
    };
    files.copy(copy("a", "c", false, false)).await.unwrap();
    assert_eq!(
        server.ls(&ns, "c", true).await,
        vec!["c/sub", "c/sub/z.py", "c/x.py", "c/y.txt"]
    );
    assert_eq!(server.read(&ns, "c/sub/z.py").await.unwrap(), b"a/sub/z.py");
    let copied = files
        .stat(pb::StatRequest {
            namespace_id: ns.clone(),
            path: "c/x.py".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        copied.grid_key, before.grid_key,
        "copy must share the object, not copy content"
    );
    assert_code(
        files.copy(copy("a", "c", false, false)).await,
        Code::AlreadyExists,
    );
    assert_code(
        files.copy(copy("a", "a/inside", false, false)).await,
        Code::InvalidArgument,
    );
    assert_code(
        files.copy(copy("a", "no/parent", false, false)).await,
        Code::NotFound,
    );
    files
        .copy(copy("a", "no/parent", false, true))
        .await
        .unwrap();
    assert_code(
        files.copy(copy("a.txt", "top.py", false, false)).await,
        Code::AlreadyExists,
    );
    files
        .copy(copy("a.txt", "top.py", true, false))
        .await
        .unwrap();
    assert_eq!(server.read(&ns, "top.py").await.unwrap(), b"a.txt");
    assert_code(
        files.copy(copy("missing", "m2", false, false)).await,
        Code::NotFound,
    );

    let mv = |src: &str, dst: &str, overwrite: bool| pb::MoveRequest {
        namespace_id: ns.clone(),
        source: src.into(),
        destination: dst.into(),
        overwrite,
        parents: false,
        ..Default::default()
    };
    files.r#move(mv("c", "d", false)).await.unwrap();
    assert_eq!(
        server.ls(&ns, "d", true).await,
        vec!["d/sub", "d/sub/z.py", "d/x.py", "d/y.txt"]
    );
    assert_code(
        files
            .stat(pb::StatRequest {
                namespace_id: ns.clone(),
                path: "c".into(),
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        files.r#move(mv("d", "d/sub/inner", false)).await,
        Code::InvalidArgument,
    );
    assert_code(files.r#move(mv("d", "b", false)).await, Code::AlreadyExists);
    assert_code(
        files.r#move(mv("d/x.py", "d/y.txt", false)).await,
        Code::AlreadyExists,
    );
    files.r#move(mv("d/x.py", "d/y.txt", true)).await.unwrap();
    assert_eq!(server.read(&ns, "d/y.txt").await.unwrap(), b"a/x.py");
    // The shared objects survive the copy being removed, and the original is intact.
    files
        .remove(pb::RemoveRequest {
            namespace_id: ns.clone(),
            path: "d".into(),
            recursive: true,
        })
        .await
        .unwrap();
    assert_eq!(server.read(&ns, "a/x.py").await.unwrap(), b"a/x.py");
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
    assert_eq!(
        info.file_count,
        server
            .ls(&ns, "", true)
            .await
            .iter()
            .filter(|p| p.contains('.'))
            .count() as u64
    );
}

async fn find_with_filters(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = tree(&server).await;
    let mut files = server.client.files.clone();
    files
        .write_file(pb::WriteFileRequest {
            namespace_id: ns.clone(),
            path: "a/tagged.py".into(),
            data: b"t".to_vec().into(),
            mime_type: "text/x-python".into(),
            metadata: [("role".to_owned(), "entry".to_owned())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let find = |path: &str, pattern: &str, mime: &str, meta: &[(&str, &str)]| pb::FindRequest {
        namespace_id: ns.clone(),
        path: path.into(),
        pattern: pattern.into(),
        mime_prefix: mime.into(),
        metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        page_size: 0,
        page_token: String::new(),
    };
    let paths = |r: pb::FindResponse| r.entries.into_iter().map(|e| e.path).collect::<Vec<_>>();
    assert_eq!(
        paths(
            files
                .find(find("", "**/*.py", "", &[]))
                .await
                .unwrap()
                .into_inner()
        ),
        vec![
            "a/sub/z.py",
            "a/tagged.py",
            "a/x.py",
            "b/deep/er/w.py",
            "top.py"
        ]
    );
    assert_eq!(
        paths(
            files
                .find(find("", "*.py", "", &[]))
                .await
                .unwrap()
                .into_inner()
        ),
        vec!["top.py"]
    );
    assert_eq!(
        paths(
            files
                .find(find("a", "*.py", "", &[]))
                .await
                .unwrap()
                .into_inner()
        ),
        vec!["a/tagged.py", "a/x.py"]
    );
    assert_eq!(
        paths(
            files
                .find(find("", "", "text/", &[]))
                .await
                .unwrap()
                .into_inner()
        ),
        // Types named at write time and types guessed from names alike.
        vec![
            "a-b/q.md",
            "a.txt",
            "a/sub/z.py",
            "a/tagged.py",
            "a/x.py",
            "a/y.txt",
            "b/deep/er/w.py",
            "top.py"
        ]
    );
    assert_eq!(
        paths(
            files
                .find(find("", "**", "", &[("role", "entry")]))
                .await
                .unwrap()
                .into_inner()
        ),
        vec!["a/tagged.py"]
    );
    assert_eq!(
        paths(
            files
                .find(find("", "{top,a.txt}*", "", &[]))
                .await
                .unwrap()
                .into_inner()
        ),
        vec!["a.txt", "top.py"]
    );
    let first = files
        .find(pb::FindRequest {
            page_size: 2,
            ..find("", "**/*.py", "", &[])
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.entries.len(), 2);
    let rest = files
        .find(pb::FindRequest {
            page_token: first.next_page_token,
            ..find("", "**/*.py", "", &[])
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paths(rest), vec!["a/x.py", "b/deep/er/w.py", "top.py"]);
    assert_code(
        files.find(find("", "[unclosed", "", &[])).await,
        Code::InvalidArgument,
    );
    assert_code(
        files.find(find("missing", "*", "", &[])).await,
        Code::NotFound,
    );
}

on_every_backend!(
    list_direct_and_recursive,
    mkdir_rules,
    remove_rules,
    copy_and_move_directories,
    find_with_filters
);
