//! Where a download's bytes go, and the SHA-256 of a transfer on the way.
//! A download's chunks are gathered into batches of about `BATCH_BYTES`;
//! each batch is hashed on a blocking thread while the next one arrives
//! ([`BackgroundHasher`], which uploads use too), and a local file is
//! written on another (one batch in flight each), so receiving, hashing and
//! writing overlap instead of taking turns; the written pages are flushed
//! to disk on a third as the download goes on, so the fsync at its end is
//! short. Any other `AsyncWrite` is written in order on the caller's task.

use std::io::Write;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::{ClientError, Result};

/// Bytes gathered before a batch is hashed and written: large enough that
/// the hop to a blocking thread is noise, small enough to hold little.
const BATCH_BYTES: usize = 1 << 20;

/// The destination of a download.
pub(crate) enum Sink<'a, W> {
    /// Any async writer, written in order.
    Writer(&'a mut W),
    /// A local file, written on a blocking thread beside the stream.
    File(FileWriter),
}

/// Bytes written between the flushes started beside a download, so the
/// disk writes while the stream goes on and the fsync at the end finds
/// little left to do.
const FLUSH_BYTES: u64 = 8 << 20;

/// A file written one batch at a time on a blocking thread, with its
/// written pages flushed to disk on another as the download goes on.
pub(crate) struct FileWriter {
    /// Taken while a write runs.
    file: Option<std::fs::File>,
    pending: Option<JoinHandle<(std::fs::File, std::io::Result<()>)>>,
    /// A second descriptor of the file for the flush beside the writes;
    /// taken while one runs.
    flusher: Option<std::fs::File>,
    flushing: Option<JoinHandle<(std::fs::File, std::io::Result<()>)>>,
    /// Bytes handed to writes since the last flush started.
    unflushed: u64,
}

impl FileWriter {
    pub(crate) fn new(file: std::fs::File) -> Result<Self> {
        Ok(FileWriter {
            flusher: Some(file.try_clone()?),
            file: Some(file),
            pending: None,
            flushing: None,
            unflushed: 0,
        })
    }

    /// Takes back the flusher once its flush has ended; a failed flush is
    /// told here, since Linux reports a writeback error only once per open
    /// file and the final fsync would not see it again.
    async fn flush_ended(&mut self) -> Result<()> {
        if let Some(flushing) = self.flushing.take() {
            let (file, result) = flushing.await.map_err(join_failed)?;
            self.flusher = Some(file);
            result?;
        }
        Ok(())
    }

    /// Starts flushing what was written so far, unless a flush still runs.
    async fn maybe_flush(&mut self) -> Result<()> {
        if self.unflushed < FLUSH_BYTES {
            return Ok(());
        }
        if self.flushing.as_ref().is_some_and(|f| !f.is_finished()) {
            return Ok(());
        }
        self.flush_ended().await?;
        let Some(file) = self.flusher.take() else {
            return Ok(());
        };
        self.unflushed = 0;
        self.flushing = Some(tokio::task::spawn_blocking(move || {
            let result = file.sync_data();
            (file, result)
        }));
        Ok(())
    }

    /// Waits for the write in flight and takes the file back.
    async fn settle(&mut self) -> Result<&mut std::fs::File> {
        if let Some(pending) = self.pending.take() {
            let (file, result) = pending.await.map_err(join_failed)?;
            self.file = Some(file);
            result?;
        }
        self.file
            .as_mut()
            .ok_or_else(|| ClientError::Protocol("local file used after a failed write".into()))
    }

    async fn write(&mut self, batch: Vec<Bytes>) -> Result<()> {
        self.settle().await?;
        // What the settled writes put in the page cache starts for disk.
        self.maybe_flush().await?;
        let mut file = self.file.take().expect("settled");
        self.unflushed += batch.iter().map(|b| b.len() as u64).sum::<u64>();
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let result = batch.iter().try_for_each(|chunk| file.write_all(chunk));
            (file, result)
        }));
        Ok(())
    }

    /// Waits for every write and flush, then makes the file durable.
    pub(crate) async fn sync(mut self) -> Result<()> {
        self.settle().await?;
        self.flush_ended().await?;
        let file = self.file.take().expect("settled");
        tokio::task::spawn_blocking(move || file.sync_all())
            .await
            .map_err(join_failed)??;
        Ok(())
    }
}

/// Receives a download's chunks in order: batches them, hashes them and
/// writes them, each stage one batch ahead of the next.
pub(crate) struct Receiver<'s, 'a, W> {
    sink: &'s mut Sink<'a, W>,
    hasher: BackgroundHasher,
    batch: Vec<Bytes>,
    batched: usize,
}

/// A SHA-256 fed on a blocking thread, one batch at a time, while the
/// caller goes on with the next (reading a file, receiving a stream).
pub(crate) struct BackgroundHasher {
    idle: Option<Sha256>,
    running: Option<JoinHandle<Sha256>>,
}

impl BackgroundHasher {
    pub(crate) fn new(hasher: Sha256) -> Self {
        BackgroundHasher {
            idle: Some(hasher),
            running: None,
        }
    }

    /// Hashes `chunks` after what came before; waits only for the batch
    /// before them.
    pub(crate) async fn feed(&mut self, chunks: Vec<Bytes>) -> Result<()> {
        let mut hasher = self.state().await?;
        self.running = Some(tokio::task::spawn_blocking(move || {
            chunks.iter().for_each(|chunk| hasher.update(chunk));
            hasher
        }));
        Ok(())
    }

    /// The state once everything fed is hashed.
    pub(crate) async fn state(&mut self) -> Result<Sha256> {
        match self.running.take() {
            Some(task) => task.await.map_err(join_failed),
            None => Ok(self.idle.take().unwrap_or_default()),
        }
    }
}

impl<'s, 'a, W: AsyncWrite + Unpin> Receiver<'s, 'a, W> {
    pub(crate) fn new(sink: &'s mut Sink<'a, W>, hasher: Sha256) -> Self {
        Receiver {
            sink,
            hasher: BackgroundHasher::new(hasher),
            batch: Vec::new(),
            batched: 0,
        }
    }

    /// Takes one chunk; a full batch goes on to be hashed and written.
    pub(crate) async fn push(&mut self, data: Bytes) -> Result<()> {
        self.batched += data.len();
        self.batch.push(data);
        if self.batched >= BATCH_BYTES {
            self.send_batch().await?;
        }
        Ok(())
    }

    async fn send_batch(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batched = 0;
        self.hasher.feed(batch.clone()).await?;
        match self.sink {
            Sink::Writer(w) => {
                for chunk in &batch {
                    w.write_all(chunk).await?;
                }
            }
            Sink::File(f) => f.write(batch).await?,
        }
        Ok(())
    }

    /// Sends what is batched and waits for the hash: the state of every
    /// byte received so far (to go on with after a resume, or to finish).
    pub(crate) async fn drain(mut self) -> Result<Sha256> {
        self.send_batch().await?;
        if let Sink::Writer(w) = self.sink {
            w.flush().await?;
        }
        self.hasher.state().await
    }
}

fn join_failed(e: tokio::task::JoinError) -> ClientError {
    ClientError::Protocol(format!("a blocking task failed: {e}"))
}
