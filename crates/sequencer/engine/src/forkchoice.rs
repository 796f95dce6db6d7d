use crate::EngineError;
use alloy_primitives::B256;
use alloy_rpc_types_engine::ForkchoiceState;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The identity of a block as the forkchoice sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Parent hash.
    pub parent_hash: B256,
    /// Timestamp (seconds).
    pub timestamp: u64,
}

fn fc_err(msg: String) -> EngineError {
    EngineError::Forkchoice(msg)
}

/// head ≥ safe ≥ finalized, never backwards.
///
/// The tracker keeps the chain of blocks from `finalized` (exclusive) to `head` (inclusive),
/// linked by parent hash. Transitions:
/// - [`apply_head`](Self::apply_head): a block that extends the head (executed, not yet safe);
/// - [`apply_safe`](Self::apply_safe): safe moves forward to a block of that chain;
/// - [`apply_soft`](Self::apply_soft): both at once (the sequencer's SOFT);
/// - [`apply_firm`](Self::apply_firm): finalized moves forward to a block on the safe chain
///   (the sequencer's FIRM).
///
/// Every method validates first and mutates only on success, so a refused transition leaves
/// the tracker as it was. Drive it as "compute, send forkchoiceUpdated, then commit": apply to
/// a clone, send its [`state`](Self::state), keep the clone if reth said `VALID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkchoiceTracker {
    finalized: BlockRef,
    /// finalized+1 ..= head, contiguous.
    chain: VecDeque<BlockRef>,
    /// Number of the safe block (finalized.number ..= head.number).
    safe_number: u64,
}

impl ForkchoiceTracker {
    /// A tracker at `finalized` (head = safe = finalized), e.g. genesis.
    pub fn new(finalized: BlockRef) -> Self {
        Self { finalized, chain: VecDeque::new(), safe_number: finalized.number }
    }

    /// Rebuilds a tracker on restart from the finalized block, the blocks above it up to the
    /// head (ascending), and the safe height. Refuses a chain that does not link up.
    pub fn from_chain(
        finalized: BlockRef,
        chain: Vec<BlockRef>,
        safe_number: u64,
    ) -> Result<Self, EngineError> {
        let mut t = Self::new(finalized);
        for b in chain {
            t.apply_head(b)?;
        }
        if safe_number < finalized.number || safe_number > t.head().number {
            return Err(fc_err(format!(
                "safe #{safe_number} outside finalized #{} ..= head #{}",
                finalized.number,
                t.head().number
            )));
        }
        t.safe_number = safe_number;
        Ok(t)
    }

    /// The head.
    pub fn head(&self) -> BlockRef {
        self.chain.back().copied().unwrap_or(self.finalized)
    }

    /// The safe block.
    pub fn safe(&self) -> BlockRef {
        self.get(self.safe_number).unwrap_or(self.finalized)
    }

    /// The finalized block.
    pub const fn finalized(&self) -> BlockRef {
        self.finalized
    }

    /// The block at `number` between finalized and head, if any.
    pub fn get(&self, number: u64) -> Option<BlockRef> {
        if number == self.finalized.number {
            return Some(self.finalized);
        }
        let idx = number.checked_sub(self.finalized.number + 1)?;
        self.chain.get(usize::try_from(idx).ok()?).copied()
    }

    /// Blocks above finalized up to safe, ascending (safe but not yet final).
    pub fn unfinalized_safe(&self) -> impl Iterator<Item = &BlockRef> {
        self.chain.iter().take_while(move |b| b.number <= self.safe_number)
    }

    /// How many safe blocks are not final yet (`safe - finalized`).
    pub const fn soft_ahead(&self) -> u64 {
        self.safe_number - self.finalized.number
    }

    /// The Engine API forkchoice state.
    pub fn state(&self) -> ForkchoiceState {
        ForkchoiceState {
            head_block_hash: self.head().hash,
            safe_block_hash: self.safe().hash,
            finalized_block_hash: self.finalized.hash,
        }
    }

    /// A block that extends the head becomes the head.
    pub fn apply_head(&mut self, block: BlockRef) -> Result<(), EngineError> {
        let head = self.head();
        if block.number != head.number + 1 || block.parent_hash != head.hash {
            return Err(fc_err(format!(
                "block #{} {} (parent {}) does not extend head #{} {}",
                block.number, block.hash, block.parent_hash, head.number, head.hash
            )));
        }
        if block.timestamp <= head.timestamp && head.number > 0 {
            return Err(fc_err(format!(
                "block #{} timestamp {} is not after head timestamp {}",
                block.number, block.timestamp, head.timestamp
            )));
        }
        self.chain.push_back(block);
        Ok(())
    }

    /// Safe moves forward to block `number` with `hash` on the head chain.
    pub fn apply_safe(&mut self, number: u64, hash: B256) -> Result<(), EngineError> {
        if number <= self.safe_number {
            return Err(fc_err(format!(
                "safe #{number} does not move forward from #{}",
                self.safe_number
            )));
        }
        match self.get(number) {
            Some(b) if b.hash == hash => {
                self.safe_number = number;
                Ok(())
            }
            Some(b) => Err(fc_err(format!(
                "safe #{number} {hash} is not on the head chain (has {})",
                b.hash
            ))),
            None => Err(fc_err(format!("safe #{number} is above head #{}", self.head().number))),
        }
    }

    /// SOFT: `block` extends the head and becomes head and safe.
    pub fn apply_soft(&mut self, block: BlockRef) -> Result<(), EngineError> {
        if self.safe_number != self.head().number {
            return Err(fc_err(format!(
                "soft block #{} while head #{} is ahead of safe #{}",
                block.number,
                self.head().number,
                self.safe_number
            )));
        }
        let mut next = self.clone();
        next.apply_head(block)?;
        next.apply_safe(block.number, block.hash)?;
        *self = next;
        Ok(())
    }

    /// FIRM: finalized moves forward to block `number` with `hash`, which must be on the safe
    /// chain (at or below safe).
    pub fn apply_firm(&mut self, number: u64, hash: B256) -> Result<(), EngineError> {
        if number <= self.finalized.number {
            return Err(fc_err(format!(
                "finalized #{number} does not move forward from #{}",
                self.finalized.number
            )));
        }
        if number > self.safe_number {
            return Err(fc_err(format!("finalized #{number} is above safe #{}", self.safe_number)));
        }
        match self.get(number) {
            Some(b) if b.hash == hash => {
                while self.chain.front().is_some_and(|f| f.number <= number) {
                    self.chain.pop_front();
                }
                self.finalized = b;
                Ok(())
            }
            Some(b) => Err(fc_err(format!(
                "finalized #{number} {hash} is not on the safe chain (has {})",
                b.hash
            ))),
            None => Err(fc_err(format!("finalized #{number} unknown"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn genesis() -> BlockRef {
        BlockRef {
            number: 0,
            hash: B256::with_last_byte(0xaa),
            parent_hash: B256::ZERO,
            timestamp: 0,
        }
    }

    fn child(parent: &BlockRef, salt: u8) -> BlockRef {
        let mut h = parent.hash;
        h.0[0] = h.0[0].wrapping_add(1);
        h.0[1] = salt;
        h.0[2..10].copy_from_slice(&(parent.number + 1).to_be_bytes());
        BlockRef {
            number: parent.number + 1,
            hash: h,
            parent_hash: parent.hash,
            timestamp: parent.timestamp + 1,
        }
    }

    #[test]
    fn soft_then_firm() {
        let g = genesis();
        let mut t = ForkchoiceTracker::new(g);
        let b1 = child(&g, 0);
        let b2 = child(&b1, 0);
        t.apply_soft(b1).unwrap();
        t.apply_soft(b2).unwrap();
        assert_eq!(t.state().head_block_hash, b2.hash);
        assert_eq!(t.state().safe_block_hash, b2.hash);
        assert_eq!(t.state().finalized_block_hash, g.hash);
        assert_eq!(t.soft_ahead(), 2);
        t.apply_firm(1, b1.hash).unwrap();
        assert_eq!(t.finalized(), b1);
        assert_eq!(t.soft_ahead(), 1);
        // Never again, never backwards, never off-chain, never above safe.
        assert!(t.apply_firm(1, b1.hash).is_err());
        assert!(t.apply_firm(0, g.hash).is_err());
        assert!(t.apply_firm(2, B256::ZERO).is_err());
        assert!(t.apply_firm(3, B256::ZERO).is_err());
        // A fork of the head is refused.
        assert!(t.apply_soft(child(&b1, 9)).is_err());
        assert_eq!(t.head(), b2);
    }

    #[test]
    fn head_ahead_of_safe() {
        let g = genesis();
        let mut t = ForkchoiceTracker::new(g);
        let b1 = child(&g, 0);
        t.apply_head(b1).unwrap();
        assert_eq!(t.safe(), g);
        assert!(t.apply_firm(1, b1.hash).is_err(), "finalized must not pass safe");
        assert!(t.apply_soft(child(&b1, 0)).is_err());
        t.apply_safe(1, b1.hash).unwrap();
        t.apply_firm(1, b1.hash).unwrap();
    }

    #[test]
    fn from_chain_checks_links() {
        let g = genesis();
        let b1 = child(&g, 0);
        let b2 = child(&b1, 0);
        let t = ForkchoiceTracker::from_chain(g, vec![b1, b2], 2).unwrap();
        assert_eq!(t.head(), b2);
        assert_eq!(t.safe(), b2);
        assert!(ForkchoiceTracker::from_chain(g, vec![b2], 1).is_err());
        assert!(ForkchoiceTracker::from_chain(g, vec![b1], 2).is_err());
    }

    #[derive(Debug, Clone)]
    enum Event {
        /// Extend the head with a child of the block at `back` blocks below head (0 = head).
        Head {
            back: u8,
            salt: u8,
        },
        Soft {
            back: u8,
            salt: u8,
        },
        /// Move safe to the block at `offset` above finalized (maybe wrong hash).
        Safe {
            offset: u8,
            wrong: bool,
        },
        Firm {
            offset: u8,
            wrong: bool,
        },
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (0u8..3, any::<u8>()).prop_map(|(back, salt)| Event::Head { back, salt }),
            (0u8..3, any::<u8>()).prop_map(|(back, salt)| Event::Soft { back, salt }),
            (0u8..6, proptest::bool::weighted(0.2))
                .prop_map(|(offset, wrong)| Event::Safe { offset, wrong }),
            (0u8..6, proptest::bool::weighted(0.2))
                .prop_map(|(offset, wrong)| Event::Firm { offset, wrong }),
        ]
    }

    proptest! {
        /// No sequence of events moves a head backwards, breaks head ≥ safe ≥ finalized,
        /// or finalizes a block that is not on the safe chain.
        #[test]
        fn never_backwards(events in proptest::collection::vec(event(), 1..200)) {
            let g = genesis();
            let mut t = ForkchoiceTracker::new(g);
            // Every block ever made safe, by number: finalized must always be one of them.
            let mut safe_history = std::collections::HashMap::from([(0u64, g.hash)]);
            for ev in events {
                let before = t.clone();
                let res = match ev {
                    Event::Head { back, salt } | Event::Soft { back, salt } => {
                        let base = t.head().number.saturating_sub(u64::from(back));
                        let parent = t.get(base).unwrap_or(t.finalized());
                        let b = child(&parent, salt);
                        if matches!(ev, Event::Head { .. }) { t.apply_head(b) } else { t.apply_soft(b) }
                    }
                    Event::Safe { offset, wrong } | Event::Firm { offset, wrong } => {
                        let n = t.finalized().number + u64::from(offset);
                        let hash = match (t.get(n), wrong) {
                            (Some(b), false) => b.hash,
                            _ => B256::with_last_byte(offset),
                        };
                        if matches!(ev, Event::Safe { .. }) { t.apply_safe(n, hash) } else { t.apply_firm(n, hash) }
                    }
                };
                if res.is_err() {
                    prop_assert_eq!(&t, &before, "a refused transition changed the tracker");
                }
                prop_assert!(t.head().number >= before.head().number);
                prop_assert!(t.safe().number >= before.safe().number);
                prop_assert!(t.finalized().number >= before.finalized().number);
                prop_assert!(t.head().number >= t.safe().number);
                prop_assert!(t.safe().number >= t.finalized().number);
                // The head chain still contains the old safe and finalized blocks.
                prop_assert_eq!(t.get(before.safe().number).map(|b| b.hash).or(
                    (before.safe().number < t.finalized().number).then_some(before.safe().hash)),
                    Some(before.safe().hash));
                for b in t.unfinalized_safe() {
                    safe_history.insert(b.number, b.hash);
                }
                safe_history.insert(t.safe().number, t.safe().hash);
                prop_assert_eq!(safe_history.get(&t.finalized().number), Some(&t.finalized().hash));
            }
        }
    }
}
