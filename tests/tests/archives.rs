//! Tar export and import against a live server, on every backend: a tree
//! with long and non-ASCII paths, metadata, empty directories and an empty
//! file goes out, is extracted by the system's `tar` byte for byte, and
//! comes back in (as exported, gzipped, and repacked by `tar`); a
//! checkpoint exports as it was; every class of bad archive is refused
//! naming its entry and commits nothing; a stream cut or broken mid-way
//! commits nothing; quotas, profiles and access apply.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use arca_tests::{
    ADMIN, APP, Backend, OTHER_APP, TestServer, assert_code, on_every_backend, pattern, pb,
    test_config,
};
use pb::export_archive_response::Message as Piece;
use pb::import_archive_request::Message as In;
use tonic::Code;

async fn export(server: &TestServer, ns: &str, checkpoint: &str) -> (pb::ExportSummary, Vec<u8>) {
    let mut stream = server
        .client
        .archives
        .clone()
        .export_archive(pb::ExportArchiveRequest {
            namespace_id: ns.into(),
            checkpoint_id: checkpoint.into(),
        })
        .await
        .expect("export")
        .into_inner();
    let (mut summary, mut bytes) = (None, Vec::new());
    while let Some(m) = stream.message().await.expect("export stream") {
        match m.message.unwrap() {
            Piece::Summary(s) => summary = Some(s),
            Piece::Data(d) => bytes.extend_from_slice(&d),
        }
    }
    (summary.expect("a summary first"), bytes)
}

fn import_messages(
    ns: &str,
    dir: &str,
    overwrite: bool,
    archive: &[u8],
) -> Vec<pb::ImportArchiveRequest> {
    let mut messages = vec![pb::ImportArchiveRequest {
        message: Some(In::Start(pb::ImportStart {
            namespace_id: ns.into(),
            path: dir.into(),
            overwrite,
        })),
    }];
    for piece in archive.chunks(100_000) {
        messages.push(pb::ImportArchiveRequest {
            message: Some(In::Data(piece.to_vec().into())),
        });
    }
    messages
}

async fn import_as(
    server: &TestServer,
    secret: &str,
    ns: &str,
    dir: &str,
    overwrite: bool,
    archive: &[u8],
) -> Result<pb::ImportArchiveResponse, tonic::Status> {
    server
        .as_secret(secret)
        .archives
        .import_archive(futures::stream::iter(import_messages(
            ns, dir, overwrite, archive,
        )))
        .await
        .map(tonic::Response::into_inner)
}

async fn import(
    server: &TestServer,
    ns: &str,
    archive: &[u8],
) -> Result<pb::ImportArchiveResponse, tonic::Status> {
    import_as(server, APP, ns, "", false, archive).await
}

/// One entry as compared: path, kind, SHA-256, MIME type, metadata.
type Row = (String, i32, String, String, BTreeMap<String, String>);

/// The tree, in path order.
async fn tree(server: &TestServer, ns: &str) -> Vec<Row> {
    let listed = server
        .client
        .files
        .clone()
        .list(pb::ListRequest {
            namespace_id: ns.into(),
            recursive: true,
            page_size: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    listed
        .entries
        .into_iter()
        .map(|e| {
            (
                e.path,
                e.kind,
                e.sha256,
                e.mime_type,
                e.metadata.into_iter().collect(),
            )
        })
        .collect()
}

fn long_path() -> String {
    let segments: Vec<String> = (0..3).map(|i| format!("{i}{}", "d".repeat(120))).collect();
    format!("{}/long-file.txt", segments.join("/"))
}

/// Exported, extracted by `tar`, imported again (as it was, gzipped, and
/// repacked by `tar`): the same tree, byte for byte.
async fn a_tree_goes_out_and_back(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let big = pattern(3 << 20, 7);
    server.write(&ns, "src/main.rs", b"fn main() {}\n").await;
    server.write(&ns, &long_path(), b"deep").await;
    server.write(&ns, "naïve/résumé ☂.md", b"unicode").await;
    server.write(&ns, "empty.bin", b"").await;
    server
        .upload_as(APP, &ns, "data/big.bin", &big, true)
        .await
        .unwrap();
    server
        .client
        .files
        .clone()
        .mkdir(pb::MkdirRequest {
            namespace_id: ns.clone(),
            path: "empty/dir".into(),
            parents: true,
            exist_ok: false,
        })
        .await
        .unwrap();
    server
        .client
        .files
        .clone()
        .set_metadata(pb::SetMetadataRequest {
            namespace_id: ns.clone(),
            path: "src/main.rs".into(),
            metadata: [
                ("lang".to_owned(), "rust".to_owned()),
                ("k=v".to_owned(), "a\nb".to_owned()),
            ]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let before = tree(&server, &ns).await;
    let (summary, archive) = export(&server, &ns, "").await;
    assert_eq!((summary.files, summary.directories), (5, 8), "{summary:?}");
    assert_eq!(summary.content_bytes, (3 << 20) + 13 + 4 + 7);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.tar");
    std::fs::write(&file, &archive).unwrap();
    let extracted = dir.path().join("x");
    std::fs::create_dir(&extracted).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&file)
        .arg("-C")
        .arg(&extracted)
        .status()
        .unwrap();
    assert!(status.success(), "tar -x");
    assert_eq!(std::fs::read(extracted.join("data/big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(extracted.join(long_path())).unwrap(), b"deep");
    assert_eq!(
        std::fs::read(extracted.join("naïve/résumé ☂.md")).unwrap(),
        b"unicode"
    );
    assert_eq!(std::fs::read(extracted.join("empty.bin")).unwrap(), b"");
    assert!(extracted.join("empty/dir").is_dir());

    // As exported: the same tree, metadata and MIME types included.
    let copy = server.workspace().await;
    let imported = import(&server, &copy, &archive).await.unwrap();
    assert_eq!((imported.files, imported.directories), (5, 8));
    assert_eq!(imported.archive_bytes, archive.len() as u64);
    assert_eq!(tree(&server, &copy).await, before);
    assert_eq!(server.read(&copy, "data/big.bin").await.unwrap(), big);

    // Gzipped.
    let gz = Command::new("gzip")
        .arg("-c")
        .arg(&file)
        .output()
        .unwrap()
        .stdout;
    let zipped = server.workspace().await;
    import(&server, &zipped, &gz).await.unwrap();
    assert_eq!(tree(&server, &zipped).await, before);

    // Repacked by tar from the extracted files: the same paths and bytes.
    let repacked = Command::new("tar")
        .arg("-cf")
        .arg("-")
        .arg("-C")
        .arg(&extracted)
        .arg(".")
        .output()
        .unwrap()
        .stdout;
    let again = server.workspace().await;
    import(&server, &again, &repacked).await.unwrap();
    let paths_and_content = |t: &[Row]| {
        t.iter()
            .map(|(p, k, s, _, _)| (p.clone(), *k, s.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        paths_and_content(&tree(&server, &again).await),
        paths_and_content(&before)
    );

    // Into a directory, and over existing files only with overwrite.
    import_as(&server, APP, &copy, "nested/here", false, &archive)
        .await
        .unwrap();
    assert_eq!(
        server.read(&copy, "nested/here/src/main.rs").await.unwrap(),
        b"fn main() {}\n"
    );
    let status = assert_code(import(&server, &copy, &archive).await, Code::AlreadyExists);
    assert!(
        status.message().contains("src/main.rs") || status.message().contains("exists"),
        "{status:?}"
    );
    import_as(&server, APP, &copy, "", true, &archive)
        .await
        .unwrap();
    server.assert_counts_agree().await;
}

/// A checkpoint exports as it was, whatever the live tree became.
async fn a_checkpoint_exports_as_it_was(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "a.txt", b"old").await;
    let checkpoint = server
        .client
        .checkpoints
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .checkpoint_id;
    server.write(&ns, "a.txt", b"new").await;
    server.write(&ns, "b.txt", b"later").await;
    let (summary, archive) = export(&server, &ns, &checkpoint).await;
    assert_eq!(summary.files, 1);
    let copy = server.workspace().await;
    import(&server, &copy, &archive).await.unwrap();
    assert_eq!(server.read(&copy, "a.txt").await.unwrap(), b"old");
    assert!(server.entry(&copy, "b.txt").await.is_none());
    assert_code(
        server
            .client
            .archives
            .clone()
            .export_archive(pb::ExportArchiveRequest {
                namespace_id: ns.clone(),
                checkpoint_id: "nope".into(),
            })
            .await,
        Code::NotFound,
    );
}

/// One tar entry with a raw name (and link name), as a hostile archiver
/// writes it.
fn raw_entry(
    name: &[u8],
    kind: tar::EntryType,
    data: &[u8],
    declared: u64,
    link: &[u8],
) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    {
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        old.linkname[..link.len()].copy_from_slice(link);
    }
    header.set_mode(0o644);
    header.set_size(declared);
    header.set_entry_type(kind);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn file_entry(name: &str, data: &[u8]) -> Vec<u8> {
    raw_entry(
        name.as_bytes(),
        tar::EntryType::Regular,
        data,
        data.len() as u64,
        b"",
    )
}

fn archive_of(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0; 1024]);
    out
}

/// Every class of bad archive is INVALID_ARGUMENT naming the entry, and
/// nothing of it (not even the good entries before it) is committed.
async fn bad_archives_are_refused_whole(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "kept.txt", b"kept").await;
    let good = file_entry("good.txt", b"fine");
    let mut pax_lie = Vec::new();
    {
        let record = format!("80 ARCA.sha256={}\n", "0".repeat(64));
        assert_eq!(record.len(), 80);
        let mut header = tar::Header::new_ustar();
        header.set_path("PaxHeaders/lie.txt").unwrap();
        header.set_size(record.len() as u64);
        header.set_entry_type(tar::EntryType::XHeader);
        header.set_cksum();
        pax_lie.extend_from_slice(header.as_bytes());
        pax_lie.extend_from_slice(record.as_bytes());
        pax_lie.resize(pax_lie.len().div_ceil(512) * 512, 0);
        pax_lie.extend_from_slice(&file_entry("lie.txt", b"not zeros"));
    }
    let complete = archive_of(&[good.clone(), file_entry("second.txt", b"two")]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "climbing",
            archive_of(&[good.clone(), file_entry("a/../../evil", b"x")]),
            "evil",
        ),
        (
            "absolute",
            archive_of(&[good.clone(), file_entry("/etc/evil", b"x")]),
            "/etc/evil",
        ),
        (
            "symlink",
            archive_of(&[
                good.clone(),
                raw_entry(b"link", tar::EntryType::Symlink, b"", 0, b"/etc/passwd"),
            ]),
            "link",
        ),
        (
            "hard link outside",
            archive_of(&[
                good.clone(),
                raw_entry(b"hard", tar::EntryType::Link, b"", 0, b"../../etc/passwd"),
            ]),
            "hard",
        ),
        (
            "hard link to nothing",
            archive_of(&[
                good.clone(),
                raw_entry(b"hard", tar::EntryType::Link, b"", 0, b"missing.txt"),
            ]),
            "hard",
        ),
        (
            "device",
            archive_of(&[
                good.clone(),
                raw_entry(b"dev", tar::EntryType::Char, b"", 0, b""),
            ]),
            "dev",
        ),
        (
            "fifo",
            archive_of(&[
                good.clone(),
                raw_entry(b"pipe", tar::EntryType::Fifo, b"", 0, b""),
            ]),
            "pipe",
        ),
        (
            "larger than declared",
            archive_of(&[
                good.clone(),
                raw_entry(b"big.txt", tar::EntryType::Regular, &[b'z'; 3000], 10, b""),
            ]),
            "big.txt",
        ),
        ("cut mid-entry", complete[..512 + 100].to_vec(), "good.txt"),
        (
            "cut at an entry boundary",
            complete[..1024].to_vec(),
            "good.txt",
        ),
        (
            "not a tar",
            b"hello, this is not an archive at all".repeat(20),
            "",
        ),
        (
            "digest mismatch",
            archive_of(&[good.clone(), pax_lie]),
            "lie.txt",
        ),
    ];
    for (what, archive, names) in cases {
        let status = assert_code(import(&server, &ns, &archive).await, Code::InvalidArgument);
        assert!(status.message().contains(names), "{what}: {status:?}");
        let listed: Vec<String> = tree(&server, &ns).await.into_iter().map(|t| t.0).collect();
        assert_eq!(listed, ["kept.txt"], "{what}: nothing committed");
    }
    // The good archive goes in whole.
    import(&server, &ns, &complete).await.unwrap();
    assert_eq!(server.read(&ns, "second.txt").await.unwrap(), b"two");
    // A hard link to an earlier file is a copy of it.
    let linked = archive_of(&[
        file_entry("orig.txt", b"same"),
        raw_entry(b"copy.txt", tar::EntryType::Link, b"", 0, b"orig.txt"),
    ]);
    import(&server, &ns, &linked).await.unwrap();
    assert_eq!(server.read(&ns, "copy.txt").await.unwrap(), b"same");
    server.assert_counts_agree().await;
}

/// A stream that breaks (the client goes away) or sends the wrong message
/// mid-way commits nothing; nor does one without a start.
async fn a_broken_stream_commits_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let entries: Vec<Vec<u8>> = (0..20)
        .map(|i| file_entry(&format!("f{i}"), &pattern(200_000, i)))
        .collect();
    let archive = archive_of(&entries);
    // The call dropped after half of the archive.
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let mut messages = import_messages(&ns, "", false, &archive);
    let total = messages.len();
    for m in messages.drain(..total / 2) {
        tx.send(m).await.unwrap();
    }
    let call = {
        let client = server.client.clone();
        tokio::spawn(async move {
            client
                .archives
                .clone()
                .import_archive(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    call.abort();
    drop(tx);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(tree(&server, &ns).await.is_empty(), "nothing committed");
    // A wrong message after the archive's bytes.
    let mut messages = import_messages(&ns, "", false, &archive);
    messages.push(messages[0].clone());
    let status = assert_code(
        server
            .client
            .archives
            .clone()
            .import_archive(futures::stream::iter(messages))
            .await,
        Code::InvalidArgument,
    );
    assert!(status.message().contains("only data"), "{status:?}");
    assert!(tree(&server, &ns).await.is_empty(), "nothing committed");
    let no_start = vec![pb::ImportArchiveRequest {
        message: Some(In::Data(archive[..512].to_vec().into())),
    }];
    assert_code(
        server
            .client
            .archives
            .clone()
            .import_archive(futures::stream::iter(no_start))
            .await,
        Code::InvalidArgument,
    );
    // The whole archive, at last.
    import(&server, &ns, &archive).await.unwrap();
    assert_eq!(tree(&server, &ns).await.len(), 20);
}

on_every_backend!(
    a_tree_goes_out_and_back,
    a_checkpoint_exports_as_it_was,
    bad_archives_are_refused_whole,
    a_broken_stream_commits_nothing,
);

/// Imports obey quotas (a gzip bomb stops at the byte quota, naming the
/// entry, before its content is written), access profiles and access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_obey_quotas_profiles_and_access() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(Backend::Filesystem, dir.path());
    config.quotas.user.max_bytes = 1 << 20;
    let server = TestServer::start_with(config, dir).await;
    let ns = server.workspace().await;
    // 64 MiB of zeros in a ~64 KiB gzip.
    let bomb = archive_of(&[file_entry("zeros.bin", &vec![0; 64 << 20])]);
    let work = tempfile::tempdir().unwrap();
    let plain = work.path().join("bomb.tar");
    std::fs::write(&plain, &bomb).unwrap();
    let gz = Command::new("gzip")
        .arg("-c")
        .arg(&plain)
        .output()
        .unwrap()
        .stdout;
    assert!(gz.len() < 1 << 20, "{}", gz.len());
    let status = assert_code(import(&server, &ns, &gz).await, Code::ResourceExhausted);
    assert!(
        status.message().contains("zeros.bin") && status.message().contains("max_bytes"),
        "{status:?}"
    );
    assert!(tree(&server, &ns).await.is_empty());
    assert_eq!(
        stored_files(&server.blob_root().unwrap()),
        0,
        "nothing staged is kept"
    );

    // An access profile refuses what it refuses, whole.
    let fenced = server
        .as_secret(ADMIN)
        .namespaces
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::Sandbox as i32,
            profile: Some(pb::AccessProfile {
                preset: "strict".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .namespace_id;
    let scripts = archive_of(&[
        file_entry("ok.txt", b"fine"),
        file_entry("run.sh", b"#!/bin/sh"),
    ]);
    let refused = import_as(&server, ADMIN, &fenced, "", false, &scripts).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(tree(&server, &fenced).await.is_empty());

    // Another sandbox's key may not import.
    assert_code(
        import_as(&server, OTHER_APP, &ns, "", false, &scripts).await,
        Code::PermissionDenied,
    );
}

fn stored_files(root: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                count += 1;
            }
        }
    }
    count
}
