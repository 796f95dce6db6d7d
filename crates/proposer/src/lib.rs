//! The built-in OP Stack proposer: output roots of final L2 blocks, posted to the L1
//! `L2OutputOracle` from inside the node.
//!
//! Elsewhere this is op-proposer, a separate process that asks op-node's RPC for
//! `optimism_outputAtBlock` and sends `proposeL2Output`. Inside `rollup` the output root is
//! computed where the chain is: the node's own block (hash, state root) and the
//! `L2ToL1MessagePasser` storage root, by the same path `optimism_outputAtBlock` answers from
//! ([`L2Outputs`] is that seam). [`OutputProposer`] then:
//!
//! - reads the oracle's `nextBlockNumber()` on L1 every poll, so a restart resumes from what L1
//!   holds and a reorg that took a proposal away is proposed again;
//! - proposes that block only once it is final under the chosen rule ([`ProposalHead`]: L2
//!   finalized by default, safe when asked) and older than the L1 head, as the oracle requires;
//! - keeps one proposal in flight, always at the account's confirmed nonce, and only ever
//!   replaces it with the same proposal at higher fees (capped like the batcher's): whichever
//!   copy L1 mines, one index gets one output, and a proposal a previous run left in the pool is
//!   waited for, not duplicated;
//! - retries L1 trouble with capped backoff and never stops the node; it reports through
//!   [`ProposerMetrics`] and one log line per confirmed proposal.

mod error;
pub use error::{ProposerError, ProposerResult};

mod outputs;
pub use outputs::{L2Output, L2Outputs, OutputsError, ProposalHead};

mod proposer;
pub use proposer::{
    DEFAULT_POLL_INTERVAL, DEFAULT_RESUBMISSION_TIMEOUT, OracleAddress, OutputProposer,
    ProposerConfig, ProposerMetrics, Tick,
};
