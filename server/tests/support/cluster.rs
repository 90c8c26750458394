//! Replicas of one deployment for the tests that run several: each its
//! own server process and data directory, sharing one PostgreSQL schema
//! (metadata) and one S3 prefix (content), and the calls those tests make
//! through them.

use std::path::PathBuf;

use arca_client::{Client, pb};
use sha2::{Digest, Sha256};

use super::Process;

pub const ADMIN: &str = "replica-test-admin";
pub const APP: &str = "replica-test-app";

/// Replicas of one deployment: one database schema, one S3 prefix.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// The configuration every replica shares (all but its data directory).
    shared: String,
}

impl Cluster {
    /// A deployment on the test PostgreSQL server; `extra` is appended to
    /// every replica's configuration.
    pub fn new(extra: &str) -> Cluster {
        let (url, password) = super::postgres();
        Cluster::on(&url, &password, extra)
    }

    pub fn on(url: &str, password: &str, extra: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let key = |id: &str, role: &str, secret: &str| {
            format!(
                "[auth.keys.{id}]\nsandbox = \"sb\"\nrole = \"{role}\"\nsecret_sha256 = \"{}\"\n",
                hex::encode(Sha256::digest(secret))
            )
        };
        let shared = format!(
            "listen = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n\
             [log]\nformat = \"json\"\nfilter = \"warn,arca_server=info\"\n\
             [reclaim]\ngrace_secs = 0\ninterval_secs = 1\n\
             [uploads]\npersist_interval_bytes = 65536\n\
             {}{}{}{}{extra}",
            key("admin", "admin", ADMIN),
            key("app", "app", APP),
            super::postgres_section(dir.path(), url, password, 2),
            super::s3_section(dir.path()),
        );
        let shared = format!(
            "{shared}\n[backends.volume]\nkind = \"filesystem\"\nroot = \"{}\"\n",
            dir.path().join("volume").display()
        );
        Cluster { dir, shared }
    }

    /// Starts replica `name` (its own data directory).
    pub fn start(&self, name: &str) -> Process {
        Process::start(&self.config(name))
    }

    /// The configuration file of replica `name`.
    pub fn config(&self, name: &str) -> PathBuf {
        let data = self.dir.path().join(name);
        let config = format!("data_dir = \"{}\"\n{}", data.display(), self.shared);
        super::write_config(&data, &config)
    }

    /// The deployment's metadata, opened as a tool would.
    pub async fn metadata(&self) -> arca_server::meta::MetaStore {
        let config = arca_server::Config::from_file(&self.config("tool")).unwrap();
        arca_server::meta::MetaStore::open(&config).await.unwrap()
    }
}

pub async fn client(replica: &Process, secret: &str) -> Client {
    Client::connect(replica.url(), secret).await.unwrap()
}

pub async fn workspace(client: &Client, user: &str) -> String {
    client
        .namespaces
        .clone()
        .create_namespace(pb::CreateNamespaceRequest {
            r#type: pb::NamespaceType::Workspace as i32,
            scope: pb::Scope::User as i32,
            owner: Some(pb::Owner {
                sandbox: "sb".into(),
                user: user.into(),
                session: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect("create namespace")
        .into_inner()
        .namespace_id
}

pub async fn write(
    client: &Client,
    ns: &str,
    path: &str,
    data: &[u8],
    precondition: Option<pb::Precondition>,
) -> Result<pb::Entry, tonic::Status> {
    Ok(client
        .files
        .clone()
        .write_file(pb::WriteFileRequest {
            namespace_id: ns.into(),
            path: path.into(),
            data: data.to_vec().into(),
            precondition,
            ..Default::default()
        })
        .await?
        .into_inner()
        .entry
        .expect("entry"))
}

pub async fn read(client: &Client, ns: &str, path: &str) -> Result<Vec<u8>, tonic::Status> {
    Ok(client
        .files
        .clone()
        .read_file(pb::ReadFileRequest {
            namespace_id: ns.into(),
            path: path.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .data
        .to_vec())
}

pub async fn list(client: &Client, ns: &str, path: &str) -> Vec<pb::Entry> {
    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .files
            .clone()
            .list(pb::ListRequest {
                namespace_id: ns.into(),
                path: path.into(),
                recursive: true,
                page_size: 1000,
                page_token: token,
            })
            .await
            .expect("list")
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        token = page.next_page_token;
    }
}

pub async fn checkpoint(client: &Client, ns: &str, name: &str) -> String {
    client
        .checkpoints
        .clone()
        .create_checkpoint(pb::CreateCheckpointRequest {
            namespace_id: ns.to_owned(),
            name: name.into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .checkpoint_id
}

pub async fn restore(client: &Client, ns: &str, ckpt: &str) {
    client
        .checkpoints
        .clone()
        .restore_checkpoint(pb::RestoreCheckpointRequest {
            namespace_id: ns.to_owned(),
            checkpoint_id: ckpt.to_owned(),
        })
        .await
        .unwrap();
}

/// Opens a session for `user` in the caller's sandbox.
pub async fn open_session(client: &Client, user: &str) -> pb::OpenSessionResponse {
    client
        .sessions
        .clone()
        .open_session(pb::OpenSessionRequest {
            user: user.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}
