//! The reclaimer: deletes content nothing refers to any more.
//!
//! First, expiry: sessions whose lease ran out end, and namespaces past
//! their TTL or whose session is gone are destroyed. Then three queues, all
//! in the metadata so an interrupted pass resumes after restart: purges of
//! destroyed namespaces (their whole grid prefix), uploads whose
//! lease ran out, and objects whose reference count reached zero (after the
//! grace period, so a download that resolved an object just before it was
//! replaced can finish). It fails closed: the first metadata or backend
//! error ends the pass without deleting anything further; the next pass
//! starts over from the queues.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Core;
use crate::error::Result;
use crate::meta::{self, NamespaceRecord, ObjectRecord, PurgeRecord, Span, UploadRecord};

/// Passes between orphan sweeps (the first pass always sweeps).
const ORPHAN_SWEEP_EVERY: u64 = 20;

/// Deleted objects whose records one metadata commit removes.
const RECORDS_PER_COMMIT: usize = 256;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReclaimReport {
    /// Sessions whose lease ran out.
    pub expired_sessions: u64,
    /// Namespaces destroyed because they expired or their session ended.
    pub expired_namespaces: u64,
    /// Namespace prefixes purged.
    pub purged_prefixes: u64,
    /// Expired uploads discarded.
    pub expired_uploads: u64,
    /// Unreferenced objects deleted.
    pub deleted_objects: u64,
    /// Keys in the backend that no metadata knows (left by a crash between
    /// a write and its commit), deleted.
    pub orphans: u64,
    /// Unknown keys another replica may still be writing (it is alive, or
    /// died less than a lease ago), left for a sweep two leases later.
    pub orphans_deferred: u64,
}

impl Core {
    /// Deletes a destroyed namespace's prefix and drops its purge record.
    ///
    /// A purge record is also the intent a namespace created with its first
    /// file queues before storing it (see `stage_initial_file`), removed by
    /// the commit that creates the namespace. So the prefix is deleted only
    /// if, after checking that nothing is being written under it, the record
    /// is still there and no namespace has the id. Returns whether it was.
    pub(crate) async fn purge_prefix(&self, ns_id: &str, purge: &PurgeRecord) -> Result<bool> {
        let backend = self.backend(&purge.backend)?;
        // Listed before the writers are judged: a key listed was written
        // after its writer registered, so a live writer is seen.
        let listed = backend.list(&purge.prefix).await?;
        let writers = self.live_tags().await?;
        // The intent of a namespace another live replica is creating is
        // that replica's to settle; a key being written (here, or by a live
        // replica into a destroyed namespace) waits for its writer.
        if writers.is_other_live(&purge.writer)
            || writers.writing_here_under(&purge.prefix)
            || listed
                .iter()
                .any(|key| writers.fate(key) == super::replicas::KeyFate::InFlight)
        {
            return Ok(false);
        }
        let key = ns_id.to_owned();
        let still_doomed = self
            .meta
            .read(move |r| {
                Ok(r.get(&meta::PURGES, &key)?.is_some()
                    && r.get(&meta::NAMESPACES, &key)?.is_none())
            })
            .await?;
        if !still_doomed {
            return Ok(false);
        }
        if purge.keep_recorded {
            // Objects other namespaces still refer to stay; they go one by
            // one when their last reference does.
            let key = ns_id.to_owned();
            let kept: std::collections::HashSet<String> = self
                .scan(move |r| {
                    r.rows(&meta::OBJECTS, Span::under(&[&key], ""))
                        .map(|row| row.map(|(_, object)| object.key))
                        .collect()
                })
                .await?;
            for listed_key in listed.iter().filter(|k| !kept.contains(*k)) {
                backend.delete(listed_key).await?;
            }
        } else {
            backend.delete_prefix(&purge.prefix).await?;
        }
        let id = ns_id.to_owned();
        self.meta
            .write(move |txn| {
                txn.delete(&meta::PURGES, &id)?;
                Ok(true)
            })
            .await
    }

    /// Runs one reclaim pass over every queue.
    pub async fn reclaim_pass(self: &Arc<Self>) -> Result<ReclaimReport> {
        self.reclaim_pass_with(true).await
    }

    /// One pass; the orphan sweep (a listing of every namespace) only when
    /// asked.
    pub async fn reclaim_pass_with(self: &Arc<Self>, sweep_orphans: bool) -> Result<ReclaimReport> {
        let mut report = ReclaimReport::default();
        self.forget_dead_replicas().await?;

        // Sessions whose lease ran out end (their namespaces die with them).
        let now = self.meta.now_ms();
        let expired_sessions: Vec<String> = self
            .scan(move |r| {
                let mut out = Vec::new();
                for row in r.rows(&meta::SESSIONS, Span::all()) {
                    let (id, session) = row?;
                    if session.expires_ms <= now {
                        out.push(id);
                    }
                }
                Ok(out)
            })
            .await?;
        for session in expired_sessions {
            self.end_session(&session).await?;
            report.expired_sessions += 1;
        }
        // Namespaces past their TTL, or whose session is gone (also those a
        // crash left behind between a session's end and their destruction).
        let dead_namespaces: Vec<String> = self
            .scan(move |r| {
                let mut out = Vec::new();
                for row in r.rows(&meta::NAMESPACES, Span::all()) {
                    let (id, ns) = row?;
                    if !super::is_alive(&ns, r, now)? {
                        out.push(id);
                    }
                }
                Ok(out)
            })
            .await?;
        for ns in dead_namespaces {
            match self.destroy_namespace_unchecked(&ns).await {
                Ok(_) => report.expired_namespaces += 1,
                Err(crate::error::Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }

        let purges: Vec<(String, PurgeRecord)> = self
            .scan(|r| r.rows(&meta::PURGES, Span::all()).collect())
            .await?;
        for (ns, purge) in purges {
            if self.purge_prefix(&ns, &purge).await? {
                report.purged_prefixes += 1;
            }
        }

        let expired: Vec<(String, UploadRecord)> = self
            .scan(|r| r.rows(&meta::UPLOADS, Span::all()).collect())
            .await?;
        for (id, record) in expired {
            // Decide first, claim only to act: an upload is held only while
            // it is being discarded, so a stream, a presigned PUT or a
            // finalize is not turned away by a pass that leaves it alone.
            if !self.upload_is_dead(&record, now).await? {
                continue;
            }
            let _held = match self.claim_upload(&id).await {
                Ok(held) => held,
                // Attached: whoever holds it decides its fate.
                Err(crate::error::Error::Aborted(_)) => continue,
                Err(e) => return Err(e),
            };
            // It may have finished or moved on between the look and the claim.
            let key = id.clone();
            let Some(record) = self.meta.read(move |r| r.get(&meta::UPLOADS, &key)).await? else {
                continue;
            };
            if !self.upload_is_dead(&record, now).await? {
                continue;
            }
            let expired = record.lease_expires_ms <= now;
            if super::uploads::discard_upload(self, &id, &record, expired).await? {
                report.expired_uploads += 1;
            }
        }

        let grace_ms =
            i64::try_from(self.config.reclaim.grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let due = now.saturating_sub(grace_ms);
        let doomed: Vec<(String, String, ObjectRecord)> = self
            .scan(move |r| {
                let mut due_rows = Vec::new();
                for row in r.rows(&meta::GARBAGE, Span::all()) {
                    let ((ns, object), since) = row?;
                    if since <= due {
                        due_rows.push((ns, object));
                    }
                }
                // Their records are read ahead, a batch at a time: on a
                // shared engine one statement per batch, not one each.
                let mut out = Vec::new();
                for batch in due_rows.chunks(RECORDS_PER_COMMIT) {
                    r.prefetch(|| {
                        meta::Wanted::default().rows(
                            &meta::OBJECTS,
                            batch.iter().map(|(ns, o)| (ns.as_str(), o.as_str())),
                        )
                    })?;
                    for (ns, object) in batch {
                        let Some(record) = r.get(&meta::OBJECTS, (ns, object))? else {
                            continue;
                        };
                        if record.refs == 0 {
                            out.push((ns.clone(), object.clone(), record));
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        // The records of deleted objects go in one commit per batch, not
        // one each: under a write load a commit waits its turn among the
        // clients' (hundreds of ms), and one object a commit fell behind
        // the objects that overwrites make unreferenced, until the disk
        // filled.
        for batch in doomed.chunks(RECORDS_PER_COMMIT) {
            let mut deleted = Vec::with_capacity(batch.len());
            let mut failure = None;
            for (ns, object, record) in batch {
                let removed = match self.backend(&record.backend) {
                    Ok(backend) => backend.delete(&record.key).await,
                    Err(e) => Err(e),
                };
                match removed {
                    Ok(()) => deleted.push((ns.clone(), object.clone())),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            // What was deleted is recorded even when a deletion then
            // failed; the pass ends after it.
            let count = deleted.len() as u64;
            if !deleted.is_empty() {
                self.meta
                    .write(move |txn| {
                        let keys = || deleted.iter().map(|(ns, o)| (ns.as_str(), o.as_str()));
                        // Read ahead, so the deletes wait with the rest of
                        // the commit's changes instead of each going alone.
                        txn.prefetch(|| {
                            meta::Wanted::default()
                                .rows(&meta::OBJECTS, keys())
                                .rows(&meta::GARBAGE, keys())
                        })?;
                        for (ns, object) in &deleted {
                            let key = (ns.as_str(), object.as_str());
                            let refs = txn.get(&meta::OBJECTS, key)?.map_or(0, |o| o.refs);
                            if refs == 0 {
                                txn.delete(&meta::OBJECTS, key)?;
                            }
                            txn.delete(&meta::GARBAGE, key)?;
                        }
                        Ok(())
                    })
                    .await?;
            }
            report.deleted_objects += count;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        if sweep_orphans {
            (report.orphans, report.orphans_deferred) = self.sweep_orphans().await?;
        }
        if report != ReclaimReport::default() {
            tracing::info!(?report, "reclaim pass");
        }
        Ok(report)
    }
}

impl Core {
    /// Whether an unfinished upload is to be discarded: its lease ran out,
    /// or a finish was cut off (a crash) between completing its object and
    /// committing it, leaving a whole object it can no longer resume from
    /// that was never acknowledged.
    async fn upload_is_dead(&self, record: &UploadRecord, now: i64) -> Result<bool> {
        if record.lease_expires_ms <= now {
            return Ok(true);
        }
        if self
            .backend(&record.backend)?
            .size(&record.object_key)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let (ns, object) = (record.namespace_id.clone(), record.object_id.clone());
        let committed = self
            .meta
            .read(move |r| Ok(r.get(&meta::OBJECTS, (&ns, &object))?.is_some()))
            .await?;
        Ok(!committed)
    }

    /// Deletes backend keys under live namespaces that no metadata knows:
    /// objects written just before a crash cut their commit off. Lists
    /// first, then reads which keys are being written, then the metadata,
    /// so a write that commits meanwhile is seen by one or the other. Fails
    /// closed: a listing or metadata error deletes nothing.
    /// Deletes keys no record knows and no live writer is writing; returns
    /// how many it deleted, and how many wait for a dead writer's last lease.
    pub(crate) async fn sweep_orphans(self: &Arc<Self>) -> Result<(u64, u64)> {
        let namespaces: Vec<NamespaceRecord> = self
            .scan(|r| {
                r.rows(&meta::NAMESPACES, Span::all())
                    .map(|row| row.map(|(_, ns)| ns))
                    .collect()
            })
            .await?;
        let mut listed = Vec::new();
        for ns in &namespaces {
            let keys = self.backend(&ns.backend)?.list(&ns.grid_prefix).await?;
            listed.push((ns.clone(), keys));
        }
        let writers = self.live_tags().await?;
        let known: std::collections::HashSet<String> = self
            .scan(|r| {
                let mut known = std::collections::HashSet::new();
                for row in r.rows(&meta::OBJECTS, Span::all()) {
                    known.insert(row?.1.key);
                }
                for row in r.rows(&meta::UPLOADS, Span::all()) {
                    let (_, upload) = row?;
                    if !upload.staging_key.is_empty() {
                        known.insert(upload.staging_key);
                    }
                    known.insert(upload.object_key);
                }
                Ok(known)
            })
            .await?;
        let (mut deleted, mut deferred) = (0, 0);
        for (ns, keys) in listed {
            for key in keys {
                let base = key.strip_suffix(".partial").unwrap_or(&key);
                let is_partial = base.len() != key.len();
                let upload_key = known.contains(base);
                if (known.contains(&key) && !is_partial) || (is_partial && upload_key) {
                    continue;
                }
                if writers.fate(&key) == super::replicas::KeyFate::InFlight {
                    deferred += 1;
                    continue;
                }
                tracing::info!(namespace = %ns.id, key = %key, "deleting an orphaned object");
                self.backend(&ns.backend)?.delete(&key).await?;
                deleted += 1;
            }
        }
        Ok((deleted, deferred))
    }
}

/// Runs reclaim passes until `stop` changes: on every wake-up and at least
/// every `interval_secs`. A failed pass is logged and retried later.
pub async fn run(core: Arc<Core>, mut stop: watch::Receiver<bool>) {
    let interval = Duration::from_secs(core.config.reclaim.interval_secs.max(1));
    let mut passes: u64 = 0;
    let mut sweep_again_at: Option<std::time::Instant> = None;
    loop {
        // The orphan sweep lists every namespace: at start, then now and
        // then, and two leases after one that left keys another replica
        // may have been writing (so a dead one's are taken by then).
        let sweep = passes.is_multiple_of(ORPHAN_SWEEP_EVERY)
            || sweep_again_at.is_some_and(|at| std::time::Instant::now() >= at);
        passes += 1;
        let m = crate::metrics::metrics();
        // One replica at a time reclaims (each deletion is re-checked in
        // its own transaction, so two at once would only do work twice).
        match core
            .meta
            .engine()
            .take_turn(crate::meta::Duty::Reclaim)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                passes -= 1;
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
            Err(e) => tracing::warn!(error = %e, "could not ask for the reclaimer's turn"),
        }
        m.reclaim_passes.inc();
        match core.reclaim_pass_with(sweep).await {
            Ok(report) => {
                if sweep {
                    sweep_again_at = (report.orphans_deferred > 0)
                        .then(|| std::time::Instant::now() + 2 * core.replica.lease());
                }
                m.reclaim_deleted_objects
                    .inc_by(report.deleted_objects + report.orphans);
                m.reclaim_expired_uploads.inc_by(report.expired_uploads);
            }
            Err(e) => {
                m.reclaim_failures.inc();
                tracing::warn!(error = %e, "reclaim pass stopped (fails closed); retrying later");
            }
        }
        tokio::select! {
            _ = core.reclaim_wakeup.notified() => {
                // Let the grace period of what was just freed run out.
                let grace = Duration::from_secs(core.config.reclaim.grace_secs);
                tokio::select! {
                    _ = tokio::time::sleep(grace.min(interval)) => {}
                    _ = stop.changed() => return,
                }
            }
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use arca_proto::v1::{NamespaceType, Scope};
    use bytes::Bytes;

    use crate::auth::{Identity, Role};
    use crate::blobs::faulty::{Faults, FaultyStore};
    use crate::blobs::{Backends, fs::FsStore};
    use crate::config::Config;
    use crate::core::namespaces::NewNamespace;
    use crate::core::{Core, WriteOptions};
    use crate::meta::{self, PurgeRecord};

    fn admin() -> Identity {
        Identity {
            sandbox: "sb".into(),
            role: Role::Admin {
                all_sandboxes: false,
            },
            principal: "test".into(),
        }
    }

    async fn setup(dir: &std::path::Path) -> (Arc<Core>, Arc<Faults>, std::path::PathBuf) {
        let mut config = Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        };
        config.reclaim.grace_secs = 0;
        config.auth.keys.insert(
            "k".into(),
            crate::config::ApiKeyConfig {
                sandbox: "sb".into(),
                role: crate::config::KeyRole::Admin,
                all_sandboxes: false,
                secret_sha256: crate::auth::sha256_hex("k"),
            },
        );
        let config = config.finalize().unwrap();
        let root = dir.join("blobs");
        let (store, faults) = FaultyStore::wrap(Arc::new(FsStore::open(&root).unwrap()));
        let mut backends = Backends::open(&Default::default()).await.unwrap();
        backends.insert("local", Arc::new(store));
        (
            Core::open_with(config, backends).await.unwrap(),
            faults,
            root,
        )
    }

    /// [`setup`] with the metadata engine behind a fault switch too.
    async fn setup_faulty_meta(
        dir: &std::path::Path,
    ) -> (Arc<Core>, Arc<meta::faulty::MetaFaults>, std::path::PathBuf) {
        let (probe, _, root) = setup(dir).await;
        let config = probe.config.clone();
        probe.close();
        let engine = meta::MetaStore::open(&config)
            .await
            .unwrap()
            .engine()
            .clone();
        let (faulty, faults) = meta::faulty::FaultyEngine::wrap(engine);
        let mut backends = Backends::open(&Default::default()).await.unwrap();
        backends.insert("local", Arc::new(FsStore::open(&root).unwrap()));
        let core = Core::open_with_meta(config, backends, meta::MetaStore::new(faulty))
            .await
            .unwrap();
        (core, faults, root)
    }

    /// The reclaimer fails closed on metadata too: while reads (point or
    /// scan) or commits fail, a pass reports the failure and no live object
    /// goes; once they work again, the unreferenced one is reclaimed.
    #[tokio::test]
    async fn failing_metadata_stops_the_pass_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (core, faults, root) = setup_faulty_meta(dir.path()).await;
        let ns = workspace(&core).await;
        let old = write(&core, &ns, "f", b"old").await;
        let new = write(&core, &ns, "f", b"new").await;
        for flag in [&faults.scan, &faults.get, &faults.commit] {
            flag.store(true, Ordering::SeqCst);
            assert!(core.reclaim_pass().await.is_err(), "the pass must fail");
            flag.store(false, Ordering::SeqCst);
            assert!(root.join(&new).exists(), "the live object must stay");
        }
        assert!(faults.injected.load(Ordering::SeqCst) >= 3);
        core.reclaim_pass().await.unwrap();
        assert!(!root.join(&old).exists());
        let (_, data) = core.read_file(&admin(), &ns, "f", 0, 0).await.unwrap();
        assert_eq!(data, b"new");
    }

    async fn workspace(core: &Arc<Core>) -> String {
        let req = NewNamespace {
            ns_type: NamespaceType::Workspace,
            scope: Scope::User,
            user: "alice".into(),
            ..Default::default()
        };
        core.create_namespace(&admin(), req).await.unwrap().id
    }

    async fn write(core: &Arc<Core>, ns: &str, path: &str, data: &'static [u8]) -> String {
        core.write_file(
            &admin(),
            ns,
            path,
            Bytes::from_static(data),
            WriteOptions::default(),
        )
        .await
        .unwrap()
        .object_key
    }

    #[tokio::test]
    async fn a_failing_delete_stops_the_pass_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (core, faults, root) = setup(dir.path()).await;
        let ns = workspace(&core).await;
        let old = write(&core, &ns, "f", b"old").await;
        let new = write(&core, &ns, "f", b"new").await;
        faults.delete.store(true, Ordering::SeqCst);
        assert!(
            core.reclaim_pass().await.is_err(),
            "the pass must report the failure"
        );
        assert!(root.join(&old).exists() && root.join(&new).exists());
        // Retried later, it finishes; the live object is untouched.
        faults.delete.store(false, Ordering::SeqCst);
        core.reclaim_pass().await.unwrap();
        assert!(!root.join(&old).exists());
        assert!(root.join(&new).exists());
        let (_, data) = core.read_file(&admin(), &ns, "f", 0, 0).await.unwrap();
        assert_eq!(data, b"new");
    }

    #[tokio::test]
    async fn a_failing_listing_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (core, faults, root) = setup(dir.path()).await;
        let ns = workspace(&core).await;
        let live = write(&core, &ns, "f", b"live").await;
        // An orphan: bytes under the namespace that no metadata knows, as a
        // crash between a write and its commit leaves.
        let prefix = core.get_namespace(&admin(), &ns).await.unwrap().grid_prefix;
        let orphan = format!("{prefix}objects/orphan");
        core.backend("local")
            .unwrap()
            .put(&orphan, Bytes::from_static(b"x"))
            .await
            .unwrap();
        faults.list.store(true, Ordering::SeqCst);
        let before = faults.deletes.load(Ordering::SeqCst);
        assert!(core.reclaim_pass().await.is_err());
        assert_eq!(
            faults.deletes.load(Ordering::SeqCst),
            before,
            "deleted while blind"
        );
        assert!(root.join(&orphan).exists() && root.join(&live).exists());
        faults.list.store(false, Ordering::SeqCst);
        let report = core.reclaim_pass().await.unwrap();
        assert_eq!(report.orphans, 1);
        assert!(!root.join(&orphan).exists());
        assert!(root.join(&live).exists());
    }

    #[tokio::test]
    async fn referenced_objects_are_never_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let (core, _faults, root) = setup(dir.path()).await;
        let ns = workspace(&core).await;
        let checkpointed = write(&core, &ns, "f", b"in a checkpoint").await;
        core.create_checkpoint(&admin(), &ns, "cp", "")
            .await
            .unwrap();
        core.remove(&admin(), &ns, "f", false).await.unwrap();
        // An upload in progress, suspended.
        let started = core
            .start_upload(&admin(), &ns, "up", WriteOptions::default(), None)
            .await
            .unwrap();
        let crate::core::uploads::Started::Upload(mut upload) = started else {
            panic!("not an upload")
        };
        upload
            .write(0, Bytes::from_static(b"partial"))
            .await
            .unwrap();
        upload.persist().await.unwrap();
        upload.close().await;
        for _ in 0..3 {
            core.reclaim_pass().await.unwrap();
        }
        assert!(
            root.join(&checkpointed).exists(),
            "a checkpointed object was deleted"
        );
        let partials = walk(&root)
            .into_iter()
            .filter(|p| p.ends_with(".partial"))
            .count();
        assert_eq!(
            partials, 1,
            "the suspended upload's staged bytes were deleted"
        );
    }

    /// A namespace created with its first file queues a purge of its prefix
    /// before the bytes go in (the creating commit removes it). The purge
    /// deletes only once nothing is in flight under the prefix and no
    /// namespace has the id: a crash between staging and commit leaves
    /// nothing; a staging in progress and a committed namespace keep theirs.
    #[tokio::test]
    async fn purge_intents_of_stores_delete_only_what_never_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (core, _faults, root) = setup(dir.path()).await;
        let intend = |id: &str, prefix: &str| {
            let (id, record) = (
                id.to_owned(),
                PurgeRecord {
                    backend: "local".into(),
                    prefix: prefix.to_owned(),
                    ..Default::default()
                },
            );
            let core = core.clone();
            async move {
                core.meta
                    .write(move |txn| txn.put(&meta::PURGES, &id, &record))
                    .await
                    .unwrap()
            }
        };
        let put = |key: String| {
            let core = core.clone();
            async move {
                core.backend("local")
                    .unwrap()
                    .put(&key, Bytes::from_static(b"staged"))
                    .await
                    .unwrap()
            }
        };
        // A crash after staging: the intent and the object, no namespace.
        let crashed = crate::ids::new_id();
        let crashed_prefix = format!("grid/sb/user-alice/{crashed}/");
        intend(&crashed, &crashed_prefix).await;
        put(format!("{crashed_prefix}objects/a")).await;
        // A staging still in flight.
        let staging = crate::ids::new_id();
        let staging_prefix = format!("grid/sb/user-alice/{staging}/");
        let staging_key = format!("{staging_prefix}objects/b");
        intend(&staging, &staging_prefix).await;
        put(staging_key.clone()).await;
        let guard = core.writing(&staging_key);
        // A namespace that committed while a pass had read the intent.
        let live = workspace(&core).await;
        let live_key = write(&core, &live, "f", b"live").await;
        let live_prefix = core
            .get_namespace(&admin(), &live)
            .await
            .unwrap()
            .grid_prefix;
        intend(&live, &live_prefix).await;

        core.reclaim_pass().await.unwrap();
        assert!(!root.join(&crashed_prefix).join("objects/a").exists());
        assert!(
            root.join(&staging_key).exists(),
            "deleted a staging in flight"
        );
        assert!(root.join(&live_key).exists(), "deleted a live namespace");
        // Once the staging gave up (its guard dropped), it goes too.
        drop(guard);
        core.reclaim_pass().await.unwrap();
        assert!(!root.join(&staging_key).exists());
        assert!(root.join(&live_key).exists());
    }

    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.to_string_lossy().into_owned());
            }
        }
        out
    }
}
