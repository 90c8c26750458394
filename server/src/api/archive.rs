//! `arca.v1.ArchiveService`: ExportArchive streams a tar made as it is sent
//! (headers from `crate::archive::write`, content from the backend, each
//! file's digest checked on the way out); ImportArchive feeds the inbound
//! bytes to the tar parser on a blocking thread and its items to the core,
//! both through small channels, so neither holds more than a few pieces.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::archive_service_server::ArchiveService;
use arca_proto::v1::export_archive_response::Message as Out;
use arca_proto::v1::import_archive_request::Message as In;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{ResponseStreamOf, caller};
use crate::archive::{read, write};
use crate::auth::Identity;
use crate::core::Core;
use crate::core::archive::ImportTarget;
use crate::error::Error;

/// Export pieces are sent at about this size (small entries coalesced).
const PIECE: usize = 1 << 20;
/// Entries an export reads from the metadata at once.
const EXPORT_PAGE: usize = 1000;

/// The archive service.
pub struct ArchiveApi {
    core: Arc<Core>,
}

impl ArchiveApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        ArchiveApi { core }
    }
}

type Tx = mpsc::Sender<Result<pb::ExportArchiveResponse, Status>>;

async fn send(tx: &Tx, message: Out) -> Result<(), Error> {
    tx.send(Ok(pb::ExportArchiveResponse {
        message: Some(message),
    }))
    .await
    .map_err(|_| Error::Aborted("the client went away".into()))
}

/// Sends what `pending` holds once it reaches a piece (or `force`).
async fn flush(tx: &Tx, pending: &mut Vec<u8>, force: bool) -> Result<(), Error> {
    if pending.len() >= PIECE || (force && !pending.is_empty()) {
        let piece = std::mem::take(pending);
        send(tx, Out::Data(piece.into())).await?;
    }
    Ok(())
}

async fn export(
    core: Arc<Core>,
    who: Identity,
    r: pb::ExportArchiveRequest,
    tx: &Tx,
) -> Result<(), Error> {
    let checkpoint = (!r.checkpoint_id.is_empty()).then_some(r.checkpoint_id.as_str());
    let mut after = None;
    let mut pending: Vec<u8> = Vec::with_capacity(PIECE);
    loop {
        let page = core
            .export_page(&who, &r.namespace_id, checkpoint, after, EXPORT_PAGE)
            .await?;
        let store = core.backend(&page.ns.backend)?;
        for (path, entry) in &page.entries {
            pending.extend_from_slice(&write::entry_header(path, entry));
            if entry.is_dir() || entry.size == 0 {
                flush(tx, &mut pending, false).await?;
                continue;
            }
            let mut content = store
                .read(&entry.object_key, 0..entry.size)
                .await
                .map_err(|e| match e {
                    Error::NotFound(_) => Error::Aborted(format!(
                        "{path} changed during the export; export a checkpoint for a point in time"
                    )),
                    other => other,
                })?;
            let (mut hash, mut sent) = (Sha256::new(), 0u64);
            while let Some(chunk) = content.next().await {
                let chunk = chunk?;
                hash.update(&chunk);
                sent += chunk.len() as u64;
                if pending.len() + chunk.len() <= PIECE {
                    pending.extend_from_slice(&chunk);
                    flush(tx, &mut pending, false).await?;
                } else {
                    flush(tx, &mut pending, true).await?;
                    send(tx, Out::Data(chunk)).await?;
                }
            }
            if sent != entry.size || hex::encode(hash.finalize()) != entry.sha256 {
                return Err(Error::DataLoss(format!(
                    "the stored content of {path} does not match its entry; the export stops"
                )));
            }
            pending.extend_from_slice(&write::padding(entry.size));
            flush(tx, &mut pending, false).await?;
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    pending.extend_from_slice(&write::end_of_archive());
    flush(tx, &mut pending, true).await
}

#[tonic::async_trait]
impl ArchiveService for ArchiveApi {
    type ExportArchiveStream = ResponseStreamOf<pb::ExportArchiveResponse>;

    #[tracing::instrument(skip_all, err)]
    async fn export_archive(
        &self,
        request: Request<pb::ExportArchiveRequest>,
    ) -> Result<Response<Self::ExportArchiveStream>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let checkpoint = (!r.checkpoint_id.is_empty()).then_some(r.checkpoint_id.as_str());
        // Counted first: a denial or an unknown checkpoint is the call's
        // status, and the client can show progress.
        let count = self
            .core
            .export_count(&who, &r.namespace_id, checkpoint)
            .await?;
        let (tx, rx) = mpsc::channel(4);
        let core = self.core.clone();
        tokio::spawn(async move {
            let summary = pb::ExportSummary {
                files: count.files,
                directories: count.directories,
                content_bytes: count.content_bytes,
            };
            let sent = match send(&tx, Out::Summary(summary)).await {
                Ok(()) => export(core, who, r, &tx).await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                let _ = tx.send(Err(e.into())).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    #[tracing::instrument(skip_all, err)]
    async fn import_archive(
        &self,
        request: Request<Streaming<pb::ImportArchiveRequest>>,
    ) -> Result<Response<pb::ImportArchiveResponse>, Status> {
        let who = caller(&request)?;
        let mut inbound = request.into_inner();
        let start = match inbound.message().await {
            Ok(Some(pb::ImportArchiveRequest {
                message: Some(In::Start(start)),
            })) => start,
            Ok(_) => {
                return Err(Status::invalid_argument(
                    "an import starts with a start message",
                ));
            }
            Err(status) => return Err(super::inbound_failure(status)),
        };
        let target = ImportTarget {
            ns_id: start.namespace_id,
            dir: start.path,
            overwrite: start.overwrite,
        };
        let (bytes_tx, bytes_rx) = mpsc::channel::<Bytes>(4);
        let (items_tx, items_rx) = mpsc::channel(8);
        // The feed holds the items channel open until the inbound stream's
        // verdict: the import commits only after a whole, well-formed stream.
        let verdict = items_tx.clone();
        let parser = tokio::task::spawn_blocking(move || {
            read::parse(read::ChannelReader::new(bytes_rx), &items_tx);
        });
        let feed = async move {
            let mut received = 0u64;
            let failed = loop {
                match inbound.message().await {
                    Ok(Some(pb::ImportArchiveRequest {
                        message: Some(In::Data(data)),
                    })) => {
                        received += data.len() as u64;
                        // A parser that stopped has its verdict already.
                        let _ = bytes_tx.send(data).await;
                    }
                    Ok(Some(_)) => {
                        break Status::invalid_argument("after start, an import sends only data");
                    }
                    Ok(None) => return Ok(received),
                    Err(status) => break super::inbound_failure(status),
                }
            };
            let refusal = Error::Aborted(format!(
                "the archive stream ended badly ({}); nothing was imported",
                failed.message()
            ));
            let _ = verdict.send(Err(refusal)).await;
            Err(failed)
        };
        let core = self.core.clone();
        let import = async move { core.import_archive(&who, target, items_rx).await };
        let (fed, imported) = tokio::join!(feed, import);
        let _ = parser.await;
        let received = fed?;
        let imported = imported?;
        Ok(Response::new(pb::ImportArchiveResponse {
            files: imported.files,
            directories: imported.directories,
            content_bytes: imported.content_bytes,
            archive_bytes: received,
        }))
    }
}
