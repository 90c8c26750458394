//! The metadata engines side by side in one run, beside PostgreSQL's own
//! rates on this machine (pgbench: the ceiling under the figures on it):
//! 1 KiB durable writes and
//! reads by 64 callers, checkpoints of 10,000 files, and a tree of
//! 100,000 entries listed recursively and searched, first with redb,
//! then with PostgreSQL (a server this benchmark starts with
//! tests/postgres.sh, fsync and synchronous commit on, so durable meets
//! durable), each server on its own fresh database, and the small files
//! again through two replicas of one deployment. All on the filesystem
//! backend.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::METADATA;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/postgres.sh")
}

/// A PostgreSQL server for the benchmark's lifetime.
struct Postgres {
    dir: tempfile::TempDir,
    port: String,
    password: String,
}

impl Postgres {
    fn start() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("arca-bench-pg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .env("ARCA_POSTGRES_FSYNC", "on")
            .env("ARCA_POSTGRES_SYNC_COMMIT", "on")
            .output()
            .expect("run tests/postgres.sh");
        assert!(
            out.status.success(),
            "tests/postgres.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        let (port, password) = (words.next().unwrap(), words.next().unwrap());
        Postgres {
            port: port.to_owned(),
            password: password.to_owned(),
            dir,
        }
    }

    /// Selects a fresh database of this server for the servers started next.
    fn use_fresh_database(&self, name: &str, secrets: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let status = Command::new("bash")
            .arg(script())
            .args(["createdb"])
            .arg(self.dir.path())
            .arg(name)
            .status()
            .expect("createdb");
        assert!(status.success());
        let url = format!(
            "postgres://arca@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        );
        let (url_file, password_file) = (
            secrets.join(format!("{name}-url")),
            secrets.join(format!("{name}-password")),
        );
        for (path, text) in [(&url_file, &url), (&password_file, &self.password)] {
            std::fs::write(path, text).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        *METADATA.lock().unwrap() = (
            "postgres",
            format!(
                "[metadata]\nengine = \"postgres\"\nurl_file = \"{}\"\npassword_file = \"{}\"\npool_size = 32\n",
                url_file.display(),
                password_file.display()
            ),
        );
    }
}

impl Postgres {
    /// PostgreSQL's own rates on this machine, the ceiling under Arca's
    /// figures as the echo is under its transfers: pgbench over the same
    /// loopback, 64 clients, on a table of 10,000 rows of 300 bytes, for 8 s
    /// each: a bare primary-key SELECT (what a read that names its rows
    /// costs the database), the same SELECT in a REPEATABLE READ
    /// transaction of its own, and a durable one-row upsert per
    /// transaction.
    fn ceiling(&self, secrets: &Path) {
        let database = "bench_ceiling";
        self.use_fresh_database(database, secrets);
        let status = Command::new("bash")
            .arg(script())
            .arg("psql")
            .arg(self.dir.path())
            .arg(
                "CREATE TABLE kv (k int PRIMARY KEY, v bytea); \
                 INSERT INTO kv SELECT g, decode(repeat('ab', 300), 'hex') \
                 FROM generate_series(1, 10000) AS g; \
                 ALTER TABLE kv OWNER TO arca; ANALYZE kv",
            )
            .env("ARCA_POSTGRES_DB", database)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("psql");
        assert!(status.success(), "creating the pgbench table failed");
        let workloads = [
            (
                "select_per_s",
                "\\set id random(1, 10000)\nSELECT v FROM kv WHERE k = :id;\n",
            ),
            (
                "read_transactions_per_s",
                "\\set id random(1, 10000)\nBEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n\
                 SELECT v FROM kv WHERE k = :id;\nCOMMIT;\n",
            ),
            (
                "upserts_per_s",
                "\\set id random(1, 1000000)\nINSERT INTO kv VALUES (:id, decode(repeat('ab', 300), 'hex')) \
                 ON CONFLICT (k) DO UPDATE SET v = excluded.v;\n",
            ),
        ];
        let mut figure = serde_json::json!({
            "figure": "postgres_ceiling",
            "tool": "pgbench",
            "clients": 64,
            "durable": true,
        });
        for (name, workload) in workloads {
            let file = secrets.join(format!("{name}.sql"));
            std::fs::write(&file, workload).unwrap();
            let out = Command::new("bash")
                .arg(script())
                .arg("pgbench")
                .arg(self.dir.path())
                .args(["-n", "-M", "prepared", "-c", "64", "-j", "2", "-T", "8"])
                .args(["-U", "arca", "-f"])
                .arg(&file)
                .arg(database)
                .env("PGPASSWORD", &self.password)
                .output()
                .expect("pgbench");
            let text = String::from_utf8_lossy(&out.stdout);
            let tps = text
                .lines()
                .find_map(|line| line.strip_prefix("tps = "))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok());
            match tps {
                Some(tps) => figure[name] = serde_json::json!(tps.round()),
                None => eprintln!(
                    "pgbench {name}: no rate in its output: {}{}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        }
        crate::emit(figure);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        *METADATA.lock().unwrap() = ("redb", String::new());
        // With ARCA_POSTGRES_PRELOAD=pg_stat_statements: where the
        // database's time went, per figure's database, and how many of its
        // transactions rolled back (write groups that conflicted and ran
        // again).
        if std::env::var("ARCA_POSTGRES_PRELOAD").is_ok_and(|m| m.contains("pg_stat_statements")) {
            let _ = Command::new("bash")
                .arg(script())
                .arg("psql")
                .arg(self.dir.path())
                .arg(
                    "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; \
                     SELECT d.datname, s.calls, round(s.total_exec_time) AS ms, \
                     round((s.total_exec_time * 1000 / s.calls)::numeric, 1) AS us_per_call, \
                     s.rows, left(s.query, 90) AS query \
                     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
                     WHERE s.total_exec_time > 50 ORDER BY d.datname, s.total_exec_time DESC; \
                     SELECT datname, xact_commit, xact_rollback FROM pg_stat_database \
                     WHERE datname LIKE 'bench%' ORDER BY datname",
                )
                .status();
        }
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
        // With ARCA_POSTGRES_LOG_STATEMENT=all the server logged every
        // statement: keep the log, to count what each figure sent.
        if std::env::var_os("ARCA_POSTGRES_LOG_STATEMENT").is_some() {
            let kept = std::env::temp_dir().join("arca-bench-postgres.log");
            if std::fs::copy(self.dir.path().join("log"), &kept).is_ok() {
                println!("PostgreSQL's log kept at {}", kept.display());
            }
        }
    }
}

/// Each figure with redb, then with PostgreSQL, so that both meet the
/// machine in the same state (the checkpoints write a 1 GiB workspace whose
/// writeback would otherwise slow whichever figure came next).
pub async fn engines(small: usize, checkpoint_files: usize, tree: usize) {
    let secrets = tempfile::tempdir().expect("tempdir");
    let postgres = Postgres::start();
    let on_redb = || *METADATA.lock().unwrap() = ("redb", String::new());
    settle_disk();
    postgres.ceiling(secrets.path());
    on_redb();

    if small > 0 {
        settle_disk();
        crate::metadata::small_files("filesystem", small).await;
        postgres.use_fresh_database("bench_small", secrets.path());
        settle_disk();
        crate::metadata::small_files("filesystem", small).await;
        // Two replicas of one deployment on one database, callers split.
        // All in one namespace, every commit takes its turn on the same
        // namespace row; then over 8, beside one replica over the same 8.
        postgres.use_fresh_database("bench_small_two", secrets.path());
        settle_disk();
        crate::metadata::small_files_through("filesystem", small, 2, 1).await;
        for replicas in [1, 2] {
            postgres.use_fresh_database(&format!("bench_small_8_{replicas}"), secrets.path());
            settle_disk();
            crate::metadata::small_files_through("filesystem", small, replicas, 8).await;
        }
    }
    if checkpoint_files > 0 {
        on_redb();
        settle_disk();
        crate::metadata::checkpoints(checkpoint_files).await;
        postgres.use_fresh_database("bench_checkpoints", secrets.path());
        settle_disk();
        crate::metadata::checkpoints(checkpoint_files).await;
    }
    if tree > 0 {
        on_redb();
        settle_disk();
        crate::metadata::tree_scan(tree).await;
        postgres.use_fresh_database("bench_tree", secrets.path());
        settle_disk();
        crate::metadata::tree_scan(tree).await;
    }
    drop(postgres);
}

/// Waits for the page cache's dirty pages to reach the disk, so a figure
/// does not pay for the writeback of the one before.
fn settle_disk() {
    let _ = Command::new("sync").status();
}
