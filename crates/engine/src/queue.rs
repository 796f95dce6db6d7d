//! [`EngineCore`]: the engine's forkchoice state and task queue, run against an
//! [`ExecutionEngine`].
//!
//! The rules are kona-engine 0.1.2's: tasks are ordered build > insert > consolidate > finalize
//! (first come, first served within a kind), a task that failed on a temporary error stays at the
//! head of the queue to be tried again, and a reset-, flush- or critical-severity error ends the
//! drain for the actor to handle. Unlike kona, a retry waits out a backoff (kona retries at once,
//! a busy loop against an in-process engine), during which the drain returns so the actor serves
//! reset requests and takes new input; and a task that still fails after [`TASK_RETRY_LIMIT`]
//! attempts is escalated to a reset, as a persistent "temporary" error usually means the
//! forkchoice the task works from is stale.

use crate::{
    EngineError, EngineMetrics, ExecutionEngine, L1BlockReader, Severity,
    attributes::{check_attributes, deposits_only, is_deposits_only},
    reset::find_starting_forkchoice,
};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::B256;
use alloy_rpc_types_engine::{
    CancunPayloadFields, INVALID_FORK_CHOICE_STATE_ERROR, PayloadStatusEnum, PraguePayloadFields,
};
use kona_engine::{
    EngineForkchoiceVersion, EngineGetPayloadVersion, EngineState, EngineSyncState,
    EngineSyncStateUpdate, Metrics,
};
use kona_genesis::{RollupConfig, SystemConfig};
use kona_protocol::{
    BlockInfo, L1BlockInfoTx, L2BlockInfo, OpAttributesWithParent, to_system_config,
};
use op_alloy_consensus::{OpBlock, OpTxEnvelope};
use op_alloy_rpc_types_engine::{
    OpExecutionPayload, OpExecutionPayloadEnvelope, OpExecutionPayloadSidecar, OpPayloadError,
};
use rollup_providers_local::{BufferedL2Provider, ChainStateEvent, ProviderError, SealedL2Block};
use std::{
    cmp::{Ordering, Reverse},
    collections::BinaryHeap,
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, trace, warn};

/// First pause before a task with a temporary error is tried again; doubles up to
/// [`RETRY_MAX`]. kona retries at once, which against an in-process engine is a busy loop.
const RETRY_INITIAL: Duration = Duration::from_millis(10);
/// Longest pause between retries of a task.
const RETRY_MAX: Duration = Duration::from_millis(500);
/// Attempts of a task failing on temporary errors before it is escalated to a reset: with the
/// backoff above, about 7.5 s of failures — long enough to ride out a busy execution layer,
/// short enough that a stale forkchoice does not stall the node.
pub const TASK_RETRY_LIMIT: u32 = 20;
/// A retried task is logged at warn on its first retry and on every this-many after (the
/// others at debug), so a persistent error is visible without a line every few milliseconds.
const RETRY_WARN_EVERY: u32 = 5;

/// Whether retry number `attempt` (from 1) is logged at warn; see [`RETRY_WARN_EVERY`].
pub(crate) const fn warn_on_retry(attempt: u32) -> bool {
    attempt == 1 || attempt.is_multiple_of(RETRY_WARN_EVERY)
}

/// The pause before retry number `attempt` (from 1): doubling from [`RETRY_INITIAL`], capped.
fn retry_delay(attempt: u32) -> Duration {
    RETRY_INITIAL.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(RETRY_MAX)
}

/// A unit of engine work.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a handful of tasks are queued at a time; boxing would only add an allocation each"
)]
pub enum Task {
    /// Build a block on the sequencer's attributes, import it, and hand the payload back.
    Build {
        /// The attributes and the parent to build on.
        attributes: OpAttributesWithParent,
        /// Where the built payload goes (to be signed and gossiped).
        reply: mpsc::Sender<OpExecutionPayloadEnvelope>,
    },
    /// Import an unsafe block (from gossip) and make it the unsafe head.
    Insert {
        /// The payload.
        envelope: OpExecutionPayloadEnvelope,
    },
    /// Consolidate derived attributes against the unsafe chain: mark safe, or build and reorg.
    Consolidate {
        /// The derived attributes.
        attributes: OpAttributesWithParent,
    },
    /// Move the finalized head to `number` (a safe block derived from finalized L1).
    Finalize {
        /// The block to finalize.
        number: u64,
    },
}

impl Task {
    /// Queue priority: higher runs first (kona's order).
    const fn priority(&self) -> u8 {
        match self {
            Self::Build { .. } => 3,
            Self::Insert { .. } => 2,
            Self::Consolidate { .. } => 1,
            Self::Finalize { .. } => 0,
        }
    }

    /// The metric label of the task kind (kona's).
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Build { .. } => Metrics::BUILD_TASK_LABEL,
            Self::Insert { .. } => Metrics::INSERT_TASK_LABEL,
            Self::Consolidate { .. } => Metrics::CONSOLIDATE_TASK_LABEL,
            Self::Finalize { .. } => Metrics::FINALIZE_TASK_LABEL,
        }
    }
}

/// A queued task with its arrival order and how often it failed on a temporary error.
#[derive(Debug)]
struct Queued {
    task: Task,
    arrival: u64,
    attempts: u32,
}

impl Queued {
    fn key(&self) -> (u8, Reverse<u64>) {
        (self.task.priority(), Reverse(self.arrival))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// What a reset found: the safe head derivation restarts from, the L1 block it restarts reading
/// at, and the system config at the safe head.
pub(crate) type ResetOutcome = (L2BlockInfo, BlockInfo, SystemConfig);

/// The safe head moved by consolidating derived attributes, and the L1 block those attributes
/// were derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivedSafeHead {
    /// The L1 block the attributes were derived from (their `derived_from`).
    pub l1_block: BlockInfo,
    /// The new safe head.
    pub safe_head: L2BlockInfo,
}

/// The engine's state and task queue; see the module docs.
#[derive(Debug)]
pub struct EngineCore<E: ?Sized> {
    config: Arc<RollupConfig>,
    engine: Arc<E>,
    l2: BufferedL2Provider,
    l1: Arc<dyn L1BlockReader>,
    state: EngineState,
    state_tx: watch::Sender<EngineState>,
    queue_len_tx: watch::Sender<usize>,
    tasks: BinaryHeap<Queued>,
    arrivals: u64,
    /// When the task at the head of the queue, which failed on a temporary error, is due again;
    /// the queue waits until then.
    retry_at: Option<tokio::time::Instant>,
    /// Safe heads moved by consolidation since they were last taken; `None` unless
    /// [`track_derived_safe_heads`](Self::track_derived_safe_heads) asked for them (nobody would
    /// take them otherwise).
    derived_safe_heads: Option<Vec<DerivedSafeHead>>,
}

impl<E: ExecutionEngine + ?Sized> EngineCore<E> {
    /// A core with an empty forkchoice state (no EL sync yet) and an empty queue.
    pub fn new(
        config: Arc<RollupConfig>,
        engine: Arc<E>,
        l2: BufferedL2Provider,
        l1: Arc<dyn L1BlockReader>,
    ) -> Self {
        let state = EngineState::default();
        Self {
            config,
            engine,
            l2,
            l1,
            state,
            state_tx: watch::Sender::new(state),
            queue_len_tx: watch::Sender::new(0),
            tasks: BinaryHeap::new(),
            arrivals: 0,
            retry_at: None,
            derived_safe_heads: None,
        }
    }

    /// Keeps every safe-head move made by consolidation for
    /// [`take_derived_safe_heads`](Self::take_derived_safe_heads), which must then be called
    /// after every [`drain`](Self::drain).
    pub fn track_derived_safe_heads(&mut self) {
        self.derived_safe_heads.get_or_insert_with(Vec::new);
    }

    /// The safe-head moves made by consolidation since the last call, oldest first (none unless
    /// [`track_derived_safe_heads`](Self::track_derived_safe_heads) was called).
    pub fn take_derived_safe_heads(&mut self) -> Vec<DerivedSafeHead> {
        self.derived_safe_heads.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The current state.
    pub const fn state(&self) -> &EngineState {
        &self.state
    }

    /// Updates of the state, after every task (what kona's engine queries read).
    pub fn subscribe_state(&self) -> watch::Receiver<EngineState> {
        self.state_tx.subscribe()
    }

    /// Updates of the queue length.
    pub fn subscribe_queue_length(&self) -> watch::Receiver<usize> {
        self.queue_len_tx.subscribe()
    }

    /// Queues `task`.
    pub fn enqueue(&mut self, task: Task) {
        self.arrivals += 1;
        self.tasks.push(Queued { task, arrival: self.arrivals, attempts: 0 });
        self.queue_len_tx.send_replace(self.tasks.len());
    }

    /// Runs queued tasks in order until the queue is empty (`Ok(None)`), a task fails on a
    /// temporary error (`Ok(Some(when))`: it stays at the head of the queue, and nothing runs
    /// before `when`; call again then), or a task fails with a non-temporary error (returned;
    /// the task is dropped). A task that fails on temporary errors [`TASK_RETRY_LIMIT`] times is
    /// dropped with [`EngineError::RetriesExhausted`], a reset.
    ///
    /// Returning instead of sleeping between attempts leaves the actor free to serve a reset
    /// request (which clears the queue) while a task keeps failing.
    pub async fn drain(&mut self) -> Result<Option<tokio::time::Instant>, EngineError> {
        if let Some(at) = self.retry_at {
            if tokio::time::Instant::now() < at {
                return Ok(Some(at));
            }
            self.retry_at = None;
        }
        while let Some(mut queued) = self.tasks.pop() {
            self.queue_len_tx.send_replace(self.tasks.len());
            let label = queued.task.label();
            match self.execute(&queued.task).await {
                Ok(()) => {
                    metrics::counter!(Metrics::ENGINE_TASK_SUCCESS, "task" => label).increment(1);
                    if queued.attempts > 0 {
                        info!(target: "engine", task = label, attempts = queued.attempts + 1, "engine task succeeded after retries");
                    }
                }
                Err(err) => {
                    let severity = err.severity();
                    metrics::counter!(Metrics::ENGINE_TASK_FAILURE, "task" => label, "severity" => severity.to_string())
                        .increment(1);
                    self.state_tx.send_replace(self.state);
                    if severity != Severity::Temporary {
                        return Err(err);
                    }
                    queued.attempts += 1;
                    let attempts = queued.attempts;
                    if attempts >= TASK_RETRY_LIMIT {
                        metrics::counter!(EngineMetrics::RETRY_ESCALATIONS, "task" => label)
                            .increment(1);
                        warn!(target: "engine", task = label, attempts, %err, "engine task keeps failing; dropping it and resetting the engine");
                        return Err(EngineError::RetriesExhausted {
                            task: label,
                            attempts,
                            source: Box::new(err),
                        });
                    }
                    metrics::counter!(EngineMetrics::TASK_RETRIES, "task" => label).increment(1);
                    let delay = retry_delay(attempts);
                    let retry_in_ms = delay.as_millis() as u64;
                    if warn_on_retry(attempts) {
                        warn!(target: "engine", task = label, attempts, limit = TASK_RETRY_LIMIT, %err, retry_in_ms, "temporary engine error; retrying the task");
                    } else {
                        debug!(target: "engine", task = label, attempts, %err, retry_in_ms, "temporary engine error; retrying the task");
                    }
                    // Same arrival: it stays ahead of its kind.
                    self.tasks.push(queued);
                    self.queue_len_tx.send_replace(self.tasks.len());
                    let at = tokio::time::Instant::now() + delay;
                    self.retry_at = Some(at);
                    return Ok(Some(at));
                }
            }
            self.state_tx.send_replace(self.state);
        }
        Ok(None)
    }

    /// Sends the current forkchoice again, to learn whether the execution layer finished
    /// syncing (kona only learns it from the next forkchoice update a task sends, which without
    /// unsafe blocks from gossip never comes). Returns whether the execution layer is synced.
    pub async fn check_el_sync(&mut self) -> Result<bool, EngineError> {
        if self.state.el_sync_finished || self.state.sync_state == EngineSyncState::default() {
            return Ok(self.state.el_sync_finished);
        }
        let result = self.send_forkchoice(self.state.sync_state).await;
        let status = match (&result, self.state.el_sync_finished) {
            (Err(_), _) => "error",
            (Ok(()), true) => "valid",
            (Ok(()), false) => "syncing",
        };
        metrics::counter!(EngineMetrics::EL_SYNC_CHECKS, "status" => status).increment(1);
        self.state_tx.send_replace(self.state);
        result.map(|()| self.state.el_sync_finished)
    }

    async fn execute(&mut self, task: &Task) -> Result<(), EngineError> {
        match task {
            Task::Build { attributes, reply } => {
                self.build(attributes, false, Some(reply)).await.map(|_| ())
            }
            Task::Insert { envelope } => match self.insert(envelope.clone(), false).await {
                Ok(_) => Ok(()),
                // op-node and later kona drop an invalid gossiped block; kona 0.1.2 would stop
                // its engine actor, and with it the node, on one bad block from a peer.
                Err(EngineError::InvalidPayload { number, status }) => {
                    warn!(target: "engine", number, %status, "dropping invalid unsafe block");
                    Ok(())
                }
                Err(err) => Err(err),
            },
            Task::Consolidate { attributes } => {
                let before = self.state.sync_state.safe_head();
                let result = self.consolidate(attributes).await;
                // Also after a Holocene flush error: the deposits-only replacement became safe.
                let after = self.state.sync_state.safe_head();
                if after != before && after.block_info.number == attributes.block_number() {
                    self.derived_safe_head(attributes, after);
                }
                result
            }
            Task::Finalize { number } => self.finalize(*number).await,
        }
    }

    /// Clears the queue and resets the forkchoice to the execution layer's own, walked back to a
    /// block whose L1 origin is canonical and to a safe head beyond the sequencing window. Any
    /// failure fails the reset; [`InProcessEngineActor`](crate::InProcessEngineActor) retries
    /// resets that failed on a temporary error.
    pub async fn reset(&mut self) -> Result<ResetOutcome, EngineError> {
        self.tasks.clear();
        self.retry_at = None;
        self.queue_len_tx.send_replace(0);
        let start = find_starting_forkchoice(
            &self.config,
            self.l1.as_ref(),
            self.engine.as_ref(),
            &self.l2,
        )
        .await?;
        let update = EngineSyncStateUpdate {
            unsafe_head: Some(start.unsafe_head),
            cross_unsafe_head: Some(start.unsafe_head),
            local_safe_head: Some(start.safe),
            safe_head: Some(start.safe),
            finalized_head: Some(start.finalized),
        };
        // A failed update fails the reset; the actor retries the whole reset (and stops retrying
        // when it is cancelled).
        self.synchronize(update).await?;
        let origin = start
            .safe
            .l1_origin
            .number
            .saturating_sub(self.config.channel_timeout(start.safe.block_info.timestamp));
        let l1_origin = self
            .l1
            .block_by_number(origin)
            .await?
            .ok_or_else(|| EngineError::BlockNotFound(format!("L1 #{origin}")))?;
        let safe = self.l2.sealed_block_by_hash(start.safe.block_info.hash).await?;
        let system_config = to_system_config(safe.block(), &self.config)?;
        metrics::counter!(Metrics::ENGINE_RESET_COUNT).increment(1);
        self.state_tx.send_replace(self.state);
        info!(target: "engine", unsafe_head = start.unsafe_head.block_info.number, safe = start.safe.block_info.number, finalized = start.finalized.block_info.number, l1_origin = origin, "engine reset");
        Ok((start.safe, l1_origin, system_config))
    }

    /// Sends the forkchoice `update` (applied to the current state) unless it changes nothing.
    async fn synchronize(&mut self, update: EngineSyncStateUpdate) -> Result<(), EngineError> {
        let next = self.state.sync_state.apply_update(update);
        if self.state.sync_state != Default::default() && self.state.sync_state == next {
            trace!(target: "engine", "forkchoice unchanged; no update sent");
            return Ok(());
        }
        self.send_forkchoice(next).await
    }

    /// Sends forkchoice `next` and makes it the state's unless the execution layer refused it
    /// (VALID or SYNCING are taken, as in kona; VALID also ends EL sync).
    async fn send_forkchoice(&mut self, next: EngineSyncState) -> Result<(), EngineError> {
        let (unsafe_head, finalized) =
            (next.unsafe_head().block_info.number, next.finalized_head().block_info.number);
        if unsafe_head < finalized {
            return Err(EngineError::FinalizedAheadOfUnsafe { unsafe_head, finalized });
        }
        let forkchoice = next.create_forkchoice_state();
        let version = EngineForkchoiceVersion::from_cfg(
            &self.config,
            next.unsafe_head().block_info.timestamp,
        );
        let started = Instant::now();
        let updated = self
            .engine
            .forkchoice_updated(version, forkchoice, None)
            .await
            .map_err(invalid_forkchoice)?;
        record_call(Metrics::FORKCHOICE_UPDATE_METHOD, started);
        match updated.payload_status.status {
            PayloadStatusEnum::Valid => {
                if !self.state.el_sync_finished {
                    info!(target: "engine", "execution layer sync finished");
                    self.state.el_sync_finished = true;
                }
            }
            PayloadStatusEnum::Syncing => {
                debug!(target: "engine", "forkchoice updated while the execution layer syncs")
            }
            status => {
                return Err(EngineError::UnexpectedStatus {
                    method: "engine_forkchoiceUpdated",
                    status,
                });
            }
        }
        self.state.sync_state = next;
        debug!(target: "engine", head = unsafe_head, safe = next.safe_head().block_info.number, finalized, fcu_us = started.elapsed().as_micros() as u64, "forkchoice updated");
        Ok(())
    }

    /// Imports a payload and makes it the unsafe head (and the safe head when `safe`).
    async fn insert(
        &mut self,
        envelope: OpExecutionPayloadEnvelope,
        safe: bool,
    ) -> Result<L2BlockInfo, EngineError> {
        let block = payload_block_info(&envelope.execution_payload, &self.config)?;
        let sealed = sealed_block(&envelope);
        let started = Instant::now();
        let status = self.engine.new_payload(envelope).await?;
        record_call(Metrics::NEW_PAYLOAD_METHOD, started);
        let inserted = started.elapsed();
        if !matches!(status.status, PayloadStatusEnum::Valid | PayloadStatusEnum::Syncing) {
            return Err(EngineError::InvalidPayload {
                number: block.block_info.number,
                status: status.status,
            });
        }
        self.synchronize(EngineSyncStateUpdate {
            unsafe_head: Some(block),
            cross_unsafe_head: Some(block),
            local_safe_head: safe.then_some(block),
            safe_head: safe.then_some(block),
            ..Default::default()
        })
        .await?;
        self.buffer_canonical(sealed);
        debug!(target: "engine", number = block.block_info.number, hash = %block.block_info.hash, safe, insert_us = inserted.as_micros() as u64, total_us = started.elapsed().as_micros() as u64, "inserted block");
        Ok(block)
    }

    /// Hands a block the execution layer just made canonical to the L2 buffer.
    ///
    /// Derivation reads it next (its system config, the batch checks against it); without this
    /// it waits for the execution layer's own chain notification of the block (in reth, through
    /// the ExEx manager). The notification then finds the block buffered
    /// (same hash) and changes nothing. A block that does not extend the buffered head (the
    /// buffer is behind, or an unsafe block was replaced) is left to the notification, which
    /// carries the reorg or the missing blocks.
    fn buffer_canonical(&self, block: Option<SealedL2Block>) {
        let Some(block) = block else { return };
        let number = block.number();
        if let Err(err) = self.l2.apply(&ChainStateEvent::Committed { new: vec![block] }) {
            trace!(target: "engine", number, %err, "block left to the chain notification");
        }
    }

    /// Builds a block on `attributes`, imports it, and sends it to `reply`. Post-Holocene an
    /// invalid result is replaced by the deposits-only block, and the error asks for a flush.
    fn build<'a>(
        &'a mut self,
        attributes: &'a OpAttributesWithParent,
        derived: bool,
        reply: Option<&'a mpsc::Sender<OpExecutionPayloadEnvelope>>,
    ) -> Pin<Box<dyn Future<Output = Result<L2BlockInfo, EngineError>> + Send + 'a>> {
        Box::pin(async move {
            let (unsafe_head, finalized) = (
                self.state.sync_state.unsafe_head().block_info.number,
                self.state.sync_state.finalized_head().block_info.number,
            );
            if unsafe_head < finalized {
                return Err(EngineError::FinalizedAheadOfUnsafe { unsafe_head, finalized });
            }
            let timestamp = attributes.inner.payload_attributes.timestamp;
            let forkchoice = self
                .state
                .sync_state
                .apply_update(EngineSyncStateUpdate {
                    unsafe_head: Some(attributes.parent),
                    ..Default::default()
                })
                .create_forkchoice_state();
            let started = Instant::now();
            let updated = self
                .engine
                .forkchoice_updated(
                    EngineForkchoiceVersion::from_cfg(&self.config, timestamp),
                    forkchoice,
                    Some(attributes.inner.clone()),
                )
                .await
                // op-node resets on an inconsistent forkchoice before a build; kona 0.1.2 would
                // retry the build with the same forkchoice, which fails the same way.
                .map_err(invalid_forkchoice)?;
            record_call(Metrics::FORKCHOICE_UPDATE_METHOD, started);
            match updated.payload_status.status {
                PayloadStatusEnum::Valid => {}
                PayloadStatusEnum::Syncing => return Err(EngineError::Syncing),
                status => {
                    return Err(EngineError::UnexpectedStatus {
                        method: "engine_forkchoiceUpdated (build)",
                        status,
                    });
                }
            }
            let payload_id = updated.payload_id.ok_or(EngineError::MissingPayloadId)?;
            let fcu = started.elapsed();
            let fetched = Instant::now();
            let envelope = self
                .engine
                .get_payload(EngineGetPayloadVersion::from_cfg(&self.config, timestamp), payload_id)
                .await?;
            record_call(Metrics::GET_PAYLOAD_METHOD, fetched);
            let transactions = payload_transactions(&envelope.execution_payload);
            let block = match self.insert(envelope.clone(), derived).await {
                Ok(block) => block,
                Err(EngineError::InvalidPayload { number, status })
                    if is_deposits_only(attributes) =>
                {
                    error!(target: "engine", number, %status, "deposits-only payload refused");
                    return Err(EngineError::DepositsOnlyRejected);
                }
                Err(EngineError::InvalidPayload { number, status })
                    if self.config.is_holocene_active(timestamp) =>
                {
                    warn!(target: "engine", number, %status, "built payload refused; importing its deposits-only version");
                    // A temporary failure (a busy or syncing execution layer) fails the task for
                    // a retry, which builds the invalid payload and then its replacement again,
                    // as op-node re-queues the replacement, and a stale forkchoice resets; only
                    // a refused replacement is fatal (kona: any failure is).
                    self.build(&deposits_only(attributes), derived, reply).await.map_err(
                        |err| match err.severity() {
                            Severity::Temporary | Severity::Reset => err,
                            Severity::Flush | Severity::Critical => {
                                EngineError::DepositsOnlyRejected
                            }
                        },
                    )?;
                    return Err(EngineError::HoloceneFlush);
                }
                Err(err) => return Err(err),
            };
            if let Some(reply) = reply {
                reply
                    .send(envelope)
                    .await
                    .map_err(|_| EngineError::ChannelClosed("built payload"))?;
            }
            let import = fetched.elapsed();
            metrics::histogram!(EngineMetrics::BUILD_SECONDS, "stage" => "forkchoice")
                .record(fcu.as_secs_f64());
            metrics::histogram!(EngineMetrics::BUILD_SECONDS, "stage" => "import")
                .record(import.as_secs_f64());
            info!(target: "engine", number = block.block_info.number, timestamp = block.block_info.timestamp, transactions, safe = derived, fcu_us = fcu.as_micros() as u64, import_us = import.as_micros() as u64, "built and imported block");
            Ok(block)
        })
    }

    /// Derived attributes against the unsafe chain: the block at their height matches → it
    /// becomes safe; otherwise (or beyond the unsafe head) build them, reorging the unsafe chain.
    async fn consolidate(
        &mut self,
        attributes: &OpAttributesWithParent,
    ) -> Result<(), EngineError> {
        let sync = self.state.sync_state;
        if sync.safe_head().block_info.number >= sync.unsafe_head().block_info.number {
            return self.build(attributes, true, None).await.map(|_| ());
        }
        let number = attributes.block_number();
        let started = Instant::now();
        let block = match self.l2.sealed_block_by_number(number).await {
            Ok(block) => block,
            Err(ProviderError::BlockNotFound(_)) => {
                return Err(EngineError::MissingUnsafeBlock(number));
            }
            Err(err) => return Err(err.into()),
        };
        let read = started.elapsed();
        match check_attributes(&self.config, attributes, block.block()) {
            Ok(()) => match self.block_info(&block) {
                Ok(info) => {
                    let update = EngineSyncStateUpdate {
                        safe_head: Some(info),
                        local_safe_head: Some(info),
                        ..Default::default()
                    };
                    if attributes.is_last_in_span {
                        self.synchronize(update).await?;
                    } else {
                        // Inside a span the safe head moves without a forkchoice update; the
                        // span's last block sends one.
                        self.state.sync_state = self.state.sync_state.apply_update(update);
                    }
                    debug!(target: "engine", number, hash = %block.hash(), read_us = read.as_micros() as u64, total_us = started.elapsed().as_micros() as u64, "safe head moved by consolidation");
                    return Ok(());
                }
                Err(err) => {
                    warn!(target: "engine", number, %err, "matching block without block info; building instead")
                }
            },
            Err(mismatch) => {
                info!(target: "engine", number, unsafe_hash = %block.hash(), %mismatch, "derived attributes differ from the unsafe block; building them (reorg)")
            }
        }
        self.build(attributes, true, None).await.map(|_| ())
    }

    /// Notes that consolidating `attributes` made `safe_head` safe, when asked to.
    fn derived_safe_head(&mut self, attributes: &OpAttributesWithParent, safe_head: L2BlockInfo) {
        let Some(moves) = self.derived_safe_heads.as_mut() else { return };
        let Some(l1_block) = attributes.derived_from else {
            debug!(target: "engine", number = safe_head.block_info.number, "safe head from attributes without an L1 block; not recorded");
            return;
        };
        moves.push(DerivedSafeHead { l1_block, safe_head });
    }

    /// Moves the finalized head to the safe block `number`.
    async fn finalize(&mut self, number: u64) -> Result<(), EngineError> {
        let safe = self.state.sync_state.safe_head().block_info.number;
        if safe < number {
            return Err(EngineError::NotSafe { block: number, safe });
        }
        let block = match self.l2.sealed_block_by_number(number).await {
            Ok(block) => block,
            Err(ProviderError::BlockNotFound(_)) => {
                return Err(EngineError::BlockNotFound(format!("L2 #{number}")));
            }
            Err(err) => return Err(err.into()),
        };
        let info = self.block_info(&block)?;
        self.synchronize(EngineSyncStateUpdate {
            finalized_head: Some(info),
            ..Default::default()
        })
        .await?;
        info!(target: "engine", number, hash = %info.block_info.hash, "finalized head moved");
        Ok(())
    }

    fn block_info(&self, block: &SealedL2Block) -> Result<L2BlockInfo, EngineError> {
        sealed_block_info(block, &self.config)
    }
}

/// Maps the engine API's "invalid forkchoice state" error to its own variant (a reset).
fn invalid_forkchoice(err: EngineError) -> EngineError {
    match err {
        EngineError::Rejected { code, .. }
            if i64::from(code) == INVALID_FORK_CHOICE_STATE_ERROR as i64 =>
        {
            EngineError::InvalidForkchoiceState
        }
        err => err,
    }
}

fn record_call(method: &'static str, started: Instant) {
    metrics::histogram!(Metrics::ENGINE_METHOD_REQUEST_DURATION, "method" => method)
        .record(started.elapsed().as_secs_f64());
}

/// The L2 block info of a sealed block, with the host's hash (no rehashing).
pub(crate) fn sealed_block_info(
    block: &SealedL2Block,
    config: &RollupConfig,
) -> Result<L2BlockInfo, EngineError> {
    let header = &block.block().header;
    let first = block.block().body.transactions.first();
    l2_block_info(block.hash(), header.number, header.parent_hash, header.timestamp, first, config)
}

/// The L2 block info of a payload, decoding only its first transaction (the L1-info deposit).
/// The block an execution payload describes: the payload's fields with the sidecar its version
/// implies (the parent beacon block root; from Isthmus the empty requests hash OP blocks carry).
pub fn payload_to_block(envelope: &OpExecutionPayloadEnvelope) -> Result<OpBlock, OpPayloadError> {
    let root = envelope.parent_beacon_block_root.unwrap_or_default();
    let sidecar = match &envelope.execution_payload {
        OpExecutionPayload::V4(_) => OpExecutionPayloadSidecar::v4(
            CancunPayloadFields::new(root, vec![]),
            PraguePayloadFields::new(EMPTY_REQUESTS_HASH),
        ),
        _ => OpExecutionPayloadSidecar::v3(CancunPayloadFields::new(root, vec![])),
    };
    envelope.execution_payload.clone().try_into_block_with_sidecar(&sidecar)
}

/// The block of `envelope`, if it converts and hashes to the hash it names (a payload that does
/// not is refused by the execution layer anyway).
fn sealed_block(envelope: &OpExecutionPayloadEnvelope) -> Option<SealedL2Block> {
    let claimed = envelope.execution_payload.as_v1().block_hash;
    let block = payload_to_block(envelope).ok()?;
    (block.header.hash_slow() == claimed).then(|| SealedL2Block::new(claimed, Arc::new(block)))
}

fn payload_block_info(
    payload: &OpExecutionPayload,
    config: &RollupConfig,
) -> Result<L2BlockInfo, EngineError> {
    use alloy_eips::Decodable2718;
    let inner = payload.as_v1();
    let first = match inner.transactions.first() {
        Some(raw) => Some(
            OpTxEnvelope::decode_2718(&mut raw.as_ref())
                .map_err(kona_protocol::FromBlockError::TxEnvelopeDecodeError)?,
        ),
        None => None,
    };
    l2_block_info(
        inner.block_hash,
        inner.block_number,
        inner.parent_hash,
        inner.timestamp,
        first.as_ref(),
        config,
    )
}

fn l2_block_info(
    hash: B256,
    number: u64,
    parent_hash: B256,
    timestamp: u64,
    first: Option<&OpTxEnvelope>,
    config: &RollupConfig,
) -> Result<L2BlockInfo, EngineError> {
    use kona_protocol::FromBlockError;
    let block_info = BlockInfo::new(hash, number, parent_hash, timestamp);
    let genesis = &config.genesis;
    if number == genesis.l2.number {
        if hash != genesis.l2.hash {
            return Err(FromBlockError::InvalidGenesisHash.into());
        }
        return Ok(L2BlockInfo::new(block_info, genesis.l1, 0));
    }
    let first = first.ok_or(FromBlockError::MissingL1InfoDeposit(hash))?;
    let OpTxEnvelope::Deposit(deposit) = first else {
        return Err(FromBlockError::FirstTxNonDeposit(first.tx_type().into()).into());
    };
    let l1_info = L1BlockInfoTx::decode_calldata(deposit.input.as_ref())
        .map_err(FromBlockError::BlockInfoDecodeError)?;
    Ok(L2BlockInfo::new(block_info, l1_info.id(), l1_info.sequence_number()))
}

fn payload_transactions(payload: &OpExecutionPayload) -> usize {
    payload.as_v1().transactions.len()
}
