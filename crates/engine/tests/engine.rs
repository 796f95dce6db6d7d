//! The in-process engine actor against an in-memory execution layer (a fixture that stores
//! blocks without executing them): kona's engine rules, observed through kona's channels.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use alloy_eips::BlockNumberOrTag;
use common::{
    CountingRecorder, L1Chain, MESSAGE_PASSER_ROOT, MemoryEngine, ReorgableL1, attributes,
    rollup_config, user_tx,
};
use kona_derive::Signal;
use kona_engine::{EngineQueries, EngineState};
use kona_node_service::{EngineContext, EngineInboundData, NodeActor, NodeMode};
use kona_protocol::{L2BlockInfo, OpAttributesWithParent};
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use rollup_engine::{
    EngineActorBuilder, EngineError, InProcessEngineActor, L2Head, TASK_RETRY_LIMIT,
};
use rollup_providers_local::BufferedL2Provider;
use rollup_safe_head_db::SafeHeadDb;
use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(5);

/// Waits up to [`WAIT`] for `condition`, polling; panics with `what` when it never holds.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let polled = async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(WAIT, polled).await.unwrap_or_else(|_| panic!("timed out: {what}"));
}

struct Harness {
    l1: L1Chain,
    /// What the engine reads L1 through: tests can reorg it.
    l1_reader: Arc<ReorgableL1>,
    config: Arc<kona_genesis::RollupConfig>,
    engine: Arc<MemoryEngine>,
    /// The L2 buffer derivation reads; nothing feeds it chain notifications here.
    l2: BufferedL2Provider,
    inbound: EngineInboundData,
    signals: mpsc::Receiver<Signal>,
    safe_head: watch::Receiver<L2BlockInfo>,
    unsafe_head: watch::Receiver<L2BlockInfo>,
    sync_complete: oneshot::Receiver<()>,
    cancellation: CancellationToken,
    actor: tokio::task::JoinHandle<Result<(), EngineError>>,
}

impl Harness {
    fn start(mode: NodeMode) -> Self {
        Self::start_with(mode, |_| {})
    }

    /// Starts the actor on the fixture's rollup config changed by `configure`.
    fn start_with(mode: NodeMode, configure: impl FnOnce(&mut kona_genesis::RollupConfig)) -> Self {
        Self::start_full(mode, configure, None)
    }

    /// Starts the actor recording safe heads into `safe_heads`.
    fn start_recording(mode: NodeMode, safe_heads: Arc<SafeHeadDb>) -> Self {
        Self::start_full(mode, |_| {}, Some(safe_heads))
    }

    fn start_full(
        mode: NodeMode,
        configure: impl FnOnce(&mut kona_genesis::RollupConfig),
        safe_heads: Option<Arc<SafeHeadDb>>,
    ) -> Self {
        let _ =
            tracing_subscriber::fmt().with_env_filter("engine=debug").with_test_writer().try_init();
        let l1 = L1Chain::new(20);
        let mut config = rollup_config(&l1);
        configure(&mut config);
        let config = Arc::new(config);
        let engine = MemoryEngine::new((*config).clone());
        let l2 =
            BufferedL2Provider::with_capacity(config.clone(), 64).with_fallback(engine.clone());
        let l1_reader = ReorgableL1::new(&l1);
        let builder = EngineActorBuilder {
            config: config.clone(),
            mode,
            engine: engine.clone(),
            l2: l2.clone(),
            l1: l1_reader.clone(),
            safe_heads,
        };
        let (inbound, actor) = InProcessEngineActor::build(builder);
        let (signal_tx, signals) = mpsc::channel(16);
        let (safe_tx, safe_head) = watch::channel(L2BlockInfo::default());
        let (unsafe_tx, unsafe_head) = watch::channel(L2BlockInfo::default());
        let (sync_tx, sync_complete) = oneshot::channel();
        let cancellation = CancellationToken::new();
        let context = EngineContext {
            cancellation: cancellation.clone(),
            engine_unsafe_head_tx: Some(unsafe_tx),
            engine_l2_safe_head_tx: safe_tx,
            sync_complete_tx: sync_tx,
            derivation_signal_tx: signal_tx,
        };
        let actor = tokio::spawn(actor.start(context));
        Self {
            l1,
            l1_reader,
            config,
            engine,
            l2,
            inbound,
            signals,
            safe_head,
            unsafe_head,
            sync_complete,
            cancellation,
            actor,
        }
    }

    /// Requests the initial reset and waits for derivation's reset signal and the EL sync.
    async fn reset(&mut self) {
        self.inbound.reset_request_tx.send(()).await.unwrap();
        let signal = tokio::time::timeout(WAIT, self.signals.recv()).await.unwrap().unwrap();
        assert!(matches!(signal, Signal::Reset(_)), "derivation is reset first: {signal:?}");
        tokio::time::timeout(WAIT, &mut self.sync_complete).await.unwrap().unwrap();
    }

    fn info(&self, number: u64) -> L2BlockInfo {
        let block = self.engine.canonical_block(number).unwrap();
        L2BlockInfo::from_block_and_genesis(block.block().as_ref(), &self.config.genesis).unwrap()
    }

    /// Builds on the unsafe head through the sequencer channel and returns the payload.
    async fn build(&self, attributes: OpAttributesWithParent) -> OpExecutionPayloadEnvelope {
        let (reply, mut payloads) = mpsc::channel(1);
        let requests = self.inbound.build_request_tx.as_ref().unwrap();
        requests.send((attributes, reply)).await.unwrap();
        tokio::time::timeout(WAIT, payloads.recv()).await.unwrap().unwrap()
    }

    async fn state(&self) -> EngineState {
        let (tx, rx) = oneshot::channel();
        self.inbound.inbound_queries_tx.send(EngineQueries::State(tx)).await.unwrap();
        rx.await.unwrap()
    }

    /// The next signal to derivation.
    async fn signal(&mut self) -> Signal {
        tokio::time::timeout(WAIT, self.signals.recv()).await.expect("a derivation signal").unwrap()
    }

    async fn wait_safe(&mut self, number: u64) {
        tokio::time::timeout(WAIT, self.safe_head.wait_for(|h| h.block_info.number == number))
            .await
            .unwrap()
            .unwrap();
    }

    async fn stop(self) {
        self.cancellation.cancel();
        tokio::time::timeout(WAIT, self.actor).await.unwrap().unwrap().unwrap();
    }
}

#[tokio::test]
async fn sequencer_builds_on_the_unsafe_head_and_gets_each_payload_back() {
    let mut h = Harness::start(NodeMode::Sequencer);
    h.reset().await;
    for number in 1..=3 {
        let parent = h.info(number - 1);
        let payload = h
            .build(attributes(&h.config, &h.l1, parent, 0, number, vec![user_tx(number)], None))
            .await;
        assert_eq!(payload.execution_payload.as_v1().block_number, number);
        tokio::time::timeout(WAIT, h.unsafe_head.wait_for(|head| head.block_info.number == number))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(h.engine.head_number(), 3, "the execution layer's canonical head moved");
    let state = h.state().await;
    assert_eq!(state.sync_state.unsafe_head().block_info.number, 3);
    assert_eq!(state.sync_state.safe_head().block_info.number, 0, "sequenced blocks are unsafe");
    assert!(state.el_sync_finished);
    h.stop().await;
}

#[tokio::test]
async fn derived_attributes_matching_unsafe_blocks_make_them_safe_without_building() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    // The sequencer's blocks arrive as gossip.
    let mut derived = Vec::new();
    let mut parent_block = h.engine.canonical_block(0).unwrap();
    for number in 1..=3 {
        let parent =
            L2BlockInfo::from_block_and_genesis(parent_block.block().as_ref(), &h.config.genesis)
                .unwrap();
        let attrs = attributes(&h.config, &h.l1, parent, 0, number, vec![user_tx(number)], Some(2));
        let block = h.engine.block_for(&attrs.inner, parent_block.block());
        h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&block)).await.unwrap();
        parent_block = rollup_providers_local::SealedL2Block::seal_slow(block);
        derived.push(attrs);
    }
    eventually("the execution layer imports the gossiped blocks", || h.engine.head_number() >= 3)
        .await;
    let builds_before = h.engine.state.lock().builds;
    for attrs in derived {
        h.inbound.attributes_tx.send(attrs).await.unwrap();
    }
    h.wait_safe(3).await;
    assert_eq!(h.engine.state.lock().builds, builds_before, "consolidation built nothing");
    assert_eq!(
        h.engine.label_number(L2Head::Safe),
        Some(3),
        "the execution layer's safe label moved"
    );
    h.stop().await;
}

#[tokio::test]
async fn mismatching_derived_attributes_reorg_the_unsafe_chain() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    let genesis = h.info(0);
    let gossiped = attributes(&h.config, &h.l1, genesis, 0, 1, vec![user_tx(1)], None);
    let block = h.engine.block_for(&gossiped.inner, h.engine.canonical_block(0).unwrap().block());
    let unsafe_hash = block.header.hash_slow();
    h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&block)).await.unwrap();
    tokio::time::timeout(WAIT, h.unsafe_head.wait_for(|head| head.block_info.number == 1))
        .await
        .unwrap()
        .unwrap();

    // L1 says block 1 carries another transaction.
    let derived = attributes(&h.config, &h.l1, genesis, 0, 1, vec![user_tx(99)], Some(2));
    h.inbound.attributes_tx.send(derived).await.unwrap();
    h.wait_safe(1).await;
    let canonical = h.engine.canonical_block(1).unwrap();
    assert_ne!(canonical.hash(), unsafe_hash, "the unsafe block was replaced");
    assert_eq!(canonical.block().body.transactions.len(), 2);
    assert_eq!(*h.safe_head.borrow(), h.info(1));
    h.stop().await;
}

#[tokio::test]
async fn built_blocks_are_buffered_without_waiting_for_the_chain_notification() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    for number in 1..=3 {
        let derived = attributes(&h.config, &h.l1, h.info(number - 1), 0, number, vec![], None);
        h.inbound.attributes_tx.send(derived).await.unwrap();
        h.wait_safe(number).await;
        let buffered = h.l2.buffered_by_number(number).expect("the derived block is buffered");
        assert_eq!(buffered.hash(), h.engine.canonical_block(number).unwrap().hash());
    }
    assert_eq!(h.l2.head().map(|head| head.number), Some(3));

    // A derived block that replaces an unsafe one does not fit the buffered chain: it is left to
    // the execution layer's reorg notification, and the buffer keeps what it had.
    let gossiped = attributes(&h.config, &h.l1, h.info(3), 0, 4, vec![user_tx(4)], None);
    let block = h.engine.block_for(&gossiped.inner, h.engine.canonical_block(3).unwrap().block());
    h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&block)).await.unwrap();
    tokio::time::timeout(WAIT, h.unsafe_head.wait_for(|head| head.block_info.number == 4))
        .await
        .unwrap()
        .unwrap();
    let unsafe_hash = block.header.hash_slow();
    assert_eq!(h.l2.buffered_by_number(4).map(|b| b.hash()), Some(unsafe_hash));
    let derived = attributes(&h.config, &h.l1, h.info(3), 0, 4, vec![user_tx(99)], Some(2));
    h.inbound.attributes_tx.send(derived).await.unwrap();
    h.wait_safe(4).await;
    assert_ne!(h.engine.canonical_block(4).unwrap().hash(), unsafe_hash);
    assert_eq!(h.l2.buffered_by_number(4).map(|b| b.hash()), Some(unsafe_hash));
    h.stop().await;
}

#[tokio::test]
async fn an_invalid_derived_payload_is_replaced_by_deposits_only_and_derivation_flushes() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    let poison = user_tx(666);
    h.engine.state.lock().poison.push(poison.clone());
    let derived = attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![poison], Some(2));
    h.inbound.attributes_tx.send(derived).await.unwrap();
    let signal = tokio::time::timeout(WAIT, h.signals.recv()).await.unwrap().unwrap();
    assert!(matches!(signal, Signal::FlushChannel), "derivation flushes its channel: {signal:?}");
    let block = h.engine.canonical_block(1).unwrap();
    assert_eq!(block.block().body.transactions.len(), 1, "only the L1-info deposit is left");
    h.wait_safe(1).await;
    h.stop().await;
}

/// A temporary failure while building the deposits-only replacement of an invalid derived block
/// is retried like any other (op-node re-queues the replacement) instead of stopping the engine.
#[tokio::test]
async fn a_deposits_only_replacement_survives_a_temporary_failure() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    let poison = user_tx(666);
    {
        let mut state = h.engine.state.lock();
        state.poison.push(poison.clone());
        // The first build fetches the poisoned payload; the second, its replacement's, fails.
        state.fail_get_payload_call = Some(state.get_payloads + 2);
    }
    let derived = attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![poison], Some(2));
    h.inbound.attributes_tx.send(derived).await.unwrap();
    let signal = h.signal().await;
    assert!(matches!(signal, Signal::FlushChannel), "derivation flushes its channel: {signal:?}");
    let block = h.engine.canonical_block(1).unwrap();
    assert_eq!(block.block().body.transactions.len(), 1, "only the L1-info deposit is left");
    h.wait_safe(1).await;
    assert!(!h.actor.is_finished(), "the actor still runs");
    h.stop().await;
}

#[tokio::test]
async fn l1_finality_finalizes_the_blocks_derived_from_it() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    // Block 1 derived from L1 #3, block 2 from L1 #5.
    let first = attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![], Some(3));
    h.inbound.attributes_tx.send(first).await.unwrap();
    h.wait_safe(1).await;
    let second = attributes(&h.config, &h.l1, h.info(1), 0, 2, vec![], Some(5));
    h.inbound.attributes_tx.send(second).await.unwrap();
    h.wait_safe(2).await;

    h.inbound.finalized_l1_block_tx.send_replace(Some(h.l1.info(4)));
    eventually("L1 #4 final → L2 #1 final, not #2", || {
        h.engine.label_number(L2Head::Finalized) == Some(1)
    })
    .await;
    h.inbound.finalized_l1_block_tx.send_replace(Some(h.l1.info(5)));
    eventually("L1 #5 final → L2 #2 final", || {
        h.engine.label_number(L2Head::Finalized) == Some(2)
    })
    .await;
    assert_eq!(h.state().await.sync_state.finalized_head().block_info.number, 2);
    h.stop().await;
}

#[tokio::test]
async fn output_at_block_answers_from_the_in_memory_chain() {
    let mut h = Harness::start(NodeMode::Sequencer);
    h.reset().await;
    h.build(attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![], None)).await;
    let (tx, rx) = oneshot::channel();
    let query = EngineQueries::OutputAtBlock { block: BlockNumberOrTag::Number(1), sender: tx };
    h.inbound.inbound_queries_tx.send(query).await.unwrap();
    let (info, output, _) = tokio::time::timeout(WAIT, rx).await.unwrap().unwrap();
    let block = h.engine.canonical_block(1).unwrap();
    assert_eq!(info, h.info(1));
    assert_eq!(output.block_hash, block.hash());
    assert_eq!(output.state_root, block.block().header.state_root);
    assert_eq!(output.bridge_storage_root, MESSAGE_PASSER_ROOT);
    h.stop().await;
}

#[tokio::test]
async fn an_invalid_gossiped_block_is_dropped_and_the_engine_keeps_going() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    let poison = user_tx(7);
    h.engine.state.lock().poison.push(poison.clone());
    let genesis_block = h.engine.canonical_block(0).unwrap();
    let bad = attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![poison], None);
    let bad = h.engine.block_for(&bad.inner, genesis_block.block());
    h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&bad)).await.unwrap();
    let good = attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![user_tx(8)], None);
    let good = h.engine.block_for(&good.inner, genesis_block.block());
    h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&good)).await.unwrap();
    tokio::time::timeout(WAIT, h.unsafe_head.wait_for(|head| head.block_info.number == 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.unsafe_head.borrow().block_info.hash, good.header.hash_slow());
    assert!(!h.actor.is_finished(), "the actor still runs");
    h.stop().await;
}

/// A task that keeps failing on a temporary error is retried in place, counted, and past the
/// bound escalated to a reset that drops it; the engine goes on.
#[tokio::test(start_paused = true)]
async fn a_task_failing_temporarily_is_retried_then_escalated_to_a_reset() {
    let recorder = CountingRecorder::global();
    let retries_before = recorder.counter("rollup_engine_task_retries_total", &[("task", "build")]);
    let escalations_before =
        recorder.counter("rollup_engine_retry_escalations_total", &[("task", "build")]);
    let mut h = Harness::start(NodeMode::Sequencer);
    h.reset().await;
    h.engine.state.lock().fail_get_payload = true;
    let (reply, mut payloads) = mpsc::channel(1);
    let requests = h.inbound.build_request_tx.clone().unwrap();
    requests
        .send((attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![], None), reply))
        .await
        .unwrap();
    // The clock is paused: it jumps over the backoff whenever everything waits, so the bound is
    // reached at once in real time, whatever it is in engine time.
    let signal = tokio::time::timeout(Duration::from_secs(3600), h.signals.recv())
        .await
        .expect("escalated to a reset")
        .unwrap();
    assert!(matches!(signal, Signal::Reset(_)), "the escalation resets derivation: {signal:?}");
    let attempts = h.engine.state.lock().get_payloads as u64;
    assert_eq!(attempts, u64::from(TASK_RETRY_LIMIT), "retried in place up to the bound");
    let retries =
        recorder.counter("rollup_engine_task_retries_total", &[("task", "build")]) - retries_before;
    assert!(retries >= attempts - 1, "every retry is counted ({retries} of {attempts} attempts)");
    let escalations = recorder
        .counter("rollup_engine_retry_escalations_total", &[("task", "build")])
        - escalations_before;
    assert!(escalations >= 1, "the escalation is counted");
    assert!(payloads.try_recv().is_err(), "the failing build was dropped by the reset");
    eventually("the dropped build is not tried again", || {
        h.engine.state.lock().get_payloads as u64 == attempts
    })
    .await;

    h.engine.state.lock().fail_get_payload = false;
    let payload = h.build(attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![], None)).await;
    assert_eq!(payload.execution_payload.as_v1().block_number, 1, "the engine goes on");
    h.stop().await;
}

/// A reset request is served while a task is being retried, without waiting for the retries to
/// run out.
#[tokio::test]
async fn a_reset_request_is_served_while_a_task_is_being_retried() {
    let mut h = Harness::start(NodeMode::Sequencer);
    h.reset().await;
    h.engine.state.lock().fail_get_payload = true;
    let (reply, mut payloads) = mpsc::channel(1);
    let requests = h.inbound.build_request_tx.clone().unwrap();
    requests
        .send((attributes(&h.config, &h.l1, h.info(0), 0, 1, vec![], None), reply))
        .await
        .unwrap();
    eventually("the build fails", || h.engine.state.lock().get_payloads >= 1).await;

    h.inbound.reset_request_tx.send(()).await.unwrap();
    let signal = h.signal().await;
    assert!(matches!(signal, Signal::Reset(_)), "the requested reset ran: {signal:?}");
    assert!(
        h.engine.state.lock().get_payloads < TASK_RETRY_LIMIT as usize,
        "served before the retries ran out (not an escalation)"
    );
    let (tx, rx) = oneshot::channel();
    h.inbound.inbound_queries_tx.send(EngineQueries::TaskQueueLength(tx)).await.unwrap();
    assert_eq!(rx.await.unwrap(), 0, "the reset cleared the queue");
    assert!(payloads.try_recv().is_err(), "the failing build was dropped");
    assert!(!h.actor.is_finished(), "the actor still runs");
    h.stop().await;
}

/// A forkchoice update refused with -38002 (here: a build on a parent the safe head is not an
/// ancestor of) resets the engine at once, as op-node does, instead of being retried.
#[tokio::test]
async fn an_invalid_forkchoice_state_resets_the_engine_without_retrying() {
    let mut h = Harness::start(NodeMode::Sequencer);
    h.reset().await;
    let genesis = h.info(0);
    h.build(attributes(&h.config, &h.l1, genesis, 0, 1, vec![user_tx(1)], None)).await;
    let stale = h.info(1);
    // Derivation says block 1 is another one: the engine reorgs to it and marks it safe.
    let derived = attributes(&h.config, &h.l1, genesis, 0, 1, vec![user_tx(99)], Some(2));
    h.inbound.attributes_tx.send(derived).await.unwrap();
    h.wait_safe(1).await;
    assert_ne!(h.info(1), stale, "block 1 was replaced");

    // The sequencer still builds on its own block 1, which the safe head does not descend from.
    let (reply, mut payloads) = mpsc::channel(1);
    let requests = h.inbound.build_request_tx.clone().unwrap();
    requests.send((attributes(&h.config, &h.l1, stale, 0, 2, vec![], None), reply)).await.unwrap();
    let signal = h.signal().await;
    assert!(matches!(signal, Signal::Reset(_)), "the engine was reset: {signal:?}");
    assert_eq!(
        h.engine.state.lock().invalid_forkchoice_states,
        1,
        "reset at the first -38002, not retried"
    );
    assert!(payloads.try_recv().is_err(), "nothing was built on the refused forkchoice");

    let head = h.state().await.sync_state.unsafe_head();
    let next = head.block_info.number + 1;
    let payload = h.build(attributes(&h.config, &h.l1, head, 0, next, vec![], None)).await;
    assert_eq!(payload.execution_payload.as_v1().block_number, next, "the engine goes on");
    h.stop().await;
}

/// A validator's first reset (the service asks for one at start) does not release derivation
/// while the execution layer answers SYNCING: the engine asks again until it answers VALID, then
/// resets from the synced chain and only then reports EL sync complete.
#[tokio::test]
async fn validator_start_waits_for_the_execution_layer_to_finish_syncing() {
    let mut h = Harness::start(NodeMode::Validator);
    h.engine.state.lock().syncing = true;
    h.inbound.reset_request_tx.send(()).await.unwrap();
    eventually("the engine asks again while the execution layer syncs", || {
        h.engine.state.lock().forkchoice_updates >= 3
    })
    .await;
    assert!(
        matches!(h.sync_complete.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
        "derivation is not released while the execution layer answers SYNCING"
    );

    // The sync ends with blocks 1..=3, block 2 finalized before (reth keeps its labels).
    let mut parent = h.engine.canonical_block(0).unwrap().block().as_ref().clone();
    let mut blocks = Vec::new();
    for number in 1..=3 {
        let info = L2BlockInfo::from_block_and_genesis(&parent, &h.config.genesis).unwrap();
        let attrs = attributes(&h.config, &h.l1, info, 0, number, vec![], None);
        let block = h.engine.block_for(&attrs.inner, &parent);
        blocks.push(block.clone());
        parent = block;
    }
    let finalized = blocks[1].header.hash_slow();
    h.engine.sync_to(blocks, Some(finalized));

    tokio::time::timeout(WAIT, &mut h.sync_complete).await.unwrap().unwrap();
    let mut last_reset = None;
    while let Ok(signal) = h.signals.try_recv() {
        if let Signal::Reset(reset) = signal {
            last_reset = Some(reset);
        }
    }
    let reset = last_reset.expect("derivation was reset");
    assert_eq!(
        reset.l2_safe_head.block_info.hash, finalized,
        "derivation restarts from the synced chain's safe head"
    );
    let state = h.state().await;
    assert!(state.el_sync_finished);
    assert_eq!(state.sync_state.unsafe_head().block_info.number, 3);
    h.stop().await;
}

/// A reset walks the unsafe head back to a block whose L1 origin is canonical, and the safe head
/// back a sequencing window behind it.
#[tokio::test]
async fn a_reset_walks_back_past_a_reorged_l1_origin_and_a_sequencing_window() {
    let mut h = Harness::start_with(NodeMode::Validator, |config| config.seq_window_size = 2);
    // L1 block 5 as L2 block 6 saw it, since reorged away.
    let mut forked = L1Chain { headers: h.l1.headers.clone() };
    forked.headers[5].extra_data = alloy_primitives::Bytes::from_static(b"reorged");
    let mut parent = h.engine.canonical_block(0).unwrap().block().as_ref().clone();
    let mut blocks = Vec::new();
    for (number, origin) in [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5)] {
        let l1 = if number == 6 { &forked } else { &h.l1 };
        let info = L2BlockInfo::from_block_and_genesis(&parent, &h.config.genesis).unwrap();
        let attrs = attributes(&h.config, l1, info, origin, 0, vec![], None);
        let block = h.engine.block_for(&attrs.inner, &parent);
        blocks.push(block.clone());
        parent = block;
    }
    h.engine.sync_to(blocks, None);

    h.reset().await;
    let state = h.state().await;
    assert_eq!(state.sync_state.unsafe_head(), h.info(5), "block 6's L1 origin is not canonical");
    // Block 2 (origin 1) is the first more than a window (2) behind block 5's origin (4).
    assert_eq!(state.sync_state.safe_head(), h.info(2));
    assert_eq!(*h.safe_head.borrow(), h.info(2), "derivation restarts from the safe head");
    h.stop().await;
}

/// An unsafe block whose parent the execution layer does not have answers SYNCING; the engine
/// keeps going, and once the gap is filled the chain connects.
#[tokio::test]
async fn an_unsafe_block_with_an_unknown_parent_is_taken_once_the_gap_is_filled() {
    let mut h = Harness::start(NodeMode::Validator);
    h.reset().await;
    let mut parent = h.engine.canonical_block(0).unwrap().block().as_ref().clone();
    let mut blocks = Vec::new();
    for number in 1..=3 {
        let info = L2BlockInfo::from_block_and_genesis(&parent, &h.config.genesis).unwrap();
        let attrs = attributes(&h.config, &h.l1, info, 0, number, vec![user_tx(number)], None);
        let block = h.engine.block_for(&attrs.inner, &parent);
        blocks.push(block.clone());
        parent = block;
    }
    h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&blocks[1])).await.unwrap();
    eventually("block 2 is buffered", || h.engine.state.lock().buffered.len() == 1).await;
    assert_eq!(h.engine.head_number(), 0, "nothing was imported yet");
    h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&blocks[0])).await.unwrap();
    h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&blocks[2])).await.unwrap();
    tokio::time::timeout(WAIT, h.unsafe_head.wait_for(|head| head.block_info.number == 3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.engine.head_number(), 3, "the execution layer connected block 2");
    assert!(!h.actor.is_finished(), "the actor still runs");
    h.stop().await;
}

#[test]
fn fixture_payloads_round_trip() {
    let l1 = L1Chain::new(3);
    let config = rollup_config(&l1);
    let engine = MemoryEngine::new(config.clone());
    let genesis = engine.canonical_block(0).unwrap();
    let info =
        L2BlockInfo::from_block_and_genesis(genesis.block().as_ref(), &config.genesis).unwrap();
    let attrs = attributes(&config, &l1, info, 0, 1, vec![user_tx(1)], None);
    let block = engine.block_for(&attrs.inner, genesis.block());
    let envelope = MemoryEngine::payload(&block);
    let sidecar = op_alloy_rpc_types_engine::OpExecutionPayloadSidecar::v3(
        alloy_rpc_types_engine::CancunPayloadFields::new(
            envelope.parent_beacon_block_root.unwrap(),
            vec![],
        ),
    );
    let back: op_alloy_consensus::OpBlock =
        envelope.execution_payload.try_into_block_with_sidecar(&sidecar).unwrap();
    assert_eq!(back.header, block.header);
}

/// A safe-head database in a temporary directory.
fn safe_head_db() -> (tempfile::TempDir, Arc<SafeHeadDb>) {
    let dir = tempfile::tempdir().unwrap();
    let db = SafeHeadDb::open(dir.path().join("safe_head.db"), 1_000).unwrap();
    (dir, Arc::new(db))
}

/// `(L1 number, L2 safe head number)` of every entry.
fn entries(db: &SafeHeadDb) -> Vec<(u64, u64)> {
    db.entries_above(0).iter().map(|e| (e.l1_block.number, e.safe_head.number)).collect()
}

impl Harness {
    /// Derives blocks `1..` on the safe head from the L1 blocks `derived_from` (one each) and
    /// waits until the last is safe. The blocks are built (nothing unsafe to consolidate with).
    async fn derive(&mut self, derived_from: &[Option<u64>]) {
        let first = self.state().await.sync_state.safe_head().block_info.number + 1;
        for (number, from) in (first..).zip(derived_from) {
            let parent = self.info(number - 1);
            let attrs = attributes(&self.config, &self.l1, parent, 0, number, vec![], *from);
            self.inbound.attributes_tx.send(attrs).await.unwrap();
            self.wait_safe(number).await;
        }
    }

    /// Requests a reset and waits for derivation's reset signal.
    async fn reset_again(&mut self) {
        self.inbound.reset_request_tx.send(()).await.unwrap();
        loop {
            if let Signal::Reset(_) = self.signal().await {
                return;
            }
        }
    }

    /// Finalizes L1 up to `l1` and waits until L2 block `l2` is final.
    async fn finalize(&self, l1: u64, l2: u64) {
        self.inbound.finalized_l1_block_tx.send_replace(Some(self.l1.info(l1)));
        eventually("the L2 block derived from final L1 is final", || {
            self.engine.label_number(L2Head::Finalized) == Some(l2)
        })
        .await;
    }
}

#[tokio::test]
async fn safe_head_moves_are_recorded_against_the_l1_block_they_were_derived_from() {
    let (_dir, db) = safe_head_db();
    let mut h = Harness::start_recording(NodeMode::Validator, db.clone());
    h.reset().await;
    // Blocks 1 and 2 from L1 #2, 3 from #3, 4 from #5; 5 from nowhere (not recorded).
    h.derive(&[Some(2), Some(2), Some(3), Some(5), None]).await;
    assert_eq!(
        entries(&db),
        vec![(2, 2), (3, 3), (5, 4)],
        "one entry per L1 block, the last safe head"
    );
    let at = |l1| db.safe_head_at(l1).map(|e| (e.l1_block, e.safe_head));
    assert_eq!(at(1), None, "nothing was safe before L1 #2");
    assert_eq!(at(2), Some((h.l1.info(2).id(), h.info(2).block_info.id())));
    assert_eq!(at(4), Some((h.l1.info(3).id(), h.info(3).block_info.id())));
    assert_eq!(at(19), Some((h.l1.info(5).id(), h.info(4).block_info.id())));

    // Gossiped blocks that derivation confirms (consolidation without a build) are recorded too.
    let mut parent_block = h.engine.canonical_block(5).unwrap();
    let mut derived = Vec::new();
    for number in 6..=7 {
        let parent =
            L2BlockInfo::from_block_and_genesis(parent_block.block().as_ref(), &h.config.genesis)
                .unwrap();
        let attrs = attributes(&h.config, &h.l1, parent, 0, number, vec![user_tx(number)], Some(7));
        let block = h.engine.block_for(&attrs.inner, parent_block.block());
        h.inbound.unsafe_block_tx.send(MemoryEngine::payload(&block)).await.unwrap();
        parent_block = rollup_providers_local::SealedL2Block::seal_slow(block);
        derived.push(attrs);
    }
    eventually("the gossiped blocks are imported", || h.engine.head_number() >= 7).await;
    let builds = h.engine.state.lock().builds;
    for attrs in derived {
        h.inbound.attributes_tx.send(attrs).await.unwrap();
    }
    h.wait_safe(7).await;
    assert_eq!(h.engine.state.lock().builds, builds, "consolidated, not built");
    assert_eq!(db.latest().unwrap().safe_head, h.info(7).block_info.id());
    assert_eq!(entries(&db), vec![(2, 2), (3, 3), (5, 4), (7, 7)]);
    h.stop().await;
}

/// A reset to an older safe head removes the entries above it; the next derived blocks are
/// recorded again.
#[tokio::test]
async fn a_reset_removes_the_entries_above_its_safe_head() {
    let (_dir, db) = safe_head_db();
    let mut h = Harness::start_recording(NodeMode::Validator, db.clone());
    h.reset().await;
    h.derive(&[Some(2), Some(3), Some(5), Some(6)]).await;
    assert_eq!(entries(&db), vec![(2, 1), (3, 2), (5, 3), (6, 4)]);
    // The reset walks the safe head back to the finalized block 2.
    h.finalize(3, 2).await;
    h.reset_again().await;
    assert_eq!(h.state().await.sync_state.safe_head(), h.info(2));
    assert_eq!(entries(&db), vec![(2, 1), (3, 2)]);
    assert_eq!(db.safe_head_at(10).unwrap().safe_head, h.info(2).block_info.id());

    // Derivation goes on from block 3, now derived from L1 #4.
    h.derive(&[Some(4)]).await;
    assert_eq!(entries(&db), vec![(2, 1), (3, 2), (4, 3)]);
    h.stop().await;
}

/// A reset removes, newest first, the entries whose L1 block left the canonical chain; an L1
/// that cannot be read leaves them for the next reset, and the engine goes on.
#[tokio::test]
async fn a_reset_removes_the_entries_of_reorged_l1_blocks() {
    let (_dir, db) = safe_head_db();
    let mut h = Harness::start_recording(NodeMode::Validator, db.clone());
    h.reset().await;
    h.derive(&[Some(2), Some(3), Some(5), Some(6)]).await;
    // Everything is final: the reset keeps safe head 4, so only the L1 check removes entries.
    h.finalize(6, 4).await;
    h.l1_reader.reorg(5);
    h.l1_reader.reorg(6);

    // The reset's own reads (L1 #0) work; the check's (L1 #6 first) fail.
    h.l1_reader.fail_from.store(5, Ordering::SeqCst);
    let recorder = CountingRecorder::global();
    let failures =
        || recorder.counter("rollup_engine_safe_head_db_errors_total", &[("op", "l1_check")]);
    let failures_before = failures();
    h.reset_again().await;
    assert!(failures() > failures_before, "the failed check is counted");
    assert_eq!(entries(&db), vec![(2, 1), (3, 2), (5, 3), (6, 4)], "nothing removed unchecked");
    h.l1_reader.fail_from.store(u64::MAX, Ordering::SeqCst);

    h.reset_again().await;
    assert_eq!(h.state().await.sync_state.safe_head(), h.info(4));
    assert_eq!(entries(&db), vec![(2, 1), (3, 2)], "L1 #5 and #6 were reorged");
    assert!(!h.actor.is_finished(), "the actor still runs");
    h.stop().await;
}
