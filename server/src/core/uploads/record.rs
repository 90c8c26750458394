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
use crate::meta::UploadRecord;

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
        async move {
            let quotas = core.quotas.clone();
            core.meta
                .write(move |txn| {
                    fence.check(txn, &record.object_id)?;
                    quota::save_upload(txn, &quotas, &id, &record)
                })
                .await
        }
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
