//! Rust client for the Arca storage service.
//!
//! [`Client`] holds the generated stubs ([`Client::namespaces`],
//! [`Client::files`], [`Client::sessions`], [`Client::checkpoints`],
//! [`Client::presign`] and [`Client::admin`], usable directly for every
//! RPC), sends the credential (`authorization: Bearer <secret>`) on every
//! call, connects over TLS with a custom CA when asked, and adds the streaming
//! helpers most callers want: [`Client::upload`] sends content in chunks
//! with offsets and returns the committed entry; [`Client::download`]
//! fetches a file or range and checks the whole-file digest when it has all
//! of it; [`Client::presign_download`], [`Client::presign_upload`] and
//! [`Client::finalize_upload`] hand out and commit presigned URLs. Message
//! size limits are raised to fit 4 MiB chunks.

mod sink;
mod source;
mod transfer;

use std::time::Duration;

pub use transfer::{ProgressFn, SessionKeeper, TransferOptions, TreeItem};

pub use arca_proto::v1 as pb;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use pb::admin_service_client::AdminServiceClient;
use pb::archive_service_client::ArchiveServiceClient;
use pb::change_service_client::ChangeServiceClient;
use pb::checkpoint_service_client::CheckpointServiceClient;
use pb::file_service_client::FileServiceClient;
use pb::namespace_service_client::NamespaceServiceClient;
use pb::presign_service_client::PresignServiceClient;
use pb::session_service_client::SessionServiceClient;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::ClientTlsConfig;
use tonic::transport::{Channel, Endpoint};

/// Largest message the client accepts or sends.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Default upload chunk size.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// What can go wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("server: {0}")]
    Status(#[from] tonic::Status),
    /// The connection could not be made.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The server broke the protocol (a message out of order, a gap).
    #[error("protocol: {0}")]
    Protocol(String),
    /// Downloaded content does not match its digest.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the server announced.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// Writing downloaded content failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias of the client.
pub type Result<T> = std::result::Result<T, ClientError>;

/// Whole seconds of an expiry, at least 1 (0 would mean the server's default).
fn expiry_secs(expires_in: Duration) -> u32 {
    u32::try_from(expires_in.as_secs().max(1)).unwrap_or(u32::MAX)
}

/// Adds the bearer credential to every call.
#[derive(Clone, Debug, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// A credential from its secret (an API key or a session token).
    pub fn new(secret: &str) -> Result<Self> {
        let value = format!("Bearer {secret}")
            .parse()
            .map_err(|_| ClientError::Protocol("the secret is not a valid header value".into()))?;
        Ok(Bearer(Some(value)))
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel that carries the credential.
pub type AuthChannel = InterceptedService<Channel, Bearer>;

/// How to reach a server.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// The API key or session token; `None` sends no credential.
    pub secret: Option<String>,
    /// TLS: the CA to trust, the server name to expect, and optionally a
    /// client certificate (set on the config). Plaintext when `None`.
    pub tls: Option<ClientTlsConfig>,
}

/// A connection to an Arca server.
#[derive(Clone)]
pub struct Client {
    /// The NamespaceService stub.
    pub namespaces: NamespaceServiceClient<AuthChannel>,
    /// The FileService stub.
    pub files: FileServiceClient<AuthChannel>,
    /// The SessionService stub.
    pub sessions: SessionServiceClient<AuthChannel>,
    /// The CheckpointService stub.
    pub checkpoints: CheckpointServiceClient<AuthChannel>,
    /// The PresignService stub.
    pub presign: PresignServiceClient<AuthChannel>,
    /// The AdminService stub (admin keys).
    pub admin: AdminServiceClient<AuthChannel>,
    /// The ChangeService stub (watch and list a namespace's changes).
    pub changes: ChangeServiceClient<AuthChannel>,
    /// The ArchiveService stub (tar export and import).
    pub archives: ArchiveServiceClient<AuthChannel>,
    channel: Channel,
}

/// A downloaded file (or range).
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// The header the server sent.
    pub header: pb::DownloadHeader,
    /// The content.
    pub data: Vec<u8>,
    /// The whole file's SHA-256 from the trailer.
    pub sha256: String,
}

impl Client {
    /// Connects to `endpoint` (e.g. `http://127.0.0.1:7420`) with the
    /// credential `secret`.
    pub async fn connect(endpoint: impl Into<String>, secret: &str) -> Result<Self> {
        Self::connect_with(
            endpoint,
            ConnectOptions {
                secret: Some(secret.to_owned()),
                tls: None,
            },
        )
        .await
    }

    /// Connects with explicit options (TLS, or no credential at all).
    pub async fn connect_with(
        endpoint: impl Into<String>,
        options: ConnectOptions,
    ) -> Result<Self> {
        let mut endpoint = Endpoint::from_shared(endpoint.into())?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(8 << 20);
        if let Some(tls) = options.tls {
            // rustls needs one process-wide crypto provider; ring is tonic's.
            let _ = rustls::crypto::ring::default_provider().install_default();
            endpoint = endpoint.tls_config(tls)?;
        }
        let channel = endpoint.connect().await?;
        let bearer = match &options.secret {
            Some(secret) => Bearer::new(secret)?,
            None => Bearer::default(),
        };
        Ok(Self::from_channel(channel, bearer))
    }

    /// Wraps an existing channel with a credential.
    pub fn from_channel(channel: Channel, bearer: Bearer) -> Self {
        let auth = || InterceptedService::new(channel.clone(), bearer.clone());
        Client {
            namespaces: NamespaceServiceClient::new(auth())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            files: FileServiceClient::new(auth())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            sessions: SessionServiceClient::new(auth()),
            checkpoints: CheckpointServiceClient::new(auth()),
            presign: PresignServiceClient::new(auth()),
            admin: AdminServiceClient::new(auth()),
            changes: ChangeServiceClient::new(auth())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            archives: ArchiveServiceClient::new(auth())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            channel,
        }
    }

    /// The same connection acting with another credential.
    pub fn with_secret(&self, secret: &str) -> Result<Self> {
        Ok(Self::from_channel(
            self.channel.clone(),
            Bearer::new(secret)?,
        ))
    }

    /// The same connection with no credential.
    pub fn anonymous(&self) -> Self {
        Self::from_channel(self.channel.clone(), Bearer::default())
    }

    /// The underlying channel.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Uploads `chunks` as one file described by `start`, then commits it.
    /// Returns the committed entry.
    pub async fn upload<S>(&self, start: pb::UploadStart, chunks: S) -> Result<pb::Entry>
    where
        S: Stream<Item = Bytes> + Send + 'static,
    {
        self.upload_with(pb::upload_request::Message::Start(start), 0, chunks)
            .await
    }

    /// Resumes the upload `upload_id`: `chunks` must be the content from the
    /// offset the server reports; it is sent from there and committed.
    /// `skip` tells how many bytes of `chunks` to drop first (pass the whole
    /// content and the server's persisted offset to resume naively).
    pub async fn resume<S>(&self, upload_id: &str, chunks: S) -> Result<pb::Entry>
    where
        S: Stream<Item = Bytes> + Send + 'static,
    {
        let resume = pb::upload_request::Message::Resume(pb::UploadResume {
            upload_id: upload_id.to_owned(),
        });
        self.upload_with(resume, u64::MAX, chunks).await
    }

    async fn upload_with<S>(
        &self,
        first: pb::upload_request::Message,
        skip: u64,
        chunks: S,
    ) -> Result<pb::Entry>
    where
        S: Stream<Item = Bytes> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<pb::UploadRequest>(4);
        tx.send(pb::UploadRequest {
            message: Some(first),
        })
        .await
        .map_err(|_| ClientError::Protocol("request stream closed".into()))?;
        let mut responses = self
            .files
            .clone()
            .upload(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let accepted = match responses.message().await? {
            Some(pb::UploadResponse {
                message: Some(pb::upload_response::Message::Accepted(a)),
            }) => a,
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected accepted, got {other:?}"
                )));
            }
        };
        // When resuming, the content stream starts at 0 and the server's
        // offset says how much of it to drop.
        let mut skip = if skip == u64::MAX {
            accepted.persisted_offset
        } else {
            skip
        };
        let mut offset = accepted.persisted_offset;
        let sender = tokio::spawn(async move {
            let mut chunks = Box::pin(chunks);
            while let Some(mut chunk) = chunks.next().await {
                if skip > 0 {
                    let drop = skip.min(chunk.len() as u64);
                    skip -= drop;
                    chunk = chunk.slice(drop as usize..);
                    if chunk.is_empty() {
                        continue;
                    }
                }
                let len = chunk.len() as u64;
                let data = pb::UploadData {
                    offset,
                    data: chunk,
                };
                if tx
                    .send(pb::UploadRequest {
                        message: Some(pb::upload_request::Message::Data(data)),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                offset += len;
            }
            let finish = pb::UploadFinish::default();
            let _ = tx
                .send(pb::UploadRequest {
                    message: Some(pb::upload_request::Message::Finish(finish)),
                })
                .await;
        });
        let result = loop {
            match responses.message().await {
                Ok(Some(pb::UploadResponse {
                    message: Some(pb::upload_response::Message::Committed(entry)),
                })) => {
                    break Ok(entry);
                }
                Ok(Some(_)) => continue,
                Ok(None) => {
                    break Err(ClientError::Protocol(
                        "upload ended without a commit".into(),
                    ));
                }
                Err(status) => break Err(status.into()),
            }
        };
        sender.abort();
        result
    }

    /// A URL that serves the file at `path` with plain HTTP GET (Range
    /// requests included) until `expires_in` has passed.
    pub async fn presign_download(
        &self,
        namespace_id: &str,
        path: &str,
        expires_in: Duration,
    ) -> Result<pb::PresignDownloadResponse> {
        Ok(self
            .presign
            .clone()
            .presign_download(pb::PresignDownloadRequest {
                namespace_id: namespace_id.to_owned(),
                path: path.to_owned(),
                expires_in_secs: expiry_secs(expires_in),
            })
            .await?
            .into_inner())
    }

    /// URLs to upload the file at `path` with plain HTTP PUT (one, or one
    /// per part of a large file on S3); nothing is visible until
    /// [`Client::finalize_upload`]. `total_size`, when given, is checked at
    /// finalize.
    pub async fn presign_upload(
        &self,
        namespace_id: &str,
        path: &str,
        total_size: Option<u64>,
        expires_in: Duration,
    ) -> Result<pb::PresignUploadResponse> {
        Ok(self
            .presign
            .clone()
            .presign_upload(pb::PresignUploadRequest {
                namespace_id: namespace_id.to_owned(),
                path: path.to_owned(),
                total_size,
                expires_in_secs: expiry_secs(expires_in),
                ..Default::default()
            })
            .await?
            .into_inner())
    }

    /// Verifies and commits what was uploaded through presigned URLs;
    /// `expected_sha256`, when given, must match. `parts` lists, for a
    /// multipart plan, each part's number and the ETag its PUT answered
    /// with; it is empty for a one-part plan.
    pub async fn finalize_upload(
        &self,
        upload_id: &str,
        expected_sha256: Option<&str>,
        parts: Vec<pb::UploadedPart>,
    ) -> Result<pb::Entry> {
        let response = self
            .presign
            .clone()
            .finalize_upload(pb::FinalizeUploadRequest {
                upload_id: upload_id.to_owned(),
                expected_sha256: expected_sha256.unwrap_or_default().to_owned(),
                parts,
            })
            .await?
            .into_inner();
        response
            .entry
            .ok_or_else(|| ClientError::Protocol("finalize answered without an entry".into()))
    }

    /// Uploads an in-memory buffer in chunks of `chunk_size`.
    pub async fn upload_bytes(
        &self,
        start: pb::UploadStart,
        data: Bytes,
        chunk_size: usize,
    ) -> Result<pb::Entry> {
        let chunk_size = chunk_size.max(1);
        let chunks: Vec<Bytes> = (0..data.len())
            .step_by(chunk_size)
            .map(|at| data.slice(at..(at + chunk_size).min(data.len())))
            .collect();
        self.upload(start, futures::stream::iter(chunks)).await
    }

    /// Downloads a file or range into memory. When the whole file was asked
    /// for, its SHA-256 is checked against the trailer.
    pub async fn download(&self, request: pb::DownloadRequest) -> Result<Downloaded> {
        let mut data = Vec::new();
        let (header, sha256) = self.download_to(request, &mut data).await?;
        Ok(Downloaded {
            header,
            data,
            sha256,
        })
    }

    /// Downloads a file or range into `sink`; returns the header and the
    /// whole file's SHA-256 (checked when the whole file was sent).
    pub async fn download_to<W: AsyncWrite + Unpin>(
        &self,
        request: pb::DownloadRequest,
        sink: &mut W,
    ) -> Result<(pb::DownloadHeader, String)> {
        let mut responses = self
            .files
            .clone()
            .download(futures::stream::iter([request]))
            .await?
            .into_inner();
        let header = match responses.message().await? {
            Some(pb::DownloadResponse {
                message: Some(pb::download_response::Message::Header(h)),
            }) => h,
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected header, got {other:?}"
                )));
            }
        };
        let whole = header.offset == 0 && header.length == header.total_size;
        let mut hasher = Sha256::new();
        let mut next = header.offset;
        loop {
            match responses.message().await? {
                Some(pb::DownloadResponse {
                    message: Some(pb::download_response::Message::Data(d)),
                }) => {
                    if d.offset != next {
                        return Err(ClientError::Protocol(format!(
                            "chunk at {} where {next} was due",
                            d.offset
                        )));
                    }
                    next += d.data.len() as u64;
                    if whole {
                        hasher.update(&d.data);
                    }
                    sink.write_all(&d.data).await?;
                }
                Some(pb::DownloadResponse {
                    message: Some(pb::download_response::Message::Trailer(t)),
                }) => {
                    if whole {
                        let actual = hex::encode(hasher.finalize());
                        if actual != t.sha256 {
                            return Err(ClientError::DigestMismatch {
                                expected: t.sha256,
                                actual,
                            });
                        }
                    }
                    sink.flush().await?;
                    return Ok((header, t.sha256));
                }
                other => {
                    return Err(ClientError::Protocol(format!(
                        "expected data or trailer, got {other:?}"
                    )));
                }
            }
        }
    }
}
