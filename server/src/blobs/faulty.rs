//! A fault-injecting wrapper: the same trait, failing on demand.
//!
//! Tests wrap a real backend in [`FaultyStore`] and switch faults on and off
//! through the shared [`Faults`], to prove that a failing backend never
//! makes the server lose or leak data (the reclaimer, above all, must fail
//! closed).

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use super::{BlobStore, ByteStream, StagedWrite};
use crate::error::{Error, Result};

/// Which operations fail. All off by default.
#[derive(Debug, Default)]
pub struct Faults {
    /// `list` (and so `delete_prefix`) fails.
    pub list: AtomicBool,
    /// `delete` fails.
    pub delete: AtomicBool,
    /// `begin`, `put` and `resume` fail.
    pub write: AtomicBool,
    /// `read` fails.
    pub read: AtomicBool,
    /// Deletes that went through.
    pub deletes: AtomicU64,
}

impl Faults {
    fn check(&self, flag: &AtomicBool, what: &str) -> Result<()> {
        if flag.load(Ordering::SeqCst) {
            Err(Error::Backend(format!("injected fault: {what}")))
        } else {
            Ok(())
        }
    }
}

/// A backend that fails when its [`Faults`] say so.
pub struct FaultyStore {
    inner: Arc<dyn BlobStore>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    /// Wraps `inner`; returns the store and its switches.
    pub fn wrap(inner: Arc<dyn BlobStore>) -> (Self, Arc<Faults>) {
        let faults = Arc::new(Faults::default());
        (
            FaultyStore {
                inner,
                faults: faults.clone(),
            },
            faults,
        )
    }
}

#[async_trait]
impl BlobStore for FaultyStore {
    async fn begin(&self, key: &str) -> Result<Box<dyn StagedWrite>> {
        self.faults.check(&self.faults.write, "begin")?;
        self.inner.begin(key).await
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.faults.check(&self.faults.write, "put")?;
        self.inner.put(key, data).await
    }

    async fn resume(&self, key: &str, token: &str, persisted: u64) -> Result<Box<dyn StagedWrite>> {
        self.faults.check(&self.faults.write, "resume")?;
        self.inner.resume(key, token, persisted).await
    }

    async fn discard(&self, key: &str, token: &str) -> Result<()> {
        self.faults.check(&self.faults.delete, "discard")?;
        self.inner.discard(key, token).await
    }

    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream> {
        self.faults.check(&self.faults.read, "read")?;
        self.inner.read(key, range).await
    }

    async fn reachable(&self) -> bool {
        !self.faults.read.load(Ordering::SeqCst) && self.inner.reachable().await
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        self.inner.size(key).await
    }

    async fn remembered_sha256(&self, key: &str) -> Result<Option<String>> {
        self.inner.remembered_sha256(key).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.faults.check(&self.faults.delete, "delete")?;
        self.inner.delete(key).await?;
        self.faults.deletes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.faults.check(&self.faults.list, "list")?;
        self.inner.list(prefix).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        self.faults.check(&self.faults.list, "list")?;
        self.faults.check(&self.faults.delete, "delete")?;
        self.inner.delete_prefix(prefix).await
    }
}
