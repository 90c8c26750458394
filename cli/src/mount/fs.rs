//! The mount's state and its operations, each one or a few gRPC calls
//! through [`Remote`] (the kernel's entry points are in `kernel`); each
//! blocks its caller's thread on the tokio runtime for its calls.
//!
//! What POSIX asks and Arca does not store is said where it is decided: times are the server's (utimens is
//! accepted), permission bits are kept as entry metadata, owners are who
//! mounted, symbolic and hard links are refused with EPERM (as by
//! filesystems without them).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fuser::{Errno, FileHandle, FileType, INodeNo, OpenAccMode, OpenFlags, RenameFlags};

use super::handles::{ReadHandle, Shared, WriteHandle};
use super::inodes::{self, Cache, Inodes, MODE_KEY, attr, child, is_dir};
use super::remote::{Remote, code, errno};
use arca_client::pb;

/// Free space reported when no byte quota applies to the namespace
/// (1 PiB): `df` shows the namespace's use against it.
const UNKNOWN_FREE_BYTES: u64 = 1 << 50;
/// Longest name of one path segment (the server's default limit).
pub(super) const NAME_MAX: u32 = 255;

/// One directory entry as readdir hands it out: inode, kind, name.
pub(super) type Listed = (u64, FileType, String);

pub(super) enum Open {
    Read(ReadHandle),
    Write(WriteHandle),
}

/// An entry of the handle table. What other operations need of an open
/// file (its inode; a writer's size and unlinked flag) is readable without
/// its lock, which a commit holds for the length of an upload: `ls -l` of
/// other files never waits on one being saved.
pub(super) struct Opened {
    pub(super) ino: u64,
    /// Shared with the writer itself; `None` for a reader.
    pub(super) writer: Option<Shared>,
    pub(super) open: Mutex<Open>,
}

/// Everything the operations share.
pub(super) struct State {
    pub(super) remote: Remote,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) ttl: Duration,
    pub(super) read_only: bool,
    /// The server said this credential may not change the namespace:
    /// changes are refused at once (EACCES) rather than at close.
    pub(super) denied: bool,
    pub(super) owner: (u32, u32),
    pub(super) spool_dir: PathBuf,
    pub(super) inodes: Mutex<Inodes>,
    pub(super) cache: Mutex<Cache>,
    pub(super) handles: Mutex<HashMap<u64, Arc<Opened>>>,
    pub(super) listings: Mutex<HashMap<u64, Vec<Listed>>>,
    pub(super) next_handle: AtomicU64,
}

impl State {
    pub(super) fn new(
        remote: Remote,
        runtime: tokio::runtime::Handle,
        ttl: Duration,
        read_only: bool,
        denied: bool,
        spool_dir: PathBuf,
    ) -> Self {
        let owner = (process_ids::uid(), process_ids::gid());
        State {
            remote,
            runtime,
            ttl,
            read_only,
            denied,
            owner,
            spool_dir,
            inodes: Mutex::new(Inodes::new()),
            cache: Mutex::new(Cache::default()),
            handles: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
        }
    }

    pub(super) fn block<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    pub(super) fn path(&self, ino: INodeNo) -> Result<String, Errno> {
        self.inodes.lock().unwrap().path(ino.0).ok_or(Errno::ESTALE)
    }

    pub(super) fn ino(&self, path: &str) -> u64 {
        self.inodes.lock().unwrap().ino(path)
    }

    /// The entry at `rel`: from the cache (an entry, or the parent's
    /// listing) within the TTL, else from the server.
    pub(super) fn entry(&self, rel: &str) -> Result<pb::Entry, Errno> {
        {
            let cache = self.cache.lock().unwrap();
            if let Some(entry) = cache.entry(rel, self.ttl) {
                return Ok(entry);
            }
            if !rel.is_empty()
                && let Some(list) = cache.listing(inodes::parent(rel), self.ttl)
            {
                let want = self.remote.path(rel);
                return list
                    .into_iter()
                    .find(|e| e.path == want)
                    .ok_or(Errno::ENOENT);
            }
        }
        let entry = self.block(self.remote.stat(rel)).map_err(|e| errno(&e))?;
        self.cache.lock().unwrap().put_entry(rel, entry.clone());
        Ok(entry)
    }

    pub(super) fn changed(&self, rel: &str, entry: Option<pb::Entry>) {
        let mut cache = self.cache.lock().unwrap();
        cache.invalidate(rel);
        if let Some(entry) = entry {
            cache.put_entry(rel, entry);
        }
    }

    /// The open writer of an inode, if any (its size is the file's).
    pub(super) fn writer(&self, ino: u64) -> Option<Arc<Opened>> {
        let handles = self.handles.lock().unwrap();
        handles
            .values()
            .find(|h| h.ino == ino && h.writer.is_some())
            .cloned()
    }

    pub(super) fn file_attr(&self, ino: u64, entry: &pb::Entry) -> fuser::FileAttr {
        let size = self
            .writer(ino)
            .and_then(|h| h.writer.as_ref().map(|w| w.size.load(Ordering::Acquire)));
        attr(ino, entry, size, self.owner)
    }

    pub(super) fn register(&self, open: Open) -> u64 {
        let (ino, writer) = match &open {
            Open::Read(reader) => (reader.ino, None),
            Open::Write(writer) => (writer.ino, Some(writer.shared())),
        };
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        let opened = Opened {
            ino,
            writer,
            open: Mutex::new(open),
        };
        self.handles.lock().unwrap().insert(fh, Arc::new(opened));
        fh
    }

    pub(super) fn handle(&self, fh: FileHandle) -> Result<Arc<Opened>, Errno> {
        self.handles
            .lock()
            .unwrap()
            .get(&fh.0)
            .cloned()
            .ok_or(Errno::EBADF)
    }

    pub(super) fn writable(&self) -> Result<(), Errno> {
        if self.read_only {
            Err(Errno::EROFS)
        } else if self.denied {
            Err(Errno::EACCES)
        } else {
            Ok(())
        }
    }

    /// Commits one open writer's unsaved content.
    pub(super) fn commit(&self, opened: &Opened) -> Result<(), Errno> {
        let mut guard = opened.open.lock().unwrap();
        let Open::Write(writer) = &mut *guard else {
            return Ok(());
        };
        let rel = self.path(INodeNo(writer.ino))?;
        let committed = self.block(writer.commit(&self.remote, &rel))?;
        if committed.is_some() {
            self.changed(&rel, committed);
        }
        Ok(())
    }

    /// Commits every open writer (on SIGINT/SIGTERM and at unmount).
    pub(super) fn commit_all(&self) -> usize {
        let open: Vec<_> = self.handles.lock().unwrap().values().cloned().collect();
        let mut failed = 0;
        for handle in open {
            if let Err(e) = self.commit(&handle) {
                eprintln!("arca mount: could not save an open file: {e:?}");
                failed += 1;
            }
        }
        failed
    }

    pub(super) fn name(name: &OsStr) -> Result<&str, Errno> {
        let name = name.to_str().ok_or(Errno::EINVAL)?;
        if name.len() > NAME_MAX as usize {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(name)
    }

    pub(super) fn child_path(&self, parent: INodeNo, name: &OsStr) -> Result<String, Errno> {
        Ok(child(&self.path(parent)?, Self::name(name)?))
    }

    pub(super) fn lookup_entry(
        &self,
        parent: INodeNo,
        name: &OsStr,
    ) -> Result<fuser::FileAttr, Errno> {
        let rel = self.child_path(parent, name)?;
        let entry = self.entry(&rel)?;
        Ok(self.file_attr(self.ino(&rel), &entry))
    }

    pub(super) fn open_file(&self, ino: INodeNo, flags: OpenFlags) -> Result<u64, Errno> {
        let rel = self.path(ino)?;
        let entry = self.entry(&rel)?;
        if is_dir(&entry) {
            return Err(Errno::EISDIR);
        }
        let open = match flags.acc_mode() {
            OpenAccMode::O_RDONLY => Open::Read(ReadHandle::new(ino.0, &entry)),
            OpenAccMode::O_WRONLY | OpenAccMode::O_RDWR => {
                self.writable()?;
                let truncate = flags.0 & libc::O_TRUNC != 0;
                Open::Write(self.block(WriteHandle::open(
                    &self.remote,
                    &rel,
                    ino.0,
                    &entry,
                    truncate,
                    &self.spool_dir,
                ))?)
            }
        };
        Ok(self.register(open))
    }

    pub(super) fn create_file(
        &self,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> Result<(fuser::FileAttr, u64), Errno> {
        self.writable()?;
        let rel = self.child_path(parent, name)?;
        let mut metadata = HashMap::new();
        let mode = (mode & !umask) & 0o7777;
        if mode != 0o644 {
            metadata.insert(MODE_KEY.to_owned(), format!("{mode:o}"));
        }
        // The file exists on the server from now on, empty, so the
        // process that made it (and any other) finds it before close.
        let exclusive = flags & libc::O_EXCL != 0;
        let entry = self
            .block(
                self.remote
                    .write_small(&rel, Vec::new(), metadata, String::new(), exclusive),
            )
            .map_err(|e| match code(&e) {
                Some(tonic::Code::FailedPrecondition) if exclusive => Errno::EEXIST,
                Some(tonic::Code::FailedPrecondition) => Errno::EISDIR,
                _ => errno(&e),
            })?;
        self.changed(&rel, Some(entry.clone()));
        let ino = self.ino(&rel);
        let writer = self.block(WriteHandle::open(
            &self.remote,
            &rel,
            ino,
            &entry,
            true,
            &self.spool_dir,
        ))?;
        let fh = self.register(Open::Write(writer));
        Ok((self.file_attr(ino, &entry), fh))
    }

    pub(super) fn read_file(
        &self,
        fh: FileHandle,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>, Errno> {
        let opened = self.handle(fh)?;
        let mut guard = opened.open.lock().unwrap();
        match &mut *guard {
            Open::Write(writer) => writer.read(offset, size),
            Open::Read(reader) => {
                let rel = self.path(INodeNo(reader.ino))?;
                self.block(reader.read(&self.remote, &rel, offset, size))
            }
        }
    }

    pub(super) fn write_file(
        &self,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
    ) -> Result<u32, Errno> {
        let opened = self.handle(fh)?;
        let mut guard = opened.open.lock().unwrap();
        match &mut *guard {
            Open::Write(writer) => writer.write(offset, data),
            Open::Read(_) => Err(Errno::EBADF),
        }
    }

    pub(super) fn set_attr(
        &self,
        ino: INodeNo,
        mode: Option<u32>,
        size: Option<u64>,
        fh: Option<FileHandle>,
    ) -> Result<fuser::FileAttr, Errno> {
        let rel = self.path(ino)?;
        if let Some(size) = size {
            self.writable()?;
            let open = match fh.map(|fh| self.handle(fh)).transpose()? {
                Some(open) => Some(open),
                None => self.writer(ino.0),
            };
            match open {
                Some(opened) => match &mut *opened.open.lock().unwrap() {
                    Open::Write(writer) => writer.truncate(size)?,
                    Open::Read(_) => return Err(Errno::EBADF),
                },
                // truncate(2) of a file nobody has open: a whole new content.
                None => self.truncate_closed(&rel, size)?,
            }
        }
        // chmod to the bits already shown (tar does it for every file) is
        // no change.
        let mode = match mode {
            Some(m) if (m & 0o7777) as u16 == inodes::mode_of(&self.entry(&rel)?) => None,
            other => other,
        };
        if let Some(mode) = mode {
            self.writable()?;
            let bits = format!("{:o}", mode & 0o7777);
            let set = HashMap::from([(MODE_KEY.to_owned(), bits.clone())]);
            let entry = self
                .block(self.remote.set_metadata(&rel, set))
                .map_err(|e| errno(&e))?;
            if let Some(opened) = self.writer(ino.0)
                && let Open::Write(writer) = &mut *opened.open.lock().unwrap()
            {
                writer.set_metadata(MODE_KEY, &bits);
            }
            self.changed(&rel, Some(entry));
        }
        let entry = self.entry(&rel)?;
        Ok(self.file_attr(ino.0, &entry))
    }

    pub(super) fn truncate_closed(&self, rel: &str, size: u64) -> Result<(), Errno> {
        let entry = self.entry(rel)?;
        if is_dir(&entry) {
            return Err(Errno::EISDIR);
        }
        if size == entry.size {
            return Ok(());
        }
        let ino = self.ino(rel);
        let mut writer = self.block(WriteHandle::open(
            &self.remote,
            rel,
            ino,
            &entry,
            size == 0,
            &self.spool_dir,
        ))?;
        writer.truncate(size)?;
        let committed = self.block(writer.commit(&self.remote, rel))?;
        self.changed(rel, committed);
        Ok(())
    }

    pub(super) fn make_dir(&self, parent: INodeNo, name: &OsStr) -> Result<fuser::FileAttr, Errno> {
        self.writable()?;
        let rel = self.child_path(parent, name)?;
        let entry = self
            .block(self.remote.mkdir(&rel))
            .map_err(|e| match code(&e) {
                Some(tonic::Code::NotFound) => Errno::ENOENT,
                Some(tonic::Code::FailedPrecondition) => Errno::ENOTDIR,
                _ => errno(&e),
            })?;
        self.changed(&rel, Some(entry.clone()));
        Ok(self.file_attr(self.ino(&rel), &entry))
    }

    pub(super) fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool) -> Result<(), Errno> {
        self.writable()?;
        let rel = self.child_path(parent, name)?;
        let entry = self.entry(&rel)?;
        match (dir, is_dir(&entry)) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::EISDIR),
            _ => {}
        }
        self.block(self.remote.remove(&rel))
            .map_err(|e| match code(&e) {
                Some(tonic::Code::FailedPrecondition) if dir => Errno::ENOTEMPTY,
                _ => errno(&e),
            })?;
        let ino = self.ino(&rel);
        for opened in self.handles.lock().unwrap().values() {
            if let Some(writer) = opened.writer.as_ref().filter(|_| opened.ino == ino) {
                writer.unlinked.store(true, Ordering::Release);
            }
        }
        self.changed(&rel, None);
        self.inodes.lock().unwrap().forget_path(&rel);
        Ok(())
    }

    pub(super) fn rename_entry(
        &self,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        self.writable()?;
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            return Err(Errno::EINVAL);
        }
        let from = self.child_path(parent, name)?;
        let to = self.child_path(new_parent, new_name)?;
        if from == to {
            return Ok(());
        }
        let source = self.entry(&from)?;
        // Unsaved writes go first, so the content moves with the name.
        if let Some(open) = self.writer(self.ino(&from)) {
            self.commit(&open)?;
        }
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        match self.entry(&to) {
            Ok(_) if no_replace => return Err(Errno::EEXIST),
            // POSIX replaces an empty directory with a directory; Arca
            // never merges directories, so the empty one goes first.
            Ok(target) if is_dir(&target) => {
                if !is_dir(&source) {
                    return Err(Errno::EISDIR);
                }
                if !self
                    .block(self.remote.list(&to))
                    .map_err(|e| errno(&e))?
                    .is_empty()
                {
                    return Err(Errno::ENOTEMPTY);
                }
                self.block(self.remote.remove(&to)).map_err(|e| errno(&e))?;
            }
            Ok(_) if is_dir(&source) => return Err(Errno::ENOTDIR),
            Ok(_) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let moved = self
            .block(self.remote.rename(&from, &to, !no_replace))
            .map_err(|e| match code(&e) {
                Some(tonic::Code::AlreadyExists) => Errno::EEXIST,
                Some(tonic::Code::InvalidArgument) => Errno::EINVAL,
                Some(tonic::Code::NotFound) => Errno::ENOENT,
                _ => errno(&e),
            })?;
        self.changed(&from, None);
        self.changed(&to, Some(moved));
        self.inodes.lock().unwrap().renamed(&from, &to);
        Ok(())
    }

    pub(super) fn list_dir(&self, ino: INodeNo) -> Result<Vec<Listed>, Errno> {
        let rel = self.path(ino)?;
        let cached = self.cache.lock().unwrap().listing(&rel, self.ttl);
        let entries = match cached {
            Some(list) => list,
            None => {
                let list = self
                    .block(self.remote.list(&rel))
                    .map_err(|e| match code(&e) {
                        Some(tonic::Code::FailedPrecondition) => Errno::ENOTDIR,
                        _ => errno(&e),
                    })?;
                self.cache.lock().unwrap().put_listing(&rel, list.clone());
                list
            }
        };
        let parent_ino = if rel.is_empty() {
            INodeNo::ROOT.0
        } else {
            self.ino(inodes::parent(&rel))
        };
        let mut out = vec![
            (ino.0, FileType::Directory, ".".to_owned()),
            (parent_ino, FileType::Directory, "..".to_owned()),
        ];
        for entry in entries {
            let name = entry.path.rsplit('/').next().unwrap_or_default().to_owned();
            let kind = if is_dir(&entry) {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            out.push((self.ino(&child(&rel, &name)), kind, name));
        }
        Ok(out)
    }

    pub(super) fn statfs(&self) -> Result<(u64, u64, u64), Errno> {
        let ns = self.block(self.remote.namespace()).map_err(|e| errno(&e))?;
        let block = u64::from(inodes::BLOCK);
        // The quota that binds this namespace's writes, when there is one.
        let (total, free) = match ns.quota {
            Some(q) => (
                q.limit_bytes / block,
                q.limit_bytes.saturating_sub(q.used_bytes) / block,
            ),
            None => (
                (ns.total_bytes + UNKNOWN_FREE_BYTES) / block,
                UNKNOWN_FREE_BYTES / block,
            ),
        };
        Ok((total, free, ns.file_count))
    }
}

/// The process's own ids, without `unsafe` (the workspace forbids it):
/// read from procfs, falling back to root.
mod process_ids {
    pub(super) fn status_field(name: &str) -> u32 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|rest| rest.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }

    pub(super) fn uid() -> u32 {
        status_field("Uid:")
    }

    pub(super) fn gid() -> u32 {
        status_field("Gid:")
    }
}
