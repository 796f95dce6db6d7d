//! The block producer: the only writer of forkchoice. A single validator produces on a timer;
//! a validator set commits what consensus decided. Also the forwarding of mempool transactions
//! to reth's pool.

use crate::{
    Consensus, EvictionReason, FirmRecord, Mempool, NodeError, PendingDa, PooledTx, StatusHandle,
    bft::{BlockFiles, SharedHeads},
    da_task::DaJob,
    metrics as m,
    sequencer::{NodeConfig, unix_now},
};
use alloy_consensus::{Transaction, transaction::SignerRecoverable};
use alloy_primitives::{Address, B256, Bytes};
use alloy_rpc_types_engine::ForkchoiceState;
use futures::StreamExt;
use parking_lot::Mutex;
use sequencer_consensus::{ConsensusError, Decided};
use sequencer_engine::{
    BlockRef, BuiltPayload, EngineClient, EngineError, ForkchoiceTracker, payload_attributes,
};
use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    sync::{mpsc, watch},
    time::MissedTickBehavior,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// Re-forward a ready transaction to reth if it is still not included this many blocks later
/// (reth may have restarted and lost its pool).
const REFORWARD_AFTER_BLOCKS: u64 = 8;
/// Decided blocks held for commit while reth cannot take them.
const MAX_PENDING_DECISIONS: usize = 64;
/// Concurrent `eth_sendRawTransaction` calls when forwarding.
const FORWARD_CONCURRENCY: usize = 32;

/// Who decides blocks.
pub(crate) enum Mode {
    /// One validator: blocks on a timer, decided alone.
    Single(Arc<dyn Consensus>),
    /// A validator set: blocks come decided out of consensus.
    Bft {
        decisions: Option<mpsc::Receiver<Decided>>,
        /// Decisions not committed yet (the execution client failed; retried every tick).
        pending: VecDeque<Decided>,
        heads: Arc<SharedHeads>,
        certificates: Option<BlockFiles>,
        /// The consensus engine and the p2p network, stopped with the producer.
        tasks: Vec<commonware_runtime::Handle<()>>,
    },
}

/// The next decision, or never (single validator).
async fn next_decision(rx: &mut Option<mpsc::Receiver<Decided>>) -> Option<Decided> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The block producer: sole owner of the forkchoice.
pub(crate) struct Producer {
    pub(crate) cfg: NodeConfig,
    pub(crate) engine: EngineClient,
    pub(crate) mode: Mode,
    pub(crate) mempool: Arc<Mutex<Mempool>>,
    pub(crate) status: StatusHandle,
    pub(crate) tracker: ForkchoiceTracker,
    pub(crate) da_tx: mpsc::UnboundedSender<DaJob>,
    pub(crate) soft_at: BTreeMap<u64, Instant>,
    pub(crate) pending_firm: Option<BlockRef>,
    /// The newest FIRM block durably recorded (the FIRM record written, or no record kept):
    /// the DA task drops journal entries up to it, never further.
    pub(crate) firm_durable: watch::Sender<u64>,
    pub(crate) backpressured: bool,
    /// Where the execution requests of blocks that have any are kept (`None`: not kept; such
    /// a block is then posted to DA without them after a restart, and not served to peers).
    pub(crate) requests: Option<BlockFiles>,
}

impl Producer {
    pub(crate) async fn run(
        mut self,
        mut firm_rx: mpsc::UnboundedReceiver<BlockRef>,
        cancel: CancellationToken,
    ) -> Result<(), NodeError> {
        let mut tick = tokio::time::interval(self.cfg.block_time);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut decisions = match &mut self.mode {
            Mode::Bft { decisions, .. } => decisions.take(),
            Mode::Single(_) => None,
        };
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    if let Mode::Bft { tasks, .. } = &self.mode {
                        for t in tasks {
                            t.abort();
                        }
                    }
                    info!(target: "sequencer", soft = self.tracker.head().number, firm = self.tracker.finalized().number, "producer stopped");
                    return Ok(());
                }
                Some(firm) = firm_rx.recv() => {
                    self.queue_firm(firm);
                    while let Ok(f) = firm_rx.try_recv() {
                        self.queue_firm(f);
                    }
                    self.try_firm().await?;
                }
                // While reth cannot take decided blocks, the next ones wait in consensus (which
                // then stops fetching), not here: memory stays bounded.
                decided = next_decision(&mut decisions), if self.pending_decisions() < MAX_PENDING_DECISIONS => {
                    let Some(decided) = decided else {
                        return Err(NodeError::Task("consensus stopped".into()));
                    };
                    if let Mode::Bft { pending, .. } = &mut self.mode {
                        pending.push_back(decided);
                    }
                    self.commit_pending().await?;
                }
                _ = tick.tick() => {
                    self.try_firm().await?;
                    self.on_tick().await?;
                }
            }
        }
    }

    /// Decisions received and not committed yet.
    fn pending_decisions(&self) -> usize {
        match &self.mode {
            Mode::Bft { pending, .. } => pending.len(),
            Mode::Single(_) => 0,
        }
    }

    /// Commits the decisions waiting, oldest first; stops at the first the execution client
    /// cannot take yet (retried next tick). A decision that does not extend the chain is fatal.
    async fn commit_pending(&mut self) -> Result<(), NodeError> {
        loop {
            let next = match &self.mode {
                Mode::Bft { pending, .. } => pending.front().cloned(),
                Mode::Single(_) => None,
            };
            let Some(decided) = next else { return Ok(()) };
            match self.commit_decided(&decided).await {
                Ok(()) => {
                    if let Mode::Bft { pending, .. } = &mut self.mode {
                        pending.pop_front();
                    }
                }
                Err(
                    e @ (NodeError::Consensus(_) | NodeError::Engine(EngineError::Forkchoice(_))),
                ) => {
                    return Err(e);
                }
                Err(e) => {
                    metrics::counter!(m::ENGINE_ERRORS, "kind" => "decided").increment(1);
                    warn!(target: "sequencer", %e, number = decided.block.number(), "cannot commit a decided block yet; retrying");
                    return Ok(());
                }
            }
        }
    }

    /// Sends a forkchoice update; a validator set's updates are ordered with its leader's builds.
    async fn send_forkchoice(&mut self, state: ForkchoiceState) -> Result<(), EngineError> {
        match &self.mode {
            Mode::Bft { heads, .. } => heads.update(&self.engine, state).await,
            Mode::Single(_) => self.engine.update_forkchoice(state).await,
        }
    }

    fn queue_firm(&mut self, b: BlockRef) {
        if self.pending_firm.is_none_or(|p| b.number > p.number) {
            self.pending_firm = Some(b);
        }
    }

    /// FIRM: move forkchoice `finalized` to the newest DA-final block.
    async fn try_firm(&mut self) -> Result<(), NodeError> {
        let Some(target) = self.pending_firm else { return Ok(()) };
        if target.number <= self.tracker.finalized().number {
            self.pending_firm = None;
            return Ok(());
        }
        let mut next = self.tracker.clone();
        // A refusal here is a broken invariant (DA reported a block we never made safe): fatal.
        next.apply_firm(target.number, target.hash)?;
        if let Err(e) = self.send_forkchoice(next.state()).await {
            metrics::counter!(m::ENGINE_ERRORS, "kind" => "firm").increment(1);
            warn!(target: "sequencer", %e, number = target.number, "FIRM forkchoice update failed, will retry");
            return Ok(());
        }
        let old = self.tracker.finalized().number;
        self.tracker = next;
        self.pending_firm = None;
        if let Some(path) = &self.cfg.firm_record_path {
            // Without the record a restart cannot tell whether reth lost FIRM blocks: stop.
            FirmRecord::from(target).store(path)?;
        }
        // Only now may the DA journal forget these blocks' batches.
        self.firm_durable.send_replace(target.number);
        if let Mode::Bft { certificates: Some(store), .. } = &self.mode {
            store.prune(target.number);
        }
        let now = Instant::now();
        let newer = self.soft_at.split_off(&(target.number + 1));
        for (_, at) in std::mem::replace(&mut self.soft_at, newer) {
            metrics::histogram!(m::FINALITY_LATENCY).record(now.duration_since(at).as_secs_f64());
        }
        metrics::gauge!(m::FIRM_HEAD).set(target.number as f64);
        info!(target: "sequencer", number = target.number, hash = %target.hash, blocks = target.number - old, "FIRM");
        self.status.update(|s| s.firm_head = target);
        Ok(())
    }

    async fn on_tick(&mut self) -> Result<(), NodeError> {
        let ahead = self.tracker.soft_ahead();
        if ahead >= self.cfg.max_soft_ahead {
            metrics::counter!(m::BACKPRESSURE).increment(1);
            if !self.backpressured {
                warn!(target: "sequencer", soft = self.tracker.head().number, firm = self.tracker.finalized().number, max_soft_ahead = self.cfg.max_soft_ahead, "DA back-pressure: pausing block production");
                self.backpressured = true;
                self.status.update(|s| s.backpressure = true);
            }
            if let Mode::Bft { heads, .. } = &self.mode {
                // This validator stops proposing; the others may go on, and their blocks are
                // still committed here (SOFT runs ahead of this node's DA while it catches up).
                heads.set_backpressured(true);
                return self.commit_pending().await;
            }
            return Ok(());
        }
        if self.backpressured {
            info!(target: "sequencer", soft_ahead = ahead, "DA back-pressure released: resuming block production");
            self.backpressured = false;
            self.status.update(|s| s.backpressure = false);
        }
        if let Mode::Bft { heads, .. } = &self.mode {
            heads.set_backpressured(false);
            return self.commit_pending().await;
        }
        match self.produce().await {
            Ok(()) => Ok(()),
            // The forkchoice state machine refusing a transition is a bug, not a hiccup.
            Err(NodeError::Engine(e @ EngineError::Forkchoice(_))) => Err(e.into()),
            Err(e) => {
                let kind = match &e {
                    NodeError::Engine(EngineError::Invalid { .. }) => "invalid",
                    NodeError::Engine(EngineError::NotReady { .. }) => "not_ready",
                    NodeError::Engine(EngineError::Transport { .. }) => "transport",
                    _ => "other",
                };
                metrics::counter!(m::ENGINE_ERRORS, "kind" => kind).increment(1);
                if matches!(e, NodeError::Engine(EngineError::Invalid { .. })) {
                    error!(target: "sequencer", %e, "block rejected by the execution client; retrying next tick");
                } else {
                    warn!(target: "sequencer", %e, "block production failed; retrying next tick");
                }
                Ok(())
            }
        }
    }

    /// One block: build on the head, decide, execute, SOFT, hand to DA.
    async fn produce(&mut self) -> Result<(), NodeError> {
        let started = Instant::now();
        let head = self.tracker.head();
        let Mode::Single(consensus) = &self.mode else {
            return Ok(());
        };
        if !consensus.is_proposer(head.number + 1) {
            return Ok(());
        }
        forward_transactions(&self.engine, &self.mempool, head.number, Forward::Ready).await;
        let state = self.tracker.state();
        let built = build_child(
            &self.engine,
            &head,
            unix_now(),
            self.cfg.fee_recipient,
            self.cfg.build_time,
            async || (state, None::<()>),
        )
        .await?;
        let block = built.block_ref();
        if let Mode::Single(consensus) = &self.mode {
            consensus.decide(&block).await?;
        }
        self.engine.execute_payload(&built).await?;
        let mut next = self.tracker.clone();
        next.apply_soft(block)?;
        self.send_forkchoice(next.state()).await?;
        self.tracker = next;
        self.soft(built, started.elapsed(), None)
    }

    /// A decision of the validator set: execute it, make it SOFT, hand it to DA. Decisions
    /// come in order; one already committed (replayed after a restart) is skipped.
    async fn commit_decided(&mut self, decided: &Decided) -> Result<(), NodeError> {
        let started = Instant::now();
        let head = self.tracker.head();
        let block = &decided.block;
        if block.number() <= head.number {
            debug!(target: "sequencer", number = block.number(), "decision already committed");
            return Ok(());
        }
        if block.parent_hash() != head.hash || block.number() != head.number + 1 {
            return Err(NodeError::Consensus(ConsensusError::Conflict(format!(
                "decided #{} {} does not extend the SOFT head #{} {}",
                block.number(),
                block.hash(),
                head.number,
                head.hash
            ))));
        }
        let built = BuiltPayload::from_block(block.block(), block.execution_requests().cloned())?;
        // A block this validator proposed or voted for was executed by its reth then: the
        // forkchoice update alone commits it (a second newPayload would queue behind the next
        // block's execution in reth's engine).
        let executed = match &self.mode {
            Mode::Bft { heads, .. } => heads.was_executed(&block.hash()),
            Mode::Single(_) => false,
        };
        if !executed {
            self.engine.execute_payload(&built).await?;
        }
        let mut next = self.tracker.clone();
        next.apply_soft(built.block_ref())?;
        if let Err(e) = self.send_forkchoice(next.state()).await {
            if let Mode::Bft { heads, .. } = &self.mode {
                heads.forget_executed(&block.hash());
            }
            return Err(e.into());
        }
        self.tracker = next;
        // Without the record a batch after a restart carries this block uncertified (a later
        // block's certificate still covers it); not worth stopping for.
        if let Mode::Bft { certificates: Some(store), .. } = &self.mode
            && let Err(e) = store.store(&built.block_ref(), decided.certificate.bytes())
        {
            warn!(target: "sequencer", %e, "finality certificate not recorded");
        }
        self.soft(built, started.elapsed(), Some(decided.certificate.bytes().clone()))
    }

    /// A block is SOFT: report it, reconcile the mempool, hand it to DA.
    ///
    /// SOFT happened with the forkchoice update before this: it is reported first. Reconciling
    /// the mempool recovers the sender of every included transaction this validator did not
    /// hold (in a validator set, most of a block comes from the other validators' mempools),
    /// and the next decision waits behind it.
    fn soft(
        &mut self,
        built: BuiltPayload,
        latency: Duration,
        certificate: Option<Bytes>,
    ) -> Result<(), NodeError> {
        let block = built.block_ref();
        let requests = built.execution_requests.clone().filter(|r| !r.is_empty());
        if let Some(requests) = &requests {
            match &self.requests {
                Some(store) => store.store_requests(&block, requests)?,
                None => {
                    warn!(target: "sequencer", number = block.number, "block has execution requests and no state path keeps them: after a restart it cannot be posted or served with them")
                }
            }
        }
        let txs = built.block.body.transactions.len();
        metrics::counter!(m::BLOCKS).increment(1);
        metrics::counter!(m::TXS_INCLUDED).increment(txs as u64);
        metrics::gauge!(m::SOFT_HEAD).set(block.number as f64);
        metrics::histogram!(m::SOFT_LATENCY).record(latency.as_secs_f64());
        info!(
            target: "sequencer",
            number = block.number,
            hash = %block.hash,
            txs,
            latency_ms = latency.as_millis() as u64,
            firm = self.tracker.finalized().number,
            "SOFT"
        );
        self.soft_at.insert(block.number, Instant::now());
        self.status.update(|s| {
            s.soft_head = block;
            s.pending_da.push(PendingDa {
                number: block.number,
                hash: block.hash,
                da_height: None,
            });
        });

        // Reconcile the mempool with what reth put in the block.
        let included: Vec<(B256, Address, u64)> = {
            let pool = self.mempool.lock();
            built
                .block
                .body
                .transactions
                .iter()
                .filter_map(|tx| {
                    let hash = *tx.tx_hash();
                    pool.get(&hash)
                        .map(|(sender, nonce)| (hash, sender, nonce))
                        .or_else(|| tx.recover_signer().ok().map(|s| (hash, s, tx.nonce())))
                })
                .collect()
        };
        let (ours, mempool_status) = {
            let mut pool = self.mempool.lock();
            let ours = pool.on_included(&included);
            pool.evict_expired(std::time::Instant::now());
            (ours, pool.status())
        };
        let foreign = included.len() - ours;
        if foreign > 0 {
            metrics::counter!(m::FOREIGN_TXS).increment(foreign as u64);
            if matches!(self.mode, Mode::Bft { .. }) {
                // A validator set's blocks carry the other validators' transactions.
                debug!(target: "sequencer", number = block.number, foreign, "block includes transactions this validator's mempool did not hold");
            } else {
                warn!(target: "sequencer", number = block.number, foreign, "block includes transactions that bypassed the sequencer mempool");
            }
        }
        metrics::gauge!(m::MEMPOOL_TXS)
            .set((mempool_status.pending + mempool_status.queued) as f64);
        self.status.update(|s| s.mempool = mempool_status);
        self.da_tx
            .send(DaJob { block, body: built.block, certificate, requests })
            .map_err(|_| NodeError::Task("DA task is gone".into()))?;
        Ok(())
    }
}

/// Builds a child of `parent` on the execution client, the one build path of a single
/// validator and of a set's leader: `forkchoiceUpdated` with the protocol's payload attributes
/// (`timestamp`, `prevRandao`, beacon root, no withdrawals) on the forkchoice `start` gives,
/// `build_time` for reth to fill the payload, `getPayload`, and a check that what reth built is
/// a child of `parent`. `start` may hold a guard (its second value) while the forkchoice update
/// is sent: a validator set orders it with the producer's own updates.
pub(crate) async fn build_child<G>(
    engine: &EngineClient,
    parent: &BlockRef,
    timestamp: u64,
    fee_recipient: Address,
    build_time: Duration,
    start: impl AsyncFnOnce() -> (ForkchoiceState, Option<G>),
) -> Result<BuiltPayload, EngineError> {
    let attrs = payload_attributes(parent, timestamp, fee_recipient);
    let beacon_root = attrs.parent_beacon_block_root.unwrap_or_default();
    let id = {
        let (state, _guard) = start().await;
        engine.start_payload(state, attrs).await?
    };
    tokio::time::sleep(build_time).await;
    let built = engine.get_payload(id, beacon_root).await?;
    let block = built.block_ref();
    if block.parent_hash != parent.hash || block.number != parent.number + 1 {
        return Err(EngineError::BadResponse {
            method: "engine_getPayload",
            message: format!(
                "built #{} on {}, expected a child of #{} {}",
                block.number, block.parent_hash, parent.number, parent.hash
            ),
        });
    }
    Ok(built)
}

/// How often a validator forwards newly accepted transactions to its reth.
const FORWARD_INTERVAL: Duration = Duration::from_millis(100);

/// Forwards accepted transactions (`which` of them) every [`FORWARD_INTERVAL`] until `cancel`.
pub(crate) async fn forward_continuously(
    engine: EngineClient,
    mempool: Arc<Mutex<Mempool>>,
    status: StatusHandle,
    which: Forward,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(FORWARD_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {
                let head = status.get().soft_head.number;
                forward_transactions(&engine, &mempool, head, which).await;
            }
        }
    }
}

/// Which pooled transactions go to reth's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forward {
    /// The includable ones (a single validator: only it holds the missing nonces).
    Ready,
    /// All, also those behind a nonce gap (a validator set: the missing nonces may be in
    /// another validator's mempool; the reths' pools bring them together over devp2p).
    All,
}

/// Sends mempool transactions to reth's pool (see the crate docs for why).
pub(crate) async fn forward_transactions(
    engine: &EngineClient,
    mempool: &Mutex<Mempool>,
    head: u64,
    which: Forward,
) {
    let due = |t: &PooledTx| t.forward_due(head, REFORWARD_AFTER_BLOCKS);
    let ready: Vec<_> = {
        let mut pool = mempool.lock();
        let ready: Vec<_> = match which {
            Forward::Ready => pool.ready().into_iter().filter(|t| due(t)).collect(),
            Forward::All => pool.all_where(due),
        };
        // Claimed under the lock: a forwarding running at the same time (the continuous one and
        // a leader's before it builds) does not send them to reth a second time.
        let claimed: Vec<_> = ready.iter().map(|t| (t.sender, t.nonce)).collect();
        pool.mark_in_flight(&claimed, head);
        ready
    };
    if ready.is_empty() {
        return;
    }
    let results: Vec<_> = futures::stream::iter(ready)
        .map(|tx| async move {
            let r = engine.send_raw_transaction(&tx.raw).await;
            (tx, r)
        })
        .buffered(FORWARD_CONCURRENCY)
        .collect()
        .await;
    let mut forwarded = Vec::new();
    let mut refused = Vec::new();
    let mut unsent = Vec::new();
    let mut pool = mempool.lock();
    for (tx, r) in results {
        match r {
            Ok(_) => forwarded.push((tx.sender, tx.nonce)),
            Err(EngineError::Rpc { message, .. }) => match refusal(&message) {
                Refusal::AlreadyKnown => forwarded.push((tx.sender, tx.nonce)),
                Refusal::Permanent => {
                    warn!(target: "sequencer::mempool", hash = %tx.hash, sender = %tx.sender, nonce = tx.nonce, %message, "execution client rejected transaction; evicted");
                    pool.evict(&tx.sender, tx.nonce, EvictionReason::Rejected { message });
                }
                Refusal::Temporary => {
                    // Kept: it may be taken later (funds arrive, the pool drains, a foreign
                    // transaction with its nonce is included and evicts it as NonceUsed).
                    metrics::counter!(m::FORWARD_FAILURES, "kind" => "refused").increment(1);
                    debug!(target: "sequencer::mempool", hash = %tx.hash, %message, refusals = tx.refusals + 1, "execution client did not take transaction yet; will retry after a backoff");
                    refused.push((tx.sender, tx.nonce));
                }
            },
            Err(e) => {
                metrics::counter!(m::FORWARD_FAILURES, "kind" => "transport").increment(1);
                debug!(target: "sequencer::mempool", hash = %tx.hash, %e, "forwarding failed, will retry");
                unsent.push((tx.sender, tx.nonce));
            }
        }
    }
    pool.mark_forwarded(&forwarded, head);
    pool.mark_refused(&refused, head);
    pool.mark_unsent(&unsent);
}

/// How the execution client refused a forwarded transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// It has it already.
    AlreadyKnown,
    /// It will never take it (the transaction itself is invalid).
    Permanent,
    /// Not now (underpriced against its pool, insufficient funds, pool full, ...).
    Temporary,
}

/// Classifies reth's (geth-compatible) pool error messages. Only errors about the transaction
/// itself evict it; anything else keeps it, so an accepted transaction is never dropped on a
/// transient refusal.
fn refusal(message: &str) -> Refusal {
    const PERMANENT: [&str; 6] = [
        "intrinsic gas too low",
        "exceeds block gas limit",
        "gas limit reached",
        "transaction type not supported",
        "invalid sender",
        "invalid chain id",
    ];
    let message = message.to_ascii_lowercase();
    if message.contains("already known") {
        Refusal::AlreadyKnown
    } else if PERMANENT.iter().any(|permanent| message.contains(permanent)) {
        Refusal::Permanent
    } else {
        Refusal::Temporary
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::{Refusal, refusal};

    #[test]
    fn only_invalid_transactions_are_refused_for_good() {
        assert_eq!(refusal("already known"), Refusal::AlreadyKnown);
        assert_eq!(refusal("intrinsic gas too low"), Refusal::Permanent);
        assert_eq!(refusal("Transaction type not supported"), Refusal::Permanent);
        for temporary in [
            "insufficient funds for gas * price + value",
            "replacement transaction underpriced",
            "txpool is full",
            "nonce too low",
            "something new",
        ] {
            assert_eq!(refusal(temporary), Refusal::Temporary, "{temporary}");
        }
    }
}
