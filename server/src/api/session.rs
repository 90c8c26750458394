//! `arca.v1.SessionService`: translates requests into core calls.

use std::sync::Arc;
use std::time::Duration;

use arca_proto::v1 as pb;
use arca_proto::v1::session_service_server::SessionService;
use tonic::{Request, Response, Status};

use super::{caller, convert};
use crate::core::Core;
use crate::core::sessions::Session;
use crate::error::invalid;

/// The session service.
pub struct SessionApi {
    core: Arc<Core>,
}

impl SessionApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        SessionApi { core }
    }
}

fn ttl(d: Option<prost_types::Duration>) -> Result<Option<Duration>, Status> {
    match d {
        None => Ok(None),
        Some(d) if d.seconds < 0 || d.nanos < 0 => Err(invalid("ttl must not be negative").into()),
        Some(d) => Ok(Some(Duration::new(d.seconds as u64, d.nanos as u32))),
    }
}

fn session((id, r): &Session) -> pb::Session {
    pb::Session {
        session_id: id.clone(),
        sandbox: r.sandbox.clone(),
        user: r.user.clone(),
        created_at: Some(convert::timestamp(r.created_ms)),
        expires_at: Some(convert::timestamp(r.expires_ms)),
        name: r.name.clone(),
    }
}

#[tonic::async_trait]
impl SessionService for SessionApi {
    #[tracing::instrument(skip_all, err)]
    async fn open_session(
        &self,
        request: Request<pb::OpenSessionRequest>,
    ) -> Result<Response<pb::OpenSessionResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (opened, token, reopened) = self
            .core
            .open_session(&who, &r.user, ttl(r.ttl)?, &r.sandbox, &r.name)
            .await?;
        Ok(Response::new(pb::OpenSessionResponse {
            session: Some(session(&opened)),
            token,
            reopened,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn renew_session(
        &self,
        request: Request<pb::RenewSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let renewed = self
            .core
            .renew_session(&who, &r.session_id, ttl(r.ttl)?)
            .await?;
        Ok(Response::new(session(&renewed)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn close_session(
        &self,
        request: Request<pb::CloseSessionRequest>,
    ) -> Result<Response<pb::CloseSessionResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let destroyed = self.core.close_session(&who, &r.session_id).await?;
        Ok(Response::new(pb::CloseSessionResponse {
            namespaces_destroyed: destroyed,
        }))
    }

    #[tracing::instrument(skip_all, err)]
    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let who = caller(&request)?;
        let found = self
            .core
            .get_session(&who, &request.into_inner().session_id)
            .await?;
        Ok(Response::new(session(&found)))
    }

    #[tracing::instrument(skip_all, err)]
    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let (found, next) = self
            .core
            .list_sessions(&who, &r.user, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: found.iter().map(session).collect(),
            next_page_token: next,
        }))
    }
}
