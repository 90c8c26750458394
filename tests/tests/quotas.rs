//! Quotas bound everything a tenant can make the server hold: entry rows
//! and their metadata bytes (deep paths, checkpoint copies), checkpoints,
//! content only checkpoints keep, and the bytes of unfinished uploads. Each
//! refusal is RESOURCE_EXHAUSTED naming its limit and writes nothing; every
//! test ends by checking the counters its commits kept against a recount
//! from the rows themselves.

use std::sync::Arc;

use arca_tests::{
    ADMIN, Backend, TestServer, on_every_backend, pattern, pb, run_upload, test_config, upload,
};
use pb::upload_request::Message as In;
use tonic::Code;

/// A server on `backend` whose users are held to `limit`.
async fn with_user_quota(
    backend: Backend,
    limit: impl FnOnce(&mut arca_server::config::Quota),
) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(backend, dir.path());
    limit(&mut config.quotas.user);
    TestServer::start_with(config, dir).await
}

/// The usage the admin sees for user `user` of sandbox "sb".
async fn usage_of(server: &TestServer, user: &str) -> pb::QuotaUsage {
    let stats = server
        .as_secret(ADMIN)
        .admin
        .clone()
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    stats
        .quotas
        .into_iter()
        .find(|q| q.sandbox == "sb" && q.user == user)
        .unwrap_or_default()
}

fn assert_names(status: &tonic::Status, limit: &str) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains(limit),
        "{limit} not named in {:?}",
        status.message()
    );
}

async fn entries_and_directories_count_against_max_entries(backend: Backend) {
    let server = with_user_quota(backend, |q| q.max_entries = Some(5)).await;
    let ns = server.workspace().await;
    // a, a/b and a/b/c.txt: three entries.
    server.write(&ns, "a/b/c.txt", b"1").await;
    assert_eq!(usage_of(&server, "alice").await.entries, 3);
    server.write(&ns, "a/b/d.txt", b"2").await;
    server.write(&ns, "a/e.txt", b"3").await;
    // Five entries: two new directories and a file would be eight.
    let refused = server.try_write(&ns, "x/y/z.txt", b"4").await.unwrap_err();
    assert_names(&refused, "max_entries");
    assert!(
        server.entry(&ns, "x").await.is_none(),
        "nothing was written"
    );
    // Replacing a file adds no entry; a new one does not fit.
    server.write(&ns, "a/e.txt", b"replaced").await;
    let refused = server.try_write(&ns, "f.txt", b"5").await.unwrap_err();
    assert_names(&refused, "max_entries");
    server.remove(&ns, "a/b").await;
    server.write(&ns, "f.txt", b"5").await;
    assert_eq!(usage_of(&server, "alice").await.entries, 3);
    server.assert_counts_agree().await;
}

/// The attack the quota closes: a 1-byte file at a path of thousands of
/// nested directories makes the server hold megabytes of directory paths.
async fn deep_paths_count_against_max_metadata_bytes(backend: Backend) {
    let server = with_user_quota(backend, |q| q.max_metadata_bytes = Some(256 << 10)).await;
    let ns = server.workspace().await;
    let deep = format!("{}f", "d/".repeat(1995));
    let refused = server.try_write(&ns, &deep, b"x").await.unwrap_err();
    assert_names(&refused, "max_metadata_bytes");
    assert!(
        server.entry(&ns, "d").await.is_none(),
        "nothing was written"
    );
    assert_eq!(usage_of(&server, "alice").await.metadata_bytes, 0);
    // A shallower tree fits, and what it holds is counted path by path.
    let shallow = format!("{}f", "d/".repeat(100));
    server.write(&ns, &shallow, b"x").await;
    let used = usage_of(&server, "alice").await;
    let paths: u64 = (1..=100).map(|n| (2 * n - 1) as u64).sum::<u64>() + shallow.len() as u64;
    assert!(used.metadata_bytes > paths, "{used:?}");
    assert!(used.metadata_bytes < 256 << 10, "{used:?}");
    assert_eq!(used.limits.unwrap().max_metadata_bytes, 256 << 10);
    server.assert_counts_agree().await;
}

async fn checkpoints_are_limited_and_their_copies_counted(backend: Backend) {
    let server = with_user_quota(backend, |q| {
        q.max_checkpoints = Some(2);
        q.max_entries = Some(10);
    })
    .await;
    let ns = server.workspace().await;
    for name in ["a", "b", "c"] {
        server.write(&ns, &format!("dir/{name}"), b"x").await;
    }
    // Four live entries; a checkpoint copies them: eight.
    let first = server.try_checkpoint(&ns, "c").await.unwrap();
    let used = usage_of(&server, "alice").await;
    assert_eq!((used.entries, used.checkpoints), (8, 1), "{used:?}");
    // A second copy would be twelve entries.
    assert_names(
        &server.try_checkpoint(&ns, "c").await.unwrap_err(),
        "max_entries",
    );
    server.remove(&ns, "dir/a").await;
    server.remove(&ns, "dir/b").await;
    // dir and dir/c: two live, four and two copied.
    let second = server.try_checkpoint(&ns, "c").await.unwrap();
    server.remove(&ns, "dir").await;
    server.write(&ns, "one-more", b"x").await;
    // Seven entries and two checkpoints: a third is one too many.
    assert_names(
        &server.try_checkpoint(&ns, "c").await.unwrap_err(),
        "max_checkpoints",
    );
    server.delete_checkpoint(&ns, &first).await;
    server.delete_checkpoint(&ns, &second).await;
    let used = usage_of(&server, "alice").await;
    assert_eq!((used.entries, used.checkpoints), (1, 0), "{used:?}");
    server.try_checkpoint(&ns, "c").await.unwrap();
    server.assert_counts_agree().await;
}

/// Checkpoints are free while they share the live content, and charged the
/// moment they alone keep some: a user cannot keep more distinct content
/// alive than its byte quota by checkpointing and overwriting.
async fn content_only_checkpoints_keep_counts_against_max_bytes(backend: Backend) {
    let server = with_user_quota(backend, |q| q.max_bytes = 1 << 20).await;
    let ns = server.workspace().await;
    let first = pattern(600 << 10, 1);
    server.write(&ns, "f", &first).await;
    let kept = server.try_checkpoint(&ns, "c").await.unwrap();
    let used = usage_of(&server, "alice").await;
    assert_eq!(
        (used.bytes, used.retained_bytes),
        (600 << 10, 0),
        "{used:?}"
    );
    // Overwriting would keep both copies: 1.2 MiB.
    let refused = server
        .try_write(&ns, "f", &pattern(600 << 10, 2))
        .await
        .unwrap_err();
    assert_names(&refused, "max_bytes");
    assert_eq!(server.read(&ns, "f").await.unwrap(), first);
    // Deleting moves the bytes to the checkpoint's account, never refused.
    server.remove(&ns, "f").await;
    let used = usage_of(&server, "alice").await;
    assert_eq!(
        (used.bytes, used.retained_bytes),
        (0, 600 << 10),
        "{used:?}"
    );
    let refused = server
        .try_write(&ns, "g", &pattern(600 << 10, 3))
        .await
        .unwrap_err();
    assert_names(&refused, "max_bytes");
    // Writing the same content again shares it: no bytes are added.
    server.write(&ns, "again", &first).await;
    let used = usage_of(&server, "alice").await;
    assert_eq!(
        (used.bytes, used.retained_bytes),
        (600 << 10, 0),
        "{used:?}"
    );
    server.remove(&ns, "again").await;
    // Restoring makes them live again; deleting the checkpoint frees them.
    server
        .client
        .checkpoints
        .clone()
        .restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.clone(),
            checkpoint_id: kept.clone(),
        })
        .await
        .unwrap();
    let used = usage_of(&server, "alice").await;
    assert_eq!(
        (used.bytes, used.retained_bytes),
        (600 << 10, 0),
        "{used:?}"
    );
    server.delete_checkpoint(&ns, &kept).await;
    server.write(&ns, "f", &pattern(600 << 10, 2)).await;
    let server = server.assert_counts_agree().await;
    // Destroying the namespace gives everything back.
    server.try_checkpoint(&ns, "c").await.unwrap();
    server.remove(&ns, "f").await;
    assert_eq!(usage_of(&server, "alice").await.retained_bytes, 600 << 10);
    server
        .client
        .namespaces
        .clone()
        .destroy_namespace(pb::DestroyNamespaceRequest {
            namespace_id: ns.clone(),
        })
        .await
        .unwrap();
    let used = usage_of(&server, "alice").await;
    assert_eq!(
        (
            used.bytes,
            used.retained_bytes,
            used.entries,
            used.metadata_bytes,
            used.checkpoints
        ),
        (0, 0, 0, 0, 0),
        "{used:?}"
    );
    server.assert_counts_agree().await;
}

/// An upload stream that sends `size` bytes (declaring twice as many if
/// `declared`) and ends without finishing: the offset it says it kept, or
/// the status it ended with.
async fn unfinished(
    server: &TestServer,
    ns: &str,
    path: &str,
    size: usize,
    declared: bool,
) -> Result<u64, tonic::Status> {
    let start = pb::UploadStart {
        namespace_id: ns.into(),
        path: path.into(),
        total_size: declared.then_some(size as u64 * 2),
        ..Default::default()
    };
    let data = In::Data(pb::UploadData {
        offset: 0,
        data: pattern(size, 7).into(),
    });
    let (answers, ended) = run_upload(&server.client, upload(In::Start(start), vec![data])).await;
    ended?;
    let kept = answers.iter().rev().find_map(|a| match &a.message {
        Some(pb::upload_response::Message::Progress(p)) => Some(p.persisted_offset),
        _ => None,
    });
    Ok(kept.expect("a suspended upload says what it kept"))
}

async fn unfinished_uploads_count_against_max_staged_bytes(backend: Backend) {
    let server = with_user_quota(backend, |q| q.max_bytes = 1 << 20).await;
    let ns = server.workspace().await;
    // A declared size is reserved at the start: 2 x 600 KiB does not fit.
    let refused = unfinished(&server, &ns, "declared", 600 << 10, true)
        .await
        .unwrap_err();
    assert_names(&refused, "max_staged_bytes");
    assert_eq!(server.stats().await.uploads_in_progress, 0);
    // Without one, what was persisted counts (all of it on memory and
    // filesystem; on S3 whole parts only, none of 600 KiB: the rest is not
    // kept once the stream ends). A second upload that would pass the
    // quota when persisted is discarded, saying so.
    let kept = unfinished(&server, &ns, "first", 600 << 10, false)
        .await
        .unwrap();
    assert_eq!(kept, if backend == Backend::S3 { 0 } else { 600 << 10 });
    assert_eq!(usage_of(&server, "alice").await.staged_bytes, kept);
    let second = unfinished(&server, &ns, "second", 600 << 10, false).await;
    if kept > 0 {
        assert_names(&second.unwrap_err(), "max_staged_bytes");
        assert_eq!(server.stats().await.uploads_in_progress, 1);
    } else {
        assert_eq!(second.unwrap(), 0);
        assert_eq!(server.stats().await.uploads_in_progress, 2);
    }
    assert_eq!(usage_of(&server, "alice").await.staged_bytes, kept);
    // Staged bytes are not files: a write of 900 KiB still fits.
    server.write(&ns, "file", &pattern(900 << 10, 1)).await;
    server.assert_counts_agree().await;
}

async fn limits_are_reported_with_their_defaults(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "a/b", b"x").await;
    let used = usage_of(&server, "alice").await;
    let limits = used.limits.unwrap();
    assert_eq!(
        (
            limits.max_entries,
            limits.max_metadata_bytes,
            limits.max_checkpoints
        ),
        (1_000_000, 256 << 20, 1_000)
    );
    assert_eq!((used.entries, used.namespaces), (2, 1));
    let sandbox = server
        .as_secret(ADMIN)
        .admin
        .clone()
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .quotas
        .into_iter()
        .find(|q| q.sandbox == "sb" && q.user.is_empty())
        .unwrap();
    assert_eq!(sandbox.limits.unwrap().max_entries, 10_000_000);
    assert!(sandbox.entries >= 2);
}

/// A small deterministic generator, so a failure replays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Every kind of change that moves what namespaces hold, at random across
/// namespaces that fork, copy and move into each other, checkpoint, restore
/// and go: the counters kept by the commits match a recount at the end.
/// Refusals (a missing path, an existing target) are part of the workload.
async fn a_random_workload_keeps_every_counter_exact(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut spaces = vec![server.workspace().await, server.workspace().await];
    let mut checkpoints: Vec<(String, String)> = Vec::new();
    let mut rng = Lcg(0x5eed);
    let names = ["a", "b", "d/c", "d/e/f", "g/h"];
    for _ in 0..400 {
        let ns = spaces[rng.below(spaces.len())].clone();
        let other = spaces[rng.below(spaces.len())].clone();
        let path = names[rng.below(names.len())];
        let to = names[rng.below(names.len())];
        let mut files = server.client.files.clone();
        let mut cps = server.client.checkpoints.clone();
        match rng.below(10) {
            0..=2 => {
                let _ = server
                    .try_write(
                        &ns,
                        path,
                        &pattern(100 + rng.below(3000), rng.below(24) as u8),
                    )
                    .await;
            }
            3 => {
                let _ = files
                    .remove(pb::RemoveRequest {
                        namespace_id: ns.clone(),
                        path: path.split('/').next().unwrap().into(),
                        recursive: true,
                    })
                    .await;
            }
            4 => {
                let _ = files
                    .copy(pb::CopyRequest {
                        namespace_id: ns.clone(),
                        source: path.into(),
                        destination: format!("copy/{to}"),
                        overwrite: true,
                        parents: true,
                        target_namespace_id: other.clone(),
                    })
                    .await;
            }
            5 => {
                let _ = files
                    .r#move(pb::MoveRequest {
                        namespace_id: ns.clone(),
                        source: path.into(),
                        destination: format!("moved/{to}"),
                        overwrite: true,
                        parents: true,
                        target_namespace_id: other.clone(),
                    })
                    .await;
            }
            6 => {
                if let Ok(id) = server.try_checkpoint(&ns, "c").await {
                    checkpoints.push((ns.clone(), id));
                }
            }
            7 if !checkpoints.is_empty() => {
                let (ns, id) = checkpoints[rng.below(checkpoints.len())].clone();
                let _ = cps
                    .restore_checkpoint(pb::RestoreCheckpointRequest {
                        namespace_id: ns,
                        checkpoint_id: id,
                    })
                    .await;
            }
            8 if !checkpoints.is_empty() => {
                let (ns, id) = checkpoints.remove(rng.below(checkpoints.len()));
                let _ = cps
                    .delete_checkpoint(pb::DeleteCheckpointRequest {
                        namespace_id: ns,
                        checkpoint_id: id,
                    })
                    .await;
            }
            9 if spaces.len() < 5 => {
                // Half the forks are of a checkpoint: live references to
                // content perhaps only that checkpoint kept.
                let (ns, checkpoint_id) = match checkpoints.len() {
                    0 => (ns, String::new()),
                    n if rng.below(2) == 0 => checkpoints[rng.below(n)].clone(),
                    _ => (ns, String::new()),
                };
                let fork = server
                    .client
                    .namespaces
                    .clone()
                    .create_namespace(pb::CreateNamespaceRequest {
                        r#type: pb::NamespaceType::Workspace as i32,
                        scope: pb::Scope::User as i32,
                        owner: Some(pb::Owner {
                            sandbox: "sb".into(),
                            user: "bob".into(),
                            session: String::new(),
                        }),
                        source: Some(pb::NamespaceSource {
                            namespace_id: ns.clone(),
                            checkpoint_id,
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .namespace_id;
                spaces.push(fork);
            }
            _ if spaces.len() > 2 => {
                let gone = spaces.remove(rng.below(spaces.len()));
                checkpoints.retain(|(ns, _)| *ns != gone);
                server
                    .client
                    .namespaces
                    .clone()
                    .destroy_namespace(pb::DestroyNamespaceRequest { namespace_id: gone })
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    server.assert_counts_agree().await;
}

/// A database written before the counters were kept (footprints, usage
/// and checkpoint references all zero, no mark) is recounted once when a
/// server opens it, and its quotas then hold.
async fn a_database_from_before_the_counters_is_recounted(backend: Backend) {
    let server = with_user_quota(backend, |q| q.max_entries = Some(18)).await;
    let ns = server.workspace().await;
    for n in 0..6 {
        server
            .write(&ns, &format!("dir/{n}"), &pattern(500, n))
            .await;
    }
    server.try_checkpoint(&ns, "c").await.unwrap();
    server.remove(&ns, "dir/0").await;
    let (config, dir) = server.stop().await;
    {
        use arca_server::meta::{self, Span};
        let store = meta::MetaStore::open(&config).await.unwrap();
        store
            .write(|w| {
                let spaces: Vec<_> = w
                    .rows(&meta::NAMESPACES, Span::all())
                    .collect::<Result<_, _>>()?;
                for (id, ns) in spaces {
                    w.put(
                        &meta::NAMESPACES,
                        &id,
                        &meta::NamespaceRecord {
                            footprint: None,
                            ..ns
                        },
                    )?;
                }
                let usage: Vec<_> = w
                    .rows(&meta::USAGE, Span::all())
                    .collect::<Result<_, _>>()?;
                for (key, used) in usage {
                    w.put(
                        &meta::USAGE,
                        &key,
                        &meta::UsageRecord {
                            footprint: None,
                            ..used
                        },
                    )?;
                }
                let objects: Vec<_> = w
                    .rows(&meta::OBJECTS, Span::all())
                    .collect::<Result<_, _>>()?;
                for ((owner, id), object) in objects {
                    let before = meta::ObjectRecord {
                        checkpoint_refs: 0,
                        retained_by: String::new(),
                        ..object
                    };
                    w.put(&meta::OBJECTS, (&owner, &id), &before)?;
                }
                w.delete(&meta::MARKS, "footprints-counted")?;
                Ok(())
            })
            .await
            .unwrap();
        assert!(
            !store
                .scan(arca_server::core::footprint::differences)
                .await
                .unwrap()
                .is_empty()
        );
        store.close();
    }
    let server = TestServer::start_with(config, dir).await;
    let used = usage_of(&server, "alice").await;
    // dir and five files live; dir and six files in the checkpoint; the
    // removed file's content only the checkpoint keeps.
    assert_eq!(
        (used.entries, used.checkpoints, used.retained_bytes),
        (13, 1, 500),
        "{used:?}"
    );
    let server = server.assert_counts_agree().await;
    let refused = server.try_checkpoint(&ns, "c").await.unwrap_err();
    assert_names(&refused, "max_entries");
}

on_every_backend!(
    entries_and_directories_count_against_max_entries,
    deep_paths_count_against_max_metadata_bytes,
    checkpoints_are_limited_and_their_copies_counted,
    content_only_checkpoints_keep_counts_against_max_bytes,
    unfinished_uploads_count_against_max_staged_bytes,
    limits_are_reported_with_their_defaults,
    a_random_workload_keeps_every_counter_exact,
    a_database_from_before_the_counters_is_recounted,
);
