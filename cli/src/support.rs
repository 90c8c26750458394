//! What every command shares: remote paths, the exit code of each kind
//! of failure, JSON and text output, progress bars, the connection's TLS
//! and credential, and whole-file transfers.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca_client::{Client, ClientError, TransferOptions, pb};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tonic::Code;

use super::args::Cli;

/// A scope's proto name, for display.
pub(crate) fn scope_name(scope: i32) -> &'static str {
    pb::Scope::try_from(scope).map_or("?", |s| s.as_str_name())
}

/// `NAMESPACE:PATH` → (namespace, path).
pub(crate) fn remote(spec: &str) -> (String, String) {
    match spec.split_once(':') {
        Some((ns, path)) => (ns.to_owned(), path.to_owned()),
        None => (spec.to_owned(), String::new()),
    }
}

pub(crate) fn seconds(s: Option<u64>) -> Option<prost_types::Duration> {
    s.map(|seconds| prost_types::Duration {
        seconds: seconds as i64,
        nanos: 0,
    })
}

/// A failure and its exit code.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::Status(s) => status_exit_code(s.code()),
            ClientError::Transport(_) => 7,
            ClientError::DigestMismatch { .. } => 9,
            ClientError::Protocol(_) => 1,
            ClientError::Io(_) => 10,
        };
        let message = match e {
            ClientError::Status(s) => format!("{:?}: {}", s.code(), s.message()),
            other => other.to_string(),
        };
        Failure { code, message }
    }
}

impl From<tonic::Status> for Failure {
    fn from(s: tonic::Status) -> Self {
        ClientError::Status(s).into()
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e).into()
    }
}

/// Exit codes: 3 not found, 4 not allowed, 5 conflict, 6 bad input,
/// 7 unreachable, 8 over a limit, 9 corrupt data, 10 local I/O, 1 other.
pub(crate) fn status_exit_code(code: Code) -> u8 {
    match code {
        Code::NotFound => 3,
        Code::PermissionDenied | Code::Unauthenticated => 4,
        Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => 5,
        Code::InvalidArgument | Code::OutOfRange => 6,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => 7,
        Code::ResourceExhausted => 8,
        Code::DataLoss => 9,
        _ => 1,
    }
}

pub(crate) fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub(crate) fn entry_json(e: &pb::Entry) -> Value {
    json!({
        "path": e.path,
        "kind": if e.kind == pb::EntryKind::Directory as i32 { "directory" } else { "file" },
        "size": e.size,
        "sha256": e.sha256,
        "mime_type": e.mime_type,
        "metadata": e.metadata,
        "version": e.version,
        "grid_key": e.grid_key,
    })
}

pub(crate) fn namespace_json(n: &pb::Namespace) -> Value {
    let owner = n.owner.clone().unwrap_or_default();
    json!({
        "namespace_id": n.namespace_id,
        "type": pb::NamespaceType::try_from(n.r#type).map(|t| t.as_str_name()).unwrap_or("?"),
        "scope": scope_name(n.scope),
        "name": n.name,
        "sandbox": owner.sandbox,
        "user": owner.user,
        "session": owner.session,
        "metadata": n.metadata,
        "grid_prefix": n.grid_prefix,
        "file_count": n.file_count,
        "total_bytes": n.total_bytes,
    })
}

pub(crate) fn checkpoint_json(c: &pb::Checkpoint) -> Value {
    json!({
        "checkpoint_id": c.checkpoint_id,
        "name": c.name,
        "description": c.description,
        "entry_count": c.entry_count,
        "file_count": c.file_count,
        "total_bytes": c.total_bytes,
    })
}

pub(crate) struct Out {
    pub(crate) json: bool,
}

impl Out {
    /// Prints `value` as JSON, or `text` for people.
    pub(crate) fn show(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            let text = text();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
}

pub(crate) fn progress_bar(total: u64, label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_owned());
    bar
}

pub(crate) fn options_with(bar: &ProgressBar) -> TransferOptions {
    let bar = bar.clone();
    TransferOptions {
        progress: Some(Arc::new(move |n| bar.set_position(n))),
        ..TransferOptions::default()
    }
}

/// The address to dial and its TLS settings: a CA file (flag or
/// `ARCA_CA_FILE`) means TLS trusting that CA; an `https://` address without
/// one trusts the system's roots; `http://` is plaintext.
pub(crate) fn tls_for(
    cli: &Cli,
) -> Result<(String, Option<tonic::transport::ClientTlsConfig>), Failure> {
    use tonic::transport::{Certificate, ClientTlsConfig};
    let https = cli.addr.starts_with("https://");
    let Some(ca_file) = &cli.ca_file else {
        return Ok((
            cli.addr.clone(),
            https.then(|| ClientTlsConfig::new().with_native_roots()),
        ));
    };
    let pem = std::fs::read(ca_file)
        .map_err(|e| fail(2, format!("cannot read CA file {}: {e}", ca_file.display())))?;
    let addr = match cli.addr.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => cli.addr.clone(),
    };
    Ok((
        addr,
        Some(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))),
    ))
}

pub(crate) fn token(cli: &Cli) -> Result<Option<String>, Failure> {
    if let Some(token) = &cli.token {
        return Ok(Some(token.clone()));
    }
    let file = cli
        .token_file
        .clone()
        .or_else(|| Some(PathBuf::from("arca-data/admin.key")).filter(|p| p.exists()));
    match file {
        Some(path) => Ok(Some(
            std::fs::read_to_string(&path)
                .map_err(|e| fail(10, format!("reading {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        )),
        None => Ok(None),
    }
}

pub(crate) async fn put_one(
    client: &Client,
    ns: &str,
    path: &str,
    local: &Path,
    mime: &str,
) -> Result<pb::Entry, Failure> {
    let size = std::fs::metadata(local)?.len();
    let bar = progress_bar(size, path);
    let start = pb::UploadStart {
        namespace_id: ns.into(),
        path: path.into(),
        mime_type: mime.into(),
        ..Default::default()
    };
    let entry = client
        .upload_path(start, local, &options_with(&bar))
        .await?;
    bar.finish_and_clear();
    Ok(entry)
}

pub(crate) async fn get_one(
    client: &Client,
    ns: &str,
    path: &str,
    local: &Path,
    size: u64,
) -> Result<(), Failure> {
    if let Some(dir) = local.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let bar = progress_bar(size, path);
    let request = pb::DownloadRequest {
        namespace_id: ns.into(),
        path: path.into(),
        ..Default::default()
    };
    client
        .download_path(request, local, &options_with(&bar))
        .await?;
    bar.finish_and_clear();
    Ok(())
}

pub(crate) async fn list_all(
    client: &Client,
    ns: &str,
    path: &str,
    recursive: bool,
) -> Result<Vec<pb::Entry>, Failure> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .files
            .clone()
            .list(pb::ListRequest {
                namespace_id: ns.into(),
                path: path.into(),
                recursive,
                page_size: 10_000,
                page_token: token,
            })
            .await?
            .into_inner();
        out.extend(page.entries);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}
