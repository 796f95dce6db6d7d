//! What the protocol fixes in every block, beyond what the execution client checks.
//!
//! reth executes a payload and checks what execution decides: state root, gas, receipts, and
//! that the header commits to the body it came with. What a beacon chain would decide it takes
//! as given: there is no beacon chain here, so withdrawals, `prevRandao` and the parent beacon
//! block root are this protocol's to fix, and reth accepts any value. A leader could mint ETH
//! to itself through withdrawals, or pick the `prevRandao` that contracts read as randomness.
//! Every validator checks a proposal against these rules before it executes it, and votes
//! against it on any difference. The leader's payload attributes
//! (`sequencer_engine::payload_attributes`) follow the same rules.
//!
//! Time comes from the chain, not from a validator's wall clock: a block's timestamp is its
//! parent's plus the block time, so a validator whose clock is a few seconds off neither
//! builds blocks the others wait for nor waits for blocks the others built. The wall clock only
//! paces the leader ([`leader_wait`]), within a bound the view's timeout leaves room for, and
//! refuses a proposal from further ahead than honest clocks differ ([`MAX_CLOCK_DRIFT`]).
//! One exception brings a chain that stood still back to the clock: when the parent is more
//! than [`CATCH_UP_AFTER`] behind the leader's clock (a genesis of long ago, the set stopped for
//! a while), the leader stamps its own time, and a voter takes that only if the parent is at
//! least [`CATCH_UP_AFTER`] − [`MAX_CLOCK_DRIFT`] behind its own clock, so no clock within the
//! drift of the others can make the chain jump.
//!
//! The gas limit is the parent's: reth's builder moves it towards its own target (36M by
//! default) by 1/1024 per block, and every leader's reth would pull another way. Validators run
//! reth with `--builder.gaslimit` set to the genesis gas limit; a leader whose reth builds
//! another declines its view with one line saying so. Extra data (at most 32 bytes, which
//! reth checks) and the fee recipient are the leader's, as on Ethereum: neither moves value
//! that is not the leader's own.

use crate::{ConsensusError, ProposedBlock};
use alloy_primitives::{B256, keccak256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far ahead of a validator's clock a proposal's timestamp may be: clocks of honest
/// validators differ by less. The p2p handshake allows the same difference both ways.
pub const MAX_CLOCK_DRIFT: Duration = Duration::from_secs(15);

/// How far behind the clock the chain must be before a leader stamps its own time instead of
/// the parent's plus the block time (see the module docs).
pub const CATCH_UP_AFTER: Duration = Duration::from_secs(60);

/// The timestamp the chain gives a child of `parent`: the parent's plus the block time (whole
/// seconds, at least one; a validator set's block time is a whole number of seconds).
pub fn next_timestamp(parent: &ProposedBlock, block_time: Duration) -> u64 {
    parent.timestamp().saturating_add(block_time.as_secs().max(1))
}

/// The timestamp a leader whose clock reads `now` gives a child of `parent`:
/// [`next_timestamp`], or its own time when the chain is more than [`CATCH_UP_AFTER`] behind it.
pub fn child_timestamp(parent: &ProposedBlock, block_time: Duration, now: SystemTime) -> u64 {
    let next = next_timestamp(parent, block_time);
    let now = unix_secs(now);
    if now >= next.saturating_add(CATCH_UP_AFTER.as_secs()) { now } else { next }
}

/// How long a leader waits before it builds a child of `parent` at `now`: until
/// [`next_timestamp`] on its own clock, but never more than one and a half block times. A
/// leader whose clock is behind the chain's would otherwise sleep past the view's timeout; the
/// bound still lets honest leaders pull a chain that a fast leader ran ahead back to the clock.
pub fn leader_wait(parent: &ProposedBlock, block_time: Duration, now: SystemTime) -> Duration {
    let due = UNIX_EPOCH + Duration::from_secs(next_timestamp(parent, block_time));
    due.duration_since(now).unwrap_or_default().min(block_time + block_time / 2)
}

fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The `prevRandao` (header `mixHash`) of a child of `parent`: the parent's hash, hashed. Every
/// validator can compute it, and no leader can choose it.
pub fn prev_randao(parent: B256) -> B256 {
    keccak256(parent)
}

/// The parent beacon block root (EIP-4788) of a child of `parent`: with no beacon chain, the
/// parent's own hash.
pub const fn parent_beacon_block_root(parent: B256) -> B256 {
    parent
}

/// Checks `block`, a proposed child of `parent`, against the protocol's rules at `now` (this
/// validator's clock): no withdrawals (an empty list, as Shanghai asks), `prevRandao` and the
/// parent beacon block root as above, the timestamp [`next_timestamp`] (or a catch-up to the
/// clock, see the module docs), the parent's gas limit. Its body must already match its
/// header ([`ProposedBlock::check_body`]). How far ahead of `now` a timestamp may be is
/// checked apart (it is this validator's clock that may be wrong).
pub fn check_proposal(
    block: &ProposedBlock,
    parent: &ProposedBlock,
    block_time: Duration,
    now: SystemTime,
) -> Result<(), ConsensusError> {
    let broken = |rule: String| Err(ConsensusError::RuleBroken { hash: block.hash(), rule });
    let header = &block.block().header;
    let next = next_timestamp(parent, block_time);
    let behind_enough = (CATCH_UP_AFTER - MAX_CLOCK_DRIFT).as_secs();
    if header.timestamp < next
        || (header.timestamp > next && next.saturating_add(behind_enough) > unix_secs(now))
    {
        return broken(format!(
            "its timestamp {} is not its parent's plus the block time ({next}), and the chain \
             is not far enough behind this validator's clock to catch up",
            header.timestamp
        ));
    }
    if header.gas_limit != parent.block().header.gas_limit {
        return broken(format!(
            "its gas limit {} is not its parent's {} (run reth with --builder.gaslimit {})",
            header.gas_limit,
            parent.block().header.gas_limit,
            parent.block().header.gas_limit
        ));
    }
    match &block.block().body.withdrawals {
        Some(withdrawals) if withdrawals.is_empty() => {}
        Some(withdrawals) => {
            return broken(format!(
                "it carries {} withdrawals; the protocol has none (they would mint ETH)",
                withdrawals.len()
            ));
        }
        None => return broken("it has no withdrawals list; the protocol's is empty".into()),
    }
    if header.mix_hash != prev_randao(parent.hash()) {
        return broken(format!(
            "its prevRandao {} is not keccak256 of its parent's hash",
            header.mix_hash
        ));
    }
    if header.parent_beacon_block_root != Some(parent_beacon_block_root(parent.hash())) {
        return broken(format!(
            "its parent beacon block root {:?} is not its parent's hash",
            header.parent_beacon_block_root
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Block, BlockBody, Header, TxEnvelope};
    use alloy_eips::eip4895::{Withdrawal, Withdrawals};
    use alloy_primitives::Address;

    const BLOCK_TIME: Duration = Duration::from_secs(2);

    /// A clock where the parent (timestamp 100) is recent.
    fn now() -> SystemTime {
        at(101, 0)
    }

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis)
    }

    fn parent() -> ProposedBlock {
        ProposedBlock::new(
            Block {
                header: Header {
                    number: 4,
                    timestamp: 100,
                    gas_limit: 30_000_000,
                    ..Default::default()
                },
                body: BlockBody::default(),
            },
            None,
        )
    }

    /// A child of `parent` by the rules, changed by `change`.
    fn child(parent: &ProposedBlock, change: impl FnOnce(&mut Block<TxEnvelope>)) -> ProposedBlock {
        let withdrawals = Withdrawals::default();
        let mut block = Block {
            header: Header {
                parent_hash: parent.hash(),
                gas_limit: parent.block().header.gas_limit,
                number: parent.number() + 1,
                timestamp: next_timestamp(parent, BLOCK_TIME),
                mix_hash: prev_randao(parent.hash()),
                parent_beacon_block_root: Some(parent.hash()),
                withdrawals_root: Some(alloy_consensus::proofs::calculate_withdrawals_root(
                    &withdrawals,
                )),
                ..Default::default()
            },
            body: BlockBody { withdrawals: Some(withdrawals), ..Default::default() },
        };
        change(&mut block);
        block.header.withdrawals_root = block.body.calculate_withdrawals_root();
        ProposedBlock::new(block, None)
    }

    #[test]
    fn a_block_by_the_rules_passes() {
        let parent = parent();
        let block = child(&parent, |_| {});
        block.check_body().unwrap();
        check_proposal(&block, &parent, BLOCK_TIME, now()).unwrap();
    }

    #[test]
    fn each_rule_refuses_its_own_breach() {
        let parent = parent();
        let mint = Withdrawal {
            index: 0,
            validator_index: 0,
            address: Address::repeat_byte(7),
            amount: 1_000_000_000,
        };
        type Change = Box<dyn FnOnce(&mut Block<TxEnvelope>)>;
        let cases: [(&str, Change); 7] = [
            (
                "1 withdrawals",
                Box::new(move |b| b.body.withdrawals = Some(Withdrawals::new(vec![mint]))),
            ),
            ("no withdrawals list", Box::new(|b| b.body.withdrawals = None)),
            ("prevRandao", Box::new(|b| b.header.mix_hash = B256::repeat_byte(1))),
            (
                "parent beacon block root",
                Box::new(|b| b.header.parent_beacon_block_root = Some(B256::ZERO)),
            ),
            // A leader with its clock ahead, or one pushing the chain's clock.
            ("its timestamp 103", Box::new(|b| b.header.timestamp += 1)),
            ("its timestamp 101", Box::new(|b| b.header.timestamp -= 1)),
            ("--builder.gaslimit 30000000", Box::new(|b| b.header.gas_limit += 29_296)),
        ];
        for (expected, change) in cases {
            let block = child(&parent, change);
            block.check_body().unwrap();
            let error = check_proposal(&block, &parent, BLOCK_TIME, now()).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn a_chain_far_behind_the_clock_catches_up_and_no_nearer_one_jumps() {
        let parent = parent();
        // A leader 60 s or more past the child's timestamp (102) stamps its own time.
        assert_eq!(child_timestamp(&parent, BLOCK_TIME, at(162, 0)), 162);
        assert_eq!(child_timestamp(&parent, BLOCK_TIME, at(170, 500)), 170);
        // Less than that (a clock a few seconds ahead, a short stall): the chain's time.
        assert_eq!(child_timestamp(&parent, BLOCK_TIME, at(161, 999)), 102);
        assert_eq!(child_timestamp(&parent, BLOCK_TIME, at(107, 0)), 102);
        let jump = child(&parent, |b| b.header.timestamp = 162);
        // A voter whose clock says the chain is 45 s behind or more takes the jump...
        check_proposal(&jump, &parent, BLOCK_TIME, at(147, 0)).unwrap();
        // ... one whose clock says less refuses it: a leader 5 s ahead cannot push the chain.
        let err = check_proposal(&jump, &parent, BLOCK_TIME, at(146, 0)).unwrap_err();
        assert!(err.to_string().contains("not far enough behind"), "{err}");
        let ahead = child(&parent, |b| b.header.timestamp = 107);
        assert!(check_proposal(&ahead, &parent, BLOCK_TIME, at(107, 0)).is_err());
    }

    #[test]
    fn a_leader_waits_for_the_chains_time_within_a_bound() {
        let parent = parent();
        // The child is due at 102: a leader at 101.5 waits half a second.
        assert_eq!(leader_wait(&parent, BLOCK_TIME, at(101, 500)), Duration::from_millis(500));
        // Late (or a clock ahead): no wait at all.
        assert_eq!(leader_wait(&parent, BLOCK_TIME, at(110, 0)), Duration::ZERO);
        // A clock 5 s behind would wait 7 s; the wait stops at one and a half block times.
        assert_eq!(leader_wait(&parent, BLOCK_TIME, at(95, 0)), Duration::from_secs(3));
        assert_eq!(next_timestamp(&parent, Duration::from_millis(500)), 101, "at least 1 s");
    }
}
