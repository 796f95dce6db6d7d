//! [`ChainBuffer`]: the recent canonical L2 chain, exactly.
//!
//! Invariant: the buffer holds a contiguous run of canonical blocks `base..=head`, each the child
//! of the one before, plus a hash index over exactly those blocks. Every event either keeps the
//! invariant or is rejected without changing anything. Because nothing outside that run is ever
//! kept, a lookup can never return a block that was reorged out: the stale number→hash entries
//! that a separate, lazily-pruned index would leave behind cannot exist.
//!
//! An event whose new blocks alone fill the buffer replaces its whole content without having to
//! attach to it: none of the old content would survive the event anyway, and the event's chain is
//! canonical. This lets a host hand over only the newest `capacity` blocks of a long chain.

use crate::{ChainStateEvent, ProviderError, SealedL2Block};
use alloy_eips::BlockNumHash;
use alloy_primitives::{B256, map::HashMap};
use std::collections::VecDeque;

/// Default number of blocks kept: about 4.5 hours of 2-second blocks, and more than the longest
/// span derivation looks back over for one channel on mainnet configurations.
pub const DEFAULT_BUFFER_CAPACITY: usize = 8192;

/// The buffered canonical chain; see the module docs.
#[derive(Debug, Clone)]
pub struct ChainBuffer {
    blocks: VecDeque<SealedL2Block>,
    by_hash: HashMap<B256, u64>,
    capacity: usize,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Blocks appended.
    pub added: usize,
    /// Blocks removed from the tip (reorg or revert).
    pub removed: usize,
    /// Old blocks dropped to stay within capacity.
    pub evicted: usize,
}

impl ChainBuffer {
    /// An empty buffer holding at most `capacity` blocks (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { blocks: VecDeque::new(), by_hash: HashMap::default(), capacity }
    }

    /// Maximum number of blocks held.
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of blocks held.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether no block is held.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The canonical head, if any block is held.
    pub fn head(&self) -> Option<BlockNumHash> {
        self.blocks.back().map(SealedL2Block::num_hash)
    }

    /// The oldest block held.
    pub fn oldest(&self) -> Option<BlockNumHash> {
        self.blocks.front().map(SealedL2Block::num_hash)
    }

    /// Whether `number` lies within the buffered range.
    pub fn contains_number(&self, number: u64) -> bool {
        self.index_of(number).is_some()
    }

    fn index_of(&self, number: u64) -> Option<usize> {
        let base = self.blocks.front()?.number();
        let offset = usize::try_from(number.checked_sub(base)?).ok()?;
        (offset < self.blocks.len()).then_some(offset)
    }

    /// The canonical block at `number`, if buffered.
    pub fn by_number(&self, number: u64) -> Option<&SealedL2Block> {
        self.index_of(number).and_then(|i| self.blocks.get(i))
    }

    /// The block with `hash`, if it is buffered (and so canonical).
    pub fn by_hash(&self, hash: &B256) -> Option<&SealedL2Block> {
        let number = *self.by_hash.get(hash)?;
        self.by_number(number).filter(|block| block.hash() == *hash)
    }

    /// Replaces the whole content with `chain` (oldest first, contiguous), keeping its newest
    /// `capacity` blocks.
    pub fn reset(&mut self, chain: Vec<SealedL2Block>) -> Result<Applied, ProviderError> {
        check_contiguous(&chain)?;
        let removed = self.blocks.len();
        self.blocks.clear();
        self.by_hash.clear();
        let added = chain.len();
        for block in chain {
            self.push(block);
        }
        let evicted = self.evict();
        Ok(Applied { added, removed, evicted })
    }

    /// Applies `event`. On error the buffer is unchanged.
    pub fn apply(&mut self, event: &ChainStateEvent) -> Result<Applied, ProviderError> {
        match event {
            ChainStateEvent::Committed { new } => self.commit(new),
            ChainStateEvent::Reverted { old } => {
                let Some(first) = old.first() else { return Ok(Applied::default()) };
                self.check_revert(first.number, old)?;
                let removed = self.truncate_from(first.number);
                Ok(Applied { removed, ..Applied::default() })
            }
            ChainStateEvent::Reorged { old, new } if new.len() >= self.capacity => {
                // The new chain may have been cut to the window, so it need not start at the
                // fork; what the buffer holds at and above the fork is reorged out either way.
                self.replace(new, old.first().map(|first| first.number))
            }
            ChainStateEvent::Reorged { old, new } => {
                let fork = match (old.first(), new.first()) {
                    (Some(o), Some(n)) if o.number != n.number() => {
                        return Err(ProviderError::ForkMismatch { old: o.number, new: n.number() });
                    }
                    (Some(o), _) => o.number,
                    (None, Some(n)) => n.number(),
                    (None, None) => return Ok(Applied::default()),
                };
                self.check_revert(fork, old)?;
                check_contiguous(new)?;
                self.check_attaches(fork, new)?;
                let removed = self.truncate_from(fork);
                let added = new.len();
                for block in new {
                    self.push(block.clone());
                }
                let evicted = self.evict();
                Ok(Applied { added, removed, evicted })
            }
        }
    }

    /// Appends committed blocks. Blocks the buffer already holds (same hash) are skipped, so a
    /// host replaying notifications after a restart does no harm.
    fn commit(&mut self, new: &[SealedL2Block]) -> Result<Applied, ProviderError> {
        check_contiguous(new)?;
        // Skip the prefix that is already buffered or older than the buffer.
        let mut start = 0;
        for block in new {
            match self.by_number(block.number()) {
                Some(buffered) if buffered.hash() == block.hash() => start += 1,
                Some(buffered) => {
                    return Err(ProviderError::Conflict {
                        number: block.number(),
                        got: block.hash(),
                        buffered: buffered.hash(),
                    });
                }
                None if self.oldest().is_some_and(|o| block.number() < o.number) => start += 1,
                None => break,
            }
        }
        let fresh = &new[start..];
        if fresh.len() >= self.capacity {
            return self.replace(fresh, None);
        }
        let Some(first) = fresh.first() else { return Ok(Applied::default()) };
        if let Some(head) = self.head() {
            if first.number() != head.number + 1 {
                return Err(ProviderError::Gap { head: head.number, got: first.number() });
            }
            if first.parent_hash() != head.hash {
                return Err(ProviderError::Detached {
                    number: first.number(),
                    parent: first.parent_hash(),
                    expected: head.hash,
                });
            }
        }
        let added = fresh.len();
        for block in fresh {
            self.push(block.clone());
        }
        let evicted = self.evict();
        Ok(Applied { added, evicted, ..Applied::default() })
    }

    /// Replaces the whole content with the newest `capacity` blocks of `new` (contiguous, at least
    /// `capacity` of them). Buffered blocks from `reorged_from` on count as removed (reorged
    /// out), the others as evicted (pushed out of the window).
    fn replace(
        &mut self,
        new: &[SealedL2Block],
        reorged_from: Option<u64>,
    ) -> Result<Applied, ProviderError> {
        check_contiguous(new)?;
        let removed = reorged_from.map_or(0, |fork| self.truncate_from(fork));
        let window = &new[new.len().saturating_sub(self.capacity)..];
        let evicted = self.blocks.len() + (new.len() - window.len());
        self.blocks.clear();
        self.by_hash.clear();
        for block in window {
            self.push(block.clone());
        }
        Ok(Applied { added: new.len(), removed, evicted })
    }

    /// A reorg or revert from `fork` on must stay within the buffer and name the buffered blocks.
    fn check_revert(&self, fork: u64, old: &[BlockNumHash]) -> Result<(), ProviderError> {
        let Some(oldest) = self.oldest() else { return Ok(()) };
        if fork < oldest.number {
            return Err(ProviderError::ReorgBeyondBuffer {
                fork_number: fork,
                oldest_buffered: oldest.number,
            });
        }
        for block in old {
            if let Some(buffered) = self.by_number(block.number)
                && buffered.hash() != block.hash
            {
                return Err(ProviderError::StaleRevert {
                    number: block.number,
                    reverted: block.hash,
                    buffered: buffered.hash(),
                });
            }
        }
        Ok(())
    }

    /// The first new block must be the child of the block just below the fork, when buffered.
    fn check_attaches(&self, fork: u64, new: &[SealedL2Block]) -> Result<(), ProviderError> {
        let (Some(first), Some(parent)) =
            (new.first(), fork.checked_sub(1).and_then(|n| self.by_number(n)))
        else {
            // No buffered parent: with a non-empty buffer the fork would be below it (rejected
            // above) or above the head (a gap).
            return match (new.first(), self.head()) {
                (Some(first), Some(head)) if first.number() > head.number + 1 => {
                    Err(ProviderError::Gap { head: head.number, got: first.number() })
                }
                _ => Ok(()),
            };
        };
        if first.parent_hash() != parent.hash() {
            return Err(ProviderError::Detached {
                number: first.number(),
                parent: first.parent_hash(),
                expected: parent.hash(),
            });
        }
        Ok(())
    }

    fn push(&mut self, block: SealedL2Block) {
        self.by_hash.insert(block.hash(), block.number());
        self.blocks.push_back(block);
    }

    /// Removes every block at `number` and above; returns how many.
    fn truncate_from(&mut self, number: u64) -> usize {
        let keep = match self.oldest() {
            Some(oldest) if number > oldest.number => {
                usize::try_from(number - oldest.number).unwrap_or(usize::MAX).min(self.blocks.len())
            }
            Some(_) => 0,
            None => return 0,
        };
        let removed = self.blocks.len() - keep;
        for block in self.blocks.drain(keep..) {
            self.by_hash.remove(&block.hash());
        }
        removed
    }

    fn evict(&mut self) -> usize {
        let mut evicted = 0;
        while self.blocks.len() > self.capacity {
            if let Some(block) = self.blocks.pop_front() {
                self.by_hash.remove(&block.hash());
                evicted += 1;
            }
        }
        evicted
    }
}

/// Each block of `chain` must be the child of the one before it.
fn check_contiguous(chain: &[SealedL2Block]) -> Result<(), ProviderError> {
    for pair in chain.windows(2) {
        let (parent, child) = (&pair[0], &pair[1]);
        if child.number() != parent.number() + 1 || child.parent_hash() != parent.hash() {
            return Err(ProviderError::Detached {
                number: child.number(),
                parent: child.parent_hash(),
                expected: parent.hash(),
            });
        }
    }
    Ok(())
}
