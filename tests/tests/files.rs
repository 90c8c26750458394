//! Unary file calls, batches, preconditions, BLOB rules and bad input, on
//! every backend.

use arca_tests::{Backend, TestServer, assert_code, on_every_backend, pattern, pb, sha256};
use tonic::Code;

fn write_req(ns: &str, path: &str, data: &[u8]) -> pb::WriteFileRequest {
    pb::WriteFileRequest {
        namespace_id: ns.into(),
        path: path.into(),
        data: data.to_vec().into(),
        ..Default::default()
    }
}

async fn write_read_round_trip_and_ranges(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let data = pattern(100_000, 3);
    let mut files = server.client.files.clone();
    let entry = files
        .write_file(pb::WriteFileRequest {
            mime_type: "text/x-python".into(),
            metadata: [("lang".to_owned(), "py".to_owned())].into(),
            ..write_req(&ns, "/src/main.py", &data)
        })
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(entry.path, "src/main.py");
    assert_eq!(entry.size, 100_000);
    assert_eq!(entry.sha256, sha256(&data));
    assert_eq!(entry.mime_type, "text/x-python");
    assert!(
        entry
            .grid_key
            .starts_with(&format!("grid/sb/user-alice/{ns}/objects/"))
    );
    assert_eq!(server.read(&ns, "src/main.py").await.unwrap(), data);

    for (offset, length) in [
        (0u64, 1u64),
        (10, 100),
        (99_990, 0),
        (99_990, 50),
        (100_000, 0),
    ] {
        let r = files
            .read_file(pb::ReadFileRequest {
                namespace_id: ns.clone(),
                path: "src/main.py".into(),
                offset,
                length,
            })
            .await
            .unwrap()
            .into_inner();
        let end = if length == 0 {
            100_000
        } else {
            (offset + length).min(100_000)
        };
        assert_eq!(
            r.data.as_ref(),
            &data[offset as usize..end as usize],
            "range {offset}+{length}"
        );
    }
    assert_code(
        files
            .read_file(pb::ReadFileRequest {
                namespace_id: ns.clone(),
                path: "src/main.py".into(),
                offset: 100_001,
                length: 0,
            })
            .await,
        Code::OutOfRange,
    );
    // Empty files are files.
    let empty = server.write(&ns, "empty", b"").await;
    assert_eq!(
        (empty.size, empty.sha256.as_str()),
        (0, sha256(b"").as_str())
    );
    assert!(server.read(&ns, "empty").await.unwrap().is_empty());
}

async fn overwrite_and_preconditions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut files = server.client.files.clone();
    let must_not_exist = Some(pb::Precondition {
        condition: Some(pb::precondition::Condition::MustNotExist(true)),
    });
    let if_version = |v| {
        Some(pb::Precondition {
            condition: Some(pb::precondition::Condition::IfVersionMatch(v)),
        })
    };

    let v1 = files
        .write_file(pb::WriteFileRequest {
            precondition: must_not_exist,
            ..write_req(&ns, "f", b"one")
        })
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_code(
        files
            .write_file(pb::WriteFileRequest {
                precondition: must_not_exist,
                ..write_req(&ns, "f", b"two")
            })
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"one");
    // Plain overwrite.
    let v2 = server.write(&ns, "f", b"two").await;
    assert!(v2.version > v1.version);
    assert_eq!(v2.created_at, v1.created_at);
    // Version-matched overwrite: stale version refused, current accepted.
    assert_code(
        files
            .write_file(pb::WriteFileRequest {
                precondition: if_version(v1.version),
                ..write_req(&ns, "f", b"three")
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"two");
    let v3 = files
        .write_file(pb::WriteFileRequest {
            precondition: if_version(v2.version),
            ..write_req(&ns, "f", b"three")
        })
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert!(v3.version > v2.version);
    assert_code(
        files
            .write_file(pb::WriteFileRequest {
                precondition: if_version(1),
                ..write_req(&ns, "missing", b"x")
            })
            .await,
        Code::FailedPrecondition,
    );
    // Expected digest.
    assert_code(
        files
            .write_file(pb::WriteFileRequest {
                expected_sha256: sha256(b"other"),
                ..write_req(&ns, "f", b"four")
            })
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        files
            .write_file(pb::WriteFileRequest {
                expected_sha256: "XYZ".into(),
                ..write_req(&ns, "f", b"four")
            })
            .await,
        Code::InvalidArgument,
    );
    files
        .write_file(pb::WriteFileRequest {
            expected_sha256: sha256(b"four"),
            ..write_req(&ns, "f", b"four")
        })
        .await
        .unwrap();
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"four");
    // One file left, of four bytes: replaced objects are not counted.
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
    assert_eq!((info.file_count, info.total_bytes), (1, 4));
}

async fn replaced_objects_are_reclaimed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let root = server.blob_root().expect("a backend with files on disk");
    let ns = server.workspace().await;
    let first = server.write(&ns, "f", b"old").await;
    let second = server.write(&ns, "f", b"new").await;
    let (old, new) = (root.join(&first.grid_key), root.join(&second.grid_key));
    assert!(new.exists());
    assert!(
        server.eventually(|| !old.exists()).await,
        "the replaced object was never reclaimed"
    );
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"new");
}

async fn bad_paths_are_refused(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    server.config.limits.max_path_bytes = 4096;
    let ns = server.workspace().await;
    let long_segment = "a".repeat(256);
    let long_path = vec!["abcdefgh"; 600].join("/");
    let bad = [
        "../etc/passwd",
        "a/../../b",
        "a/./b",
        "a//b",
        "a\0b",
        "a\u{1}b",
        "tab\there",
        "a\\b",
        "",
        "/",
        &long_segment,
        &long_path,
        "//",
    ];
    for path in bad {
        assert_code(
            server.try_write(&ns, path, b"x").await,
            Code::InvalidArgument,
        );
        let read = server.read(&ns, path).await;
        assert!(read.is_err(), "{path:?} was readable");
    }
    assert_code(server.read(&ns, "../x").await, Code::InvalidArgument);
    assert_eq!(
        server.ls(&ns, "", true).await,
        Vec::<String>::new(),
        "a refused write left something behind"
    );
}

async fn unknown_namespace_and_path(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let unknown = "f".repeat(32);
    // Unknown namespaces look exactly like other people's.
    assert_code(
        server.try_write(&unknown, "a", b"x").await,
        Code::PermissionDenied,
    );
    assert_code(server.read(&unknown, "a").await, Code::PermissionDenied);
    assert_code(
        server.try_write("not-an-id", "a", b"x").await,
        Code::InvalidArgument,
    );
    assert_code(server.read(&ns, "missing.txt").await, Code::NotFound);
    server.write(&ns, "dir/f", b"x").await;
    assert_code(server.read(&ns, "dir").await, Code::FailedPrecondition);
    // A file cannot become a parent, nor a directory be overwritten by a file.
    assert_code(
        server.try_write(&ns, "dir/f/g", b"x").await,
        Code::FailedPrecondition,
    );
    assert_code(
        server.try_write(&ns, "dir", b"x").await,
        Code::FailedPrecondition,
    );
}

async fn unary_limit(backend: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = arca_tests::test_config(backend, dir.path());
    config.limits.max_unary_bytes = 1000;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    assert_code(
        server.try_write(&ns, "big", &[0u8; 1001]).await,
        Code::ResourceExhausted,
    );
    server.write(&ns, "ok", &[0u8; 1000]).await;
    // A bigger file (uploaded by stream) is refused whole by ReadFile but
    // readable in ranges.
    let data = pattern(5000, 1);
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "big".into(),
        ..Default::default()
    };
    server
        .client
        .upload_bytes(start, data.clone().into(), 700)
        .await
        .unwrap();
    assert_code(server.read(&ns, "big").await, Code::FailedPrecondition);
    let part = server
        .client
        .files
        .clone()
        .read_file(pb::ReadFileRequest {
            namespace_id: ns.clone(),
            path: "big".into(),
            offset: 4000,
            length: 1000,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(part.data.as_ref(), &data[4000..]);
}

async fn batch_partial_failure(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut files = server.client.files.clone();
    server.write(&ns, "exists", b"keep").await;
    server.write(&ns, "olddir/x", b"x").await;
    let must_not_exist = Some(pb::Precondition {
        condition: Some(pb::precondition::Condition::MustNotExist(true)),
    });
    let items = vec![
        write_req("", "a.txt", b"A"),
        write_req("", "../escape", b"B"),
        pb::WriteFileRequest {
            precondition: must_not_exist,
            ..write_req("", "exists", b"C")
        },
        write_req("", "dir/b.txt", b"D"),
        pb::WriteFileRequest {
            expected_sha256: sha256(b"nope"),
            ..write_req("", "e.txt", b"E")
        },
        // Content the namespace holds (its check finds it), and a target
        // that is a directory.
        write_req("", "same-as-exists", b"keep"),
        write_req("", "olddir", b"F"),
    ];
    let results = files
        .batch_write(pb::BatchWriteRequest {
            namespace_id: ns.clone(),
            items,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let codes: Vec<Option<i32>> = results
        .iter()
        .map(|r| match &r.result {
            Some(pb::batch_item_result::Result::Error(e)) => Some(e.code),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some(Code::InvalidArgument as i32),
            Some(Code::AlreadyExists as i32),
            None,
            Some(Code::InvalidArgument as i32),
            None,
            Some(Code::FailedPrecondition as i32),
        ]
    );
    assert_eq!(server.read(&ns, "same-as-exists").await.unwrap(), b"keep");
    assert_eq!(results[0].path, "a.txt");
    assert_eq!(server.read(&ns, "a.txt").await.unwrap(), b"A");
    assert_eq!(server.read(&ns, "dir/b.txt").await.unwrap(), b"D");
    assert_eq!(server.read(&ns, "exists").await.unwrap(), b"keep");
    assert_code(server.read(&ns, "e.txt").await, Code::NotFound);

    let read = files
        .batch_read(pb::BatchReadRequest {
            namespace_id: ns.clone(),
            paths: vec![
                "a.txt".into(),
                "missing".into(),
                "dir/b.txt".into(),
                "..".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(read[0].data.as_ref(), b"A");
    assert!(
        matches!(&read[1].result, Some(pb::batch_item_result::Result::Error(e)) if e.code == Code::NotFound as i32)
    );
    assert_eq!(read[2].data.as_ref(), b"D");
    assert!(
        matches!(&read[3].result, Some(pb::batch_item_result::Result::Error(e)) if e.code == Code::InvalidArgument as i32)
    );

    let deleted = files
        .batch_delete(pb::BatchDeleteRequest {
            namespace_id: ns.clone(),
            paths: vec!["a.txt".into(), "missing".into(), "dir".into()],
            recursive: false,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(deleted[0].entries_removed, 1);
    assert!(deleted[0].error.is_none());
    assert_eq!(
        deleted[1].error.as_ref().unwrap().code,
        Code::NotFound as i32
    );
    assert_eq!(
        deleted[2].error.as_ref().unwrap().code,
        Code::FailedPrecondition as i32
    );
    assert_code(server.read(&ns, "a.txt").await, Code::NotFound);
    assert_eq!(server.read(&ns, "dir/b.txt").await.unwrap(), b"D");

    let too_many = (0..1001)
        .map(|i| write_req("", &format!("f{i}"), b"x"))
        .collect();
    assert_code(
        files
            .batch_write(pb::BatchWriteRequest {
                namespace_id: ns.clone(),
                items: too_many,
            })
            .await,
        Code::InvalidArgument,
    );
}

async fn blob_holds_one_file(backend: Backend) {
    let server = TestServer::start(backend).await;
    let blob = server
        .namespace(pb::NamespaceType::Blob, pb::Scope::Session, "alice")
        .await;
    let mut files = server.client.files.clone();
    server.write(&blob, "data.bin", b"v1").await;
    server.write(&blob, "data.bin", b"v2").await;
    assert_eq!(server.read(&blob, "data.bin").await.unwrap(), b"v2");
    assert_code(
        server.try_write(&blob, "other.bin", b"x").await,
        Code::FailedPrecondition,
    );
    assert_code(
        server.try_write(&blob, "dir/data.bin", b"x").await,
        Code::FailedPrecondition,
    );
    assert_code(
        files
            .mkdir(pb::MkdirRequest {
                namespace_id: blob.clone(),
                path: "d".into(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_code(
        files
            .copy(pb::CopyRequest {
                namespace_id: blob.clone(),
                source: "data.bin".into(),
                destination: "copy.bin".into(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    // Renaming the one file keeps it one file.
    files
        .r#move(pb::MoveRequest {
            namespace_id: blob.clone(),
            source: "data.bin".into(),
            destination: "renamed.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(server.ls(&blob, "", true).await, vec!["renamed.bin"]);
    // The same upload and download calls work on it.
    let start = pb::UploadStart {
        namespace_id: blob.clone(),
        path: "renamed.bin".into(),
        ..Default::default()
    };
    server
        .client
        .upload_bytes(start, pattern(3000, 9).into(), 1000)
        .await
        .unwrap();
    let got = server
        .client
        .download(pb::DownloadRequest {
            namespace_id: blob.clone(),
            path: "renamed.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.data, pattern(3000, 9));
    let second = pb::UploadStart {
        namespace_id: blob.clone(),
        path: "second.bin".into(),
        ..Default::default()
    };
    let refused = server
        .client
        .upload_bytes(second, vec![1u8; 10].into(), 5)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, arca_client::ClientError::Status(s) if s.code() == Code::FailedPrecondition)
    );
    // After removing the file, another path is fine.
    files
        .remove(pb::RemoveRequest {
            namespace_id: blob.clone(),
            path: "renamed.bin".into(),
            recursive: false,
        })
        .await
        .unwrap();
    server.write(&blob, "fresh.bin", b"x").await;
}

async fn metadata_set_and_get(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut files = server.client.files.clone();
    let e = server.write(&ns, "f", b"x").await;
    let set = files
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "f".into(),
            mode: pb::MetadataUpdateMode::Merge as i32,
            metadata: [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned()),
            ]
            .into(),
            if_version_match: Some(e.version),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(set.version > e.version);
    assert_code(
        files
            .set_metadata(pb::SetMetadataRequest {
                namespace_id: ns.clone(),
                path: "f".into(),
                if_version_match: Some(e.version),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    files
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "f".into(),
            remove_keys: vec!["a".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let got = files
        .get_metadata(pb::GetMetadataRequest {
            namespace_id: ns.clone(),
            path: "f".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.metadata, [("b".to_owned(), "2".to_owned())].into());
    let replaced = files
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "f".into(),
            mode: pb::MetadataUpdateMode::Replace as i32,
            metadata: [("c".to_owned(), "3".to_owned())].into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.metadata, [("c".to_owned(), "3".to_owned())].into());
    // Content is untouched by metadata changes.
    assert_eq!(server.read(&ns, "f").await.unwrap(), b"x");
    assert_code(
        files
            .get_metadata(pb::GetMetadataRequest {
                namespace_id: ns.clone(),
                path: "nope".into(),
            })
            .await,
        Code::NotFound,
    );
    let huge = [("k".to_owned(), "v".repeat(5000))].into();
    assert_code(
        files
            .set_metadata(pb::SetMetadataRequest {
                namespace_id: ns.clone(),
                path: "f".into(),
                metadata: huge,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
    );
}

/// A file written without a MIME type gets the one its name suggests, on
/// every write path (unary, batch, streamed, presigned, a namespace's first
/// file); a type the writer names is kept.
async fn types_are_guessed_from_names(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut files = server.client.files.clone();
    let mime = |entry: pb::Entry| entry.mime_type;
    let written = files
        .write_file(write_req(&ns, "notes.txt", b"hi"))
        .await
        .unwrap();
    assert_eq!(mime(written.into_inner().entry.unwrap()), "text/plain");
    let named = pb::WriteFileRequest {
        mime_type: "application/x-custom".into(),
        ..write_req(&ns, "custom.txt", b"hi")
    };
    let written = files.write_file(named).await.unwrap();
    assert_eq!(
        mime(written.into_inner().entry.unwrap()),
        "application/x-custom"
    );
    let batch = files
        .batch_write(pb::BatchWriteRequest {
            namespace_id: ns.clone(),
            items: vec![
                write_req(&ns, "data/Table.CSV", b"a,b"),
                write_req(&ns, "Makefile", b"all:"),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.results.len(), 2);
    let stat = |path: &'static str| {
        let mut files = server.client.files.clone();
        let ns = ns.clone();
        async move {
            files
                .stat(pb::StatRequest {
                    namespace_id: ns,
                    path: path.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .mime_type
        }
    };
    assert_eq!(stat("data/Table.CSV").await, "text/csv");
    assert_eq!(stat("Makefile").await, "application/octet-stream");
    let start = pb::UploadStart {
        namespace_id: ns.clone(),
        path: "src/main.py".into(),
        ..Default::default()
    };
    let uploaded = server
        .client
        .upload_bytes(start, bytes::Bytes::from_static(b"print(1)"), 4)
        .await
        .unwrap();
    assert_eq!(uploaded.mime_type, "text/x-python");
    let plan = server
        .client
        .presign_upload(&ns, "report.pdf", None, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let put = arca_tests::http(&plan.method, &plan.parts[0].url, &[], b"%PDF-1.7".to_vec()).await;
    assert!(put.status < 300, "{}", put.status);
    let finalized = server
        .client
        .finalize_upload(&plan.upload_id, None, Vec::new())
        .await
        .unwrap();
    assert_eq!(finalized.mime_type, "application/pdf");
    let blob = server
        .client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Blob as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                user: "alice".into(),
                ..Default::default()
            }),
            initial_file: Some(pb::InitialFile {
                path: "readme.md".into(),
                data: b"# hi".to_vec().into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = files
        .stat(pb::StatRequest {
            namespace_id: blob.namespace_id,
            path: "readme.md".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.mime_type, "text/markdown");
}

on_every_backend!(
    types_are_guessed_from_names,
    write_read_round_trip_and_ranges,
    overwrite_and_preconditions,
    bad_paths_are_refused,
    unknown_namespace_and_path,
    unary_limit,
    batch_partial_failure,
    blob_holds_one_file,
    metadata_set_and_get,
);

// Reclaim is checked on disk, where it can be seen.
arca_tests::on_durable_backends!(replaced_objects_are_reclaimed);
