//! [`SealedL2Block`]: an OP block with its hash.

use alloy_eips::BlockNumHash;
use alloy_primitives::B256;
use op_alloy_consensus::OpBlock;
use std::sync::Arc;

/// An L2 block and its hash, shared: the buffer and every reader hold the same allocation.
///
/// The hash is taken from the host (reth seals its blocks) rather than recomputed, so ingesting a
/// block costs no hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedL2Block {
    hash: B256,
    block: Arc<OpBlock>,
}

impl SealedL2Block {
    /// Pairs `block` with its known `hash`.
    pub fn new(hash: B256, block: Arc<OpBlock>) -> Self {
        Self { hash, block }
    }

    /// Seals `block` by hashing its header.
    pub fn seal_slow(block: OpBlock) -> Self {
        Self { hash: block.header.hash_slow(), block: Arc::new(block) }
    }

    /// The block hash.
    pub const fn hash(&self) -> B256 {
        self.hash
    }

    /// The block number.
    pub fn number(&self) -> u64 {
        self.block.header.number
    }

    /// The parent's hash.
    pub fn parent_hash(&self) -> B256 {
        self.block.header.parent_hash
    }

    /// Number and hash.
    pub fn num_hash(&self) -> BlockNumHash {
        BlockNumHash::new(self.number(), self.hash)
    }

    /// The block.
    pub fn block(&self) -> &Arc<OpBlock> {
        &self.block
    }
}
