//! [`KonaNodeExEx`]: the lifecycle of the in-process kona node.

use crate::{
    Backoff, DEFAULT_SHUTDOWN_TIMEOUT, ExExMetrics, KonaExExError, KonaNodeService, L1Readiness,
    ShutdownReport,
};
use alloy_eips::BlockNumHash;
use futures::{Stream, StreamExt};
use metrics::{counter, gauge};
use rollup_cli::{EngineEndpoint, NodeCliConfig};
use rollup_providers_local::{BufferedL2Provider, ChainStateEvent, SealedL2Block};
use std::{fmt::Display, sync::Arc, time::Duration};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// How often L1 is checked while kona runs.
pub const DEFAULT_L1_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// The host side of the ExEx: where processed heights are reported.
///
/// In the `rollup` binary this sends reth's `ExExEvent::FinishedHeight`, which lets reth prune
/// its ExEx write-ahead log up to that block.
pub trait ExExHost {
    /// Every block up to and including `tip` has been applied.
    fn finished_height(&mut self, tip: BlockNumHash) -> Result<(), KonaExExError>;
}

impl ExExHost for tokio::sync::mpsc::UnboundedSender<BlockNumHash> {
    fn finished_height(&mut self, tip: BlockNumHash) -> Result<(), KonaExExError> {
        self.send(tip)
            .map_err(|_| KonaExExError::Context("finished-height receiver dropped".into()))
    }
}

/// kona-node inside reth: owns the L2 buffer derivation reads from, the kona actors, and the one
/// cancellation token that stops them.
///
/// Lifecycle: [`new`](Self::new) → [`sync_state`](Self::sync_state) with the host's recent
/// canonical blocks → [`start`](Self::start) → [`handle_notification`](Self::handle_notification)
/// per chain event → [`shutdown`](Self::shutdown). [`run`](Self::run) drives all of it from a
/// notification stream and is what the reth glue awaits as the ExEx future.
#[derive(Debug)]
pub struct KonaNodeExEx {
    config: Arc<NodeCliConfig>,
    engine: EngineEndpoint,
    provider: BufferedL2Provider,
    cancellation: CancellationToken,
    shutdown_timeout: Duration,
    l1_backoff: Backoff,
    actors: Option<JoinHandle<Result<ShutdownReport, KonaExExError>>>,
    finished: Option<BlockNumHash>,
    l1_check_interval: Duration,
    l1_healthy: tokio::sync::watch::Sender<bool>,
}

impl KonaNodeExEx {
    /// An ExEx for a validated `config`, driving the execution layer's engine API at `engine`
    /// (given by the host, never by the user) and deriving from `provider`.
    pub fn new(
        config: NodeCliConfig,
        engine: EngineEndpoint,
        provider: BufferedL2Provider,
    ) -> Self {
        Self {
            config: Arc::new(config),
            engine,
            provider,
            cancellation: CancellationToken::new(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            l1_backoff: Backoff::default(),
            actors: None,
            finished: None,
            l1_check_interval: DEFAULT_L1_CHECK_INTERVAL,
            l1_healthy: tokio::sync::watch::Sender::new(false),
        }
    }

    /// How often L1 is checked while kona runs (default 10 s).
    pub const fn with_l1_check_interval(mut self, interval: Duration) -> Self {
        self.l1_check_interval = interval;
        self
    }

    /// Whether L1 answered the last check (false until the first one succeeded).
    pub fn l1_healthy(&self) -> tokio::sync::watch::Receiver<bool> {
        self.l1_healthy.subscribe()
    }

    /// Bound on how long actors get to stop (default 10 s).
    pub const fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Backoff between L1 readiness checks.
    pub const fn with_l1_backoff(mut self, backoff: Backoff) -> Self {
        self.l1_backoff = backoff;
        self
    }

    /// Stop the ExEx with the host's token instead of its own.
    pub fn with_cancellation(mut self, cancellation: CancellationToken) -> Self {
        self.cancellation = cancellation;
        self
    }

    /// The token that stops every kona actor.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancellation
    }

    /// The L2 buffer derivation reads from.
    pub fn provider(&self) -> &BufferedL2Provider {
        &self.provider
    }

    /// The highest block reported to the host as processed.
    pub const fn finished(&self) -> Option<BlockNumHash> {
        self.finished
    }

    /// Whether the kona actors have been started and have not stopped yet.
    pub fn is_running(&self) -> bool {
        self.actors.as_ref().is_some_and(|handle| !handle.is_finished())
    }

    /// Seeds the buffer with the host's canonical chain tip (oldest first), so that derivation
    /// is not blind after a restart: reth only notifies about blocks that are new to the ExEx.
    pub fn sync_state(&mut self, canonical_tail: Vec<SealedL2Block>) -> Result<(), KonaExExError> {
        let count = canonical_tail.len();
        let tip = canonical_tail.last().map(|block| block.num_hash());
        self.provider.reset(canonical_tail)?;
        info!(target: "kona_exex", blocks = count, tip = ?tip.map(|t| t.number), "L2 buffer seeded from the node's chain");
        Ok(())
    }

    /// Starts the kona actors in the background: first waits (with backoff) for L1, then runs
    /// them under the supervisor. Does nothing if they already run.
    pub fn start(&mut self) {
        if self.actors.is_some() {
            return;
        }
        ExExMetrics::describe();
        let config = self.config.clone();
        info!(
            target: "kona_exex",
            mode = ?config.mode,
            l2_chain_id = config.l2_chain_id(),
            l1_rpc = %config.l1_eth_rpc,
            l1_beacon = %config.l1_beacon,
            engine = %self.engine.url,
            rpc = ?config.rpc_socket(),
            "starting kona node"
        );
        if !config.l1_trust_rpc {
            warn!(target: "kona_exex", "kona 0.1.3 does not verify L1 RPC responses: the L1 RPC is trusted (pass --kona.l1-trust-rpc to acknowledge)");
        }
        let readiness = L1Readiness::new(
            config.l1_eth_rpc.clone(),
            config.l1_beacon.clone(),
            config.rollup_config.l1_chain_id,
        )
        .with_backoff(self.l1_backoff);
        let service = KonaNodeService::new(
            &config,
            self.engine.clone(),
            self.provider.clone(),
            self.cancellation.clone(),
            self.shutdown_timeout,
        );
        let cancellation = self.cancellation.clone();
        let healthy = self.l1_healthy.clone();
        let interval = self.l1_check_interval;
        self.actors = Some(tokio::spawn(async move {
            if readiness.wait(&cancellation).await?.is_none() {
                return Ok(ShutdownReport { stopped: Vec::new(), abandoned: Vec::new() });
            }
            healthy.send_replace(true);
            let monitor = tokio::spawn({
                let cancellation = cancellation.clone();
                async move { readiness.monitor(interval, healthy, cancellation).await }
            });
            let result = service.run().await;
            monitor.abort();
            result
        }));
    }

    /// Applies one chain event to the buffer. Returns the block to report to the host as
    /// processed, if the event committed any.
    pub fn handle_notification(
        &mut self,
        event: ChainStateEvent,
    ) -> Result<Option<BlockNumHash>, KonaExExError> {
        let kind = event.kind();
        counter!(ExExMetrics::NOTIFICATIONS, "kind" => kind).increment(1);
        if matches!(event, ChainStateEvent::Reorged { .. }) {
            counter!(ExExMetrics::REORGS).increment(1);
        }
        let tip = event.committed_tip();
        match self.provider.apply(&event) {
            Ok(_) => {}
            Err(err) if err.is_beyond_buffer() => {
                // The buffer cannot tell which of its blocks are still canonical: start over
                // from the new chain; older blocks come from the host's fallback source.
                warn!(target: "kona_exex", %err, "reorg deeper than the L2 buffer; reseeding it from the new chain");
                self.provider.reset(event.into_committed())?;
            }
            Err(err) => return Err(err.into()),
        }
        if let Some(tip) = tip {
            self.finished = Some(tip);
            gauge!(ExExMetrics::FINISHED_HEIGHT).set(tip.number as f64);
        }
        debug!(target: "kona_exex", kind, tip = ?tip.map(|t| t.number), "chain event applied");
        Ok(tip)
    }

    /// The ExEx future: seeds nothing (call [`sync_state`](Self::sync_state) first), starts the
    /// actors, applies notifications and reports processed heights until the stream ends, the
    /// token is cancelled, or kona fails. Always stops the actors before returning.
    pub async fn run<S, E, H>(mut self, notifications: S, host: &mut H) -> Result<(), KonaExExError>
    where
        S: Stream<Item = Result<ChainStateEvent, E>> + Unpin,
        E: Display,
        H: ExExHost,
    {
        self.start();
        let mut notifications = notifications;
        let result = loop {
            let Some(actors) = self.actors.as_mut() else {
                break Err(KonaExExError::Wiring("actors were not started"));
            };
            tokio::select! {
                biased;
                _ = self.cancellation.cancelled() => break Ok(()),
                joined = actors => {
                    self.actors = None;
                    break match joined {
                        Ok(Ok(_)) if self.cancellation.is_cancelled() => Ok(()),
                        Ok(Ok(_)) => Err(KonaExExError::Wiring("kona actors stopped without being asked to")),
                        Ok(Err(err)) => Err(err),
                        Err(join) => Err(KonaExExError::ActorSystem { actor: "supervisor", error: join.to_string() }),
                    };
                }
                next = notifications.next() => match next {
                    Some(Ok(event)) => {
                        if let Some(tip) = self.handle_notification(event)? {
                            host.finished_height(tip)?;
                        }
                    }
                    Some(Err(err)) => break Err(KonaExExError::Context(format!("notification stream: {err}"))),
                    None => {
                        info!(target: "kona_exex", "notification stream ended");
                        break Ok(());
                    }
                },
            }
        };
        if let Err(err) = &result {
            error!(target: "kona_exex", %err, "kona ExEx failed; stopping kona");
        }
        let stopped = self.shutdown().await;
        result.and(stopped.map(|_| ()))
    }

    /// Cancels the token and waits for every actor to stop (bounded by the shutdown timeout).
    pub async fn shutdown(&mut self) -> Result<ShutdownReport, KonaExExError> {
        self.cancellation.cancel();
        let Some(actors) = self.actors.take() else {
            return Ok(ShutdownReport { stopped: Vec::new(), abandoned: Vec::new() });
        };
        // The supervisor bounds the actors themselves; the margin covers the L1 wait's exit.
        let bound = self.shutdown_timeout + Duration::from_secs(1);
        let abort = actors.abort_handle();
        match tokio::time::timeout(bound, actors).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => {
                Err(KonaExExError::ActorSystem { actor: "supervisor", error: join.to_string() })
            }
            Err(_) => {
                abort.abort();
                warn!(target: "kona_exex", bound_secs = bound.as_secs(), "kona did not stop in time; aborted");
                Ok(ShutdownReport { stopped: Vec::new(), abandoned: vec!["supervisor"] })
            }
        }
    }
}
