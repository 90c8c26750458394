//! The in-memory backend: objects in a map, for tests and ephemeral
//! deployments. Staged writes live beside the objects until completed, so a
//! suspended upload can be resumed while the process lives.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use super::{BlobStore, ByteStream, StagedWrite};
use crate::error::{Result, not_found};

/// Chunk size of reads.
const READ_CHUNK: usize = 1 << 20;

/// An object as the chunks it was written in: completing a large upload
/// does not copy it into one buffer.
#[derive(Clone)]
struct Object {
    chunks: Arc<[Bytes]>,
    len: u64,
    /// The SHA-256 its writer remembered.
    sha256: Option<String>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Object>,
    /// Suspended staged writes by key: their chunks, persisted length.
    staged: BTreeMap<String, Vec<Bytes>>,
}

/// Objects held in process memory.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl BlobStore for MemoryStore {
    async fn begin(&self, key: &str) -> Result<Box<dyn StagedWrite>> {
        Ok(Box::new(MemoryWrite {
            store: self.clone(),
            key: key.to_owned(),
            chunks: Vec::new(),
            sha256: None,
        }))
    }

    async fn resume(
        &self,
        key: &str,
        _token: &str,
        persisted: u64,
    ) -> Result<Box<dyn StagedWrite>> {
        let chunks = self
            .state
            .lock()
            .unwrap()
            .staged
            .remove(key)
            .ok_or_else(|| not_found("the staged upload is gone"))?;
        let chunks = truncate(chunks, persisted);
        Ok(Box::new(MemoryWrite {
            store: self.clone(),
            key: key.to_owned(),
            chunks,
            sha256: None,
        }))
    }

    async fn discard(&self, key: &str, _token: &str) -> Result<()> {
        self.state.lock().unwrap().staged.remove(key);
        Ok(())
    }

    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream> {
        let object = self
            .state
            .lock()
            .unwrap()
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| not_found(format!("no object at {key}")))?;
        let end = range.end.min(object.len);
        let start = range.start.min(end);
        let mut out: Vec<Result<Bytes>> = Vec::new();
        let mut at = 0u64;
        for chunk in object.chunks.iter() {
            let (chunk_start, chunk_end) = (at, at + chunk.len() as u64);
            at = chunk_end;
            if chunk_end <= start || chunk_start >= end {
                continue;
            }
            let from = start.max(chunk_start) - chunk_start;
            let to = end.min(chunk_end) - chunk_start;
            let piece = chunk.slice(from as usize..to as usize);
            for offset in (0..piece.len()).step_by(READ_CHUNK) {
                out.push(Ok(
                    piece.slice(offset..(offset + READ_CHUNK).min(piece.len()))
                ));
            }
        }
        Ok(Box::pin(futures::stream::iter(out)))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        Ok(self.state.lock().unwrap().objects.get(key).map(|o| o.len))
    }

    async fn remembered_sha256(&self, key: &str) -> Result<Option<String>> {
        let state = self.state.lock().unwrap();
        Ok(state.objects.get(key).and_then(|o| o.sha256.clone()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let state = self.state.lock().unwrap();
        let mut keys: Vec<String> = state
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .chain(
                state
                    .staged
                    .keys()
                    .filter(|k| k.starts_with(prefix))
                    .map(|k| format!("{k}.partial")),
            )
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn promote(&self, from: &str, to: &str) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let object = state
            .objects
            .remove(from)
            .ok_or_else(|| crate::error::not_found(format!("no object at {from}")))?;
        state.objects.insert(to.to_owned(), object);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        state.objects.remove(key);
        if let Some(staged) = key.strip_suffix(".partial") {
            state.staged.remove(staged);
        }
        Ok(())
    }
}

fn truncate(chunks: Vec<Bytes>, len: u64) -> Vec<Bytes> {
    let mut left = len as usize;
    let mut out = Vec::new();
    for chunk in chunks {
        if left == 0 {
            break;
        }
        let take = chunk.len().min(left);
        out.push(chunk.slice(..take));
        left -= take;
    }
    out
}

struct MemoryWrite {
    store: MemoryStore,
    key: String,
    chunks: Vec<Bytes>,
    sha256: Option<String>,
}

#[async_trait]
impl StagedWrite for MemoryWrite {
    fn token(&self) -> String {
        String::new()
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.chunks.push(data);
        Ok(())
    }

    async fn persist(&mut self) -> Result<u64> {
        Ok(self.chunks.iter().map(|c| c.len() as u64).sum())
    }

    fn remember_sha256(&mut self, sha256: &str) {
        self.sha256 = Some(sha256.to_owned());
    }

    async fn complete(mut self: Box<Self>) -> Result<()> {
        let chunks: Arc<[Bytes]> = std::mem::take(&mut self.chunks).into();
        let len = chunks.iter().map(|c| c.len() as u64).sum();
        let object = Object {
            chunks,
            len,
            sha256: self.sha256.take(),
        };
        self.store
            .state
            .lock()
            .unwrap()
            .objects
            .insert(self.key.clone(), object);
        Ok(())
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    fn suspend(mut self: Box<Self>) {
        let chunks = std::mem::take(&mut self.chunks);
        self.store
            .state
            .lock()
            .unwrap()
            .staged
            .insert(self.key.clone(), chunks);
    }
}
