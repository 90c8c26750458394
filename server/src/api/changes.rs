//! `arca.v1.ChangeService`: ListChanges, and WatchNamespace as a loop over
//! the durable change log.
//!
//! A watch holds one page of the log at a time and sends through a small
//! channel, so a client that reads slowly slows only its own watch, which
//! falls behind on the log (and ends OUT_OF_RANGE if the log trims past
//! it); it never grows the server's memory. Once caught up it waits for
//! this process's bell or the poll interval (commits of other replicas),
//! whichever comes first.

use std::sync::Arc;
use std::time::Duration;

use arca_proto::v1 as pb;
use arca_proto::v1::change_service_server::ChangeService;
use arca_proto::v1::watch_namespace_response::Message as Out;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{ResponseStreamOf, caller, convert};
use crate::auth::Identity;
use crate::core::Core;
use crate::core::changes::{ChangeFilter, ChangesPage};
use crate::error::Error;
use crate::meta::ChangeRecord;

/// Changes a watch reads from the log at once.
const WATCH_PAGE: usize = 256;
/// Messages a watch queues for a slow client.
const WATCH_QUEUE: usize = 16;

/// The change service.
pub struct ChangeApi {
    core: Arc<Core>,
}

impl ChangeApi {
    /// A service over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        ChangeApi { core }
    }
}

/// A change as the contract shows it.
fn change(revision: u64, c: &ChangeRecord) -> pb::Change {
    pb::Change {
        revision,
        kind: c.kind,
        path: c.path.clone(),
        old_path: c.old_path.clone(),
        entry: c.entry.as_ref().map(|e| convert::entry(&c.path, e)),
        committed_at: Some(convert::timestamp(c.committed_ms)),
        checkpoint_id: c.checkpoint_id.clone(),
    }
}

fn filter(core: &Core, f: Option<pb::ChangeFilter>) -> Result<ChangeFilter, Error> {
    let f = f.unwrap_or_default();
    ChangeFilter::new(core, &f.path_prefix, &f.glob)
}

#[tonic::async_trait]
impl ChangeService for ChangeApi {
    #[tracing::instrument(skip_all, err)]
    async fn list_changes(
        &self,
        request: Request<pb::ListChangesRequest>,
    ) -> Result<Response<pb::ListChangesResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let wanted = filter(&self.core, r.filter)?;
        let limit = crate::core::page_size(r.page_size, 256, 1000);
        let page = self
            .core
            .list_changes(&who, &r.namespace_id, r.since_revision, &wanted, limit)
            .await?;
        Ok(Response::new(pb::ListChangesResponse {
            changes: page.changes.iter().map(|(n, c)| change(*n, c)).collect(),
            revision: page.reached,
            more: page.more,
            head_revision: page.head,
            oldest_revision: page.oldest,
        }))
    }

    type WatchNamespaceStream = ResponseStreamOf<pb::WatchNamespaceResponse>;

    #[tracing::instrument(skip_all, err)]
    async fn watch_namespace(
        &self,
        request: Request<pb::WatchNamespaceRequest>,
    ) -> Result<Response<Self::WatchNamespaceStream>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let wanted = filter(&self.core, r.filter)?;
        // Subscribed before the first read: no commit falls in between.
        let bell = self.core.change_bell();
        // The first page answers the call itself: an unknown namespace, a
        // denial or a revision no longer kept is the call's status.
        let first = self
            .core
            .list_changes(&who, &r.namespace_id, r.since_revision, &wanted, WATCH_PAGE)
            .await?;
        let started = pb::WatchStarted {
            since_revision: r.since_revision.unwrap_or(first.head),
            head_revision: first.head,
            oldest_revision: first.oldest,
        };
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        let watch = Watch {
            core: self.core.clone(),
            who,
            ns_id: r.namespace_id,
            wanted,
            bell,
            tx,
        };
        tokio::spawn(watch.run(started, first));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

type Tx = mpsc::Sender<Result<pb::WatchNamespaceResponse, Status>>;

struct Watch {
    core: Arc<Core>,
    who: Identity,
    ns_id: String,
    wanted: ChangeFilter,
    bell: broadcast::Receiver<Arc<str>>,
    tx: Tx,
}

/// Why a watch ended.
enum End {
    /// The client went away.
    Gone,
    /// The namespace went: tell the client, then end OK.
    Destroyed,
    /// A failure to report as the stream's status.
    Failed(Error),
}

impl Watch {
    async fn send(&self, message: Out) -> Result<(), End> {
        let response = pb::WatchNamespaceResponse {
            message: Some(message),
        };
        self.tx.send(Ok(response)).await.map_err(|_| End::Gone)
    }

    async fn run(mut self, started: pb::WatchStarted, first: ChangesPage) {
        let since = started.since_revision;
        let ended = match self.send(Out::Started(started)).await {
            Ok(()) => match self.follow(first, since).await {
                Ok(never) => match never {},
                Err(end) => end,
            },
            Err(end) => end,
        };
        match ended {
            End::Gone => {}
            End::Destroyed => {
                let destroyed = pb::Change {
                    kind: pb::ChangeKind::Destroyed as i32,
                    committed_at: Some(convert::timestamp(self.core.meta.now_ms())),
                    ..Default::default()
                };
                let _ = self.send(Out::Change(destroyed)).await;
            }
            End::Failed(e) => {
                let _ = self.tx.send(Err(e.into())).await;
            }
        }
    }

    /// Sends each page's changes, then waits for more. `told`: the revision
    /// the client knows everything up to (a change sent, or progress).
    async fn follow(
        &mut self,
        mut page: ChangesPage,
        mut told: u64,
    ) -> Result<std::convert::Infallible, End> {
        loop {
            for (revision, c) in &page.changes {
                self.send(Out::Change(change(*revision, c))).await?;
                told = *revision;
            }
            let reached = page.reached;
            if !page.more {
                if reached > told {
                    self.send(Out::Progress(pb::WatchProgress { revision: reached }))
                        .await?;
                    told = reached;
                }
                self.wait().await?;
            }
            page = match self
                .core
                .list_changes(
                    &self.who,
                    &self.ns_id,
                    Some(reached),
                    &self.wanted,
                    WATCH_PAGE,
                )
                .await
            {
                Ok(page) => page,
                // The answer for a namespace that is gone is the one for a
                // foreign one; which it is, only the record tells.
                Err(e @ (Error::NotFound(_) | Error::PermissionDenied(_))) => {
                    return match self.core.namespace_exists(&self.ns_id).await {
                        Ok(false) => Err(End::Destroyed),
                        Ok(true) => Err(End::Failed(e)),
                        Err(failed) => Err(End::Failed(failed)),
                    };
                }
                Err(e) => return Err(End::Failed(e)),
            };
        }
    }

    /// Until this namespace's bell rings, the poll interval passes, or the
    /// client goes away.
    async fn wait(&mut self) -> Result<(), End> {
        let poll = Duration::from_millis(self.core.config.changes.poll_ms);
        let deadline = tokio::time::sleep(poll);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return Ok(()),
                () = self.tx.closed() => return Err(End::Gone),
                rung = self.bell.recv() => match rung {
                    Ok(id) if *id == *self.ns_id => return Ok(()),
                    Ok(_) => {}
                    // Missed some rings: look at the log, it may have changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => return Ok(()),
                    Err(broadcast::error::RecvError::Closed) => return Err(End::Gone),
                },
            }
        }
    }
}
