//! The `arca-server` binary as an operator runs it: flags, zero-config
//! defaults, SIGTERM, and data that outlives the process.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use arca_client::{Client, pb};

struct Running {
    child: Child,
    addr: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

fn start(data_dir: &std::path::Path) -> Running {
    start_with(data_dir, &[])
}

fn start_with(data_dir: &std::path::Path, extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arca-server"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn arca-server");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        if event["fields"]["message"] == "arca listening" {
            break event["fields"]["address"].as_str().unwrap().to_owned();
        }
    };
    // Keep reading the log so the server never blocks on a full pipe.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str(&line) {
                sink.lock().unwrap().push(event);
            }
        }
    });
    Running { child, addr, log }
}

/// A USER-scope workspace for alice in sandbox "sb".
async fn alice_workspace(client: &Client) -> pb::Namespace {
    client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                sandbox: "sb".into(),
                user: "alice".into(),
                session: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

fn admin_key(data_dir: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = data_dir.join("admin.key");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

fn terminate(mut running: Running) {
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = running.child.wait().unwrap();
    assert!(
        exit.success(),
        "SIGTERM must end the server cleanly, got {exit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_clean_and_data_survives() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path());
    // First start with no keys: an admin key in the data directory, 0600.
    let client = Client::connect(format!("http://{}", running.addr), &admin_key(dir.path()))
        .await
        .unwrap();
    let ns = alice_workspace(&client).await;
    client
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: ns.namespace_id.clone(),
            path: "notes.txt".into(),
            data: b"kept across restarts".to_vec().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // A streamed upload's commit and a denied read are audited too.
    client
        .upload_bytes(
            pb::UploadStart {
                namespace_id: ns.namespace_id.clone(),
                path: "streamed.bin".into(),
                ..Default::default()
            },
            vec![7u8; 100_000].into(),
            1 << 16,
        )
        .await
        .unwrap();
    let bob = client
        .sessions
        .clone()
        .open_session(pb::OpenSessionRequest {
            user: "bob".into(),
            sandbox: "sb".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let denied = client
        .with_secret(&bob.token)
        .unwrap()
        .files
        .clone()
        .read_file(pb::ReadFileRequest {
            namespace_id: ns.namespace_id.clone(),
            path: "notes.txt".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(denied.unwrap_err().code(), tonic::Code::PermissionDenied);
    // Every mutation and every denial is an audit event: who, what, which
    // namespace, the result; never a secret.
    let key = admin_key(dir.path());
    let refused = client
        .with_secret("not-a-key")
        .unwrap()
        .namespaces
        .clone()
        .list_namespaces(pb::ListNamespacesRequest::default())
        .await;
    assert!(refused.is_err());
    drop(client);
    let log = running.log.clone();
    terminate(running);
    let events: Vec<serde_json::Value> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "arca::audit")
        .cloned()
        .collect();
    let write = events
        .iter()
        .find(|e| e["fields"]["action"] == "WriteFile")
        .unwrap_or_else(|| panic!("no WriteFile audit event in {events:?}"));
    assert_eq!(write["fields"]["principal"], "key:bootstrap-admin");
    assert_eq!(write["fields"]["namespace"], ns.namespace_id.as_str());
    assert_eq!(write["fields"]["result"], "ok");
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["action"] == "CreateNamespace")
    );
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["result"] == "Unauthenticated"),
        "no denial event in {events:?}"
    );
    let streamed = events
        .iter()
        .find(|e| e["fields"]["action"] == "Upload")
        .unwrap_or_else(|| panic!("no Upload audit event in {events:?}"));
    assert_eq!(streamed["fields"]["result"], "ok");
    assert_eq!(streamed["fields"]["namespace"], ns.namespace_id.as_str());
    let read = events
        .iter()
        .find(|e| e["fields"]["action"] == "Read")
        .unwrap_or_else(|| panic!("no denied-read audit event in {events:?}"));
    assert_eq!(read["fields"]["result"], "PermissionDenied");
    assert_eq!(read["fields"]["namespace"], ns.namespace_id.as_str());
    assert!(
        read["fields"]["principal"]
            .as_str()
            .unwrap()
            .starts_with("session:")
    );
    let all = format!("{:?}", log.lock().unwrap());
    assert!(!all.contains(&key), "a secret reached the log");
    // The zero-config layout: redb file and filesystem backend in the data dir.
    assert!(dir.path().join("arca.redb").is_file());
    assert!(dir.path().join("blobs").join(&ns.grid_prefix).is_dir());

    let running = start(dir.path());
    // First start with no keys: an admin key in the data directory, 0600.
    let client = Client::connect(format!("http://{}", running.addr), &admin_key(dir.path()))
        .await
        .unwrap();
    let read = client
        .files
        .clone()
        .read_file(pb::ReadFileRequest {
            namespace_id: ns.namespace_id,
            path: "notes.txt".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.data.as_ref(), b"kept across restarts");
    drop(client);
    terminate(running);
}

#[test]
fn without_keys_it_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arca-server"))
        .args(["--listen", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("not loopback"), "{log}");
    // The key file path is logged, never the key.
    let key = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
    assert!(!log.contains(key.trim()), "the secret was logged");
}

#[test]
fn bad_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("arca.toml");
    std::fs::write(&config, "listne = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arca-server"))
        .arg("--config")
        .arg(&config)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&config, "[backends.disk]\nkind = \"filesystem\"\nroot = \"/tmp/x\"\n[default_backend]\nall = \"disk\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arca-server"))
        .arg("--config")
        .arg(&config)
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Environment overrides the file; a flag overrides the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_arca-server"))
        .arg("--config")
        .arg(&config)
        .arg("--check-config")
        .env("ARCA_DEFAULT_BACKEND", "missing")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_arca-server"))
        .arg("--config")
        .arg(&config)
        .args(["--check-config", "--default-backend", "disk"])
        .env("ARCA_DEFAULT_BACKEND", "missing")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn the_readme_configuration_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("```toml\n")
        .expect("a TOML example in the README")
        + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    // --check-config reads every file the configuration names: make them,
    // under a temporary /etc/arca.
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    for (name, text) in [
        ("s3-id", "id".to_owned()),
        ("s3-secret", "secret".to_owned()),
        ("keys.toml", String::new()),
        ("presign-hmac-key", "k".repeat(40)),
        ("tls.crt", cert.pem()),
        ("tls.key", key.serialize_pem()),
        ("ca.crt", cert.pem()),
    ] {
        private_file(&etc.join(name), &text);
    }
    let text = readme[start..end].replace("/etc/arca/", &format!("{}/", etc.display()));
    let config = dir.path().join("arca.toml");
    std::fs::write(&config, &text).unwrap();
    let check = || check_config(&config);
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each referenced file is read: missing, world-readable or malformed,
    // the check refuses as startup would.
    let keys = etc.join("keys.toml");
    std::fs::remove_file(&keys).unwrap();
    assert_refused(check(), "keys.toml");
    private_file(&keys, "[keys.x]\nsandbox = \"sb\"\n");
    assert_refused(check(), "keys file");
    private_file(&keys, "");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_refused(check(), "keys.toml");
    private_file(&keys, "");
    private_file(&etc.join("tls.key"), "not a key");
    assert_refused(check(), "private key");
    private_file(&etc.join("tls.key"), &key.serialize_pem());
    std::fs::remove_file(etc.join("s3-secret")).unwrap();
    assert_refused(check(), "s3-secret");
    private_file(&etc.join("s3-secret"), "secret");
    std::fs::remove_file(etc.join("presign-hmac-key")).unwrap();
    assert_refused(check(), "presign-hmac-key");
}

/// `--check-config` reads the PostgreSQL settings' files as startup does
/// (without connecting): missing, world-readable or malformed, refused.
#[test]
fn check_config_reads_the_metadata_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let (url, password) = (dir.path().join("db-url"), dir.path().join("db-password"));
    let config = dir.path().join("arca.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[metadata]\nengine = \"postgres\"\nurl_file = \"{}\"\npassword_file = \"{}\"\n",
            dir.path().join("data").display(),
            url.display(),
            password.display()
        ),
    )
    .unwrap();
    let check = || check_config(&config);
    assert_refused(check(), "db-url");
    private_file(&url, "not a url at all ::");
    assert_refused(check(), "PostgreSQL URL");
    private_file(&url, "postgres://arca@127.0.0.1:1/arca?sslmode=disable");
    assert_refused(check(), "db-password");
    private_file(&password, "secret");
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_refused(check(), "db-password");
    private_file(&password, "secret");
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `arca-server --config CONFIG --check-config`.
fn check_config(config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_arca-server"))
        .arg("--config")
        .arg(config)
        .arg("--check-config")
        .output()
        .unwrap()
}

fn private_file(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[track_caller]
fn assert_refused(out: std::process::Output, naming: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "accepted: {stderr}");
    assert!(
        stderr.contains(naming),
        "{stderr} (expected it to name {naming})"
    );
}

/// An upload stream driven by hand.
struct Stream {
    tx: tokio::sync::mpsc::Sender<pb::UploadRequest>,
    answers: tonic::Streaming<pb::UploadResponse>,
    id: String,
    persisted: u64,
}

impl Stream {
    async fn open(client: &Client, first: pb::upload_request::Message) -> Stream {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tx.send(pb::UploadRequest {
            message: Some(first),
        })
        .await
        .unwrap();
        let mut answers = client
            .files
            .clone()
            .upload(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        match answers.message().await.unwrap() {
            Some(pb::UploadResponse {
                message: Some(pb::upload_response::Message::Accepted(a)),
            }) => Stream {
                tx,
                answers,
                id: a.upload_id,
                persisted: a.persisted_offset,
            },
            other => panic!("expected accepted, got {other:?}"),
        }
    }

    async fn send(&self, data: &[u8], from: usize, to: usize) {
        for at in (from..to).step_by(1 << 20) {
            let end = (at + (1 << 20)).min(to);
            self.tx
                .send(pb::UploadRequest {
                    message: Some(pb::upload_request::Message::Data(pb::UploadData {
                        offset: at as u64,
                        data: data[at..end].to_vec().into(),
                    })),
                })
                .await
                .unwrap();
        }
    }

    /// Waits for a progress answer with at least `at` bytes persisted.
    async fn persisted_at_least(&mut self, at: u64) {
        while self.persisted < at {
            match self.answers.message().await.unwrap() {
                Some(pb::UploadResponse {
                    message: Some(pb::upload_response::Message::Progress(p)),
                }) => self.persisted = p.persisted_offset,
                other => panic!("expected progress, got {other:?}"),
            }
        }
    }

    async fn finish(mut self) -> pb::Entry {
        self.tx
            .send(pb::UploadRequest {
                message: Some(pb::upload_request::Message::Finish(
                    pb::UploadFinish::default(),
                )),
            })
            .await
            .unwrap();
        loop {
            match self.answers.message().await.unwrap() {
                Some(pb::UploadResponse {
                    message: Some(pb::upload_response::Message::Committed(e)),
                }) => return e,
                Some(_) => continue,
                None => panic!("the stream ended without a commit"),
            }
        }
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// SIGTERM with two uploads in flight: readiness turns NOT_SERVING at
/// once, new calls are refused, the upload that keeps going finishes
/// within the grace period, the one left waiting is cut off when the grace
/// period ends and resumes after a restart; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_upload_finishes_it_or_leaves_it_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("arca.toml");
    std::fs::write(&config, "shutdown_grace_secs = 3\n").unwrap();
    let data_dir = dir.path().join("data");
    let args = ["--config", config.to_str().unwrap()];
    let running = start_with(&data_dir, &args);
    let key = admin_key(&data_dir);
    let client = Client::connect(format!("http://{}", running.addr), &key)
        .await
        .unwrap();
    let ns = alice_workspace(&client).await.namespace_id;
    let (a, b) = (pattern(20 << 20, 1), pattern(20 << 20, 2));
    let start = |path: &str, len: usize| {
        pb::upload_request::Message::Start(pb::UploadStart {
            namespace_id: ns.clone(),
            path: path.into(),
            total_size: Some(len as u64),
            ..Default::default()
        })
    };
    let mut first = Stream::open(&client, start("finished.bin", a.len())).await;
    first.send(&a, 0, 6 << 20).await;
    first.persisted_at_least(4 << 20).await;
    let mut second = Stream::open(&client, start("resumed.bin", b.len())).await;
    second.send(&b, 0, 6 << 20).await;
    second.persisted_at_least(4 << 20).await;
    let upload_b = second.id.clone();

    let pid = running.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Readiness goes NOT_SERVING on the connection still open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel());
    let mut not_serving = false;
    for _ in 0..40 {
        match health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
        {
            Ok(answer)
                if answer.get_ref().status()
                    == tonic_health::pb::health_check_response::ServingStatus::NotServing =>
            {
                not_serving = true;
                break;
            }
            // A refused call also tells the prober to look elsewhere.
            Err(_) => {
                not_serving = true;
                break;
            }
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert!(not_serving, "readiness stayed SERVING while draining");
    // New connections are refused while the open ones drain.
    let mut refused = false;
    for _ in 0..40 {
        if tokio::net::TcpStream::connect(&running.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "a new connection was accepted while draining");
    // The upload that keeps going completes inside the grace period.
    first.send(&a, 6 << 20, a.len()).await;
    let entry = first.finish().await;
    assert_eq!(entry.sha256, sha256_hex(&a));
    // The other waits; the grace period ends and the server exits cleanly.
    let mut running = running;
    let exit = running.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    drop(second);
    drop(client);

    let running = start_with(&data_dir, &args);
    let client = Client::connect(format!("http://{}", running.addr), &key)
        .await
        .unwrap();
    let read = client
        .download(pb::DownloadRequest {
            namespace_id: ns.clone(),
            path: "finished.bin".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(read.data, a);
    let resumed = Stream::open(
        &client,
        pb::upload_request::Message::Resume(pb::UploadResume {
            upload_id: upload_b,
        }),
    )
    .await;
    assert!(resumed.persisted >= 4 << 20, "{}", resumed.persisted);
    resumed.send(&b, resumed.persisted as usize, b.len()).await;
    let entry = resumed.finish().await;
    assert_eq!(entry.sha256, sha256_hex(&b));
    drop(client);
    terminate(running);
}
