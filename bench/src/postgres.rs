//! The metadata engines side by side in one run: 1 KiB durable writes and
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

impl Drop for Postgres {
    fn drop(&mut self) {
        *METADATA.lock().unwrap() = ("redb", String::new());
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// redb, then PostgreSQL: small files and checkpoints.
pub async fn engines(small: usize, tree: usize) {
    crate::metadata::small_files("filesystem", small).await;
    crate::metadata::checkpoints(10_000).await;
    crate::metadata::tree_scan(tree).await;
    let secrets = tempfile::tempdir().expect("tempdir");
    let postgres = Postgres::start();
    postgres.use_fresh_database("bench_small", secrets.path());
    crate::metadata::small_files("filesystem", small).await;
    // Two replicas of one deployment on one database, callers split.
    postgres.use_fresh_database("bench_small_two", secrets.path());
    crate::metadata::small_files_through("filesystem", small, 2).await;
    postgres.use_fresh_database("bench_checkpoints", secrets.path());
    crate::metadata::checkpoints(10_000).await;
    postgres.use_fresh_database("bench_tree", secrets.path());
    crate::metadata::tree_scan(tree).await;
    drop(postgres);
}
