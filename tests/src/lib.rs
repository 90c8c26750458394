//! Test harness: starts the real Arca server, exactly as `main.rs` does,
//! on `127.0.0.1:0`, and hands out a connected client.
//!
//! [`TestServer::start`] picks a backend and a fresh data directory;
//! [`TestServer::restart`] stops the server gracefully and starts a new one
//! on the same directory, for persistence and resume tests.

use std::net::SocketAddr;
use std::sync::Arc;

pub use arca_client::{Client, pb};
use arca_server::Config;
use arca_server::config::{ApiKeyConfig, BackendConfig, KeyRole};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code;

mod http;
mod postgres;
mod proxy;
mod upload_stream;
pub use http::{HttpAnswer, http};
pub use postgres::{
    metadata_on_postgres, postgres, postgres_execute, postgres_metadata, scratch_schema,
};
pub use proxy::{CuttingProxy, Fault, FaultProxy};
pub use upload_stream::{UploadStream, drain, run_upload, upload};

/// The backends every integration test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-memory objects.
    Memory,
    /// Objects as files in the data directory.
    Filesystem,
    /// Objects in the S3-compatible server named by `ARCA_TEST_S3_ENDPOINT`
    /// (tests/run.sh starts one).
    S3,
}

/// The S3 test server, if one is running.
pub fn s3_endpoint() -> Option<String> {
    std::env::var("ARCA_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
}

/// A running server and a client connected to it.
pub struct TestServer {
    /// A connected client.
    pub client: Client,
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The configuration it runs with.
    pub config: Config,
    /// Its data directory (kept alive across restarts).
    pub dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<arca_server::Result<()>>>,
}

/// Secret of the admin key of sandbox `sb`.
pub const ADMIN: &str = "test-admin-of-sb";
/// Secret of the app key of sandbox `sb` (what `TestServer::client` uses).
pub const APP: &str = "test-app-of-sb";
/// Secret of an admin key that reaches every sandbox.
pub const GLOBAL_ADMIN: &str = "test-admin-of-all";
/// Secret of the app key of sandbox `other`.
pub const OTHER_APP: &str = "test-app-of-other";
/// Secret of the admin key of sandbox `other`.
pub const OTHER_ADMIN: &str = "test-admin-of-other";

fn key(sandbox: &str, role: KeyRole, all_sandboxes: bool, secret: &str) -> ApiKeyConfig {
    ApiKeyConfig {
        sandbox: sandbox.into(),
        role,
        all_sandboxes,
        secret_sha256: arca_server::auth::sha256_hex(secret),
    }
}

/// The test configuration: the test keys, fast reclaim.
pub fn test_config(backend: Backend, dir: &std::path::Path) -> Config {
    let mut config = match backend {
        Backend::Memory => Config::in_memory(dir),
        Backend::Filesystem => {
            let mut c = Config {
                data_dir: dir.to_owned(),
                ..Config::default()
            };
            c.backends.insert(
                "local".into(),
                BackendConfig::Filesystem {
                    root: dir.join("blobs"),
                },
            );
            c
        }
        Backend::S3 => {
            let prefix = format!(
                "{}/",
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            s3_config(
                dir,
                &s3_endpoint().expect("ARCA_TEST_S3_ENDPOINT"),
                &prefix,
                3,
                10,
            )
        }
    };
    let keys = &mut config.auth.keys;
    keys.insert("admin".into(), key("sb", KeyRole::Admin, false, ADMIN));
    keys.insert("app".into(), key("sb", KeyRole::App, false, APP));
    keys.insert(
        "global".into(),
        key("default", KeyRole::Admin, true, GLOBAL_ADMIN),
    );
    keys.insert(
        "other-app".into(),
        key("other", KeyRole::App, false, OTHER_APP),
    );
    keys.insert(
        "other-admin".into(),
        key("other", KeyRole::Admin, false, OTHER_ADMIN),
    );
    if metadata_on_postgres() {
        config.metadata = postgres_metadata(dir, &scratch_schema());
    }
    config.reclaim.grace_secs = 0;
    config.reclaim.interval_secs = 1;
    config.shutdown_grace_secs = 5;
    config.log.filter = "warn".into();
    config
}

impl TestServer {
    /// Starts a server on `backend` with a fresh data directory.
    pub async fn start(backend: Backend) -> Self {
        if backend == Backend::S3 {
            ensure_s3_bucket().await;
        }
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let config = test_config(backend, dir.path());
        Self::start_with(config, dir).await
    }

    /// Starts a server with `config` on `dir`.
    pub async fn start_with(config: Config, dir: Arc<tempfile::TempDir>) -> Self {
        Self::start_at(config, dir, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts a server with `config` on `dir`, listening at `at` (to come
    /// back where clients that keep an address, as a mount, expect it).
    pub async fn start_at(config: Config, dir: Arc<tempfile::TempDir>, at: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(at).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(arca_server::serve(config.clone(), listener, async {
            let _ = stopped.await;
        }));
        let client = Client::connect(format!("http://{addr}"), APP)
            .await
            .expect("connect");
        TestServer {
            client,
            addr,
            config,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits until it has closed its files.
    pub async fn stop(mut self) -> (Config, Arc<tempfile::TempDir>) {
        self.shutdown().await;
        (self.config.clone(), self.dir.clone())
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// Stops the server, checks that every usage counter its commits kept
    /// (footprints, usage, objects' checkpoint references) matches a
    /// recount from the rows themselves, and starts it again.
    pub async fn assert_counts_agree(self) -> Self {
        let (config, dir) = self.stop().await;
        {
            let meta = arca_server::meta::MetaStore::open(&config)
                .await
                .expect("open the metadata");
            let differences = meta
                .scan(arca_server::core::footprint::differences)
                .await
                .expect("recount");
            meta.close();
            assert!(
                differences.is_empty(),
                "the kept counters differ from a recount:\n{}",
                differences.join("\n")
            );
        }
        Self::start_with(config, dir).await
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(self) -> Self {
        let (config, dir) = self.stop().await;
        Self::start_with(config, dir).await
    }

    /// The filesystem backend's root, if that is the backend.
    pub fn blob_root(&self) -> Option<std::path::PathBuf> {
        self.config.backends.values().find_map(|b| match b {
            BackendConfig::Filesystem { root } => Some(root.clone()),
            BackendConfig::Memory | BackendConfig::S3(_) => None,
        })
    }

    /// The same server reached with another credential.
    pub fn as_secret(&self, secret: &str) -> Client {
        self.client.with_secret(secret).expect("secret")
    }

    /// Opens a session for `user` of sandbox `sb`; returns its id and token.
    pub async fn open_session(&self, user: &str) -> (String, String) {
        let opened = self
            .client
            .sessions
            .clone()
            .open_session(pb::OpenSessionRequest {
                user: user.into(),
                ..Default::default()
            })
            .await
            .expect("open session")
            .into_inner();
        (opened.session.expect("session").session_id, opened.token)
    }

    /// Creates a namespace and returns its id (SESSION scope opens a session
    /// for `user` first; SANDBOX scope is created with the admin key).
    pub async fn namespace(
        &self,
        ns_type: pb::NamespaceType,
        scope: pb::Scope,
        user: &str,
    ) -> String {
        let client = if scope == pb::Scope::Sandbox {
            self.as_secret(ADMIN)
        } else {
            self.client.clone()
        };
        let owner = match scope {
            pb::Scope::Session => {
                let (session, _) = self.open_session(user).await;
                pb::Owner {
                    sandbox: "sb".into(),
                    user: user.into(),
                    session,
                }
            }
            pb::Scope::User => pb::Owner {
                sandbox: "sb".into(),
                user: user.into(),
                session: String::new(),
            },
            _ => pb::Owner {
                sandbox: "sb".into(),
                ..Default::default()
            },
        };
        client
            .namespaces
            .clone()
            .create_namespace(pb::CreateNamespaceRequest {
                r#type: ns_type as i32,
                scope: scope as i32,
                owner: Some(owner),
                ..Default::default()
            })
            .await
            .expect("create namespace")
            .into_inner()
            .namespace_id
    }

    /// Creates a USER-scope workspace for "alice".
    pub async fn workspace(&self) -> String {
        self.namespace(pb::NamespaceType::Workspace, pb::Scope::User, "alice")
            .await
    }

    /// Removes `path` of `ns`, and everything under it.
    pub async fn remove(&self, ns: &str, path: &str) {
        self.client
            .files
            .clone()
            .remove(pb::RemoveRequest {
                namespace_id: ns.into(),
                path: path.into(),
                recursive: true,
            })
            .await
            .unwrap_or_else(|s| panic!("remove {path}: {s}"));
    }

    /// Destroys namespace `ns`, as the sandbox's admin.
    pub async fn destroy(&self, ns: &str) {
        self.as_secret(ADMIN)
            .namespaces
            .destroy_namespace(pb::DestroyNamespaceRequest {
                namespace_id: ns.into(),
            })
            .await
            .unwrap_or_else(|s| panic!("destroy {ns}: {s}"));
    }

    /// Creates a checkpoint of `ns` named `name`: its id, or the refusal.
    pub async fn try_checkpoint(&self, ns: &str, name: &str) -> Result<String, tonic::Status> {
        Ok(self
            .client
            .checkpoints
            .clone()
            .create_checkpoint(pb::CreateCheckpointRequest {
                namespace_id: ns.into(),
                name: name.into(),
                description: String::new(),
            })
            .await?
            .into_inner()
            .checkpoint_id)
    }

    /// Creates a checkpoint of `ns` named `name`; its id.
    pub async fn checkpoint(&self, ns: &str, name: &str) -> String {
        self.try_checkpoint(ns, name)
            .await
            .unwrap_or_else(|s| panic!("checkpoint {ns}: {s}"))
    }

    /// Restores checkpoint `id` of `ns`.
    pub async fn restore_checkpoint(&self, ns: &str, id: &str) -> pb::RestoreCheckpointResponse {
        self.client
            .checkpoints
            .clone()
            .restore_checkpoint(pb::RestoreCheckpointRequest {
                namespace_id: ns.into(),
                checkpoint_id: id.into(),
            })
            .await
            .unwrap_or_else(|s| panic!("restore {id}: {s}"))
            .into_inner()
    }

    /// Deletes checkpoint `id` of `ns`.
    pub async fn delete_checkpoint(&self, ns: &str, id: &str) {
        self.client
            .checkpoints
            .clone()
            .delete_checkpoint(pb::DeleteCheckpointRequest {
                namespace_id: ns.into(),
                checkpoint_id: id.into(),
            })
            .await
            .unwrap_or_else(|s| panic!("delete checkpoint {id}: {s}"));
    }

    /// Writes a small file.
    pub async fn write(&self, ns: &str, path: &str, data: &[u8]) -> pb::Entry {
        self.try_write(ns, path, data)
            .await
            .unwrap_or_else(|s| panic!("write {path}: {s}"))
    }

    /// Uploads `data` to `path` through one Upload stream as `secret`, in
    /// 256 KiB chunks, declaring its size if `declared`; returns the
    /// committed entry, or the status the stream ended with.
    pub async fn upload_as(
        &self,
        secret: &str,
        ns: &str,
        path: &str,
        data: &[u8],
        declared: bool,
    ) -> Result<pb::Entry, tonic::Status> {
        use pb::upload_request::Message as In;
        const CHUNK: usize = 256 << 10;
        let mut messages = vec![pb::UploadRequest {
            message: Some(In::Start(pb::UploadStart {
                namespace_id: ns.into(),
                path: path.into(),
                total_size: declared.then_some(data.len() as u64),
                ..Default::default()
            })),
        }];
        for (i, chunk) in data.chunks(CHUNK).enumerate() {
            messages.push(pb::UploadRequest {
                message: Some(In::Data(pb::UploadData {
                    offset: (i * CHUNK) as u64,
                    data: chunk.to_vec().into(),
                })),
            });
        }
        messages.push(pb::UploadRequest {
            message: Some(In::Finish(pb::UploadFinish::default())),
        });
        let mut answers = self
            .as_secret(secret)
            .files
            .upload(futures::stream::iter(messages))
            .await?
            .into_inner();
        while let Some(answer) = answers.message().await? {
            if let Some(pb::upload_response::Message::Committed(entry)) = answer.message {
                return Ok(entry);
            }
        }
        Err(tonic::Status::unknown(
            "the upload stream ended without a commit",
        ))
    }

    /// Writes a small file, returning the status on failure.
    pub async fn try_write(
        &self,
        ns: &str,
        path: &str,
        data: &[u8],
    ) -> Result<pb::Entry, tonic::Status> {
        let r = pb::WriteFileRequest {
            namespace_id: ns.into(),
            path: path.into(),
            data: data.to_vec().into(),
            ..Default::default()
        };
        Ok(self
            .client
            .files
            .clone()
            .write_file(r)
            .await?
            .into_inner()
            .entry
            .expect("entry"))
    }

    /// Reads a whole small file.
    pub async fn read(&self, ns: &str, path: &str) -> Result<Vec<u8>, tonic::Status> {
        let r = pb::ReadFileRequest {
            namespace_id: ns.into(),
            path: path.into(),
            ..Default::default()
        };
        Ok(self
            .client
            .files
            .clone()
            .read_file(r)
            .await?
            .into_inner()
            .data
            .to_vec())
    }

    /// One entry, through the app key; `None` if it cannot be read.
    pub async fn entry(&self, ns: &str, path: &str) -> Option<pb::Entry> {
        self.client
            .files
            .clone()
            .stat(pb::StatRequest {
                namespace_id: ns.into(),
                path: path.into(),
            })
            .await
            .ok()
            .map(tonic::Response::into_inner)
    }

    /// The admin statistics of sandbox `sb`.
    pub async fn stats(&self) -> pb::GetStatsResponse {
        self.as_secret(ADMIN)
            .admin
            .get_stats(pb::GetStatsRequest {
                sandbox: "sb".into(),
            })
            .await
            .expect("stats")
            .into_inner()
    }

    /// Lists a directory's paths (all pages).
    pub async fn ls(&self, ns: &str, dir: &str, recursive: bool) -> Vec<String> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .client
                .files
                .clone()
                .list(pb::ListRequest {
                    namespace_id: ns.into(),
                    path: dir.into(),
                    recursive,
                    page_size: 0,
                    page_token: token.clone(),
                })
                .await
                .expect("list")
                .into_inner();
            out.extend(page.entries.into_iter().map(|e| e.path));
            if page.next_page_token.is_empty() {
                return out;
            }
            token = page.next_page_token;
        }
    }

    /// Runs reclaim passes until `check` holds, at most ~5 s.
    pub async fn eventually(&self, mut check: impl FnMut() -> bool) -> bool {
        for _ in 0..250 {
            if check() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        check()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts that `result` failed with `code`, printing the message otherwise.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug, E: IntoStatus>(
    result: Result<T, E>,
    code: Code,
) -> tonic::Status {
    match result {
        Ok(v) => panic!("expected {code:?}, got success: {v:?}"),
        Err(e) => {
            let status = e.into_status();
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            assert!(!status.message().is_empty(), "status without a message");
            status
        }
    }
}

/// Deterministic test content.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(131)
                .wrapping_add(seed)
                .wrapping_add((i >> 16) as u8)
        })
        .collect()
}

/// Lowercase hex SHA-256.
pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

async fn ensure_s3_bucket() {
    ensure_s3_bucket_at(&s3_endpoint().expect("ARCA_TEST_S3_ENDPOINT")).await;
}

/// Creates the test bucket on the S3 server at `endpoint` if it is missing.
pub async fn ensure_s3_bucket_at(endpoint: &str) {
    let store = arca_server::blobs::s3::S3Store::open(arca_server::blobs::s3::S3Settings {
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
        attempt_timeout: std::time::Duration::from_secs(10),
    })
    .await
    .expect("s3 client");
    store.ensure_bucket().await.expect("create the test bucket");
}

/// The test bucket reached directly (not through a server) under
/// `prefix`, to see what the server left in it.
pub async fn s3_store(prefix: &str) -> arca_server::blobs::s3::S3Store {
    arca_server::blobs::s3::S3Store::open(arca_server::blobs::s3::S3Settings {
        bucket: "arca-tests".into(),
        prefix: prefix.to_owned(),
        region: "us-east-1".into(),
        endpoint: Some(s3_endpoint().expect("ARCA_TEST_S3_ENDPOINT")),
        path_style: true,
        static_credentials: Some(("test".into(), "test".into())),
        sse: None,
        sse_kms_key_id: None,
        part_size: 5 << 20,
        part_concurrency: 2,
        max_attempts: 2,
        attempt_timeout: std::time::Duration::from_secs(10),
    })
    .await
    .expect("s3 client")
}

/// A configuration whose only backend is the test bucket on the S3 server
/// at `endpoint`, under `prefix`, with credentials in private files in `dir`.
pub fn s3_config(
    dir: &std::path::Path,
    endpoint: &str,
    prefix: &str,
    max_attempts: u32,
    attempt_timeout_secs: u64,
) -> Config {
    use std::os::unix::fs::PermissionsExt;
    let mut config = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let (id, secret) = (dir.join("s3-key-id"), dir.join("s3-secret"));
    for path in [&id, &secret] {
        std::fs::write(path, "test").expect("write s3 credentials");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    config.backends.insert(
        "s3".into(),
        BackendConfig::S3(arca_server::config::S3Config {
            bucket: "arca-tests".into(),
            prefix: prefix.to_owned(),
            region: "us-east-1".into(),
            endpoint: Some(endpoint.to_owned()),
            path_style: true,
            access_key_id_file: Some(id),
            secret_access_key_file: Some(secret),
            sse: None,
            sse_kms_key_id: None,
            part_size_mib: 5,
            part_concurrency: 2,
            max_attempts,
            attempt_timeout_secs,
        }),
    );
    config.default_backend.all = "s3".into();
    config
}

/// A free loopback port (for a listener the server opens itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Instantiates async test functions `fn(Backend)` once per backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Memory).await })*
        }
        mod filesystem {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Filesystem).await })*
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if $crate::s3_endpoint().is_none() {
                    eprintln!("ARCA_TEST_S3_ENDPOINT is not set: run through tests/run.sh, which starts an S3 server");
                    return;
                }
                super::$name($crate::Backend::S3).await
            })*
        }
    };
}

/// Instantiates async test functions `fn(Backend)` on the durable backends
/// only (those whose content outlives the process or can be inspected).
#[macro_export]
macro_rules! on_durable_backends {
    ($($name:ident),* $(,)?) => {
        mod durable_filesystem {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Filesystem).await })*
        }
    };
}

/// Imports into the root of `ns`, through `client`, a tar archive that
/// holds one file: `name`, with `content`.
pub async fn import_one_file(
    client: &arca_client::Client,
    ns: &str,
    name: &str,
    content: &[u8],
) -> Result<(), tonic::Status> {
    use pb::import_archive_request::Message as Part;
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, name, content).unwrap();
    let archive = builder.into_inner().unwrap();
    let messages = vec![
        pb::ImportArchiveRequest {
            message: Some(Part::Start(pb::ImportStart {
                namespace_id: ns.to_owned(),
                ..Default::default()
            })),
        },
        pb::ImportArchiveRequest {
            message: Some(Part::Data(archive.into())),
        },
    ];
    client
        .archives
        .clone()
        .import_archive(futures::stream::iter(messages))
        .await
        .map(|_| ())
}

/// An error that carries a gRPC status: the stubs' own, or the client
/// library's (any other client error fails the test).
pub trait IntoStatus {
    /// The status.
    fn into_status(self) -> tonic::Status;
}

impl IntoStatus for tonic::Status {
    fn into_status(self) -> tonic::Status {
        self
    }
}

impl IntoStatus for arca_client::ClientError {
    fn into_status(self) -> tonic::Status {
        match self {
            arca_client::ClientError::Status(status) => status,
            other => panic!("expected a gRPC status, got {other}"),
        }
    }
}
