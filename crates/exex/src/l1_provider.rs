//! [`L1Provider`]: derivation's L1 reads, one cache for all of derivation's readers, and
//! finalized L1 blocks read ahead.
//!
//! kona's `AlloyChainProvider` keeps its caches inside the value, and derivation clones it for its
//! L1 traversal and for its attributes builder: each reads the same L1 block's header and
//! receipts again (measured on the 5 000-block derivation bench: 5 RPC calls per L1 block, 2 of
//! them repeats), one call after another while the engine waits for the next attributes.
//!
//! Here every clone shares one cache, a block read by number is read with its transactions (the
//! data source asks for them next), and while derivation works on L1 block `n` the blocks after
//! it, with their receipts, are read in the background in one batched request, up to
//! [`DEFAULT_READ_AHEAD`] blocks. Only blocks at or below the L1 finalized block are
//! read ahead and served by number from the cache: a finalized block cannot be reorged, so a
//! cached answer by number is as good as a fresh one. Closer to the L1 head every read by
//! number goes to the RPC, as in kona, so an L1 reorg is seen exactly when kona would see it.
//! Answers by hash are immutable and always come from the cache when they are in it.

use alloy_consensus::{Header, Receipt, TxEnvelope};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::B256;
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_client::BatchRequest;
use alloy_rpc_types_eth::{Block, TransactionReceipt};
use async_trait::async_trait;
use kona_derive::ChainProvider;
use kona_protocol::BlockInfo;
use kona_providers_alloy::AlloyChainProviderError;
use lru::LruCache;
use metrics::counter;
use std::{
    num::NonZeroUsize,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};
use tracing::{debug, warn};

/// L1 blocks read ahead of derivation by default: a few seconds of L1 history on a devnet,
/// minutes on Ethereum, in one batched request.
pub const DEFAULT_READ_AHEAD: u64 = 32;

/// Entries per cache (as kona-node's L1 provider).
const CACHE_SIZE: usize = 1024;

/// Metric: L1 reads of derivation, by `source` (cache, rpc) and `method`.
const L1_READS: &str = "kona_exex_l1_reads_total";

type BlockAndTransactions = (BlockInfo, Vec<TxEnvelope>);

/// Derivation's L1 provider (see the [module docs](self)). Clones share the cache.
#[derive(Debug, Clone)]
pub struct L1Provider {
    rpc: RootProvider,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    cache: Mutex<Cache>,
    read_ahead: u64,
    /// A read-ahead is running: at most one at a time.
    reading_ahead: AtomicBool,
}

#[derive(Debug)]
struct Cache {
    headers: LruCache<B256, Header>,
    blocks: LruCache<B256, BlockAndTransactions>,
    receipts: LruCache<B256, Vec<Receipt>>,
    /// Finalized blocks by number (only those: see the module docs).
    finalized_by_number: LruCache<u64, BlockInfo>,
    /// The highest L1 finalized block number seen.
    finalized: u64,
    /// The first block number no read-ahead has asked for.
    next_ahead: u64,
}

impl Cache {
    fn new() -> Self {
        let size = NonZeroUsize::new(CACHE_SIZE).unwrap_or(NonZeroUsize::MIN);
        Self {
            headers: LruCache::new(size),
            blocks: LruCache::new(size),
            receipts: LruCache::new(size),
            finalized_by_number: LruCache::new(size),
            finalized: 0,
            next_ahead: 0,
        }
    }

    /// A block read from the RPC whose parent is not the cached block below it means L1
    /// reorged deeper than its finalized block (anvil can; Ethereum cannot): nothing cached by
    /// number is trusted any more.
    fn check_continuity(&mut self, fresh: &BlockInfo) {
        let Some(below) = fresh.number.checked_sub(1) else { return };
        if self
            .finalized_by_number
            .peek(&below)
            .is_some_and(|parent| parent.hash != fresh.parent_hash)
        {
            warn!(target: "kona_exex::l1", number = fresh.number, "L1 reorged below its finalized block; dropping the blocks cached by number");
            self.finalized_by_number.clear();
            self.finalized = 0;
            self.next_ahead = 0;
        }
    }

    fn insert_block(&mut self, block: Block, finalized: bool) -> BlockInfo {
        let block = block.into_consensus().map_transactions(|tx| tx.inner.into_inner());
        let hash = block.header.hash_slow();
        let info = BlockInfo {
            hash,
            number: block.header.number,
            parent_hash: block.header.parent_hash,
            timestamp: block.header.timestamp,
        };
        if finalized {
            self.finalized_by_number.put(info.number, info);
        }
        self.headers.put(hash, block.header);
        self.blocks.put(hash, (info, block.body.transactions));
        info
    }
}

fn read(method: &'static str, source: &'static str) {
    counter!(L1_READS, "method" => method, "source" => source).increment(1);
}

fn consensus_receipts(
    hash: B256,
    receipts: Vec<TransactionReceipt>,
) -> Result<Vec<Receipt>, AlloyChainProviderError> {
    receipts
        .into_iter()
        .map(|receipt| receipt.inner.into_primitives_receipt().as_receipt().cloned())
        .collect::<Option<Vec<_>>>()
        .ok_or(AlloyChainProviderError::ReceiptsConversion(hash))
}

impl L1Provider {
    /// A provider reading from `rpc`, reading up to `read_ahead` finalized blocks ahead of
    /// derivation (0: none; [`DEFAULT_READ_AHEAD`] is the node's).
    pub fn new(rpc: RootProvider, read_ahead: u64) -> Self {
        let shared = Shared {
            cache: Mutex::new(Cache::new()),
            read_ahead,
            reading_ahead: AtomicBool::new(false),
        };
        Self { rpc, shared: Arc::new(shared) }
    }

    /// What a read of L1 block `number` would answer from the cache, without the RPC.
    pub fn cached_by_number(&self, number: u64) -> Option<BlockInfo> {
        self.cache().finalized_by_number.peek(&number).copied()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache only holds answers: one half-written by a panicking reader is still valid.
        self.shared.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a background read of the finalized blocks after `number`, unless one runs.
    fn read_ahead_after(&self, number: u64) {
        let window = self.shared.read_ahead;
        if window == 0 {
            return;
        }
        {
            let cache = self.cache();
            // Wait until derivation is within half a window of what was read ahead.
            if cache.next_ahead > number + 1 + window / 2 {
                return;
            }
        }
        if self.shared.reading_ahead.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(err) = this.read_ahead(number + 1, window).await {
                // Derivation reads what it needs itself; a failed read-ahead costs only time.
                debug!(target: "kona_exex::l1", %err, "L1 read-ahead failed");
            }
            this.shared.reading_ahead.store(false, Ordering::Release);
        });
    }

    async fn read_ahead(&self, from: u64, window: u64) -> Result<(), AlloyChainProviderError> {
        let mut finalized = self.cache().finalized;
        if finalized < from + window
            && let Some(block) = self.rpc.get_block_by_number(BlockNumberOrTag::Finalized).await?
        {
            finalized = block.header.number;
            self.cache().finalized = finalized;
        }
        let from = from.max(self.cache().next_ahead);
        let to = (from + window - 1).min(finalized);
        if from > to {
            return Ok(());
        }
        let mut batch = BatchRequest::new(self.rpc.client());
        let mut calls = Vec::new();
        for number in from..=to {
            let tag = BlockNumberOrTag::Number(number);
            let block = batch.add_call::<_, Option<Block>>("eth_getBlockByNumber", &(tag, true))?;
            let receipts = batch
                .add_call::<_, Option<Vec<TransactionReceipt>>>("eth_getBlockReceipts", &(tag,))?;
            calls.push((block, receipts));
        }
        batch.send().await?;
        let mut read = Vec::with_capacity(calls.len());
        for (block, receipts) in calls {
            let (Some(block), Some(receipts)) = (block.await?, receipts.await?) else { break };
            read.push((block, receipts));
        }
        let mut cache = self.cache();
        for (block, receipts) in read {
            let info = cache.insert_block(block, true);
            cache.receipts.put(info.hash, consensus_receipts(info.hash, receipts)?);
            cache.next_ahead = cache.next_ahead.max(info.number + 1);
        }
        debug!(target: "kona_exex::l1", from, to, finalized, "L1 blocks read ahead");
        Ok(())
    }
}

#[async_trait]
impl ChainProvider for L1Provider {
    type Error = AlloyChainProviderError;

    async fn header_by_hash(&mut self, hash: B256) -> Result<Header, Self::Error> {
        if let Some(header) = self.cache().headers.get(&hash).cloned() {
            read("header_by_hash", "cache");
            return Ok(header);
        }
        read("header_by_hash", "rpc");
        let block = self
            .rpc
            .get_block_by_hash(hash)
            .await?
            .ok_or(AlloyChainProviderError::BlockNotFound(hash.into()))?;
        let header = block.header.into_consensus();
        self.cache().headers.put(hash, header.clone());
        Ok(header)
    }

    async fn block_info_by_number(&mut self, number: u64) -> Result<BlockInfo, Self::Error> {
        self.read_ahead_after(number);
        if let Some(info) = self.cache().finalized_by_number.get(&number).copied() {
            read("block_by_number", "cache");
            return Ok(info);
        }
        read("block_by_number", "rpc");
        let block = self
            .rpc
            .get_block_by_number(number.into())
            .full()
            .await?
            .ok_or(AlloyChainProviderError::BlockNotFound(number.into()))?;
        let mut cache = self.cache();
        let finalized = number <= cache.finalized;
        let info = cache.insert_block(block, finalized);
        cache.check_continuity(&info);
        Ok(info)
    }

    async fn receipts_by_hash(&mut self, hash: B256) -> Result<Vec<Receipt>, Self::Error> {
        if let Some(receipts) = self.cache().receipts.get(&hash).cloned() {
            read("receipts_by_hash", "cache");
            return Ok(receipts);
        }
        read("receipts_by_hash", "rpc");
        let receipts = self
            .rpc
            .get_block_receipts(hash.into())
            .await?
            .ok_or(AlloyChainProviderError::BlockNotFound(hash.into()))?;
        let receipts = consensus_receipts(hash, receipts)?;
        self.cache().receipts.put(hash, receipts.clone());
        Ok(receipts)
    }

    async fn block_info_and_transactions_by_hash(
        &mut self,
        hash: B256,
    ) -> Result<BlockAndTransactions, Self::Error> {
        if let Some(block) = self.cache().blocks.get(&hash).cloned() {
            read("block_by_hash", "cache");
            return Ok(block);
        }
        read("block_by_hash", "rpc");
        let block = self
            .rpc
            .get_block_by_hash(hash)
            .full()
            .await?
            .ok_or(AlloyChainProviderError::BlockNotFound(hash.into()))?;
        let mut cache = self.cache();
        let info = cache.insert_block(block, false);
        cache
            .blocks
            .get(&info.hash)
            .cloned()
            .ok_or(AlloyChainProviderError::BlockNotFound(hash.into()))
    }
}
