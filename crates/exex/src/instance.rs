//! [`KonaInstance`]: one run of kona's actors, on a tokio runtime of its own.
//!
//! kona 0.1.3 spawns tasks that outlive the actors that started them: its discv5 driver, for
//! one, keeps looping (and holding its UDP socket) after the network actor has returned. Inside
//! reth's runtime such tasks would leak on every restart and block the next run's ports. Giving
//! each run its own runtime and shutting that runtime down when the run ends stops everything
//! kona spawned, so a restart starts from a clean slate while reth's runtime is never touched.

use crate::{KonaExExError, ShutdownReport};
use std::{future::Future, time::Duration};
use tokio::{runtime::Runtime, sync::watch, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Worker threads of a kona runtime. kona's actors are I/O bound; two keep block building and
/// derivation off each other's backs without competing with reth for cores.
const KONA_WORKER_THREADS: usize = 2;

/// How long a finished run's runtime gets to drop what kona left running (sockets included).
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// What a run of kona's actors returns.
pub(crate) type RunOutcome = Result<ShutdownReport, KonaExExError>;

/// How a run ended, seen from the ExEx.
#[derive(Debug)]
pub(crate) enum RunEnd {
    /// The run returned: `Ok` after it was asked to stop, `Err` with the first failure.
    Returned(RunOutcome),
    /// The run's task panicked outside any actor (actor panics are caught by the supervisor).
    Panicked(String),
    /// The run's task was cancelled: its runtime is going away.
    Cancelled,
}

/// One run of kona's actors on its own runtime; see the module docs.
#[derive(Debug)]
pub(crate) struct KonaInstance {
    runtime: Option<Runtime>,
    task: Option<JoinHandle<RunOutcome>>,
    cancellation: CancellationToken,
    started: Instant,
    generation: u64,
    stop_bound: Duration,
    stopped: watch::Sender<bool>,
}

impl KonaInstance {
    /// Spawns `run(token)` on a new runtime. `token` is a child of `parent`: cancelling either
    /// stops the run, and a failure inside the run cancels only the run.
    /// `stopped` is set to false now and back to true once the run has stopped, however it is
    /// stopped (by [`stop`](Self::stop), or by dropping the instance, which gives the actors
    /// `stop_bound` to return on a thread of its own).
    pub(crate) fn spawn<F, Fut>(
        parent: &CancellationToken,
        generation: u64,
        stop_bound: Duration,
        stopped: watch::Sender<bool>,
        run: F,
    ) -> Result<Self, KonaExExError>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = RunOutcome> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(KONA_WORKER_THREADS)
            .thread_name(format!("kona-{generation}"))
            .enable_all()
            .build()
            .map_err(KonaExExError::Runtime)?;
        let cancellation = parent.child_token();
        let task = Some(runtime.spawn(run(cancellation.clone())));
        stopped.send_replace(false);
        Ok(Self {
            runtime: Some(runtime),
            task,
            cancellation,
            started: Instant::now(),
            generation,
            stop_bound,
            stopped,
        })
    }

    /// Which run this is (1 for the first, counting restarts).
    pub(crate) const fn generation(&self) -> u64 {
        self.generation
    }

    /// How long this run has been going.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the run's task has returned.
    pub(crate) fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the run to end on its own. Cancel-safe.
    pub(crate) async fn join(&mut self) -> RunEnd {
        let Some(task) = self.task.as_mut() else { return RunEnd::Cancelled };
        match task.await {
            Ok(outcome) => RunEnd::Returned(outcome),
            Err(join) if join.is_cancelled() => RunEnd::Cancelled,
            Err(join) => RunEnd::Panicked(crate::supervisor::panic_message(join.into_panic())),
        }
    }

    /// Cancels the run, waits up to `bound` for it to return, then drops its runtime.
    pub(crate) async fn stop(mut self, bound: Duration) -> RunOutcome {
        self.cancellation.cancel();
        let outcome = match tokio::time::timeout(bound, self.join()).await {
            Ok(RunEnd::Returned(outcome)) => outcome,
            Ok(RunEnd::Cancelled) => Ok(ShutdownReport::default()),
            Ok(RunEnd::Panicked(message)) => {
                Err(KonaExExError::ActorPanicked { actor: "supervisor", message })
            }
            Err(_elapsed) => {
                warn!(target: "kona_exex", bound_secs = bound.as_secs(), "kona did not stop in time; dropping its runtime");
                Ok(ShutdownReport { stopped: Vec::new(), abandoned: vec!["supervisor"] })
            }
        };
        self.release().await;
        outcome
    }

    /// Drops the run's runtime, and with it every task kona spawned, on the blocking pool
    /// (a runtime cannot be shut down from async code), waiting until that is done.
    pub(crate) async fn release(mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        let generation = self.generation;
        let released = tokio::task::spawn_blocking(move || {
            runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
        })
        .await;
        if let Err(err) = released {
            warn!(target: "kona_exex", generation, %err, "kona runtime shutdown did not complete");
        } else {
            debug!(target: "kona_exex", generation, "kona runtime released");
        }
        self.stopped.send_replace(true);
    }
}

impl Drop for KonaInstance {
    /// The host dropped the ExEx without stopping it: reth drops its ExEx future the moment its
    /// shutdown signal fires. kona's actors run on their own runtime, so they can still stop in
    /// order: a thread of their own waits (bounded) for them, drops the runtime and reports
    /// `stopped`, which the host's graceful-shutdown guard waits for.
    fn drop(&mut self) {
        self.cancellation.cancel();
        let Some(runtime) = self.runtime.take() else { return };
        let (task, bound, stopped) = (self.task.take(), self.stop_bound, self.stopped.clone());
        let generation = self.generation;
        let stopper = std::thread::Builder::new().name(format!("kona-{generation}-stop")).spawn(
            move || {
                if let Some(task) = task {
                    // The timer must be made inside the runtime: build it in the async block.
                    let joined = runtime.block_on(async move { tokio::time::timeout(bound, task).await });
                    if joined.is_err() {
                        warn!(target: "kona_exex", generation, bound_secs = bound.as_secs(), "kona did not stop in time; dropping its runtime");
                    }
                }
                runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
                stopped.send_replace(true);
            },
        );
        if let Err(err) = stopper {
            warn!(target: "kona_exex", generation, %err, "could not start kona's stop thread");
        }
    }
}
