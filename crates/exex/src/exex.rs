//! [`KonaNodeExEx`]: the lifecycle of the in-process kona node.

use crate::{
    Backoff, BufferedChain, DEFAULT_SHUTDOWN_TIMEOUT, ExExMetrics, KonaExExError, KonaNodeService,
    L1Readiness, ShutdownReport,
    instance::{KonaInstance, RunEnd},
};
use alloy_eips::BlockNumHash;
use futures::{Stream, StreamExt};
use kona_protocol::L2BlockInfo;
use metrics::{counter, gauge};
use rollup_batcher::BatchSubmitter;
use rollup_cli::NodeCliConfig;
use rollup_engine::ExecutionEngine;
use rollup_proposer::OutputProposer;
use rollup_providers_local::{BufferedL2Provider, ChainStateEvent, ProviderError, SealedL2Block};
use rollup_safe_head_db::SafeHeadDb;
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// How often L1 is checked while kona runs.
pub const DEFAULT_L1_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Backoff between kona restarts: 1 s after the first failure, doubling up to a minute.
pub const DEFAULT_RESTART_BACKOFF: Backoff =
    Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60) };

/// A run of kona that lasted this long counts as healthy: the next failure starts the backoff
/// from its first step again.
pub const DEFAULT_RESTART_RESET_AFTER: Duration = Duration::from_secs(300);

/// Pause before a task beside kona (the batcher, the proposer) that died unexpectedly is
/// started again.
const SIDE_TASK_RESTART_DELAY: Duration = Duration::from_secs(5);

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
        self.send(tip).map_err(|_| KonaExExError::HostClosed("finished-height receiver dropped"))
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
    engine: Arc<dyn ExecutionEngine>,
    provider: BufferedL2Provider,
    cancellation: CancellationToken,
    shutdown_timeout: Duration,
    l1_backoff: Backoff,
    restart_backoff: Backoff,
    restart_reset_after: Duration,
    kona: Option<KonaInstance>,
    generation: u64,
    consecutive_failures: u32,
    restarts: tokio::sync::watch::Sender<u64>,
    reseeds: tokio::sync::watch::Sender<u64>,
    finished: Option<BlockNumHash>,
    l1_check_interval: Duration,
    l1_healthy: tokio::sync::watch::Sender<bool>,
    safe_head: tokio::sync::watch::Sender<Option<L2BlockInfo>>,
    safe_head_db: Option<Arc<SafeHeadDb>>,
    batcher: SideTask,
    proposer: SideTask,
    kona_stopped: tokio::sync::watch::Sender<bool>,
}

impl KonaNodeExEx {
    /// An ExEx for a validated `config`, driving the execution layer through `engine` (the
    /// host's own engine API, called in-process) and deriving from `provider`.
    pub fn new(
        config: NodeCliConfig,
        engine: Arc<dyn ExecutionEngine>,
        provider: BufferedL2Provider,
    ) -> Self {
        Self {
            config: Arc::new(config),
            engine,
            provider,
            cancellation: CancellationToken::new(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            l1_backoff: Backoff::default(),
            restart_backoff: DEFAULT_RESTART_BACKOFF,
            restart_reset_after: DEFAULT_RESTART_RESET_AFTER,
            kona: None,
            generation: 0,
            consecutive_failures: 0,
            restarts: tokio::sync::watch::Sender::new(0),
            reseeds: tokio::sync::watch::Sender::new(0),
            finished: None,
            l1_check_interval: DEFAULT_L1_CHECK_INTERVAL,
            l1_healthy: tokio::sync::watch::Sender::new(false),
            safe_head: tokio::sync::watch::Sender::new(None),
            safe_head_db: None,
            batcher: SideTask::new("batcher"),
            proposer: SideTask::new("proposer"),
            kona_stopped: tokio::sync::watch::Sender::new(true),
        }
    }

    /// How often L1 is checked while kona runs (default 10 s).
    pub const fn with_l1_check_interval(mut self, interval: Duration) -> Self {
        self.l1_check_interval = interval;
        self
    }

    /// Whether no kona run is active: false while one runs, true again once it has fully stopped,
    /// also when the ExEx was dropped rather than shut down (the host's graceful-shutdown guard
    /// waits for it).
    pub fn kona_stopped(&self) -> tokio::sync::watch::Receiver<bool> {
        self.kona_stopped.subscribe()
    }

    /// kona's safe head (`None` until kona's engine has one). It outlives kona restarts.
    pub fn safe_head(&self) -> tokio::sync::watch::Receiver<Option<L2BlockInfo>> {
        self.safe_head.subscribe()
    }

    /// Records kona's safe heads into `db`, against the L1 block each was derived from, and
    /// serves `optimism_safeHeadAtL1Block` from it on kona's RPC. The database outlives kona
    /// restarts: every run records into and answers from the same one.
    pub fn with_safe_head_db(mut self, db: Arc<SafeHeadDb>) -> Self {
        self.safe_head_db = Some(db);
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

    /// Backoff between restarts after kona failures (default [`DEFAULT_RESTART_BACKOFF`]), and
    /// how long a run must last for the next failure to start the backoff over.
    pub const fn with_restart_backoff(mut self, backoff: Backoff, reset_after: Duration) -> Self {
        self.restart_backoff = backoff;
        self.restart_reset_after = reset_after;
        self
    }

    /// How many times kona has been restarted after a failure.
    pub fn restarts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.restarts.subscribe()
    }

    /// How many times the L2 buffer has been re-seeded from the host's chain after a
    /// notification that did not fit it.
    pub fn buffer_reseeds(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reseeds.subscribe()
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
        self.kona.as_ref().is_some_and(|kona| !kona.is_finished())
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

    /// Starts the kona actors in the background, on a runtime of their own: first waits (with
    /// backoff) for L1, then runs them under the supervisor. Does nothing if they already run.
    pub fn start(&mut self) -> Result<(), KonaExExError> {
        if self.kona.is_some() {
            return Ok(());
        }
        ExExMetrics::describe();
        let config = self.config.clone();
        self.generation += 1;
        info!(
            target: "kona_exex",
            mode = ?config.mode,
            run = self.generation,
            l2_chain_id = config.l2_chain_id(),
            l1_rpc = %config.l1_eth_rpc,
            l1_beacon = %config.l1_beacon,
            engine = "in-process",
            rpc = ?config.rpc_socket(),
            "starting kona node"
        );
        if !config.l1_trust_rpc && self.generation == 1 {
            warn!(target: "kona_exex", "kona 0.1.3 does not verify L1 RPC responses: the L1 RPC is trusted (pass --kona.l1-trust-rpc to acknowledge)");
        }
        let readiness = L1Readiness::new(
            config.l1_eth_rpc.clone(),
            config.l1_beacon.clone(),
            config.rollup_config.l1_chain_id,
        )
        .with_backoff(self.l1_backoff);
        let (engine, provider) = (self.engine.clone(), self.provider.clone());
        let shutdown_timeout = self.shutdown_timeout;
        let healthy = self.l1_healthy.clone();
        let interval = self.l1_check_interval;
        let safe_head = self.safe_head.clone();
        let safe_head_db = self.safe_head_db.clone();
        let stop_bound = self.shutdown_timeout + Duration::from_secs(1);
        let stopped = self.kona_stopped.clone();
        let instance = KonaInstance::spawn(
            &self.cancellation,
            self.generation,
            stop_bound,
            stopped,
            move |token| async move {
                let Some(l1) = readiness.wait(&token).await? else {
                    return Ok(ShutdownReport::default());
                };
                healthy.send_replace(true);
                let monitor = tokio::spawn({
                    let token = token.clone();
                    async move { readiness.monitor(interval, healthy, token).await }
                });
                let mut service =
                    KonaNodeService::new(&config, engine, provider, token, shutdown_timeout)
                        .with_safe_head(safe_head)
                        .with_l1_slot_time(Duration::from_secs(l1.seconds_per_slot));
                if let Some(db) = safe_head_db {
                    service = service.with_safe_head_db(db);
                }
                let result = service.run().await;
                monitor.abort();
                result
            },
        )?;
        gauge!(ExExMetrics::KONA_RUNNING).set(1.0);
        self.kona = Some(instance);
        Ok(())
    }

    /// Applies one chain event to the buffer. Returns the block to report to the host as
    /// processed, if the event committed any.
    ///
    /// An event that does not fit the buffered chain (a gap, a conflict, a detached chain, a
    /// reorg deeper than the buffer, ...) is not fatal: reth produces such sequences, e.g. when it
    /// unwinds and re-executes blocks, and its database has the truth. The buffer is re-seeded
    /// from the host's chain (the provider's fallback) up to the event's tip; only a failing
    /// re-seed is an error.
    pub async fn handle_notification(
        &mut self,
        event: ChainStateEvent,
    ) -> Result<Option<BlockNumHash>, KonaExExError> {
        let kind = event.kind();
        counter!(ExExMetrics::NOTIFICATIONS, "kind" => kind).increment(1);
        if matches!(event, ChainStateEvent::Reorged { .. }) {
            counter!(ExExMetrics::REORGS).increment(1);
        }
        let tip = event.committed_tip();
        if let Err(err) = self.provider.apply(&event) {
            self.reseed(err, event).await?;
        }
        if let Some(tip) = tip {
            self.finished = Some(tip);
            gauge!(ExExMetrics::FINISHED_HEIGHT).set(tip.number as f64);
        }
        debug!(target: "kona_exex", kind, tip = ?tip.map(|t| t.number), "chain event applied");
        Ok(tip)
    }

    /// Rebuilds the buffer after `event` was rejected with `err`, if `err` is an inconsistency
    /// between the event and the buffer (anything else is returned).
    ///
    /// kona's engine and derivation need not be told: they read blocks from the buffer (or the
    /// fallback behind it) on demand, by number or hash, and the buffer now holds the host's
    /// canonical chain; their heads come from the execution layer's forkchoice, not from here.
    async fn reseed(
        &mut self,
        err: ProviderError,
        event: ChainStateEvent,
    ) -> Result<(), KonaExExError> {
        let Some(cause) = err.inconsistency() else { return Err(err.into()) };
        counter!(ExExMetrics::BUFFER_RESEEDS, "cause" => cause).increment(1);
        self.reseeds.send_modify(|count| *count += 1);
        let target = event.head_after();
        warn!(target: "kona_exex", cause, %err, kind = event.kind(), to = ?target, "chain event does not fit the L2 buffer; re-seeding it from the node's chain");
        let applied = match target {
            Some(tip) if self.provider.has_fallback() => {
                self.provider.reseed_from_fallback(tip).await?
            }
            // Without the host's database (or a block to read up to) the event's own chain is
            // the newest canonical knowledge there is; older blocks then stay unknown.
            _ => self.provider.reset(event.into_committed())?,
        };
        let head = self.provider.head();
        info!(target: "kona_exex", cause, blocks = applied.added, head = ?head.map(|h| h.number), "L2 buffer re-seeded");
        Ok(())
    }

    /// The ExEx future: seeds nothing (call [`sync_state`](Self::sync_state) first), starts the
    /// actors, applies notifications and reports processed heights until the host stops it
    /// (`Ok`: the token was cancelled or the notification stream ended, both of which mean the
    /// host is shutting down) or a failure is fatal (`Err`). Always stops the actors before
    /// returning.
    ///
    /// A kona failure is not fatal by default: kona is stopped, and started again from the
    /// execution layer's forkchoice with capped exponential backoff, while the buffer keeps
    /// following the chain. With `--kona.exit-on-failure`, and for failures a restart cannot
    /// cure (a wrong L1, a broken host), the failure is returned instead.
    pub async fn run<S, E, H>(mut self, notifications: S, host: &mut H) -> Result<(), KonaExExError>
    where
        S: Stream<Item = Result<ChainStateEvent, E>> + Unpin,
        E: Into<crate::BoxedError>,
        H: ExExHost,
    {
        let result = self.drive(notifications, host).await;
        if let Err(err) = &result {
            error!(target: "kona_exex", %err, "kona ExEx failed; stopping kona");
        }
        let stopped = self.shutdown().await;
        result.and(stopped.map(|_| ()))
    }

    async fn drive<S, E, H>(
        &mut self,
        mut notifications: S,
        host: &mut H,
    ) -> Result<(), KonaExExError>
    where
        S: Stream<Item = Result<ChainStateEvent, E>> + Unpin,
        E: Into<crate::BoxedError>,
        H: ExExHost,
    {
        self.start()?;
        self.start_batcher();
        self.start_proposer();
        let mut restart_at: Option<Instant> = None;
        loop {
            let restart_due = restart_at.unwrap_or_else(Instant::now);
            tokio::select! {
                biased;
                _ = self.cancellation.cancelled() => return Ok(()),
                end = join_kona(&mut self.kona) => {
                    let Some(kona) = self.kona.take() else { continue };
                    gauge!(ExExMetrics::KONA_RUNNING).set(0.0);
                    let failure = match end {
                        RunEnd::Cancelled => return Ok(()),
                        RunEnd::Returned(Ok(_)) if self.cancellation.is_cancelled() => return Ok(()),
                        RunEnd::Returned(Ok(_)) => KonaExExError::ActorExited { actor: "supervisor" },
                        RunEnd::Returned(Err(err)) => err,
                        RunEnd::Panicked(message) => KonaExExError::ActorPanicked { actor: "supervisor", message },
                    };
                    let uptime = kona.uptime();
                    let generation = kona.generation();
                    // Whatever kona left running (tasks, sockets) goes with its runtime.
                    kona.release().await;
                    if self.config.exit_on_failure || !failure.is_restartable() {
                        return Err(failure);
                    }
                    let delay = self.next_restart_delay(uptime);
                    self.restarts.send_modify(|count| *count += 1);
                    counter!(ExExMetrics::RESTARTS, "actor" => failure.failed_actor().unwrap_or("kona")).increment(1);
                    warn!(
                        target: "kona_exex",
                        cause = %failure,
                        run = generation,
                        uptime_secs = uptime.as_secs(),
                        consecutive_failures = self.consecutive_failures,
                        restart_in_ms = delay.as_millis() as u64,
                        "kona failed; restarting it (reth keeps running; --kona.exit-on-failure stops the node instead)"
                    );
                    restart_at = Some(Instant::now() + delay);
                }
                _ = tokio::time::sleep_until(restart_due), if restart_at.is_some() => {
                    restart_at = None;
                    self.start()?;
                }
                // Batching resumes from the safe head after a pause.
                event = self.batcher.next_event() => match event {
                    SideTaskEvent::Ended => counter!(ExExMetrics::BATCHER_RESTARTS).increment(1),
                    SideTaskEvent::RestartDue => self.start_batcher(),
                },
                // Proposing resumes from what the L2OutputOracle holds after a pause.
                event = self.proposer.next_event() => match event {
                    SideTaskEvent::Ended => counter!(ExExMetrics::PROPOSER_RESTARTS).increment(1),
                    SideTaskEvent::RestartDue => self.start_proposer(),
                },
                next = notifications.next() => match next {
                    Some(Ok(event)) => {
                        if let Some(tip) = self.handle_notification(event).await? {
                            host.finished_height(tip)?;
                        }
                    }
                    Some(Err(err)) => return Err(KonaExExError::Notifications(err.into())),
                    None => {
                        info!(target: "kona_exex", "notification stream ended");
                        return Ok(());
                    }
                },
            }
        }
    }

    /// Starts the built-in batcher when configured. It runs beside kona, not inside it: a kona
    /// restart does not interrupt it, and its own trouble is retried inside it.
    fn start_batcher(&mut self) {
        let Some(batcher) = self.config.batcher.as_ref() else { return };
        if self.batcher.is_running() {
            return;
        }
        let submitter = BatchSubmitter::new(
            crate::batcher::submitter_config(&self.config, batcher),
            batcher.signer.clone(),
            BufferedChain(self.provider.clone()),
            self.safe_head.subscribe(),
        );
        self.batcher.spawn(submitter.run(self.cancellation.child_token()));
    }

    /// Starts the built-in proposer when configured. Like the batcher it runs beside kona: it
    /// reads final heads from the execution layer, which outlives kona runs.
    fn start_proposer(&mut self) {
        let Some(proposer) = self.config.proposer.as_ref() else { return };
        if self.proposer.is_running() {
            return;
        }
        let outputs = crate::NodeOutputs {
            config: Arc::new(self.config.rollup_config.clone()),
            engine: self.engine.clone(),
            blocks: self.provider.clone(),
        };
        let task = OutputProposer::new(
            crate::proposer_config(&self.config, proposer),
            proposer.signer.clone(),
            outputs,
        );
        self.proposer.spawn(task.run(self.cancellation.child_token()));
    }

    /// The delay before the next restart: the backoff's next step, or its first again when the
    /// run that just failed had been healthy for a while.
    fn next_restart_delay(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.restart_reset_after {
            self.consecutive_failures = 0;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.restart_backoff.delay(self.consecutive_failures)
    }

    /// Cancels the token and waits for every actor to stop (bounded by the shutdown timeout).
    pub async fn shutdown(&mut self) -> Result<ShutdownReport, KonaExExError> {
        self.cancellation.cancel();
        let kona = self.kona.take();
        if kona.is_some() {
            gauge!(ExExMetrics::KONA_RUNNING).set(0.0);
        }
        // All saw the token; stop them side by side so none waits for another.
        let bound = self.shutdown_timeout;
        let side_tasks = futures::future::join(self.batcher.stop(bound), self.proposer.stop(bound));
        // The supervisor bounds the actors themselves; the margin covers the L1 wait's exit.
        let kona = async move {
            match kona {
                Some(kona) => kona.stop(bound + Duration::from_secs(1)).await,
                None => Ok(ShutdownReport::default()),
            }
        };
        let (_, report) = tokio::join!(side_tasks, kona);
        report
    }
}

/// What happened to a [`SideTask`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SideTaskEvent {
    /// It ended unexpectedly; a restart is scheduled.
    Ended,
    /// Its restart is due.
    RestartDue,
}

/// A task beside kona (the batcher, the proposer). It retries its own trouble and returns only
/// when cancelled, so an end while the ExEx runs is a panic (or a bug): it is started again
/// after a pause.
#[derive(Debug)]
struct SideTask {
    name: &'static str,
    handle: Option<tokio::task::JoinHandle<()>>,
    restart_at: Option<Instant>,
}

impl SideTask {
    const fn new(name: &'static str) -> Self {
        Self { name, handle: None, restart_at: None }
    }

    const fn is_running(&self) -> bool {
        self.handle.is_some()
    }

    fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.restart_at = None;
        self.handle = Some(tokio::spawn(task));
    }

    /// Waits for the running task to end (then logs why and schedules its restart), or for its
    /// restart to be due; pending while neither can happen.
    async fn next_event(&mut self) -> SideTaskEvent {
        let Some(handle) = self.handle.as_mut() else {
            match self.restart_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
            return SideTaskEvent::RestartDue;
        };
        let cause = match handle.await {
            Ok(()) => "returned on its own".to_string(),
            Err(join) if join.is_panic() => {
                format!("panicked: {}", crate::supervisor::panic_message(join.into_panic()))
            }
            Err(join) => join.to_string(),
        };
        self.handle = None;
        self.restart_at = Some(Instant::now() + SIDE_TASK_RESTART_DELAY);
        error!(target: "kona_exex", task = self.name, %cause, restart_in_secs = SIDE_TASK_RESTART_DELAY.as_secs(), "task beside kona stopped unexpectedly; restarting it");
        SideTaskEvent::Ended
    }

    /// Waits for the (cancelled) task to stop, at most `bound`: it stops at its next poll, and
    /// must never hold the node's shutdown.
    async fn stop(&mut self, bound: Duration) {
        self.restart_at = None;
        if let Some(handle) = self.handle.take()
            && tokio::time::timeout(bound, handle).await.is_err()
        {
            warn!(target: "kona_exex", task = self.name, "task beside kona did not stop in time");
        }
    }
}

/// Waits for the running kona (if any) to end; pending while none runs.
async fn join_kona(kona: &mut Option<KonaInstance>) -> RunEnd {
    match kona {
        Some(kona) => kona.join().await,
        None => std::future::pending().await,
    }
}
