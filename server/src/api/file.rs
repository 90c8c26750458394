//! `arca.v1.FileService`, unary part: small reads and writes, batches and
//! tree calls. The streams live in `upload.rs` and `download.rs`.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::file_service_server::FileService;
use tonic::{Request, Response, Status, Streaming};

use super::{ResponseStreamOf, caller, convert};
use crate::core::Core;
use crate::core::across::Relocate;
use crate::core::files::FindParams;

/// The file service.
pub struct FileApi {
    pub(super) core: Arc<Core>,
}

impl FileApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        FileApi { core }
    }
}

#[tonic::async_trait]
impl FileService for FileApi {
    type UploadStream = ResponseStreamOf<pb::UploadResponse>;
    type DownloadStream = ResponseStreamOf<pb::DownloadResponse>;

    async fn upload(
        &self,
        request: Request<Streaming<pb::UploadRequest>>,
    ) -> Result<Response<Self::UploadStream>, Status> {
        let who = caller(&request)?;
        Ok(Response::new(super::upload::serve(
            self.core.clone(),
            who,
            request.into_inner(),
        )))
    }

    async fn download(
        &self,
        request: Request<Streaming<pb::DownloadRequest>>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        let who = caller(&request)?;
        Ok(Response::new(super::download::serve(
            self.core.clone(),
            who,
            request.into_inner(),
        )))
    }

    #[tracing::instrument(skip_all, err)]
    async fn read_file(
        &self,
        request: Request<pb::ReadFileRequest>,
    ) -> Result<Response<pb::ReadFileResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (entry, data) = self
            .core
            .read_file(&who, &r.namespace_id, &r.path, r.offset, r.length)
            .await?;
        let path = crate::paths::normalize(&r.path, self.core.config.limits.paths())?;
        Ok(Response::new(pb::ReadFileResponse {
            entry: Some(convert::entry(&path, &entry)),
            data: data.into(),
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn write_file(
        &self,
        request: Request<pb::WriteFileRequest>,
    ) -> Result<Response<pb::WriteFileResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let opts =
            convert::write_options(r.mime_type, r.metadata, r.precondition, r.expected_sha256);
        let entry = self
            .core
            .write_file(&who, &r.namespace_id, &r.path, r.data, opts)
            .await?;
        let path = crate::paths::normalize(&r.path, self.core.config.limits.paths())?;
        Ok(Response::new(pb::WriteFileResponse {
            entry: Some(convert::entry(&path, &entry)),
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn batch_write(
        &self,
        request: Request<pb::BatchWriteRequest>,
    ) -> Result<Response<pb::BatchWriteResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let items = r
            .items
            .into_iter()
            .map(|i| {
                (
                    i.path,
                    i.data,
                    convert::write_options(
                        i.mime_type,
                        i.metadata,
                        i.precondition,
                        i.expected_sha256,
                    ),
                )
            })
            .collect();
        let limits = self.core.config.limits.paths();
        let results = self.core.batch_write(&who, &r.namespace_id, items).await?;
        let results = results
            .into_iter()
            .map(|(path, result)| {
                let result = result.map(|e| {
                    let normal = crate::paths::normalize(&path, limits).unwrap_or_default();
                    pb::batch_item_result::Result::Entry(convert::entry(&normal, &e))
                });
                pb::BatchItemResult {
                    result: Some(result.unwrap_or_else(|e| {
                        pb::batch_item_result::Result::Error(convert::item_error(e))
                    })),
                    path,
                    data: Default::default(),
                }
            })
            .collect();
        Ok(Response::new(pb::BatchWriteResponse { results }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn batch_read(
        &self,
        request: Request<pb::BatchReadRequest>,
    ) -> Result<Response<pb::BatchReadResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let limits = self.core.config.limits.paths();
        let results = self.core.batch_read(&who, &r.namespace_id, r.paths).await?;
        let results = results
            .into_iter()
            .map(|(path, result)| match result {
                Ok((entry, data)) => {
                    let normal = crate::paths::normalize(&path, limits).unwrap_or_default();
                    pb::BatchItemResult {
                        result: Some(pb::batch_item_result::Result::Entry(convert::entry(
                            &normal, &entry,
                        ))),
                        path,
                        data: data.into(),
                    }
                }
                Err(e) => pb::BatchItemResult {
                    result: Some(pb::batch_item_result::Result::Error(convert::item_error(e))),
                    path,
                    data: Default::default(),
                },
            })
            .collect();
        Ok(Response::new(pb::BatchReadResponse { results }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn batch_delete(
        &self,
        request: Request<pb::BatchDeleteRequest>,
    ) -> Result<Response<pb::BatchDeleteResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let results = self
            .core
            .batch_delete(&who, &r.namespace_id, r.paths, r.recursive)
            .await?;
        let results = results
            .into_iter()
            .map(|(path, result)| match result {
                Ok(n) => pb::BatchDeleteResult {
                    path,
                    error: None,
                    entries_removed: n,
                },
                Err(e) => pb::BatchDeleteResult {
                    path,
                    error: Some(convert::item_error(e)),
                    entries_removed: 0,
                },
            })
            .collect();
        Ok(Response::new(pb::BatchDeleteResponse { results }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn stat(&self, request: Request<pb::StatRequest>) -> Result<Response<pb::Entry>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (path, entry) = self.core.stat(&who, &r.namespace_id, &r.path).await?;
        Ok(Response::new(convert::entry(&path, &entry)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (page, next) = self
            .core
            .list(
                &who,
                &r.namespace_id,
                &r.path,
                r.recursive,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(pb::ListResponse {
            entries: convert::entries(&page.entries),
            next_page_token: next,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn mkdir(
        &self,
        request: Request<pb::MkdirRequest>,
    ) -> Result<Response<pb::Entry>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let entry = self
            .core
            .mkdir(&who, &r.namespace_id, &r.path, r.parents, r.exist_ok)
            .await?;
        let path = crate::paths::normalize(&r.path, self.core.config.limits.paths())?;
        Ok(Response::new(convert::entry(&path, &entry)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn remove(
        &self,
        request: Request<pb::RemoveRequest>,
    ) -> Result<Response<pb::RemoveResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let removed = self
            .core
            .remove(&who, &r.namespace_id, &r.path, r.recursive)
            .await?;
        Ok(Response::new(pb::RemoveResponse {
            entries_removed: removed,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn abort_upload(
        &self,
        request: Request<pb::AbortUploadRequest>,
    ) -> Result<Response<pb::AbortUploadResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let discarded = self.core.abort_upload(&who, &r.upload_id).await?;
        Ok(Response::new(pb::AbortUploadResponse {
            discarded_bytes: discarded,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn copy(&self, request: Request<pb::CopyRequest>) -> Result<Response<pb::Entry>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (path, entry) = self
            .core
            .relocate(
                &who,
                Relocate {
                    from_ns: r.namespace_id,
                    from: r.source,
                    to_ns: r.target_namespace_id,
                    to: r.destination,
                    overwrite: r.overwrite,
                    parents: r.parents,
                    remove_source: false,
                },
            )
            .await?;
        Ok(Response::new(convert::entry(&path, &entry)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn r#move(
        &self,
        request: Request<pb::MoveRequest>,
    ) -> Result<Response<pb::Entry>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (path, entry) = self
            .core
            .relocate(
                &who,
                Relocate {
                    from_ns: r.namespace_id,
                    from: r.source,
                    to_ns: r.target_namespace_id,
                    to: r.destination,
                    overwrite: r.overwrite,
                    parents: r.parents,
                    remove_source: true,
                },
            )
            .await?;
        Ok(Response::new(convert::entry(&path, &entry)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn find(
        &self,
        request: Request<pb::FindRequest>,
    ) -> Result<Response<pb::FindResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (page, next) = self
            .core
            .find(
                &who,
                &r.namespace_id,
                FindParams {
                    dir: r.path,
                    pattern: r.pattern,
                    mime_prefix: r.mime_prefix,
                    metadata: convert::map(r.metadata),
                },
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(pb::FindResponse {
            entries: convert::entries(&page.entries),
            next_page_token: next,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn set_metadata(
        &self,
        request: Request<pb::SetMetadataRequest>,
    ) -> Result<Response<pb::Entry>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let update = convert::metadata_update(r.mode, r.metadata, r.remove_keys)?;
        let (path, entry) = self
            .core
            .set_metadata(&who, &r.namespace_id, &r.path, update, r.if_version_match)
            .await?;
        Ok(Response::new(convert::entry(&path, &entry)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn get_metadata(
        &self,
        request: Request<pb::GetMetadataRequest>,
    ) -> Result<Response<pb::GetMetadataResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (_, entry) = self.core.stat(&who, &r.namespace_id, &r.path).await?;
        Ok(Response::new(pb::GetMetadataResponse {
            metadata: entry.metadata.into_iter().collect(),
            version: entry.version,
            mime_type: entry.mime_type,
            modified_at: Some(convert::timestamp(entry.modified_ms)),
        }))
    }
}
