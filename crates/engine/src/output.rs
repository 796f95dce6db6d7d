//! Output roots of L2 blocks, as `optimism_outputAtBlock` and the built-in proposer compute them.

use crate::{EngineError, ExecutionEngine};
use kona_genesis::RollupConfig;
use kona_protocol::OutputRoot;
use rollup_providers_local::SealedL2Block;

/// The version-0 output root of `block`: its state root, the `L2ToL1MessagePasser` storage root
/// and its hash. From Isthmus on the header carries that storage root (its withdrawals root);
/// before, the execution layer computes it from its state at the block.
pub async fn output_root<E: ExecutionEngine + ?Sized>(
    config: &RollupConfig,
    engine: &E,
    block: &SealedL2Block,
) -> Result<OutputRoot, EngineError> {
    let header = &block.block().header;
    let storage_root = if config.is_isthmus_active(header.timestamp) {
        header
            .withdrawals_root
            .ok_or_else(|| EngineError::BlockNotFound("withdrawals root (Isthmus)".to_owned()))?
    } else {
        engine.message_passer_storage_root(block.hash()).await?
    };
    Ok(OutputRoot::from_parts(header.state_root, storage_root, block.hash()))
}
