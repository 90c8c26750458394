//! `arca.v1.CheckpointService`: translates requests into core calls.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::checkpoint_service_server::CheckpointService;
use tonic::{Request, Response, Status};

use super::{caller, convert};
use crate::core::Core;
use crate::core::checkpoints::Checkpoint;
use crate::meta::EntryRecord;

/// The checkpoint service.
pub struct CheckpointApi {
    core: Arc<Core>,
}

impl CheckpointApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        CheckpointApi { core }
    }
}

fn checkpoint(ns: &str, (id, r): &Checkpoint) -> pb::Checkpoint {
    pb::Checkpoint {
        checkpoint_id: id.clone(),
        namespace_id: ns.to_owned(),
        name: r.name.clone(),
        description: r.description.clone(),
        created_at: Some(convert::timestamp(r.created_ms)),
        entry_count: r.entry_count,
        file_count: r.file_count,
        total_bytes: r.total_bytes,
    }
}

fn changes(list: Vec<(String, Option<EntryRecord>, Option<EntryRecord>)>) -> Vec<pb::PathChange> {
    list.into_iter()
        .map(|(path, before, after)| pb::PathChange {
            before: before.as_ref().map(|e| convert::entry(&path, e)),
            after: after.as_ref().map(|e| convert::entry(&path, e)),
            path,
        })
        .collect()
}

#[tonic::async_trait]
impl CheckpointService for CheckpointApi {
    #[tracing::instrument(skip_all, err)]
    async fn create_checkpoint(
        &self,
        request: Request<pb::CreateCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let created = self
            .core
            .create_checkpoint(&who, &r.namespace_id, &r.name, &r.description)
            .await?;
        Ok(Response::new(checkpoint(&r.namespace_id, &created)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn list_checkpoints(
        &self,
        request: Request<pb::ListCheckpointsRequest>,
    ) -> Result<Response<pb::ListCheckpointsResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (found, next) = self
            .core
            .list_checkpoints(&who, &r.namespace_id, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListCheckpointsResponse {
            checkpoints: found
                .iter()
                .map(|c| checkpoint(&r.namespace_id, c))
                .collect(),
            next_page_token: next,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let found = self
            .core
            .get_checkpoint(&who, &r.namespace_id, &r.checkpoint_id)
            .await?;
        Ok(Response::new(checkpoint(&r.namespace_id, &found)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn restore_checkpoint(
        &self,
        request: Request<pb::RestoreCheckpointRequest>,
    ) -> Result<Response<pb::RestoreCheckpointResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (entry_count, entries_replaced) = self
            .core
            .restore_checkpoint(&who, &r.namespace_id, &r.checkpoint_id)
            .await?;
        Ok(Response::new(pb::RestoreCheckpointResponse {
            entry_count,
            entries_replaced,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn delete_checkpoint(
        &self,
        request: Request<pb::DeleteCheckpointRequest>,
    ) -> Result<Response<pb::DeleteCheckpointResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        self.core
            .delete_checkpoint(&who, &r.namespace_id, &r.checkpoint_id)
            .await?;
        Ok(Response::new(pb::DeleteCheckpointResponse {}))
    }

    #[tracing::instrument(skip_all, err)]
    async fn diff_checkpoints(
        &self,
        request: Request<pb::DiffCheckpointsRequest>,
    ) -> Result<Response<pb::DiffCheckpointsResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let diff = self
            .core
            .diff_checkpoints(
                &who,
                &r.namespace_id,
                &r.from_checkpoint_id,
                &r.to_checkpoint_id,
            )
            .await?;
        Ok(Response::new(pb::DiffCheckpointsResponse {
            added: changes(diff.added),
            removed: changes(diff.removed),
            changed: changes(diff.changed),
        }))
    }
}
