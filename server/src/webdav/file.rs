//! Open files of WebDAV requests: a GET's ranged read and a PUT's streamed
//! upload.
//!
//! A read resolves the entry once and reads that version only: a file
//! replaced meanwhile ends the read with an error rather than mixing two
//! contents. A write is one core upload, so a PUT has every property of a
//! streamed Upload (bounded memory, SHA-256 of exactly the stored bytes,
//! quotas, dedup at commit) and commits only when the whole body arrived:
//! a body that ends early, or a client that goes away, discards it and the
//! old content stays.

use std::io::SeekFrom;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture, FsResult};
use futures::{FutureExt, StreamExt};

use super::fs::{Meta, fs_error};
use crate::auth::Identity;
use crate::blobs::ByteStream;
use crate::core::uploads::{Started, Upload};
use crate::core::{Core, Precondition, WriteOptions};
use crate::meta::EntryRecord;

/// Bytes gathered from a PUT body before each upload write (frames arrive
/// in far smaller pieces; each write costs a hash hand-off).
const WRITE_CHUNK: usize = 1 << 20;

/// A file opened for reading.
pub(super) struct ReadFile {
    core: Arc<Core>,
    who: Identity,
    namespace: String,
    path: String,
    entry: EntryRecord,
    /// Where the next read starts.
    position: u64,
    /// The open backend read and the offset its next byte has (in a
    /// mutex only because the handler wants open files `Sync`; one request
    /// uses a file at a time, so it is never contended).
    stream: Option<(futures::lock::Mutex<ByteStream>, u64)>,
    /// Bytes taken from the stream but not yet returned.
    pending: Bytes,
}

impl std::fmt::Debug for ReadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadFile")
            .field("namespace", &self.namespace)
            .field("path", &self.path)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl ReadFile {
    pub(super) fn new(
        core: Arc<Core>,
        who: Identity,
        namespace: String,
        path: String,
        entry: EntryRecord,
    ) -> Self {
        ReadFile {
            core,
            who,
            namespace,
            path,
            entry,
            position: 0,
            stream: None,
            pending: Bytes::new(),
        }
    }

    async fn read(&mut self, count: usize) -> FsResult<Bytes> {
        if self.position >= self.entry.size || count == 0 {
            return Ok(Bytes::new());
        }
        // Pending bytes start at `position`; the stream goes on after them.
        let at = self.position + self.pending.len() as u64;
        if self.stream.as_ref().is_none_or(|(_, next)| *next != at) {
            // A seek (or the first read): read on from the new position,
            // of the version this file was opened at only.
            let open = self
                .core
                .open_read(
                    &self.who,
                    &self.namespace,
                    &self.path,
                    self.position,
                    0,
                    Some(self.entry.version),
                )
                .await
                .map_err(fs_error)?;
            self.stream = Some((futures::lock::Mutex::new(open.stream), self.position));
            self.pending = Bytes::new();
        }
        if self.pending.is_empty()
            && let Some((stream, next)) = self.stream.as_mut()
        {
            match stream.get_mut().next().await {
                Some(Ok(chunk)) => {
                    *next += chunk.len() as u64;
                    self.pending = chunk;
                }
                Some(Err(e)) => return Err(fs_error(e)),
                None => return Ok(Bytes::new()),
            }
        }
        let take = count.min(self.pending.len());
        let out = self.pending.split_to(take);
        self.position += take as u64;
        Ok(out)
    }
}

impl DavFile for ReadFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(Meta::of(&self.entry));
        futures::future::ready(Ok(meta)).boxed()
    }

    fn write_buf(&mut self, _buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        futures::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        futures::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        self.read(count).boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let target = match pos {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.entry.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let result = match target {
            Some(at) => {
                if at != self.position {
                    // Bytes read ahead are only good for the old position.
                    self.pending = Bytes::new();
                    self.stream = None;
                    self.position = at;
                }
                Ok(at)
            }
            None => Err(FsError::GeneralFailure),
        };
        futures::future::ready(result).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        futures::future::ready(Ok(())).boxed()
    }
}

/// A file opened by a PUT: its body goes into one upload.
pub(super) struct WriteFile {
    /// The upload, until it commits or is discarded.
    upload: Option<Upload>,
    /// Body bytes not yet handed to the upload.
    buffer: BytesMut,
    /// Bytes handed to the upload.
    written: u64,
    /// The Content-Length, if the request declared one.
    declared: Option<u64>,
    /// The digest the client declared (`OC-Checksum: SHA256:...`).
    expected_sha256: Option<String>,
    /// The committed entry, once committed.
    committed: Option<EntryRecord>,
}

impl std::fmt::Debug for WriteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteFile")
            .field("written", &self.written)
            .field("declared", &self.declared)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 an ownCloud-style `OC-Checksum` header declares, if it
/// declares one (other algorithms are not checked).
fn declared_sha256(checksum: Option<&str>) -> Option<String> {
    checksum?.split_whitespace().find_map(|c| {
        let (algorithm, value) = c.split_once(':')?;
        algorithm
            .eq_ignore_ascii_case("sha256")
            .then(|| value.to_ascii_lowercase())
    })
}

impl WriteFile {
    pub(super) async fn start(
        core: Arc<Core>,
        who: &Identity,
        namespace: &str,
        path: &str,
        must_not_exist: bool,
        declared: Option<u64>,
        checksum: Option<&str>,
    ) -> FsResult<Self> {
        let opts = WriteOptions {
            precondition: if must_not_exist {
                Precondition::MustNotExist
            } else {
                Precondition::None
            },
            ..Default::default()
        };
        // The digest is checked at the end, not used to skip the body: the
        // client sends it whatever we answer.
        let upload = match core
            .start_upload(who, namespace, path, opts, declared)
            .await
            .map_err(fs_error)?
        {
            Started::Upload(upload) => *upload,
            Started::Deduplicated(..) => return Err(FsError::GeneralFailure),
        };
        Ok(WriteFile {
            upload: Some(upload),
            buffer: BytesMut::new(),
            written: 0,
            declared,
            expected_sha256: declared_sha256(checksum),
            committed: None,
        })
    }

    fn upload(&mut self) -> FsResult<&mut Upload> {
        self.upload.as_mut().ok_or(FsError::GeneralFailure)
    }

    async fn hand_over(&mut self, data: Bytes) -> FsResult<()> {
        let at = self.written;
        self.written += data.len() as u64;
        self.upload()?.write(at, data).await.map_err(fs_error)?;
        Ok(())
    }

    async fn write(&mut self, data: Bytes) -> FsResult<()> {
        if self.committed.is_some() {
            return Err(FsError::GeneralFailure);
        }
        if self.buffer.is_empty() && data.len() >= WRITE_CHUNK {
            return self.hand_over(data).await;
        }
        self.buffer.extend_from_slice(&data);
        if self.buffer.len() >= WRITE_CHUNK {
            let chunk = self.buffer.split().freeze();
            self.hand_over(chunk).await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> FsResult<()> {
        if self.committed.is_some() {
            return Ok(());
        }
        if !self.buffer.is_empty() {
            let rest = self.buffer.split().freeze();
            self.hand_over(rest).await?;
        }
        // A body shorter than its Content-Length ended early: never commit
        // a prefix of what the client meant to store.
        if self.declared.is_some_and(|d| d != self.written) {
            return Err(FsError::GeneralFailure);
        }
        let upload = self.upload.take().ok_or(FsError::GeneralFailure)?;
        let (_, entry) = upload
            .finish(self.expected_sha256.clone())
            .await
            .map_err(fs_error)?;
        self.committed = Some(entry);
        Ok(())
    }
}

impl Drop for WriteFile {
    /// A PUT that never reached its commit (the client went away, or the
    /// body was refused) is discarded at once: it cannot be resumed.
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            tokio::spawn(upload.discard());
        }
    }
}

impl DavFile for WriteFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let result = match &self.committed {
            Some(entry) => Ok(Box::new(Meta::of(entry)) as Box<dyn DavMetaData>),
            None => Err(FsError::NotFound),
        };
        futures::future::ready(result).boxed()
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        let data = buf.copy_to_bytes(buf.remaining());
        self.write(data).boxed()
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        self.write(buf).boxed()
    }

    fn read_bytes(&mut self, _count: usize) -> FsFuture<'_, Bytes> {
        futures::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        // Only "where am I": a write lands at the end of what was sent.
        let result = match pos {
            SeekFrom::Current(0) => Ok(self.written + self.buffer.len() as u64),
            SeekFrom::Start(at) if at == self.written + self.buffer.len() as u64 => Ok(at),
            _ => Err(FsError::NotImplemented),
        };
        futures::future::ready(result).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        self.commit().boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        let sha = "A".repeat(64);
        assert_eq!(
            declared_sha256(Some(&format!("SHA256:{sha}"))),
            Some(sha.to_ascii_lowercase())
        );
        assert_eq!(
            declared_sha256(Some(&format!("MD5:00 sha256:{sha}"))),
            Some(sha.to_ascii_lowercase())
        );
        assert_eq!(declared_sha256(Some("MD5:00")), None);
        assert_eq!(declared_sha256(None), None);
    }
}
