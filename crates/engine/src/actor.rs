//! [`InProcessEngineActor`]: kona's engine actor contract over an [`ExecutionEngine`].

use crate::{
    EngineError, EngineMetrics, ExecutionEngine, L1BlockReader, L2Head, Severity,
    queue::{EngineCore, Task, sealed_block_info, warn_on_retry},
    safe_heads::SafeHeadRecorder,
};
use alloy_eips::BlockNumberOrTag;
use async_trait::async_trait;
use kona_derive::{ResetSignal, Signal};
use kona_engine::{EngineQueries, EngineState};
use kona_genesis::RollupConfig;
use kona_node_service::{EngineContext, EngineInboundData, NodeActor, NodeMode};
use kona_protocol::{BlockInfo, L2BlockInfo, OpAttributesWithParent};
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use rollup_providers_local::{BufferedL2Provider, SealedL2Block};
use rollup_safe_head_db::SafeHeadDb;
use std::{collections::BTreeMap, fmt, sync::Arc, time::Duration};
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::{Instant, sleep_until},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// Capacity of each inbound channel (kona's).
const CHANNEL_CAPACITY: usize = 1024;

/// First pause before a reset that failed on a temporary error is tried again; doubles up to
/// [`RESET_RETRY_MAX`].
const RESET_RETRY_INITIAL: Duration = Duration::from_millis(100);
/// Longest pause between reset attempts.
const RESET_RETRY_MAX: Duration = Duration::from_secs(5);

/// First pause before the forkchoice is sent again to learn whether an execution layer that
/// answered SYNCING finished; doubles up to [`EL_SYNC_CHECK_MAX`].
const EL_SYNC_CHECK_INITIAL: Duration = Duration::from_millis(100);
/// Longest pause between EL sync checks.
const EL_SYNC_CHECK_MAX: Duration = Duration::from_secs(5);

/// A sequencer build request: attributes and where the built payload goes.
type BuildRequest = (OpAttributesWithParent, mpsc::Sender<OpExecutionPayloadEnvelope>);

/// What the engine actor is built from.
pub struct EngineActorBuilder<E: ?Sized> {
    /// The rollup config.
    pub config: Arc<RollupConfig>,
    /// Sequencer mode accepts build requests; validator mode does not.
    pub mode: NodeMode,
    /// The execution layer.
    pub engine: Arc<E>,
    /// L2 block reads: the in-memory buffer, with the execution layer's database behind it.
    pub l2: BufferedL2Provider,
    /// L1 block reads, for resets.
    pub l1: Arc<dyn L1BlockReader>,
    /// Where safe-head moves are recorded against the L1 block they were derived from
    /// (`optimism_safeHeadAtL1Block`); nothing is recorded without one. It outlives the actor.
    pub safe_heads: Option<Arc<SafeHeadDb>>,
}

impl<E: ?Sized> Clone for EngineActorBuilder<E> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            mode: self.mode,
            engine: self.engine.clone(),
            l2: self.l2.clone(),
            l1: self.l1.clone(),
            safe_heads: self.safe_heads.clone(),
        }
    }
}

impl<E: fmt::Debug + ?Sized> fmt::Debug for EngineActorBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineActorBuilder")
            .field("mode", &self.mode)
            .field("engine", &self.engine)
            .field("safe_heads", &self.safe_heads)
            .finish_non_exhaustive()
    }
}

/// The engine actor: takes kona's engine channels and runs [`EngineCore`] against the
/// in-process execution layer.
#[derive(Debug)]
pub struct InProcessEngineActor<E: ?Sized> {
    builder: EngineActorBuilder<E>,
    attributes_rx: mpsc::Receiver<OpAttributesWithParent>,
    unsafe_block_rx: mpsc::Receiver<OpExecutionPayloadEnvelope>,
    reset_request_rx: mpsc::Receiver<()>,
    queries_rx: mpsc::Receiver<EngineQueries>,
    build_request_rx: Option<mpsc::Receiver<BuildRequest>>,
    finalizer: Finalizer,
    /// Whether a reset completed with the execution layer synced (it answered the reset's
    /// forkchoice update VALID). Until one has, derivation is not told that EL sync is complete:
    /// a reset while the execution layer syncs starts derivation from a stale safe head.
    synced_reset: bool,
    /// Records safe-head moves, when the builder has a database.
    safe_heads: Option<SafeHeadRecorder>,
}

#[async_trait]
impl<E: ExecutionEngine + ?Sized> NodeActor for InProcessEngineActor<E> {
    type Error = EngineError;
    type OutboundData = EngineContext;
    type InboundData = EngineInboundData;
    type Builder = EngineActorBuilder<E>;

    fn build(builder: Self::Builder) -> (Self::InboundData, Self) {
        let (finalized_l1_block_tx, finalized_l1_rx) = watch::channel(None);
        let (inbound_queries_tx, queries_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (attributes_tx, attributes_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (unsafe_block_tx, unsafe_block_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (reset_request_tx, reset_request_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (build_request_tx, build_request_rx) = if builder.mode.is_sequencer() {
            let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let inbound = EngineInboundData {
            build_request_tx,
            attributes_tx,
            unsafe_block_tx,
            reset_request_tx,
            inbound_queries_tx,
            finalized_l1_block_tx,
        };
        let safe_heads = builder.safe_heads.clone().map(SafeHeadRecorder::new);
        let actor = Self {
            builder,
            attributes_rx,
            unsafe_block_rx,
            reset_request_rx,
            queries_rx,
            build_request_rx,
            finalizer: Finalizer::new(finalized_l1_rx),
            synced_reset: false,
            safe_heads,
        };
        (inbound, actor)
    }

    async fn start(mut self, context: EngineContext) -> Result<(), EngineError> {
        let EngineContext {
            cancellation,
            engine_unsafe_head_tx,
            engine_l2_safe_head_tx,
            sync_complete_tx,
            derivation_signal_tx,
        } = context;
        let EngineActorBuilder { config, engine, l2, l1, .. } = self.builder.clone();
        let mut core = EngineCore::new(config.clone(), engine.clone(), l2.clone(), l1);
        if self.safe_heads.is_some() {
            core.track_derived_safe_heads();
        }
        let queries = tokio::spawn(serve_queries(
            std::mem::replace(&mut self.queries_rx, mpsc::channel(1).1),
            QueryContext {
                config,
                engine,
                l2,
                state: core.subscribe_state(),
                queue_length: core.subscribe_queue_length(),
            },
        ));
        let outputs =
            Outputs { derivation: derivation_signal_tx, safe_head: engine_l2_safe_head_tx };
        let mut sync_complete = Some(sync_complete_tx);
        let result = self
            .run(&mut core, &outputs, &mut sync_complete, engine_unsafe_head_tx, &cancellation)
            .await;
        queries.abort();
        if let Err(err) = &result {
            error!(target: "engine", %err, "engine actor failed");
            cancellation.cancel();
        } else {
            info!(target: "engine", "engine actor stopped");
        }
        result
    }
}

/// Where the engine actor reports.
struct Outputs {
    derivation: mpsc::Sender<Signal>,
    safe_head: watch::Sender<L2BlockInfo>,
}

impl Outputs {
    fn publish_safe_head(&self, state: &EngineState) {
        publish(&self.safe_head, state.sync_state.safe_head());
    }
}

/// Sends `head` to the watchers of `tx` if it differs from what they have (so they wake only
/// on a change).
fn publish(tx: &watch::Sender<L2BlockInfo>, head: L2BlockInfo) {
    tx.send_if_modified(|current| {
        let changed = *current != head;
        *current = head;
        changed
    });
}

impl<E: ExecutionEngine + ?Sized> InProcessEngineActor<E> {
    async fn run(
        &mut self,
        core: &mut EngineCore<E>,
        outputs: &Outputs,
        sync_complete: &mut Option<oneshot::Sender<()>>,
        unsafe_head_tx: Option<watch::Sender<L2BlockInfo>>,
        cancellation: &CancellationToken,
    ) -> Result<(), EngineError> {
        // When (and after which pause) to ask again whether the execution layer finished
        // syncing, while derivation waits for it.
        let mut el_sync_check: Option<(Instant, Duration)> = None;
        loop {
            // When the task at the head of the queue is due again after a temporary error.
            let mut retry_at = None;
            let drained = core.drain().await;
            // Before any reset the result asks for: the reset removes what it voids.
            self.record_safe_heads(core);
            match drained {
                Ok(at) => retry_at = at,
                Err(err) => match err.severity() {
                    Severity::Critical => return Err(err),
                    Severity::Reset => {
                        warn!(target: "engine", %err, "engine task asks for a reset");
                        self.reset(core, outputs, cancellation).await?;
                    }
                    Severity::Flush => {
                        warn!(target: "engine", %err, "flushing derivation's channel");
                        outputs
                            .derivation
                            .send(Signal::FlushChannel)
                            .await
                            .map_err(|_| EngineError::ChannelClosed("derivation signal"))?;
                    }
                    // The drain keeps these for a retry and returns `Ok`.
                    Severity::Temporary => {}
                },
            }
            outputs.publish_safe_head(core.state());
            if sync_complete.is_some() {
                if core.state().el_sync_finished {
                    // kona resets here only without a finalized head; but a reset done while the
                    // execution layer was still syncing set one from its stale chain, so it does
                    // not count: reset again from the synced chain.
                    if !self.synced_reset {
                        info!(target: "engine", "execution layer synced; initial reset");
                        self.reset(core, outputs, cancellation).await?;
                    }
                    if let Some(done) = sync_complete.take() {
                        info!(target: "engine", "EL sync complete; derivation may start");
                        // Releases derivation (a dropped sender would too).
                        let _ = done.send(());
                    }
                    el_sync_check = None;
                } else if el_sync_check.is_none() && core.state().sync_state != Default::default() {
                    // A forkchoice update answered SYNCING. Unsafe blocks from gossip would
                    // send more, but a validator may have none: ask again until VALID.
                    el_sync_check =
                        Some((Instant::now() + EL_SYNC_CHECK_INITIAL, EL_SYNC_CHECK_INITIAL));
                }
            }
            if let Some(tx) = &unsafe_head_tx {
                publish(tx, core.state().sync_state.unsafe_head());
            }

            let build_requests = self.build_request_rx.as_mut();
            tokio::select! {
                biased;
                _ = cancellation.cancelled() => return Ok(()),
                reset = self.reset_request_rx.recv() => {
                    reset.ok_or(EngineError::ChannelClosed("reset request"))?;
                    info!(target: "engine", "reset requested");
                    self.reset(core, outputs, cancellation).await?;
                }
                // The queue is due again (the next drain runs the task that failed).
                () = async { match retry_at { Some(at) => sleep_until(at).await, None => std::future::pending().await } } => {}
                () = async { match el_sync_check { Some((at, _)) => sleep_until(at).await, None => std::future::pending().await } } => {
                    let delay = el_sync_check.map_or(EL_SYNC_CHECK_INITIAL, |(_, delay)| delay);
                    let next = (delay * 2).min(EL_SYNC_CHECK_MAX);
                    el_sync_check = Some((Instant::now() + next, next));
                    match core.check_el_sync().await {
                        Ok(true) => {
                            info!(target: "engine", "execution layer finished syncing");
                            el_sync_check = None;
                        }
                        Ok(false) => {
                            info!(target: "engine", check_in_ms = next.as_millis() as u64, "execution layer still syncing; derivation waits");
                        }
                        Err(err) => match err.severity() {
                            Severity::Critical => return Err(err),
                            Severity::Reset => {
                                warn!(target: "engine", %err, "EL sync check asks for a reset");
                                self.reset(core, outputs, cancellation).await?;
                            }
                            Severity::Temporary | Severity::Flush => {
                                warn!(target: "engine", %err, check_in_ms = next.as_millis() as u64, "EL sync check failed");
                            }
                        },
                    }
                }
                Some(request) = async { match build_requests { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    let (attributes, reply) = request;
                    core.enqueue(Task::Build { attributes, reply });
                }
                envelope = self.unsafe_block_rx.recv() => {
                    let envelope = envelope.ok_or(EngineError::ChannelClosed("unsafe block"))?;
                    core.enqueue(Task::Insert { envelope });
                }
                attributes = self.attributes_rx.recv() => {
                    let attributes = attributes.ok_or(EngineError::ChannelClosed("derived attributes"))?;
                    self.finalizer.remember(&attributes);
                    core.enqueue(Task::Consolidate { attributes });
                }
                changed = self.finalizer.finalized_l1.changed() => {
                    changed.map_err(|_| EngineError::ChannelClosed("L1 finalized block"))?;
                    if let Some(number) = self.finalizer.next_final() {
                        core.enqueue(Task::Finalize { number });
                    }
                }
            }
        }
    }

    /// Writes the safe-head moves of the last drain into the database, if there is one.
    fn record_safe_heads(&mut self, core: &mut EngineCore<E>) {
        if let Some(recorder) = &mut self.safe_heads {
            recorder.record(core.take_derived_safe_heads());
        }
    }

    /// Resets the engine, then derivation to the new safe head. A reset that fails on a
    /// temporary error (an L1 read, say) is tried again in place instead of failing the actor.
    async fn reset(
        &mut self,
        core: &mut EngineCore<E>,
        outputs: &Outputs,
        cancellation: &CancellationToken,
    ) -> Result<(), EngineError> {
        self.record_safe_heads(core);
        let mut delay = RESET_RETRY_INITIAL;
        let mut attempts = 0u32;
        let (l2_safe_head, l1_origin, system_config) = loop {
            match core.reset().await {
                Ok(outcome) => break outcome,
                Err(err) if err.severity() == Severity::Critical => return Err(err),
                // Not bounded: the reset is what other failures escalate to, and what it fails
                // on (L1 or the execution layer unreachable) a restart would not fix.
                Err(err) => {
                    attempts += 1;
                    metrics::counter!(EngineMetrics::TASK_RETRIES, "task" => "reset").increment(1);
                    let retry_in_ms = delay.as_millis() as u64;
                    if warn_on_retry(attempts) {
                        warn!(target: "engine", %err, attempts, retry_in_ms, "engine reset failed; retrying");
                    } else {
                        debug!(target: "engine", %err, attempts, retry_in_ms, "engine reset failed; retrying");
                    }
                    tokio::select! {
                        _ = cancellation.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(RESET_RETRY_MAX);
                }
            }
        };
        if let Some(recorder) = &mut self.safe_heads {
            recorder.reset(&l2_safe_head, self.builder.l1.as_ref()).await;
        }
        let signal = ResetSignal { l2_safe_head, l1_origin, system_config: Some(system_config) };
        outputs
            .derivation
            .send(signal.signal())
            .await
            .map_err(|_| EngineError::ChannelClosed("derivation signal"))?;
        outputs.publish_safe_head(core.state());
        self.finalizer.clear();
        if core.state().el_sync_finished {
            self.synced_reset = true;
        } else {
            info!(target: "engine", "engine reset while the execution layer syncs; derivation waits for EL sync");
        }
        Ok(())
    }
}

/// Derived blocks waiting for their L1 inputs to be finalized (kona's L2 finalizer).
#[derive(Debug)]
struct Finalizer {
    finalized_l1: watch::Receiver<Option<BlockInfo>>,
    /// L1 block number → highest L2 block derived from inputs up to it.
    derived_by_l1: BTreeMap<u64, u64>,
}

impl Finalizer {
    const fn new(finalized_l1: watch::Receiver<Option<BlockInfo>>) -> Self {
        Self { finalized_l1, derived_by_l1: BTreeMap::new() }
    }

    fn remember(&mut self, attributes: &OpAttributesWithParent) {
        let Some(origin) = attributes.derived_from else {
            debug!(target: "engine", number = attributes.block_number(), "attributes without L1 inclusion block; not finalizable");
            return;
        };
        let number = attributes.block_number();
        self.derived_by_l1
            .entry(origin.number)
            .and_modify(|n| *n = (*n).max(number))
            .or_insert(number);
    }

    /// The highest L2 block derived from finalized L1, if one became final; forgets it and
    /// everything older.
    fn next_final(&mut self) -> Option<u64> {
        let finalized = (*self.finalized_l1.borrow_and_update())?;
        let (_, number) = self.derived_by_l1.range(..=finalized.number).next_back()?;
        let number = *number;
        self.derived_by_l1.retain(|l1, _| *l1 > finalized.number);
        Some(number)
    }

    fn clear(&mut self) {
        self.derived_by_l1.clear();
    }
}

/// What engine queries read.
struct QueryContext<E: ?Sized> {
    config: Arc<RollupConfig>,
    engine: Arc<E>,
    l2: BufferedL2Provider,
    state: watch::Receiver<EngineState>,
    queue_length: watch::Receiver<usize>,
}

/// Answers kona's engine queries (its RPC's `optimism_syncStatus`, `optimism_outputAtBlock`, …)
/// until the channel closes.
async fn serve_queries<E: ExecutionEngine + ?Sized>(
    mut queries: mpsc::Receiver<EngineQueries>,
    context: QueryContext<E>,
) {
    while let Some(query) = queries.recv().await {
        if let Err(err) = answer(query, &context).await {
            warn!(target: "engine", %err, "engine query failed");
        }
    }
}

async fn answer<E: ExecutionEngine + ?Sized>(
    query: EngineQueries,
    context: &QueryContext<E>,
) -> Result<(), EngineError> {
    let state = *context.state.borrow();
    // A dropped response channel means the asker went away; nothing to do about it.
    match query {
        EngineQueries::Config(tx) => drop(tx.send((*context.config).clone())),
        EngineQueries::State(tx) => drop(tx.send(state)),
        EngineQueries::StateReceiver(tx) => drop(tx.send(context.state.clone())),
        EngineQueries::QueueLengthReceiver(tx) => drop(tx.send(context.queue_length.clone())),
        EngineQueries::TaskQueueLength(tx) => drop(tx.send(*context.queue_length.borrow())),
        EngineQueries::OutputAtBlock { block, sender } => {
            let block = block_at(context, block).await?;
            let info = sealed_block_info(&block, &context.config)?;
            let output = crate::output_root(&context.config, &*context.engine, &block).await?;
            let _ = sender.send((info, output, state));
        }
    }
    Ok(())
}

async fn block_at<E: ExecutionEngine + ?Sized>(
    context: &QueryContext<E>,
    block: BlockNumberOrTag,
) -> Result<SealedL2Block, EngineError> {
    let missing = || EngineError::BlockNotFound(format!("L2 {block}"));
    match (L2Head::from_tag(block), block) {
        (Some(head), _) => context.engine.head(head).await?.ok_or_else(missing),
        (None, BlockNumberOrTag::Number(number)) => {
            Ok(context.l2.sealed_block_by_number(number).await?)
        }
        (None, _) => Ok(context.l2.sealed_block_by_number(0).await?),
    }
}
