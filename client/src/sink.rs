//! Where a download's bytes go, and the SHA-256 of a transfer on the way.
//! A download's chunks are gathered into batches of about `BATCH_BYTES`;
//! each batch is hashed on a blocking thread while the next one arrives
//! ([`BackgroundHasher`], which uploads use too), and a local file is
//! written on another (one batch in flight each), so receiving, hashing and
//! writing overlap instead of taking turns. Any other `AsyncWrite` is
//! written in order on the caller's task.

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

/// A file written one batch at a time on a blocking thread.
pub(crate) struct FileWriter {
    /// Taken while a write runs.
    file: Option<std::fs::File>,
    pending: Option<JoinHandle<(std::fs::File, std::io::Result<()>)>>,
}

impl FileWriter {
    pub(crate) fn new(file: std::fs::File) -> Self {
        FileWriter {
            file: Some(file),
            pending: None,
        }
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
        let mut file = self.file.take().expect("settled");
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let result = batch.iter().try_for_each(|chunk| file.write_all(chunk));
            (file, result)
        }));
        Ok(())
    }

    /// Waits for every write, then makes the file durable.
    pub(crate) async fn sync(mut self) -> Result<()> {
        let file = self.settle().await?.try_clone()?;
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
