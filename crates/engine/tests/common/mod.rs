//! Fixtures: an in-memory execution layer that *stores* blocks (it does not execute their
//! transactions: state roots are whatever the payload says), an L1 of headers, builders for a
//! rollup config and derived attributes with real L1-info deposits, and a metrics recorder that
//! counts.
//!
//! The execution layer fixture answers the engine API the way reth's engine tree does in the
//! cases the engine actor depends on (reth v1.6 `on_forkchoice_updated`, `on_new_payload`): a
//! payload whose parent is unknown is buffered and answered SYNCING (and imported when its parent
//! arrives); a forkchoice update to an unknown head answers SYNCING and changes nothing; one whose
//! safe or finalized block is not canonical after the head is applied answers error -38002 and
//! leaves the safe and finalized labels where they were; a forkchoice update without attributes
//! to an ancestor of the canonical head answers VALID and does not rewind. Beyond these answers
//! it is a store: it executes nothing and keeps no state, and it refuses a payload only for a
//! wrong block hash or a transaction listed in [`MemoryState::poison`].
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use alloy_consensus::{Block, BlockBody, EMPTY_ROOT_HASH, Header};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B64, B256, Bytes, U256};
use alloy_rpc_types_engine::{
    ForkchoiceState, ForkchoiceUpdated, PayloadAttributes, PayloadId, PayloadStatus,
    PayloadStatusEnum,
};
use async_trait::async_trait;
use kona_engine::{EngineForkchoiceVersion, EngineGetPayloadVersion};
use kona_genesis::{ChainGenesis, HardForkConfig, RollupConfig, SystemConfig};
use kona_protocol::{BlockInfo, L1BlockInfoTx, L2BlockInfo, OpAttributesWithParent};
use op_alloy_consensus::{OpBlock, OpTxEnvelope, encode_holocene_extra_data};
use op_alloy_rpc_types_engine::{
    OpExecutionPayload, OpExecutionPayloadEnvelope, OpPayloadAttributes,
};
use parking_lot::Mutex;
use rollup_engine::{EngineError, ExecutionEngine, L1BlockReader, L2Head};
use rollup_providers_local::{L2BlockSource, SealedL2Block, SourceError};
use std::{
    collections::HashMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

pub const GENESIS_TIME: u64 = 1_700_000_000;
pub const BLOCK_TIME: u64 = 2;
/// What the fixture reports as the message passer's storage root, at every block.
pub const MESSAGE_PASSER_ROOT: B256 = B256::repeat_byte(0x16);

/// L1: headers 0..n, one per 12 s, the first at genesis time.
pub struct L1Chain {
    pub headers: Vec<Header>,
}

impl L1Chain {
    pub fn new(n: u64) -> Self {
        let mut headers: Vec<Header> = Vec::new();
        for number in 0..n {
            let parent_hash = headers.last().map(Header::hash_slow).unwrap_or_default();
            headers.push(Header {
                number,
                parent_hash,
                timestamp: GENESIS_TIME + number * 12,
                base_fee_per_gas: Some(7),
                ..Default::default()
            });
        }
        Self { headers }
    }

    pub fn info(&self, number: u64) -> BlockInfo {
        let header = &self.headers[number as usize];
        BlockInfo::new(header.hash_slow(), header.number, header.parent_hash, header.timestamp)
    }
}

/// [`L1Chain`] as the engine's L1 reader.
#[derive(Debug)]
pub struct L1Reader(pub Vec<BlockInfo>);

#[async_trait]
impl L1BlockReader for L1Reader {
    async fn block_by_hash(&self, hash: B256) -> Result<Option<BlockInfo>, EngineError> {
        Ok(self.0.iter().find(|b| b.hash == hash).copied())
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<BlockInfo>, EngineError> {
        Ok(self.0.iter().find(|b| b.number == number).copied())
    }
}

/// An L1 reader whose chain a test can reorg, and make fail.
#[derive(Debug)]
pub struct ReorgableL1 {
    pub blocks: Mutex<Vec<BlockInfo>>,
    /// Reads of blocks at or above this number fail (none by default).
    pub fail_from: AtomicU64,
}

impl ReorgableL1 {
    pub fn new(l1: &L1Chain) -> Arc<Self> {
        let blocks = (0..l1.headers.len() as u64).map(|n| l1.info(n)).collect();
        Arc::new(Self { blocks: Mutex::new(blocks), fail_from: AtomicU64::new(u64::MAX) })
    }

    /// Replaces L1 block `number` (and only it: a test needs no more) by another block.
    pub fn reorg(&self, number: u64) -> BlockInfo {
        let mut blocks = self.blocks.lock();
        let block = &mut blocks[number as usize];
        block.hash = alloy_primitives::keccak256(block.hash);
        *block
    }

    fn check(&self, number: u64) -> Result<(), EngineError> {
        if number >= self.fail_from.load(Ordering::SeqCst) {
            return Err(EngineError::l1(std::io::Error::other("L1 unreachable")));
        }
        Ok(())
    }
}

#[async_trait]
impl L1BlockReader for ReorgableL1 {
    async fn block_by_hash(&self, hash: B256) -> Result<Option<BlockInfo>, EngineError> {
        let block = self.blocks.lock().iter().find(|b| b.hash == hash).copied();
        if let Some(block) = block {
            self.check(block.number)?;
        }
        Ok(block)
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<BlockInfo>, EngineError> {
        self.check(number)?;
        Ok(self.blocks.lock().iter().find(|b| b.number == number).copied())
    }
}

/// The L2 genesis block of the fixture chain.
pub fn genesis_block() -> OpBlock {
    Block {
        header: Header {
            number: 0,
            timestamp: GENESIS_TIME,
            gas_limit: 30_000_000,
            base_fee_per_gas: Some(1),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            ..Default::default()
        },
        body: BlockBody {
            transactions: Vec::new(),
            ommers: Vec::new(),
            withdrawals: Some(Default::default()),
        },
    }
}

/// Regolith through Holocene from genesis; Isthmus off (V3 payloads).
pub fn rollup_config(l1: &L1Chain) -> RollupConfig {
    let genesis = genesis_block();
    let from_genesis = Some(0);
    RollupConfig {
        genesis: ChainGenesis {
            l1: l1.info(0).id(),
            l2: alloy_eips::BlockNumHash { number: 0, hash: genesis.header.hash_slow() },
            l2_time: GENESIS_TIME,
            system_config: Some(SystemConfig { gas_limit: 30_000_000, ..Default::default() }),
        },
        block_time: BLOCK_TIME,
        seq_window_size: 100,
        channel_timeout: 50,
        l2_chain_id: 901u64.into(),
        hardforks: HardForkConfig {
            regolith_time: from_genesis,
            canyon_time: from_genesis,
            delta_time: from_genesis,
            ecotone_time: from_genesis,
            fjord_time: from_genesis,
            granite_time: from_genesis,
            holocene_time: from_genesis,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Attributes for the block after `parent`, with origin L1 block `origin` (and sequence number
/// `seq`), the L1-info deposit first and then `user_txs`.
pub fn attributes(
    config: &RollupConfig,
    l1: &L1Chain,
    parent: L2BlockInfo,
    origin: u64,
    seq: u64,
    user_txs: Vec<Bytes>,
    derived_from: Option<u64>,
) -> OpAttributesWithParent {
    let timestamp = parent.block_info.timestamp + config.block_time;
    let (_, deposit) = L1BlockInfoTx::try_new_with_deposit_tx(
        config,
        config.genesis.system_config.as_ref().unwrap(),
        seq,
        &l1.headers[origin as usize],
        timestamp,
    )
    .unwrap();
    let mut transactions = vec![OpTxEnvelope::Deposit(deposit).encoded_2718().into()];
    transactions.extend(user_txs);
    OpAttributesWithParent::new(
        OpPayloadAttributes {
            payload_attributes: PayloadAttributes {
                timestamp,
                prev_randao: B256::with_last_byte(origin as u8),
                suggested_fee_recipient: Address::repeat_byte(0x11),
                withdrawals: Some(Vec::new()),
                parent_beacon_block_root: Some(B256::ZERO),
            },
            transactions: Some(transactions),
            no_tx_pool: Some(true),
            gas_limit: Some(30_000_000),
            eip_1559_params: Some(B64::ZERO),
        },
        parent,
        derived_from.map(|n| l1.info(n)),
        true,
    )
}

/// A user transaction with a made-up signature (the fixture neither recovers nor executes it).
pub fn user_tx(seed: u64) -> Bytes {
    let tx = alloy_consensus::TxLegacy {
        chain_id: Some(901),
        nonce: seed,
        gas_price: 1,
        gas_limit: 21_000,
        to: alloy_primitives::TxKind::Call(Address::repeat_byte(0xbb)),
        value: U256::from(seed),
        input: Bytes::new(),
    };
    let signature = alloy_primitives::Signature::new(U256::from(1), U256::from(seed + 1), false);
    OpTxEnvelope::Legacy(alloy_consensus::Signed::new_unhashed(tx, signature)).encoded_2718().into()
}

#[derive(Debug, Default)]
pub struct MemoryState {
    pub blocks: HashMap<B256, OpBlock>,
    /// Canonical hashes by number.
    pub canonical: Vec<B256>,
    pub safe: Option<B256>,
    pub finalized: Option<B256>,
    payloads: HashMap<PayloadId, OpExecutionPayloadEnvelope>,
    /// Payloads whose parent is unknown, by hash (reth's block buffer).
    pub buffered: HashMap<B256, OpBlock>,
    pub builds: usize,
    pub new_payloads: usize,
    pub forkchoice_updates: usize,
    pub get_payloads: usize,
    /// Forkchoice updates answered with error -38002.
    pub invalid_forkchoice_states: usize,
    /// Payloads containing one of these transactions are INVALID.
    pub poison: Vec<Bytes>,
    /// Every forkchoice update answers SYNCING and changes nothing, as reth's do while its
    /// backfill sync runs.
    pub syncing: bool,
    /// `engine_getPayload` fails with an engine API error (as when the payload job is gone).
    pub fail_get_payload: bool,
    /// The `engine_getPayload` call with this number (counting from 1) fails the same way.
    pub fail_get_payload_call: Option<usize>,
}

/// The in-memory execution layer; see the module docs.
#[derive(Debug)]
pub struct MemoryEngine {
    pub config: RollupConfig,
    pub state: Mutex<MemoryState>,
}

impl MemoryEngine {
    pub fn new(config: RollupConfig) -> Arc<Self> {
        let genesis = genesis_block();
        let hash = genesis.header.hash_slow();
        let mut state = MemoryState::default();
        state.blocks.insert(hash, genesis);
        state.canonical.push(hash);
        Arc::new(Self { config, state: Mutex::new(state) })
    }

    pub fn canonical_block(&self, number: u64) -> Option<SealedL2Block> {
        let state = self.state.lock();
        let hash = *state.canonical.get(number as usize)?;
        Some(SealedL2Block::new(hash, Arc::new(state.blocks[&hash].clone())))
    }

    pub fn head_number(&self) -> u64 {
        self.state.lock().canonical.len() as u64 - 1
    }

    pub fn label_number(&self, head: L2Head) -> Option<u64> {
        let state = self.state.lock();
        let hash = match head {
            L2Head::Latest => state.canonical.last().copied(),
            L2Head::Safe => state.safe,
            L2Head::Finalized => state.finalized,
        }?;
        Some(state.blocks[&hash].header.number)
    }

    /// A payload for `block`, as an engine would hand it out.
    pub fn payload(block: &OpBlock) -> OpExecutionPayloadEnvelope {
        let (execution_payload, sidecar) =
            OpExecutionPayload::from_block_unchecked(block.header.hash_slow(), block);
        OpExecutionPayloadEnvelope {
            parent_beacon_block_root: sidecar.parent_beacon_block_root(),
            execution_payload,
        }
    }

    /// The block `attributes` build, as this fixture builds it.
    pub fn block_for(&self, attributes: &OpPayloadAttributes, parent: &OpBlock) -> OpBlock {
        let transactions =
            attributes.decoded_transactions().collect::<Result<Vec<OpTxEnvelope>, _>>().unwrap();
        let extra_data = encode_holocene_extra_data(
            attributes.eip_1559_params.unwrap_or_default(),
            self.config.chain_op_config.as_canyon_base_fee_params(),
        )
        .unwrap();
        let transactions_root = alloy_consensus::proofs::calculate_transaction_root(&transactions);
        Block {
            header: Header {
                transactions_root,
                parent_hash: parent.header.hash_slow(),
                number: parent.header.number + 1,
                timestamp: attributes.payload_attributes.timestamp,
                beneficiary: attributes.payload_attributes.suggested_fee_recipient,
                mix_hash: attributes.payload_attributes.prev_randao,
                gas_limit: attributes.gas_limit.unwrap(),
                parent_beacon_block_root: attributes.payload_attributes.parent_beacon_block_root,
                withdrawals_root: Some(EMPTY_ROOT_HASH),
                base_fee_per_gas: Some(1),
                // Cancun's blob fields, as a V3 payload carries them.
                blob_gas_used: Some(0),
                excess_blob_gas: Some(0),
                extra_data,
                ..Default::default()
            },
            body: BlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals: Some(Default::default()),
            },
        }
    }

    /// Stores `blocks` (each the child of the one before) and makes the last one the canonical
    /// head, with `finalized` as its finalized label, as a finished sync would leave the
    /// execution layer; ends [`MemoryState::syncing`]. One step, so the engine never sees half
    /// of it.
    pub fn sync_to(&self, blocks: Vec<OpBlock>, finalized: Option<B256>) {
        let mut state = self.state.lock();
        if finalized.is_some() {
            state.finalized = finalized;
        }
        let mut head = None;
        for block in blocks {
            let hash = block.header.hash_slow();
            state.blocks.insert(hash, block);
            head = Some(hash);
        }
        if let Some(head) = head {
            Self::set_canonical(&mut state, head);
        }
        state.syncing = false;
    }

    fn poisoned(state: &MemoryState, block: &OpBlock) -> bool {
        block.body.transactions.iter().any(|tx| {
            let raw: Bytes = tx.encoded_2718().into();
            state.poison.contains(&raw)
        })
    }

    /// Imports buffered descendants of `parent` (reth connects them once the parent is known).
    fn connect_buffered(state: &mut MemoryState, parent: B256) {
        let children: Vec<B256> = state
            .buffered
            .iter()
            .filter(|(_, block)| block.header.parent_hash == parent)
            .map(|(hash, _)| *hash)
            .collect();
        for hash in children {
            let Some(block) = state.buffered.remove(&hash) else { continue };
            if Self::poisoned(state, &block) {
                continue;
            }
            state.blocks.insert(hash, block);
            Self::connect_buffered(state, hash);
        }
    }

    fn start_build(
        &self,
        state: &mut MemoryState,
        attributes: &OpPayloadAttributes,
        parent: &OpBlock,
    ) -> ForkchoiceUpdated {
        state.builds += 1;
        let block = self.block_for(attributes, parent);
        let id = PayloadId::new((state.builds as u64).to_be_bytes());
        state.payloads.insert(id, Self::payload(&block));
        ForkchoiceUpdated::from_status(PayloadStatusEnum::Valid).with_payload_id(id)
    }

    fn set_canonical(state: &mut MemoryState, head: B256) {
        let mut chain = vec![head];
        let mut cursor = head;
        while let Some(block) = state.blocks.get(&cursor) {
            if block.header.number == 0 {
                break;
            }
            cursor = block.header.parent_hash;
            chain.push(cursor);
        }
        chain.reverse();
        state.canonical = chain;
    }
}

fn valid() -> PayloadStatus {
    PayloadStatus::from_status(PayloadStatusEnum::Valid)
}

fn invalid(why: &str) -> PayloadStatus {
    PayloadStatus::from_status(PayloadStatusEnum::Invalid { validation_error: why.into() })
}

/// The engine API error reth answers an inconsistent forkchoice state with.
fn invalid_forkchoice_state() -> EngineError {
    EngineError::Rejected {
        method: "engine_forkchoiceUpdatedV3",
        code: alloy_rpc_types_engine::INVALID_FORK_CHOICE_STATE_ERROR,
        message: "Invalid forkchoice state".into(),
    }
}

#[async_trait]
impl ExecutionEngine for MemoryEngine {
    async fn new_payload(
        &self,
        envelope: OpExecutionPayloadEnvelope,
    ) -> Result<PayloadStatus, EngineError> {
        let claimed = envelope.execution_payload.as_v1().block_hash;
        let block: OpBlock = rollup_engine::payload_to_block(&envelope).unwrap();
        let mut state = self.state.lock();
        state.new_payloads += 1;
        if block.header.hash_slow() != claimed {
            return Ok(invalid("block hash mismatch"));
        }
        if state.blocks.contains_key(&claimed) {
            return Ok(valid());
        }
        if !state.blocks.contains_key(&block.header.parent_hash) {
            // reth buffers it and downloads the missing ancestors.
            state.buffered.insert(claimed, block);
            return Ok(PayloadStatus::from_status(PayloadStatusEnum::Syncing));
        }
        if Self::poisoned(&state, &block) {
            return Ok(invalid("poisoned transaction"));
        }
        state.blocks.insert(claimed, block);
        Self::connect_buffered(&mut state, claimed);
        Ok(valid())
    }

    async fn forkchoice_updated(
        &self,
        _version: EngineForkchoiceVersion,
        forkchoice: ForkchoiceState,
        attributes: Option<OpPayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        let mut state = self.state.lock();
        state.forkchoice_updates += 1;
        if state.syncing {
            return Ok(ForkchoiceUpdated::from_status(PayloadStatusEnum::Syncing));
        }
        if forkchoice.head_block_hash.is_zero() {
            state.invalid_forkchoice_states += 1;
            return Err(invalid_forkchoice_state());
        }
        let Some(head) = state.blocks.get(&forkchoice.head_block_hash).cloned() else {
            return Ok(ForkchoiceUpdated::from_status(PayloadStatusEnum::Syncing));
        };
        let tip = state.canonical.last().copied();
        let on_canonical =
            state.canonical.get(head.header.number as usize) == Some(&forkchoice.head_block_hash);
        if on_canonical && tip != Some(forkchoice.head_block_hash) {
            // An ancestor of the canonical head: reth neither rewinds nor moves the labels; with
            // attributes (OP) it builds on it.
            let mut updated = ForkchoiceUpdated::from_status(PayloadStatusEnum::Valid);
            if let Some(attributes) = attributes {
                updated = self.start_build(&mut state, &attributes, &head);
            }
            return Ok(updated);
        }
        if !on_canonical {
            // A block off the canonical chain becomes the head first (a reorg) …
            Self::set_canonical(&mut state, forkchoice.head_block_hash);
        }
        // … then safe and finalized must be on the canonical chain, or the update is refused
        // with the labels unchanged.
        let canonical = |state: &MemoryState, hash: B256| {
            hash.is_zero()
                || state.blocks.get(&hash).is_some_and(|block| {
                    state.canonical.get(block.header.number as usize) == Some(&hash)
                })
        };
        if !canonical(&state, forkchoice.safe_block_hash)
            || !canonical(&state, forkchoice.finalized_block_hash)
        {
            state.invalid_forkchoice_states += 1;
            return Err(invalid_forkchoice_state());
        }
        if !forkchoice.safe_block_hash.is_zero() {
            state.safe = Some(forkchoice.safe_block_hash);
        }
        if !forkchoice.finalized_block_hash.is_zero() {
            state.finalized = Some(forkchoice.finalized_block_hash);
        }
        let mut updated = ForkchoiceUpdated::from_status(PayloadStatusEnum::Valid);
        if let Some(attributes) = attributes {
            updated = self.start_build(&mut state, &attributes, &head);
        }
        Ok(updated)
    }

    async fn get_payload(
        &self,
        _version: EngineGetPayloadVersion,
        payload_id: PayloadId,
    ) -> Result<OpExecutionPayloadEnvelope, EngineError> {
        let mut state = self.state.lock();
        state.get_payloads += 1;
        if state.fail_get_payload || state.fail_get_payload_call == Some(state.get_payloads) {
            return Err(EngineError::Rejected {
                method: "engine_getPayloadV3",
                code: -38001,
                message: "unknown payload".into(),
            });
        }
        state.payloads.remove(&payload_id).ok_or(EngineError::Rejected {
            method: "engine_getPayloadV3",
            code: -38001,
            message: "unknown payload".into(),
        })
    }

    async fn head(&self, head: L2Head) -> Result<Option<SealedL2Block>, EngineError> {
        let state = self.state.lock();
        let hash = match head {
            L2Head::Latest => state.canonical.last().copied(),
            L2Head::Safe => state.safe,
            L2Head::Finalized => state.finalized,
        };
        Ok(hash.map(|hash| SealedL2Block::new(hash, Arc::new(state.blocks[&hash].clone()))))
    }

    async fn message_passer_storage_root(&self, _block: B256) -> Result<B256, EngineError> {
        Ok(MESSAGE_PASSER_ROOT)
    }
}

/// The fixture as the L2 buffer's fallback (the buffer stays empty in these tests: every read
/// goes to the "database").
#[async_trait]
impl L2BlockSource for MemoryEngine {
    async fn block_by_number(&self, number: u64) -> Result<Option<SealedL2Block>, SourceError> {
        Ok(self.canonical_block(number))
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<SealedL2Block>, SourceError> {
        let state = self.state.lock();
        Ok(state.blocks.get(&hash).map(|b| SealedL2Block::new(hash, Arc::new(b.clone()))))
    }
}

/// A metrics recorder that keeps counters (other kinds are dropped), installed globally once per
/// test process.
#[derive(Debug, Default)]
pub struct CountingRecorder {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

impl CountingRecorder {
    /// The process-wide recorder, installed on first use.
    pub fn global() -> &'static Self {
        static RECORDER: OnceLock<&'static CountingRecorder> = OnceLock::new();
        RECORDER.get_or_init(|| {
            let recorder: &'static Self = Box::leak(Box::default());
            metrics::set_global_recorder(recorder).expect("no other recorder in the tests");
            recorder
        })
    }

    /// The value of counter `name` with exactly `labels`.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        self.counters
            .lock()
            .get(&format!("{name}{{{}}}", labels.join(",")))
            .map_or(0, |value| value.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn handle(&self, key: &metrics::Key) -> Arc<AtomicU64> {
        let mut labels: Vec<String> =
            key.labels().map(|label| format!("{}={}", label.key(), label.value())).collect();
        labels.sort();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        self.counters.lock().entry(id).or_default().clone()
    }
}

impl metrics::Recorder for CountingRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.handle(key))
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}
