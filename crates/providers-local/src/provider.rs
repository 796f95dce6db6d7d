//! [`BufferedL2Provider`]: kona's L2 chain provider over the [`ChainBuffer`].

use crate::{
    Applied, ChainBuffer, ChainStateEvent, DEFAULT_BUFFER_CAPACITY, ProviderError, SealedL2Block,
    SourceError,
};
use alloy_eips::BlockNumHash;
use alloy_primitives::B256;
use async_trait::async_trait;
use kona_derive::L2ChainProvider;
use kona_genesis::{RollupConfig, SystemConfig};
use kona_protocol::{BatchValidationProvider, BlockInfo, L2BlockInfo, to_system_config};
use metrics::{counter, gauge};
use op_alloy_consensus::OpBlock;
use parking_lot::RwLock;
use std::{fmt::Debug, ops::RangeInclusive, sync::Arc, time::Duration};
use tokio::sync::watch;
use tracing::{debug, warn};

/// Where blocks older than the buffer come from (reth's database in the `rollup` binary).
///
/// Implementations return `Ok(None)` for a block they do not have. Only canonical blocks may be
/// returned.
#[async_trait]
pub trait L2BlockSource: Send + Sync + Debug {
    /// The canonical block at `number`.
    async fn block_by_number(&self, number: u64) -> Result<Option<SealedL2Block>, SourceError>;

    /// The canonical block with `hash`.
    async fn block_by_hash(&self, hash: B256) -> Result<Option<SealedL2Block>, SourceError>;

    /// The canonical blocks in `range`, oldest first: from the first block of the range the
    /// source has up to the last it has without a hole (none if it has none of them).
    ///
    /// The default reads block by block; a source that can read a range at once, from one view
    /// of its chain, should.
    async fn blocks_in_range(
        &self,
        range: RangeInclusive<u64>,
    ) -> Result<Vec<SealedL2Block>, SourceError> {
        let mut blocks = Vec::new();
        for number in range {
            match self.block_by_number(number).await? {
                Some(block) => blocks.push(block),
                // Blocks below the first one the source has (pruned) are skipped; a hole after
                // it ends the run, which must stay contiguous.
                None if blocks.is_empty() => {}
                None => break,
            }
        }
        Ok(blocks)
    }
}

/// How often a re-seed reads its range again when the blocks read do not form one chain: a
/// source read block by block can straddle a reorg the host makes meanwhile.
const RESEED_ATTEMPTS: usize = 3;

/// Names of the buffer's metrics.
#[derive(Debug, Clone, Copy)]
pub struct BufferMetrics;

impl BufferMetrics {
    /// Blocks held.
    pub const BLOCKS: &'static str = "kona_exex_buffer_blocks";
    /// Buffered head number.
    pub const HEAD: &'static str = "kona_exex_buffer_head";
    /// Reorgs and reverts applied.
    pub const REORGS: &'static str = "kona_exex_buffer_reorgs_total";
    /// Lookups answered by the fallback source.
    pub const FALLBACK_HITS: &'static str = "kona_exex_buffer_fallback_hits_total";
    /// Lookups nobody could answer.
    pub const MISSES: &'static str = "kona_exex_buffer_misses_total";
}

/// In-memory L2 chain provider for kona's derivation, kept current by [`ChainStateEvent`]s.
///
/// Cheap to clone; clones share the buffer. Reads take a read lock only long enough to clone an
/// `Arc` out, so derivation, the sequencer and RPC read concurrently while events are applied,
/// and no lock is ever held across an `.await`.
#[derive(Debug, Clone)]
pub struct BufferedL2Provider {
    buffer: Arc<RwLock<ChainBuffer>>,
    rollup_config: Arc<RollupConfig>,
    fallback: Option<Arc<dyn L2BlockSource>>,
    head: Arc<watch::Sender<Option<BlockNumHash>>>,
    ahead_wait: Duration,
}

impl BufferedL2Provider {
    /// A provider for `rollup_config` with the default capacity and no fallback.
    pub fn new(rollup_config: Arc<RollupConfig>) -> Self {
        Self::with_capacity(rollup_config, DEFAULT_BUFFER_CAPACITY)
    }

    /// A provider holding at most `capacity` recent blocks.
    pub fn with_capacity(rollup_config: Arc<RollupConfig>, capacity: usize) -> Self {
        Self {
            buffer: Arc::new(RwLock::new(ChainBuffer::new(capacity))),
            rollup_config,
            fallback: None,
            head: Arc::new(watch::Sender::new(None)),
            ahead_wait: Duration::ZERO,
        }
    }

    /// How long a lookup of a block just above the buffered head waits for it to arrive
    /// (default: not at all).
    ///
    /// The execution layer makes a block canonical before its chain notification reaches the
    /// buffer, and kona's engine tells derivation about a new safe block at that moment: a
    /// validator's derivation then asks for the block it just built, a few milliseconds before
    /// the buffer has it. Without a wait, that miss makes kona's derivation yield until the next
    /// L1 head (13 s in kona 0.1.3): one derived block per L1 poll.
    pub const fn with_ahead_wait(mut self, wait: Duration) -> Self {
        self.ahead_wait = wait;
        self
    }

    /// Answers lookups outside the buffer from `source`.
    pub fn with_fallback(mut self, source: Arc<dyn L2BlockSource>) -> Self {
        self.fallback = Some(source);
        self
    }

    /// The rollup config.
    pub fn rollup_config(&self) -> &Arc<RollupConfig> {
        &self.rollup_config
    }

    /// The most blocks the buffer holds: a host need not hand over more of one chain.
    pub fn capacity(&self) -> usize {
        self.buffer.read().capacity()
    }

    /// Whether lookups outside the buffer go to a fallback source.
    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// Applies a chain event; on error nothing changes.
    pub fn apply(&self, event: &ChainStateEvent) -> Result<Applied, ProviderError> {
        let (result, head, len) = {
            let mut buffer = self.buffer.write();
            let result = buffer.apply(event);
            (result, buffer.head(), buffer.len())
        };
        match &result {
            Ok(applied) => {
                if applied.removed > 0 {
                    counter!(BufferMetrics::REORGS).increment(1);
                    warn!(target: "providers_local", kind = event.kind(), removed = applied.removed, added = applied.added, head = ?head.map(|h| h.number), "L2 chain rewound");
                } else {
                    debug!(target: "providers_local", added = applied.added, head = ?head.map(|h| h.number), "L2 blocks committed");
                }
                self.record(head, len);
            }
            // The caller decides what a rejection means (the ExEx re-seeds, and warns naming it).
            Err(err) => {
                debug!(target: "providers_local", kind = event.kind(), %err, "chain event rejected")
            }
        }
        result
    }

    /// Replaces the buffer's content with `chain` (oldest first).
    pub fn reset(&self, chain: Vec<SealedL2Block>) -> Result<Applied, ProviderError> {
        let (result, head, len) = {
            let mut buffer = self.buffer.write();
            let result = buffer.reset(chain);
            (result, buffer.head(), buffer.len())
        };
        if result.is_ok() {
            self.record(head, len);
        }
        result
    }

    /// Rebuilds the buffer from the fallback source: its canonical blocks up to `tip`, as many as
    /// the buffer holds (fewer if the source has fewer). For when the buffer no longer agrees
    /// with the host's chain (an event it could not apply); the source is the host's truth.
    ///
    /// Fails with [`ProviderError::NoFallback`] without a source, with the source's error, or
    /// with [`ProviderError::Detached`] when the source kept answering blocks that are not one
    /// chain; the buffer is then unchanged.
    pub async fn reseed_from_fallback(&self, tip: u64) -> Result<Applied, ProviderError> {
        let Some(fallback) = &self.fallback else { return Err(ProviderError::NoFallback) };
        let window = u64::try_from(self.capacity()).unwrap_or(u64::MAX);
        let range = tip.saturating_sub(window.saturating_sub(1))..=tip;
        let mut attempt = 1;
        loop {
            let chain =
                fallback.blocks_in_range(range.clone()).await.map_err(ProviderError::Fallback)?;
            match self.reset(chain) {
                Err(err @ ProviderError::Detached { .. }) if attempt < RESEED_ATTEMPTS => {
                    debug!(target: "providers_local", %err, attempt, "fallback answered no single chain; reading it again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn record(&self, head: Option<BlockNumHash>, len: usize) {
        self.head.send_replace(head);
        gauge!(BufferMetrics::BLOCKS).set(len as f64);
        if let Some(head) = head {
            gauge!(BufferMetrics::HEAD).set(head.number as f64);
        }
    }

    /// The buffered canonical head.
    pub fn head(&self) -> Option<BlockNumHash> {
        self.buffer.read().head()
    }

    /// The oldest buffered block.
    pub fn oldest(&self) -> Option<BlockNumHash> {
        self.buffer.read().oldest()
    }

    /// Number of buffered blocks.
    pub fn len(&self) -> usize {
        self.buffer.read().len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buffer.read().is_empty()
    }

    /// The buffered block at `number`, without consulting the fallback.
    pub fn buffered_by_number(&self, number: u64) -> Option<SealedL2Block> {
        self.buffer.read().by_number(number).cloned()
    }

    /// The canonical block at `number`: from the buffer when it covers `number`, else from the
    /// fallback.
    pub async fn sealed_block_by_number(
        &self,
        number: u64,
    ) -> Result<SealedL2Block, ProviderError> {
        let (hit, covered) = {
            let buffer = self.buffer.read();
            // Above the head nothing exists yet; below the oldest block only the fallback knows.
            let covered = buffer.head().is_some_and(|head| number > head.number);
            (buffer.by_number(number).cloned(), covered)
        };
        if let Some(block) = hit {
            return Ok(block);
        }
        if covered {
            if let Some(block) = self.wait_for_block(number).await {
                return Ok(block);
            }
            counter!(BufferMetrics::MISSES).increment(1);
            return Err(ProviderError::BlockNotFound(number));
        }
        self.fallback_by_number(number).await
    }

    /// Waits up to the ahead-wait for the buffer to reach `number`; see
    /// [`with_ahead_wait`](Self::with_ahead_wait).
    async fn wait_for_block(&self, number: u64) -> Option<SealedL2Block> {
        if self.ahead_wait.is_zero() {
            return None;
        }
        let mut head = self.head.subscribe();
        let reached = head.wait_for(|head| head.is_some_and(|head| head.number >= number));
        tokio::time::timeout(self.ahead_wait, reached).await.ok()?.ok()?;
        self.buffer.read().by_number(number).cloned()
    }

    async fn fallback_by_number(&self, number: u64) -> Result<SealedL2Block, ProviderError> {
        let Some(fallback) = &self.fallback else {
            counter!(BufferMetrics::MISSES).increment(1);
            return Err(ProviderError::BlockNotFound(number));
        };
        let block = fallback.block_by_number(number).await.map_err(ProviderError::Fallback)?;
        counted(block, ProviderError::BlockNotFound(number))
    }

    /// The canonical block with `hash`, from the buffer or the fallback.
    pub async fn sealed_block_by_hash(&self, hash: B256) -> Result<SealedL2Block, ProviderError> {
        let hit = self.buffer.read().by_hash(&hash).cloned();
        if let Some(block) = hit {
            return Ok(block);
        }
        let Some(fallback) = &self.fallback else {
            counter!(BufferMetrics::MISSES).increment(1);
            return Err(ProviderError::HashNotFound(hash));
        };
        let block = fallback.block_by_hash(hash).await.map_err(ProviderError::Fallback)?;
        // A block the buffer covers by number but not by hash was reorged out, even if a lagging
        // fallback still has it.
        let block = block.filter(|block| {
            self.buffer.read().by_number(block.number()).is_none_or(|b| b.hash() == hash)
        });
        counted(block, ProviderError::HashNotFound(hash))
    }

    /// The L2 block info of a block: its L1 origin and sequence number from the L1 info
    /// deposit, or the rollup genesis for the genesis block (kona's own decoding).
    pub fn block_info(&self, block: &SealedL2Block) -> Result<L2BlockInfo, ProviderError> {
        L2BlockInfo::from_block_and_genesis(block.block().as_ref(), &self.rollup_config.genesis)
            .map_err(|e| ProviderError::InvalidBlock {
                number: block.number(),
                reason: e.to_string(),
            })
    }

    /// The genesis L2 block info from the rollup config, for when the genesis block itself is not
    /// available (a freshly seeded buffer without fallback).
    fn genesis_info(&self) -> L2BlockInfo {
        let genesis = &self.rollup_config.genesis;
        let block_info =
            BlockInfo::new(genesis.l2.hash, genesis.l2.number, B256::ZERO, genesis.l2_time);
        L2BlockInfo::new(block_info, genesis.l1, 0)
    }
}

/// Counts a fallback answer as a hit or a miss.
fn counted(
    block: Option<SealedL2Block>,
    miss: ProviderError,
) -> Result<SealedL2Block, ProviderError> {
    match block {
        Some(block) => {
            counter!(BufferMetrics::FALLBACK_HITS).increment(1);
            Ok(block)
        }
        None => {
            counter!(BufferMetrics::MISSES).increment(1);
            Err(miss)
        }
    }
}

#[async_trait]
impl BatchValidationProvider for BufferedL2Provider {
    type Error = ProviderError;

    async fn l2_block_info_by_number(&mut self, number: u64) -> Result<L2BlockInfo, ProviderError> {
        match self.sealed_block_by_number(number).await {
            Ok(block) => self.block_info(&block),
            Err(ProviderError::BlockNotFound(_))
                if number == self.rollup_config.genesis.l2.number =>
            {
                Ok(self.genesis_info())
            }
            Err(err) => Err(err),
        }
    }

    async fn block_by_number(&mut self, number: u64) -> Result<OpBlock, ProviderError> {
        // kona's trait hands out owned blocks; the clone happens outside any lock.
        let block = self.sealed_block_by_number(number).await?;
        Ok(OpBlock::clone(block.block()))
    }
}

#[async_trait]
impl L2ChainProvider for BufferedL2Provider {
    type Error = ProviderError;

    async fn system_config_by_number(
        &mut self,
        number: u64,
        rollup_config: Arc<RollupConfig>,
    ) -> Result<SystemConfig, ProviderError> {
        if number == rollup_config.genesis.l2.number
            && let Some(config) = rollup_config.genesis.system_config
        {
            return Ok(config);
        }
        let block = self.sealed_block_by_number(number).await?;
        to_system_config(block.block(), &rollup_config)
            .map_err(|e| ProviderError::InvalidBlock { number, reason: e.to_string() })
    }
}
