//! `arca`: the command line for an Arca server.
//!
//! Remote paths are written `NAMESPACE:PATH` (`PATH` defaults to the root),
//! like scp. The address comes from `--addr` or `ARCA_ADDR` (default
//! `http://127.0.0.1:7420`); the credential from `--token`, `ARCA_TOKEN`, a
//! token file (`--token-file`, `ARCA_TOKEN_FILE`), or else the admin key a
//! local server writes on first start (`./arca-data/admin.key`). TLS: an
//! `https://` address trusts the system roots, `--ca-file` / `ARCA_CA_FILE`
//! a custom CA. Progress bars show on a terminal only; `--json` prints machine-readable results.
//! Errors are one line on stderr, with an exit code per kind of failure.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use arca_client::{Client, ClientError, TransferOptions, pb};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tonic::Code;

#[derive(Parser)]
#[command(
    name = "arca",
    version,
    about = "Command line for the Arca storage service"
)]
struct Cli {
    /// Server address.
    #[arg(
        long,
        env = "ARCA_ADDR",
        default_value = "http://127.0.0.1:7420",
        global = true
    )]
    addr: String,
    /// API key or session token.
    #[arg(long, env = "ARCA_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// A file holding the API key or session token.
    #[arg(long, env = "ARCA_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    /// PEM CA to trust for TLS (implies TLS); an https:// address without
    /// it trusts the system's roots.
    #[arg(long, env = "ARCA_CA_FILE", global = true)]
    ca_file: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Namespaces.
    #[command(subcommand)]
    Ns(NsCommand),
    /// Upload a file (or, with -r, a directory tree).
    Put {
        /// Local file or directory.
        local: PathBuf,
        /// NAMESPACE:PATH to write.
        remote: String,
        /// Upload a directory tree.
        #[arg(short, long)]
        recursive: bool,
        /// MIME type.
        #[arg(long, default_value = "")]
        mime: String,
    },
    /// Download a file (or, with -r, a directory tree).
    Get {
        /// NAMESPACE:PATH to read.
        remote: String,
        /// Local file or directory.
        local: PathBuf,
        /// Download a directory tree.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Print a file to stdout.
    Cat {
        /// NAMESPACE:PATH.
        remote: String,
    },
    /// List a directory.
    Ls {
        /// NAMESPACE[:PATH].
        remote: String,
        /// The whole subtree.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Show one entry.
    Stat {
        /// NAMESPACE:PATH.
        remote: String,
    },
    /// Create a directory.
    Mkdir {
        /// NAMESPACE:PATH.
        remote: String,
        /// Create parents; succeed if it exists.
        #[arg(short, long)]
        parents: bool,
    },
    /// Remove a file or directory.
    Rm {
        /// NAMESPACE:PATH.
        remote: String,
        /// Remove a directory with its content.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Move (rename) within a namespace.
    Mv {
        /// NAMESPACE:SOURCE.
        source: String,
        /// Destination path.
        destination: String,
        /// Replace an existing file.
        #[arg(short, long)]
        force: bool,
    },
    /// Copy within a namespace (metadata only).
    Cp {
        /// NAMESPACE:SOURCE.
        source: String,
        /// Destination path.
        destination: String,
        /// Replace an existing file.
        #[arg(short, long)]
        force: bool,
    },
    /// Find files by glob.
    Find {
        /// NAMESPACE[:PATH] to search under.
        remote: String,
        /// Glob, e.g. `**/*.py`.
        pattern: String,
        /// MIME type prefix.
        #[arg(long, default_value = "")]
        mime: String,
        /// Metadata KEY=VALUE the files must have.
        #[arg(long = "meta", value_parser = key_value)]
        metadata: Vec<(String, String)>,
    },
    /// File metadata.
    #[command(subcommand)]
    Meta(MetaCommand),
    /// Checkpoints.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Sessions.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Presigned URLs, to move a file with plain HTTP (curl, a browser).
    #[command(subcommand)]
    Presign(PresignCommand),
    /// Usage and backend state (admin keys).
    Stats {
        /// Only this sandbox.
        #[arg(long)]
        sandbox: Option<String>,
    },
    /// Mount a namespace (or one directory of it) as a local directory
    /// over FUSE, until Ctrl-C or SIGTERM (open files are saved first).
    Mount {
        /// NAMESPACE[:PATH] to mount.
        remote: String,
        /// Where (an existing, empty directory).
        mountpoint: PathBuf,
        /// Refuse every change with EROFS.
        #[arg(long)]
        read_only: bool,
        /// Seconds entries and listings are trusted before asking the
        /// server again (the mount's own changes show at once).
        #[arg(long, default_value_t = 1.0)]
        cache_ttl: f64,
        /// Where open files are spooled (default: the temporary directory).
        #[arg(long)]
        spool_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PresignCommand {
    /// Print a URL that downloads a file with GET (Range requests work).
    Get {
        /// NAMESPACE:PATH.
        remote: String,
        /// Seconds the URL stays valid (900, 3600, 86400, ... up to the
        /// server's maximum).
        #[arg(long, default_value_t = 3600)]
        expires: u32,
    },
    /// Print the upload id and the URL(s) to PUT a file's content to; then
    /// run `arca presign finalize`.
    Put {
        /// NAMESPACE:PATH.
        remote: String,
        /// The file's size in bytes (checked at finalize; on S3 a large size
        /// gets one URL per part).
        #[arg(long)]
        size: Option<u64>,
        /// Seconds the URLs stay valid.
        #[arg(long, default_value_t = 3600)]
        expires: u32,
    },
    /// Verify and commit a presigned upload.
    Finalize {
        /// The upload id `arca presign put` printed.
        upload_id: String,
        /// The expected SHA-256 (lowercase hex).
        #[arg(long)]
        sha256: Option<String>,
        /// For a multipart plan: NUMBER=ETAG of each part, from the ETag
        /// header each part's PUT answered with.
        #[arg(long = "part", value_parser = part_etag)]
        parts: Vec<(u32, String)>,
    },
}

#[derive(Subcommand)]
enum NsCommand {
    /// Create a namespace.
    Create {
        /// BLOB or WORKSPACE.
        #[arg(long = "type", value_enum, default_value = "workspace")]
        ns_type: NsType,
        /// SESSION, USER or SANDBOX.
        #[arg(long, value_enum, default_value = "user")]
        scope: ScopeArg,
        /// The user (keys act for one; a session token is its own).
        #[arg(long, default_value = "")]
        user: String,
        /// The session (SESSION scope).
        #[arg(long, default_value = "")]
        session: String,
        /// The sandbox (default: the credential's).
        #[arg(long, default_value = "")]
        sandbox: String,
        /// A name.
        #[arg(long, default_value = "")]
        name: String,
        /// Time to live in seconds.
        #[arg(long)]
        ttl: Option<u64>,
        /// Metadata KEY=VALUE.
        #[arg(long = "meta", value_parser = key_value)]
        metadata: Vec<(String, String)>,
    },
    /// List namespaces.
    Ls {
        /// Only this user's.
        #[arg(long, default_value = "")]
        user: String,
    },
    /// Show a namespace.
    Info {
        /// The namespace id.
        namespace: String,
    },
    /// Destroy a namespace and its content.
    Rm {
        /// The namespace id.
        namespace: String,
    },
}

#[derive(Subcommand)]
enum MetaCommand {
    /// Show an entry's metadata.
    Get {
        /// NAMESPACE:PATH.
        remote: String,
    },
    /// Set metadata KEY=VALUE pairs (merged unless --replace).
    Set {
        /// NAMESPACE:PATH.
        remote: String,
        /// KEY=VALUE pairs.
        #[arg(value_parser = key_value)]
        pairs: Vec<(String, String)>,
        /// Replace the whole map.
        #[arg(long)]
        replace: bool,
        /// Keys to remove.
        #[arg(long)]
        remove: Vec<String>,
    },
}

#[derive(Subcommand)]
enum CheckpointCommand {
    /// Snapshot a namespace.
    Create {
        /// The namespace id.
        namespace: String,
        /// A name.
        #[arg(long, default_value = "")]
        name: String,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List a namespace's checkpoints.
    Ls {
        /// The namespace id.
        namespace: String,
    },
    /// Make the live tree exactly a checkpoint's.
    Restore {
        /// The namespace id.
        namespace: String,
        /// The checkpoint id.
        checkpoint: String,
    },
    /// Delete a checkpoint.
    Rm {
        /// The namespace id.
        namespace: String,
        /// The checkpoint id.
        checkpoint: String,
    },
    /// Paths added, removed and changed since a checkpoint.
    Diff {
        /// The namespace id.
        namespace: String,
        /// The older checkpoint.
        from: String,
        /// The newer checkpoint (default: the live tree).
        to: Option<String>,
    },
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Open a session for a user; prints its id and token.
    Open {
        /// The user.
        user: String,
        /// Lease in seconds.
        #[arg(long)]
        ttl: Option<u64>,
        /// A name (a conversation or workflow id): opening it again while
        /// its session lives returns that session with a new token.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Renew a session (default: the caller's own).
    Renew {
        /// The session id.
        session: Option<String>,
        /// Lease in seconds.
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Close a session and destroy its namespaces.
    Close {
        /// The session id (default: the caller's own).
        session: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum NsType {
    Blob,
    Workspace,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    Session,
    User,
    Sandbox,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// A scope's proto name, for display.
fn scope_name(scope: i32) -> &'static str {
    pb::Scope::try_from(scope).map_or("?", |s| s.as_str_name())
}

fn part_etag(s: &str) -> Result<(u32, String), String> {
    let (number, etag) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NUMBER=ETAG, got {s:?}"))?;
    let number = number
        .parse()
        .map_err(|_| format!("{number:?} is not a part number"))?;
    Ok((number, etag.to_owned()))
}

/// `NAMESPACE:PATH` → (namespace, path).
fn remote(spec: &str) -> (String, String) {
    match spec.split_once(':') {
        Some((ns, path)) => (ns.to_owned(), path.to_owned()),
        None => (spec.to_owned(), String::new()),
    }
}

fn seconds(s: Option<u64>) -> Option<prost_types::Duration> {
    s.map(|seconds| prost_types::Duration {
        seconds: seconds as i64,
        nanos: 0,
    })
}

/// A failure and its exit code.
struct Failure {
    code: u8,
    message: String,
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
fn status_exit_code(code: Code) -> u8 {
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

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn entry_json(e: &pb::Entry) -> Value {
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

fn namespace_json(n: &pb::Namespace) -> Value {
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

fn checkpoint_json(c: &pb::Checkpoint) -> Value {
    json!({
        "checkpoint_id": c.checkpoint_id,
        "name": c.name,
        "description": c.description,
        "entry_count": c.entry_count,
        "file_count": c.file_count,
        "total_bytes": c.total_bytes,
    })
}

struct Out {
    json: bool,
}

impl Out {
    /// Prints `value` as JSON, or `text` for people.
    fn show(&self, value: Value, text: impl FnOnce() -> String) {
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

fn progress_bar(total: u64, label: &str) -> ProgressBar {
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

fn options_with(bar: &ProgressBar) -> TransferOptions {
    let bar = bar.clone();
    TransferOptions {
        progress: Some(Arc::new(move |n| bar.set_position(n))),
        ..TransferOptions::default()
    }
}

/// The address to dial and its TLS settings: a CA file (flag or
/// `ARCA_CA_FILE`) means TLS trusting that CA; an `https://` address without
/// one trusts the system's roots; `http://` is plaintext.
fn tls_for(cli: &Cli) -> Result<(String, Option<tonic::transport::ClientTlsConfig>), Failure> {
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

fn token(cli: &Cli) -> Result<Option<String>, Failure> {
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

async fn put_one(
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

async fn get_one(
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

async fn list_all(
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

async fn run(cli: Cli) -> Result<(), Failure> {
    let out = Out { json: cli.json };
    let (addr, tls) = tls_for(&cli)?;
    let client = Client::connect_with(
        addr,
        arca_client::ConnectOptions {
            secret: token(&cli)?,
            tls,
        },
    )
    .await
    .map_err(|e| fail(7, format!("cannot reach {}: {e}", cli.addr)))?;
    let mut files = client.files.clone();
    match cli.command {
        Command::Ns(NsCommand::Create {
            ns_type,
            scope,
            user,
            session,
            sandbox,
            name,
            ttl,
            metadata,
        }) => {
            let request = pb::CreateNamespaceRequest {
                r#type: match ns_type {
                    NsType::Blob => pb::NamespaceType::Blob,
                    NsType::Workspace => pb::NamespaceType::Workspace,
                } as i32,
                scope: match scope {
                    ScopeArg::Session => pb::Scope::Session,
                    ScopeArg::User => pb::Scope::User,
                    ScopeArg::Sandbox => pb::Scope::Sandbox,
                } as i32,
                owner: Some(pb::Owner {
                    sandbox,
                    user,
                    session,
                }),
                summary: String::new(),
                initial_file: None,
                name,
                metadata: metadata.into_iter().collect(),
                ttl: seconds(ttl),
                backend: String::new(),
            };
            let ns = client
                .namespaces
                .clone()
                .create_namespace(request)
                .await?
                .into_inner();
            out.show(namespace_json(&ns), || ns.namespace_id.clone());
        }
        Command::Ns(NsCommand::Ls { user }) => {
            let mut all = Vec::new();
            let mut token = String::new();
            loop {
                let page = client
                    .namespaces
                    .clone()
                    .list_namespaces(pb::ListNamespacesRequest {
                        user: user.clone(),
                        page_token: token,
                        page_size: 1000,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                all.extend(page.namespaces);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            out.show(
                Value::Array(all.iter().map(namespace_json).collect()),
                || {
                    all.iter()
                        .map(|n| {
                            let owner = n.owner.clone().unwrap_or_default();
                            let scope = scope_name(n.scope);
                            format!(
                                "{}  {:<13} {:<10} {:>10}  {}",
                                n.namespace_id, scope, owner.user, n.total_bytes, n.name
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        Command::Ns(NsCommand::Info { namespace }) => {
            let ns = client
                .namespaces
                .clone()
                .get_namespace(pb::GetNamespaceRequest {
                    namespace_id: namespace,
                })
                .await?
                .into_inner();
            let value = namespace_json(&ns);
            out.show(value.clone(), || {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            });
        }
        Command::Ns(NsCommand::Rm { namespace }) => {
            let gone = client
                .namespaces
                .clone()
                .destroy_namespace(pb::DestroyNamespaceRequest {
                    namespace_id: namespace,
                })
                .await?
                .into_inner();
            out.show(
                json!({"files_removed": gone.files_removed, "bytes_removed": gone.bytes_removed}),
                || {
                    format!(
                        "destroyed: {} files, {} bytes",
                        gone.files_removed, gone.bytes_removed
                    )
                },
            );
        }
        Command::Put {
            local,
            remote: spec,
            recursive,
            mime,
        } => {
            let (ns, path) = remote(&spec);
            if recursive {
                let done = client
                    .upload_tree(&ns, &local, &path, 4, &TransferOptions::default())
                    .await?;
                out.show(Value::Array(done.iter().map(entry_json).collect()), || {
                    format!("uploaded {} files", done.len())
                });
            } else {
                let target = if path.is_empty() || path.ends_with('/') {
                    join_remote(
                        &path,
                        &local
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    )
                } else {
                    path
                };
                let entry = put_one(&client, &ns, &target, &local, &mime).await?;
                out.show(entry_json(&entry), || {
                    format!(
                        "{}  {} bytes  sha256 {}",
                        entry.path, entry.size, entry.sha256
                    )
                });
            }
        }
        Command::Get {
            remote: spec,
            local,
            recursive,
        } => {
            let (ns, path) = remote(&spec);
            if recursive {
                let done = client
                    .download_tree(&ns, &path, &local, 4, &TransferOptions::default())
                    .await?;
                out.show(json!({"files": done.len()}), || {
                    format!("downloaded {} files", done.len())
                });
            } else {
                let entry = files
                    .stat(pb::StatRequest {
                        namespace_id: ns.clone(),
                        path: path.clone(),
                    })
                    .await?
                    .into_inner();
                let target = if local.is_dir() {
                    local.join(entry.path.rsplit('/').next().unwrap_or("file"))
                } else {
                    local
                };
                get_one(&client, &ns, &path, &target, entry.size).await?;
                out.show(entry_json(&entry), String::new);
            }
        }
        Command::Cat { remote: spec } => {
            let (ns, path) = remote(&spec);
            let mut stdout = tokio::io::stdout();
            let request = pb::DownloadRequest {
                namespace_id: ns,
                path,
                ..Default::default()
            };
            client
                .download_into(request, &mut stdout, &TransferOptions::default())
                .await?;
        }
        Command::Ls {
            remote: spec,
            recursive,
        } => {
            let (ns, path) = remote(&spec);
            let entries = list_all(&client, &ns, &path, recursive).await?;
            out.show(
                Value::Array(entries.iter().map(entry_json).collect()),
                || {
                    entries
                        .iter()
                        .map(|e| {
                            if e.kind == pb::EntryKind::Directory as i32 {
                                format!("{:>12}  {}/", "-", e.path)
                            } else {
                                format!("{:>12}  {}", e.size, e.path)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        Command::Stat { remote: spec } => {
            let (ns, path) = remote(&spec);
            let entry = files
                .stat(pb::StatRequest {
                    namespace_id: ns,
                    path,
                })
                .await?
                .into_inner();
            let value = entry_json(&entry);
            out.show(value.clone(), || {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            });
        }
        Command::Mkdir {
            remote: spec,
            parents,
        } => {
            let (ns, path) = remote(&spec);
            let entry = files
                .mkdir(pb::MkdirRequest {
                    namespace_id: ns,
                    path,
                    parents,
                    exist_ok: parents,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        Command::Rm {
            remote: spec,
            recursive,
        } => {
            let (ns, path) = remote(&spec);
            let removed = files
                .remove(pb::RemoveRequest {
                    namespace_id: ns,
                    path,
                    recursive,
                })
                .await?
                .into_inner();
            out.show(
                json!({"entries_removed": removed.entries_removed}),
                String::new,
            );
        }
        Command::Mv {
            source,
            destination,
            force,
        } => {
            let (ns, src) = remote(&source);
            let entry = files
                .r#move(pb::MoveRequest {
                    namespace_id: ns,
                    source: src,
                    destination,
                    overwrite: force,
                    parents: true,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        Command::Cp {
            source,
            destination,
            force,
        } => {
            let (ns, src) = remote(&source);
            let entry = files
                .copy(pb::CopyRequest {
                    namespace_id: ns,
                    source: src,
                    destination,
                    overwrite: force,
                    parents: true,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        Command::Find {
            remote: spec,
            pattern,
            mime,
            metadata,
        } => {
            let (ns, path) = remote(&spec);
            let mut found = Vec::new();
            let mut token = String::new();
            loop {
                let page = files
                    .find(pb::FindRequest {
                        namespace_id: ns.clone(),
                        path: path.clone(),
                        pattern: pattern.clone(),
                        mime_prefix: mime.clone(),
                        metadata: metadata.iter().cloned().collect(),
                        page_size: 10_000,
                        page_token: token,
                    })
                    .await?
                    .into_inner();
                found.extend(page.entries);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            out.show(Value::Array(found.iter().map(entry_json).collect()), || {
                found
                    .iter()
                    .map(|e| e.path.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Meta(MetaCommand::Get { remote: spec }) => {
            let (ns, path) = remote(&spec);
            let meta = files
                .get_metadata(pb::GetMetadataRequest {
                    namespace_id: ns,
                    path,
                })
                .await?
                .into_inner();
            let sorted: std::collections::BTreeMap<_, _> = meta.metadata.iter().collect();
            out.show(json!({"metadata": meta.metadata, "version": meta.version, "mime_type": meta.mime_type}), || {
                sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
            });
        }
        Command::Meta(MetaCommand::Set {
            remote: spec,
            pairs,
            replace,
            remove,
        }) => {
            let (ns, path) = remote(&spec);
            let mode = if replace {
                pb::MetadataUpdateMode::Replace
            } else {
                pb::MetadataUpdateMode::Merge
            };
            let metadata: HashMap<String, String> = pairs.into_iter().collect();
            let entry = files
                .set_metadata(pb::SetMetadataRequest {
                    namespace_id: ns,
                    path,
                    mode: mode as i32,
                    metadata,
                    remove_keys: remove,
                    if_version_match: None,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        Command::Checkpoint(command) => {
            let mut checkpoints = client.checkpoints.clone();
            match command {
                CheckpointCommand::Create {
                    namespace,
                    name,
                    description,
                } => {
                    let cp = checkpoints
                        .create_checkpoint(pb::CreateCheckpointRequest {
                            namespace_id: namespace,
                            name,
                            description,
                        })
                        .await?
                        .into_inner();
                    out.show(checkpoint_json(&cp), || cp.checkpoint_id.clone());
                }
                CheckpointCommand::Ls { namespace } => {
                    let list = checkpoints
                        .list_checkpoints(pb::ListCheckpointsRequest {
                            namespace_id: namespace,
                            page_size: 1000,
                            page_token: String::new(),
                        })
                        .await?
                        .into_inner();
                    out.show(
                        Value::Array(list.checkpoints.iter().map(checkpoint_json).collect()),
                        || {
                            list.checkpoints
                                .iter()
                                .map(|c| {
                                    format!(
                                        "{}  {:>6} entries  {:>10} bytes  {}",
                                        c.checkpoint_id, c.entry_count, c.total_bytes, c.name
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("\n")
                        },
                    );
                }
                CheckpointCommand::Restore {
                    namespace,
                    checkpoint,
                } => {
                    let restored = checkpoints
                        .restore_checkpoint(pb::RestoreCheckpointRequest {
                            namespace_id: namespace,
                            checkpoint_id: checkpoint,
                        })
                        .await?
                        .into_inner();
                    out.show(json!({"entry_count": restored.entry_count}), || {
                        format!("restored: {} entries", restored.entry_count)
                    });
                }
                CheckpointCommand::Rm {
                    namespace,
                    checkpoint,
                } => {
                    checkpoints
                        .delete_checkpoint(pb::DeleteCheckpointRequest {
                            namespace_id: namespace,
                            checkpoint_id: checkpoint,
                        })
                        .await?;
                    out.show(json!({}), String::new);
                }
                CheckpointCommand::Diff {
                    namespace,
                    from,
                    to,
                } => {
                    let diff = checkpoints
                        .diff_checkpoints(pb::DiffCheckpointsRequest {
                            namespace_id: namespace,
                            from_checkpoint_id: from,
                            to_checkpoint_id: to.unwrap_or_default(),
                        })
                        .await?
                        .into_inner();
                    let paths =
                        |l: &[pb::PathChange]| l.iter().map(|c| c.path.clone()).collect::<Vec<_>>();
                    let value = json!({"added": paths(&diff.added), "removed": paths(&diff.removed), "changed": paths(&diff.changed)});
                    out.show(value, || {
                        let mut lines = Vec::new();
                        lines.extend(diff.added.iter().map(|c| format!("+ {}", c.path)));
                        lines.extend(diff.removed.iter().map(|c| format!("- {}", c.path)));
                        lines.extend(diff.changed.iter().map(|c| format!("~ {}", c.path)));
                        lines.join("\n")
                    });
                }
            }
        }
        Command::Mount {
            remote: spec,
            mountpoint,
            read_only,
            cache_ttl,
            spool_dir,
        } => {
            use arca_client::mount::{MountError, MountOptions, mount};
            let (namespace, root) = remote(&spec);
            let mut options = MountOptions::new(namespace);
            options.root = root;
            options.read_only = read_only;
            options.cache_ttl = std::time::Duration::from_secs_f64(cache_ttl.clamp(0.0, 86_400.0));
            options.spool_dir = spool_dir;
            let shown = mountpoint.display().to_string();
            let ready = || eprintln!("mounted {spec} at {shown}; Ctrl-C or SIGTERM unmounts");
            mount(client.clone(), options, &mountpoint, ready)
                .await
                .map_err(|e| match e {
                    MountError::Remote(e) => e.into(),
                    MountError::NotADirectory(_) => fail(6, e.to_string()),
                    MountError::Fuse(_) => fail(10, e.to_string()),
                })?;
        }
        Command::Stats { sandbox } => {
            let stats = client
                .admin
                .clone()
                .get_stats(pb::GetStatsRequest {
                    sandbox: sandbox.unwrap_or_default(),
                })
                .await?
                .into_inner();
            let usage: Vec<Value> = stats
                .usage
                .iter()
                .map(|u| {
                    json!({
                        "sandbox": u.sandbox, "backend": u.backend,
                        "scope": scope_name(u.scope),
                        "namespaces": u.namespaces, "files": u.files, "bytes": u.bytes,
                        "stored_objects": u.stored_objects, "stored_bytes": u.stored_bytes,
                    })
                })
                .collect();
            let backends: Vec<Value> = stats
                .backends
                .iter()
                .map(|b| json!({"name": b.name, "kind": b.kind, "reachable": b.reachable, "location": b.location}))
                .collect();
            out.show(
                json!({
                    "usage": usage, "backends": backends,
                    "active_sessions": stats.active_sessions,
                    "uploads_in_progress": stats.uploads_in_progress,
                    "checkpoints": stats.checkpoints,
                    "metadata_bytes": stats.metadata_bytes,
                    "version": stats.version,
                }),
                || {
                    let mut text =
                        String::from("SANDBOX\tBACKEND\tSCOPE\tNAMESPACES\tFILES\tBYTES\tSTORED");
                    for u in &stats.usage {
                        let scope = scope_name(u.scope);
                        text.push_str(&format!(
                            "\n{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            u.sandbox,
                            u.backend,
                            scope,
                            u.namespaces,
                            u.files,
                            u.bytes,
                            u.stored_bytes
                        ));
                    }
                    for b in &stats.backends {
                        let state = if b.reachable {
                            "reachable"
                        } else {
                            "UNREACHABLE"
                        };
                        text.push_str(&format!("\nbackend {} ({}): {state}", b.name, b.kind));
                    }
                    text.push_str(&format!(
                        "\nsessions {}, uploads in progress {}, checkpoints {}",
                        stats.active_sessions, stats.uploads_in_progress, stats.checkpoints
                    ));
                    text
                },
            );
        }
        Command::Presign(command) => match command {
            PresignCommand::Get {
                remote: spec,
                expires,
            } => {
                let (ns, path) = remote(&spec);
                let signed = client
                    .presign_download(
                        &ns,
                        &path,
                        std::time::Duration::from_secs(u64::from(expires)),
                    )
                    .await?;
                out.show(
                    json!({
                        "url": signed.url,
                        "method": signed.method,
                        "expires_at": signed.expires_at.map(|t| t.seconds),
                    }),
                    || signed.url.clone(),
                );
            }
            PresignCommand::Put {
                remote: spec,
                size,
                expires,
            } => {
                let (ns, path) = remote(&spec);
                let plan = client
                    .presign_upload(
                        &ns,
                        &path,
                        size,
                        std::time::Duration::from_secs(u64::from(expires)),
                    )
                    .await?;
                let parts: Vec<Value> = plan
                    .parts
                    .iter()
                    .map(|p| {
                        json!({"part_number": p.part_number, "url": p.url, "offset": p.offset, "length": p.length})
                    })
                    .collect();
                out.show(
                    json!({
                        "upload_id": plan.upload_id,
                        "method": plan.method,
                        "parts": parts,
                        "headers": plan.headers,
                        "expires_at": plan.expires_at.map(|t| t.seconds),
                        "finalize_by": plan.finalize_by.map(|t| t.seconds),
                    }),
                    || {
                        let mut text = plan.upload_id.clone();
                        for part in &plan.parts {
                            text.push_str(&format!("\n{} {}", plan.method, part.url));
                        }
                        text
                    },
                );
            }
            PresignCommand::Finalize {
                upload_id,
                sha256,
                parts,
            } => {
                let parts = parts
                    .into_iter()
                    .map(|(part_number, etag)| pb::UploadedPart { part_number, etag })
                    .collect();
                let entry = client
                    .finalize_upload(&upload_id, sha256.as_deref(), parts)
                    .await?;
                out.show(entry_json(&entry), || {
                    format!("{} {} {}", entry.path, entry.size, entry.sha256)
                });
            }
        },
        Command::Session(command) => {
            let mut sessions = client.sessions.clone();
            match command {
                SessionCommand::Open { user, ttl, name } => {
                    let opened = sessions
                        .open_session(pb::OpenSessionRequest {
                            user,
                            ttl: seconds(ttl),
                            sandbox: String::new(),
                            name,
                        })
                        .await?
                        .into_inner();
                    let id = opened.session.map(|s| s.session_id).unwrap_or_default();
                    let shown = json!({"session_id": id, "token": opened.token, "reopened": opened.reopened});
                    out.show(shown, || format!("{id}\n{}", opened.token));
                }
                SessionCommand::Renew { session, ttl } => {
                    let renewed = sessions
                        .renew_session(pb::RenewSessionRequest {
                            session_id: session.unwrap_or_default(),
                            ttl: seconds(ttl),
                        })
                        .await?
                        .into_inner();
                    out.show(json!({"session_id": renewed.session_id}), String::new);
                }
                SessionCommand::Close { session } => {
                    let closed = sessions
                        .close_session(pb::CloseSessionRequest {
                            session_id: session.unwrap_or_default(),
                        })
                        .await?
                        .into_inner();
                    out.show(
                        json!({"namespaces_destroyed": closed.namespaces_destroyed}),
                        String::new,
                    );
                }
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("arca: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn join_remote(base: &str, rel: &str) -> String {
    let base = base.trim_matches('/');
    if base.is_empty() {
        rel.to_owned()
    } else {
        format!("{base}/{rel}")
    }
}
