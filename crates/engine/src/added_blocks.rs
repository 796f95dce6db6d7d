//! [`AddedBlocks`]: the blocks the execution layer's block tree took in last, for a caller that
//! must not get ahead of it.
//!
//! reth hands a block its payload builder built to its block tree on its own task, after the
//! payload is returned to whoever asked for it. A caller in the same process that imports the
//! payload right away (`engine_newPayload`) can overtake that handover, and reth then executes
//! and state-roots the block a second time. Over HTTP the round trip mostly hides this (the
//! derivation bench: 3–8 % of op-reth + kona-node's blocks executed twice, ~40 % in-process);
//! in-process the engine waits until the tree has the block (reth's block-added event),
//! bounded, before it imports it.

use crate::EngineMetrics;
use alloy_primitives::B256;
use std::{collections::VecDeque, sync::Arc, time::Duration};
use tokio::sync::watch;

/// How many of the last added blocks are remembered: the engine waits for the block it built
/// last, so a few would do; the rest covers a burst of events between two of its reads.
const REMEMBERED: usize = 64;

/// The hashes of the last blocks the execution layer's block tree added, newest last.
///
/// Cloning shares the record: one task records what the execution layer reports, the engine
/// waits on it.
#[derive(Debug, Clone)]
pub struct AddedBlocks {
    added: Arc<watch::Sender<VecDeque<B256>>>,
}

impl Default for AddedBlocks {
    fn default() -> Self {
        Self { added: Arc::new(watch::Sender::new(VecDeque::with_capacity(REMEMBERED))) }
    }
}

impl AddedBlocks {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the block tree added the block `hash`.
    pub fn record(&self, hash: B256) {
        self.added.send_modify(|added| {
            if added.len() == REMEMBERED {
                added.pop_front();
            }
            added.push_back(hash);
        });
    }

    /// Whether the block `hash` is among the last blocks added.
    pub fn contains(&self, hash: B256) -> bool {
        self.added.borrow().contains(&hash)
    }

    /// Waits until the block tree has added the block `hash`, at most `within`. `false` when it
    /// did not in time (counted in [`EngineMetrics::TREE_HANDOVER_TIMEOUTS`]): the caller goes on,
    /// and the execution layer does the work the handover would have saved.
    pub async fn wait_added(&self, hash: B256, within: Duration) -> bool {
        let mut added = self.added.subscribe();
        let arrived =
            tokio::time::timeout(within, added.wait_for(|added| added.contains(&hash))).await;
        // The sender lives in `self`, so the wait ends only by the block or by the timeout.
        let arrived = matches!(arrived, Ok(Ok(_)));
        if !arrived {
            metrics::counter!(EngineMetrics::TREE_HANDOVER_TIMEOUTS).increment(1);
        }
        arrived
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_block_added_before_the_wait_is_found_at_once() {
        let added = AddedBlocks::new();
        added.record(B256::repeat_byte(1));
        assert!(added.wait_added(B256::repeat_byte(1), Duration::ZERO).await);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_ends_when_the_block_is_added() {
        let added = AddedBlocks::new();
        let recorder = added.clone();
        let wait = tokio::spawn({
            let added = added.clone();
            async move { added.wait_added(B256::repeat_byte(2), Duration::from_secs(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        recorder.record(B256::repeat_byte(3));
        recorder.record(B256::repeat_byte(2));
        assert!(wait.await.expect("wait task"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_gives_up_after_its_bound() {
        let added = AddedBlocks::new();
        added.record(B256::repeat_byte(4));
        let started = tokio::time::Instant::now();
        assert!(!added.wait_added(B256::repeat_byte(5), Duration::from_millis(100)).await);
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }

    #[test]
    fn only_the_last_blocks_are_remembered() {
        let added = AddedBlocks::new();
        for byte in 0..=u8::try_from(REMEMBERED).expect("fits") {
            added.record(B256::repeat_byte(byte));
        }
        assert!(!added.contains(B256::repeat_byte(0)));
        assert!(added.contains(B256::repeat_byte(1)));
        assert!(added.contains(B256::repeat_byte(u8::try_from(REMEMBERED).expect("fits"))));
    }
}
