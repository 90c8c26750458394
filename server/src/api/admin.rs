//! `arca.v1.AdminService`: translates requests into core calls.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status};

use super::caller;
use crate::core::Core;

/// The admin service.
pub struct AdminApi {
    core: Arc<Core>,
}

impl AdminApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        AdminApi { core }
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    #[tracing::instrument(skip_all, err)]
    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let stats = self.core.stats(&who, &r.sandbox).await?;
        Ok(Response::new(pb::GetStatsResponse {
            usage: stats
                .usage
                .into_iter()
                .map(|((sandbox, backend, scope), u)| pb::UsageRow {
                    sandbox,
                    backend,
                    scope,
                    namespaces: u.namespaces,
                    files: u.files,
                    bytes: u.bytes,
                    stored_objects: u.stored_objects,
                    stored_bytes: u.stored_bytes,
                })
                .collect(),
            active_sessions: stats.active_sessions,
            uploads_in_progress: stats.uploads_in_progress,
            checkpoints: stats.checkpoints,
            metadata_bytes: stats.metadata_bytes,
            backends: stats
                .backends
                .into_iter()
                .map(|b| pb::BackendStatus {
                    name: b.name,
                    kind: b.kind.to_owned(),
                    reachable: b.reachable,
                    location: b.location,
                })
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            quotas: stats
                .quotas
                .into_iter()
                .map(|(sandbox, user, used, limits)| quota_usage(sandbox, user, used, limits))
                .collect(),
        }))
    }
}

fn quota_usage(
    sandbox: String,
    user: String,
    used: crate::meta::UsageRecord,
    limits: crate::config::QuotaLimits,
) -> pb::QuotaUsage {
    let held = used.footprint.unwrap_or_default();
    pb::QuotaUsage {
        sandbox,
        user,
        bytes: used.bytes,
        retained_bytes: held.retained_bytes,
        namespaces: used.namespaces,
        entries: held.entries,
        metadata_bytes: held.metadata_bytes,
        checkpoints: held.checkpoints,
        staged_bytes: held.staged_bytes,
        limits: Some(pb::QuotaLimits {
            max_bytes: limits.max_bytes,
            max_namespaces: limits.max_namespaces,
            max_file_bytes: limits.max_file_bytes,
            max_entries: limits.max_entries,
            max_metadata_bytes: limits.max_metadata_bytes,
            max_checkpoints: limits.max_checkpoints,
            max_staged_bytes: limits.max_staged_bytes,
        }),
    }
}
