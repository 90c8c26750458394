//! `arca.v1.NamespaceService`: translates requests into core calls.

use std::sync::Arc;
use std::time::Duration;

use arca_proto::v1 as pb;
use arca_proto::v1::namespace_service_server::NamespaceService;
use tonic::{Request, Response, Status};

use super::{caller, convert};
use crate::core::Core;
use crate::core::WriteOptions;
use crate::core::forks::ForkSource;
use crate::core::namespaces::{
    ExpiryChange, InitialFile, NamespaceFilter, NamespaceUpdate, NewNamespace,
};
use crate::error::invalid;

/// A duration from the wire; negative ones are refused.
fn duration(what: &str, d: prost_types::Duration) -> Result<Duration, Status> {
    if d.seconds < 0 || d.nanos < 0 {
        return Err(invalid(format!("{what} must be positive")).into());
    }
    Ok(Duration::new(d.seconds as u64, d.nanos as u32))
}

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
        let ttl = r.ttl.map(|d| duration("ttl", d)).transpose()?;
        let initial_file = r.initial_file.map(|f| InitialFile {
            path: f.path,
            data: f.data,
            opts: WriteOptions {
                mime_type: f.mime_type,
                metadata: convert::map(f.metadata),
                precondition: Default::default(),
                expected_sha256: (!f.expected_sha256.is_empty()).then_some(f.expected_sha256),
            },
        });
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
            summary: r.summary,
            initial_file,
            source: r.source.map(|s| ForkSource {
                namespace_id: s.namespace_id,
                checkpoint_id: s.checkpoint_id,
                variables: convert::map(s.variables),
            }),
            template: r.template,
            profile: r.profile.map(convert::profile_request),
        };
        let ns = self.core.create_namespace(&who, req).await?;
        Ok(Response::new(convert::namespace(&ns, &who)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn get_namespace(
        &self,
        request: Request<pb::GetNamespaceRequest>,
    ) -> Result<Response<pb::Namespace>, Status> {
        let who = caller(&request)?;
        let id = request.into_inner().namespace_id;
        let ns = self.core.get_namespace(&who, &id).await?;
        let mut answer = convert::namespace(&ns, &who);
        answer.quota = self
            .core
            .namespace_quota(&who, &id)
            .await?
            .map(|(used, limit)| pb::ByteQuota {
                used_bytes: used,
                limit_bytes: limit,
            });
        Ok(Response::new(answer))
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
            mime_prefix: r.mime_prefix,
        };
        let (found, next) = self
            .core
            .list_namespaces(&who, filter, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListNamespacesResponse {
            namespaces: found
                .iter()
                .map(|ns| convert::namespace(ns, &who))
                .collect(),
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
        Ok(Response::new(convert::namespace(&ns, &who)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn update_namespace(
        &self,
        request: Request<pb::UpdateNamespaceRequest>,
    ) -> Result<Response<pb::Namespace>, Status> {
        use pb::update_namespace_request::Expiry;
        let who = caller(&request)?;
        let r = request.into_inner();
        let metadata = match (r.metadata.is_empty() && r.remove_keys.is_empty(), r.mode) {
            // MERGE of nothing keeps the map; REPLACE with nothing empties it.
            (true, m) if m != pb::MetadataUpdateMode::Replace as i32 => None,
            _ => Some(convert::metadata_update(r.mode, r.metadata, r.remove_keys)?),
        };
        let expiry = match r.expiry {
            None => None,
            Some(Expiry::ExpiresIn(d)) => Some(ExpiryChange::In(duration("expires_in", d)?)),
            Some(Expiry::ExtendBy(d)) => Some(ExpiryChange::ExtendBy(duration("extend_by", d)?)),
            Some(Expiry::ClearTtl(true)) => Some(ExpiryChange::Clear),
            Some(Expiry::ClearTtl(false)) => {
                return Err(invalid("clear_ttl must be true when set").into());
            }
        };
        let profile = match (r.profile, r.clear_profile) {
            (Some(_), true) => {
                return Err(invalid("set profile or clear_profile, not both").into());
            }
            (Some(p), false) => Some(Some(convert::profile_request(p))),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let update = NamespaceUpdate {
            summary: r.summary,
            metadata,
            expiry,
            template: r.template,
            profile,
        };
        let ns = self
            .core
            .update_namespace(&who, &r.namespace_id, update)
            .await?;
        Ok(Response::new(convert::namespace(&ns, &who)))
    }
}
