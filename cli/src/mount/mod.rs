//! `arca mount`: a namespace, or one directory of it, as a local directory
//! over FUSE, so real tools (git, pytest, tar, compilers) run on it. The
//! mount is a client of the gRPC API like any other: it holds no state the
//! server does not, and what it may do is what its credential may do.
//!
//! - [`remote`]: the calls, and server statuses as errno values.
//! - [`inodes`]: inode numbers for paths, the entry and listing cache.
//! - [`handles`]: open files (ranged reads with read-ahead; writes spooled
//!   locally and committed with one streamed upload on close or fsync).
//! - [`fs`]: the mount's state and its operations; [`kernel`]: the FUSE
//!   entry points over them.
//!
//! SIGINT and SIGTERM commit open files, then unmount; the mount asks the
//! kernel to unmount it when its process dies (`auto_unmount`), so a
//! killed mount leaves no hung mount point.

mod fs;
mod handles;
mod inodes;
mod kernel;
mod remote;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fuser::{MountOption, SessionACL};

use arca_client::{Client, ClientError};

/// How long a signalled mount waits for its session to end after the
/// unmount before it exits anyway.
const UNMOUNT_WAIT: Duration = Duration::from_secs(3);

/// How a namespace is mounted.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// The namespace id.
    pub namespace: String,
    /// The directory of the namespace to mount ("" for its root).
    pub root: String,
    /// Refuse every change with EROFS.
    pub read_only: bool,
    /// How long entries and listings are trusted before asking again
    /// (changes by other clients show within it; the mount's own at once).
    pub cache_ttl: Duration,
    /// Where open files are spooled (the system's temporary directory
    /// when absent).
    pub spool_dir: Option<PathBuf>,
    /// Deadline of each metadata call: past it, the operation fails with
    /// EIO and the mount goes on.
    pub call_timeout: Duration,
}

impl MountOptions {
    /// Options for `namespace`, read-write, with a one-second cache.
    pub fn new(namespace: impl Into<String>) -> Self {
        MountOptions {
            namespace: namespace.into(),
            root: String::new(),
            read_only: false,
            cache_ttl: Duration::from_secs(1),
            spool_dir: None,
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a mount could not start.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The server refused the namespace or path, or could not be reached.
    #[error("{0}")]
    Remote(#[from] ClientError),
    /// The mounted path is a file.
    #[error("{0} is a file: mount a namespace or one of its directories")]
    NotADirectory(String),
    /// FUSE refused (no /dev/fuse, no fusermount3, a busy mount point).
    #[error("mounting: {0}")]
    Fuse(std::io::Error),
}

/// Mounts the namespace at `mountpoint` and serves it until SIGINT or
/// SIGTERM (open files are committed first) or until it is unmounted from
/// outside (`fusermount3 -u`). `ready` is called once the mount is live.
pub async fn mount(
    client: Client,
    options: MountOptions,
    mountpoint: &Path,
    ready: impl FnOnce(),
) -> Result<(), MountError> {
    let root = options.root.trim_matches('/').to_owned();
    let remote = remote::Remote::new(
        client,
        options.namespace.clone(),
        root.clone(),
        options.call_timeout,
    );
    // Refuse at once what could never work: a namespace the credential
    // cannot read, a path that is not a directory.
    let top = remote.stat("").await?;
    if !inodes::is_dir(&top) {
        return Err(MountError::NotADirectory(root));
    }
    // The server's access rules, asked once: a namespace this credential
    // may only read refuses changes at open, not at close (shells ignore
    // errors of close).
    let denied = !remote.namespace().await?.writable;
    let spool_dir = options.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
    let state = Arc::new(fs::State::new(
        remote,
        tokio::runtime::Handle::current(),
        options.cache_ttl,
        options.read_only,
        denied,
        spool_dir,
    ));
    let mut mount_options = vec![
        MountOption::FSName(format!("arca:{}", options.namespace)),
        MountOption::Subtype("arca".into()),
        MountOption::AutoUnmount,
        MountOption::DefaultPermissions,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    mount_options.push(if options.read_only {
        MountOption::RO
    } else {
        MountOption::RW
    });
    let mut config = fuser::Config::default();
    config.mount_options = mount_options;
    // auto_unmount needs allow_other or allow_root: the owner and root
    // only (fuser checks each request's uid).
    config.acl = SessionACL::RootAndOwner;
    config.n_threads = Some(4);
    let mountpoint = mountpoint.to_owned();
    let mountpoint_shown = mountpoint.clone();
    let session = {
        let fs = kernel::MountFs(state.clone());
        tokio::task::spawn_blocking(move || fuser::Session::new(fs, &mountpoint, &config))
            .await
            .map_err(|e| MountError::Fuse(std::io::Error::other(e)))?
            .map_err(MountError::Fuse)?
    };
    let _watchdog = unmount_when_gone(&mountpoint_shown);
    let mut session = session;
    let mut unmounter = session.unmount_callable();
    // Its own thread, not the runtime's blocking pool: the runtime waits
    // for that pool at exit, and a detached session with a file still held
    // open would keep the process alive.
    let (done, mut served) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("arca-fuse".into())
        .spawn(move || {
            let _ = done.send(session.run());
        })
        .map_err(MountError::Fuse)?;
    ready();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(MountError::Fuse)?;
    let ended = tokio::select! {
        result = &mut served => Some(result),
        _ = tokio::signal::ctrl_c() => None,
        _ = terminate.recv() => None,
    };
    let result = match ended {
        Some(result) => result,
        None => {
            // A signal: commit open files, then unmount; the session ends.
            let state = state.clone();
            let at = mountpoint_shown.clone();
            tokio::task::spawn_blocking(move || {
                let failed = state.commit_all();
                if failed > 0 {
                    eprintln!("arca mount: {failed} open file(s) could not be saved");
                }
                detach(&at, &mut unmounter);
            })
            .await
            .map_err(|e| MountError::Fuse(std::io::Error::other(e)))?;
            // A process that still holds a file keeps the detached
            // connection alive; it loses it when this process exits.
            match tokio::time::timeout(UNMOUNT_WAIT, served).await {
                Ok(result) => result,
                Err(_) => Ok(Ok(())),
            }
        }
    };
    match result {
        Ok(ended) => ended.map_err(MountError::Fuse),
        // The session thread ended without a word: it panicked.
        Err(_) => Err(MountError::Fuse(std::io::Error::other(
            "the FUSE session ended unexpectedly",
        ))),
    }
}

/// A second guard against a hung mount point after `kill -9`, besides
/// fusermount3's auto-unmount: its helper gives up when the mount process
/// dies while a request is in flight (it then finds the mount neither
/// alive nor disconnected; seen here under load). A detached shell waits
/// for EOF on a pipe only this process holds, then unmounts lazily; the
/// pipe closes however this process ends. After a clean exit the mount is
/// already gone and the unmount is a quiet no-op.
fn unmount_when_gone(mountpoint: &Path) -> Option<std::process::ChildStdin> {
    let script = "read -r _; exec fusermount3 -u -z -q -- \"$0\" 2>/dev/null";
    let spawn = |detach: bool| {
        let mut command = if detach {
            let mut c = std::process::Command::new("setsid");
            c.arg("sh");
            c
        } else {
            std::process::Command::new("sh")
        };
        command
            .arg("-c")
            .arg(script)
            .arg(mountpoint)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
    };
    // Its own session, so a signal to this process group spares it.
    let mut child = spawn(true).or_else(|_| spawn(false)).ok()?;
    child.stdin.take()
}

/// Unmounts even while files are open (a lazy unmount: the mount point is
/// free at once, open files keep working until closed or until this
/// process exits). fuser's own unmount hands the job to the auto-unmount
/// helper, which gives up on a busy mount point and would then not be
/// there to clean up after a crash.
fn detach(mountpoint: &Path, unmounter: &mut fuser::SessionUnmounter) {
    let lazy = std::process::Command::new("fusermount3")
        .args(["-u", "-z", "-q", "--"])
        .arg(mountpoint)
        .status();
    if !lazy.is_ok_and(|s| s.success())
        && let Err(e) = unmounter.unmount()
    {
        eprintln!("arca mount: unmounting: {e}");
    }
}
