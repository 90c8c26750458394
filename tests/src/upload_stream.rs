//! Upload streams as tests drive them: one driven message by message (open
//! it with a start or a resume, send data, finish, query the state, and
//! read every answer up to the stream's end), or a whole stream of given
//! messages sent at once.

use crate::{TestServer, pb};
use pb::upload_request::Message as In;
use pb::upload_response::Message as Out;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

/// The client's half of one Upload stream: what it sends goes through `tx`,
/// the server's answers come on `rx`.
pub struct UploadStream {
    pub tx: mpsc::Sender<pb::UploadRequest>,
    pub rx: Streaming<pb::UploadResponse>,
}

impl UploadStream {
    pub async fn open(
        server: &TestServer,
        first: In,
    ) -> Result<(Self, pb::UploadAccepted), tonic::Status> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(pb::UploadRequest {
            message: Some(first),
        })
        .await
        .unwrap();
        let mut rx = server
            .client
            .files
            .clone()
            .upload(ReceiverStream::new(rx))
            .await?
            .into_inner();
        match rx.message().await? {
            Some(pb::UploadResponse {
                message: Some(Out::Accepted(a)),
            }) => Ok((UploadStream { tx, rx }, a)),
            other => panic!("expected accepted, got {other:?}"),
        }
    }

    pub async fn send(&self, message: In) {
        // The server may already have ended the stream; its status says why.
        let _ = self
            .tx
            .send(pb::UploadRequest {
                message: Some(message),
            })
            .await;
    }

    pub async fn data(&self, offset: usize, bytes: &[u8]) {
        self.send(In::Data(pb::UploadData {
            offset: offset as u64,
            data: bytes.to_vec().into(),
        }))
        .await;
    }

    pub async fn send_all(&self, from: usize, content: &[u8], chunk: usize) {
        let mut at = from;
        while at < content.len() {
            let end = (at + chunk).min(content.len());
            self.data(at, &content[at..end]).await;
            at = end;
        }
    }

    /// Reads answers until the stream ends or fails; returns them and the end.
    pub async fn drain(mut self, finish: bool) -> (Vec<Out>, Result<(), tonic::Status>) {
        if finish {
            self.send(In::Finish(pb::UploadFinish::default())).await;
        }
        drop(self.tx);
        let mut out = Vec::new();
        loop {
            match self.rx.message().await {
                Ok(Some(m)) => out.push(m.message.expect("message")),
                Ok(None) => return (out, Ok(())),
                Err(s) => return (out, Err(s)),
            }
        }
    }

    /// Asks for the state once `sent` bytes are out; skips earlier progress.
    pub async fn state(&mut self, sent: usize) -> pb::UploadProgress {
        self.send(In::QueryState(pb::QueryState {})).await;
        loop {
            match self.rx.message().await.unwrap().unwrap().message.unwrap() {
                Out::Progress(p) => {
                    if p.received_offset == sent as u64 {
                        return p;
                    }
                }
                other => panic!("expected progress, got {other:?}"),
            }
        }
    }
}

/// The messages of one Upload stream: `first`, then `then`.
pub fn upload(
    first: pb::upload_request::Message,
    then: Vec<pb::upload_request::Message>,
) -> Vec<pb::UploadRequest> {
    std::iter::once(first)
        .chain(then)
        .map(|m| pb::UploadRequest { message: Some(m) })
        .collect()
}

/// Sends `requests` on one Upload stream of `client`; its answers and end.
pub async fn run_upload(
    client: &arca_client::Client,
    requests: Vec<pb::UploadRequest>,
) -> (Vec<pb::UploadResponse>, Result<(), tonic::Status>) {
    let answers = client
        .files
        .clone()
        .upload(futures::stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    drain(answers).await
}

/// Reads a stream to its end: the messages, then how it ended.
pub async fn drain<T>(mut stream: tonic::Streaming<T>) -> (Vec<T>, Result<(), tonic::Status>) {
    let mut out = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return (out, Ok(())),
            Err(status) => return (out, Err(status)),
        }
    }
}
