//! What the proposer reads from the L2 node: its final heads and output roots.

use alloy_eips::BlockNumHash;
use alloy_primitives::B256;
use async_trait::async_trait;
use std::fmt;

/// Which head bounds what may be proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProposalHead {
    /// L2 blocks derived from finalized L1 only (op-proposer's default): a proposal can never be
    /// invalidated by an L1 reorg.
    #[default]
    Finalized,
    /// L2 blocks derived from L1 at all (op-proposer's `--allow-non-finalized`): earlier
    /// proposals, which an L1 reorg deeper than the safe distance can make wrong.
    Safe,
}

impl fmt::Display for ProposalHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Finalized => "finalized",
            Self::Safe => "safe",
        })
    }
}

/// The output of one L2 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Output {
    /// The block.
    pub block: BlockNumHash,
    /// Its timestamp.
    pub timestamp: u64,
    /// Its version-0 output root: keccak256(version ‖ state root ‖ message passer storage root ‖
    /// block hash).
    pub root: B256,
}

/// Why the L2 node could not answer.
pub type OutputsError = Box<dyn std::error::Error + Send + Sync>;

/// The L2 node, as the proposer reads it.
#[async_trait]
pub trait L2Outputs: Send + Sync {
    /// The number of the node's `head` block; `None` while it has none.
    async fn head(&self, head: ProposalHead) -> Result<Option<u64>, OutputsError>;

    /// The output of the canonical L2 block `number`.
    async fn output(&self, number: u64) -> Result<L2Output, OutputsError>;
}
