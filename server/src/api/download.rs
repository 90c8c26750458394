//! The Download stream: requests answered in order, each with a header,
//! data chunks and a trailer. The response channel holds one message and
//! data messages are at most `DATA_MESSAGE_BYTES`, so a slow client holds
//! the server at a few small chunks in memory (backpressure): the message
//! here, the one in the channel, and the encoded ones the HTTP/2 layer
//! keeps until the client's window opens.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::download_response::Message as Out;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::{ResponseStreamOf, convert};
use crate::auth::Identity;
use crate::core::Core;
use crate::error::{Error, Result};

/// Starts serving one Download stream.
pub fn serve(
    core: Arc<Core>,
    who: Identity,
    inbound: Streaming<pb::DownloadRequest>,
) -> ResponseStreamOf<pb::DownloadResponse> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(run(core, who, inbound, tx));
    Box::pin(ReceiverStream::new(rx))
}

/// Largest data message: a backend's chunk is sliced (without a copy) to
/// at most this, since every message is copied once more when encoded and
/// held until the client takes it.
const DATA_MESSAGE_BYTES: usize = 256 << 10;

type Tx = mpsc::Sender<Result<pb::DownloadResponse, Status>>;

/// Why sending one file stopped.
enum Stop {
    /// The client went away.
    Gone,
    /// A failure to report.
    Failed(Error),
}

async fn run(core: Arc<Core>, who: Identity, mut inbound: Streaming<pb::DownloadRequest>, tx: Tx) {
    loop {
        let request = match inbound.message().await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(status) => {
                let _ = tx.send(Err(super::inbound_failure(status))).await;
                return;
            }
        };
        match send_one(&core, &who, request, &tx).await {
            Ok(()) => {}
            Err(Stop::Gone) => return,
            Err(Stop::Failed(e)) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        }
    }
}

async fn send_one(
    core: &Core,
    who: &Identity,
    r: pb::DownloadRequest,
    tx: &Tx,
) -> Result<(), Stop> {
    let open = core
        .open_read(
            who,
            &r.namespace_id,
            &r.path,
            r.offset,
            r.length,
            r.if_version_match,
        )
        .await
        .map_err(Stop::Failed)?;
    let path =
        crate::paths::normalize(&r.path, core.config.limits.paths()).map_err(Stop::Failed)?;
    let header = pb::DownloadHeader {
        entry: Some(convert::entry(&path, &open.entry)),
        offset: open.range.start,
        length: open.range.end - open.range.start,
        total_size: open.entry.size,
    };
    emit(tx, Out::Header(header)).await?;
    let mut offset = open.range.start;
    let mut stream = open.stream;
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(Stop::Failed)?;
        while !chunk.is_empty() {
            let data = chunk.split_to(chunk.len().min(DATA_MESSAGE_BYTES));
            let len = data.len() as u64;
            emit(tx, Out::Data(pb::DownloadData { offset, data })).await?;
            offset += len;
        }
    }
    let sent = offset - open.range.start;
    if sent != open.range.end - open.range.start {
        return Err(Stop::Failed(Error::DataLoss(format!(
            "the content of {path} ended after {sent} of {} bytes",
            open.range.end - open.range.start
        ))));
    }
    emit(
        tx,
        Out::Trailer(pb::DownloadTrailer {
            sha256: open.entry.sha256.clone(),
            bytes_sent: sent,
        }),
    )
    .await
}

async fn emit(tx: &Tx, message: Out) -> Result<(), Stop> {
    tx.send(Ok(pb::DownloadResponse {
        message: Some(message),
    }))
    .await
    .map_err(|_| Stop::Gone)
}
