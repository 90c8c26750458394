//! The Upload stream: message order, progress and the hand-off to
//! `core::uploads`. One task per stream reads the client's messages only as
//! fast as the backend takes them, so a slow backend slows the client
//! (backpressure) instead of filling memory. Beside the next message it
//! waits for the backend's flush in flight, and reports progress when that
//! ends.

use std::sync::Arc;

use arca_proto::v1 as pb;
use arca_proto::v1::upload_request::Message as In;
use arca_proto::v1::upload_response::Message as Out;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::{ResponseStreamOf, convert};
use crate::auth::Identity;
use crate::core::Core;
use crate::core::uploads::{Started, Upload};
use crate::error::{Error, invalid};

/// Starts serving one Upload stream.
pub fn serve(
    core: Arc<Core>,
    who: Identity,
    inbound: Streaming<pb::UploadRequest>,
) -> ResponseStreamOf<pb::UploadResponse> {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(run(core, who, inbound, tx));
    Box::pin(ReceiverStream::new(rx))
}

type Tx = mpsc::Sender<Result<pb::UploadResponse, Status>>;

async fn send(tx: &Tx, message: Out) -> bool {
    tx.send(Ok(pb::UploadResponse {
        message: Some(message),
    }))
    .await
    .is_ok()
}

fn progress(upload: &Upload) -> Out {
    Out::Progress(pb::UploadProgress {
        persisted_offset: upload.persisted(),
        received_offset: upload.received(),
    })
}

async fn run(core: Arc<Core>, who: Identity, mut inbound: Streaming<pb::UploadRequest>, tx: Tx) {
    let opened = match inbound.message().await {
        Ok(Some(pb::UploadRequest {
            message: Some(In::Start(s)),
        })) => {
            let opts =
                convert::write_options(s.mime_type, s.metadata, s.precondition, s.expected_sha256);
            core.start_upload(&who, &s.namespace_id, &s.path, opts, s.total_size)
                .await
        }
        Ok(Some(pb::UploadRequest {
            message: Some(In::Resume(r)),
        })) => core
            .resume_upload(&who, &r.upload_id)
            .await
            .map(|u| Started::Upload(Box::new(u))),
        Ok(Some(_)) => Err(invalid(
            "the first message of an upload must be start or resume",
        )),
        Ok(None) => return,
        Err(status) => {
            let _ = tx.send(Err(super::inbound_failure(status))).await;
            return;
        }
    };
    let mut upload = match opened {
        Ok(Started::Upload(u)) => *u,
        Ok(Started::Deduplicated(path, entry)) => {
            let accepted = pb::UploadAccepted {
                upload_id: String::new(),
                persisted_offset: entry.size,
                lease_expires_at: None,
                deduplicated: true,
            };
            if send(&tx, Out::Accepted(accepted)).await {
                send(&tx, Out::Committed(convert::entry(&path, &entry))).await;
            }
            return;
        }
        Err(e) => {
            let _ = tx.send(Err(e.into())).await;
            return;
        }
    };
    let accepted = Out::Accepted(pb::UploadAccepted {
        upload_id: upload.id().to_owned(),
        persisted_offset: upload.persisted(),
        lease_expires_at: Some(convert::timestamp(upload.lease_expires_ms())),
        deduplicated: false,
    });
    if !send(&tx, accepted).await {
        upload.close().await;
        return;
    }
    loop {
        // The client's next message, or the backend's flush in flight
        // ending: a client that pauses (waiting to hear what is durable
        // before it sends more) still hears it.
        let message = tokio::select! {
            message = inbound.message() => Some(message),
            () = upload.in_flight_done() => None,
        };
        let outcome: Result<Option<Out>, Error> = match message {
            // The flush ended: record it, and report it if it advanced.
            None => upload
                .record_progress()
                .await
                .map(|advanced| advanced.then(|| progress(&upload))),
            Some(Ok(Some(pb::UploadRequest {
                message: Some(In::Data(d)),
            }))) => match upload.write(d.offset, d.data).await {
                Ok(true) => Ok(Some(progress(&upload))),
                Ok(false) => Ok(None),
                Err(e) => Err(e),
            },
            Some(Ok(Some(pb::UploadRequest {
                message: Some(In::QueryState(_)),
            }))) => upload.persist().await.map(|_| Some(progress(&upload))),
            Some(Ok(Some(pb::UploadRequest {
                message: Some(In::Finish(f)),
            }))) => {
                let expected = Some(f.expected_sha256).filter(|s| !s.is_empty());
                match upload.finish(expected).await {
                    Ok((path, entry)) => {
                        send(&tx, Out::Committed(convert::entry(&path, &entry))).await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                    }
                }
                return;
            }
            Some(Ok(Some(pb::UploadRequest {
                message: Some(In::Start(_) | In::Resume(_)),
            }))) => Err(invalid(
                "start and resume may only be the first message of an upload",
            )),
            Some(Ok(Some(pb::UploadRequest { message: None }))) => {
                Err(invalid("empty upload message"))
            }
            Some(Ok(None)) => {
                // Closed without finish: keep what arrived, resumable, and
                // say how much, or why it could not be kept.
                // Closed first, so what the client hears is already so.
                let answer = upload.persist().await.map(|_| progress(&upload));
                upload.close().await;
                match answer {
                    Ok(message) => {
                        send(&tx, message).await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                    }
                }
                return;
            }
            Some(Err(status)) => {
                // Broken or refused (an oversized message): what was
                // persisted stays resumable either way.
                upload.close().await;
                let _ = tx.send(Err(super::inbound_failure(status))).await;
                return;
            }
        };
        match outcome {
            Ok(Some(message)) => {
                if !send(&tx, message).await {
                    upload.close().await;
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                upload.close().await;
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        }
    }
}
