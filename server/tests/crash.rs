//! Crash safety: the real server binary is killed with SIGKILL at random
//! moments of a workload (small writes, streamed uploads, overwrites, moves,
//! removes, checkpoint create / restore / delete, and the reclaimer running
//! underneath), restarted, and checked:
//!
//! - every acknowledged commit is there, readable, with its digest;
//! - nothing unacknowledged is visible (the tree is exactly the acknowledged
//!   one, or that plus the one operation in flight at the kill);
//! - no referenced object is missing (every live file downloads whole and
//!   matches its SHA-256);
//! - orphans are reclaimed (no object on disk that nothing references).
//!
//! With `ARCA_TEST_METADATA=postgres` the metadata is on the test
//! PostgreSQL server (a fresh schema) instead of redb.
//!
//! `ARCA_CRASH_ITERATIONS` (default 12) sets how many kills, and
//! `ARCA_CRASH_SEED` replays a run's random choices (its seed is printed); CI runs the
//! default, a longer soak is `ARCA_CRASH_ITERATIONS=200 cargo test -p
//! arca-server --test crash`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use arca_client::{Client, pb};
use sha2::{Digest, Sha256};

/// path → SHA-256 of the content.
type Tree = BTreeMap<String, String>;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// What the operation in flight at the kill would make of the tree.
enum InFlight {
    None,
    /// The tree if it committed.
    Tree(Tree),
}

struct Model {
    tree: Tree,
    /// Checkpoint id → the tree it holds.
    checkpoints: BTreeMap<String, Tree>,
    counter: u64,
}

async fn live_tree(client: &Client, ns: &str) -> (Tree, Vec<pb::Entry>) {
    let mut files = client.files.clone();
    let list = files
        .list(pb::ListRequest {
            namespace_id: ns.into(),
            recursive: true,
            page_size: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let entries: Vec<pb::Entry> = list
        .entries
        .into_iter()
        .filter(|e| e.kind == pb::EntryKind::File as i32)
        .collect();
    (
        entries
            .iter()
            .map(|e| (e.path.clone(), e.sha256.clone()))
            .collect(),
        entries,
    )
}

/// Checks the invariants after a restart and returns the tree as it is.
async fn verify(
    client: &Client,
    ns: &str,
    model: &mut Model,
    in_flight: InFlight,
    root: &Path,
    prefix: &str,
) {
    let (actual, entries) = live_tree(client, ns).await;
    let acceptable = match &in_flight {
        InFlight::None => actual == model.tree,
        InFlight::Tree(after) => actual == model.tree || actual == *after,
    };
    assert!(
        acceptable,
        "after restart the tree is neither the acknowledged one nor that plus the op in flight:\nacked {:?}\nactual {actual:?}",
        model.tree
    );
    model.tree = actual;
    // Every referenced object is there, whole, with its digest.
    for entry in &entries {
        let got = client
            .download(pb::DownloadRequest {
                namespace_id: ns.into(),
                path: entry.path.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{} unreadable after a crash: {e}", entry.path));
        assert_eq!(sha(&got.data), entry.sha256, "{} corrupt", entry.path);
    }
    // Checkpoints that exist hold what they held (unacknowledged ones may exist too).
    let listed = client
        .checkpoints
        .clone()
        .list_checkpoints(pb::ListCheckpointsRequest {
            namespace_id: ns.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let existing: BTreeSet<String> = listed
        .checkpoints
        .iter()
        .map(|c| c.checkpoint_id.clone())
        .collect();
    model.checkpoints.retain(|id, _| existing.contains(id));
    // Orphans are reclaimed: every object on disk is referenced by the live
    // tree or a checkpoint.
    let mut referenced: BTreeSet<String> = entries.iter().map(|e| e.grid_key.clone()).collect();
    for id in &existing {
        let diff = client
            .checkpoints
            .clone()
            .diff_checkpoints(pb::DiffCheckpointsRequest {
                namespace_id: ns.into(),
                from_checkpoint_id: id.clone(),
                to_checkpoint_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        for change in diff.removed.into_iter().chain(diff.changed) {
            if let Some(before) = change.before {
                referenced.insert(before.grid_key);
            }
        }
    }
    let objects = root.join(prefix).join("objects");
    let mut stray = Vec::new();
    // On a shared engine a killed replica's keys wait out its last lease
    // (a second here) and the sweep after it.
    let attempts = if support::metadata_on_postgres() {
        200
    } else {
        100
    };
    for _ in 0..attempts {
        stray = std::fs::read_dir(&objects)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| format!("{prefix}objects/{}", e.file_name().to_string_lossy()))
                    .filter(|k| !k.ends_with(".partial") && !referenced.contains(k))
                    .collect()
            })
            .unwrap_or_default();
        if stray.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        stray.is_empty(),
        "unreferenced objects stayed after restart: {stray:?}"
    );
}

/// Runs random operations until the server dies; returns what was in flight.
async fn workload(client: &Client, ns: &str, model: &mut Model, rng: &mut Rng) -> InFlight {
    let mut files = client.files.clone();
    let mut checkpoints = client.checkpoints.clone();
    loop {
        model.counter += 1;
        let n = model.counter;
        let paths: Vec<String> = model.tree.keys().cloned().collect();
        let pick = |rng: &mut Rng| paths.get(rng.below(paths.len() as u64) as usize).cloned();
        let choice = rng.below(10);
        let (after, result): (Tree, Result<(), String>) = match choice {
            0..=2 => {
                let path = format!("d{}/small-{n}", n % 3);
                let data = format!("small {n} {}", rng.next()).into_bytes();
                let mut after = model.tree.clone();
                after.insert(path.clone(), sha(&data));
                let r = files
                    .write_file(pb::WriteFileRequest {
                        namespace_id: ns.into(),
                        path,
                        data: data.into(),
                        ..Default::default()
                    })
                    .await;
                (after, r.map(|_| ()).map_err(|e| e.to_string()))
            }
            3 => {
                let size = (1 + rng.below(4) as usize) << 19;
                let data: Vec<u8> = (0..size)
                    .map(|i| (i as u64 ^ n).wrapping_mul(2654435761) as u8)
                    .collect();
                let path = format!("big-{n}");
                let mut after = model.tree.clone();
                after.insert(path.clone(), sha(&data));
                let start = pb::UploadStart {
                    namespace_id: ns.into(),
                    path,
                    ..Default::default()
                };
                (
                    after,
                    client
                        .upload_bytes(start, data.into(), 1 << 20)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                )
            }
            4 => {
                let Some(path) = pick(rng) else { continue };
                let data = format!("overwrite {n}").into_bytes();
                let mut after = model.tree.clone();
                after.insert(path.clone(), sha(&data));
                let r = files
                    .write_file(pb::WriteFileRequest {
                        namespace_id: ns.into(),
                        path,
                        data: data.into(),
                        ..Default::default()
                    })
                    .await;
                (after, r.map(|_| ()).map_err(|e| e.to_string()))
            }
            5 => {
                let Some(path) = pick(rng) else { continue };
                let to = format!("moved-{n}");
                let mut after = model.tree.clone();
                let digest = after.remove(&path).unwrap();
                after.insert(to.clone(), digest);
                let r = files
                    .r#move(pb::MoveRequest {
                        namespace_id: ns.into(),
                        source: path,
                        destination: to,
                        ..Default::default()
                    })
                    .await;
                (after, r.map(|_| ()).map_err(|e| e.to_string()))
            }
            6 => {
                let Some(path) = pick(rng) else { continue };
                let mut after = model.tree.clone();
                after.remove(&path);
                let r = files
                    .remove(pb::RemoveRequest {
                        namespace_id: ns.into(),
                        path,
                        recursive: false,
                    })
                    .await;
                (after, r.map(|_| ()).map_err(|e| e.to_string()))
            }
            7 => {
                let r = checkpoints
                    .create_checkpoint(pb::CreateCheckpointRequest {
                        namespace_id: ns.into(),
                        name: format!("cp-{n}"),
                        ..Default::default()
                    })
                    .await;
                if let Ok(cp) = &r {
                    model
                        .checkpoints
                        .insert(cp.get_ref().checkpoint_id.clone(), model.tree.clone());
                }
                (model.tree.clone(), r.map(|_| ()).map_err(|e| e.to_string()))
            }
            8 => {
                let ids: Vec<String> = model.checkpoints.keys().cloned().collect();
                let Some(id) = ids.get(rng.below(ids.len() as u64) as usize).cloned() else {
                    continue;
                };
                let after = model.checkpoints[&id].clone();
                let r = checkpoints
                    .restore_checkpoint(pb::RestoreCheckpointRequest {
                        namespace_id: ns.into(),
                        checkpoint_id: id,
                    })
                    .await;
                (after, r.map(|_| ()).map_err(|e| e.to_string()))
            }
            _ => {
                let ids: Vec<String> = model.checkpoints.keys().cloned().collect();
                let Some(id) = ids.get(rng.below(ids.len() as u64) as usize).cloned() else {
                    continue;
                };
                let r = checkpoints
                    .delete_checkpoint(pb::DeleteCheckpointRequest {
                        namespace_id: ns.into(),
                        checkpoint_id: id.clone(),
                    })
                    .await;
                if r.is_ok() {
                    model.checkpoints.remove(&id);
                }
                (model.tree.clone(), r.map(|_| ()).map_err(|e| e.to_string()))
            }
        };
        match result {
            Ok(()) => model.tree = after,
            // The server is gone: this operation may or may not have committed.
            Err(_) => return InFlight::Tree(after),
        }
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nshutdown_grace_secs = 1\n[log]\nformat = \"json\"\nfilter = \"warn,arca_server::api=info\"\n[reclaim]\ngrace_secs = 0\ninterval_secs = 1\n",
        dir.join("data").display()
    );
    if support::metadata_on_postgres() {
        // A short lease: a killed replica's leftovers are swept a second
        // after its lease lapses, as the orphan check below expects.
        let (url, password) = support::postgres();
        text.push_str(&support::postgres_section(dir, &url, &password, 1));
    }
    support::write_config(dir, &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_leaks_nothing() {
    let iterations: u64 = std::env::var("ARCA_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let root = dir.path().join("data").join("blobs");
    let mut model = Model {
        tree: Tree::new(),
        checkpoints: BTreeMap::new(),
        counter: 0,
    };
    let mut in_flight = InFlight::None;
    let mut ns = String::new();
    let mut prefix = String::new();
    // A new seed each run (printed, and settable with ARCA_CRASH_SEED to replay).
    let seed: u64 = std::env::var("ARCA_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    println!("crash test seed: {seed} (ARCA_CRASH_SEED={seed} replays the same choices)");
    let mut rng = Rng(seed);
    for iteration in 0..=iterations {
        let mut server = support::Process::start(&config);
        let addr = server.addr.clone();
        let key = std::fs::read_to_string(dir.path().join("data").join("admin.key"))
            .unwrap()
            .trim()
            .to_owned();
        let client = Client::connect(format!("http://{addr}"), &key)
            .await
            .unwrap();
        if ns.is_empty() {
            let created = client
                .namespaces
                .clone()
                .create_namespace(pb::CreateNamespaceRequest {
                    r#type: pb::NamespaceType::Workspace as i32,
                    scope: pb::Scope::User as i32,
                    owner: Some(pb::Owner {
                        sandbox: "crash".into(),
                        user: "u".into(),
                        session: String::new(),
                    }),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            ns = created.namespace_id;
            prefix = created.grid_prefix;
        } else {
            verify(
                &client,
                &ns,
                &mut model,
                std::mem::replace(&mut in_flight, InFlight::None),
                &root,
                &prefix,
            )
            .await;
        }
        if iteration == iterations {
            server.kill();
            break;
        }
        // Kill at a random moment of the workload.
        let delay = Duration::from_millis(30 + rng.below(400));
        let killer = {
            let pid = server.child.id();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            })
        };
        in_flight = workload(&client, &ns, &mut model, &mut rng).await;
        killer.await.unwrap();
        let _ = server.child.wait();
    }
    // What the quotas count survived every kill exactly as committed.
    let config = arca_server::Config::from_file(&config).unwrap();
    let meta = arca_server::meta::MetaStore::open(&config).await.unwrap();
    let differences = meta
        .scan(arca_server::core::footprint::differences)
        .await
        .unwrap();
    meta.close();
    assert!(
        differences.is_empty(),
        "the kept counters differ from a recount:\n{}",
        differences.join("\n")
    );
}
