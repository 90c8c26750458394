//! The gRPC surface: service registration, health, reflection and the one
//! [`serve`] entry point used by `main.rs` and by the tests alike.
//!
//! Services here are thin: they translate messages (`convert`) and call the
//! core; no policy lives in this module.

mod admin;
mod archive;
mod changes;
mod checkpoint;
mod convert;
mod download;
mod file;
mod listener;
mod namespace;
mod presign;
mod session;
mod upload;

use std::future::Future;

use axum::http;
use std::time::Duration;

use arca_proto::v1::admin_service_server::AdminServiceServer;
use arca_proto::v1::archive_service_server::ArchiveServiceServer;
use arca_proto::v1::change_service_server::ChangeServiceServer;
use arca_proto::v1::checkpoint_service_server::CheckpointServiceServer;
use arca_proto::v1::file_service_server::FileServiceServer;
use arca_proto::v1::namespace_service_server::NamespaceServiceServer;
use arca_proto::v1::presign_service_server::PresignServiceServer;
use arca_proto::v1::session_service_server::SessionServiceServer;
use std::sync::Arc;

use crate::auth::Identity;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tonic::transport::Server;

pub use admin::AdminApi;
pub use archive::ArchiveApi;
pub use changes::ChangeApi;
pub use checkpoint::CheckpointApi;
pub use file::FileApi;
pub use namespace::NamespaceApi;
pub use presign::PresignApi;
pub use session::SessionApi;

use crate::config::Config;
use crate::core::{Core, reclaim};
use crate::error::{Error, Result};

/// A boxed server stream, the response type of the streaming RPCs.
pub type ResponseStreamOf<T> =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

/// The routes of the HTTP side: presigned URLs and WebDAV (they check
/// signatures and their own credentials, not the gRPC interceptor's).
pub(crate) fn http_routes(core: Arc<Core>) -> axum::Router {
    crate::presign::http::router(core.clone()).merge(crate::webdav::router(core))
}

/// Requests no route serves. A gRPC call of an unknown method is
/// UNIMPLEMENTED, as tonic answers it; any other request is 404, so a plain
/// HTTP client sees the failure (`curl -f` fails) instead of an empty 200.
pub(crate) async fn no_route(request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        let status = tonic::Status::new(
            tonic::Code::Unimplemented,
            format!("no method {}", request.uri().path()),
        );
        let (parts, ()) = status.into_http::<()>().into_parts();
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    }
    (axum::http::StatusCode::NOT_FOUND, "no such route\n").into_response()
}

/// Reads and validates every file a finalized configuration refers to, as
/// startup does, without starting anything or writing any file: the keys
/// file, the TLS certificate, key and client CA, S3 credential files, the
/// presign key file and the PostgreSQL URL, password and CA files.
/// `arca-server --check-config` runs it, so a configuration it accepts is
/// one the server starts with.
pub fn check_referenced_files(config: &crate::Config) -> crate::Result<()> {
    crate::auth::KeyRing::configured(config)?;
    if let Some(tls) = &config.tls {
        listener::acceptor(tls)?;
    }
    for backend in config.backends.values() {
        if let crate::config::BackendConfig::S3(s3) = backend {
            crate::blobs::s3_settings(s3)?;
        }
    }
    if let Some(path) = &config.presign.hmac_key_file {
        crate::auth::read_private_file(path)?;
    }
    if config.metadata.engine == crate::config::MetadataEngine::Postgres {
        crate::meta::postgres::check_settings(&config.metadata)?;
    }
    Ok(())
}

/// What a client stream's read error tells the client. The one place that
/// answers for every stream: a message over `limits.max_message_bytes`
/// (tonic's decoder refuses it with OUT_OF_RANGE, naming its size and the
/// limit, as it does for unary calls) and any other decode error are the
/// client's to hear, so the stream ends with that status instead of OK. A
/// transport that broke has no one left to hear it; sending costs nothing.
pub(crate) fn inbound_failure(status: tonic::Status) -> tonic::Status {
    tracing::debug!(%status, "a client stream ended with an error");
    status
}

pub(crate) fn caller<T>(request: &tonic::Request<T>) -> Result<Identity, tonic::Status> {
    request
        .extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| tonic::Status::unauthenticated("no credential"))
}

/// Resolves `authorization: Bearer <secret>` into an [`Identity`]. No
/// credential, or an unknown or expired one, is UNAUTHENTICATED; what the
/// identity may do is decided in the core.
async fn authenticate(core: &Core, headers: &http::HeaderMap) -> Result<Identity, tonic::Status> {
    let Some(header) = headers.get(http::header::AUTHORIZATION) else {
        tracing::info!(target: "arca::audit", result = "Unauthenticated", reason = "no credential");
        return Err(tonic::Status::unauthenticated(
            "missing `authorization: Bearer <secret>`",
        ));
    };
    let secret = header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            tonic::Status::unauthenticated("the authorization header must be `Bearer <secret>`")
        })?;
    core.authenticate(secret).await.map_err(|e| {
        tracing::info!(target: "arca::audit", result = ?e.code(), reason = %e.public_message(), "credential refused");
        e.into()
    })
}

/// The authentication layer around each Arca service (health and
/// reflection stay open): a call goes on only with the [`Identity`] its
/// credential resolves to. Asynchronous, because a session token is looked
/// up in the metadata, which may be a database away.
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    core: Arc<Core>,
}

impl<S> Authenticated<S> {
    fn new(core: &Arc<Core>, inner: S) -> Self {
        Authenticated {
            inner,
            core: core.clone(),
        }
    }
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Authenticated<S>
where
    S: tower::Service<
            http::Request<B>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The service that was polled ready serves this call; a clone
        // stays for the next.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let core = self.core.clone();
        Box::pin(async move {
            match authenticate(&core, request.headers()).await {
                Ok(identity) => {
                    request.extensions_mut().insert(identity);
                    inner.call(request).await
                }
                Err(status) => {
                    let (parts, ()) = status.into_http::<()>().into_parts();
                    Ok(http::Response::from_parts(
                        parts,
                        tonic::body::Body::default(),
                    ))
                }
            }
        })
    }
}

/// The health service name liveness probes ask for: SERVING for as long as
/// the process serves at all, whatever the backends do (a backend outage
/// must make the pod unready, not get it restarted).
pub const LIVENESS_SERVICE: &str = "arca.liveness";

/// How often readiness probes the backends.
const READINESS_PROBE: Duration = Duration::from_secs(2);

async fn set_serving(health: &tonic_health::server::HealthReporter, serving: bool) {
    if serving {
        health
            .set_serving::<NamespaceServiceServer<NamespaceApi>>()
            .await;
        health.set_serving::<FileServiceServer<FileApi>>().await;
        health
            .set_serving::<SessionServiceServer<SessionApi>>()
            .await;
        health
            .set_serving::<CheckpointServiceServer<CheckpointApi>>()
            .await;
        health
            .set_serving::<PresignServiceServer<PresignApi>>()
            .await;
        health.set_serving::<AdminServiceServer<AdminApi>>().await;
        health.set_serving::<ChangeServiceServer<ChangeApi>>().await;
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
    } else {
        health
            .set_not_serving::<NamespaceServiceServer<NamespaceApi>>()
            .await;
        health.set_not_serving::<FileServiceServer<FileApi>>().await;
        health
            .set_not_serving::<SessionServiceServer<SessionApi>>()
            .await;
        health
            .set_not_serving::<CheckpointServiceServer<CheckpointApi>>()
            .await;
        health
            .set_not_serving::<PresignServiceServer<PresignApi>>()
            .await;
        health
            .set_not_serving::<AdminServiceServer<AdminApi>>()
            .await;
        health
            .set_not_serving::<ChangeServiceServer<ChangeApi>>()
            .await;
        health
            .set_not_serving::<ArchiveServiceServer<ArchiveApi>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    }
}

/// HTTP/2 stream window: enough to keep 1 MiB chunks flowing.
const STREAM_WINDOW: u32 = 4 << 20;
/// HTTP/2 connection window.
const CONNECTION_WINDOW: u32 = 8 << 20;

/// Runs the server on `listener` until `shutdown` resolves.
///
/// On shutdown: health turns NOT_SERVING, no new connections are accepted,
/// in-flight calls get `shutdown_grace_secs` to finish (an upload cut off is
/// left resumable), the reclaimer stops and the metadata file is closed, so
/// everything committed is on disk when this returns.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("listener address: {e}")))?;
    // What the server signs URLs for is where it really listens (port 0
    // in the configuration becomes the port it got).
    let mut config = config;
    config.listen = local;
    let config = config.finalize()?;
    let grace = config.shutdown_grace();
    let max_message = config.limits.max_message_bytes;
    let tls = config.tls.clone();
    let core = Core::open(config).await?;
    if let Some(path) = core.keys.bootstrap_key_file() {
        if !local.ip().is_loopback() {
            core.close();
            return Err(Error::FailedPrecondition(format!(
                "no API keys are configured: refusing to listen on {local}, which is not loopback; \
                 configure keys (auth.keys or auth.keys_file) to serve beyond this machine"
            )));
        }
        tracing::warn!(key_file = %path.display(), "no API keys configured: an admin key for all sandboxes is in this file; listening on loopback only");
    }

    // Metrics on their own port, bound before serving so that a taken port
    // is a start-up error.
    let metrics_server = match core.config.metrics.listen {
        Some(address) => {
            let listener = match TcpListener::bind(address).await {
                Ok(listener) => listener,
                Err(e) => {
                    core.close();
                    return Err(Error::InvalidArgument(format!(
                        "metrics: cannot listen on {address}: {e}"
                    )));
                }
            };
            let bound = listener
                .local_addr()
                .map_err(|e| Error::Internal(format!("metrics listener address: {e}")))?;
            tracing::info!(address = %bound, "metrics listening");
            let router = metrics_router(core.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::warn!(error = %e, "metrics endpoint stopped");
                }
            }))
        }
        None => None,
    };

    let (stop_reclaim, stop_rx) = watch::channel(false);
    let reclaimer = tokio::spawn(reclaim::run(core.clone(), stop_rx));

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status(LIVENESS_SERVICE, tonic_health::ServingStatus::Serving)
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(arca_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(arca_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;

    let namespaces = Authenticated::new(
        &core,
        NamespaceServiceServer::new(NamespaceApi::new(core.clone()))
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message),
    );
    let files = Authenticated::new(
        &core,
        FileServiceServer::new(FileApi::new(core.clone()))
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message),
    );
    let sessions = Authenticated::new(
        &core,
        SessionServiceServer::new(SessionApi::new(core.clone())),
    );
    let checkpoints = Authenticated::new(
        &core,
        CheckpointServiceServer::new(CheckpointApi::new(core.clone())),
    );
    let presign = Authenticated::new(
        &core,
        PresignServiceServer::new(PresignApi::new(core.clone())),
    );
    let admin = Authenticated::new(&core, AdminServiceServer::new(AdminApi::new(core.clone())));
    let changes = Authenticated::new(
        &core,
        ChangeServiceServer::new(ChangeApi::new(core.clone()))
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message),
    );
    let archives = Authenticated::new(
        &core,
        ArchiveServiceServer::new(ArchiveApi::new(core.clone()))
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message),
    );
    set_serving(&health, true).await;
    // One router: the gRPC services, and the HTTP endpoint of presigned
    // URLs (HTTP/1.1 or HTTP/2 on the same port; it checks signatures, not
    // bearer credentials).
    let routes = tonic::service::Routes::new(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(namespaces)
        .add_service(files)
        .add_service(sessions)
        .add_service(checkpoints)
        .add_service(presign)
        .add_service(admin)
        .add_service(changes)
        .add_service(archives)
        .into_axum_router()
        .merge(http_routes(core.clone()))
        .fallback(no_route)
        .layer(axum::middleware::from_fn(crate::metrics::track));

    // TLS is terminated here rather than by tonic, whose TLS offers h2 alone.
    let acceptor = match &tls {
        Some(tls) => match listener::acceptor(tls) {
            Ok(acceptor) => Some(acceptor),
            Err(e) => {
                core.close();
                return Err(e);
            }
        },
        None => None,
    };
    let (incoming, accept_loop) = listener::accept(listener, acceptor);
    tracing::info!(address = %local, tls = tls.is_some(), "arca listening");
    // Readiness follows the backends and the metadata engine: NOT_SERVING
    // while one is unreachable.
    let readiness = {
        let (core, health) = (core.clone(), health.clone());
        tokio::spawn(async move {
            let mut serving = true;
            loop {
                tokio::time::sleep(READINESS_PROBE).await;
                let reachable =
                    core.backends.all_reachable().await && core.meta.engine().reachable().await;
                if reachable != serving {
                    serving = reachable;
                    tracing::warn!(
                        serving,
                        "a blob backend or the metadata engine changed reachability"
                    );
                    set_serving(&health, serving).await;
                }
            }
        })
    };
    let (drain, drained) = oneshot::channel::<()>();
    let server = Server::builder()
        .accept_http1(true)
        .tcp_nodelay(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_routes(tonic::service::Routes::from(routes))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = drained.await;
        });
    tokio::pin!(server);
    let served = tokio::select! {
        result = &mut server => result,
        () = shutdown => {
            tracing::info!(grace_secs = grace.as_secs(), "shutting down: draining in-flight calls");
            readiness.abort();
            set_serving(&health, false).await;
            accept_loop.abort();
            let _ = drain.send(());
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("grace period over: closing the remaining calls");
                    Ok(())
                }
            }
        }
    };
    readiness.abort();
    accept_loop.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    let _ = stop_reclaim.send(true);
    let _ = reclaimer.await;
    core.retire_replica().await;
    core.close();
    tracing::info!("arca stopped");
    served.map_err(|e| Error::Internal(format!("transport: {e}")))
}

/// The metrics endpoint: `GET /metrics`, with the core's state read at
/// each scrape.
fn metrics_router(core: Arc<Core>) -> axum::Router {
    use axum::http::header;
    use axum::response::IntoResponse;
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let core = core.clone();
            async move {
                let metadata_bytes = core.meta.engine().stored_bytes().unwrap_or(0);
                let text =
                    crate::metrics::metrics().render(core.attached_uploads(), metadata_bytes);
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    text,
                )
                    .into_response()
            }
        }),
    )
}
