//! The write queue both engines commit from.
//!
//! Callers hand a job to [`Committer::submit`] and wait; one thread takes
//! whatever jobs are waiting, up to a group's size, and gives them to the
//! engine's group function, which answers each job once its group is
//! durably committed (or not at all). Grouping is what lets many concurrent
//! small writes share one fsync (redb) or one WAL flush (PostgreSQL).
//! An engine whose writers wait their turn on contended rows (PostgreSQL
//! with several replicas) takes the jobs that queued meanwhile into the
//! group once its turn comes ([`Waiting::take_more`]), so waiting makes
//! groups larger rather than commits more frequent.

use std::collections::VecDeque;
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
    /// `max_group` jobs, in the order they came, with the jobs still
    /// waiting behind them.
    pub fn spawn(
        name: &str,
        max_group: usize,
        mut commit_group: impl FnMut(Vec<Pending>, &mut Waiting<'_>) + Send + 'static,
    ) -> Result<Self> {
        let (jobs, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut queue = Queue {
                    rx,
                    held_back: VecDeque::new(),
                    stopping: false,
                };
                while let Some(first) = queue.next_blocking() {
                    let mut group = vec![first];
                    while group.len() < max_group {
                        match queue.next_ready() {
                            Some(job) => group.push(job),
                            None => break,
                        }
                    }
                    let room = max_group - group.len();
                    commit_group(
                        group,
                        &mut Waiting {
                            queue: &mut queue,
                            room,
                        },
                    );
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

/// The committer thread's side of the queue.
struct Queue {
    rx: mpsc::UnboundedReceiver<Msg>,
    /// Jobs looked at and left for a later group, oldest first.
    held_back: VecDeque<Pending>,
    /// A stop has been received: only the jobs held back are left to run
    /// (they were queued before it).
    stopping: bool,
}

impl Queue {
    /// The oldest job waiting, if one is: those held back first.
    fn next_ready(&mut self) -> Option<Pending> {
        if let Some(job) = self.held_back.pop_front() {
            return Some(job);
        }
        if self.stopping {
            return None;
        }
        match self.rx.try_recv() {
            Ok(Msg::Job(job)) => Some(job),
            Ok(Msg::Stop) => {
                self.stopping = true;
                None
            }
            Err(_) => None,
        }
    }

    /// The oldest job, waiting for one; `None` once stopped.
    fn next_blocking(&mut self) -> Option<Pending> {
        if let Some(job) = self.held_back.pop_front() {
            return Some(job);
        }
        if self.stopping {
            return None;
        }
        match self.rx.blocking_recv() {
            Some(Msg::Job(job)) => Some(job),
            Some(Msg::Stop) | None => None,
        }
    }
}

/// The jobs queued behind a group, while the engine runs it.
pub(super) struct Waiting<'a> {
    queue: &'a mut Queue,
    /// How many more jobs the group may take.
    room: usize,
}

impl Waiting<'_> {
    /// The waiting jobs that `fits` accepts, oldest first, as many as the
    /// group has room for. Those it refuses keep their place for the next
    /// group. Jobs are independent (each caller waits for its own answer),
    /// so one committing before another queued earlier changes nothing.
    pub fn take_more(&mut self, fits: impl Fn(&WriteJob) -> bool) -> Vec<Pending> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::new();
        while taken.len() < self.room {
            let Some(job) = self.queue.next_ready() else {
                break;
            };
            if fits(&job.job) {
                taken.push(job);
            } else {
                kept.push_back(job);
            }
        }
        self.room -= taken.len();
        // What was looked at and refused goes before what was not looked
        // at, so the order of the queue holds.
        kept.append(&mut self.queue.held_back);
        self.queue.held_back = kept;
        taken
    }
}

/// The same failure, for every job of a group it failed.
pub(super) fn clone_error(e: &Error) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(m.clone()),
        other => Error::Metadata(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, mpsc as std_mpsc};

    use super::*;

    /// A job known by the one byte of its only turn.
    fn job(id: u8) -> WriteJob {
        let mut job = WriteJob::new(Box::new(|_| Ok(())));
        job.turns = vec![("jobs", vec![id])];
        job
    }

    fn id(job: &WriteJob) -> u8 {
        job.turns[0].1[0]
    }

    /// What a test holds of its committer.
    struct Harness {
        committer: Arc<Committer>,
        /// Lets the first group go on.
        go: std_mpsc::Sender<()>,
        /// Says the first group has formed (and waits for `go`).
        formed: std_mpsc::Receiver<()>,
        /// The groups committed, as the jobs' ids.
        groups: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    /// A committer whose first group waits for `go`, then takes the even
    /// jobs queued meanwhile; every group is recorded and answered.
    fn harness(max_group: usize) -> Harness {
        let (go, wait_for_go) = std_mpsc::channel::<()>();
        let (say_formed, formed) = std_mpsc::channel::<()>();
        let groups = Arc::new(Mutex::new(Vec::new()));
        let recorded = groups.clone();
        let committer = Committer::spawn("test-commit", max_group, move |mut group, waiting| {
            if recorded.lock().unwrap().is_empty() {
                say_formed.send(()).unwrap();
                wait_for_go.recv().unwrap();
                group.extend(waiting.take_more(|job| id(job).is_multiple_of(2)));
            }
            recorded
                .lock()
                .unwrap()
                .push(group.iter().map(|p| id(&p.job)).collect());
            for pending in group {
                let _ = pending.reply.send(Ok(()));
            }
        })
        .unwrap();
        Harness {
            committer: Arc::new(committer),
            go,
            formed,
            groups,
        }
    }

    /// Submits job 0, waits until it is a group of its own, then queues
    /// jobs `1..=n` in order; their answers.
    async fn submit_behind_first(
        harness: &Harness,
        n: u8,
    ) -> Vec<tokio::task::JoinHandle<Result<()>>> {
        let mut answers = Vec::new();
        for i in 0..=n {
            let committer = harness.committer.clone();
            answers.push(tokio::spawn(async move { committer.submit(job(i)).await }));
            // On this one-thread runtime the task runs (and queues its
            // job) before the next is spawned.
            tokio::task::yield_now().await;
            if i == 0 {
                harness.formed.recv().unwrap();
            }
        }
        answers
    }

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_queued_behind_a_waiting_group_join_it_up_to_its_size() {
        let h = harness(3);
        let answers = submit_behind_first(&h, 6).await;
        h.go.send(()).unwrap();
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        // Room for two more: 2 and 4 join; 1 and 3, looked at and
        // refused, go first in the next group, before 5 and 6.
        assert_eq!(
            *h.groups.lock().unwrap(),
            [vec![0, 2, 4], vec![1, 3, 5], vec![6]]
        );
        h.committer.stop(true);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_held_back_when_the_stop_comes_still_commit() {
        let h = harness(4);
        let answers = submit_behind_first(&h, 1).await;
        // The stop is queued behind job 1, which the first group refuses.
        h.committer.stop(false);
        h.go.send(()).unwrap();
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        assert_eq!(*h.groups.lock().unwrap(), [vec![0], vec![1]]);
    }
}
