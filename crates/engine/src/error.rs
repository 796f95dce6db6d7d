//! [`EngineError`]: everything the engine actor can fail with, and how each failure is handled.

use alloy_rpc_types_engine::PayloadStatusEnum;
use kona_protocol::{FromBlockError, OpBlockConversionError};
use rollup_providers_local::ProviderError;

/// A boxed error from a lower layer (a provider, an L1 client), kept as the source.
pub type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the engine actor does about a failed task (kona-engine's severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, derive_more::Display)]
pub enum Severity {
    /// Try the task again.
    #[display("temporary")]
    Temporary,
    /// Reset the engine to the execution layer's forkchoice and derivation to its safe head.
    #[display("reset")]
    Reset,
    /// Drop the current channel in derivation (post-Holocene invalid payload).
    #[display("flush")]
    Flush,
    /// Stop the engine actor.
    #[display("critical")]
    Critical,
}

/// Errors of the in-process engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The execution layer answered an engine API call with an error object.
    #[error("{method} rejected by the execution layer (code {code}): {message}")]
    Rejected {
        /// The engine API method.
        method: &'static str,
        /// The JSON-RPC error code the execution layer would have answered with.
        code: i32,
        /// Its message.
        message: String,
    },
    /// A read from the execution layer failed.
    #[error("reading {what} from the execution layer failed")]
    Read {
        /// What was read.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: BoxedError,
    },
    /// A read from L1 failed.
    #[error("reading from L1 failed")]
    L1(#[source] BoxedError),
    /// A block read from the L2 buffer or its database fallback failed.
    #[error("reading an L2 block failed")]
    L2(#[from] ProviderError),
    /// The forkchoice state was refused as invalid (engine API error -38002).
    #[error("the execution layer refused the forkchoice state as invalid")]
    InvalidForkchoiceState,
    /// A forkchoice update or new payload answered with a status other than VALID or SYNCING.
    #[error("{method} answered {status}")]
    UnexpectedStatus {
        /// The engine API method.
        method: &'static str,
        /// The status.
        status: PayloadStatusEnum,
    },
    /// A new payload was refused (INVALID, or ACCEPTED without execution).
    #[error("payload {number} refused: {status}")]
    InvalidPayload {
        /// The payload's block number.
        number: u64,
        /// The status the execution layer answered.
        status: PayloadStatusEnum,
    },
    /// The execution layer is syncing and cannot build.
    #[error("the execution layer is syncing")]
    Syncing,
    /// A forkchoice update with attributes answered VALID without a payload id.
    #[error("forkchoice update with attributes gave no payload id")]
    MissingPayloadId,
    /// A forkchoice update would put the finalized head above the unsafe head.
    #[error("finalized head {finalized} is ahead of unsafe head {unsafe_head}")]
    FinalizedAheadOfUnsafe {
        /// The unsafe head's number.
        unsafe_head: u64,
        /// The finalized head's number.
        finalized: u64,
    },
    /// A block to consolidate against is not in the execution layer.
    #[error("unsafe L2 block {0} is missing")]
    MissingUnsafeBlock(u64),
    /// A block to finalize is not safe yet.
    #[error("block {block} is not safe yet (safe head {safe})")]
    NotSafe {
        /// The block to finalize.
        block: u64,
        /// The safe head.
        safe: u64,
    },
    /// A block the engine needs is not known.
    #[error("block {0} not found")]
    BlockNotFound(String),
    /// A payload or block could not be turned into an L2 block info.
    #[error("block does not carry a valid L1-info deposit")]
    BlockInfo(#[from] FromBlockError),
    /// A block's system config could not be read.
    #[error("system config of the safe head could not be read")]
    SystemConfig(#[from] OpBlockConversionError),
    /// The deposits-only replacement of an invalid block was rejected too.
    #[error("the deposits-only replacement of an invalid payload was rejected")]
    DepositsOnlyRejected,
    /// A derived payload was invalid and replaced by its deposits-only version (Holocene):
    /// derivation must drop the rest of the channel.
    #[error("invalid payload replaced by its deposits-only version; flushing the channel")]
    HoloceneFlush,
    /// A task kept failing on temporary errors past the retry bound: the engine resets rather
    /// than retry without end.
    #[error("{task} task failed {attempts} times in a row")]
    RetriesExhausted {
        /// The task's metric label.
        task: &'static str,
        /// How often it was tried.
        attempts: u32,
        /// The last error.
        #[source]
        source: Box<EngineError>,
    },
    /// A channel to another actor closed.
    #[error("the {0} channel closed")]
    ChannelClosed(&'static str),
}

impl EngineError {
    /// A failed L1 read.
    pub fn l1(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::L1(Box::new(error))
    }

    /// A failed execution-layer read of `what`.
    pub fn read(what: &'static str, error: impl Into<BoxedError>) -> Self {
        Self::Read { what, source: error.into() }
    }

    /// How the engine actor handles this error (kona-engine 0.1.2's classification).
    pub const fn severity(&self) -> Severity {
        match self {
            Self::Rejected { .. }
            | Self::Read { .. }
            | Self::L1(_)
            | Self::L2(_)
            | Self::UnexpectedStatus { .. }
            | Self::Syncing
            | Self::MissingPayloadId => Severity::Temporary,
            Self::InvalidForkchoiceState
            | Self::MissingUnsafeBlock(_)
            | Self::RetriesExhausted { .. } => Severity::Reset,
            Self::HoloceneFlush => Severity::Flush,
            Self::FinalizedAheadOfUnsafe { .. }
            | Self::NotSafe { .. }
            | Self::BlockNotFound(_)
            | Self::BlockInfo(_)
            | Self::SystemConfig(_)
            | Self::InvalidPayload { .. }
            | Self::DepositsOnlyRejected
            | Self::ChannelClosed(_) => Severity::Critical,
        }
    }
}
