//! The proposer's errors. None of them stops it: [`crate::OutputProposer::run`] retries.

use alloy_primitives::{Address, U256};
use alloy_transport::TransportError;

/// A proposer result.
pub type ProposerResult<T> = Result<T, ProposerError>;

/// Why one proposer step failed.
#[derive(Debug, thiserror::Error)]
pub enum ProposerError {
    /// An L1 RPC call failed.
    #[error("L1: {0}")]
    L1(#[source] TransportError),
    /// L1 answered something the proposer cannot use.
    #[error("L1 answered badly: {0}")]
    L1Answer(String),
    /// The L2 node could not give a head or an output root.
    #[error("L2 output: {0}")]
    L2(#[source] crate::OutputsError),
    /// The oracle accepts proposals from another account only.
    #[error(
        "the L2OutputOracle {oracle} takes proposals from {expected}, not from this key ({ours})"
    )]
    NotProposer {
        /// The oracle.
        oracle: Address,
        /// The proposer it names.
        expected: Address,
        /// This proposer's account.
        ours: Address,
    },
    /// L1 refused the proposal before it was sent (gas estimation reverted).
    #[error("L1 refuses the proposal of L2 block {l2_block}: {reason}")]
    Refused {
        /// The L2 block proposed.
        l2_block: u64,
        /// What the L1 node said.
        reason: String,
    },
    /// The proposal was mined and reverted (another proposal for the index got there first).
    #[error("the proposal of L2 block {l2_block} reverted on L1 (transaction {tx})")]
    Reverted {
        /// The L2 block proposed.
        l2_block: u64,
        /// The reverted transaction.
        tx: alloy_primitives::B256,
    },
    /// Sending the transaction failed.
    #[error("sending the proposal: {0}")]
    Send(#[source] TransportError),
    /// The account cannot pay for the proposal.
    #[error("the proposer {account} holds {balance} wei; the proposal may cost {needed}")]
    InsufficientFunds {
        /// The proposer account.
        account: Address,
        /// What it holds.
        balance: U256,
        /// What the transaction may cost.
        needed: U256,
    },
}

impl ProposerError {
    /// Short label of the failure, for metrics and log rate limiting.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::L1(_) | Self::L1Answer(_) => "l1",
            Self::L2(_) => "l2",
            Self::NotProposer { .. } => "not_proposer",
            Self::Refused { .. } => "refused",
            Self::Reverted { .. } => "reverted",
            Self::Send(_) => "send",
            Self::InsufficientFunds { .. } => "insufficient_funds",
        }
    }
}
