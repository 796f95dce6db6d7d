//! L2 blocks into batches: kona's [`SingleBatch`] per block and [`SpanBatch`] per run of blocks.

use std::sync::Arc;

use alloy_eips::{Typed2718, eip2718::Encodable2718};
use alloy_primitives::Bytes;
use kona_genesis::RollupConfig;
use kona_protocol::{
    BlockInfo, L1BlockInfoTx, L2BlockInfo, MAX_SPAN_BATCH_ELEMENTS, SingleBatch, SpanBatch,
    SpanBatchError, SpanBatchTransactions,
};
use op_alloy_consensus::{OpBlock, OpTxEnvelope};

use crate::BatcherError;

/// One L2 block as the batcher sees it: its singular batch plus the block and L1-origin facts
/// that span batches need and that the batch itself does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockBatch {
    /// The block's hash, number, parent and timestamp, its L1 origin and its sequence number
    /// within that epoch (all read from the block and its L1-info deposit).
    pub info: L2BlockInfo,
    /// Timestamp of the L1 origin block, from the L1-info deposit; derivation checks Delta against
    /// it before accepting a span batch.
    pub l1_origin_timestamp: u64,
    /// The singular batch: parent hash, epoch, timestamp and the non-deposit transactions.
    pub batch: SingleBatch,
}

impl BlockBatch {
    /// Reads an L2 block into its batch.
    ///
    /// The epoch (L1 origin number and hash) and sequence number come from the block's first
    /// transaction, the L1-info deposit, decoded by kona's [`L1BlockInfoTx::decode_calldata`].
    /// Every deposit is left out of the batch (derivation re-creates them from L1); the other
    /// transactions are EIP-2718 encoded, in block order.
    pub fn from_block(block: &OpBlock, rollup_config: &RollupConfig) -> Result<Self, BatcherError> {
        let number = block.header.number;
        let genesis = rollup_config.genesis.l2.number;
        if number <= genesis {
            return Err(BatcherError::GenesisBlock { number, genesis });
        }

        let first =
            block.body.transactions.first().ok_or(BatcherError::MissingL1InfoDeposit { number })?;
        let OpTxEnvelope::Deposit(deposit) = first else {
            return Err(BatcherError::FirstTxNotDeposit { number, tx_type: first.ty() });
        };
        let l1_info = L1BlockInfoTx::decode_calldata(deposit.input.as_ref())
            .map_err(|source| BatcherError::L1InfoDecode { number, source })?;
        // `L1BlockInfoTx` exposes the origin's number and hash but not its time; every variant
        // carries it.
        let l1_origin_timestamp = match l1_info {
            L1BlockInfoTx::Bedrock(info) => info.time,
            L1BlockInfoTx::Ecotone(info) => info.time,
            L1BlockInfoTx::Isthmus(info) => info.time,
        };

        let info =
            L2BlockInfo::new(BlockInfo::from(block), l1_info.id(), l1_info.sequence_number());
        let transactions = block
            .body
            .transactions
            .iter()
            .filter(|tx| !tx.is_deposit())
            .map(|tx| Bytes::from(tx.encoded_2718()))
            .collect();
        let batch = SingleBatch {
            parent_hash: info.block_info.parent_hash,
            epoch_num: info.l1_origin.number,
            epoch_hash: info.l1_origin.hash,
            timestamp: info.block_info.timestamp,
            transactions,
        };
        Ok(Self { info, l1_origin_timestamp, batch })
    }
}

/// Reads an L2 block into its [`SingleBatch`]; see [`BlockBatch::from_block`].
pub fn single_batch_from_block(
    block: &OpBlock,
    rollup_config: &RollupConfig,
) -> Result<SingleBatch, BatcherError> {
    BlockBatch::from_block(block, rollup_config).map(|block| block.batch)
}

/// Builds one [`SpanBatch`] from a run of consecutive L2 blocks.
///
/// Each [`push`](Self::push) checks what the span batch format cannot express (a parent other
/// than the previous block, a timestamp step other than the block time, an L1 origin that jumps
/// by more than one block) and runs kona's own span transaction encoder on the block's
/// transactions, so a refused block leaves the builder unchanged and the caller may close the
/// span there.
#[derive(Debug, Clone)]
pub struct SpanBatchBuilder {
    rollup_config: Arc<RollupConfig>,
    span: SpanBatch,
    last: Option<L2BlockInfo>,
    total_txs: u64,
}

impl SpanBatchBuilder {
    /// An empty span batch for `rollup_config`'s chain: its transactions are encoded for the L2
    /// chain id and its timestamps are relative to the L2 genesis time, as derivation reads them.
    pub fn new(rollup_config: Arc<RollupConfig>) -> Self {
        let span = SpanBatch {
            genesis_timestamp: rollup_config.genesis.l2_time,
            chain_id: rollup_config.l2_chain_id.id(),
            ..Default::default()
        };
        Self { rollup_config, span, last: None, total_txs: 0 }
    }

    /// Number of blocks in the span.
    pub fn len(&self) -> usize {
        self.span.batches.len()
    }

    /// Whether no block was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.span.batches.is_empty()
    }

    /// The last block pushed, if any.
    pub const fn last_block(&self) -> Option<&L2BlockInfo> {
        self.last.as_ref()
    }

    /// The span batch built so far.
    pub const fn span_batch(&self) -> &SpanBatch {
        &self.span
    }

    /// Reads `block` (see [`BlockBatch::from_block`]) and appends it.
    pub fn push_block(&mut self, block: &OpBlock) -> Result<(), BatcherError> {
        let block = BlockBatch::from_block(block, &self.rollup_config)?;
        self.push(block)
    }

    /// Appends a block; on error the builder is unchanged.
    pub fn push(&mut self, block: BlockBatch) -> Result<(), BatcherError> {
        let BlockBatch { info, l1_origin_timestamp, batch } = block;
        let number = info.block_info.number;
        match &self.last {
            None => {
                if !self.rollup_config.is_delta_active(l1_origin_timestamp) {
                    return Err(BatcherError::SpanBeforeDelta {
                        number,
                        l1_origin_time: l1_origin_timestamp,
                    });
                }
                // The span stores `timestamp - genesis_time`; kona subtracts without a check.
                if batch.timestamp < self.span.genesis_timestamp {
                    return Err(BatcherError::SpanBeforeGenesis {
                        timestamp: batch.timestamp,
                        genesis_time: self.span.genesis_timestamp,
                    });
                }
            }
            Some(previous) => {
                if info.block_info.parent_hash != previous.block_info.hash {
                    return Err(BatcherError::SpanParentMismatch {
                        number,
                        parent: info.block_info.parent_hash,
                        expected: previous.block_info.hash,
                    });
                }
                let expected = previous.block_info.timestamp + self.rollup_config.block_time;
                if batch.timestamp != expected {
                    return Err(BatcherError::SpanTimestampGap {
                        number,
                        timestamp: batch.timestamp,
                        expected,
                    });
                }
                let same_origin = info.l1_origin == previous.l1_origin;
                let next_origin = info.l1_origin.number == previous.l1_origin.number + 1;
                if !same_origin && !next_origin {
                    return Err(BatcherError::SpanL1OriginJump {
                        number,
                        origin_number: info.l1_origin.number,
                        origin_hash: info.l1_origin.hash,
                        previous_number: previous.l1_origin.number,
                        previous_hash: previous.l1_origin.hash,
                    });
                }
            }
        }

        // Derivation refuses span batches with more blocks or transactions than this.
        let block_txs = batch.transactions.len() as u64;
        if self.len() as u64 + 1 > MAX_SPAN_BATCH_ELEMENTS
            || self.total_txs + block_txs > MAX_SPAN_BATCH_ELEMENTS
        {
            return Err(SpanBatchError::TooBigSpanBatchSize.into());
        }

        // `append_singular_batch` pushes the block before encoding its transactions, so a
        // transaction it refuses would leave the span half-updated. Encoding them on their own
        // first, with the same kona encoder and chain id, refuses the block up front instead.
        SpanBatchTransactions::default().add_txs(batch.transactions.clone(), self.span.chain_id)?;

        self.span.append_singular_batch(batch, info.seq_num)?;
        self.total_txs += block_txs;
        self.last = Some(info);
        Ok(())
    }

    /// The finished span batch.
    pub fn build(self) -> Result<SpanBatch, BatcherError> {
        if self.span.batches.is_empty() {
            return Err(BatcherError::EmptySpanBatch);
        }
        Ok(self.span)
    }
}
