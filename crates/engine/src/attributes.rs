//! Whether derived payload attributes describe a block the execution layer already has.
//!
//! Consolidation compares derived attributes with the unsafe block at their height: equal →
//! the block becomes safe without re-executing it. The fields compared are kona-engine 0.1.2's;
//! the comparison reads the consensus block from memory (no RPC block, no JSON).

use alloy_consensus::EMPTY_ROOT_HASH;
use alloy_eips::{Encodable2718, eip1559::BaseFeeParams};
use alloy_primitives::{Address, B256};
use kona_genesis::RollupConfig;
use kona_protocol::OpAttributesWithParent;
use op_alloy_consensus::{OpBlock, decode_holocene_extra_data};

/// How derived attributes differ from a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributesMismatch {
    /// Different parent.
    #[error("parent hash: attributes {0}, block {1}")]
    ParentHash(B256, B256),
    /// Different timestamp.
    #[error("timestamp: attributes {0}, block {1}")]
    Timestamp(u64, u64),
    /// Different `prev_randao` (the block's mix hash).
    #[error("prev_randao: attributes {0}, block {1}")]
    PrevRandao(B256, B256),
    /// Different number of transactions.
    #[error("transaction count: attributes {0}, block {1}")]
    TransactionCount(usize, usize),
    /// A transaction differs.
    #[error("transaction {0} differs")]
    Transaction(usize),
    /// The attributes set no gas limit (required since Regolith).
    #[error("attributes without gas limit")]
    MissingGasLimit,
    /// Different gas limit.
    #[error("gas limit: attributes {0}, block {1}")]
    GasLimit(u64, u64),
    /// Withdrawals are not as the active fork requires.
    #[error("withdrawals do not fit the active fork")]
    Withdrawals,
    /// Different parent beacon block root.
    #[error("parent beacon block root: attributes {0:?}, block {1:?}")]
    ParentBeaconBlockRoot(Option<B256>, Option<B256>),
    /// Different fee recipient.
    #[error("fee recipient: attributes {0}, block {1}")]
    FeeRecipient(Address, Address),
    /// Holocene EIP-1559 parameters missing or different.
    #[error("EIP-1559 parameters: attributes {0:?}, block {1:?}")]
    Eip1559Params(Option<(u128, u128)>, Option<(u128, u128)>),
}

/// `Ok` when `block` is what building `attributes` would produce.
pub fn check_attributes(
    config: &RollupConfig,
    attributes: &OpAttributesWithParent,
    block: &OpBlock,
) -> Result<(), AttributesMismatch> {
    let header = &block.header;
    let payload = &attributes.inner.payload_attributes;
    if attributes.parent.block_info.hash != header.parent_hash {
        return Err(AttributesMismatch::ParentHash(
            attributes.parent.block_info.hash,
            header.parent_hash,
        ));
    }
    if payload.timestamp != header.timestamp {
        return Err(AttributesMismatch::Timestamp(payload.timestamp, header.timestamp));
    }
    if payload.prev_randao != header.mix_hash {
        return Err(AttributesMismatch::PrevRandao(payload.prev_randao, header.mix_hash));
    }
    let derived = attributes.inner.transactions.as_deref().unwrap_or_default();
    let included = &block.body.transactions;
    if derived.len() != included.len() {
        return Err(AttributesMismatch::TransactionCount(derived.len(), included.len()));
    }
    // Comparing encodings is exact and cheaper than decoding the attributes' transactions.
    let mut encoded = Vec::new();
    for (index, (raw, tx)) in derived.iter().zip(included).enumerate() {
        encoded.clear();
        tx.encode_2718(&mut encoded);
        if raw.as_ref() != encoded.as_slice() {
            return Err(AttributesMismatch::Transaction(index));
        }
    }
    let gas_limit = attributes.inner.gas_limit.ok_or(AttributesMismatch::MissingGasLimit)?;
    if gas_limit != header.gas_limit {
        return Err(AttributesMismatch::GasLimit(gas_limit, header.gas_limit));
    }
    check_withdrawals(config, attributes, block)?;
    if payload.parent_beacon_block_root != header.parent_beacon_block_root {
        return Err(AttributesMismatch::ParentBeaconBlockRoot(
            payload.parent_beacon_block_root,
            header.parent_beacon_block_root,
        ));
    }
    if payload.suggested_fee_recipient != header.beneficiary {
        return Err(AttributesMismatch::FeeRecipient(
            payload.suggested_fee_recipient,
            header.beneficiary,
        ));
    }
    check_eip1559(config, attributes, block)
}

fn check_withdrawals(
    config: &RollupConfig,
    attributes: &OpAttributesWithParent,
    block: &OpBlock,
) -> Result<(), AttributesMismatch> {
    let timestamp = block.header.timestamp;
    let derived = attributes.inner.payload_attributes.withdrawals.as_ref();
    if config.is_canyon_active(timestamp) {
        // Canyon: an empty withdrawals list on both sides; before Isthmus an empty root.
        let empty = |w: Option<usize>| w == Some(0);
        if !empty(derived.map(Vec::len)) || !empty(block.body.withdrawals.as_ref().map(|w| w.len()))
        {
            return Err(AttributesMismatch::Withdrawals);
        }
        if config.is_isthmus_active(timestamp) {
            if block.header.withdrawals_root.is_none() {
                return Err(AttributesMismatch::Withdrawals);
            }
        } else if block.header.withdrawals_root != Some(EMPTY_ROOT_HASH) {
            return Err(AttributesMismatch::Withdrawals);
        }
    } else if derived.is_some() {
        return Err(AttributesMismatch::Withdrawals);
    }
    Ok(())
}

fn check_eip1559(
    config: &RollupConfig,
    attributes: &OpAttributesWithParent,
    block: &OpBlock,
) -> Result<(), AttributesMismatch> {
    let timestamp = block.header.timestamp;
    let derived = match attributes.inner.decode_eip_1559_params() {
        None if config.is_holocene_active(timestamp) => {
            return Err(AttributesMismatch::Eip1559Params(None, None));
        }
        None => return Ok(()),
        // (0, 0) means "the chain's Canyon parameters".
        Some((0, 0)) => {
            let BaseFeeParams { max_change_denominator, elasticity_multiplier } =
                config.chain_op_config.as_canyon_base_fee_params();
            (elasticity_multiplier, max_change_denominator)
        }
        Some((elasticity, denominator)) => (u128::from(elasticity), u128::from(denominator)),
    };
    if derived.1 == 0 && derived.0 != 0 {
        return Err(AttributesMismatch::Eip1559Params(Some(derived), None));
    }
    let included = decode_holocene_extra_data(&block.header.extra_data)
        .ok()
        .map(|(elasticity, denominator)| (u128::from(elasticity), u128::from(denominator)));
    if included != Some(derived) {
        return Err(AttributesMismatch::Eip1559Params(Some(derived), included));
    }
    Ok(())
}

/// Whether every transaction of `attributes` is a deposit.
///
/// Not kona-protocol 0.4.5's `OpAttributesWithParent::is_deposits_only`, which looks only at the
/// first transaction (always the L1-info deposit), so it holds for every derived block.
pub fn is_deposits_only(attributes: &OpAttributesWithParent) -> bool {
    attributes.inner.transactions.iter().flatten().all(|tx| tx.first() == Some(&DEPOSIT_TX_TYPE))
}

/// `attributes` with their user transactions removed: Holocene's replacement of an invalid
/// derived block.
///
/// Not kona-protocol 0.4.5's `as_deposits_only`, which replaces *every* transaction with the one
/// byte `0x7e`.
pub fn deposits_only(attributes: &OpAttributesWithParent) -> OpAttributesWithParent {
    let mut replacement = attributes.clone();
    if let Some(transactions) = replacement.inner.transactions.as_mut() {
        transactions.retain(|tx| tx.first() == Some(&DEPOSIT_TX_TYPE));
    }
    replacement
}

/// The EIP-2718 type byte of deposit transactions.
const DEPOSIT_TX_TYPE: u8 = op_alloy_consensus::DEPOSIT_TX_TYPE_ID;
