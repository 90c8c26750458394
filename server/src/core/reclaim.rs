//! The reclaimer: deletes content nothing refers to any more.
//!
//! First, expiry: sessions whose lease ran out end, and namespaces past
//! their TTL or whose session is gone are destroyed. Then three queues, all
//! in redb so an interrupted pass resumes after restart: purges of
//! destroyed namespaces (their whole grid prefix), uploads whose
//! lease ran out, and objects whose reference count reached zero (after the
//! grace period, so a download that resolved an object just before it was
//! replaced can finish). It fails closed: the first metadata or backend
//! error ends the pass without deleting anything further; the next pass
//! starts over from the queues.

use std::sync::Arc;
use std::time::Duration;

use redb::ReadableTable;
use tokio::sync::watch;

use super::Core;
use crate::error::Result;
use crate::meta::{
    self, NamespaceRecord, ObjectRecord, PurgeRecord, SessionRecord, UploadRecord, decode,
};

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
}

impl Core {
    /// Deletes a destroyed namespace's prefix and drops its purge record.
    pub(crate) async fn purge_prefix(&self, ns_id: &str, purge: &PurgeRecord) -> Result<()> {
        self.backend(&purge.backend)?
            .delete_prefix(&purge.prefix)
            .await?;
        let id = ns_id.to_owned();
        self.meta
            .write(move |txn| {
                txn.open_table(meta::PURGES)?.remove(id.as_str())?;
                Ok(())
            })
            .await
    }

    /// Runs one reclaim pass over every queue.
    pub async fn reclaim_pass(self: &Arc<Self>) -> Result<ReclaimReport> {
        let mut report = ReclaimReport::default();

        // Sessions whose lease ran out end (their namespaces die with them).
        let now = meta::now_ms();
        let expired_sessions: Vec<String> = self
            .scan(move |txn| {
                let mut out = Vec::new();
                for item in txn.open_table(meta::SESSIONS)?.iter()? {
                    let (k, v) = item?;
                    let session: SessionRecord = decode(v.value())?;
                    if session.expires_ms <= now {
                        out.push(k.value().to_owned());
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
            .scan(move |txn| {
                let sessions = txn.open_table(meta::SESSIONS)?;
                let mut out = Vec::new();
                for item in txn.open_table(meta::NAMESPACES)?.iter()? {
                    let (k, v) = item?;
                    let ns: NamespaceRecord = decode(v.value())?;
                    if !super::is_alive(&ns, &sessions, now)? {
                        out.push(k.value().to_owned());
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
            .scan(|txn| {
                let mut out = Vec::new();
                for item in txn.open_table(meta::PURGES)?.iter()? {
                    let (k, v) = item?;
                    out.push((k.value().to_owned(), decode(v.value())?));
                }
                Ok(out)
            })
            .await?;
        for (ns, purge) in purges {
            self.purge_prefix(&ns, &purge).await?;
            report.purged_prefixes += 1;
        }

        let expired: Vec<(String, UploadRecord)> = self
            .scan(move |txn| {
                let mut out = Vec::new();
                for item in txn.open_table(meta::UPLOADS)?.iter()? {
                    let (k, v) = item?;
                    let record: UploadRecord = decode(v.value())?;
                    if record.lease_expires_ms <= now {
                        out.push((k.value().to_owned(), record));
                    }
                }
                Ok(out)
            })
            .await?;
        for (id, record) in expired {
            if super::uploads::discard_expired(self, &id, &record).await? {
                report.expired_uploads += 1;
            }
        }

        let grace_ms =
            i64::try_from(self.config.reclaim.grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let due = now.saturating_sub(grace_ms);
        let doomed: Vec<(String, String, ObjectRecord)> = self
            .scan(move |txn| {
                let garbage = txn.open_table(meta::GARBAGE)?;
                let objects = txn.open_table(meta::OBJECTS)?;
                let mut out = Vec::new();
                for item in garbage.iter()? {
                    let (k, v) = item?;
                    let (ns, object) = k.value();
                    if v.value() > due {
                        continue;
                    }
                    let Some(record) = objects.get((ns, object))? else {
                        continue;
                    };
                    let record: ObjectRecord = decode(record.value())?;
                    if record.refs == 0 {
                        out.push((ns.to_owned(), object.to_owned(), record));
                    }
                }
                Ok(out)
            })
            .await?;
        for (ns, object, record) in doomed {
            self.backend(&record.backend)?.delete(&record.key).await?;
            self.meta
                .write(move |txn| {
                    let mut objects = txn.open_table(meta::OBJECTS)?;
                    let refs = match objects.get((ns.as_str(), object.as_str()))? {
                        Some(v) => decode::<ObjectRecord>(v.value())?.refs,
                        None => 0,
                    };
                    if refs == 0 {
                        objects.remove((ns.as_str(), object.as_str()))?;
                    }
                    txn.open_table(meta::GARBAGE)?
                        .remove((ns.as_str(), object.as_str()))?;
                    Ok(())
                })
                .await?;
            report.deleted_objects += 1;
        }
        if report != ReclaimReport::default() {
            tracing::info!(?report, "reclaim pass");
        }
        Ok(report)
    }
}

/// Runs reclaim passes until `stop` changes: on every wake-up and at least
/// every `interval_secs`. A failed pass is logged and retried later.
pub async fn run(core: Arc<Core>, mut stop: watch::Receiver<bool>) {
    let interval = Duration::from_secs(core.config.reclaim.interval_secs.max(1));
    loop {
        if let Err(e) = core.reclaim_pass().await {
            tracing::warn!(error = %e, "reclaim pass stopped (fails closed); retrying later");
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
