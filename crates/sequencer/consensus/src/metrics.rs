//! Metric names (registered with the `metrics` facade; the sequencer exports them on its
//! Prometheus endpoint next to its own).

/// Finalizations reported by the engine.
pub const FINALIZATIONS: &str = "sequencer_consensus_finalizations_total";
/// Views skipped by a nullification (the leader's block did not come in time).
pub const NULLIFICATIONS: &str = "sequencer_consensus_nullifications_total";
/// Conflicting votes seen (a faulty validator).
pub const FAULTS: &str = "sequencer_consensus_faults_total";
/// Views this validator led but could not build a block for.
pub const PROPOSALS_DECLINED: &str = "sequencer_consensus_proposals_declined_total";
/// Proposals this validator refused to vote for.
pub const PROPOSALS_REFUSED: &str = "sequencer_consensus_proposals_refused_total";
/// Blocks from peers dropped on arrival, by `reason` (`body`: the body is not the one the
/// header commits to; `unwanted`: nobody asked for it and it is outside the bounds on blocks
/// kept ahead of the decided chain).
pub const BLOCKS_DROPPED: &str = "sequencer_consensus_blocks_dropped_total";
/// Block requests from peers dropped because as many were being answered already.
pub const REQUESTS_DROPPED: &str = "sequencer_consensus_block_requests_dropped_total";
/// Requests to peers for a block this validator did not have.
pub const BLOCK_REQUESTS: &str = "sequencer_consensus_block_requests_total";
/// Proposals and decided blocks whose timestamp was further ahead of this validator's clock
/// than validators allow (this clock is behind).
pub const CLOCK_BEHIND: &str = "sequencer_consensus_clock_behind_total";
/// Height of the last block handed to the node.
pub const DECIDED_HEIGHT: &str = "sequencer_consensus_decided_height";

/// Registers descriptions (call once after installing a recorder).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(FINALIZATIONS, "finalizations reported by Simplex");
    describe_counter!(NULLIFICATIONS, "views skipped because no block was notarized in time");
    describe_counter!(FAULTS, "conflicting votes seen from a validator");
    describe_counter!(PROPOSALS_DECLINED, "views this validator led without building a block");
    describe_counter!(PROPOSALS_REFUSED, "proposals this validator voted against");
    describe_counter!(BLOCKS_DROPPED, "blocks from peers dropped on arrival, by reason");
    describe_counter!(REQUESTS_DROPPED, "block requests from peers dropped (too many at once)");
    describe_counter!(BLOCK_REQUESTS, "blocks asked of peers by hash");
    describe_counter!(CLOCK_BEHIND, "blocks further ahead of this validator's clock than allowed");
    describe_gauge!(DECIDED_HEIGHT, "height of the last block the validator set decided");
}
