//! [`ChainStateEvent`]: the reth-free form of an ExEx notification.

use crate::SealedL2Block;
use alloy_eips::BlockNumHash;

/// A change of the L2 canonical chain, as the execution layer reports it.
///
/// Every chain is ordered oldest first and contiguous (each block's parent is the one before it).
/// This mirrors reth's `ExExNotification` without depending on reth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStateEvent {
    /// `new` extends the canonical chain.
    Committed {
        /// The blocks that became canonical.
        new: Vec<SealedL2Block>,
    },
    /// `old` was replaced by `new`; both start at the same height (the first block after the
    /// common ancestor).
    Reorged {
        /// The blocks that left the canonical chain.
        old: Vec<SealedL2Block>,
        /// The blocks that replaced them.
        new: Vec<SealedL2Block>,
    },
    /// `old` left the canonical chain and nothing replaced it (yet).
    Reverted {
        /// The blocks that left the canonical chain.
        old: Vec<SealedL2Block>,
    },
}

impl ChainStateEvent {
    /// A short name of the variant, for logs and metric labels.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Committed { .. } => "committed",
            Self::Reorged { .. } => "reorged",
            Self::Reverted { .. } => "reverted",
        }
    }

    /// The blocks that are canonical after the event (empty for a revert).
    pub fn committed(&self) -> &[SealedL2Block] {
        match self {
            Self::Committed { new } | Self::Reorged { new, .. } => new,
            Self::Reverted { .. } => &[],
        }
    }

    /// The blocks that stopped being canonical (empty for a commit).
    pub fn reverted(&self) -> &[SealedL2Block] {
        match self {
            Self::Reorged { old, .. } | Self::Reverted { old } => old,
            Self::Committed { .. } => &[],
        }
    }

    /// The new canonical tip, when the event committed blocks: the height the host may be told is
    /// processed (reth's `FinishedHeight`).
    pub fn committed_tip(&self) -> Option<BlockNumHash> {
        self.committed().last().map(SealedL2Block::num_hash)
    }

    /// Consumes the event, returning the blocks that are canonical after it.
    pub fn into_committed(self) -> Vec<SealedL2Block> {
        match self {
            Self::Committed { new } | Self::Reorged { new, .. } => new,
            Self::Reverted { .. } => Vec::new(),
        }
    }
}
