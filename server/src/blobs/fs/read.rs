//! The filesystem backend's read path: an object's range as a stream of
//! chunks, read on demand into buffers that the stream uses again once the
//! transport has let go of them.
//!
//! Why buffers are used again: a fresh buffer per chunk is zeroed before
//! the read overwrites it (8 % of the server's CPU samples during a
//! presigned GET of 1 GiB), and glibc may hand a freed one back to the
//! kernel, to be faulted in again for the next.

use std::fs::File;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::blocking;
use crate::blobs::ByteStream;
use crate::error::{Error, Result, backend_io, not_found};

/// Chunk size of reads: small enough that hundreds of open downloads hold
/// little memory (each holds the chunk being sent and the encoded
/// messages waiting for the client's window), large enough that the hop
/// to a blocking thread per chunk is noise beside the copy.
pub(super) const READ_CHUNK: usize = 256 << 10;
const READ_CHUNK_U64: u64 = READ_CHUNK as u64;

/// The most buffers one stream keeps between chunks: as many chunks as a
/// transport holds at once (HTTP/1.1 queues a few for its writes; gRPC
/// copies each into its encoder and drops it at once). Kept buffers are
/// freed with the stream.
const KEPT_BUFFERS: usize = 4;

/// `range` of the object at `path` (clamped to its size), named `key` in
/// errors.
pub(super) async fn stream(path: PathBuf, key: &str, range: Range<u64>) -> Result<ByteStream> {
    let missing = format!("no object at {key}");
    let (file, start, end, whole) = blocking(move || {
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_found(missing));
            }
            Err(e) => return Err(backend_io("open object", e)),
        };
        let size = file
            .metadata()
            .map_err(|e| backend_io("stat object", e))?
            .len();
        let end = range.end.min(size);
        let start = range.start.min(end);
        // A range of one chunk is read here, in the same trip to a
        // blocking thread: each trip is two thread switches, as much as
        // the read itself for a small file.
        let whole = match end - start {
            len @ 1..=READ_CHUNK_U64 => {
                let mut buf = vec![0u8; len as usize];
                read_rest(&file, start, &mut buf, 0, end)?;
                Some(Bytes::from(buf))
            }
            _ => None,
        };
        Ok((file, start, end, whole))
    })
    .await?;
    if let Some(bytes) = whole {
        return Ok(Box::pin(futures::stream::once(async { Ok(bytes) })));
    }
    // Positional reads on demand, when the consumer asks for the next
    // chunk: copied from the page cache on the asking thread when it holds
    // the chunk, else read on a blocking thread held only while it reads
    // (never parked on a slow client, so hundreds of open downloads do not
    // exhaust the blocking pool); a stream holds no chunk between asks. No
    // read ahead: the transports ask for the next chunk while they still
    // hold the last one's bytes to send, which hides the read.
    let reader = ChunkReader {
        file: Arc::new(file),
        at: start,
        end,
        buffers: Buffers::default(),
    };
    Ok(Box::pin(futures::stream::unfold(
        reader,
        |mut reader| async move {
            if reader.at >= reader.end {
                return None;
            }
            let chunk = reader.read_next().await;
            match &chunk {
                Ok(bytes) => reader.at += bytes.len() as u64,
                Err(_) => reader.at = reader.end,
            }
            Some((chunk, reader))
        },
    )))
}

/// Where a read stream is in its object.
struct ChunkReader {
    file: Arc<File>,
    /// Offset of the next chunk to read.
    at: u64,
    /// Offset where the requested range ends.
    end: u64,
    buffers: Buffers,
}

impl ChunkReader {
    /// The chunk at `at`: from the page cache on the calling thread when it
    /// holds all of it (a copy that cannot block, without the two thread
    /// switches of a trip to a blocking thread, which cost as much as the
    /// copy), else on a blocking thread.
    async fn read_next(&self) -> Result<Bytes> {
        let len = (self.end - self.at).min(READ_CHUNK_U64) as usize;
        let mut buf = self.buffers.take(len);
        let cached = read_cached(&self.file, self.at, &mut buf);
        if cached == len {
            return Ok(self.buffers.share(buf));
        }
        let (file, at, end) = (self.file.clone(), self.at, self.end);
        let buf = tokio::task::spawn_blocking(move || {
            read_rest(&file, at, &mut buf, cached, end).map(|()| buf)
        })
        .await
        .map_err(|e| Error::Internal(format!("a read task failed: {e}")))??;
        Ok(self.buffers.share(buf))
    }
}

/// Reads what the page cache holds of `buf.len()` bytes of `file` from
/// `at` into `buf`, without waiting for the disk (`RWF_NOWAIT`); how many
/// bytes it read. Any failure reads nothing here: the blocking read that
/// follows meets it again and reports it.
pub(super) fn read_cached(file: &File, at: u64, buf: &mut [u8]) -> usize {
    use rustix::io::{ReadWriteFlags, preadv2};
    let mut slices = [std::io::IoSliceMut::new(buf)];
    preadv2(file, &mut slices, at, ReadWriteFlags::NOWAIT).unwrap_or(0)
}

/// Fills `buf` from `file` at `at`, of a range that ends at `end`, where
/// its first `filled` bytes are already read: an object shorter than the
/// range is data loss, not a short read.
fn read_rest(file: &File, at: u64, buf: &mut [u8], mut filled: usize, end: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => {
                return Err(Error::DataLoss(format!(
                    "object ended at {} of {end} bytes",
                    at + filled as u64
                )));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(backend_io("read object", e)),
        }
    }
    Ok(())
}

/// One stream's chunk buffers: a buffer comes back when the last `Bytes`
/// of its chunk drops, and is kept (up to `KEPT_BUFFERS`) for the next.
/// Kept buffers stay initialized, so reusing one writes no zeros.
#[derive(Clone, Default)]
struct Buffers(Arc<Mutex<Vec<Vec<u8>>>>);

impl Buffers {
    /// A buffer of `len` bytes to read into; a kept one holds the bytes of
    /// an earlier chunk, which the read overwrites.
    fn take(&self, len: usize) -> Vec<u8> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut buf = kept.unwrap_or_default();
        // Zeroes only what the buffer grows by: nothing, but for the
        // first chunk and the one after a short last read.
        buf.resize(len, 0);
        buf
    }

    /// `buf`'s bytes, the buffer given back when they are dropped.
    fn share(&self, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Lent {
            buf,
            home: self.clone(),
        })
    }
}

/// A buffer out of `Buffers`, given back on drop.
struct Lent {
    buf: Vec<u8>,
    home: Buffers,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let mut kept = self.home.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < KEPT_BUFFERS {
            kept.push(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_used_again_only_once_every_holder_let_go() {
        let buffers = Buffers::default();
        let first = buffers.share(vec![1u8; 8]);
        let held = first.slice(2..4);
        drop(first);
        // A slice still holds the chunk: its buffer is not given out.
        assert!(buffers.0.lock().unwrap().is_empty());
        let second = buffers.take(8);
        assert_eq!(held, vec![1u8; 2]);
        drop(held);
        assert_eq!(buffers.0.lock().unwrap().len(), 1);
        let again = buffers.take(8);
        assert_eq!(again.len(), 8);
        drop(second);
        // No more than KEPT_BUFFERS wait between chunks.
        let many: Vec<Bytes> = (0..KEPT_BUFFERS + 3)
            .map(|_| buffers.share(buffers.take(8)))
            .collect();
        drop(many);
        assert_eq!(buffers.0.lock().unwrap().len(), KEPT_BUFFERS);
    }

    #[test]
    fn a_short_chunk_after_a_long_one_reads_only_its_own_length() {
        let buffers = Buffers::default();
        drop(buffers.share(buffers.take(16)));
        assert_eq!(buffers.take(5).len(), 5);
    }
}
