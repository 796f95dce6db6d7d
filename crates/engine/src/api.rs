//! The typed seams: [`ExecutionEngine`] (the L2 execution layer) and [`L1BlockReader`] (L1).

use crate::EngineError;
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::B256;
use alloy_provider::Provider;
use alloy_rpc_types_engine::{ForkchoiceState, ForkchoiceUpdated, PayloadId, PayloadStatus};
use async_trait::async_trait;
use kona_engine::{EngineForkchoiceVersion, EngineGetPayloadVersion};
use kona_protocol::BlockInfo;
use op_alloy_rpc_types_engine::{OpExecutionPayloadEnvelope, OpPayloadAttributes};
use rollup_providers_local::SealedL2Block;
use std::fmt::Debug;

/// A labelled head of the execution layer's canonical chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Head {
    /// The canonical tip (`latest`, kona's unsafe head).
    Latest,
    /// The last forkchoice `safe` block.
    Safe,
    /// The last forkchoice `finalized` block.
    Finalized,
}

impl L2Head {
    /// The label as a block tag, for queries that take one.
    pub const fn from_tag(tag: BlockNumberOrTag) -> Option<Self> {
        match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(Self::Latest),
            BlockNumberOrTag::Safe => Some(Self::Safe),
            BlockNumberOrTag::Finalized => Some(Self::Finalized),
            BlockNumberOrTag::Earliest | BlockNumberOrTag::Number(_) => None,
        }
    }
}

/// The L2 execution layer's engine API and head reads, as typed calls.
///
/// One method per engine API family; the version is chosen by the caller from the rollup config,
/// as kona does, and the implementation dispatches to that version so the execution layer's own
/// version checks apply. Errors the execution layer answers with (an engine API error object) are
/// [`EngineError::Rejected`]; failures to reach or read it are [`EngineError::Read`].
#[async_trait]
pub trait ExecutionEngine: Debug + Send + Sync + 'static {
    /// `engine_newPayloadV{1..4}`, by the payload's version.
    async fn new_payload(
        &self,
        envelope: OpExecutionPayloadEnvelope,
    ) -> Result<PayloadStatus, EngineError>;

    /// `engine_forkchoiceUpdatedV{2,3}`, with attributes to start building on `state`'s head.
    async fn forkchoice_updated(
        &self,
        version: EngineForkchoiceVersion,
        state: ForkchoiceState,
        attributes: Option<OpPayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError>;

    /// `engine_getPayloadV{2,3,4}`: the payload built for `payload_id`.
    async fn get_payload(
        &self,
        version: EngineGetPayloadVersion,
        payload_id: PayloadId,
    ) -> Result<OpExecutionPayloadEnvelope, EngineError>;

    /// The canonical block at a labelled head, if the execution layer has one.
    async fn head(&self, head: L2Head) -> Result<Option<SealedL2Block>, EngineError>;

    /// The storage root of the `L2ToL1MessagePasser` predeploy in the state after `block` (the
    /// output root's second part before Isthmus put it into the header).
    async fn message_passer_storage_root(&self, block: B256) -> Result<B256, EngineError>;
}

/// L1 block reads the engine needs for its resets.
#[async_trait]
pub trait L1BlockReader: Debug + Send + Sync + 'static {
    /// The block with `hash`, or `None` when L1 does not know it (any more).
    async fn block_by_hash(&self, hash: B256) -> Result<Option<BlockInfo>, EngineError>;

    /// The canonical block at `number`.
    async fn block_by_number(&self, number: u64) -> Result<Option<BlockInfo>, EngineError>;
}

fn block_info(header: &alloy_rpc_types_eth::Header) -> BlockInfo {
    BlockInfo::new(header.hash, header.number, header.parent_hash, header.timestamp)
}

#[async_trait]
impl L1BlockReader for alloy_provider::RootProvider {
    async fn block_by_hash(&self, hash: B256) -> Result<Option<BlockInfo>, EngineError> {
        let block = self.get_block_by_hash(hash).await.map_err(EngineError::l1)?;
        Ok(block.map(|block| block_info(&block.header)))
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<BlockInfo>, EngineError> {
        let block = self.get_block_by_number(number.into()).await.map_err(EngineError::l1)?;
        Ok(block.map(|block| block_info(&block.header)))
    }
}
