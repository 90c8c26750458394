//! The write queue both engines commit from.
//!
//! Callers hand a job to [`Committer::submit`] and wait; one thread takes
//! whatever jobs are waiting, up to a group's size, and gives them to the
//! engine's group function, which answers each job once its group is
//! durably committed (or not at all). Grouping is what lets many concurrent
//! small writes share one fsync (redb) or one WAL flush (PostgreSQL).

use std::sync::Mutex;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::engine::WriteJob;
use crate::error::{Error, Result};

/// A job waiting for its group, and where its answer goes.
pub(super) struct Pending {
    /// The job (it may run more than once).
    pub job: WriteJob,
    /// Its answer: `Ok` once durably committed.
    pub reply: oneshot::Sender<Result<()>>,
}

enum Msg {
    Job(Pending),
    Stop,
}

/// The queue and its thread.
pub(super) struct Committer {
    jobs: mpsc::UnboundedSender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// Starts the thread `name`, giving `commit_group` groups of at most
    /// `max_group` jobs, in the order they came.
    pub fn spawn(
        name: &str,
        max_group: usize,
        mut commit_group: impl FnMut(Vec<Pending>) + Send + 'static,
    ) -> Result<Self> {
        let (jobs, mut rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut stopping = false;
                while !stopping {
                    let Some(first) = rx.blocking_recv() else {
                        break;
                    };
                    let mut group = Vec::new();
                    match first {
                        Msg::Job(job) => group.push(job),
                        Msg::Stop => stopping = true,
                    }
                    while group.len() < max_group && !stopping {
                        match rx.try_recv() {
                            Ok(Msg::Job(job)) => group.push(job),
                            Ok(Msg::Stop) => stopping = true,
                            Err(_) => break,
                        }
                    }
                    if !group.is_empty() {
                        commit_group(group);
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("spawn committer: {e}")))?;
        Ok(Committer {
            jobs,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `job` and waits for its answer.
    pub async fn submit(&self, job: WriteJob) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Msg::Job(Pending { job, reply }))
            .map_err(|_| Error::Unavailable("the server is shutting down".into()))?;
        answer
            .await
            .map_err(|_| Error::Unavailable("the metadata committer stopped; retry".into()))?
    }

    /// Stops the thread after the jobs already queued; with `wait`, until
    /// it has stopped.
    pub fn stop(&self, wait: bool) {
        let _ = self.jobs.send(Msg::Stop);
        let thread = self.thread.lock().unwrap().take();
        if let (true, Some(thread)) = (wait, thread) {
            let _ = thread.join();
        }
    }
}

/// The same failure, for every job of a group it failed.
pub(super) fn clone_error(e: &Error) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(m.clone()),
        other => Error::Metadata(other.to_string()),
    }
}
