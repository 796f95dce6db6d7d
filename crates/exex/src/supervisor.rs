//! [`ActorSupervisor`]: runs a set of long-lived actors under one cancellation token.
//!
//! kona-node-service's own `start()` makes its token internally and only notices an actor's exit
//! when it returns; a host cannot stop it, nor bound how long stopping takes. The supervisor gives
//! the host that control:
//!
//! - one [`CancellationToken`] owned by the host: cancelling it stops every actor;
//! - the first actor that fails (returns an error, panics, or returns while nobody asked it to
//!   stop) cancels the rest, and its error is what [`ActorSupervisor::run`] returns;
//! - stopping is bounded: actors that have not returned by the deadline are aborted and logged by
//!   name, so a wedged actor can never hold the host's shutdown hostage;
//! - actors spawned with [`ActorSupervisor::spawn_last`] are stopped only after every other
//!   actor has: kona's RPC server holds the query channels of the L1 watcher and the network, and
//!   stopping it first makes those actors log "channel closed unexpectedly" errors on every
//!   ordinary shutdown.

use crate::{ActorError, KonaExExError, metrics::SupervisorMetrics};
use std::{
    collections::{HashMap, HashSet},
    future::Future,
    time::Duration,
};
use tokio::{task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// Default bound on how long actors get to stop after cancellation.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// What one actor task returns.
type ActorOutcome = Result<(), ActorFailure>;

/// How an actor task failed.
#[derive(Debug)]
enum ActorFailure {
    /// It returned its error.
    Error(ActorError),
    /// It panicked, with this message.
    Panicked(String),
    /// The runtime cancelled it.
    Cancelled,
}

impl std::fmt::Display for ActorFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Error(error) => error.fmt(f),
            Self::Panicked(message) => write!(f, "panicked: {message}"),
            Self::Cancelled => f.write_str("task was cancelled by the runtime"),
        }
    }
}

/// Supervises named actor tasks; see the module docs.
#[derive(Debug)]
pub struct ActorSupervisor {
    cancellation: CancellationToken,
    last_cancellation: CancellationToken,
    shutdown_timeout: Duration,
    tasks: JoinSet<ActorOutcome>,
    names: HashMap<tokio::task::Id, &'static str>,
    last: HashSet<tokio::task::Id>,
}

/// How the supervised actors ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Actors that returned within the bound, in the order they did.
    pub stopped: Vec<&'static str>,
    /// Actors that were still running at the deadline and were aborted.
    pub abandoned: Vec<&'static str>,
}

impl ActorSupervisor {
    /// A supervisor whose actors stop when `cancellation` is cancelled, each given at most
    /// `shutdown_timeout` (in total) to return.
    pub fn new(cancellation: CancellationToken, shutdown_timeout: Duration) -> Self {
        Self {
            cancellation,
            last_cancellation: CancellationToken::new(),
            shutdown_timeout,
            tasks: JoinSet::new(),
            names: HashMap::new(),
            last: HashSet::new(),
        }
    }

    /// The token that stops every actor of this supervisor.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancellation
    }

    /// The token of the actors spawned with [`spawn_last`](Self::spawn_last): cancelled once
    /// every other actor has stopped (or the shutdown deadline has passed).
    pub fn last_cancellation(&self) -> &CancellationToken {
        &self.last_cancellation
    }

    /// Number of actors spawned and not yet reaped.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether no actor is running.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Spawns `actor` under `name`. The actor is expected to watch the supervisor's token and
    /// return `Ok(())` once it is cancelled.
    pub fn spawn<F, E>(&mut self, name: &'static str, actor: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + 'static,
    {
        self.spawn_in_stage(name, actor);
    }

    /// Spawns `actor` under `name`, to be stopped after all others: it must watch
    /// [`last_cancellation`](Self::last_cancellation) instead of the supervisor's token. Its
    /// failure still stops everything at once.
    pub fn spawn_last<F, E>(&mut self, name: &'static str, actor: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + 'static,
    {
        let id = self.spawn_in_stage(name, actor);
        self.last.insert(id);
    }

    fn spawn_in_stage<F, E>(&mut self, name: &'static str, actor: F) -> tokio::task::Id
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + 'static,
    {
        let handle = self.tasks.spawn(async move {
            actor.await.map_err(|e| ActorFailure::Error(ActorError::capture(&e)))
        });
        self.names.insert(handle.id(), name);
        SupervisorMetrics::actor_started(name);
        debug!(target: "kona_exex::supervisor", actor = name, "actor started");
        handle.id()
    }

    /// Runs until every actor has stopped.
    ///
    /// Returns `Ok(())` when the actors stopped because the token was cancelled from outside, and
    /// the first failure otherwise. In both cases every actor has returned or been aborted when
    /// this returns.
    pub async fn run(mut self) -> Result<ShutdownReport, KonaExExError> {
        let first_failure = loop {
            if self.tasks.is_empty() {
                return Ok(ShutdownReport { stopped: Vec::new(), abandoned: Vec::new() });
            }
            tokio::select! {
                biased;
                _ = self.cancellation.cancelled() => break None,
                Some(joined) = self.tasks.join_next_with_id() => {
                    let (name, outcome) = self.reap(joined);
                    let failure = match outcome {
                        // An actor returning on its own while nobody asked it to stop leaves the
                        // node without, say, its engine; that is a failure, not a success.
                        Ok(()) if self.cancellation.is_cancelled() => None,
                        Ok(()) => Some(KonaExExError::ActorExited { actor: name }),
                        Err(ActorFailure::Error(source)) => Some(KonaExExError::ActorSystem { actor: name, source }),
                        Err(ActorFailure::Panicked(message)) => Some(KonaExExError::ActorPanicked { actor: name, message }),
                        Err(ActorFailure::Cancelled) => Some(KonaExExError::ActorExited { actor: name }),
                    };
                    if let Some(failure) = failure {
                        error!(target: "kona_exex::supervisor", actor = name, %failure, "actor failed; stopping all actors");
                        SupervisorMetrics::actor_failed(name);
                        break Some(failure);
                    }
                }
            }
        };
        self.cancellation.cancel();
        let report = self.shutdown().await;
        match first_failure {
            Some(failure) => Err(failure),
            None => Ok(report),
        }
    }

    /// Waits for the (cancelled) actors to return, aborting those still running at the deadline.
    async fn shutdown(&mut self) -> ShutdownReport {
        let deadline = Instant::now() + self.shutdown_timeout;
        let mut report = ShutdownReport { stopped: Vec::new(), abandoned: Vec::new() };
        while !self.tasks.is_empty() {
            if self.names.keys().all(|id| self.last.contains(id)) {
                self.last_cancellation.cancel();
            }
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(joined)) => {
                    let (name, outcome) = self.reap(joined);
                    if let Err(error) = outcome {
                        // Errors while stopping are expected (closed channels); keep them visible.
                        warn!(target: "kona_exex::supervisor", actor = name, %error, "actor returned an error while stopping");
                    }
                    report.stopped.push(name);
                }
                Ok(None) => break,
                Err(_elapsed) => {
                    self.last_cancellation.cancel();
                    report.abandoned = self.names.values().copied().collect();
                    report.abandoned.sort_unstable();
                    for name in &report.abandoned {
                        warn!(
                            target: "kona_exex::supervisor",
                            actor = name,
                            timeout_secs = self.shutdown_timeout.as_secs_f64(),
                            "actor did not stop in time; aborting it"
                        );
                        SupervisorMetrics::actor_abandoned(name);
                    }
                    self.tasks.abort_all();
                    // Reap the aborted tasks so that none outlives the supervisor.
                    while self.tasks.join_next().await.is_some() {}
                    self.names.clear();
                    break;
                }
            }
        }
        info!(
            target: "kona_exex::supervisor",
            stopped = ?report.stopped,
            abandoned = ?report.abandoned,
            "all actors stopped"
        );
        report
    }

    /// Maps a joined task back to its actor name and a uniform outcome.
    fn reap(
        &mut self,
        joined: Result<(tokio::task::Id, ActorOutcome), tokio::task::JoinError>,
    ) -> (&'static str, ActorOutcome) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, outcome),
            Err(join_error) => {
                let id = join_error.id();
                let outcome = if join_error.is_panic() {
                    Err(ActorFailure::Panicked(panic_message(join_error.into_panic())))
                } else {
                    Err(ActorFailure::Cancelled)
                };
                (id, outcome)
            }
        };
        let name = self.names.remove(&id).unwrap_or("unknown");
        self.last.remove(&id);
        SupervisorMetrics::actor_stopped(name);
        debug!(target: "kona_exex::supervisor", actor = name, ok = outcome.is_ok(), "actor returned");
        (name, outcome)
    }
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}
