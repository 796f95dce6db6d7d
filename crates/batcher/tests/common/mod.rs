//! Shared fixtures: a rollup config, L1 origins, and L2 chains whose blocks start with a real
//! L1-info deposit (built by kona's `L1BlockInfoTx::try_new_with_deposit_tx`) followed by signed
//! user transactions; and the decoding side, kona's frame parser, channel and batch reader.

#![allow(dead_code, unreachable_pub)]

use alloy_consensus::{
    Block, BlockBody, Header, SignableTransaction, TxEip1559, TxEip2930, TxLegacy,
};
use alloy_primitives::{Address, B256, Bytes, Sealable, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use kona_genesis::{ChainGenesis, HardForkConfig, RollupConfig, SystemConfig};
use kona_protocol::{Batch, BatchReader, BlockInfo, Channel, Frame, L1BlockInfoTx};
use op_alloy_consensus::{OpBlock, OpTxEnvelope, TxDeposit};
use proptest::prelude::*;

/// The L2 chain id the fixtures sign for.
pub const L2_CHAIN_ID: u64 = 901;
/// L2 genesis time.
pub const GENESIS_TIME: u64 = 1_700_000_000;
/// L2 block time.
pub const BLOCK_TIME: u64 = 2;
/// L1 block time; no longer than the L2 block time, so that however often the generated blocks
/// advance their origin, the origin is never newer than the block.
const L1_BLOCK_TIME: u64 = BLOCK_TIME;
/// Number of the first L1 origin.
const FIRST_L1_NUMBER: u64 = 100;

/// A rollup with Delta (span batches) from genesis, and Fjord (brotli, 100 MB channels) through
/// Isthmus from genesis when `fjord` is set, Ecotone otherwise.
pub fn rollup_config(fjord: bool) -> RollupConfig {
    let from_genesis = Some(0);
    let after_fjord = if fjord { from_genesis } else { None };
    RollupConfig {
        genesis: ChainGenesis {
            l1: alloy_eips::BlockNumHash { number: FIRST_L1_NUMBER, hash: B256::repeat_byte(1) },
            l2: alloy_eips::BlockNumHash { number: 0, hash: B256::repeat_byte(2) },
            l2_time: GENESIS_TIME,
            system_config: Some(SystemConfig::default()),
        },
        block_time: BLOCK_TIME,
        l2_chain_id: L2_CHAIN_ID.into(),
        hardforks: HardForkConfig {
            regolith_time: from_genesis,
            canyon_time: from_genesis,
            delta_time: from_genesis,
            ecotone_time: from_genesis,
            fjord_time: after_fjord,
            granite_time: after_fjord,
            holocene_time: after_fjord,
            isthmus_time: after_fjord,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A user transaction to generate.
#[derive(Debug, Clone)]
pub struct TxSpec {
    pub kind: TxKindSpec,
    pub nonce: u64,
    pub gas_limit: u64,
    pub fee: u128,
    /// `None` creates a contract.
    pub to: Option<Address>,
    pub value: u64,
    pub input: Vec<u8>,
}

/// The user transaction types span batches carry (EIP-7702 left out: it needs Isthmus and an
/// authorization list).
#[derive(Debug, Clone, Copy)]
pub enum TxKindSpec {
    /// Legacy, with EIP-155 replay protection or without.
    Legacy {
        protected: bool,
    },
    Eip2930,
    Eip1559,
}

/// One L2 block to generate.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    /// Whether the block starts a new epoch (L1 origin + 1, sequence number 0).
    pub advance_origin: bool,
    /// Whether an extra (user) deposit follows the L1-info deposit; batches leave it out.
    pub user_deposit: bool,
    pub txs: Vec<TxSpec>,
}

/// Random user transactions: mostly small inputs, sometimes a few KB of incompressible bytes so
/// that channels span many frames.
pub fn tx_spec() -> impl Strategy<Value = TxSpec> {
    let kind = prop_oneof![
        any::<bool>().prop_map(|protected| TxKindSpec::Legacy { protected }),
        Just(TxKindSpec::Eip2930),
        Just(TxKindSpec::Eip1559),
    ];
    let input = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::collection::vec(any::<u8>(), 1_000..4_000),
    ];
    (
        kind,
        any::<u64>(),
        21_000u64..30_000_000,
        1u128..1_000_000_000_000,
        prop::option::weighted(0.9, any::<[u8; 20]>().prop_map(Address::from)),
        any::<u64>(),
        input,
    )
        .prop_map(|(kind, nonce, gas_limit, fee, to, value, input)| TxSpec {
            kind,
            nonce,
            gas_limit,
            fee,
            to,
            value,
            input,
        })
}

/// A block with 0 to `max_txs` user transactions.
pub fn block_spec(max_txs: usize) -> impl Strategy<Value = BlockSpec> {
    (any::<bool>(), prop::bool::weighted(0.2), prop::collection::vec(tx_spec(), 0..=max_txs))
        .prop_map(|(advance_origin, user_deposit, txs)| BlockSpec {
            advance_origin,
            user_deposit,
            txs,
        })
}

/// A generated L2 chain and the L1 blocks its blocks take as origins.
#[derive(Debug, Clone)]
pub struct Chain {
    pub blocks: Vec<OpBlock>,
    pub l1_blocks: Vec<BlockInfo>,
}

fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap()
}

fn sign<T: SignableTransaction<alloy_primitives::Signature>>(
    signer: &PrivateKeySigner,
    tx: T,
) -> alloy_consensus::Signed<T> {
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature)
}

/// Signs a generated user transaction for `chain_id`.
pub fn user_tx(signer: &PrivateKeySigner, spec: &TxSpec, chain_id: u64) -> OpTxEnvelope {
    let to = spec.to.map_or(TxKind::Create, TxKind::Call);
    let value = U256::from(spec.value);
    let input = Bytes::from(spec.input.clone());
    match spec.kind {
        TxKindSpec::Legacy { protected } => OpTxEnvelope::Legacy(sign(
            signer,
            TxLegacy {
                chain_id: protected.then_some(chain_id),
                nonce: spec.nonce,
                gas_price: spec.fee,
                gas_limit: spec.gas_limit,
                to,
                value,
                input,
            },
        )),
        TxKindSpec::Eip2930 => OpTxEnvelope::Eip2930(sign(
            signer,
            TxEip2930 {
                chain_id,
                nonce: spec.nonce,
                gas_price: spec.fee,
                gas_limit: spec.gas_limit,
                to,
                value,
                input,
                access_list: Default::default(),
            },
        )),
        TxKindSpec::Eip1559 => OpTxEnvelope::Eip1559(sign(
            signer,
            TxEip1559 {
                chain_id,
                nonce: spec.nonce,
                gas_limit: spec.gas_limit,
                max_fee_per_gas: spec.fee,
                max_priority_fee_per_gas: spec.fee / 2,
                to,
                value,
                input,
                access_list: Default::default(),
            },
        )),
    }
}

/// The L1 header of origin `index` (0-based from the first origin).
fn l1_header(index: u64, parent_hash: B256) -> Header {
    Header {
        parent_hash,
        number: FIRST_L1_NUMBER + index,
        // The first origin predates the L2 genesis, as an L2 block's origin always does.
        timestamp: GENESIS_TIME - L1_BLOCK_TIME + index * L1_BLOCK_TIME,
        base_fee_per_gas: Some(7 + index),
        ..Default::default()
    }
}

/// An L2 block `number` on top of `parent_hash`, with an L1-info deposit for `l1` and `seq_num`.
pub fn l2_block(
    rollup_config: &RollupConfig,
    number: u64,
    parent_hash: B256,
    l1: &Header,
    seq_num: u64,
    transactions: impl IntoIterator<Item = OpTxEnvelope>,
) -> OpBlock {
    let timestamp = rollup_config.genesis.l2_time + number * rollup_config.block_time;
    let (_, l1_info) = L1BlockInfoTx::try_new_with_deposit_tx(
        rollup_config,
        &SystemConfig::default(),
        seq_num,
        l1,
        timestamp,
    )
    .unwrap();
    let mut txs = vec![OpTxEnvelope::Deposit(l1_info)];
    txs.extend(transactions);
    Block {
        header: Header {
            parent_hash,
            number,
            timestamp,
            gas_limit: 30_000_000,
            base_fee_per_gas: Some(1),
            ..Default::default()
        },
        body: BlockBody { transactions: txs, ommers: Vec::new(), withdrawals: None },
    }
}

/// A user deposit (as the ones following the L1-info deposit at an epoch's start).
fn user_deposit(seed: u64) -> OpTxEnvelope {
    OpTxEnvelope::Deposit(
        TxDeposit {
            source_hash: B256::from(U256::from(seed)),
            from: Address::repeat_byte(0xaa),
            to: TxKind::Call(Address::repeat_byte(0xbb)),
            mint: 1,
            value: U256::from(seed),
            gas_limit: 100_000,
            is_system_transaction: false,
            input: Bytes::from_static(b"deposit"),
        }
        .seal_slow(),
    )
}

fn l1_block_info(header: &Header) -> BlockInfo {
    BlockInfo::new(header.hash_slow(), header.number, header.parent_hash, header.timestamp)
}

/// Builds L2 blocks 1.. from the specs on top of the genesis in `rollup_config`.
pub fn build_chain(rollup_config: &RollupConfig, specs: &[BlockSpec]) -> Chain {
    let signer = signer();
    let mut l1 = l1_header(0, B256::ZERO);
    let mut l1_blocks = vec![l1_block_info(&l1)];
    let mut blocks: Vec<OpBlock> = Vec::new();
    let mut parent_hash = rollup_config.genesis.l2.hash;
    // The first block continues the genesis epoch unless its spec advances it.
    let mut seq_num = 0;
    for (i, spec) in specs.iter().enumerate() {
        if spec.advance_origin && i > 0 {
            l1 = l1_header(l1.number - FIRST_L1_NUMBER + 1, l1.hash_slow());
            l1_blocks.push(l1_block_info(&l1));
            seq_num = 0;
        } else if !(spec.advance_origin && i == 0) {
            seq_num += 1;
        }
        let mut txs = Vec::new();
        if spec.user_deposit {
            txs.push(user_deposit(i as u64));
        }
        txs.extend(spec.txs.iter().map(|tx| user_tx(&signer, tx, L2_CHAIN_ID)));
        let block = l2_block(rollup_config, i as u64 + 1, parent_hash, &l1, seq_num, txs);
        parent_hash = block.header.hash_slow();
        blocks.push(block);
    }
    Chain { blocks, l1_blocks }
}

/// Reads batcher transactions back as kona-derive does: strip the version byte and parse the
/// frames (`Frame::parse_frames`), assemble them into a kona `Channel`, then decompress and read
/// batches with `BatchReader` under the max RLP bytes of the fork active at
/// `l1_inclusion_timestamp`.
pub fn decode_batcher_transactions(
    rollup_config: &RollupConfig,
    calldata: &[Bytes],
    l1_inclusion_timestamp: u64,
) -> Vec<Batch> {
    let frames: Vec<Frame> =
        calldata.iter().flat_map(|data| Frame::parse_frames(data).unwrap()).collect();
    let inclusion = BlockInfo { timestamp: l1_inclusion_timestamp, ..Default::default() };
    let mut channel = Channel::new(frames[0].id, inclusion);
    for frame in frames {
        channel.add_frame(frame, inclusion).unwrap();
    }
    assert!(channel.is_ready(), "all frames through the last one were added");
    let max_rlp_bytes = rollup_config.max_rlp_bytes_per_channel(l1_inclusion_timestamp) as usize;
    // kona-derive's channel assembler drops channels above this size.
    assert!(channel.size() <= max_rlp_bytes);

    let mut reader = BatchReader::new(channel.frame_data().unwrap(), max_rlp_bytes);
    let mut batches = Vec::new();
    while let Some(batch) = reader.next_batch(rollup_config) {
        batches.push(batch);
    }
    batches
}
