//! The built-in batcher's place in the ExEx: it reads the node's chain from the same
//! [`BufferedL2Provider`] derivation reads, and kona's safe head from the ExEx, so it lives as
//! long as the ExEx and is untouched by kona restarts.

use alloy_primitives::B256;
use async_trait::async_trait;
use op_alloy_consensus::OpBlock;
use rollup_batcher::{
    BatchKind, ChannelCompression, DataAvailability, L2Chain, L2ChainError, SubmitterConfig,
};
use rollup_cli::{BatchType, BatcherConfig, CompressionAlgo, DataAvailabilityType, NodeCliConfig};
use rollup_providers_local::{BufferedL2Provider, ProviderError};
use std::sync::Arc;

/// The node's own L2 chain, as the batcher reads it: the in-memory buffer, with the execution
/// layer's database behind it for older blocks.
#[derive(Debug, Clone)]
pub struct BufferedChain(pub BufferedL2Provider);

#[async_trait]
impl L2Chain for BufferedChain {
    fn unsafe_head(&self) -> Option<(u64, B256)> {
        self.0.head().map(|head| (head.number, head.hash))
    }

    async fn block(&self, number: u64) -> Result<Option<(B256, Arc<OpBlock>)>, L2ChainError> {
        match self.0.sealed_block_by_number(number).await {
            Ok(block) => Ok(Some((block.hash(), block.block().clone()))),
            Err(ProviderError::BlockNotFound(_)) => Ok(None),
            Err(err) => Err(Box::new(err)),
        }
    }
}

/// The batcher's settings from the node's validated config.
pub fn submitter_config(node: &NodeCliConfig, batcher: &BatcherConfig) -> SubmitterConfig {
    let args = &batcher.args;
    let mut config = SubmitterConfig::new(
        node.l1_eth_rpc.clone(),
        node.l1_beacon.clone(),
        Arc::new(node.rollup_config.clone()),
    );
    config.max_channel_duration = args.max_channel_duration;
    config.max_frame_size = args.max_frame_size;
    config.compression = match args.compression {
        CompressionAlgo::Zlib => ChannelCompression::ZLIB,
        CompressionAlgo::Brotli => ChannelCompression::BROTLI,
    };
    config.batch_kind = match args.batch_type {
        BatchType::Single => BatchKind::Single,
        BatchType::Span => BatchKind::Span,
    };
    config.data_availability = match args.data_availability_type {
        DataAvailabilityType::Calldata => DataAvailability::Calldata,
        DataAvailabilityType::Blobs => DataAvailability::Blobs,
    };
    config.target_num_frames = args.target_num_frames;
    config.num_confirmations = args.num_confirmations;
    config.resubmission_timeout = args.resubmission_timeout();
    config.fee_limit_multiplier = args.fee_limit_multiplier;
    config.poll_interval = args.poll_interval();
    config
}
