//! `arca.v1.PresignService`: translates requests into core calls.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::presign_service_server::PresignService;
use tonic::{Request, Response, Status};

use super::{caller, convert};
use crate::core::Core;
use crate::core::access::audit;

/// The presign service.
pub struct PresignApi {
    core: Arc<Core>,
}

impl PresignApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        PresignApi { core }
    }
}

#[tonic::async_trait]
impl PresignService for PresignApi {
    #[tracing::instrument(skip_all, err)]
    async fn presign_download(
        &self,
        request: Request<pb::PresignDownloadRequest>,
    ) -> Result<Response<pb::PresignDownloadResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let signed = self
            .core
            .presign_download(&who, &r.namespace_id, &r.path, r.expires_in_secs)
            .await;
        audit(&who, "PresignDownload", &r.namespace_id, &signed);
        let signed = signed?;
        Ok(Response::new(pb::PresignDownloadResponse {
            url: signed.url,
            method: "GET".to_owned(),
            expires_at: Some(convert::timestamp(signed.expires_ms)),
            entry: Some(convert::entry(&signed.path, &signed.entry)),
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn presign_upload(
        &self,
        request: Request<pb::PresignUploadRequest>,
    ) -> Result<Response<pb::PresignUploadResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let opts =
            convert::write_options(r.mime_type, r.metadata, r.precondition, r.expected_sha256);
        let plan = self
            .core
            .presign_upload(
                &who,
                &r.namespace_id,
                &r.path,
                opts,
                r.total_size,
                r.expires_in_secs,
            )
            .await;
        audit(&who, "PresignUpload", &r.namespace_id, &plan);
        let plan = plan?;
        Ok(Response::new(pb::PresignUploadResponse {
            upload_id: plan.upload_id,
            method: "PUT".to_owned(),
            parts: plan
                .parts
                .into_iter()
                .map(|p| pb::UploadPart {
                    url: p.url,
                    part_number: p.number,
                    offset: p.offset,
                    length: p.length,
                })
                .collect(),
            headers: plan.headers.into_iter().collect(),
            expires_at: Some(convert::timestamp(plan.expires_ms)),
            finalize_by: Some(convert::timestamp(plan.finalize_by_ms)),
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn finalize_upload(
        &self,
        request: Request<pb::FinalizeUploadRequest>,
    ) -> Result<Response<pb::FinalizeUploadResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let expected = Some(r.expected_sha256).filter(|s| !s.is_empty());
        let committed = self
            .core
            .finalize_upload(
                &who,
                &r.upload_id,
                expected,
                r.parts
                    .into_iter()
                    .map(|p| (p.part_number, p.etag))
                    .collect(),
            )
            .await;
        audit(&who, "FinalizeUpload", &r.upload_id, &committed);
        let (path, entry) = committed?;
        Ok(Response::new(pb::FinalizeUploadResponse {
            entry: Some(convert::entry(&path, &entry)),
        }))
    }
}
