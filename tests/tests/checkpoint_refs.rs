//! What checkpoints hold, under random histories on every backend: writes
//! (with repeated content, so objects are shared), removals, checkpoints
//! made and deleted, restores, forks of checkpoints and their destruction,
//! with reclaimer passes between. Checkpoints hold their namespace's live
//! objects lazily (`core::refs`), so these histories are what could lose
//! content: every live file, every fork's file and every checkpoint's
//! file must read back as written; every reference count must match a
//! recount from the rows (`assert_counts_agree`); and once everything is
//! gone, no object is still counted as stored.

use std::collections::BTreeMap;
use std::time::Duration;

use arca_tests::{Backend, TestServer, on_every_backend, pattern, pb};

/// Paths a history writes (two under a directory).
const PATHS: [&str; 5] = ["a", "b", "d/c", "d/e", "f"];

/// The content of pool index `i`: few, so writes share objects.
fn content(i: usize) -> Vec<u8> {
    pattern(50 + i * 31, i as u8)
}

/// A tree as the test expects it: path → content index.
type Model = BTreeMap<String, usize>;

/// A small deterministic generator (xorshift), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

async fn fork(server: &TestServer, source: &str, checkpoint: &str) -> String {
    server
        .client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                user: "alice".into(),
                ..Default::default()
            }),
            source: Some(pb::NamespaceSource {
                namespace_id: source.into(),
                checkpoint_id: checkpoint.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("fork")
        .into_inner()
        .namespace_id
}

/// Every file of `model` reads back from `ns` as written, and `ns` holds no
/// other file.
async fn assert_holds(server: &TestServer, ns: &str, model: &Model, what: &str) {
    let mut files = Vec::new();
    for path in server.ls(ns, "", true).await {
        let entry = server.entry(ns, &path).await.expect("listed entry");
        if entry.kind == pb::EntryKind::File as i32 {
            files.push(path);
        }
    }
    let expected: Vec<&String> = model.keys().collect();
    assert_eq!(
        files.iter().collect::<Vec<_>>(),
        expected,
        "{what}: the files"
    );
    for (path, &i) in model {
        let read = server
            .read(ns, path)
            .await
            .unwrap_or_else(|s| panic!("{what}: {path} unreadable: {s}"));
        assert!(read == content(i), "{what}: {path} is not content {i}");
    }
}

/// Lets the reclaimer run a pass over whatever became unreferenced.
async fn reclaim_pass() {
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

/// Objects GetStats still counts as stored in sandbox "sb".
async fn stored_objects(server: &TestServer) -> u64 {
    let stats = server.stats().await;
    stats
        .usage
        .iter()
        .filter(|row| row.sandbox == "sb")
        .map(|row| row.stored_objects)
        .sum()
}

async fn random_history(backend: Backend, seed: u64, steps: usize) {
    let mut server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    let mut rng = Rng(seed);
    let mut live = Model::new();
    let mut checkpoints: Vec<(String, Model)> = Vec::new();
    let mut forks: Vec<(String, Model)> = Vec::new();
    for step in 1..=steps {
        match rng.below(12) {
            0..=4 => {
                let (path, i) = (PATHS[rng.below(PATHS.len())], rng.below(4));
                server.write(&ns, path, &content(i)).await;
                live.insert(path.to_owned(), i);
            }
            5 | 6 if !live.is_empty() => {
                let path = live.keys().nth(rng.below(live.len())).unwrap().clone();
                server.remove(&ns, &path).await;
                live.remove(&path);
            }
            7 if checkpoints.len() < 5 => {
                checkpoints.push((server.checkpoint(&ns, "").await, live.clone()));
            }
            8 if !checkpoints.is_empty() => {
                let (id, _) = checkpoints.remove(rng.below(checkpoints.len()));
                server.delete_checkpoint(&ns, &id).await;
            }
            9 if !checkpoints.is_empty() => {
                let (id, model) = &checkpoints[rng.below(checkpoints.len())];
                server.restore_checkpoint(&ns, id).await;
                live = model.clone();
            }
            10 if !checkpoints.is_empty() && forks.len() < 2 => {
                let (id, model) = &checkpoints[rng.below(checkpoints.len())];
                let forked = fork(&server, &ns, id).await;
                let mut model = model.clone();
                let i = rng.below(5);
                server.write(&forked, "forked", &content(i)).await;
                model.insert("forked".into(), i);
                forks.push((forked, model));
            }
            11 if !forks.is_empty() => {
                let (forked, _) = forks.remove(rng.below(forks.len()));
                server.destroy(&forked).await;
            }
            _ => {}
        }
        if step % 40 == 0 {
            reclaim_pass().await;
            let at = format!("seed {seed}, step {step}");
            assert_holds(&server, &ns, &live, &format!("{at}, live")).await;
            for (forked, model) in &forks {
                assert_holds(&server, forked, model, &format!("{at}, fork")).await;
            }
            // The memory backend's content does not outlive the restart
            // the recount takes.
            if backend != Backend::Memory {
                server = server.assert_counts_agree().await;
            }
        }
    }
    reclaim_pass().await;
    // Each checkpoint, restored, is what it was made of.
    for (id, model) in &checkpoints {
        server.restore_checkpoint(&ns, id).await;
        assert_holds(&server, &ns, model, &format!("seed {seed}, checkpoint")).await;
    }
    for (forked, model) in &forks {
        assert_holds(&server, forked, model, &format!("seed {seed}, fork")).await;
    }
    let server = server.assert_counts_agree().await;
    // Once nothing refers to them, no object is counted as stored.
    for (id, _) in &checkpoints {
        server.delete_checkpoint(&ns, id).await;
    }
    for (forked, _) in &forks {
        server.destroy(forked).await;
    }
    let last = checkpoints.last().map_or(live, |(_, m)| m.clone());
    for path in last.keys() {
        server.remove(&ns, path).await;
    }
    assert_eq!(
        stored_objects(&server).await,
        0,
        "seed {seed}: objects left"
    );
    let server = server.assert_counts_agree().await;
    // A namespace destroyed with checkpoints leaves no row of them.
    server.checkpoint(&ns, "").await;
    server.destroy(&ns).await;
    server.assert_counts_agree().await;
}

async fn random_histories(backend: Backend) {
    for seed in [0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d, 7] {
        random_history(backend, seed, 120).await;
    }
}

/// The history that deletes a checkpoint while an object it holds is still
/// live since before it, then ends that object's stretch: the object must
/// go (no reference was left behind for the deleted checkpoint), and one
/// held by a checkpoint made during a second stretch must stay.
async fn stretches_across_deleted_checkpoints(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ns = server.workspace().await;
    server.write(&ns, "f", &content(0)).await;
    let first = server.checkpoint(&ns, "").await;
    server.delete_checkpoint(&ns, &first).await;
    // The object's stretch began before `first` and ends now: `first` is
    // gone, so nothing holds it.
    server.write(&ns, "f", &content(1)).await;
    reclaim_pass().await;
    assert_eq!(stored_objects(&server).await, 1, "only content 1 is held");
    // Content 0 again: a new object, a new stretch, held by `second`.
    server.write(&ns, "f", &content(0)).await;
    let second = server.checkpoint(&ns, "").await;
    server.write(&ns, "f", &content(1)).await;
    reclaim_pass().await;
    assert_eq!(stored_objects(&server).await, 2);
    server.restore_checkpoint(&ns, &second).await;
    assert_holds(&server, &ns, &Model::from([("f".into(), 0)]), "second").await;
    let server = server.assert_counts_agree().await;
    server.delete_checkpoint(&ns, &second).await;
    server.remove(&ns, "f").await;
    assert_eq!(stored_objects(&server).await, 0);
}

on_every_backend!(random_histories, stretches_across_deleted_checkpoints);
