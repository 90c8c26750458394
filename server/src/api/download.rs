//! The Download stream: requests answered in order, each with a header,
//! data chunks and a trailer.
//!
//! The responses are made when the HTTP/2 layer asks for the next one (a
//! pull stream, no task or channel between): it asks only when the
//! stream's send buffer has room, so a slow client holds the server at the
//! chunk being sent and the encoded messages waiting for the client's
//! window, whatever the file's size. Data messages are at most
//! `DATA_MESSAGE_BYTES`: every message is copied once when encoded and
//! held whole until the client takes it, so their size times the open
//! downloads is most of what downloads hold.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::download_response::Message as Out;
use bytes::Bytes;
use futures::StreamExt;
use tonic::{Status, Streaming};

use super::{ResponseStreamOf, convert};
use crate::auth::Identity;
use crate::blobs::ByteStream;
use crate::core::Core;
use crate::error::{Error, Result};

/// Largest data message: a backend's chunk is sliced (without a copy) to
/// at most this.
const DATA_MESSAGE_BYTES: usize = 256 << 10;

/// Starts serving one Download stream.
pub fn serve(
    core: Arc<Core>,
    who: Identity,
    inbound: Streaming<pb::DownloadRequest>,
) -> ResponseStreamOf<pb::DownloadResponse> {
    let state = Downloads {
        core,
        who,
        inbound,
        sending: None,
        ended: false,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        let message = state.next().await?;
        Some((message, state))
    }))
}

/// One Download stream's state between responses.
struct Downloads {
    core: Arc<Core>,
    who: Identity,
    inbound: Streaming<pb::DownloadRequest>,
    /// The file being sent, after its header.
    sending: Option<Sending>,
    /// Set after the last response (the end of the requests, or an error).
    ended: bool,
}

/// A file whose header was sent.
struct Sending {
    path: String,
    sha256: String,
    /// The range sent, from the header.
    start: u64,
    end: u64,
    /// Offset of the next data message.
    offset: u64,
    /// The backend's content of the rest of the range.
    content: ByteStream,
    /// What is left of the chunk being sent.
    chunk: Bytes,
}

type Response = Result<pb::DownloadResponse, Status>;

fn response(message: Out) -> Response {
    Ok(pb::DownloadResponse {
        message: Some(message),
    })
}

impl Downloads {
    /// The next response, or None when the stream is over.
    async fn next(&mut self) -> Option<Response> {
        if self.ended {
            return None;
        }
        let next = match self.sending.as_mut() {
            Some(file) => match file.next().await {
                Ok(message) => {
                    if matches!(message, Out::Trailer(_)) {
                        self.sending = None;
                    }
                    Ok(Some(message))
                }
                Err(e) => Err(e.into()),
            },
            None => self.open().await,
        };
        match next {
            Ok(Some(message)) => Some(response(message)),
            Ok(None) => {
                self.ended = true;
                None
            }
            Err(status) => {
                self.ended = true;
                Some(Err(status))
            }
        }
    }

    /// Takes the next request and answers its header; None at the end of
    /// the requests.
    async fn open(&mut self) -> Result<Option<Out>, Status> {
        let r = match self.inbound.message().await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            Err(status) => return Err(super::inbound_failure(status)),
        };
        let core = &self.core;
        let open = core
            .open_read(
                &self.who,
                &r.namespace_id,
                &r.path,
                r.offset,
                r.length,
                r.if_version_match,
            )
            .await?;
        let path = crate::paths::normalize(&r.path, core.config.limits.paths())?;
        let header = pb::DownloadHeader {
            entry: Some(convert::entry(&path, &open.entry)),
            offset: open.range.start,
            length: open.range.end - open.range.start,
            total_size: open.entry.size,
        };
        self.sending = Some(Sending {
            path,
            sha256: open.entry.sha256,
            start: open.range.start,
            end: open.range.end,
            offset: open.range.start,
            content: open.stream,
            chunk: Bytes::new(),
        });
        Ok(Some(Out::Header(header)))
    }
}

impl Sending {
    /// The next data message, or the trailer once the range is sent.
    async fn next(&mut self) -> Result<Out, Error> {
        while self.chunk.is_empty() {
            match self.content.next().await {
                Some(chunk) => self.chunk = chunk?,
                None => return self.trailer(),
            }
        }
        let data = self
            .chunk
            .split_to(self.chunk.len().min(DATA_MESSAGE_BYTES));
        let offset = self.offset;
        self.offset += data.len() as u64;
        Ok(Out::Data(pb::DownloadData { offset, data }))
    }

    fn trailer(&self) -> Result<Out, Error> {
        let (sent, length) = (self.offset - self.start, self.end - self.start);
        if sent != length {
            return Err(Error::DataLoss(format!(
                "the content of {} ended after {sent} of {length} bytes",
                self.path
            )));
        }
        Ok(Out::Trailer(pb::DownloadTrailer {
            sha256: self.sha256.clone(),
            bytes_sent: sent,
        }))
    }
}
