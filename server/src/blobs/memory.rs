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

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Bytes>,
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
        let end = (range.end as usize).min(object.len());
        let start = (range.start as usize).min(end);
        let slice = object.slice(start..end);
        let chunks: Vec<Result<Bytes>> = (0..slice.len())
            .step_by(READ_CHUNK)
            .map(|at| Ok(slice.slice(at..(at + READ_CHUNK).min(slice.len()))))
            .collect();
        Ok(Box::pin(futures::stream::iter(chunks)))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .objects
            .get(key)
            .map(|b| b.len() as u64))
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

    async fn complete(mut self: Box<Self>) -> Result<()> {
        let mut whole = bytes::BytesMut::with_capacity(self.chunks.iter().map(Bytes::len).sum());
        for chunk in self.chunks.drain(..) {
            whole.extend_from_slice(&chunk);
        }
        self.store
            .state
            .lock()
            .unwrap()
            .objects
            .insert(self.key.clone(), whole.freeze());
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
