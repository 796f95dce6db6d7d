//! Where the engine (re)starts: the execution layer's forkchoice, walked back to an unsafe head
//! whose L1 origin is canonical and to a safe head that derivation can restart from.

use crate::{EngineError, ExecutionEngine, L1BlockReader, L2Head, queue::sealed_block_info};
use kona_genesis::RollupConfig;
use kona_protocol::L2BlockInfo;
use rollup_providers_local::{BufferedL2Provider, SealedL2Block};
use tracing::info;

/// The forkchoice the engine starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartingForkchoice {
    /// Unsafe head: the newest block whose L1 origin is canonical.
    pub unsafe_head: L2BlockInfo,
    /// Safe head: the execution layer's, or older, so that derivation regenerates at least a
    /// sequencing window of blocks.
    pub safe: L2BlockInfo,
    /// Finalized head: the execution layer's, or genesis.
    pub finalized: L2BlockInfo,
}

/// Finds the forkchoice to start from (kona-sources' rules, read in-process).
///
/// Reads the execution layer's finalized and latest heads (genesis stands in for a missing
/// finalized label), walks the unsafe head back while its L1 origin is not canonical on L1,
/// and walks a safe cursor back from there until it is a sequencing window behind the unsafe
/// head's origin, reaches the finalized head, or reaches genesis.
pub async fn find_starting_forkchoice<E: ExecutionEngine + ?Sized>(
    config: &RollupConfig,
    l1: &dyn L1BlockReader,
    engine: &E,
    l2: &BufferedL2Provider,
) -> Result<StartingForkchoice, EngineError> {
    let info = |block: &SealedL2Block| sealed_block_info(block, config);
    let finalized = match engine.head(L2Head::Finalized).await? {
        Some(block) => info(&block)?,
        None => info(&l2.sealed_block_by_number(config.genesis.l2.number).await?)?,
    };
    // As in kona, the execution layer's safe label is logged but not trusted: the safe head is
    // re-established by walking back (below).
    let el_safe = engine.head(L2Head::Safe).await?.map(|block| block.number());
    let latest = engine
        .head(L2Head::Latest)
        .await?
        .ok_or_else(|| EngineError::BlockNotFound("L2 latest".to_owned()))?;
    let mut unsafe_head = info(&latest)?;
    info!(target: "engine", unsafe_head = unsafe_head.block_info.number, el_safe = ?el_safe, finalized = finalized.block_info.number, "execution layer forkchoice read");

    // The unsafe head must descend from canonical L1.
    loop {
        let origin = unsafe_head.l1_origin;
        let canonical = l1.block_by_number(origin.number).await?;
        if canonical.is_some_and(|block| block.hash == origin.hash)
            || unsafe_head.block_info.hash == config.genesis.l2.hash
        {
            break;
        }
        info!(target: "engine", l2 = unsafe_head.block_info.number, l1_origin = origin.number, "unsafe head's L1 origin is not canonical; walking back");
        let parent = l2.sealed_block_by_hash(unsafe_head.block_info.parent_hash).await?;
        unsafe_head = info(&parent)?;
    }

    // Derivation restarts from a block a sequencing window behind.
    let mut cursor = unsafe_head;
    let safe = loop {
        let behind_window = unsafe_head.l1_origin.number.saturating_sub(config.seq_window_size)
            > cursor.l1_origin.number;
        let at_finalized = cursor.block_info.hash == finalized.block_info.hash;
        let at_genesis = cursor.block_info.hash == config.genesis.l2.hash;
        if behind_window || at_finalized || at_genesis {
            break cursor;
        }
        let parent = l2.sealed_block_by_hash(cursor.block_info.parent_hash).await?;
        cursor = info(&parent)?;
    };
    info!(target: "engine", unsafe_head = unsafe_head.block_info.number, safe = safe.block_info.number, finalized = finalized.block_info.number, "starting forkchoice");
    Ok(StartingForkchoice { unsafe_head, safe, finalized })
}
