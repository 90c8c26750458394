//! What the tests that run the real server binary share: starting it from
//! a config file and reading its JSON log, killing it with SIGKILL, and the
//! PostgreSQL and S3 servers tests/run.sh starts (a fresh schema, or a
//! fresh key prefix, per test).

#![allow(dead_code)] // each test binary uses its own part of it

pub mod cluster;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server process, with the log lines it printed.
pub struct Process {
    pub child: Child,
    pub addr: String,
    log: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Process {
    /// Starts `arca-server --config config` and waits until it listens.
    pub fn start(config: &Path) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_arca-server"))
            .arg("--config")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn arca-server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let listening = event["fields"]["message"] == "arca listening";
            let addr = event["fields"]["address"].as_str().map(str::to_owned);
            log.lock().unwrap().push(event);
            if listening {
                break addr.expect("listening address");
            }
        };
        let sink = log.clone();
        // Kept beside the config too, for reading after a failure.
        let mut file = config
            .parent()
            .and_then(|dir| std::fs::File::create(dir.join("server.log")).ok());
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(file) = file.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(file, "{line}");
                }
                let event = serde_json::from_str(&line).unwrap_or_default();
                sink.lock().unwrap().push(event);
            }
        });
        Process { child, addr, log }
    }

    /// The endpoint clients dial.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the log has an event whose message is `message`.
    pub fn logged(&self, message: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|e| e["fields"]["message"] == message)
    }

    /// The log events whose message is `message`.
    pub fn events(&self, message: &str) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["fields"]["message"] == message)
            .cloned()
            .collect()
    }

    /// Waits up to `limit` for `message` in the log.
    pub async fn wait_for_log(&self, message: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.logged(message) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.logged(message)
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// SIGKILL `child` and reap it.
pub fn kill(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Whether the crash test runs with metadata on PostgreSQL
/// (`ARCA_TEST_METADATA=postgres`).
pub fn metadata_on_postgres() -> bool {
    std::env::var("ARCA_TEST_METADATA").is_ok_and(|e| e == "postgres")
}

fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a secret file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// The test PostgreSQL server's URL and password (tests/run.sh sets them).
pub fn postgres() -> (String, String) {
    let url = std::env::var("ARCA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("ARCA_TEST_POSTGRES_URL (tests/run.sh starts PostgreSQL and sets it)");
    let password = std::env::var("ARCA_TEST_POSTGRES_PASSWORD").unwrap_or_default();
    (url, password)
}

/// Runs SQL on a PostgreSQL server as the test role.
pub fn sql(url: &str, password: &str, statements: &str) {
    let (url, password, statements) = (url.to_owned(), password.to_owned(), statements.to_owned());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let mut config: tokio_postgres::Config = url.parse().expect("postgres url");
                config.password(password);
                let (client, connection) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .expect("connect to postgres");
                tokio::spawn(connection);
                client.batch_execute(&statements).await.expect("run sql");
            });
    })
    .join()
    .expect("sql thread");
}

/// A `[metadata]` section for a fresh schema on the PostgreSQL server at
/// `url`, its URL and password files written into `dir`; replicas given
/// the same section share the database.
pub fn postgres_section(dir: &Path, url: &str, password: &str, lease_secs: u64) -> String {
    let schema = format!("t_{}", hex::encode(rand_bytes()));
    sql(url, password, &format!("CREATE SCHEMA {schema}"));
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let (url_file, password_file) = (dir.join("pg-url"), dir.join("pg-password"));
    private_file(&url_file, &url);
    private_file(&password_file, password);
    format!(
        "[metadata]\nengine = \"postgres\"\nurl_file = \"{}\"\npassword_file = \"{}\"\npool_size = 8\nreplica_lease_secs = {lease_secs}\n",
        url_file.display(),
        password_file.display()
    )
}

fn rand_bytes() -> [u8; 12] {
    let mut bytes = [0u8; 12];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mixed = nanos ^ (u128::from(std::process::id()) << 64);
    bytes.copy_from_slice(&mixed.to_le_bytes()[..12]);
    bytes
}

/// A `[backends.s3]` section on the S3 test server (`ARCA_TEST_S3_ENDPOINT`)
/// under a fresh key prefix, the credential files written into `dir`.
pub fn s3_section(dir: &Path) -> String {
    let endpoint = std::env::var("ARCA_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .expect("ARCA_TEST_S3_ENDPOINT (tests/run.sh starts an S3 server and sets it)");
    ensure_bucket(&endpoint);
    let (id, secret) = (dir.join("s3-key-id"), dir.join("s3-secret"));
    private_file(&id, "test");
    private_file(&secret, "test");
    format!(
        "[backends.s3]\nkind = \"s3\"\nbucket = \"arca-tests\"\nprefix = \"replicas-{}/\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\npath_style = true\naccess_key_id_file = \"{}\"\nsecret_access_key_file = \"{}\"\npart_size_mib = 5\n\n[default_backend]\nall = \"s3\"\n",
        hex::encode(rand_bytes()),
        id.display(),
        secret.display()
    )
}

/// Creates the test bucket on the S3 server at `endpoint` if it is missing:
/// tests/run.sh starts an empty one, and the server expects the bucket to
/// exist. On its own thread and runtime, as callers may be inside a runtime.
fn ensure_bucket(endpoint: &str) {
    use arca_server::blobs::s3::{S3Settings, S3Store};
    let settings = S3Settings {
        bucket: "arca-tests".into(),
        prefix: String::new(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint.to_owned()),
        path_style: true,
        static_credentials: Some(("test".into(), "test".into())),
        sse: None,
        sse_kms_key_id: None,
        part_size: 5 << 20,
        part_concurrency: 2,
        max_attempts: 3,
        attempt_timeout: Duration::from_secs(10),
    };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let store = S3Store::open(settings).await.expect("s3 client");
            store.ensure_bucket().await.expect("create the test bucket");
        });
    })
    .join()
    .expect("bucket thread");
}

/// Writes `text` as a config file in `dir`.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("arca.toml");
    std::fs::write(&path, text).unwrap();
    path
}
