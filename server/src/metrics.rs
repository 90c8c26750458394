//! Prometheus metrics, served on their own port (`metrics.listen`).
//!
//! One process-wide set ([`metrics()`]): the request layer, the S3 client's
//! interceptor, the error mapping and the reclaimer all reach it without
//! plumbing, and one server runs per process in production. This module
//! depends on nothing else of the server's; gauges of state (attached
//! uploads, the metadata file's size) are handed to [`Metrics::render`] by
//! the endpoint at scrape time.
//!
//! Series:
//! - `arca_requests_total{rpc,code}`, `arca_request_duration_seconds{rpc}`:
//!   every gRPC call and presigned-URL request, by method and outcome (the
//!   gRPC status, or the HTTP status for presigned URLs), timed until the
//!   response body ends;
//! - `arca_received_bytes_total{rpc}`, `arca_sent_bytes_total{rpc}`: body
//!   bytes on the wire;
//! - `arca_active_requests{rpc}`: calls and streams in flight;
//!   `arca_attached_uploads`: uploads attached to a stream now;
//! - `arca_backend_errors_total`: backend failures reported to callers;
//!   `arca_s3_retries_total`, `arca_s3_attempt_failures_total`: the S3
//!   client's retries and failed attempts (5xx, timeouts, transport);
//! - `arca_reclaim_passes_total`, `arca_reclaim_failures_total`,
//!   `arca_reclaim_deleted_objects_total`, `arca_reclaim_expired_uploads_total`;
//! - `arca_profile_violations_total{rule}`: writes an access profile
//!   refused, by the rule that refused them;
//! - `arca_metadata_named_read_retries_total{then}`: reads that named
//!   their rows and then read others, by what ran next (`fetch`: the rows
//!   fetched again with the others; `read_job`: a transaction): a read
//!   that names too little costs a round trip each time;
//! - `arca_metadata_bytes`: the redb file's size.

use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Every series.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    received: Family<Labels, Counter>,
    sent: Family<Labels, Counter>,
    active: Family<Labels, Gauge>,
    attached_uploads: Gauge,
    /// Backend failures reported to callers.
    pub backend_errors: Counter,
    /// S3 retries.
    pub s3_retries: Counter,
    /// S3 attempts that failed (5xx, timeout, transport).
    pub s3_attempt_failures: Counter,
    /// Reclaim passes.
    pub reclaim_passes: Counter,
    /// Reclaim passes that failed (and deleted nothing more).
    pub reclaim_failures: Counter,
    /// Objects the reclaimer deleted.
    pub reclaim_deleted_objects: Counter,
    /// Unfinished uploads the reclaimer discarded.
    pub reclaim_expired_uploads: Counter,
    profile_violations: Family<Labels, Counter>,
    named_read_retries: Family<Labels, Counter>,
    metadata_bytes: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("arca");
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let received = Family::<Labels, Counter>::default();
        let sent = Family::<Labels, Counter>::default();
        let active = Family::<Labels, Gauge>::default();
        let metrics = Metrics {
            requests,
            latency,
            received,
            sent,
            active,
            attached_uploads: Gauge::default(),
            backend_errors: Counter::default(),
            s3_retries: Counter::default(),
            s3_attempt_failures: Counter::default(),
            reclaim_passes: Counter::default(),
            reclaim_failures: Counter::default(),
            reclaim_deleted_objects: Counter::default(),
            reclaim_expired_uploads: Counter::default(),
            profile_violations: Family::default(),
            named_read_retries: Family::default(),
            metadata_bytes: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Requests by method and outcome",
            metrics.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Request latency, until the response body ends",
            metrics.latency.clone(),
        );
        registry.register(
            "received_bytes",
            "Request body bytes",
            metrics.received.clone(),
        );
        registry.register("sent_bytes", "Response body bytes", metrics.sent.clone());
        registry.register(
            "active_requests",
            "Calls and streams in flight",
            metrics.active.clone(),
        );
        registry.register(
            "attached_uploads",
            "Uploads attached to a stream",
            metrics.attached_uploads.clone(),
        );
        registry.register(
            "backend_errors",
            "Blob backend failures reported to callers",
            metrics.backend_errors.clone(),
        );
        registry.register(
            "s3_retries",
            "S3 requests retried",
            metrics.s3_retries.clone(),
        );
        registry.register(
            "s3_attempt_failures",
            "S3 attempts that failed: 5xx, timeout or transport",
            metrics.s3_attempt_failures.clone(),
        );
        registry.register(
            "reclaim_passes",
            "Reclaimer passes",
            metrics.reclaim_passes.clone(),
        );
        registry.register(
            "reclaim_failures",
            "Reclaimer passes stopped by an error",
            metrics.reclaim_failures.clone(),
        );
        registry.register(
            "reclaim_deleted_objects",
            "Unreferenced objects deleted",
            metrics.reclaim_deleted_objects.clone(),
        );
        registry.register(
            "reclaim_expired_uploads",
            "Unfinished uploads discarded",
            metrics.reclaim_expired_uploads.clone(),
        );
        registry.register(
            "profile_violations",
            "Writes refused by an access profile, by rule",
            metrics.profile_violations.clone(),
        );
        registry.register(
            "metadata_named_read_retries",
            "Reads that named their rows and read others, by what ran next",
            metrics.named_read_retries.clone(),
        );
        registry.register(
            "metadata_bytes",
            "Size of the redb metadata file",
            metrics.metadata_bytes.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Counts a write refused by access profile rule `rule`.
    pub fn profile_violation(&self, rule: &'static str) {
        self.profile_violations
            .get_or_create(&vec![("rule", rule.to_owned())])
            .inc();
    }

    /// Counts a read that named its rows and read others; `then` is what
    /// ran next: "fetch" or "read_job".
    pub fn named_read_retry(&self, then: &'static str) {
        self.named_read_retries
            .get_or_create(&vec![("then", then.to_owned())])
            .inc();
    }

    /// The named reads counted so far that went on to `then`.
    pub fn named_read_retries(&self, then: &'static str) -> u64 {
        self.named_read_retries
            .get_or_create(&vec![("then", then.to_owned())])
            .get()
    }

    /// The text exposition, with the state gauges set to what the caller
    /// read just now.
    pub fn render(&self, attached_uploads: usize, metadata_bytes: u64) -> String {
        self.attached_uploads
            .set(i64::try_from(attached_uploads).unwrap_or(i64::MAX));
        self.metadata_bytes
            .set(i64::try_from(metadata_bytes).unwrap_or(i64::MAX));
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// The method label of a request path: the gRPC method, a presigned URL's
/// kind, or `other` (never a path with ids in it: labels stay few).
fn rpc_label(method: &str, path: &str) -> String {
    if path == "/dav" || path.starts_with("/dav/") {
        // Methods are the client's to choose: only known ones become labels.
        let known = crate::webdav::is_dav_method(method);
        return format!("webdav.{}", if known { method } else { "other" });
    }
    if path.starts_with("/presigned/v1/objects/") {
        return "presigned.download".to_owned();
    }
    if path.starts_with("/presigned/v1/uploads/") {
        return "presigned.upload".to_owned();
    }
    let known = ["/arca.v1.", "/grpc.health.v1.", "/grpc.reflection."];
    match path.strip_prefix('/') {
        Some(method)
            if known.iter().any(|k| path.starts_with(k)) && method.matches('/').count() == 1 =>
        {
            method.to_owned()
        }
        _ => "other".to_owned(),
    }
}

/// The request layer (an axum middleware over the whole router): counts,
/// times and measures every request until its response body ends.
pub async fn track(request: Request, next: Next) -> Response {
    let rpc = rpc_label(request.method().as_str(), request.uri().path());
    let labels: Labels = vec![("rpc", rpc)];
    let m = metrics();
    m.active.get_or_create(&labels).inc();
    let received = m.received.get_or_create(&labels).clone();
    let request = request.map(|body| {
        Body::new(Counted {
            inner: body,
            bytes: received,
        })
    });
    let started = Instant::now();
    let response = next.run(request).await;
    let code = outcome(response.headers()).or_else(|| {
        // Not gRPC: an HTTP status (presigned URLs), known now.
        (response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|v| !v.as_bytes().starts_with(b"application/grpc")))
        .then(|| response.status().as_u16().to_string())
    });
    let sent = m.sent.get_or_create(&labels).clone();
    response.map(|body| {
        Body::new(Tracked {
            inner: body,
            sent,
            labels,
            code,
            started,
            done: false,
        })
    })
}

/// The gRPC status in `headers` (a trailers-only answer, or the trailers).
fn outcome(headers: &HeaderMap) -> Option<String> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(format!("{:?}", tonic::Code::from(code)))
}

/// A request body that counts its bytes.
struct Counted {
    inner: Body,
    bytes: Counter,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that records the request when it ends (or is dropped,
/// as when the client goes away: CANCELLED unless a status was seen).
struct Tracked {
    inner: Body,
    sent: Counter,
    labels: Labels,
    code: Option<String>,
    started: Instant,
    done: bool,
}

impl Tracked {
    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let m = metrics();
        let code = self.code.clone().unwrap_or_else(|| "Cancelled".to_owned());
        let mut with_code = self.labels.clone();
        with_code.push(("code", code));
        m.requests.get_or_create(&with_code).inc();
        m.latency
            .get_or_create(&self.labels)
            .observe(self.started.elapsed().as_secs_f64());
        m.active.get_or_create(&self.labels).dec();
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent.inc_by(data.len() as u64);
                } else if let Some(trailers) = frame.trailers_ref()
                    && let Some(code) = outcome(trailers)
                {
                    self.code = Some(code);
                }
            }
            Poll::Ready(None) => {
                if self.code.is_none() {
                    self.code = Some("Ok".to_owned());
                }
                self.finish();
            }
            Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Counts the S3 client's retries and failed attempts.
#[derive(Debug)]
pub struct S3Attempts;

impl aws_sdk_s3::config::Intercept for S3Attempts {
    fn name(&self) -> &'static str {
        "arca-metrics"
    }

    fn read_before_attempt(
        &self,
        _context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let attempt = cfg
            .load::<aws_smithy_runtime_api::client::retries::RequestAttempts>()
            .map_or(1, |a| a.attempts());
        if attempt > 1 {
            metrics().s3_retries.inc();
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &aws_sdk_s3::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let failed = match context.response() {
            Some(response) => response.status().is_server_error(),
            None => true,
        };
        if failed {
            metrics().s3_attempt_failures.inc();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_never_carry_ids() {
        assert_eq!(
            rpc_label("POST", "/arca.v1.FileService/Upload"),
            "arca.v1.FileService/Upload"
        );
        assert_eq!(
            rpc_label("POST", "/presigned/v1/objects/0123/4567"),
            "presigned.download"
        );
        assert_eq!(
            rpc_label("POST", "/presigned/v1/uploads/0123"),
            "presigned.upload"
        );
        assert_eq!(rpc_label("POST", "/favicon.ico"), "other");
        assert_eq!(rpc_label("POST", "/arca.v1.FileService/Upload/x"), "other");
        assert_eq!(rpc_label("POST", "/elsewhere/Upload"), "other");
        assert_eq!(rpc_label("PROPFIND", "/dav/ns/a"), "webdav.PROPFIND");
        assert_eq!(rpc_label("BREW", "/dav/"), "webdav.other");
    }
}
