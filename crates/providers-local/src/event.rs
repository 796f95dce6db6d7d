//! [`ChainStateEvent`]: the reth-free form of an ExEx notification.

use crate::SealedL2Block;
use alloy_eips::BlockNumHash;

/// A change of the L2 canonical chain, as the execution layer reports it.
///
/// Every chain is ordered oldest first and contiguous (each block's parent is the one before it).
/// This mirrors reth's `ExExNotification` without depending on reth.
///
/// Chains that left the canonical chain are given by number and hash only: that is all the
/// buffer checks of them, so a host need not copy the blocks of a deep unwind. A host may give
/// only the newest blocks of a long new chain, as many as the buffer holds (see
/// [`BufferedL2Provider::capacity`](crate::BufferedL2Provider::capacity)): an event whose new
/// chain fills the buffer replaces its content, so older blocks would only be thrown away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStateEvent {
    /// `new` extends the canonical chain.
    Committed {
        /// The blocks that became canonical.
        new: Vec<SealedL2Block>,
    },
    /// `old` was replaced by `new`; both start at the same height (the first block after the
    /// common ancestor), unless `new` was cut to the buffer's window.
    Reorged {
        /// The blocks that left the canonical chain.
        old: Vec<BlockNumHash>,
        /// The blocks that replaced them.
        new: Vec<SealedL2Block>,
    },
    /// `old` left the canonical chain and nothing replaced it (yet).
    Reverted {
        /// The blocks that left the canonical chain.
        old: Vec<BlockNumHash>,
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
    pub fn reverted(&self) -> &[BlockNumHash] {
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

    /// The height of the canonical head once the event is applied: the new tip, or the block
    /// below the first reverted one. `None` when the event names no block (or reverts genesis).
    pub fn head_after(&self) -> Option<u64> {
        match self.committed_tip() {
            Some(tip) => Some(tip.number),
            None => self.reverted().first().and_then(|first| first.number.checked_sub(1)),
        }
    }

    /// Consumes the event, returning the blocks that are canonical after it.
    pub fn into_committed(self) -> Vec<SealedL2Block> {
        match self {
            Self::Committed { new } | Self::Reorged { new, .. } => new,
            Self::Reverted { .. } => Vec::new(),
        }
    }
}
