//! SHA-256 computed on a blocking thread beside the work that brings the
//! bytes (a stream received, a body written, an object read back): each
//! chunk hashes, in order, while the next one arrives, so the hash and the
//! transfer overlap instead of taking turns.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// A SHA-256 fed one chunk at a time on a blocking thread.
#[derive(Default)]
pub struct BesideHasher {
    /// The state when no chunk is being hashed.
    idle: Sha256,
    /// The chunk being hashed; it owns the state meanwhile.
    running: Option<JoinHandle<Sha256>>,
}

impl BesideHasher {
    /// Goes on from `hasher`'s state.
    pub fn new(hasher: Sha256) -> Self {
        BesideHasher {
            idle: hasher,
            running: None,
        }
    }

    /// The state once every chunk fed is hashed.
    pub async fn settled(&mut self) -> Result<&mut Sha256> {
        if let Some(running) = self.running.take() {
            self.idle = running
                .await
                .map_err(|e| Error::Internal(format!("hash task failed: {e}")))?;
        }
        Ok(&mut self.idle)
    }

    /// Hashes `data` after everything fed before; waits only for the chunk
    /// before it.
    pub async fn feed(&mut self, data: Bytes) -> Result<()> {
        let mut hasher = std::mem::take(self.settled().await?);
        self.running = Some(tokio::task::spawn_blocking(move || {
            hasher.update(&data);
            hasher
        }));
        Ok(())
    }

    /// The hex digest of everything fed.
    pub async fn finish(mut self) -> Result<String> {
        let hasher = std::mem::take(self.settled().await?);
        Ok(hex::encode(hasher.finalize()))
    }
}
