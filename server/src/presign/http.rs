//! The HTTP endpoint for presigned URLs the server signs itself, served on
//! the gRPC port (HTTP/1.1 and HTTP/2 both).
//!
//! `GET` (and `HEAD`) `/presigned/v1/objects/{namespace}/{object}` serves an
//! object, whole or one `Range: bytes=...`; `PUT
//! /presigned/v1/uploads/{upload}` stores the body as a presigned upload's
//! staged content. Every request is checked against its URL's signature
//! for its own method and path before anything else is looked at; a
//! refusal is 403 with a one-line reason. Nothing here commits: a PUT
//! stages, FinalizeUpload commits. A PUT hashes its body as it writes and
//! leaves the digest with the staged object where the backend keeps one,
//! so that FinalizeUpload need not read the body back.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::{Refusal, object_path, upload_path};
use crate::blobs::StagedWrite;
use crate::core::Core;
use crate::error::Error;
use crate::hashing::BesideHasher;

/// Bytes gathered from the request body before each backend write.
const WRITE_CHUNK: usize = 1 << 20;

/// Bytes written between the flushes a PUT starts beside its writes.
const FLUSH_BYTES: u64 = 8 << 20;

/// The routes, for merging into the server's router.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/presigned/v1/objects/{namespace}/{object}", any(object))
        .route("/presigned/v1/uploads/{upload}", any(upload))
        .with_state(core)
}

fn refuse(status: StatusCode, reason: impl std::fmt::Display) -> Response {
    (status, format!("{reason}\n")).into_response()
}

fn refused(refusal: Refusal) -> Response {
    tracing::info!(target: "arca::audit", reason = %refusal, "presigned URL refused");
    refuse(StatusCode::FORBIDDEN, refusal)
}

fn failed(e: &Error) -> Response {
    let status = match e {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::InvalidArgument(_) | Error::FailedPrecondition(_) => StatusCode::BAD_REQUEST,
        Error::Aborted(_) | Error::AlreadyExists(_) => StatusCode::CONFLICT,
        Error::ResourceExhausted(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::OutOfRange(_) => StatusCode::RANGE_NOT_SATISFIABLE,
        Error::PermissionDenied(_) | Error::Unauthenticated(_) => StatusCode::FORBIDDEN,
        Error::Unavailable(_) | Error::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::DataLoss(_) | Error::Metadata(_) | Error::Internal(_) => {
            tracing::error!(error = %e, "presigned request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    refuse(status, e.public_message())
}

fn now_secs(core: &Core) -> i64 {
    core.meta.now_ms() / 1000
}

/// The one range of a `Range: bytes=...` header, against `size`.
/// `Ok(None)`: no (usable) range, serve it all; `Err`: unsatisfiable.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: allowed to answer with the whole
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => (a, b.min(size.saturating_sub(1))),
        (Ok(a), Err(_)) if last.is_empty() => (a, size.saturating_sub(1)),
        (Err(_), Ok(n)) if first.is_empty() && n > 0 => {
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if range.0 >= size {
        return Err(());
    }
    Ok(Some(range))
}

async fn object(
    State(core): State<Arc<Core>>,
    Path((namespace, object)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // HEAD is a GET without the body; the URL is signed for GET.
    let signed_as = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    if let Err(refusal) = core.signer.verify(
        signed_as,
        &object_path(&namespace, &object),
        uri.query().unwrap_or(""),
        now_secs(&core),
    ) {
        return refused(refusal);
    }
    let (store, key, size) = match core.presigned_object(&namespace, &object).await {
        Ok(found) => found,
        Err(e) => return failed(&e),
    };
    let (status, start, end) = match byte_range(&headers, size) {
        Ok(None) => (StatusCode::OK, 0, size),
        Ok(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Err(()) => {
            let mut response = refuse(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return response;
        }
    };
    let body = if method == Method::HEAD || start == end {
        Body::empty()
    } else {
        match store.read(&key, start..end).await {
            Ok(stream) => Body::from_stream(stream),
            Err(e) => return failed(&e),
        }
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{object}\""));
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    response
        .body(body)
        .unwrap_or_else(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e))
}

async fn upload(
    State(core): State<Arc<Core>>,
    Path(upload_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(refusal) = core.signer.verify(
        method.as_str(),
        &upload_path(&upload_id),
        uri.query().unwrap_or(""),
        now_secs(&core),
    ) {
        return refused(refusal);
    }
    let target = match core.presigned_put_target(&upload_id).await {
        Ok(target) => target,
        Err(e) => return failed(&e),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let (Some(length), Some(max)) = (declared, target.max_bytes)
        && length > max
    {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body of {length} bytes is over the {max} bytes this upload takes"),
        );
    }
    let mut writer = match target.store.begin(&target.key).await {
        Ok(writer) => writer,
        Err(e) => return failed(&e),
    };
    let mut stream = body.into_data_stream();
    let mut put = BodyWriter::default();
    let mut buffer = BytesMut::new();
    let mut received: u64 = 0;
    // Dropping the writer on any early return aborts the staged write.
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
        };
        received += chunk.len() as u64;
        if target.max_bytes.is_some_and(|max| received > max) {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is over the size this upload takes",
            );
        }
        buffer.extend_from_slice(&chunk);
        if buffer.len() >= WRITE_CHUNK
            && let Err(e) = put.write(&mut *writer, buffer.split().freeze()).await
        {
            return failed(&e);
        }
    }
    if !buffer.is_empty()
        && let Err(e) = put.write(&mut *writer, buffer.freeze()).await
    {
        return failed(&e);
    }
    // The digest stays with the staged object where the backend can keep
    // it, so that finalize need not read the body back to hash it.
    match put.hash.finish().await {
        Ok(sha256) => writer.remember_sha256(&sha256),
        Err(e) => return failed(&e),
    }
    if let Err(e) = writer.complete().await {
        return failed(&e);
    }
    tracing::info!(upload = %upload_id, bytes = received, "presigned upload received");
    (StatusCode::OK, "").into_response()
}

/// A PUT body on its way to the backend: its SHA-256, hashed beside the
/// writes, and the flushes started as it goes.
#[derive(Default)]
struct BodyWriter {
    hash: BesideHasher,
    /// Bytes written since the last flush started.
    unflushed: u64,
}

impl BodyWriter {
    /// Hands `data` to the hash and to `writer`, and every `FLUSH_BYTES`
    /// starts the backend's flush of what it holds (beside the writes), so
    /// the fsync that completes the PUT is short.
    async fn write(&mut self, writer: &mut dyn StagedWrite, data: Bytes) -> Result<(), Error> {
        self.hash.feed(data.clone()).await?;
        self.unflushed += data.len() as u64;
        writer.write(data).await?;
        if self.unflushed >= FLUSH_BYTES {
            self.unflushed = 0;
            writer.persist().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&headers, size)
    }

    #[test]
    fn ranges() {
        assert_eq!(byte_range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(range("bytes=0-3", 10), Ok(Some((0, 3))));
        assert_eq!(range("bytes=4-", 10), Ok(Some((4, 9))));
        assert_eq!(range("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(range("bytes=5-100", 10), Ok(Some((5, 9))));
        assert_eq!(range("bytes=10-", 10), Err(()));
        assert_eq!(range("bytes=3-1", 10), Ok(None));
        assert_eq!(range("bytes=0-1,4-5", 10), Ok(None));
        assert_eq!(range("items=0-1", 10), Ok(None));
    }
}
