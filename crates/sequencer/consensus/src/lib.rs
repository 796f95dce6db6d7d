//! Agreement of the sequencer's validator set on every block.
//!
//! The sequencer does not invent a consensus protocol: it runs commonware's Simplex (a
//! BFT protocol that finalizes a block in three network hops, tolerating `f` faulty validators
//! of `3f + 1`) on commonware's authenticated p2p, and plugs its blocks in as the payload:
//!
//! - The leader of a view builds a block on its execution client (forkchoice with attributes,
//!   getPayload, newPayload) and Simplex orders its hash; the block itself goes to every
//!   validator on a block channel ([`ProposedBlock`] on the wire).
//! - Every validator executes the proposal on its own execution client before it answers
//!   Simplex's `verify`, so its notarize vote means "newPayload said VALID". An execution client
//!   without an answer yet (syncing, down) keeps the question open; it never counts as a vote.
//! - When a quorum finalizes a block, the block and its undecided ancestors come out of
//!   [`Running::decisions`] in order, each with the [`FinalityCertificate`] that proves it
//!   (the quorum's signatures), for the node to commit (SOFT) and post to DA.
//! - A validator missing a block (a proposal that came late, ancestors after a restart) asks
//!   its peers by hash; they answer from memory or from their execution client.
//! - A leader that is down or slow is replaced: its view times out, is nullified, and the next
//!   validator in round-robin order leads.
//!
//! The [`Execution`] trait is all consensus needs from the execution client; the node
//! implements it over reth's Engine API, tests implement it in memory.

mod application;
mod block;
mod engine;
mod error;
pub mod metrics;
pub mod rules;
mod validators;

pub use application::{
    CATCH_UP_BLOCKS, Execution, Verdict, block_message, block_request, decode_block_message,
};
pub use block::{ProposedBlock, block_hash, digest};
pub use engine::{
    BftConfig, CHANNEL_BLOCKS, CHANNEL_CERTIFICATES, CHANNEL_RESOLVER, CHANNEL_VOTES, Channels,
    LookupOracle, LookupReceiver, LookupSender, MAX_MESSAGE_SIZE, Network, Peer, Running, start,
    start_network,
};
pub use error::ConsensusError;
pub use validators::{
    FinalityCertificate, Finalization, Scheme, ValidatorSet, private_key, public_key,
};

/// A block the validator set finalized, with the proof.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The block.
    pub block: ProposedBlock,
    /// The finalization that covers it (of this block or of a descendant committed with it).
    pub certificate: FinalityCertificate,
}
