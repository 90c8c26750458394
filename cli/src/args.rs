//! The command line's grammar: every command, subcommand, flag and the
//! parsers of its values (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "arca",
    version,
    about = "Command line for the Arca storage service"
)]
pub(crate) struct Cli {
    /// Server address.
    #[arg(
        long,
        env = "ARCA_ADDR",
        default_value = "http://127.0.0.1:7420",
        global = true
    )]
    pub(crate) addr: String,
    /// API key or session token.
    #[arg(long, env = "ARCA_TOKEN", hide_env_values = true, global = true)]
    pub(crate) token: Option<String>,
    /// A file holding the API key or session token.
    #[arg(long, env = "ARCA_TOKEN_FILE", global = true)]
    pub(crate) token_file: Option<PathBuf>,
    /// PEM CA to trust for TLS (implies TLS); an https:// address without
    /// it trusts the system's roots.
    #[arg(long, env = "ARCA_CA_FILE", global = true)]
    pub(crate) ca_file: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Namespaces.
    #[command(subcommand)]
    Ns(NsCommand),
    #[command(flatten)]
    Files(FileCommand),
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
    /// Write a namespace (or NS@CHECKPOINT) as a tar archive ('-' for
    /// standard output).
    Export {
        /// NAMESPACE or NAMESPACE@CHECKPOINT.
        source: String,
        /// The archive file to write.
        file: PathBuf,
    },
    /// Import a tar archive (plain or gzip; '-' for standard input) into
    /// NAMESPACE[:DIR], all of it or nothing.
    Import {
        /// NAMESPACE or NAMESPACE:DIR.
        target: String,
        /// The archive file to read.
        file: PathBuf,
        /// Replace files that exist at the archive's paths.
        #[arg(long)]
        overwrite: bool,
    },
    /// Print a namespace's changes as they commit (one line, or one JSON
    /// object, each), until Ctrl-C.
    Watch {
        /// The namespace.
        namespace: String,
        /// Resume after this revision (the last one printed); default:
        /// from now.
        #[arg(long)]
        since: Option<u64>,
        /// Only changes at or under this directory.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Only changes whose path matches this glob (`**` crosses '/').
        #[arg(long, default_value = "")]
        glob: String,
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

/// The file commands, at the top level (`arca put`, `arca ls`, ...).
#[derive(Subcommand)]
pub(crate) enum FileCommand {
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
        /// Put it in this namespace instead of the source's.
        #[arg(long = "to-namespace", default_value = "")]
        to_namespace: String,
    },
    /// Copy within a namespace or into another (metadata only within one
    /// sandbox and backend).
    Cp {
        /// NAMESPACE:SOURCE.
        source: String,
        /// Destination path.
        destination: String,
        /// Replace an existing file.
        #[arg(short, long)]
        force: bool,
        /// Put it in this namespace instead of the source's.
        #[arg(long = "to-namespace", default_value = "")]
        to_namespace: String,
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
}

#[derive(Subcommand)]
pub(crate) enum PresignCommand {
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
pub(crate) enum NsCommand {
    /// Create a namespace.
    Create {
        /// BLOB or WORKSPACE (default: WORKSPACE, or the source's with --from).
        #[arg(long = "type", value_enum)]
        ns_type: Option<NsType>,
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
        /// Fork this namespace (NAMESPACE, or NAMESPACE@CHECKPOINT): its
        /// tree is shared, not copied.
        #[arg(long)]
        from: Option<String>,
        /// A template variable NAME=VALUE for a fork of a template.
        #[arg(long = "var", value_parser = key_value)]
        variables: Vec<(String, String)>,
        /// Mark the namespace as a template.
        #[arg(long)]
        template: bool,
        /// An access profile preset: default, strict, readonly, untrusted
        /// or testing.
        #[arg(long)]
        profile: Option<String>,
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
pub(crate) enum MetaCommand {
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
pub(crate) enum CheckpointCommand {
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
pub(crate) enum SessionCommand {
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
pub(crate) enum NsType {
    Blob,
    Workspace,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScopeArg {
    Session,
    User,
    Sandbox,
}

pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

pub(crate) fn part_etag(s: &str) -> Result<(u32, String), String> {
    let (number, etag) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NUMBER=ETAG, got {s:?}"))?;
    let number = number
        .parse()
        .map_err(|_| format!("{number:?} is not a part number"))?;
    Ok((number, etag.to_owned()))
}
