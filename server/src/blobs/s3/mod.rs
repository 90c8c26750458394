//! The S3 backend (aws-sdk-s3): AWS S3 and S3-compatible stores (MinIO,
//! Ceph, moto, s3s).
//!
//! A staged write is a multipart upload: chunks are buffered and sent as
//! parts of at least `part_size` bytes (cut only at chunk boundaries, so a
//! persisted offset is always one the upload can name), up to
//! `part_concurrency` parts at once, each on its own task; `persist`
//! reports the bytes in the acknowledged parts at the front; `complete` sends the rest as the last part and
//! completes the upload, the single moment the object appears. Abort, or
//! dropping an unfinished writer, aborts the multipart upload, so no parts
//! stay behind. Small objects written whole take one PutObject. A suspended
//! write is listed as `{key}.partial`; resuming lists its parts. Reads are
//! ranged GETs, re-chunked to 1 MiB. Retries (throttling, 5xx, timeouts)
//! are the SDK's standard mode with jittered backoff.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::{Bytes, BytesMut};

mod write;

use super::{BlobStore, ByteStream, DirectUrls, SignedUrl, StagedWrite};
use crate::error::{Error, Result, not_found};
use write::S3Write;

/// Chunk size of reads.
const READ_CHUNK: usize = 1 << 20;
/// S3's smallest part (but the last).
const MIN_PART: u64 = 5 << 20;

/// How to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Prefix of every key in the bucket.
    pub prefix: String,
    /// Region.
    pub region: String,
    /// Endpoint URL for S3-compatible stores.
    pub endpoint: Option<String>,
    /// Path-style addressing.
    pub path_style: bool,
    /// Access key id and secret, if not from the default AWS chain.
    pub static_credentials: Option<(String, String)>,
    /// `AES256` or `aws:kms`.
    pub sse: Option<String>,
    /// KMS key id for `aws:kms`.
    pub sse_kms_key_id: Option<String>,
    /// Bytes per multipart part (at least 5 MiB).
    pub part_size: u64,
    /// Parts of one upload sent at once (memory: this many parts, plus
    /// the one being filled).
    pub part_concurrency: usize,
    /// Attempts per request, retries included.
    pub max_attempts: u32,
    /// Longest one attempt may take (connect, send, answer) before it is
    /// retried; a stalled store is an error, not a hang.
    pub attempt_timeout: std::time::Duration,
}

struct Inner {
    client: Client,
    /// The same client computing request checksums only where required:
    /// a presigned request has no body when it is signed, and a checksum of
    /// the empty body baked into the URL would refuse every real upload.
    presigner: Client,
    settings: S3Settings,
}

/// Objects in an S3 bucket.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

fn s3_error<E: std::error::Error>(context: &str, e: E) -> Error {
    Error::Backend(format!(
        "s3 {context}: {}",
        aws_sdk_s3::error::DisplayErrorContext(e)
    ))
}

fn s3_problem(context: &str, problem: &str) -> Error {
    Error::Backend(format!("s3 {context}: {problem}"))
}

impl S3Store {
    /// Builds the client (credentials from the settings or the default AWS
    /// chain). Makes no request.
    pub async fn open(settings: S3Settings) -> Result<Self> {
        if settings.part_size < MIN_PART {
            return Err(Error::InvalidArgument(format!(
                "s3 part size must be at least {MIN_PART} bytes"
            )));
        }
        let mut builder = match &settings.static_credentials {
            Some((id, secret)) => aws_sdk_s3::config::Builder::new()
                .behavior_version(BehaviorVersion::latest())
                .credentials_provider(Credentials::new(id, secret, None, None, "arca-config")),
            None => {
                let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .load()
                    .await;
                aws_sdk_s3::config::Builder::from(&shared)
            }
        };
        builder = builder
            .region(Region::new(settings.region.clone()))
            .force_path_style(settings.path_style)
            .retry_config(
                aws_sdk_s3::config::retry::RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts.max(1)),
            )
            .interceptor(crate::metrics::S3Attempts)
            // A store that accepts the connection and then says nothing is
            // an error to retry, not a hang: each attempt is bounded.
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(settings.attempt_timeout)
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .build(),
            );
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let config = builder.build();
        let presigner = Client::from_conf(
            config
                .to_builder()
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .build(),
        );
        Ok(S3Store {
            inner: Arc::new(Inner {
                client: Client::from_conf(config),
                presigner,
                settings,
            }),
        })
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.settings.prefix)
    }

    fn bucket(&self) -> &str {
        &self.inner.settings.bucket
    }

    /// Creates the bucket if it does not exist (for tests and first setup).
    pub async fn ensure_bucket(&self) -> Result<()> {
        if self.bucket_answers().await {
            return Ok(());
        }
        self.inner
            .client
            .create_bucket()
            .bucket(self.bucket())
            .send()
            .await
            .map_err(|e| s3_error("create bucket", e))?;
        Ok(())
    }

    async fn bucket_answers(&self) -> bool {
        self.inner
            .client
            .head_bucket()
            .bucket(self.bucket())
            .send()
            .await
            .is_ok()
    }

    fn sse(&self) -> Option<ServerSideEncryption> {
        self.inner
            .settings
            .sse
            .as_deref()
            .map(ServerSideEncryption::from)
    }

    async fn create_upload(&self, key: &str) -> Result<String> {
        let request = self
            .inner
            .client
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .set_server_side_encryption(self.sse())
            .set_ssekms_key_id(self.inner.settings.sse_kms_key_id.clone());
        let out = request
            .send()
            .await
            .map_err(|e| s3_error("create multipart upload", e))?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| s3_problem("create multipart upload", "no upload id"))
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        match self
            .inner
            .client
            .abort_multipart_upload()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => Ok(()),
            Err(e) => Err(s3_error("abort multipart upload", e)),
        }
    }

    /// The multipart uploads in progress under `prefix` (full keys): (key, upload id).
    async fn uploads_under(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .inner
                .client
                .list_multipart_uploads()
                .bucket(self.bucket())
                .prefix(prefix)
                .set_key_marker(key_marker.clone())
                .set_upload_id_marker(id_marker.clone())
                .send()
                .await
                .map_err(|e| s3_error("list multipart uploads", e))?;
            for upload in page.uploads() {
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                    out.push((key.to_owned(), id.to_owned()));
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            id_marker = page.next_upload_id_marker().map(str::to_owned);
        }
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn begin(&self, key: &str) -> Result<Box<dyn StagedWrite>> {
        let upload_id = self.create_upload(key).await?;
        Ok(Box::new(S3Write::new(
            self.clone(),
            key,
            upload_id,
            Vec::new(),
            0,
        )))
    }

    async fn reachable(&self) -> bool {
        self.bucket_answers().await
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.inner
            .client
            .put_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .set_server_side_encryption(self.sse())
            .set_ssekms_key_id(self.inner.settings.sse_kms_key_id.clone())
            .body(S3Body::from(data))
            .send()
            .await
            .map_err(|e| s3_error("put object", e))?;
        Ok(())
    }

    async fn resume(&self, key: &str, token: &str, persisted: u64) -> Result<Box<dyn StagedWrite>> {
        // The token carries the upload id and the parts sent (number, ETag,
        // size), so resuming needs no ListParts (whose answer not every
        // S3-compatible store gets right).
        let (upload_id, parts) = parse_token(token)?;
        let exists = self
            .uploads_under(&self.full_key(key))
            .await?
            .into_iter()
            .any(|(_, id)| id == upload_id);
        if !exists {
            return Err(not_found("the staged upload is gone"));
        }
        let mut kept = Vec::new();
        let mut total = 0;
        for (number, etag, size) in parts {
            if total + size > persisted {
                break;
            }
            total += size;
            kept.push((
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(etag)
                    .build(),
                size,
            ));
        }
        if total != persisted {
            return Err(Error::DataLoss(format!(
                "the staged upload holds {total} bytes in whole parts, not the {persisted} recorded"
            )));
        }
        Ok(Box::new(S3Write::new(
            self.clone(),
            key,
            upload_id,
            kept,
            persisted,
        )))
    }

    async fn discard(&self, key: &str, token: &str) -> Result<()> {
        if token.is_empty() {
            return Ok(());
        }
        let (upload_id, _) = parse_token(token)?;
        self.abort_upload(key, &upload_id).await
    }

    async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream> {
        let size = self
            .size(key)
            .await?
            .ok_or_else(|| not_found(format!("no object at {key}")))?;
        let end = range.end.min(size);
        let start = range.start.min(end);
        if start == end {
            return Ok(Box::pin(futures::stream::empty()));
        }
        let out = self
            .inner
            .client
            .get_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .range(format!("bytes={start}-{}", end - 1))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => not_found(format!("no object at {key}")),
                _ => s3_error("get object", e),
            })?;
        let body = out.body;
        let stream = futures::stream::unfold(
            (body, BytesMut::new(), false),
            |(mut body, mut buffer, done)| async move {
                if done {
                    return None;
                }
                loop {
                    match body.next().await {
                        Some(Ok(bytes)) => {
                            buffer.extend_from_slice(&bytes);
                            if buffer.len() >= READ_CHUNK {
                                let chunk = buffer.split().freeze();
                                return Some((Ok(chunk), (body, buffer, false)));
                            }
                        }
                        Some(Err(e)) => {
                            return Some((Err(s3_error("read object", e)), (body, buffer, true)));
                        }
                        None if buffer.is_empty() => return None,
                        None => {
                            let chunk = buffer.split().freeze();
                            return Some((Ok(chunk), (body, buffer, true)));
                        }
                    }
                }
            },
        );
        Ok(Box::pin(stream))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self
            .inner
            .client
            .head_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(s3_error("head object", e)),
        }
    }

    async fn promote(&self, from: &str, to: &str) -> Result<()> {
        // A server-side copy (S3 copies up to 5 GiB in one request, which
        // is also the most one presigned PUT can upload), then the delete.
        // Keys are built from validated ids only: nothing to percent-encode.
        let source = format!("{}/{}", self.bucket(), self.full_key(from));
        self.inner
            .client
            .copy_object()
            .bucket(self.bucket())
            .key(self.full_key(to))
            .copy_source(source)
            .set_server_side_encryption(self.sse())
            .set_ssekms_key_id(self.inner.settings.sse_kms_key_id.clone())
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.meta().code() == Some("NoSuchKey") => {
                    not_found(format!("no object at {from}"))
                }
                _ => s3_error("copy object", e),
            })?;
        self.delete(from).await
    }

    fn direct_urls(&self) -> Option<&dyn DirectUrls> {
        Some(self)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        if let Some(base) = key.strip_suffix(".partial") {
            let full = self.full_key(base);
            for (upload_key, id) in self.uploads_under(&full).await? {
                if upload_key == full {
                    self.abort_upload(base, &id).await?;
                }
            }
            return Ok(());
        }
        self.inner
            .client
            .delete_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .send()
            .await
            .map_err(|e| s3_error("delete object", e))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let full = self.full_key(prefix);
        let strip = self.inner.settings.prefix.len();
        let mut keys = Vec::new();
        let mut token = None::<String>;
        loop {
            let page = self
                .inner
                .client
                .list_objects_v2()
                .bucket(self.bucket())
                .prefix(&full)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| s3_error("list objects", e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(|k| k[strip..].to_owned()),
            );
            if page.is_truncated() != Some(true) {
                break;
            }
            token = page.next_continuation_token().map(str::to_owned);
        }
        for (key, _) in self.uploads_under(&full).await? {
            keys.push(format!("{}.partial", &key[strip..]));
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

fn presigning(expires: std::time::Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(expires)
        .map_err(|e| Error::InvalidArgument(format!("presigned URL expiry: {e}")))
}

fn signed(request: &PresignedRequest) -> SignedUrl {
    SignedUrl {
        url: request.uri().to_owned(),
        headers: request
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

#[async_trait]
impl DirectUrls for S3Store {
    async fn presign_get(&self, key: &str, expires: std::time::Duration) -> Result<SignedUrl> {
        let request = self
            .inner
            .presigner
            .get_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .presigned(presigning(expires)?)
            .await
            .map_err(|e| s3_error("presign get object", e))?;
        Ok(signed(&request))
    }

    async fn presign_put(&self, key: &str, expires: std::time::Duration) -> Result<SignedUrl> {
        let request = self
            .inner
            .presigner
            .put_object()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .set_server_side_encryption(self.sse())
            .set_ssekms_key_id(self.inner.settings.sse_kms_key_id.clone())
            .presigned(presigning(expires)?)
            .await
            .map_err(|e| s3_error("presign put object", e))?;
        Ok(signed(&request))
    }

    fn part_size(&self) -> u64 {
        self.inner.settings.part_size
    }

    async fn start_parts(&self, key: &str) -> Result<String> {
        self.create_upload(key).await
    }

    async fn presign_part(
        &self,
        key: &str,
        token: &str,
        number: u32,
        expires: std::time::Duration,
    ) -> Result<SignedUrl> {
        let (upload_id, _) = parse_token(token)?;
        let number = i32::try_from(number)
            .map_err(|_| Error::InvalidArgument(format!("part number {number} is too large")))?;
        let request = self
            .inner
            .presigner
            .upload_part()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .upload_id(upload_id)
            .part_number(number)
            .presigned(presigning(expires)?)
            .await
            .map_err(|e| s3_error("presign upload part", e))?;
        Ok(signed(&request))
    }

    async fn complete_parts(&self, key: &str, token: &str, parts: &[(u32, String)]) -> Result<()> {
        let (upload_id, _) = parse_token(token)?;
        let mut completed = Vec::with_capacity(parts.len());
        for (number, etag) in parts {
            let number = i32::try_from(*number).map_err(|_| {
                Error::InvalidArgument(format!("part number {number} is too large"))
            })?;
            completed.push(
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(etag)
                    .build(),
            );
        }
        self.inner
            .client
            .complete_multipart_upload()
            .bucket(self.bucket())
            .key(self.full_key(key))
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(
                |e| match e.as_service_error().and_then(|s| s.meta().code()) {
                    Some("NoSuchUpload") => not_found("the multipart upload is gone"),
                    // A part missing, or an ETag that is not the part's.
                    Some("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall") => {
                        Error::InvalidArgument(format!(
                            "the store refused the parts: {}",
                            aws_sdk_s3::error::DisplayErrorContext(&e)
                        ))
                    }
                    _ => s3_error("complete multipart upload", e),
                },
            )?;
        Ok(())
    }
}

type PartList = Vec<(i32, String, u64)>;

/// `upload_id|number:etag:size,...` → its parts.
fn parse_token(token: &str) -> Result<(String, PartList)> {
    let bad = || Error::DataLoss("the staged upload's token is corrupt".into());
    let (id, parts) = token.split_once('|').unwrap_or((token, ""));
    let mut list = Vec::new();
    for part in parts.split(',').filter(|p| !p.is_empty()) {
        let mut fields = part.splitn(3, ':');
        let number = fields.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let etag = fields.next().ok_or_else(bad)?.to_owned();
        let size = fields.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        list.push((number, etag, size));
    }
    Ok((id.to_owned(), list))
}
