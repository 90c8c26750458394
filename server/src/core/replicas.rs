//! Who holds what, across the processes sharing one metadata engine.
//!
//! Two facts decide safety: which stream an upload is attached to (two
//! streams appending to one staged object would corrupt it), and which
//! backend keys are being written and not yet committed (the orphan sweep
//! must not delete them). With an embedded engine one process owns the
//! file, so both live in its memory. With a shared engine they live in the
//! engine, judged by the engine's clock:
//!
//! - Each replica registers under a random *tag* with a lease
//!   (`REPLICAS`), renewed every third of `metadata.replica_lease_secs`. A
//!   lease that ran out is never renewed: the replica registers again under
//!   a new tag, so a tag, once dead, stays dead.
//! - Object ids a replica makes start with its tag. A key of a live tag
//!   that no record knows is taken to be in flight on that replica, and
//!   left alone; a dead tag's keys are swept a lease after its death (so a
//!   commit that checked the lease just before it ran out has landed), and
//!   a tag retired by a clean shutdown with nothing in flight at once. The
//!   commit of an unrecorded write checks, in its own transaction, that the
//!   writer's tag is still alive: a replica taken for dead cannot commit
//!   what another may have swept. No per-write row is needed.
//! - An upload's attachment (`ATTACHMENTS`) names its replica and holder
//!   and lapses unless that replica renews it with its own lease. Every
//!   persist and the final commit check, in their transaction, that the
//!   holder is still this stream: a replica whose stream was taken over
//!   can write nothing more to the record. A replica past its own lease (by
//!   its own monotonic clock, counted from before the renewal it last saw
//!   succeed) stops writing to staged objects, since another may now hold
//!   them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::Core;
use crate::error::{Error, Result};
use crate::meta::{self, AttachmentRecord, ReplicaRecord};

/// Leases, attachments and in-flight writes of this process.
pub struct Replica {
    /// Whether the engine is shared (otherwise everything is local).
    shared: bool,
    lease: Duration,
    /// The tag this replica writes under now (changes if its lease lapsed).
    tag: RwLock<Arc<str>>,
    /// Until when, on this process's monotonic clock, the lease surely
    /// holds (shared engines only).
    holds_until: Mutex<Option<Instant>>,
    /// Uploads attached here: upload id → holder.
    attached: Mutex<HashMap<String, String>>,
    /// Object keys being written here whose metadata is not committed yet.
    in_flight: Mutex<HashSet<String>>,
}

/// The oldest layout of the shared rows a live replica reads (this
/// binary's own when no other is live, as with an embedded engine): the
/// newest a write may use. A replica that died counts until its lease runs
/// out; one that shut down cleanly does not.
pub fn readable_layout(r: &meta::Reader<'_>) -> Result<u32> {
    let now = r.now_ms();
    let mut oldest = meta::layout::CURRENT;
    for row in r.rows(&meta::REPLICAS, meta::Span::all()) {
        let (_, record) = row?;
        if !record.retired && record.expires_ms > now {
            oldest = oldest.min(record.layout);
        }
    }
    Ok(oldest)
}

/// Where an object id carries its writer's tag: `{tag}-{random}`.
const TAG_SEPARATOR: char = '-';

/// The tag of the replica that made object id `object_id`, if it has one
/// (ids made with an embedded engine, and before tags existed, have none).
pub fn tag_of(object_id: &str) -> Option<&str> {
    object_id.split_once(TAG_SEPARATOR).map(|(tag, _)| tag)
}

/// The object id of grid key `key` (what follows its last `objects/`),
/// without a backend's staging suffix.
fn object_id_of(key: &str) -> &str {
    let id = key.rsplit_once("objects/").map_or(key, |(_, id)| id);
    id.strip_suffix(".partial").unwrap_or(id)
}

fn new_tag() -> String {
    crate::ids::new_id()[..12].to_owned()
}

/// An upload held by one stream or request; let go when dropped.
pub struct Attachment {
    core: Weak<Core>,
    upload_id: String,
    holder: String,
    shared: bool,
}

impl Attachment {
    /// The holder (unique per attachment), which persists check.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The upload id.
    pub fn upload_id(&self) -> &str {
        &self.upload_id
    }

    /// Whether this attachment is checked in the engine (shared engines).
    pub fn is_shared(&self) -> bool {
        self.shared
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let Some(core) = self.core.upgrade() else {
            return;
        };
        {
            let mut attached = core.replica.attached.lock().unwrap();
            if attached.get(&self.upload_id) == Some(&self.holder) {
                attached.remove(&self.upload_id);
            }
        }
        if !self.shared {
            return;
        }
        // Let go now so a resume elsewhere need not wait for the lapse; if
        // this cannot run (no runtime, engine down), the attachment lapses.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (id, holder) = (self.upload_id.clone(), self.holder.clone());
        runtime.spawn(async move {
            let _ = core
                .meta
                .write(move |txn| {
                    if txn
                        .get(&meta::ATTACHMENTS, &id)?
                        .is_some_and(|a| a.holder == holder)
                    {
                        txn.delete(&meta::ATTACHMENTS, &id)?;
                    }
                    Ok(())
                })
                .await;
        });
    }
}

/// An object key being written; unmarked when dropped (after the commit).
pub struct InFlight {
    core: Arc<Core>,
    key: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.core
            .replica
            .in_flight
            .lock()
            .unwrap()
            .remove(&self.key);
    }
}

/// What the orphan sweep and purges may do with a key no record knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFate {
    /// Being written (here, or on a replica still alive): leave it.
    InFlight,
    /// Nobody is writing it: an orphan.
    Orphan,
}

/// Which writer tags are alive, read once for a sweep.
pub struct LiveTags {
    mine: Arc<str>,
    shared: bool,
    /// Tags alive, or dead for less than a lease.
    recent: HashSet<String>,
    in_flight_here: HashSet<String>,
}

impl LiveTags {
    /// Whether something is being written here under `prefix`.
    pub fn writing_here_under(&self, prefix: &str) -> bool {
        self.in_flight_here
            .iter()
            .any(|key| key.starts_with(prefix))
    }

    /// Whether `tag` is another replica's that is alive (or died less than
    /// a lease ago).
    pub fn is_other_live(&self, tag: &str) -> bool {
        self.shared && !tag.is_empty() && tag != &*self.mine && self.recent.contains(tag)
    }

    /// The fate of unrecorded key `key`.
    pub fn fate(&self, key: &str) -> KeyFate {
        let base = key.strip_suffix(".partial").unwrap_or(key);
        if self.in_flight_here.contains(base) {
            return KeyFate::InFlight;
        }
        if !self.shared {
            return KeyFate::Orphan;
        }
        match tag_of(object_id_of(key)) {
            Some(tag) if tag != &*self.mine && self.recent.contains(tag) => KeyFate::InFlight,
            _ => KeyFate::Orphan,
        }
    }
}

impl Replica {
    /// The state of a process on an engine that is (or is not) shared.
    pub fn new(shared: bool, lease_secs: u64) -> Self {
        Replica {
            shared,
            lease: Duration::from_secs(lease_secs.max(1)),
            tag: RwLock::new(new_tag().into()),
            holds_until: Mutex::new(None),
            attached: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// The tag records name as their writer: this replica's on a shared
    /// engine, empty on an embedded one.
    pub fn writer_tag(&self) -> String {
        if self.shared {
            self.tag().to_string()
        } else {
            String::new()
        }
    }

    /// This replica's tag now.
    pub fn tag(&self) -> Arc<str> {
        self.tag.read().unwrap().clone()
    }

    /// How long a lease lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// A new object id: tagged with this replica's tag on a shared engine.
    pub fn new_object_id(&self) -> String {
        let id = crate::ids::new_id();
        if self.shared {
            format!("{}{TAG_SEPARATOR}{id}", self.tag())
        } else {
            id
        }
    }

    /// Refuses to write to a staged object once this replica cannot be
    /// sure its lease holds (another replica may hold the upload by now).
    pub fn check_writing(&self) -> Result<()> {
        if !self.shared {
            return Ok(());
        }
        match *self.holds_until.lock().unwrap() {
            Some(until) if Instant::now() < until => Ok(()),
            _ => Err(Error::Unavailable(
                "this replica cannot reach the metadata database to renew its lease; \
                 resume the upload (on any replica)"
                    .into(),
            )),
        }
    }

    /// How many uploads are attached here now.
    pub fn attached_count(&self) -> usize {
        self.attached.lock().unwrap().len()
    }
}

impl Core {
    /// A new object id (see [`Replica::new_object_id`]) for bytes about to
    /// be written. On a shared engine, a replica that cannot be sure its
    /// lease holds (the database was out of reach) renews it first, or
    /// registers anew, so what it writes now can commit.
    pub(crate) async fn new_object_id(&self) -> Result<String> {
        if self.replica.check_writing().is_err() {
            self.renew_replica().await?;
        }
        Ok(self.replica.new_object_id())
    }

    /// Registers this replica (shared engines; nothing to do otherwise).
    pub(crate) async fn register_replica(&self) -> Result<()> {
        if !self.replica.shared {
            return Ok(());
        }
        let tag = new_tag();
        let lease_ms = self.replica.lease_ms();
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        let started = Instant::now();
        let key = tag.clone();
        self.meta
            .write(move |txn| {
                let now = txn.now_ms();
                let record = ReplicaRecord {
                    expires_ms: now.saturating_add(lease_ms),
                    started_ms: now,
                    host: host.clone(),
                    retired: false,
                    layout: meta::layout::CURRENT,
                };
                txn.put(&meta::REPLICAS, &key, &record)
            })
            .await?;
        *self.replica.tag.write().unwrap() = tag.clone().into();
        *self.replica.holds_until.lock().unwrap() = Some(started + self.replica.lease);
        tracing::info!(replica = %tag, "replica registered");
        Ok(())
    }

    /// Renews this replica's lease and the attachments it holds; registers
    /// under a new tag if the lease lapsed. Returns whether the lease held.
    pub(crate) async fn renew_replica(&self) -> Result<bool> {
        if !self.replica.shared {
            return Ok(true);
        }
        let tag = self.replica.tag();
        let lease_ms = self.replica.lease_ms();
        let attached: Vec<(String, String)> = self
            .replica
            .attached
            .lock()
            .unwrap()
            .iter()
            .map(|(id, holder)| (id.clone(), holder.clone()))
            .collect();
        let started = Instant::now();
        let key = tag.to_string();
        let held = self
            .meta
            .write(move |txn| {
                let now = txn.now_ms();
                let Some(mut record) = txn.get(&meta::REPLICAS, &key)? else {
                    return Ok(false);
                };
                if record.expires_ms <= now {
                    return Ok(false); // dead stays dead
                }
                record.expires_ms = now.saturating_add(lease_ms);
                txn.put(&meta::REPLICAS, &key, &record)?;
                for (id, holder) in &attached {
                    if let Some(mut a) = txn.get(&meta::ATTACHMENTS, id)?
                        && &a.holder == holder
                    {
                        a.expires_ms = now.saturating_add(lease_ms);
                        txn.put(&meta::ATTACHMENTS, id, &a)?;
                    }
                }
                Ok(true)
            })
            .await?;
        if held {
            *self.replica.holds_until.lock().unwrap() = Some(started + self.replica.lease);
            return Ok(true);
        }
        tracing::error!(replica = %tag, "this replica's lease lapsed; registering again under a new tag");
        *self.replica.holds_until.lock().unwrap() = None;
        self.register_replica().await?;
        Ok(false)
    }

    /// Renews the lease every third of it until the core is dropped.
    pub(crate) fn keep_replica_alive(self: &Arc<Self>) {
        if !self.replica.shared {
            return;
        }
        let core = Arc::downgrade(self);
        let every = self.replica.lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(core) = core.upgrade() else { return };
                if let Err(e) = core.renew_replica().await {
                    tracing::warn!(error = %e, "could not renew this replica's lease");
                }
            }
        });
    }

    /// Ends this replica's registration at shutdown. With none of its
    /// writes in flight (every call drained, so each ended committed or
    /// abandoned) it is marked retired: what it wrote and did not commit is
    /// nobody's, and sweeps and purges need not wait a lease for it (a
    /// rolling update would otherwise hold back every purge the replaced
    /// replicas queued). Otherwise its keys become sweepable a lease later,
    /// as a dead replica's.
    pub async fn retire_replica(&self) {
        if !self.replica.shared {
            return;
        }
        let key = self.replica.tag().to_string();
        let idle = self.replica.in_flight.lock().unwrap().is_empty();
        let _ = self
            .meta
            .write(move |txn| {
                // Ended now rather than deleted: the registration says
                // whether the sweep must still wait a lease for its keys.
                if let Some(mut record) = txn.get(&meta::REPLICAS, &key)? {
                    record.expires_ms = txn.now_ms().min(record.expires_ms);
                    record.retired = idle;
                    txn.put(&meta::REPLICAS, &key, &record)?;
                }
                Ok(())
            })
            .await;
    }

    /// Attaches upload `id` to the caller: ABORTED while another stream or
    /// request holds it.
    pub(crate) async fn claim_upload(self: &Arc<Self>, id: &str) -> Result<Attachment> {
        let in_use = || {
            Error::Aborted(format!(
                "upload {id} is in use by another request (a stream, a presigned PUT or a finalize); retry when it has ended"
            ))
        };
        let holder = crate::ids::new_id();
        {
            let mut attached = self.replica.attached.lock().unwrap();
            if attached.contains_key(id) {
                return Err(in_use());
            }
            attached.insert(id.to_owned(), holder.clone());
        }
        let attachment = Attachment {
            core: Arc::downgrade(self),
            upload_id: id.to_owned(),
            holder: holder.clone(),
            shared: self.replica.shared,
        };
        if !self.replica.shared {
            return Ok(attachment);
        }
        let (key, tag, lease_ms) = (
            id.to_owned(),
            self.replica.tag().to_string(),
            self.replica.lease_ms(),
        );
        // Holders of this replica that are no longer attached (let go, the
        // row's deletion still on its way) do not count.
        let here: HashSet<String> = self
            .replica
            .attached
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        let taken = self
            .meta
            .write(move |txn| {
                let now = txn.now_ms();
                if let Some(current) = txn.get(&meta::ATTACHMENTS, &key)?
                    && current.expires_ms > now
                    && current.holder != holder
                    && (current.replica != tag || here.contains(&current.holder))
                {
                    return Ok(false);
                }
                let record = AttachmentRecord {
                    replica: tag.clone(),
                    holder: holder.clone(),
                    expires_ms: now.saturating_add(lease_ms),
                };
                txn.put(&meta::ATTACHMENTS, &key, &record)?;
                Ok(true)
            })
            .await?;
        if taken { Ok(attachment) } else { Err(in_use()) }
    }

    /// Marks an object key as being written until the guard drops.
    pub(crate) fn writing(self: &Arc<Self>, key: &str) -> InFlight {
        self.replica
            .in_flight
            .lock()
            .unwrap()
            .insert(key.to_owned());
        InFlight {
            core: self.clone(),
            key: key.to_owned(),
        }
    }

    /// How many uploads are attached to a stream (or a presigned request) here.
    pub fn attached_uploads(&self) -> usize {
        self.replica.attached_count()
    }

    /// Which keys are in flight, for a sweep: read after the listing it
    /// judges (a key listed was written after its writer's tag registered).
    pub(crate) async fn live_tags(&self) -> Result<LiveTags> {
        let in_flight_here = self.replica.in_flight.lock().unwrap().clone();
        let recent = if self.replica.shared {
            let lease_ms = self.replica.lease_ms();
            self.scan(move |r| {
                let since = r.now_ms().saturating_sub(lease_ms);
                let mut recent = HashSet::new();
                for row in r.rows(&meta::REPLICAS, meta::Span::all()) {
                    let (tag, record) = row?;
                    if record.expires_ms > since && !record.retired {
                        recent.insert(tag);
                    }
                }
                Ok(recent)
            })
            .await?
        } else {
            HashSet::new()
        };
        Ok(LiveTags {
            mine: self.replica.tag(),
            shared: self.replica.shared,
            recent,
            in_flight_here,
        })
    }

    /// Drops registrations of replicas dead for more than a lease (their
    /// keys are sweepable by then), and attachments that lapsed.
    pub(crate) async fn forget_dead_replicas(&self) -> Result<()> {
        if !self.replica.shared {
            return Ok(());
        }
        let lease_ms = self.replica.lease_ms();
        self.meta
            .write(move |txn| {
                let now = txn.now_ms();
                let dead: Vec<String> = txn
                    .rows(&meta::REPLICAS, meta::Span::all())
                    .filter_map(|row| match row {
                        Ok((tag, r)) if r.expires_ms.saturating_add(lease_ms) < now => {
                            Some(Ok(tag))
                        }
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<_>>()?;
                for tag in dead {
                    txn.delete(&meta::REPLICAS, &tag)?;
                }
                let lapsed: Vec<String> = txn
                    .rows(&meta::ATTACHMENTS, meta::Span::all())
                    .filter_map(|row| match row {
                        Ok((id, a)) if a.expires_ms <= now => Some(Ok(id)),
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<_>>()?;
                for id in lapsed {
                    txn.delete(&meta::ATTACHMENTS, &id)?;
                }
                Ok(())
            })
            .await
    }
}

/// What must still hold when bytes this replica wrote are committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fence {
    /// Nothing more (an embedded engine's upload, whose attachment is
    /// this process's own).
    #[default]
    Nothing,
    /// The writer's replica is alive: no record names the bytes, so a
    /// sweep of a dead writer's keys may have taken them.
    WriterAlive,
    /// The upload is still attached to this holder.
    Attached {
        /// The upload.
        upload_id: String,
        /// The stream's attachment.
        holder: String,
    },
}

impl Fence {
    /// The fence of an upload held by `attachment`.
    pub fn of(attachment: &Attachment) -> Fence {
        if attachment.is_shared() {
            Fence::Attached {
                upload_id: attachment.upload_id().to_owned(),
                holder: attachment.holder().to_owned(),
            }
        } else {
            Fence::Nothing
        }
    }

    /// `wanted` with the row [`Fence::check`] reads for `object_id`.
    pub fn reads(&self, object_id: &str, wanted: meta::Wanted) -> meta::Wanted {
        match self {
            Fence::Nothing => wanted,
            Fence::WriterAlive => wanted.rows(&meta::REPLICAS, tag_of(object_id)),
            Fence::Attached { upload_id, .. } => wanted.row(&meta::ATTACHMENTS, upload_id),
        }
    }

    /// Checks the fence inside a transaction, for object `object_id`.
    pub fn check(&self, txn: &meta::Reader<'_>, object_id: &str) -> Result<()> {
        match self {
            Fence::Nothing => Ok(()),
            Fence::WriterAlive => check_writer_alive(txn, object_id),
            Fence::Attached { upload_id, holder } => check_attached(txn, upload_id, holder),
        }
    }
}

/// Checks, inside a transaction, that `holder` still holds its upload (a
/// stream taken over by another replica may write nothing more).
pub(crate) fn check_attached(txn: &meta::Reader<'_>, upload_id: &str, holder: &str) -> Result<()> {
    match txn.get(&meta::ATTACHMENTS, upload_id)? {
        Some(a) if a.holder == holder => Ok(()),
        _ => Err(Error::Aborted(format!(
            "upload {upload_id} was taken over by another stream; nothing more was written"
        ))),
    }
}

/// Checks, inside a transaction, that the replica whose tag object id
/// `object_id` carries is alive, so that what it wrote was not swept.
fn check_writer_alive(txn: &meta::Reader<'_>, object_id: &str) -> Result<()> {
    let Some(tag) = tag_of(object_id) else {
        return Ok(());
    };
    match txn.get(&meta::REPLICAS, tag)? {
        Some(r) if r.expires_ms > txn.now_ms() && !r.retired => Ok(()),
        _ => Err(Error::Unavailable(
            "this replica's lease lapsed while it wrote the content (the metadata \
             database was out of reach); nothing was committed: retry"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_from_object_ids_and_keys() {
        assert_eq!(tag_of("0123456789ab-ffff"), Some("0123456789ab"));
        assert_eq!(tag_of(&crate::ids::new_id()), None);
        assert_eq!(object_id_of("grid/sb/user-a/ns/objects/t-1.partial"), "t-1");
        assert_eq!(object_id_of("grid/sb/user-a/ns/objects/t-1"), "t-1");
    }

    #[test]
    fn shared_ids_carry_the_tag_and_local_ones_do_not() {
        let shared = Replica::new(true, 15);
        let id = shared.new_object_id();
        assert_eq!(tag_of(&id), Some(&*shared.tag()));
        let local = Replica::new(false, 15);
        assert_eq!(tag_of(&local.new_object_id()), None);
    }

    #[test]
    fn a_sweep_leaves_live_tags_and_in_flight_keys_alone() {
        let tags = LiveTags {
            mine: "mine00000000".into(),
            shared: true,
            recent: ["other0000000".to_owned()].into(),
            in_flight_here: ["grid/p/objects/mine00000000-1".to_owned()].into(),
        };
        let fate = |k: &str| tags.fate(k);
        assert_eq!(fate("grid/p/objects/other0000000-9"), KeyFate::InFlight);
        assert_eq!(
            fate("grid/p/objects/other0000000-9.partial"),
            KeyFate::InFlight
        );
        assert_eq!(fate("grid/p/objects/dead00000000-9"), KeyFate::Orphan);
        assert_eq!(fate("grid/p/objects/mine00000000-1"), KeyFate::InFlight);
        assert_eq!(fate("grid/p/objects/mine00000000-2"), KeyFate::Orphan);
        assert_eq!(fate("grid/p/objects/0123456789abcdef"), KeyFate::Orphan);
    }
}
