//! An upload's record: how it stores the hash state and the precondition,
//! and its saves, which run beside the stream so that a metadata commit
//! (its turn and its fsync) never stops the bytes.

use sha2::Sha256;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};

use super::Upload;
use crate::core::Precondition;
use crate::core::quota;
use crate::core::replicas::Fence;
use crate::error::{Error, Result};
use crate::meta::{self, UploadRecord};

/// A save of an upload's record running beside the stream (a metadata
/// commit waits its turn and its fsync: the stream must not stop for it).
/// The record is what the upload claims once the save succeeds; until
/// then it claims the record before, and says so to the client.
pub(super) struct Saving {
    pub(super) task: tokio::task::JoinHandle<Result<()>>,
    pub(super) record: UploadRecord,
    /// The task's outcome once it ended, kept so that waiting for it stays
    /// cancel-safe.
    pub(super) outcome: Option<Result<()>>,
}

/// How an upload record stores a precondition: (must not exist, version).
pub(crate) fn precondition_fields(precondition: Precondition) -> (bool, Option<u64>) {
    match precondition {
        Precondition::None => (false, None),
        Precondition::MustNotExist => (true, None),
        Precondition::VersionMatch(v) => (false, Some(v)),
    }
}

/// The precondition an upload record stores.
pub(crate) fn record_precondition(record: &UploadRecord) -> Precondition {
    match (record.must_not_exist, record.if_version_match) {
        (true, _) => Precondition::MustNotExist,
        (false, Some(v)) => Precondition::VersionMatch(v),
        (false, None) => Precondition::None,
    }
}

pub(super) fn hash_state(hasher: &Sha256) -> Vec<u8> {
    hasher.serialize().to_vec()
}

pub(super) fn restore_hash(state: &[u8]) -> Result<Sha256> {
    let array = SerializedState::<Sha256>::try_from(state)
        .map_err(|_| Error::DataLoss("the upload's stored hash state is corrupt".into()))?;
    Sha256::deserialize(&array)
        .map_err(|_| Error::DataLoss("the upload's stored hash state is corrupt".into()))
}

impl Upload {
    /// Saves the record, if this stream still holds the upload.
    pub(super) async fn save_record(&mut self) -> Result<()> {
        self.save(self.record.clone()).await
    }

    /// Saving `record`, as a future of its own (to run beside the stream).
    pub(super) fn save(
        &self,
        record: UploadRecord,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let (core, id) = (self.core.clone(), self.id.clone());
        let fence = Fence::of(&self.attachment);
        let owner = self.owner.clone();
        async move {
            let quotas = core.quotas.clone();
            // The save settles the staged bytes on the owners' usage rows,
            // which every commit of the sandbox rewrites: it takes its
            // turn as a commit does (`quota::Owner::turns`).
            let wanted = meta::Wanted::default()
                .row(&meta::UPLOADS, &id)
                .row(&meta::NAMESPACES, &record.namespace_id);
            let reads = || owner.turns(wanted);
            core.meta
                .write_reading(reads, move |txn| {
                    fence.check(txn, &record.object_id)?;
                    quota::save_upload(txn, &quotas, &id, &record)
                })
                .await
        }
    }

    /// The offset the record claims, or the one its save in flight will:
    /// the next persist is due an interval past it (the saved record lags
    /// while a save runs, and a persist per chunk meanwhile would make a
    /// save per chunk).
    pub(super) fn claimed(&self) -> u64 {
        self.saving
            .as_ref()
            .map_or(self.record.persisted, |s| s.record.persisted)
    }

    /// Waits for the record's save in flight, if any, and takes its record
    /// as the upload's, or its failure.
    pub(super) async fn save_ended(&mut self) -> Result<()> {
        let Some(mut saving) = self.saving.take() else {
            return Ok(());
        };
        let outcome = match saving.outcome.take() {
            Some(outcome) => outcome,
            None => (&mut saving.task).await.unwrap_or_else(|e| {
                Err(Error::Internal(format!("upload record save failed: {e}")))
            }),
        };
        match outcome {
            Ok(()) => {
                self.record = saving.record;
                Ok(())
            }
            Err(e) => {
                // Over the staged-bytes quota: what arrived cannot be kept,
                // so it is not left behind uncounted either.
                if matches!(e, Error::ResourceExhausted(_)) {
                    self.doomed = true;
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arca_proto::v1::{NamespaceType, Scope};
    use bytes::Bytes;

    use crate::auth::sha256_hex;
    use crate::config::{ApiKeyConfig, Config, KeyRole};
    use crate::core::namespaces::NewNamespace;
    use crate::core::uploads::Started;
    use crate::core::{Core, WriteOptions};
    use crate::meta;

    /// What the upload claims durable is already in its saved record.
    async fn check_saved(core: &Core, upload: &super::Upload) {
        let id = upload.id().to_owned();
        let saved = core
            .meta
            .read(move |r| r.get(&meta::UPLOADS, &id))
            .await
            .unwrap()
            .expect("the upload's record");
        assert!(
            saved.persisted >= upload.persisted(),
            "the client would hear of {} bytes, the record keeps {}",
            upload.persisted(),
            saved.persisted
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_client_hears_only_of_offsets_whose_record_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        // Memory: what is written is durable at once, so every record the
        // upload saves is one the interval asked for.
        let mut config = Config::in_memory(dir.path());
        config.uploads.persist_interval_bytes = 64 << 10;
        config.auth.keys.insert(
            "k".into(),
            ApiKeyConfig {
                sandbox: "sb".into(),
                role: KeyRole::Admin,
                all_sandboxes: false,
                secret_sha256: sha256_hex("secret"),
            },
        );
        let core = Core::open(config.finalize().unwrap()).await.unwrap();
        let who = core.authenticate("secret").await.unwrap();
        let ns = core
            .create_namespace(
                &who,
                NewNamespace {
                    ns_type: NamespaceType::Workspace,
                    scope: Scope::Sandbox,
                    sandbox: "sb".into(),
                    ..NewNamespace::default()
                },
            )
            .await
            .unwrap();
        let started = core
            .start_upload(&who, &ns.id, "f", WriteOptions::default(), None)
            .await
            .unwrap();
        let Started::Upload(mut upload) = started else {
            panic!("nothing to deduplicate");
        };
        let chunk = Bytes::from(vec![7u8; 16 << 10]);
        let mut told = 0;
        for i in 0..256u64 {
            if upload
                .write(i * chunk.len() as u64, chunk.clone())
                .await
                .unwrap()
            {
                check_saved(&core, &upload).await;
                told += 1;
            }
            // The stream also reports when work in flight ends between
            // chunks.
            let ended = tokio::time::timeout(Duration::ZERO, upload.in_flight_done()).await;
            if ended.is_ok() && upload.record_progress().await.unwrap() {
                check_saved(&core, &upload).await;
                told += 1;
            }
        }
        assert!(told > 0, "no progress in 4 MiB at a 64 KiB interval");
        // A save an interval, not a chunk (nor one after another), though
        // the saved record lags.
        assert!(told <= 64, "{told} saves of 4 MiB at a 64 KiB interval");
        assert_eq!(upload.persist().await.unwrap(), 4 << 20);
        check_saved(&core, &upload).await;
    }
}
