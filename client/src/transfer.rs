//! Resumable transfers: uploads from any `AsyncRead + AsyncSeek` (a file, a
//! cursor) and downloads into any `AsyncWrite`, with progress callbacks, the
//! SHA-256 computed on the way, and automatic resume after a dropped
//! connection (bounded retries with backoff). An upload resumes from the
//! server's persisted offset under the same upload id; a download continues
//! from the bytes already written, pinned to the version it started with.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use crate::sink::{BackgroundHasher, FileWriter, Receiver, Sink};
use crate::source::Source;
use crate::{Client, ClientError, Result, pb};

/// Called with the number of bytes done so far (persisted by the server for
/// uploads, written to the sink for downloads).
pub type ProgressFn = Arc<dyn Fn(u64) + Send + Sync>;

/// How a resumable transfer behaves.
#[derive(Clone)]
pub struct TransferOptions {
    /// Bytes per data message (at most the server's chunk limit, 4 MiB by default).
    pub chunk_size: usize,
    /// Attempts after the first one when the connection drops.
    pub retries: u32,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            chunk_size: crate::DEFAULT_CHUNK,
            retries: 5,
            progress: None,
        }
    }
}

impl std::fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferOptions")
            .field("chunk_size", &self.chunk_size)
            .field("retries", &self.retries)
            .finish()
    }
}

/// Whether an error is a dropped connection worth another attempt.
fn retriable(error: &ClientError) -> bool {
    match error {
        ClientError::Transport(_) => true,
        ClientError::Status(s) => matches!(
            s.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Aborted
        ),
        ClientError::Protocol(_) => true,
        _ => false,
    }
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(6))).await;
}

impl Client {
    /// Uploads everything `reader` holds as the file `start` describes,
    /// resuming from the server's persisted offset if the connection drops.
    /// The SHA-256 is computed on the way and checked by the server at commit.
    pub async fn upload_from<R>(
        &self,
        start: pb::UploadStart,
        mut reader: R,
        options: &TransferOptions,
    ) -> Result<pb::Entry>
    where
        R: AsyncRead + AsyncSeek + Unpin + Send,
    {
        let mut source = Source::reader(&mut reader, options.chunk_size);
        self.upload_source(start, &mut source, options).await
    }

    /// Uploads a local file, read on a blocking thread one chunk ahead of
    /// the stream.
    pub async fn upload_path(
        &self,
        mut start: pb::UploadStart,
        local: &std::path::Path,
        options: &TransferOptions,
    ) -> Result<pb::Entry> {
        let file = tokio::fs::File::open(local).await?;
        start.total_size = Some(file.metadata().await?.len());
        let mut source = Source::<tokio::fs::File>::file(file.into_std().await, options.chunk_size);
        self.upload_source(start, &mut source, options).await
    }

    async fn upload_source<R>(
        &self,
        start: pb::UploadStart,
        source: &mut Source<'_, R>,
        options: &TransferOptions,
    ) -> Result<pb::Entry>
    where
        R: AsyncRead + AsyncSeek + Unpin + Send,
    {
        let mut upload_id: Option<String> = None;
        let mut attempt = 0;
        loop {
            match self
                .upload_attempt(&start, &mut upload_id, source, options)
                .await
            {
                Ok(entry) => return Ok(entry),
                Err(e) if retriable(&e) && attempt < options.retries => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn upload_attempt<R>(
        &self,
        start: &pb::UploadStart,
        upload_id: &mut Option<String>,
        source: &mut Source<'_, R>,
        options: &TransferOptions,
    ) -> Result<pb::Entry>
    where
        R: AsyncRead + AsyncSeek + Unpin + Send,
    {
        use pb::upload_request::Message as In;
        use pb::upload_response::Message as Out;
        let first = match upload_id {
            Some(id) => In::Resume(pb::UploadResume {
                upload_id: id.clone(),
            }),
            None => In::Start(start.clone()),
        };
        let (tx, rx) = mpsc::channel::<pb::UploadRequest>(4);
        tx.send(pb::UploadRequest {
            message: Some(first),
        })
        .await
        .map_err(|_| ClientError::Protocol("stream closed".into()))?;
        let mut answers = self
            .files
            .clone()
            .upload(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let accepted = match answers.message().await? {
            Some(pb::UploadResponse {
                message: Some(Out::Accepted(a)),
            }) => a,
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected accepted, got {other:?}"
                )));
            }
        };
        if accepted.deduplicated {
            return match answers.message().await? {
                Some(pb::UploadResponse {
                    message: Some(Out::Committed(entry)),
                }) => Ok(entry),
                other => Err(ClientError::Protocol(format!(
                    "expected committed, got {other:?}"
                ))),
            };
        }
        *upload_id = Some(accepted.upload_id.clone());
        // The digest covers everything from the start: rehash what the
        // server already holds, then continue from its persisted offset.
        let mut hasher = Sha256::new();
        source.rewind().await?;
        source
            .rehash(accepted.persisted_offset, &mut hasher)
            .await?;
        if let Some(progress) = &options.progress {
            progress(accepted.persisted_offset);
        }
        let mut hasher = BackgroundHasher::new(hasher);
        let mut offset = accepted.persisted_offset;
        // The next message, read from the source and waiting for room on
        // the stream. Reading is a branch of its own, not a step after the
        // room: a source that stalls (a pipe, a slow disk) must not keep
        // the server's answers, its progress or its refusal, unheard.
        let mut next: Option<pb::UploadRequest> = None;
        let mut source_ended = false;
        loop {
            tokio::select! {
                answer = answers.message() => match answer? {
                    Some(pb::UploadResponse { message: Some(Out::Progress(p)) }) => {
                        if let Some(progress) = &options.progress {
                            progress(p.persisted_offset);
                        }
                    }
                    Some(pb::UploadResponse { message: Some(Out::Committed(entry)) }) => {
                        if let Some(progress) = &options.progress {
                            progress(entry.size);
                        }
                        return Ok(entry);
                    }
                    Some(other) => return Err(ClientError::Protocol(format!("unexpected answer {other:?}"))),
                    None => return Err(ClientError::Protocol("upload ended without a commit".into())),
                },
                read = source.next(), if next.is_none() && !source_ended => {
                    let data = read?;
                    let message = if data.is_empty() {
                        source_ended = true;
                        let digest = hasher.state().await?.finalize();
                        In::Finish(pb::UploadFinish { expected_sha256: hex::encode(digest) })
                    } else {
                        // Hashed beside the stream while the next chunk is read.
                        hasher.feed(vec![data.clone()]).await?;
                        let at = offset;
                        offset += data.len() as u64;
                        In::Data(pb::UploadData { offset: at, data })
                    };
                    next = Some(pb::UploadRequest { message: Some(message) });
                }
                permit = tx.reserve(), if next.is_some() => {
                    let permit = permit.map_err(|_| ClientError::Protocol("stream closed".into()))?;
                    if let Some(message) = next.take() {
                        permit.send(message);
                    }
                }
            }
        }
    }

    /// Downloads a file (or the range `request` names) into `sink`,
    /// continuing where it stopped if the connection drops; a resumed
    /// download is pinned to the version it started with. The whole file's
    /// digest is checked when the whole file was asked for.
    pub async fn download_into<W>(
        &self,
        request: pb::DownloadRequest,
        sink: &mut W,
        options: &TransferOptions,
    ) -> Result<pb::DownloadHeader>
    where
        W: AsyncWrite + Unpin,
    {
        self.download_to_sink(request, &mut Sink::Writer(sink), options)
            .await
    }

    /// Downloads a file into a local path: written on a blocking thread
    /// beside the stream and the hash, then fsynced.
    pub async fn download_path(
        &self,
        request: pb::DownloadRequest,
        local: &std::path::Path,
        options: &TransferOptions,
    ) -> Result<pb::DownloadHeader> {
        let file = tokio::fs::File::create(local).await?.into_std().await;
        let mut sink = Sink::<tokio::fs::File>::File(FileWriter::new(file)?);
        let header = self.download_to_sink(request, &mut sink, options).await?;
        if let Sink::File(file) = sink {
            file.sync().await?;
        }
        Ok(header)
    }

    async fn download_to_sink<W>(
        &self,
        request: pb::DownloadRequest,
        sink: &mut Sink<'_, W>,
        options: &TransferOptions,
    ) -> Result<pb::DownloadHeader>
    where
        W: AsyncWrite + Unpin,
    {
        let mut written = 0u64;
        let mut hasher = Sha256::new();
        let mut first: Option<pb::DownloadHeader> = None;
        let mut attempt = 0;
        loop {
            let mut next = request.clone();
            if let Some(header) = &first {
                next.offset = header.offset + written;
                next.length = header.length - written;
                next.if_version_match = header.entry.as_ref().map(|e| e.version);
                if next.length == 0 {
                    // Only the trailer was lost: nothing left to fetch.
                    return Ok(header.clone());
                }
            }
            let mut receiver = Receiver::new(&mut *sink, std::mem::take(&mut hasher));
            let outcome = self
                .download_attempt(next, &mut receiver, &mut first, &mut written, options)
                .await;
            // Whatever happened, the hash covers exactly the bytes counted
            // as written, to go on with or to finish.
            hasher = receiver.drain().await?;
            match outcome {
                Ok(Some((header, trailer_sha256))) => {
                    if header.offset == 0 && header.length == header.total_size {
                        let actual = hex::encode(std::mem::take(&mut hasher).finalize());
                        if actual != trailer_sha256 {
                            return Err(ClientError::DigestMismatch {
                                expected: trailer_sha256,
                                actual,
                            });
                        }
                    }
                    return Ok(header);
                }
                Ok(None) => {
                    // Ended early without an error: treat as a drop.
                    if attempt >= options.retries {
                        return Err(ClientError::Protocol("download ended early".into()));
                    }
                }
                Err(e) if retriable(&e) && attempt < options.retries => {}
                Err(e) => return Err(e),
            }
            attempt += 1;
            backoff(attempt).await;
        }
    }

    /// One Download stream: the header (kept from the first attempt), data
    /// in order into `receiver`, and the trailer's digest; `None` when the
    /// stream ended before its trailer.
    async fn download_attempt<W>(
        &self,
        request: pb::DownloadRequest,
        receiver: &mut Receiver<'_, '_, W>,
        first: &mut Option<pb::DownloadHeader>,
        written: &mut u64,
        options: &TransferOptions,
    ) -> Result<Option<(pb::DownloadHeader, String)>>
    where
        W: AsyncWrite + Unpin,
    {
        use pb::download_response::Message as Out;
        let mut answers = self
            .files
            .clone()
            .download(futures::stream::iter([request]))
            .await?
            .into_inner();
        loop {
            match answers.message().await? {
                Some(pb::DownloadResponse {
                    message: Some(Out::Header(h)),
                }) => {
                    if first.is_none() {
                        *first = Some(h);
                    }
                }
                Some(pb::DownloadResponse {
                    message: Some(Out::Data(d)),
                }) => {
                    let header = first
                        .as_ref()
                        .ok_or_else(|| ClientError::Protocol("data before header".into()))?;
                    if d.offset != header.offset + *written {
                        return Err(ClientError::Protocol(format!(
                            "chunk at {} out of order",
                            d.offset
                        )));
                    }
                    *written += d.data.len() as u64;
                    receiver.push(d.data).await?;
                    if let Some(progress) = &options.progress {
                        progress(*written);
                    }
                }
                Some(pb::DownloadResponse {
                    message: Some(Out::Trailer(t)),
                }) => {
                    let header = first
                        .clone()
                        .ok_or_else(|| ClientError::Protocol("trailer before header".into()))?;
                    return Ok(Some((header, t.sha256)));
                }
                Some(other) => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected answer {other:?}"
                    )));
                }
                None => return Ok(None),
            }
        }
    }
}

/// Keeps a session's lease renewed while it is held; dropping it stops.
#[derive(Debug)]
pub struct SessionKeeper {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SessionKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Renews `session_id` (empty: the caller's own) to a lease of `lease`,
    /// a third of the lease before it would run out, for as long as the
    /// returned keeper lives.
    pub fn keep_session_alive(&self, session_id: &str, lease: Duration) -> SessionKeeper {
        let every = (lease / 3).max(Duration::from_millis(100));
        let ttl = prost_types::Duration {
            seconds: lease.as_secs() as i64,
            nanos: lease.subsec_nanos() as i32,
        };
        let (client, id) = (self.clone(), session_id.to_owned());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let renew = pb::RenewSessionRequest {
                    session_id: id.clone(),
                    ttl: Some(ttl),
                };
                if let Err(status) = client.sessions.clone().renew_session(renew).await
                    && matches!(
                        status.code(),
                        Code::Unauthenticated | Code::PermissionDenied | Code::NotFound
                    )
                {
                    return;
                }
            }
        });
        SessionKeeper { task }
    }
}

/// One file of a tree transfer.
#[derive(Debug, Clone)]
pub struct TreeItem {
    /// The path inside the namespace.
    pub remote: String,
    /// The local path.
    pub local: std::path::PathBuf,
}

impl Client {
    /// Uploads every file under `local_root` to `remote_root` in namespace
    /// `ns`, `parallel` at a time; returns the committed entries in path order.
    pub async fn upload_tree(
        &self,
        ns: &str,
        local_root: &std::path::Path,
        remote_root: &str,
        parallel: usize,
        options: &TransferOptions,
    ) -> Result<Vec<pb::Entry>> {
        use futures::StreamExt;
        let mut items = Vec::new();
        let mut stack = vec![local_root.to_owned()];
        while let Some(dir) = stack.pop() {
            let mut entries = tokio::fs::read_dir(&dir).await?;
            while let Some(entry) = entries.next_entry().await? {
                let path = entry.path();
                if entry.file_type().await?.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path
                        .strip_prefix(local_root)
                        .map_err(|_| ClientError::Protocol("path outside the tree".into()))?;
                    let rel = rel
                        .to_string_lossy()
                        .replace(std::path::MAIN_SEPARATOR, "/");
                    let remote = match remote_root.trim_matches('/') {
                        "" => rel,
                        root => format!("{root}/{rel}"),
                    };
                    items.push(TreeItem {
                        remote,
                        local: path,
                    });
                }
            }
        }
        items.sort_by(|a, b| a.remote.cmp(&b.remote));
        let uploads = items.into_iter().map(|item| {
            let start = pb::UploadStart {
                namespace_id: ns.to_owned(),
                path: item.remote,
                ..Default::default()
            };
            async move { self.upload_path(start, &item.local, options).await }
        });
        futures::stream::iter(uploads)
            .buffered(parallel.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Downloads every file under `remote_root` of namespace `ns` into
    /// `local_root`, `parallel` at a time; returns what was written.
    pub async fn download_tree(
        &self,
        ns: &str,
        remote_root: &str,
        local_root: &std::path::Path,
        parallel: usize,
        options: &TransferOptions,
    ) -> Result<Vec<TreeItem>> {
        use futures::StreamExt;
        let root = remote_root.trim_matches('/').to_owned();
        let mut items = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .files
                .clone()
                .list(pb::ListRequest {
                    namespace_id: ns.into(),
                    path: root.clone(),
                    recursive: true,
                    page_size: 10_000,
                    page_token: token,
                })
                .await?
                .into_inner();
            for entry in page
                .entries
                .into_iter()
                .filter(|e| e.kind == pb::EntryKind::File as i32)
            {
                let rel = entry
                    .path
                    .strip_prefix(&root)
                    .unwrap_or(&entry.path)
                    .trim_start_matches('/')
                    .to_owned();
                items.push(TreeItem {
                    local: local_root.join(rel),
                    remote: entry.path,
                });
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let downloads = items.iter().cloned().map(|item| async move {
            if let Some(dir) = item.local.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            let request = pb::DownloadRequest {
                namespace_id: ns.to_owned(),
                path: item.remote.clone(),
                ..Default::default()
            };
            self.download_path(request, &item.local, options)
                .await
                .map(|_| ())
        });
        let results: Vec<Result<()>> = futures::stream::iter(downloads)
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(items)
    }
}
