//! `arca.v1.NamespaceService`: translates requests into core calls.

use std::sync::Arc;
use std::time::Duration;

use arca_proto::v1 as pb;
use arca_proto::v1::namespace_service_server::NamespaceService;
use tonic::{Request, Response, Status};

use super::{caller, convert};
use crate::core::Core;
use crate::core::namespaces::{NamespaceFilter, NewNamespace};
use crate::error::invalid;

/// The namespace service.
pub struct NamespaceApi {
    core: Arc<Core>,
}

impl NamespaceApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        NamespaceApi { core }
    }
}

#[tonic::async_trait]
impl NamespaceService for NamespaceApi {
    #[tracing::instrument(skip_all, err)]
    async fn create_namespace(
        &self,
        request: Request<pb::CreateNamespaceRequest>,
    ) -> Result<Response<pb::Namespace>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let owner = r.owner.unwrap_or_default();
        let ttl = match r.ttl {
            None => None,
            Some(d) if d.seconds < 0 || d.nanos < 0 => {
                return Err(invalid("ttl must be positive").into());
            }
            Some(d) => Some(Duration::new(d.seconds as u64, d.nanos as u32)),
        };
        let req = NewNamespace {
            ns_type: pb::NamespaceType::try_from(r.r#type)
                .map_err(|_| invalid("unknown namespace type"))?,
            scope: pb::Scope::try_from(r.scope).map_err(|_| invalid("unknown scope"))?,
            sandbox: owner.sandbox,
            user: owner.user,
            session: owner.session,
            name: r.name,
            metadata: convert::map(r.metadata),
            ttl,
            backend: r.backend,
        };
        let ns = self.core.create_namespace(&who, req).await?;
        Ok(Response::new(convert::namespace(&ns)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn get_namespace(
        &self,
        request: Request<pb::GetNamespaceRequest>,
    ) -> Result<Response<pb::Namespace>, Status> {
        let who = caller(&request)?;
        let ns = self
            .core
            .get_namespace(&who, &request.into_inner().namespace_id)?;
        Ok(Response::new(convert::namespace(&ns)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn list_namespaces(
        &self,
        request: Request<pb::ListNamespacesRequest>,
    ) -> Result<Response<pb::ListNamespacesResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let scope = match pb::Scope::try_from(r.scope).map_err(|_| invalid("unknown scope"))? {
            pb::Scope::Unspecified => None,
            s => Some(s),
        };
        let ns_type = match pb::NamespaceType::try_from(r.r#type)
            .map_err(|_| invalid("unknown namespace type"))?
        {
            pb::NamespaceType::Unspecified => None,
            t => Some(t),
        };
        let filter = NamespaceFilter {
            sandbox: r.sandbox,
            scope,
            user: r.user,
            session: r.session,
            ns_type,
            name_prefix: r.name_prefix,
            metadata: convert::map(r.metadata),
        };
        let (found, next) = self
            .core
            .list_namespaces(&who, filter, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListNamespacesResponse {
            namespaces: found.iter().map(convert::namespace).collect(),
            next_page_token: next,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn destroy_namespace(
        &self,
        request: Request<pb::DestroyNamespaceRequest>,
    ) -> Result<Response<pb::DestroyNamespaceResponse>, Status> {
        let who = caller(&request)?;
        let gone = self
            .core
            .destroy_namespace(&who, &request.into_inner().namespace_id)
            .await?;
        Ok(Response::new(pb::DestroyNamespaceResponse {
            files_removed: gone.files,
            bytes_removed: gone.bytes,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn update_namespace_metadata(
        &self,
        request: Request<pb::UpdateNamespaceMetadataRequest>,
    ) -> Result<Response<pb::Namespace>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let update = convert::metadata_update(r.mode, r.metadata, r.remove_keys)?;
        let ns = self
            .core
            .update_namespace_metadata(&who, &r.namespace_id, update)
            .await?;
        Ok(Response::new(convert::namespace(&ns)))
    }
}
