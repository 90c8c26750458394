//! The filesystem backend: one file per object under a root directory.
//!
//! Commit discipline: a staged write goes to `{key}.partial` beside its final
//! place (the directory is fsynced once the file exists, so a suspended
//! upload survives a crash); `persist` starts an `fdatasync` on a duplicate
//! descriptor that runs while later chunks are written, and reports the
//! offset it covered once it has ended (`settle` waits for it); `complete` is
//! `fsync`, `rename` onto the key and `fsync` of the directory, so a
//! completed object is whole and durable or absent. Dropping an unfinished
//! writer removes its partial file. Keys are checked again here: a key with
//! an empty, `.` or `..` segment never reaches the filesystem.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

mod digest;
mod read;

use super::{BlobStore, ByteStream, StagedWrite};
use crate::error::{Error, Result, backend_io, not_found};

/// Suffix of staged (not yet completed) writes.
const PARTIAL: &str = ".partial";
/// Objects stored as files under a root directory.
#[derive(Clone)]
pub struct FsStore {
    root: PathBuf,
    dir_syncs: Arc<DirSyncs>,
}

/// Group commit of directory fsyncs: concurrent renames into one directory
/// (a namespace's objects) share one fsync instead of paying one each.
#[derive(Default)]
struct DirSyncs {
    dirs: Mutex<HashMap<PathBuf, Arc<DirSync>>>,
}

#[derive(Default)]
struct DirSync {
    state: Mutex<DirSyncState>,
    done: Condvar,
}

#[derive(Default)]
struct DirSyncState {
    /// Requests made so far; each is made after its rename finished.
    requested: u64,
    /// Every request up to this one is covered by a finished fsync.
    synced: u64,
    running: bool,
}

impl DirSyncs {
    /// Makes every rename into `dir` that finished before this call durable.
    fn sync(&self, dir: &Path) -> Result<()> {
        let entry = self
            .dirs
            .lock()
            .unwrap()
            .entry(dir.to_owned())
            .or_default()
            .clone();
        let result = entry.sync(dir);
        let mut dirs = self.dirs.lock().unwrap();
        // Only the map and this call hold it: nobody is waiting, drop it.
        if Arc::strong_count(&entry) == 2 {
            dirs.remove(dir);
        }
        result
    }
}

impl DirSync {
    fn sync(&self, dir: &Path) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        state.requested += 1;
        let mine = state.requested;
        loop {
            if state.synced >= mine {
                return Ok(());
            }
            if state.running {
                state = self.done.wait(state).unwrap();
                continue;
            }
            // An fsync started now covers every request made so far.
            state.running = true;
            let covers = state.requested;
            drop(state);
            let result = sync_dir(dir);
            state = self.state.lock().unwrap();
            state.running = false;
            if result.is_ok() {
                state.synced = state.synced.max(covers);
            }
            self.done.notify_all();
            result?;
        }
    }
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| backend_io("create backend root", e))?;
        Ok(FsStore {
            root: root.to_owned(),
            dir_syncs: Arc::default(),
        })
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        let valid = !key.is_empty()
            && !key.starts_with('/')
            && key
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\0'));
        if !valid {
            return Err(Error::Internal(format!(
                "refusing unsafe object key {key:?}"
            )));
        }
        Ok(self.root.join(key))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}

/// Creates `dir` and any missing ancestors, fsyncing each parent whose
/// listing changed so the new directories survive a crash.
fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        ensure_dir(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(backend_io("create directory", e)),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| backend_io("fsync directory", e))
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PARTIAL);
    PathBuf::from(name)
}

#[async_trait]
impl BlobStore for FsStore {
    async fn begin(&self, key: &str) -> Result<Box<dyn StagedWrite>> {
        let target = self.path_of(key)?;
        let partial = partial_path(&target);
        let file = {
            let partial = partial.clone();
            blocking(move || {
                let dir = partial
                    .parent()
                    .ok_or_else(|| Error::Internal("key without parent".into()))?;
                ensure_dir(dir)?;
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&partial)
                    .map_err(|e| backend_io("create staged file", e))
            })
            .await?
        };
        Ok(Box::new(FsWrite {
            dir_syncs: self.dir_syncs.clone(),
            file: Some(file),
            pending: None,
            syncing: None,
            synced: 0,
            sync_failed: None,
            partial,
            target,
            written: 0,
            keep: false,
            dir_synced: false,
            sha256: None,
        }))
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let target = self.path_of(key)?;
        let dir_syncs = self.dir_syncs.clone();
        blocking(move || {
            let partial = partial_path(&target);
            let dir = target
                .parent()
                .ok_or_else(|| Error::Internal("key without parent".into()))?;
            ensure_dir(dir)?;
            let written = (|| {
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&partial)
                    .map_err(|e| backend_io("create staged file", e))?;
                file.write_all(&data)
                    .map_err(|e| backend_io("write staged file", e))?;
                file.sync_data()
                    .map_err(|e| backend_io("fdatasync staged file", e))?;
                std::fs::rename(&partial, &target).map_err(|e| backend_io("rename staged file", e))
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&partial);
            }
            written?;
            dir_syncs.sync(dir)
        })
        .await
    }

    async fn resume(
        &self,
        key: &str,
        _token: &str,
        persisted: u64,
    ) -> Result<Box<dyn StagedWrite>> {
        let target = self.path_of(key)?;
        let partial = partial_path(&target);
        let file = {
            let partial = partial.clone();
            blocking(move || {
                let mut file = match OpenOptions::new().write(true).open(&partial) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(not_found("the staged upload is gone"));
                    }
                    Err(e) => return Err(backend_io("open staged file", e)),
                };
                let len = file.metadata().map_err(|e| backend_io("stat staged file", e))?.len();
                if len < persisted {
                    return Err(Error::DataLoss(format!(
                        "staged upload holds {len} bytes, fewer than the {persisted} recorded as persisted"
                    )));
                }
                // Bytes past the last persist may be torn; keep only what was acknowledged.
                file.set_len(persisted).map_err(|e| backend_io("truncate staged file", e))?;
                file.seek(SeekFrom::End(0)).map_err(|e| backend_io("seek staged file", e))?;
                Ok(file)
            })
            .await?
        };
        Ok(Box::new(FsWrite {
            dir_syncs: self.dir_syncs.clone(),
            file: Some(file),
            pending: None,
            partial,
            target,
            written: persisted,
            syncing: None,
            synced: persisted,
            sync_failed: None,
            keep: false,
            dir_synced: true,
            sha256: None,
        }))
    }

    async fn discard(&self, key: &str, _token: &str) -> Result<()> {
        let partial = partial_path(&self.path_of(key)?);
        blocking(move || remove_if_present(&partial)).await
    }

    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream> {
        read::stream(self.path_of(key)?, key, range).await
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path_of(key)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(backend_io("stat object", e)),
        }
    }

    async fn remembered_sha256(&self, key: &str) -> Result<Option<String>> {
        let path = self.path_of(key)?;
        blocking(move || Ok(digest::remembered(&path))).await
    }

    async fn promote(&self, from: &str, to: &str) -> Result<()> {
        let (source, target) = (self.path_of(from)?, self.path_of(to)?);
        let dir_syncs = self.dir_syncs.clone();
        blocking(move || {
            if let Some(dir) = target.parent() {
                ensure_dir(dir)?;
            }
            std::fs::rename(&source, &target).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    crate::error::not_found(format!("no object at {}", source.display()))
                }
                _ => backend_io("rename object", e),
            })?;
            // Both listings changed; the target's is the one that matters
            // (a lost source rename only leaves an orphan to sweep).
            target.parent().map_or(Ok(()), |dir| dir_syncs.sync(dir))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        blocking(move || remove_if_present(&path)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        blocking(move || {
            // Walk the deepest directory the prefix names fully, then filter.
            let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
            let start = if dir_part.is_empty() {
                root.clone()
            } else {
                root.join(dir_part)
            };
            let mut keys = Vec::new();
            walk(&root, &start, &mut keys)?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let keys = self.list(prefix).await?;
        for key in &keys {
            self.delete(key).await?;
        }
        // A directory-aligned prefix (a namespace's) goes entirely, so no
        // empty directories are left behind.
        if let Some(dir) = prefix.strip_suffix('/').filter(|d| !d.is_empty()) {
            let path = self.path_of(dir)?;
            blocking(move || match std::fs::remove_dir_all(&path) {
                Ok(()) => path.parent().map_or(Ok(()), sync_dir),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(backend_io("remove prefix directory", e)),
            })
            .await?;
        }
        Ok(keys.len() as u64)
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(backend_io("remove file", e)),
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(backend_io("list directory", e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| backend_io("list directory", e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| backend_io("stat entry", e))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(
                rel.to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/"),
            );
        }
    }
    Ok(())
}

struct FsWrite {
    dir_syncs: Arc<DirSyncs>,
    /// Taken while a blocking operation runs.
    file: Option<File>,
    /// The latest chunk's write, still running: it owns the file meanwhile.
    /// Writes are pipelined one deep, so receiving the next chunk overlaps
    /// writing this one.
    pending: Option<tokio::task::JoinHandle<(File, Result<()>)>>,
    /// An fdatasync running beside the writes (on a duplicate of the
    /// descriptor), covering every byte up to the offset it returns: the
    /// stream goes on while the disk flushes.
    syncing: Option<tokio::task::JoinHandle<Result<u64>>>,
    /// Bytes known durable: the offset of the last finished fdatasync.
    synced: u64,
    /// A failed background fdatasync, told by the next call.
    sync_failed: Option<Error>,
    partial: PathBuf,
    target: PathBuf,
    written: u64,
    /// Set by `suspend` and `complete`: the drop guard must not delete.
    keep: bool,
    /// Whether the directory entry of the staged file is durable. Only a
    /// resumable upload needs it (at its first persist); `complete` syncs the
    /// directory after the rename anyway.
    dir_synced: bool,
    /// The digest to remember on the file when it completes.
    sha256: Option<String>,
}

impl FsWrite {
    /// Waits for the pending write and takes back the file.
    async fn finish_pending_write(&mut self) -> Result<()> {
        if let Some(pending) = self.pending.take() {
            let (file, result) = pending
                .await
                .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?;
            self.file = Some(file);
            result?;
        }
        Ok(())
    }

    /// Starts an fdatasync of everything written so far (the pending write
    /// first ends, so the flush covers it) on a duplicate descriptor, and
    /// the directory's on the first one.
    async fn start_sync(&mut self) -> Result<()> {
        self.finish_pending_write().await?;
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| Error::Internal("staged file used after failure".into()))?
            .try_clone()
            .map_err(|e| backend_io("duplicate staged file descriptor", e))?;
        let dir = if self.dir_synced {
            None
        } else {
            self.partial.parent().map(Path::to_owned)
        };
        let upto = self.written;
        self.syncing = Some(tokio::task::spawn_blocking(move || {
            file.sync_data()
                .map_err(|e| backend_io("fdatasync staged file", e))?;
            dir.as_deref().map_or(Ok(()), sync_dir)?;
            Ok(upto)
        }));
        Ok(())
    }

    /// Waits for the fdatasync in flight, if any, and tells its failure.
    async fn sync_ended(&mut self) -> Result<()> {
        if self.syncing.is_some() {
            self.in_flight_done().await;
        }
        self.sync_failed.take().map_or(Ok(()), Err)
    }

    fn take_file(&mut self) -> Result<File> {
        self.file
            .take()
            .ok_or_else(|| Error::Internal("staged file used after failure".into()))
    }

    async fn with_file<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut File) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.finish_pending_write().await?;
        let mut file = self.take_file()?;
        let (file, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut file);
            (file, r)
        })
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?;
        self.file = Some(file);
        result
    }
}

#[async_trait]
impl StagedWrite for FsWrite {
    fn token(&self) -> String {
        String::new()
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.finish_pending_write().await?;
        let mut file = self.take_file()?;
        let len = data.len() as u64;
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let result = file
                .write_all(&data)
                .map_err(|e| backend_io("write staged file", e));
            (file, result)
        }));
        self.written += len;
        Ok(())
    }

    async fn persist(&mut self) -> Result<u64> {
        if self.syncing.as_ref().is_some_and(|s| s.is_finished()) {
            self.in_flight_done().await;
        }
        if let Some(e) = self.sync_failed.take() {
            return Err(e);
        }
        if self.syncing.is_none() && self.written > self.synced {
            self.start_sync().await?;
        }
        Ok(self.synced)
    }

    async fn settle(&mut self) -> Result<u64> {
        self.sync_ended().await?;
        if self.written > self.synced {
            self.start_sync().await?;
            self.sync_ended().await?;
        }
        Ok(self.synced)
    }

    async fn in_flight_done(&mut self) {
        let Some(syncing) = self.syncing.as_mut() else {
            return std::future::pending().await;
        };
        // Cancel-safe: nothing changes until the sync's result is in hand,
        // and then nothing is awaited.
        let result = syncing.await;
        self.syncing = None;
        match result {
            Ok(Ok(offset)) => {
                self.synced = offset;
                self.dir_synced = true;
            }
            Ok(Err(e)) => self.sync_failed = Some(e),
            Err(e) => {
                self.sync_failed = Some(Error::Internal(format!("fdatasync task failed: {e}")))
            }
        }
    }

    fn remember_sha256(&mut self, sha256: &str) {
        self.sha256 = Some(sha256.to_owned());
    }

    async fn complete(mut self: Box<Self>) -> Result<()> {
        let dir_syncs = self.dir_syncs.clone();
        let partial = self.partial.clone();
        let target = self.target.clone();
        // A background flush's failure is told once per open file (Linux
        // clears the error it reported), so it is checked here, not left
        // to the fsync below.
        self.sync_ended().await?;
        let sha256 = self.sha256.take();
        self.with_file(move |f| {
            if let Some(sha256) = sha256 {
                digest::remember(f, &sha256);
            }
            f.sync_all()
                .map_err(|e| backend_io("fsync staged file", e))?;
            std::fs::rename(&partial, &target).map_err(|e| backend_io("rename staged file", e))?;
            target.parent().map_or(Ok(()), |dir| dir_syncs.sync(dir))
        })
        .await?;
        self.keep = true;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        let _ = self.finish_pending_write().await;
        self.file = None;
        self.keep = true;
        let partial = self.partial.clone();
        blocking(move || remove_if_present(&partial)).await
    }

    fn suspend(mut self: Box<Self>) {
        // A pending write finishes on its own; persist already covered what
        // the upload record claims.
        self.keep = true;
    }
}

impl Drop for FsWrite {
    fn drop(&mut self) {
        if !self.keep {
            // Drop = abort: nothing of an unfinished write stays behind.
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests;
