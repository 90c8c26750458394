//! The deployment's database changing under its replicas, with real server
//! processes: PostgreSQL stopped and started under two replicas (UNAVAILABLE
//! meanwhile, nothing half-committed, recovery when it returns), and a
//! single-replica redb deployment moved to PostgreSQL with `--import-redb`
//! (content, checkpoints, sessions and versions carried over; a second
//! import refused).
//!
//! tests/run.sh starts the PostgreSQL and S3 servers these need.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arca_client::pb;
use sha2::{Digest, Sha256};
use support::Process;
use support::cluster::{
    APP, Cluster, checkpoint, client, open_session, read, restore, workspace, write,
};
use tonic::Code;

/// A PostgreSQL server of this test's own, driven by tests/postgres.sh.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
    password: String,
}

fn postgres_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/postgres.sh")
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("bash")
            .arg(postgres_script())
            .arg("start")
            .arg(dir.path().join("pg"))
            .output()
            .expect("tests/postgres.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut words = text.split_whitespace();
        let port = words.next().unwrap().to_owned();
        let password = words.next().unwrap().to_owned();
        OwnPostgres {
            dir,
            url: format!("postgres://arca@127.0.0.1:{port}/arca?sslmode=disable"),
            password,
        }
    }

    fn run(&self, verb: &str) {
        let status = std::process::Command::new("bash")
            .arg(postgres_script())
            .arg(verb)
            .arg(self.dir.path().join("pg"))
            .status()
            .unwrap();
        assert!(status.success(), "postgres.sh {verb}");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.run("stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_ride_out_postgres_stopping_and_starting() {
    let postgres = OwnPostgres::start();
    let cluster = Cluster::on(&postgres.url, &postgres.password, "");
    let (pa, pb_) = (cluster.start("a"), cluster.start("b"));
    let (a, b) = (client(&pa, APP).await, client(&pb_, APP).await);
    let ns = workspace(&a, "alice").await;
    write(&a, &ns, "before", b"kept", None).await.unwrap();

    postgres.run("stop");
    let refused = write(&b, &ns, "during", b"lost", None).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
    // Down for longer than a replica's lease: both must register anew.
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres.run("resume");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match write(&b, &ns, "after", b"back", None).await {
            Ok(_) => break,
            Err(s) if Instant::now() < deadline => {
                assert_eq!(s.code(), Code::Unavailable, "{s}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(s) => panic!("B did not recover: {s}"),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match read(&a, &ns, "after").await {
            Ok(data) => {
                assert_eq!(data, b"back");
                break;
            }
            Err(s) if Instant::now() < deadline => {
                assert_eq!(s.code(), Code::Unavailable, "{s}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(s) => panic!("A did not recover: {s}"),
        }
    }
    assert_eq!(read(&a, &ns, "before").await.unwrap(), b"kept");
    assert_code_not_found(read(&a, &ns, "during").await);
    // A write through A after the outage commits (its new lease holds).
    write(&a, &ns, "after-a", b"ok", None).await.unwrap();
    assert_eq!(read(&b, &ns, "after-a").await.unwrap(), b"ok");
}

fn assert_code_not_found(result: Result<Vec<u8>, tonic::Status>) {
    match result {
        Err(s) => assert_eq!(s.code(), Code::NotFound, "{s}"),
        Ok(_) => panic!("a write refused during the outage is there"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_replica_deployment_moves_to_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let keys = format!(
        "[auth.keys.app]\nsandbox = \"sb\"\nrole = \"app\"\nsecret_sha256 = \"{}\"\n",
        hex::encode(Sha256::digest(APP))
    );
    let common = format!(
        "listen = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n[log]\nformat = \"json\"\nfilter = \"warn,arca_server=info\"\n\
         {keys}[backends.volume]\nkind = \"filesystem\"\nroot = \"{}\"\n[default_backend]\nall = \"volume\"\n",
        dir.path().join("volume").display()
    );
    let old_data = dir.path().join("old");
    let old_config = support::write_config(
        &old_data,
        &format!("data_dir = \"{}\"\n{common}", old_data.display()),
    );
    // The single replica on redb, as deployments run today.
    let mut old = Process::start(&old_config);
    let c = client(&old, APP).await;
    let ns = workspace(&c, "alice").await;
    let first = write(&c, &ns, "docs/a.txt", b"before the move", None)
        .await
        .unwrap();
    let moved = checkpoint(&c, &ns, "moved").await;
    write(&c, &ns, "docs/a.txt", b"changed", None)
        .await
        .unwrap();
    let opened = open_session(&c, "alice").await;
    old.kill();

    // The metadata moves into PostgreSQL with the command the README gives.
    let (url, password) = support::postgres();
    let new_data = dir.path().join("new");
    std::fs::create_dir_all(&new_data).unwrap();
    let new_config = support::write_config(
        &new_data,
        &format!(
            "data_dir = \"{}\"\n{common}{}",
            new_data.display(),
            support::postgres_section(&new_data, &url, &password, 2)
        ),
    );
    let import = |config: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_arca-server"))
            .arg("--config")
            .arg(config)
            .arg("--import-redb")
            .arg(old_data.join("arca.redb"))
            .output()
            .unwrap()
    };
    let out = import(&new_config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("entries:"));

    let new = Process::start(&new_config);
    let c = client(&new, APP).await;
    assert_eq!(read(&c, &ns, "docs/a.txt").await.unwrap(), b"changed");
    let by_token = client(&new, &opened.token).await;
    by_token
        .sessions
        .clone()
        .get_session(pb::GetSessionRequest {
            session_id: String::new(),
        })
        .await
        .expect("a session of the old deployment still works");
    restore(&c, &ns, &moved).await;
    assert_eq!(
        read(&c, &ns, "docs/a.txt").await.unwrap(),
        b"before the move"
    );
    let later = write(&c, &ns, "docs/b.txt", b"after", None).await.unwrap();
    assert!(later.version > first.version, "versions continue");

    // A second import into the now populated database is refused.
    let again = import(&new_config);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
