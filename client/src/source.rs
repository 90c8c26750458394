//! Where an upload's bytes come from. Any `AsyncRead + AsyncSeek` is read
//! on the caller's task straight into the chunk that is sent; a local file
//! is read on a blocking thread, one chunk ahead of the stream, into the
//! chunk itself (tokio's file would read into a buffer of its own and copy
//! from there, and each copy of every byte costs as much as a tenth of its
//! hash). A file's chunks are read into buffers used again once the stream
//! and the hasher are done with them: a new buffer per chunk is new memory
//! the kernel faults in, zeroes and charges page by page: reusing them
//! saved a tenth of the CPU `arca put` spent (1.17–1.19 → 1.04–1.06 s per
//! GiB; the rest of its faults, in the encoder's buffers, the CLI's
//! allocator removes).

use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};
use tokio::task::JoinHandle;

use crate::{ClientError, Result};

/// The source of an upload, read in chunks of at most `chunk` bytes.
pub(crate) struct Source<'a, R> {
    from: From<'a, R>,
    chunk: usize,
    /// Bytes read but not taken (the rest of a chunk that crossed the
    /// offset a resume starts from), given out first.
    unread: Option<Bytes>,
}

enum From<'a, R> {
    Reader(&'a mut R),
    File(FileReader),
}

/// A local file read on a blocking thread, the next chunk while the last
/// one goes out.
struct FileReader {
    /// Taken while a read runs.
    file: Option<std::fs::File>,
    reading: Option<JoinHandle<(std::fs::File, std::io::Result<Bytes>)>>,
    buffers: Buffers,
}

/// Chunk buffers given back when the last `Bytes` of one drops, kept for
/// the reads after; beyond `KEPT_BUFFERS` they are freed.
#[derive(Clone, Default)]
struct Buffers(Arc<Mutex<Vec<Vec<u8>>>>);

/// The most buffers kept for use again: as many chunks as an upload holds
/// at once (the read ahead, the next message, the four the stream's
/// channel queues, the one being encoded and the one being hashed), so a
/// steady upload allocates none.
const KEPT_BUFFERS: usize = 8;

impl Buffers {
    /// An empty buffer with room for `chunk` bytes.
    fn take(&self, chunk: usize) -> Vec<u8> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match kept {
            Some(mut buffer) if buffer.capacity() >= chunk => {
                buffer.clear();
                buffer
            }
            _ => Vec::with_capacity(chunk),
        }
    }

    /// `buffer`'s bytes, the buffer given back when they are dropped.
    fn share(&self, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(Lent {
            buffer,
            home: self.clone(),
        })
    }
}

/// A buffer out of `Buffers`, handed back on drop.
struct Lent {
    buffer: Vec<u8>,
    home: Buffers,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let mut kept = self.home.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < KEPT_BUFFERS {
            kept.push(std::mem::take(&mut self.buffer));
        }
    }
}

impl<'a, R: AsyncRead + AsyncSeek + Unpin + Send> Source<'a, R> {
    /// Any reader, read on the caller's task.
    pub(crate) fn reader(reader: &'a mut R, chunk: usize) -> Self {
        Source {
            from: From::Reader(reader),
            chunk: chunk.max(1),
            unread: None,
        }
    }

    /// A local file, read on a blocking thread.
    pub(crate) fn file(file: std::fs::File, chunk: usize) -> Self {
        Source {
            from: From::File(FileReader {
                file: Some(file),
                reading: None,
                buffers: Buffers::default(),
            }),
            chunk: chunk.max(1),
            unread: None,
        }
    }

    /// Goes back to the first byte.
    pub(crate) async fn rewind(&mut self) -> Result<()> {
        self.unread = None;
        match &mut self.from {
            From::Reader(reader) => {
                reader.seek(SeekFrom::Start(0)).await?;
            }
            From::File(f) => {
                // A read ahead that ran is dropped with what it read.
                let mut file = f.settle().await?.0;
                let file = tokio::task::spawn_blocking(move || {
                    file.seek(SeekFrom::Start(0)).map(|_| file)
                })
                .await
                .map_err(join_failed)??;
                f.file = Some(file);
            }
        }
        Ok(())
    }

    /// The next chunk; empty at the end. Cancel-safe: dropped before it
    /// resolves, it loses nothing (a file's read goes on, and is taken by
    /// the next call).
    pub(crate) async fn next(&mut self) -> Result<Bytes> {
        if let Some(data) = self.unread.take() {
            return Ok(data);
        }
        let chunk = self.chunk;
        match &mut self.from {
            // tokio's `read_buf` reads nothing when it is cancelled.
            From::Reader(reader) => {
                let mut data = BytesMut::with_capacity(chunk);
                reader.read_buf(&mut data).await?;
                Ok(data.freeze())
            }
            From::File(f) => {
                if f.reading.is_none() {
                    f.start(chunk)?;
                }
                let (file, data) = f.settle().await?;
                f.file = Some(file);
                let data = data?;
                if !data.is_empty() {
                    f.start(chunk)?;
                }
                Ok(data)
            }
        }
    }

    /// Feeds the first `len` bytes to `hasher` (what the server already
    /// holds when an upload resumes); the rest of a chunk that crosses
    /// `len` is the next one given out.
    pub(crate) async fn rehash(&mut self, len: u64, hasher: &mut Sha256) -> Result<()> {
        let mut left = len;
        while left > 0 {
            let data = self.next().await?;
            if data.is_empty() {
                return Err(ClientError::Protocol(
                    "the source is shorter than what the server holds".into(),
                ));
            }
            if data.len() as u64 > left {
                hasher.update(&data[..left as usize]);
                self.unread = Some(data.slice(left as usize..));
                return Ok(());
            }
            hasher.update(&data);
            left -= data.len() as u64;
        }
        Ok(())
    }
}

impl FileReader {
    /// Starts reading the next `chunk` bytes (fewer only at the end).
    fn start(&mut self, chunk: usize) -> Result<()> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| ClientError::Protocol("local file used after a failed read".into()))?;
        let buffers = self.buffers.clone();
        let buffer = buffers.take(chunk);
        self.reading = Some(tokio::task::spawn_blocking(move || {
            let result = read_chunk(&mut file, buffer, chunk, &buffers);
            (file, result)
        }));
        Ok(())
    }

    /// The file, and what the read in flight (if any) got.
    async fn settle(&mut self) -> Result<(std::fs::File, std::io::Result<Bytes>)> {
        if let Some(reading) = self.reading.as_mut() {
            // Cancel-safe: the handle stays until its result is in hand.
            let outcome = reading.await.map_err(join_failed)?;
            self.reading = None;
            return Ok(outcome);
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| ClientError::Protocol("local file used after a failed read".into()))?;
        Ok((file, Ok(Bytes::new())))
    }
}

/// Reads up to `chunk` bytes into `data` (empty, with room for them), as
/// many as there are before the end.
fn read_chunk(
    file: &mut std::fs::File,
    mut data: Vec<u8>,
    chunk: usize,
    buffers: &Buffers,
) -> std::io::Result<Bytes> {
    // `read_to_end` reads a file straight into the vector's spare room.
    file.take(chunk as u64).read_to_end(&mut data)?;
    if data.is_empty() {
        return Ok(Bytes::new());
    }
    Ok(buffers.share(data))
}

fn join_failed(e: tokio::task::JoinError) -> ClientError {
    ClientError::Protocol(format!("a blocking task failed: {e}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Everything `source` gives from here on, each call cut short at once
    /// as often as it would wait (a select that another branch won).
    async fn drain<R: AsyncRead + AsyncSeek + Unpin + Send>(source: &mut Source<'_, R>) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            match tokio::time::timeout(Duration::ZERO, source.next()).await {
                Err(_) => tokio::task::yield_now().await,
                Ok(data) => {
                    let data = data.unwrap();
                    if data.is_empty() {
                        return got;
                    }
                    got.extend_from_slice(&data);
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_gives_every_byte_in_order_though_reads_are_cut_short() {
        let bytes = content(1_000_003);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut source = Source::<tokio::fs::File>::file(file, 4096);
        assert!(drain(&mut source).await == bytes);
        // Again from the start, twice: the second time with a read ahead
        // in flight.
        source.rewind().await.unwrap();
        let first = source.next().await.unwrap();
        assert_eq!(first.len(), 4096);
        source.rewind().await.unwrap();
        assert!(drain(&mut source).await == bytes);
    }

    #[tokio::test]
    async fn a_files_chunk_buffers_are_used_again_only_once_every_holder_let_go() {
        let bytes = content(10 * 4096);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut source = Source::<tokio::fs::File>::file(file, 4096);
        // Held chunks keep their bytes while later chunks are read.
        let held: Vec<Bytes> = [source.next().await.unwrap(), source.next().await.unwrap()]
            .into_iter()
            .chain(std::iter::once(source.next().await.unwrap()))
            .collect();
        let second = held[1].clone();
        let addresses: Vec<*const u8> = held.iter().map(|b| b.as_ptr()).collect();
        assert!(held.concat() == bytes[..3 * 4096]);
        assert_eq!(
            addresses
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            3
        );
        // The second chunk is still held through its clone: of the three,
        // only the other two buffers come back.
        drop(held);
        let kept = |source: &Source<'_, tokio::fs::File>| match &source.from {
            From::File(f) => f.buffers.0.lock().unwrap().len(),
            From::Reader(_) => unreachable!(),
        };
        assert_eq!(kept(&source), 2);
        // The chunk read ahead, then one read into a buffer given back.
        let next: Vec<Bytes> = vec![source.next().await.unwrap(), source.next().await.unwrap()];
        assert!(
            next.concat() == bytes[3 * 4096..5 * 4096],
            "the chunks after them, in order"
        );
        assert_eq!(kept(&source), 0, "the next two reads took them");
        assert!(addresses[0] == next[1].as_ptr() || addresses[2] == next[1].as_ptr());
        assert!(second[..] == bytes[4096..2 * 4096], "a held chunk changed");
        // No more than a few are kept, however many were let go at once.
        let buffers = Buffers::default();
        let lent: Vec<Bytes> = (0..10).map(|_| buffers.share(buffers.take(16))).collect();
        drop(lent);
        assert_eq!(buffers.0.lock().unwrap().len(), KEPT_BUFFERS);
    }

    #[tokio::test]
    async fn a_resume_rehashes_the_held_bytes_and_sends_the_rest_of_their_chunk() {
        let bytes = content(100);
        for from_file in [false, true] {
            let mut cursor = std::io::Cursor::new(bytes.clone());
            let mut source = if from_file {
                let mut file = tempfile::tempfile().unwrap();
                file.write_all(&bytes).unwrap();
                Source::file(file, 10)
            } else {
                Source::reader(&mut cursor, 10)
            };
            // Read past where the server's bytes end, as a first attempt
            // would, then start over.
            source.next().await.unwrap();
            source.rewind().await.unwrap();
            let mut hasher = Sha256::new();
            source.rehash(35, &mut hasher).await.unwrap();
            assert_eq!(hasher.finalize(), Sha256::digest(&bytes[..35]));
            let next = source.next().await.unwrap();
            assert_eq!(&next[..], &bytes[35..40], "the rest of the crossing chunk");
            assert!(drain(&mut source).await == bytes[40..]);
            // More than the source holds is refused.
            source.rewind().await.unwrap();
            let refused = source.rehash(101, &mut Sha256::new()).await;
            assert!(
                matches!(refused, Err(ClientError::Protocol(_))),
                "{refused:?}"
            );
        }
    }
}
