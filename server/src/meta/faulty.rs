//! A fault-injecting engine: the same trait, failing on demand.
//!
//! The twin of `blobs/faulty.rs`. Tests wrap a real engine in
//! [`FaultyEngine`] and switch faults on and off through the shared
//! [`MetaFaults`], to prove that failing metadata never makes the server
//! lose data: above all, that the reclaimer fails closed (deletes nothing it
//! could not confirm unreferenced).

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::engine::{Duty, Engine, ReadJob, ReadOps, Rows, WriteJob, WriteOps};
use crate::error::{Error, Result};

/// Which operations fail. All off by default.
#[derive(Debug, Default)]
pub struct MetaFaults {
    /// Point reads (`get`) fail, in snapshots and in write jobs.
    pub get: AtomicBool,
    /// Scans fail.
    pub scan: AtomicBool,
    /// Write transactions fail to commit (nothing of them is kept).
    pub commit: AtomicBool,
    /// Faults injected so far.
    pub injected: AtomicU64,
}

impl MetaFaults {
    fn check(&self, flag: &AtomicBool, what: &str) -> Result<()> {
        if flag.load(Ordering::SeqCst) {
            self.injected.fetch_add(1, Ordering::SeqCst);
            Err(Error::Metadata(format!("injected fault: {what}")))
        } else {
            Ok(())
        }
    }
}

/// An engine that fails when its [`MetaFaults`] say so.
pub struct FaultyEngine {
    inner: Arc<dyn Engine>,
    faults: Arc<MetaFaults>,
}

impl FaultyEngine {
    /// Wraps `inner`; returns the engine and its switches.
    pub fn wrap(inner: Arc<dyn Engine>) -> (Arc<FaultyEngine>, Arc<MetaFaults>) {
        let faults = Arc::new(MetaFaults::default());
        (
            Arc::new(FaultyEngine {
                inner,
                faults: faults.clone(),
            }),
            faults,
        )
    }
}

struct FaultyOps<'a, O: ?Sized> {
    inner: &'a O,
    faults: &'a MetaFaults,
}

impl<O: ReadOps + ?Sized> ReadOps for FaultyOps<'_, O> {
    fn get(&self, table: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.faults.check(&self.faults.get, "get")?;
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: &'static str,
        start: Bound<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Rows> {
        self.faults.check(&self.faults.scan, "scan")?;
        self.inner.scan(table, start, end, limit)
    }

    /// Always: a prefetch fails here as a get would, whatever the engine.
    fn fetches_ahead(&self) -> bool {
        true
    }

    fn prefetch(&self, rows: &[(&'static str, Vec<u8>)]) -> Result<()> {
        // A batch of gets: it fails as they would.
        self.faults.check(&self.faults.get, "get")?;
        self.inner.prefetch(rows)
    }
}

impl<O: WriteOps + ?Sized> WriteOps for FaultyOps<'_, O> {
    fn put(&self, table: &'static str, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.put(table, key, value)
    }

    fn delete(&self, table: &'static str, key: &[u8]) -> Result<bool> {
        self.inner.delete(table, key)
    }

    fn delete_range(&self, table: &'static str, start: &[u8], end: Option<&[u8]>) -> Result<u64> {
        self.inner.delete_range(table, start, end)
    }

    fn next_version(&self) -> Result<u64> {
        self.inner.next_version()
    }

    fn raise_version(&self, floor: u64) -> Result<()> {
        self.inner.raise_version(floor)
    }
}

#[async_trait::async_trait]
impl Engine for FaultyEngine {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn read_blocking(&self, job: ReadJob<'_>) -> Result<()> {
        let faults = &*self.faults;
        self.inner
            .read_blocking(&mut |ops: &dyn ReadOps| job(&FaultyOps { inner: ops, faults }))
    }

    fn reads_inline(&self) -> bool {
        self.inner.reads_inline()
    }

    async fn fetch(&self, rows: &[(&'static str, Vec<u8>)]) -> Result<Vec<Option<Vec<u8>>>> {
        // Gets by another road: they fail as gets do.
        self.faults.check(&self.faults.get, "fetch")?;
        self.inner.fetch(rows).await
    }

    async fn write(&self, job: WriteJob) -> Result<()> {
        let faults = self.faults.clone();
        let WriteJob {
            reads,
            turns,
            mut run,
        } = job;
        self.inner
            .write(WriteJob {
                reads,
                turns,
                run: Box::new(move |ops: &dyn WriteOps| {
                    run(&FaultyOps {
                        inner: ops,
                        faults: &faults,
                    })?;
                    // Failing after the job wrote is what a lost commit
                    // looks like to the engine: it must keep none of it.
                    faults.check(&faults.commit, "commit")
                }),
            })
            .await
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    async fn clock_ms(&self) -> Result<i64> {
        self.faults.check(&self.faults.get, "clock")?;
        self.inner.clock_ms().await
    }

    async fn take_turn(&self, duty: Duty) -> Result<bool> {
        self.faults.check(&self.faults.get, "turn")?;
        self.inner.take_turn(duty).await
    }

    async fn reachable(&self) -> bool {
        !self.faults.get.load(Ordering::SeqCst) && self.inner.reachable().await
    }

    fn stored_bytes(&self) -> Option<u64> {
        self.inner.stored_bytes()
    }

    fn close(&self) {
        self.inner.close();
    }
}
