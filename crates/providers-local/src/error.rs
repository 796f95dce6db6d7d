//! The one error type of this crate.

use alloy_primitives::B256;
use kona_derive::{PipelineError, PipelineErrorKind};
use std::sync::Arc;

/// Why an event could not be applied or a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// A chain in an event is not contiguous, or does not attach to the buffered chain.
    #[error("block {number} does not attach: parent {parent} != hash {expected} of block {}", number.saturating_sub(1))]
    Detached {
        /// The block that does not attach.
        number: u64,
        /// Its parent hash.
        parent: B256,
        /// The hash of the block it should attach to.
        expected: B256,
    },
    /// A committed chain leaves a gap after the buffered head.
    #[error("committed block {got} leaves a gap after buffered head {head}")]
    Gap {
        /// The buffered head.
        head: u64,
        /// The first committed block.
        got: u64,
    },
    /// A committed block replaces a different buffered block without a reorg event.
    #[error(
        "committed block {number} ({got}) conflicts with buffered block {buffered} without a reorg"
    )]
    Conflict {
        /// The height.
        number: u64,
        /// The committed block's hash.
        got: B256,
        /// The buffered block's hash.
        buffered: B256,
    },
    /// A reorg or revert names an old chain that is not the buffered one.
    #[error("reverted block {number} ({reverted}) is not the buffered block {buffered}")]
    StaleRevert {
        /// The height.
        number: u64,
        /// The hash the event says is reverted.
        reverted: B256,
        /// The hash the buffer holds.
        buffered: B256,
    },
    /// A reorg or revert reaches below the oldest buffered block. The buffer is left untouched;
    /// the caller must reseed it: nothing it holds is known to be canonical any more.
    #[error(
        "reorg at block {fork_number} is deeper than the buffer (oldest buffered block {oldest_buffered})"
    )]
    ReorgBeyondBuffer {
        /// First height of the reorged chain.
        fork_number: u64,
        /// Oldest block the buffer holds.
        oldest_buffered: u64,
    },
    /// A reorg whose old and new chains start at different heights.
    #[error("reorg old chain starts at {old} but new chain at {new}")]
    ForkMismatch {
        /// First height of the old chain.
        old: u64,
        /// First height of the new chain.
        new: u64,
    },
    /// No block at this height: not buffered, and the fallback (if any) does not have it.
    #[error("L2 block {0} not found")]
    BlockNotFound(u64),
    /// No block with this hash.
    #[error("L2 block {0} not found")]
    HashNotFound(B256),
    /// The fallback source failed.
    #[error("fallback L2 source: {0}")]
    Fallback(#[source] SourceError),
    /// The buffer was to be re-seeded from a fallback source, but it has none.
    #[error("no fallback L2 source to re-seed the buffer from")]
    NoFallback,
    /// The block is not a valid OP block for this rollup (e.g. no L1 info deposit).
    #[error("L2 block {number}: {reason}")]
    InvalidBlock {
        /// The height.
        number: u64,
        /// What is wrong.
        reason: String,
    },
}

impl ProviderError {
    /// Whether the error is [`Self::ReorgBeyondBuffer`]: the caller has to reseed the buffer.
    pub const fn is_beyond_buffer(&self) -> bool {
        matches!(self, Self::ReorgBeyondBuffer { .. })
    }

    /// For a chain event that does not fit the buffered chain, a short name of why (for logs and
    /// metric labels): the host's chain and the buffer disagree, and the buffer has to be
    /// re-seeded from the host's chain. `None` for lookup and source errors.
    pub const fn inconsistency(&self) -> Option<&'static str> {
        match self {
            Self::Detached { .. } => Some("detached"),
            Self::Gap { .. } => Some("gap"),
            Self::Conflict { .. } => Some("conflict"),
            Self::StaleRevert { .. } => Some("stale_revert"),
            Self::ReorgBeyondBuffer { .. } => Some("reorg_beyond_buffer"),
            Self::ForkMismatch { .. } => Some("fork_mismatch"),
            Self::BlockNotFound(_)
            | Self::HashNotFound(_)
            | Self::Fallback(_)
            | Self::NoFallback
            | Self::InvalidBlock { .. } => None,
        }
    }
}

impl From<ProviderError> for PipelineErrorKind {
    /// Every provider error is temporary to derivation, as with kona's RPC-backed provider: a
    /// missing block may arrive with the next notification, a flaky fallback may recover, and a
    /// block that cannot be decoded is retried (and reported) rather than halting derivation.
    fn from(err: ProviderError) -> Self {
        Self::Temporary(PipelineError::Provider(err.to_string()))
    }
}

/// A failure of the fallback block source (reth's database in `rollup`), shared so that
/// [`ProviderError`] stays `Clone`. It displays as, and chains to the sources of, the error it
/// wraps. Two are equal only when they are the same failure.
#[derive(Debug, Clone)]
pub struct SourceError(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl SourceError {
    /// Wraps the source's error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }
}

impl From<Box<dyn std::error::Error + Send + Sync + 'static>> for SourceError {
    fn from(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Self(Arc::from(error))
    }
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for SourceError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SourceError {}
