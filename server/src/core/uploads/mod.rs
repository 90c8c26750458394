//! Resumable uploads.
//!
//! An upload stages its object in the backend and keeps a record in the
//! metadata: target, options, bytes durably persisted and the SHA-256 state
//! over exactly those bytes. Every `persist_interval_bytes` the staged
//! write is made durable and then the record updated, both beside the
//! stream (see `record`), so after a broken stream or a restart the upload
//! resumes at the recorded offset with the right hash state; the client
//! hears of an offset only once its record is saved. Nothing is visible
//! until `finish` commits the entry; the upload record goes in that same
//! commit. An unfinished upload whose lease runs out is discarded by the
//! reclaimer.
//!
//! Errors split in two: protocol errors (a gap or overlap in offsets, an
//! oversized chunk, a message out of order) leave the upload resumable;
//! content errors (size or digest mismatch) and refused commits discard it.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

mod record;

use record::{Saving, hash_state, restore_hash};
pub(crate) use record::{precondition_fields, record_precondition};

use super::access::Access;
use super::quota;
use super::replicas::{Attachment, Fence};
use super::tree::NewFile;
use super::{Core, WriteOptions};
use crate::auth::Identity;
use crate::blobs::StagedWrite;
use crate::error::{Error, Result, invalid, not_found};
use crate::grid;
use crate::hashing::BesideHasher;
use crate::ids::{new_id, validate_server_id};
use crate::meta::{self, EntryRecord, UploadRecord};

/// The answer for an upload id the caller cannot use, whatever the reason.
pub(crate) fn unknown_upload(upload_id: &str) -> Error {
    not_found(format!(
        "upload {upload_id} not found (it finished, was discarded, expired, or is not yours)"
    ))
}

/// What starting an upload led to.
pub enum Started {
    /// An upload to send content to.
    Upload(Box<Upload>),
    /// The declared content was already stored: the file is committed (its
    /// path and entry) and no bytes need be sent.
    Deduplicated(String, EntryRecord),
}

/// An upload attached to a stream.
pub struct Upload {
    core: Arc<Core>,
    id: String,
    record: UploadRecord,
    writer: Option<Box<dyn StagedWrite>>,
    /// The SHA-256 of everything received, hashed beside the stream.
    hash: BesideHasher,
    /// Hash states at the chunk boundaries past the persisted offset.
    snapshots: Vec<(u64, Vec<u8>)>,
    /// The record's save running beside the stream, if one does.
    saving: Option<Saving>,
    received: u64,
    /// Set when the content is known bad: closing discards instead of suspending.
    doomed: bool,
    /// Who attached it to this stream; the commit is checked as them.
    who: Identity,
    /// The target namespace's owners: its sandbox for the largest-file
    /// quota, both for the commit's turns.
    owner: quota::Owner,
    /// This stream's hold on the upload.
    attachment: Attachment,
}

impl Core {
    fn upload_lease_ms(&self) -> i64 {
        i64::try_from(self.config.uploads.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Opens a new upload of `path`.
    pub async fn start_upload(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        raw_path: &str,
        opts: WriteOptions,
        total_size: Option<u64>,
    ) -> Result<Started> {
        validate_server_id("namespace", ns_id)?;
        let path = crate::paths::normalize_file(raw_path, self.config.limits.paths())?;
        let opts = opts.validated_for(&path)?;
        let (ns, super::writes::Checked { stored, .. }) = self
            .check_write_target(
                who,
                ns_id,
                &path,
                &opts,
                total_size,
                opts.expected_sha256.as_deref(),
            )
            .await?;
        if let Some(size) = total_size {
            quota::check_file_size(&self.quotas, &ns.sandbox, size)?;
        }
        // Declared content the namespace already holds commits at once.
        if let Some(sha256) = &opts.expected_sha256
            && let Some(size) = stored
            && total_size.is_none_or(|t| t == size)
        {
            let object_id = self.new_object_id().await?;
            let file = NewFile {
                object_key: grid::object_key(&ns.grid_prefix, &object_id),
                object_id,
                size,
                sha256: sha256.clone(),
                mime_type: opts.mime_type.clone(),
                metadata: opts.metadata.clone(),
                precondition: opts.precondition,
                written: false,
                fence: Fence::Nothing,
                replaces: None,
            };
            match self
                .commit_object(who, ns_id, &quota::Owner::of(&ns), &path, file)
                .await
            {
                Ok(entry) => {
                    tracing::info!(namespace = %ns_id, path = %path, "upload deduplicated");
                    return Ok(Started::Deduplicated(path, entry));
                }
                Err(Error::Aborted(_)) => {} // the content went meanwhile: upload it
                Err(e) => return Err(e),
            }
        }
        let object_id = self.new_object_id().await?;
        let object_key = grid::object_key(&ns.grid_prefix, &object_id);
        // Until the upload record is saved, only this mark keeps the orphan
        // sweep off the staged object.
        let writing = self.writing(&object_key);
        let writer = self.backend(&ns.backend)?.begin(&object_key).await?;
        let (must_not_exist, if_version_match) = precondition_fields(opts.precondition);
        let hasher = Sha256::new();
        let record = UploadRecord {
            namespace_id: ns_id.to_owned(),
            path,
            mime_type: opts.mime_type,
            metadata: opts.metadata,
            total_size,
            expected_sha256: opts.expected_sha256.unwrap_or_default(),
            must_not_exist,
            if_version_match,
            object_id,
            object_key,
            backend: ns.backend.clone(),
            token: writer.token(),
            persisted: 0,
            hash_state: hash_state(&hasher),
            lease_expires_ms: self.meta.now_ms().saturating_add(self.upload_lease_ms()),
            presigned: false,
            staging_key: String::new(),
        };
        let id = new_id();
        let attachment = self.claim_upload(&id).await?;
        let mut upload = Upload {
            core: self.clone(),
            id,
            record,
            writer: Some(writer),
            hash: BesideHasher::new(hasher),
            snapshots: Vec::new(),
            saving: None,
            received: 0,
            doomed: false,
            who: who.clone(),
            owner: quota::Owner::of(&ns),
            attachment,
        };
        upload.save_record().await?;
        drop(writing);
        tracing::info!(upload = %upload.id, namespace = %ns_id, path = %upload.record.path, "upload started");
        Ok(Started::Upload(Box::new(upload)))
    }

    /// The upload `upload_id` if `who` may write its target and its lease
    /// runs; to anyone else, and for an id that never existed, finished or
    /// expired, the one same answer, so ids cannot be probed.
    pub(crate) async fn owned_upload(
        &self,
        who: &Identity,
        upload_id: &str,
    ) -> Result<UploadRecord> {
        let (caller, key) = (who.clone(), upload_id.to_owned());
        let found = self
            .meta
            .read(move |r| {
                let Some(record) = r.get(&meta::UPLOADS, &key)? else {
                    return Ok(None);
                };
                let ns = Core::namespace_for(r, &caller, &record.namespace_id, Access::Write);
                Ok(Some((record, ns)))
            })
            .await?;
        let Some((record, ns)) = found else {
            return Err(unknown_upload(upload_id));
        };
        match ns {
            Ok(_) => {}
            Err(Error::PermissionDenied(_) | Error::NotFound(_)) => {
                return Err(unknown_upload(upload_id));
            }
            Err(other) => return Err(other),
        }
        if record.lease_expires_ms <= self.meta.now_ms() {
            return Err(unknown_upload(upload_id));
        }
        Ok(record)
    }

    /// Ends an unfinished upload now: its staged content and record go,
    /// nothing is committed. Returns the bytes it had staged. Refused, as
    /// for a resume, to anyone who may not write its target; ABORTED while
    /// a stream or a presigned request holds it.
    pub async fn abort_upload(self: &Arc<Self>, who: &Identity, upload_id: &str) -> Result<u64> {
        validate_server_id("upload", upload_id)?;
        let record = self.owned_upload(who, upload_id).await?;
        let held = self.claim_upload(upload_id).await?;
        let result = discard_upload(self, upload_id, &record, false)
            .await
            .map(|_| record.persisted);
        drop(held);
        super::access::audit(who, "AbortUpload", &record.namespace_id, &result);
        if result.is_ok() {
            tracing::info!(upload = %upload_id, "upload aborted by its uploader");
        }
        result
    }

    /// Reattaches a broken upload to a new stream, at its persisted offset.
    pub async fn resume_upload(
        self: &Arc<Self>,
        who: &Identity,
        upload_id: &str,
    ) -> Result<Upload> {
        validate_server_id("upload", upload_id)?;
        // Who may not have it learns nothing, not even that a stream holds it.
        self.owned_upload(who, upload_id).await?;
        let attachment = self.claim_upload(upload_id).await?;
        let attach = async {
            // Read again now that it is held: it may have finished meanwhile.
            let record = self.owned_upload(who, upload_id).await?;
            if record.presigned {
                return Err(Error::FailedPrecondition(format!(
                    "upload {upload_id} takes its content through presigned URLs: \
                     commit it with FinalizeUpload"
                )));
            }
            let (caller, ns_id) = (who.clone(), record.namespace_id.clone());
            let ns = self
                .meta
                .read(move |r| Core::namespace_for(r, &caller, &ns_id, Access::Write))
                .await?;
            let hasher = restore_hash(&record.hash_state)?;
            let store = self.backend(&record.backend)?;
            let writer = store
                .resume(&record.object_key, &record.token, record.persisted)
                .await?;
            Ok((record, hasher, writer, quota::Owner::of(&ns)))
        };
        match attach.await {
            Ok((mut record, hasher, writer, owner)) => {
                record.lease_expires_ms = self.meta.now_ms().saturating_add(self.upload_lease_ms());
                let received = record.persisted;
                let mut upload = Upload {
                    core: self.clone(),
                    id: upload_id.to_owned(),
                    record,
                    writer: Some(writer),
                    hash: BesideHasher::new(hasher),
                    snapshots: Vec::new(),
                    saving: None,
                    received,
                    doomed: false,
                    who: who.clone(),
                    owner,
                    attachment,
                };
                upload.save_record().await?;
                tracing::info!(upload = %upload_id, offset = received, "upload resumed");
                Ok(upload)
            }
            Err(e) => Err(e),
        }
    }
}

impl Upload {
    /// The upload id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Bytes durably persisted.
    pub fn persisted(&self) -> u64 {
        self.record.persisted
    }

    /// Bytes received.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// When an unfinished upload is discarded, ms since the epoch.
    pub fn lease_expires_ms(&self) -> i64 {
        self.record.lease_expires_ms
    }

    fn writer(&mut self) -> Result<&mut Box<dyn StagedWrite>> {
        self.writer
            .as_mut()
            .ok_or_else(|| Error::Internal("upload used after it ended".into()))
    }

    /// Appends a chunk at `offset`. Returns `true` when the chunk crossed a
    /// persist interval and was made durable (a progress message is due).
    pub async fn write(&mut self, offset: u64, data: Bytes) -> Result<bool> {
        match self.write_chunk(offset, data).await {
            Ok(persisted) => Ok(persisted),
            Err(e) => Err(self.explain(e).await),
        }
    }

    /// A storage failure because the namespace went away mid-stream (it was
    /// destroyed and its content purged) is told as what it is, not as a
    /// failure worth retrying.
    async fn explain(&self, e: Error) -> Error {
        if !matches!(
            e,
            Error::Backend(_) | Error::Unavailable(_) | Error::NotFound(_)
        ) {
            return e;
        }
        let ns = self.record.namespace_id.clone();
        let key = ns.clone();
        let gone = self
            .core
            .meta
            .read(move |r| Ok(r.get(&meta::NAMESPACES, &key)?.is_none()))
            .await;
        match gone {
            Ok(true) => not_found(format!(
                "namespace {ns} was destroyed during the upload; nothing was committed"
            )),
            _ => e,
        }
    }

    async fn write_chunk(&mut self, offset: u64, data: Bytes) -> Result<bool> {
        let max = self.core.config.limits.max_chunk_bytes;
        if data.len() as u64 > max {
            return Err(invalid(format!(
                "a data chunk holds at most {max} bytes, not {}",
                data.len()
            )));
        }
        if offset != self.received {
            let what = if offset < self.received {
                "overlaps"
            } else {
                "leaves a gap"
            };
            return Err(invalid(format!(
                "chunk at offset {offset} {what}: the next chunk must start at {}",
                self.received
            )));
        }
        let len = data.len() as u64;
        if let Some(total) = self.record.total_size
            && self.received + len > total
        {
            self.doomed = true;
            return Err(invalid(format!(
                "content exceeds the declared total size of {total} bytes; nothing was committed"
            )));
        }
        if let Err(e) =
            quota::check_file_size(&self.core.quotas, &self.owner.sandbox, self.received + len)
        {
            self.doomed = true;
            return Err(e);
        }
        // The hash state at this chunk boundary, in case the backend
        // persists up to here and no further.
        if self.received > self.record.persisted {
            let state = hash_state(self.hash.settled().await?);
            self.snapshots.push((self.received, state));
        }
        // Hashed while the backend writes and the next chunk arrives; the
        // next chunk (or a persist) waits for it.
        self.hash.feed(data.clone()).await?;
        self.core.replica.check_writing()?;
        self.writer()?.write(data).await?;
        self.received += len;
        if self.received - self.claimed() >= self.core.config.uploads.persist_interval_bytes {
            let before = self.record.persisted;
            self.persist_with(false).await?;
            return Ok(self.record.persisted != before);
        }
        Ok(false)
    }

    /// Resolves when the backend's durability work in flight ends (an
    /// fdatasync beside the stream, an S3 part); [`Upload::record_progress`]
    /// then records it. Cancel-safe, so a stream can wait on it beside the
    /// client's next message.
    pub async fn in_flight_done(&mut self) {
        if let Some(saving) = self.saving.as_mut() {
            if saving.outcome.is_none() {
                // Cancel-safe: nothing changes until the outcome is in hand.
                let outcome = (&mut saving.task).await.unwrap_or_else(|e| {
                    Err(Error::Internal(format!("upload record save failed: {e}")))
                });
                saving.outcome = Some(outcome);
            }
            return;
        }
        match self.writer.as_mut() {
            Some(writer) => writer.in_flight_done().await,
            None => std::future::pending().await,
        }
    }

    /// Records what became durable since the last record, without waiting
    /// for more; `true` when that advanced (a progress message is due).
    /// After the record's own save ended, the next save starts only when
    /// an interval is due, not at once (or saves would run back to back).
    pub async fn record_progress(&mut self) -> Result<bool> {
        let before = self.record.persisted;
        let save_ended = self.saving.as_ref().is_some_and(|s| s.outcome.is_some());
        let interval = self.core.config.uploads.persist_interval_bytes;
        let recorded = if save_ended {
            match self.save_ended().await {
                Ok(()) if self.received - self.claimed() >= interval => {
                    self.persist_with(false).await.map(|_| ())
                }
                other => other,
            }
        } else {
            self.persist_with(false).await.map(|_| ())
        };
        match recorded {
            Ok(()) => Ok(self.record.persisted != before),
            Err(e) => Err(self.explain(e).await),
        }
    }

    /// Makes everything received durable (waiting for the backend's work in
    /// flight) and records it; returns the offset.
    pub async fn persist(&mut self) -> Result<u64> {
        match self.persist_with(true).await {
            Ok(offset) => Ok(offset),
            Err(e) => Err(self.explain(e).await),
        }
    }

    /// Records what the backend has made durable; with `wait`, after its
    /// work in flight ends and until the record is saved. Without, the
    /// stream goes on at once: the periodic persist does not wait (so S3
    /// parts keep going up side by side), its record saves beside the
    /// stream, and the offset is told once that save succeeded.
    async fn persist_with(&mut self, wait: bool) -> Result<u64> {
        let save_over = self
            .saving
            .as_ref()
            .is_some_and(|s| s.outcome.is_some() || s.task.is_finished());
        if wait || save_over {
            self.save_ended().await?;
        }
        if self.saving.is_some() || self.received == self.record.persisted {
            // One save at a time, in order: the next persist records what
            // this one could not.
            return Ok(self.record.persisted);
        }
        if wait {
            let state = hash_state(self.hash.settled().await?);
            self.snapshots.push((self.received, state));
        }
        // A backend may keep the tail back (S3 persists whole parts only):
        // the record then names the last chunk boundary it did persist.
        let writer = self.writer()?;
        let persisted = if wait {
            writer.settle().await?
        } else {
            writer.persist().await?
        };
        if persisted == self.record.persisted {
            return Ok(persisted);
        }
        let known = self
            .snapshots
            .iter()
            .find(|(offset, _)| *offset == persisted)
            .map(|(_, state)| state.clone());
        let state = match known {
            Some(state) => state,
            // Durable up to the last chunk, whose hash still runs: wait
            // for that one hash.
            None if persisted == self.received => hash_state(self.hash.settled().await?),
            None => {
                return Err(Error::Internal(format!(
                    "backend persisted {persisted} bytes, not at a chunk boundary"
                )));
            }
        };
        self.snapshots.retain(|(offset, _)| *offset > persisted);
        let mut record = self.record.clone();
        // The backend's resume token may grow with what it persisted.
        record.token = self.writer()?.token();
        record.persisted = persisted;
        record.hash_state = state;
        record.lease_expires_ms = self
            .core
            .meta
            .now_ms()
            .saturating_add(self.core.upload_lease_ms());
        self.saving = Some(Saving {
            task: tokio::spawn(self.save(record.clone())),
            record,
            outcome: None,
        });
        if wait {
            self.save_ended().await?;
        }
        Ok(self.record.persisted)
    }

    /// Checks size and digest, completes the object and commits the entry.
    /// On any failure the upload is discarded (its content cannot commit).
    pub async fn finish(
        mut self,
        expected_sha256: Option<String>,
    ) -> Result<(String, EntryRecord)> {
        let path = self.record.path.clone();
        let result = match self.try_finish(expected_sha256).await {
            Ok(entry) => Ok((path, entry)),
            Err(e) => Err(self.explain(e).await),
        };
        super::access::audit(&self.who, "Upload", &self.record.namespace_id, &result);
        if result.is_err() {
            self.doomed = true;
        }
        self.close().await;
        result
    }

    async fn try_finish(&mut self, expected_sha256: Option<String>) -> Result<EntryRecord> {
        // A record saved after the commit would bring the upload back.
        self.save_ended().await?;
        if let Some(total) = self.record.total_size
            && self.received != total
        {
            return Err(invalid(format!(
                "received {} bytes, not the declared total size of {total}; nothing was committed",
                self.received
            )));
        }
        let sha256 = std::mem::take(&mut self.hash).finish().await?;
        let expected = expected_sha256
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.record.expected_sha256.clone());
        if !expected.is_empty() {
            super::validate_sha256(&expected)?;
            if expected != sha256 {
                return Err(invalid(format!(
                    "content SHA-256 is {sha256}, not the expected {expected}; nothing was committed"
                )));
            }
        }
        let writer = self
            .writer
            .take()
            .ok_or_else(|| Error::Internal("upload used after it ended".into()))?;
        writer.complete().await?;
        let precondition = record_precondition(&self.record);
        let file = NewFile {
            object_id: self.record.object_id.clone(),
            object_key: self.record.object_key.clone(),
            size: self.received,
            sha256,
            mime_type: self.record.mime_type.clone(),
            metadata: self.record.metadata.clone(),
            precondition,
            written: true,
            fence: Fence::of(&self.attachment),
            replaces: None,
        };
        let entry = self
            .core
            .commit_object(
                &self.who,
                &self.record.namespace_id,
                &self.owner,
                &self.record.path,
                file,
            )
            .await?;
        // The commit is done; the record only needs to go (the reclaimer
        // would also drop it at lease expiry, the object being referenced).
        self.delete_record().await;
        self.record.persisted = self.received;
        tracing::info!(upload = %self.id, size = entry.size, "upload committed");
        Ok(entry)
    }

    async fn delete_record(&self) {
        let id = self.id.clone();
        if let Err(e) = self
            .core
            .meta
            .write_reading(
                || self.owner.turns_alone(),
                move |txn| quota::delete_upload(txn, &id),
            )
            .await
        {
            tracing::warn!(upload = %self.id, error = %e, "could not delete a finished upload's record");
        }
    }

    /// Ends the upload without committing and throws away what arrived:
    /// for callers whose request cannot be resumed (a WebDAV PUT whose
    /// client went away), so no staged bytes wait for a lease to run out.
    pub async fn discard(mut self) {
        self.doomed = true;
        self.close().await;
    }

    /// Ends this stream's hold on the upload: discards it if its content is
    /// known bad, otherwise persists what arrived and leaves it resumable.
    pub async fn close(mut self) {
        // A save still running could bring back a record deleted below;
        // one that failed on the quota dooms the upload, any other failure
        // is tried again by the persist below.
        let _ = self.save_ended().await;
        if self.doomed {
            if let Some(writer) = self.writer.take()
                && let Err(e) = writer.abort().await
            {
                tracing::warn!(upload = %self.id, error = %e, "could not abort a staged upload");
            }
            self.delete_record().await;
            tracing::info!(upload = %self.id, "upload discarded");
        } else if self.writer.is_some() {
            if let Err(e) = self.persist().await {
                tracing::warn!(upload = %self.id, error = %e, "could not persist a suspended upload");
            }
            if let Some(writer) = self.writer.take() {
                writer.suspend();
            }
            tracing::info!(upload = %self.id, persisted = self.record.persisted, "upload suspended");
        }
    }
}

impl Drop for Upload {
    /// An upload dropped without `finish` or `close` (its task cancelled,
    /// as when the process stops after the shutdown grace period) stays
    /// resumable from its recorded offset: the staged write is suspended,
    /// not aborted. Only content known bad is thrown away.
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            if self.doomed {
                drop(writer); // aborts
            } else {
                writer.suspend();
            }
        }
    }
}

/// Discards an upload whose lease ran out (`only_if_expired`), or whose
/// finish a crash cut off: its staged state, completed object and record.
/// Returns whether it was discarded (an attached upload is left alone).
pub(crate) async fn discard_upload(
    core: &Core,
    id: &str,
    record: &UploadRecord,
    only_if_expired: bool,
) -> Result<bool> {
    let store = core.backend(&record.backend)?;
    store.discard(&record.object_key, &record.token).await?;
    if !record.staging_key.is_empty() {
        store.delete(&record.staging_key).await?;
    }
    let (id_owned, object_id, ns) = (
        id.to_owned(),
        record.object_id.clone(),
        record.namespace_id.clone(),
    );
    let committed_object_exists = core
        .meta
        .read(move |r| Ok(r.get(&meta::OBJECTS, (&ns, &object_id))?.is_some()))
        .await?;
    if !committed_object_exists {
        // Completed in the backend but never committed (a crash in between).
        store.delete(&record.object_key).await?;
    }
    // Its record's deletion releases staged bytes on the usage rows every
    // commit of the sandbox rewrites: it takes their turn.
    let owner = core.owner_for_turns(&record.namespace_id).await;
    let reads = || owner.map(|o| o.turns_alone()).unwrap_or_default();
    core.meta
        .write_reading(reads, move |txn| {
            let still = txn.get(&meta::UPLOADS, &id_owned)?;
            if still.is_some_and(|r| !only_if_expired || r.lease_expires_ms <= txn.now_ms()) {
                quota::delete_upload(txn, &id_owned)?;
            }
            Ok(())
        })
        .await?;
    Ok(true)
}
