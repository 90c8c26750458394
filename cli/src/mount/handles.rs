//! Open files. A file opened read-only reads ranged Downloads of the
//! version it was opened at, a window at a time, fetching the next window
//! while the current one is read. A file opened for writing is spooled to
//! an unnamed local file and committed with one streamed upload on flush
//! (close) or fsync: other clients see the old content until then, and
//! never a half-written file.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fuser::Errno;
use tokio::task::JoinHandle;

use super::remote::{Remote, errno};
use arca_client::{ClientError, pb};

/// Bytes fetched per read-ahead window.
const WINDOW: u64 = 8 << 20;
/// Files up to this size are committed with one WriteFile (within the
/// server's default unary limit), larger ones with a streamed upload.
const SMALL_FILE: u64 = 1 << 20;

type Fetch = JoinHandle<Result<Vec<u8>, ClientError>>;

/// A file open for reading only.
pub(super) struct ReadHandle {
    pub(super) ino: u64,
    /// The version opened; a replaced file ends reads with ESTALE.
    version: u64,
    size: u64,
    /// The window held: its offset and bytes.
    window: Option<(u64, Vec<u8>)>,
    /// The next window, being fetched.
    ahead: Option<(u64, Fetch)>,
}

impl ReadHandle {
    pub(super) fn new(ino: u64, entry: &pb::Entry) -> Self {
        ReadHandle {
            ino,
            version: entry.version,
            size: entry.size,
            window: None,
            ahead: None,
        }
    }

    fn fetch(&self, remote: &Remote, rel: &str, offset: u64) -> Fetch {
        let (remote, rel, version) = (remote.clone(), rel.to_owned(), self.version);
        let length = WINDOW.min(self.size - offset);
        tokio::spawn(async move { remote.read_range(&rel, offset, length, version).await })
    }

    /// Up to `size` bytes at `offset`.
    pub(super) async fn read(
        &mut self,
        remote: &Remote,
        rel: &str,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>, Errno> {
        let end = (offset + u64::from(size)).min(self.size);
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        let mut at = offset;
        while at < end {
            let held = self
                .window
                .as_ref()
                .is_some_and(|(start, bytes)| *start <= at && at < *start + bytes.len() as u64);
            if !held {
                let fetched = match self.ahead.take() {
                    Some((start, task)) if start == at => task,
                    _ => self.fetch(remote, rel, at),
                };
                let bytes =
                    fetched.await.map_err(|_| Errno::EIO)?.map_err(
                        |e| match super::remote::code(&e) {
                            // The file changed since it was opened.
                            Some(tonic::Code::FailedPrecondition) => Errno::ESTALE,
                            _ => errno(&e),
                        },
                    )?;
                if bytes.is_empty() {
                    break; // shorter than when opened: end of file
                }
                self.window = Some((at, bytes));
            }
            let Some((start, bytes)) = &self.window else {
                break;
            };
            let from = (at - start) as usize;
            let to = ((end - start) as usize).min(bytes.len());
            out.extend_from_slice(&bytes[from..to]);
            at = start + to as u64;
        }
        // Reading on: fetch the window after this one meanwhile.
        if let Some((start, bytes)) = &self.window {
            let next = start + bytes.len() as u64;
            if self.ahead.is_none() && next < self.size && at + WINDOW / 2 >= next {
                self.ahead = Some((next, self.fetch(remote, rel, next)));
            }
        }
        Ok(out)
    }
}

impl Drop for ReadHandle {
    fn drop(&mut self) {
        if let Some((_, task)) = self.ahead.take() {
            task.abort();
        }
    }
}

/// What others may read or set of an open writer without its lock (a
/// commit holds the lock for the whole upload): its size, which is the
/// file's while it is open, and whether it was unlinked.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) size: Arc<AtomicU64>,
    /// Unlinked while open: nothing is committed.
    pub(super) unlinked: Arc<AtomicBool>,
}

/// A file open for writing: its content lives in the spool until commit.
pub(super) struct WriteHandle {
    pub(super) ino: u64,
    spool: std::fs::File,
    shared: Shared,
    /// Written since the last commit.
    dirty: bool,
    metadata: HashMap<String, String>,
    mime_type: String,
}

impl WriteHandle {
    /// A handle on `entry`'s content, or on an empty file when truncating.
    pub(super) async fn open(
        remote: &Remote,
        rel: &str,
        ino: u64,
        entry: &pb::Entry,
        truncate: bool,
        spool_dir: &std::path::Path,
    ) -> Result<Self, Errno> {
        let spool = tempfile::tempfile_in(spool_dir).map_err(|_| Errno::EIO)?;
        let size = if truncate || entry.size == 0 {
            0
        } else {
            remote.read_into(rel, &spool).await.map_err(|e| errno(&e))?;
            entry.size
        };
        Ok(WriteHandle {
            ino,
            spool,
            shared: Shared {
                size: Arc::new(AtomicU64::new(size)),
                unlinked: Arc::new(AtomicBool::new(false)),
            },
            // O_TRUNC of a file with content is a change even unwritten.
            dirty: truncate && entry.size > 0,
            metadata: entry.metadata.clone(),
            mime_type: entry.mime_type.clone(),
        })
    }

    pub(super) fn shared(&self) -> Shared {
        self.shared.clone()
    }

    fn size(&self) -> u64 {
        self.shared.size.load(Ordering::Acquire)
    }

    pub(super) fn write(&mut self, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        self.spool
            .write_all_at(data, offset)
            .map_err(|_| Errno::EIO)?;
        self.shared
            .size
            .fetch_max(offset + data.len() as u64, Ordering::AcqRel);
        self.dirty = true;
        u32::try_from(data.len()).map_err(|_| Errno::EINVAL)
    }

    pub(super) fn read(&self, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let end = (offset + u64::from(size)).min(self.size());
        let mut out = vec![0; end.saturating_sub(offset) as usize];
        self.spool
            .read_exact_at(&mut out, offset)
            .map_err(|_| Errno::EIO)?;
        Ok(out)
    }

    pub(super) fn truncate(&mut self, size: u64) -> Result<(), Errno> {
        self.spool.set_len(size).map_err(|_| Errno::EIO)?;
        if self.shared.size.swap(size, Ordering::AcqRel) != size {
            self.dirty = true;
        }
        Ok(())
    }

    /// Keeps a metadata change (chmod) for the next commit too.
    pub(super) fn set_metadata(&mut self, key: &str, value: &str) {
        self.metadata.insert(key.to_owned(), value.to_owned());
    }

    /// Commits the spool as the file at `rel` if anything changed.
    pub(super) async fn commit(
        &mut self,
        remote: &Remote,
        rel: &str,
    ) -> Result<Option<pb::Entry>, Errno> {
        if !self.dirty || self.shared.unlinked.load(Ordering::Acquire) {
            return Ok(None);
        }
        let size = self.size();
        // Small files go in one unary call (one commit); larger ones stream.
        let entry = if size <= SMALL_FILE {
            let mut data = vec![0; size as usize];
            self.spool
                .read_exact_at(&mut data, 0)
                .map_err(|_| Errno::EIO)?;
            remote
                .write_small(
                    rel,
                    data,
                    self.metadata.clone(),
                    self.mime_type.clone(),
                    false,
                )
                .await
        } else {
            remote
                .upload(
                    rel,
                    &self.spool,
                    size,
                    self.metadata.clone(),
                    self.mime_type.clone(),
                )
                .await
        }
        .map_err(|e| errno(&e))?;
        self.dirty = false;
        Ok(Some(entry))
    }
}
