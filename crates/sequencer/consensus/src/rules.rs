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

use crate::{ConsensusError, ProposedBlock};
use alloy_primitives::{B256, keccak256};

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

/// Checks `block`, a proposed child of `parent`, against the protocol's rules: no withdrawals
/// (an empty list, as Shanghai asks), `prevRandao` and the parent beacon block root as above.
/// Its body must already match its header ([`ProposedBlock::check_body`]).
pub fn check_proposal(block: &ProposedBlock, parent: &ProposedBlock) -> Result<(), ConsensusError> {
    let broken = |rule: String| Err(ConsensusError::RuleBroken { hash: block.hash(), rule });
    let header = &block.block().header;
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

    fn parent() -> ProposedBlock {
        ProposedBlock::new(
            Block {
                header: Header { number: 4, ..Default::default() },
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
                number: parent.number() + 1,
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
        check_proposal(&block, &parent).unwrap();
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
        let cases: [(&str, Change); 4] = [
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
        ];
        for (expected, change) in cases {
            let block = child(&parent, change);
            block.check_body().unwrap();
            let error = check_proposal(&block, &parent).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
