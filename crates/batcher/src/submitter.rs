//! [`BatchSubmitter`]: the driver that posts the unsafe L2 chain to L1 as batcher transactions.
//!
//! One loop, one L1 account, transactions strictly in nonce order (Holocene derivation wants
//! frames and channels in order):
//!
//! 1. **Resume.** Wait for the first safe head, wait until transactions a previous run left in
//!    the L1 mempool are mined, then read back the batcher's own transactions of the last
//!    `channel_timeout` L1 blocks ([`posted_l2_blocks`]) and start after the last L2 block they
//!    carry: no gap, nothing posted twice.
//! 2. **Batch.** Blocks from there to the unsafe head go into the open channel, which is closed
//!    after `max_channel_duration` L1 blocks or when it is full, compressed and cut into frames,
//!    one frame per transaction.
//!    In blob mode each frame becomes one EIP-4844 blob ([`crate::blob`]), up to
//!    `target_num_frames` blobs per transaction, with KZG commitments and proofs.
//! 3. **Submit and track.** Each transaction gets the next nonce and EIP-1559 fees from L1, is
//!    followed until mined and confirmed, and is sent again with bumped fees if it is not mined
//!    within the resubmission timeout. Mined transactions are kept until the safe head passes
//!    their blocks: if an L1 reorg takes one out of the canonical chain, everything after the
//!    safe head is batched and posted again.
//!
//! Any L1 or L2 trouble is logged, counted and retried on the next tick with backoff; the loop
//! only ends when its token is cancelled.

use crate::{
    BatcherError, BlockBatch, ChannelBuilder, ChannelCompression, ChannelConfig, SpanBatchBuilder,
    blob::{self, MAX_BLOB_DATA_SIZE},
    posted::{BatcherDataReader, posted_l2_blocks, resume_after},
};
use alloy_eips::{BlockNumberOrTag, eip4844::BlobTransactionSidecar};
use alloy_network::{EthereumWallet, TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, B256, Bytes};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use kona_genesis::RollupConfig;
use kona_protocol::{Batch, BlockInfo, L2BlockInfo};
use metrics::{counter, gauge};
use op_alloy_consensus::OpBlock;
use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};
use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

/// Which batch format channels carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchKind {
    /// One singular batch per L2 block.
    Single,
    /// One span batch per channel (Delta and later), much smaller for runs of similar blocks.
    #[default]
    Span,
}

/// Where batcher data goes on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataAvailability {
    /// Transaction calldata, one frame per transaction.
    #[default]
    Calldata,
    /// EIP-4844 blobs, one frame per blob, up to [`SubmitterConfig::target_num_frames`] blobs
    /// per transaction.
    Blobs,
}

/// How the batcher batches and submits.
#[derive(Debug, Clone)]
pub struct SubmitterConfig {
    /// The L1 execution RPC the transactions go to.
    pub l1_rpc: Url,
    /// The L1 beacon API, where blobs are read back after a restart (derivation's view).
    pub l1_beacon: Url,
    /// The rollup, for the batch inbox and the batch rules.
    pub rollup: Arc<RollupConfig>,
    /// Close a channel this many L1 blocks after it was opened.
    pub max_channel_duration: u64,
    /// Largest frame (and so transaction calldata, less one byte), in bytes.
    pub max_frame_size: usize,
    /// Channel compression.
    pub compression: ChannelCompression,
    /// Batch format.
    pub batch_kind: BatchKind,
    /// Calldata or blobs.
    pub data_availability: DataAvailability,
    /// Frames (blobs) per blob transaction; calldata transactions always carry one frame.
    pub target_num_frames: usize,
    /// L1 blocks on top of the one holding a transaction before it counts as confirmed.
    pub num_confirmations: u64,
    /// Send a transaction again, with bumped fees, when it is not mined within this time.
    pub resubmission_timeout: Duration,
    /// How often the loop looks at L1 and L2.
    pub poll_interval: Duration,
    /// Most transactions in flight (sent, not yet mined) at once.
    pub max_pending_transactions: usize,
}

impl SubmitterConfig {
    /// Defaults close to op-batcher's, for `rollup` and its L1 RPC.
    pub fn new(l1_rpc: Url, l1_beacon: Url, rollup: Arc<RollupConfig>) -> Self {
        Self {
            l1_rpc,
            l1_beacon,
            rollup,
            max_channel_duration: 2,
            max_frame_size: 120_000,
            compression: ChannelCompression::ZLIB,
            batch_kind: BatchKind::Span,
            data_availability: DataAvailability::Calldata,
            target_num_frames: 1,
            num_confirmations: 1,
            resubmission_timeout: Duration::from_secs(24),
            poll_interval: Duration::from_millis(500),
            max_pending_transactions: 8,
        }
    }
}

/// Why the L2 chain could not be read.
pub type L2ChainError = Box<dyn std::error::Error + Send + Sync>;

/// Where the batcher reads L2 blocks: the node's own chain.
#[async_trait::async_trait]
pub trait L2Chain: Send + Sync {
    /// Number and hash of the newest L2 block.
    fn unsafe_head(&self) -> Option<(u64, B256)>;
    /// The canonical block at `number`, with its hash.
    async fn block(&self, number: u64) -> Result<Option<(B256, Arc<OpBlock>)>, L2ChainError>;
}

/// Names of the batcher's metrics (recorded through the `metrics` facade).
#[derive(Debug, Clone, Copy)]
pub struct BatcherMetrics;

impl BatcherMetrics {
    /// Highest L2 block put into a channel.
    pub const BATCHED_HEAD: &'static str = "kona_batcher_batched_head";
    /// Highest L2 block whose batcher transactions are confirmed on L1.
    pub const CONFIRMED_HEAD: &'static str = "kona_batcher_confirmed_head";
    /// Channels closed and queued for submission.
    pub const CHANNELS: &'static str = "kona_batcher_channels_total";
    /// Batcher transactions sent, by `kind` (new, resubmit).
    pub const TXS_SENT: &'static str = "kona_batcher_txs_sent_total";
    /// Batcher transactions confirmed on L1.
    pub const TXS_CONFIRMED: &'static str = "kona_batcher_txs_confirmed_total";
    /// Batcher data bytes posted (frames with their version byte), by `da` (calldata, blobs).
    pub const BYTES_POSTED: &'static str = "kona_batcher_bytes_posted_total";
    /// Blobs posted.
    pub const BLOBS_POSTED: &'static str = "kona_batcher_blobs_posted_total";
    /// Failures, by `kind` (l1, l2, send, reverted).
    pub const FAILURES: &'static str = "kona_batcher_failures_total";
    /// L1 reorgs that took a batcher transaction out of the chain.
    pub const REORGS: &'static str = "kona_batcher_l1_reorgs_total";
    /// Transactions in flight (sent or mined, not yet safe).
    pub const IN_FLIGHT: &'static str = "kona_batcher_txs_in_flight";

    /// Describes every batcher metric.
    pub fn describe() {
        use metrics::{describe_counter, describe_gauge};
        describe_gauge!(Self::BATCHED_HEAD, "Highest L2 block put into a channel");
        describe_gauge!(
            Self::CONFIRMED_HEAD,
            "Highest L2 block whose batcher transactions are confirmed"
        );
        describe_counter!(Self::CHANNELS, "Channels closed and queued for submission");
        describe_counter!(Self::TXS_SENT, "Batcher transactions sent, by kind (new, resubmit)");
        describe_counter!(Self::TXS_CONFIRMED, "Batcher transactions confirmed on L1");
        describe_counter!(Self::BYTES_POSTED, "Batcher data bytes posted to L1, by da");
        describe_counter!(Self::BLOBS_POSTED, "Blobs posted to L1");
        describe_counter!(
            Self::FAILURES,
            "Batcher failures, by kind (l1, l2, send, encoding, reverted)"
        );
        describe_counter!(Self::REORGS, "L1 reorgs that removed a batcher transaction");
        describe_gauge!(Self::IN_FLIGHT, "Batcher transactions sent and not yet safe");
    }
}

/// What one batcher transaction carries.
#[derive(Debug, Clone)]
enum Payload {
    /// One frame as calldata.
    Calldata(Bytes),
    /// Frames as blobs, committed to once when the channel closed.
    Blobs {
        sidecar: BlobTransactionSidecar,
        /// Frame bytes in the blobs.
        data_bytes: usize,
    },
}

impl Payload {
    fn data_bytes(&self) -> usize {
        match self {
            Self::Calldata(calldata) => calldata.len(),
            Self::Blobs { data_bytes, .. } => *data_bytes,
        }
    }

    const fn da(&self) -> &'static str {
        match self {
            Self::Calldata(_) => "calldata",
            Self::Blobs { .. } => "blobs",
        }
    }
}

/// Frames waiting for, or in, a transaction.
#[derive(Debug, Clone)]
struct Submission {
    payload: Payload,
    /// The last L2 block of the channel this frame belongs to.
    last_l2_block: u64,
    nonce: Option<u64>,
    hash: Option<B256>,
    sent_at: Option<Instant>,
    attempts: u32,
    mined: Option<BlockInfo>,
    confirmed: bool,
}

/// The open channel: the blocks put into it so far.
#[derive(Debug)]
struct OpenChannel {
    opened_at_l1: u64,
    blocks: Vec<BlockBatch>,
    rlp_estimate: usize,
}

/// The batcher driver; see the module docs.
#[derive(Debug)]
pub struct BatchSubmitter<L> {
    config: SubmitterConfig,
    l1: DynProvider,
    batcher: Address,
    l2: L,
    safe_head: watch::Receiver<Option<L2BlockInfo>>,
    /// Reads our transactions back after a restart; connected on first use.
    reader: Option<BatcherDataReader>,
    next_block: Option<u64>,
    last_batched: Option<(u64, B256)>,
    channel: Option<OpenChannel>,
    submissions: VecDeque<Submission>,
    next_nonce: Option<u64>,
    failures: u32,
}

impl<L: L2Chain> BatchSubmitter<L> {
    /// A batcher posting from `signer`'s account, reading L2 blocks from `l2` and the safe head
    /// from `safe_head` (`None` until the node has one).
    pub fn new(
        config: SubmitterConfig,
        signer: PrivateKeySigner,
        l2: L,
        safe_head: watch::Receiver<Option<L2BlockInfo>>,
    ) -> Self {
        let batcher = signer.address();
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(config.l1_rpc.clone())
            .erased();
        Self {
            config,
            l1,
            batcher,
            l2,
            safe_head,
            reader: None,
            next_block: None,
            last_batched: None,
            channel: None,
            submissions: VecDeque::new(),
            next_nonce: None,
            failures: 0,
        }
    }

    /// The batcher's L1 address.
    pub const fn address(&self) -> Address {
        self.batcher
    }

    /// Runs until `cancellation` is cancelled. Never fails: trouble is retried with backoff.
    pub async fn run(mut self, cancellation: CancellationToken) {
        let expected = self.config.rollup.genesis.system_config.map(|c| c.batcher_address);
        if expected.is_some_and(|expected| expected != self.batcher) {
            warn!(target: "batcher", batcher = %self.batcher, expected = ?expected, "the batcher key is not the rollup's batcher address: derivation ignores its transactions");
        }
        info!(target: "batcher", batcher = %self.batcher, inbox = %self.config.rollup.batch_inbox_address, kind = ?self.config.batch_kind, da = ?self.config.data_availability, max_channel_duration = self.config.max_channel_duration, max_frame_size = self.config.max_frame_size, "batcher started");
        loop {
            let delay = match self.tick().await {
                Ok(()) => {
                    self.failures = 0;
                    self.config.poll_interval
                }
                Err(err) => {
                    self.failures = self.failures.saturating_add(1);
                    counter!(BatcherMetrics::FAILURES, "kind" => err.kind()).increment(1);
                    let delay = self.backoff();
                    warn!(target: "batcher", %err, failures = self.failures, retry_in_ms = delay.as_millis() as u64, "batcher step failed; retrying");
                    delay
                }
            };
            tokio::select! {
                _ = cancellation.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        info!(target: "batcher", in_flight = self.submissions.len(), "batcher stopped");
    }

    fn backoff(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(6)).unwrap_or(64);
        self.config.poll_interval.saturating_mul(factor).min(Duration::from_secs(30))
    }

    /// One pass: resume if needed, batch new blocks, submit and track transactions.
    pub async fn tick(&mut self) -> Result<(), BatcherError> {
        let Some(safe) = *self.safe_head.borrow() else {
            debug!(target: "batcher", "no safe head yet");
            return Ok(());
        };
        let l1_head = self.l1.get_block_number().await.map_err(BatcherError::L1)?;
        if self.next_block.is_none() && !self.resume(safe.block_info.number, l1_head).await? {
            return Ok(());
        }
        self.track(safe.block_info.number, l1_head).await?;
        self.batch(l1_head).await?;
        self.submit().await?;
        gauge!(BatcherMetrics::IN_FLIGHT).set(self.submissions.len() as f64);
        Ok(())
    }

    /// Picks the first L2 block to batch: after the safe head and after what our transactions
    /// of the last channel timeout already carry. Returns false while a previous run's
    /// transactions are still unmined.
    async fn resume(&mut self, safe: u64, l1_head: u64) -> Result<bool, BatcherError> {
        let latest = self.nonce(BlockNumberOrTag::Latest).await?;
        let pending = self.nonce(BlockNumberOrTag::Pending).await?;
        if pending > latest {
            info!(target: "batcher", latest, pending, "waiting for transactions of a previous run to be mined");
            return Ok(false);
        }
        let timeout = self.config.rollup.channel_timeout(0).max(1);
        let from = l1_head.saturating_sub(timeout);
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => self.reader.insert(
                BatcherDataReader::connect(
                    self.config.l1_rpc.clone(),
                    &self.config.l1_beacon,
                    self.batcher,
                    self.config.rollup.batch_inbox_address,
                )
                .await?,
            ),
        };
        let posted_txs = reader.read(from..=l1_head).await?;
        let posted: BTreeSet<u64> =
            posted_l2_blocks(&self.config.rollup, &posted_txs).into_iter().collect();
        let next = resume_after(safe, &posted);
        info!(target: "batcher", safe_head = safe, l1_from = from, l1_head, own_txs = posted_txs.len(), already_posted = next - safe - 1, next_block = next, "batcher resumes");
        self.reset_to(next, latest);
        Ok(true)
    }

    fn reset_to(&mut self, next: u64, nonce: u64) {
        self.next_block = Some(next);
        self.last_batched = None;
        self.channel = None;
        self.submissions.clear();
        self.next_nonce = Some(nonce);
    }

    async fn nonce(&self, tag: BlockNumberOrTag) -> Result<u64, BatcherError> {
        self.l1
            .get_transaction_count(self.batcher)
            .block_id(tag.into())
            .await
            .map_err(BatcherError::L1)
    }

    /// Follows every transaction: mined, confirmed, still canonical; drops those whose blocks
    /// are safe; on an L1 reorg that removed one, starts over from the safe head.
    async fn track(&mut self, safe: u64, l1_head: u64) -> Result<(), BatcherError> {
        // Safe blocks need nothing more from L1.
        while self.submissions.front().is_some_and(|s| s.mined.is_some() && s.last_l2_block <= safe)
        {
            self.submissions.pop_front();
        }
        let mut reorged = None;
        // Frames of one channel often share an L1 block: ask for each block's hash once.
        let mut canonical_hashes: HashMap<u64, Option<B256>> = HashMap::new();
        for submission in self.submissions.iter_mut() {
            let Some(hash) = submission.hash else { continue };
            if let Some(mined) = submission.mined {
                // Still in the canonical chain?
                let canonical = match canonical_hashes.get(&mined.number) {
                    Some(known) => *known,
                    None => {
                        let fetched = self
                            .l1
                            .get_block_by_number(mined.number.into())
                            .await
                            .map_err(BatcherError::L1)?
                            .map(|block| block.header.hash);
                        canonical_hashes.insert(mined.number, fetched);
                        fetched
                    }
                };
                if canonical != Some(mined.hash) {
                    reorged = Some((hash, mined));
                    break;
                }
                if !submission.confirmed
                    && l1_head + 1 >= mined.number + self.config.num_confirmations
                {
                    submission.confirmed = true;
                    counter!(BatcherMetrics::TXS_CONFIRMED).increment(1);
                    gauge!(BatcherMetrics::CONFIRMED_HEAD).set(submission.last_l2_block as f64);
                    debug!(target: "batcher", %hash, l1_block = mined.number, last_l2_block = submission.last_l2_block, "batcher transaction confirmed");
                }
                continue;
            }
            let receipt = self.l1.get_transaction_receipt(hash).await.map_err(BatcherError::L1)?;
            if let Some(receipt) = receipt {
                let (Some(number), Some(block_hash)) = (receipt.block_number, receipt.block_hash)
                else {
                    continue;
                };
                if !receipt.status() {
                    // A plain transfer to the inbox cannot revert unless it ran out of gas.
                    counter!(BatcherMetrics::FAILURES, "kind" => "reverted").increment(1);
                    warn!(target: "batcher", %hash, l1_block = number, "batcher transaction reverted; posting again");
                    reorged =
                        Some((hash, BlockInfo { number, hash: block_hash, ..Default::default() }));
                    break;
                }
                submission.mined =
                    Some(BlockInfo { number, hash: block_hash, ..Default::default() });
                info!(target: "batcher", %hash, l1_block = number, nonce = submission.nonce, last_l2_block = submission.last_l2_block, "batcher transaction mined");
            } else if submission
                .sent_at
                .is_some_and(|at| at.elapsed() >= self.config.resubmission_timeout)
            {
                // Not mined in time: same nonce, higher fees.
                submission.hash = None;
            }
        }
        if let Some((hash, mined)) = reorged {
            counter!(BatcherMetrics::REORGS).increment(1);
            let (safe, nonce) = self.rebatch_from_safe_head().await?;
            warn!(target: "batcher", %hash, l1_block = mined.number, safe_head = safe, nonce, "a batcher transaction left the L1 chain; batching again from the safe head");
        }
        Ok(())
    }

    /// Forgets every channel and transaction and batches again from the safe head + 1, with the
    /// nonce L1 reports: the answer to anything that made our view of L1 or L2 wrong. Returns
    /// the safe head and nonce it restarted from.
    async fn rebatch_from_safe_head(&mut self) -> Result<(u64, u64), BatcherError> {
        let safe = self.safe_head.borrow().map_or(0, |s| s.block_info.number);
        let nonce = self.nonce(BlockNumberOrTag::Latest).await?;
        self.reset_to(safe + 1, nonce);
        Ok((safe, nonce))
    }

    /// Puts new L2 blocks into the open channel and closes it when due.
    async fn batch(&mut self, l1_head: u64) -> Result<(), BatcherError> {
        let Some(mut next) = self.next_block else { return Ok(()) };
        let Some((unsafe_head, _)) = self.l2.unsafe_head() else { return Ok(()) };
        let budget = self.channel_config()?.rlp_byte_budget();
        while next <= unsafe_head {
            let Some((hash, block)) = self.l2.block(next).await.map_err(BatcherError::L2Chain)?
            else {
                break;
            };
            if let Some((number, parent)) = self.last_batched
                && number + 1 == next
                && block.header.parent_hash != parent
            {
                // The L2 chain reorged under us: start over from the safe head.
                let (safe, nonce) = self.rebatch_from_safe_head().await?;
                warn!(target: "batcher", block = next, safe_head = safe, nonce, "L2 reorg below the batched head; batching again from the safe head");
                return Ok(());
            }
            let batch = BlockBatch::from_block(&block, &self.config.rollup)?;
            let size = alloy_rlp::Encodable::length(&batch.batch) + 8;
            if self.channel.as_ref().is_some_and(|c| c.rlp_estimate + size > budget) {
                self.close_channel()?;
            }
            let channel = self.channel.get_or_insert_with(|| OpenChannel {
                opened_at_l1: l1_head,
                blocks: Vec::new(),
                rlp_estimate: 0,
            });
            channel.rlp_estimate += size;
            channel.blocks.push(batch);
            self.last_batched = Some((next, hash));
            gauge!(BatcherMetrics::BATCHED_HEAD).set(next as f64);
            next += 1;
            self.next_block = Some(next);
        }
        if self
            .channel
            .as_ref()
            .is_some_and(|c| l1_head >= c.opened_at_l1 + self.config.max_channel_duration)
        {
            self.close_channel()?;
        }
        Ok(())
    }

    /// The channel config. derivation picks the channel size limit by the L1 inclusion time;
    /// the rollup's genesis time gives the limit of the forks active at genesis, never a larger
    /// one than the L1 block the channel lands in allows.
    fn channel_config(&self) -> Result<ChannelConfig, BatcherError> {
        ChannelConfig::new(
            self.config.rollup.clone(),
            self.config.compression,
            self.config.rollup.genesis.l2_time,
        )
    }

    /// Closes the open channel into frames queued for submission.
    fn close_channel(&mut self) -> Result<(), BatcherError> {
        let Some(open) = self.channel.take() else { return Ok(()) };
        let Some(last) = open.blocks.last().map(|b| b.info.block_info.number) else {
            return Ok(());
        };
        let first = open.blocks.first().map_or(last, |b| b.info.block_info.number);
        // Span batches need Delta and brotli needs Fjord at the channel's blocks; before that
        // the channel falls back to singular batches and zlib.
        let first_time = open.blocks.first().map_or(0, |b| b.info.block_info.timestamp);
        let mut config = self.config.clone();
        if !config.rollup.is_delta_active(first_time) {
            config.batch_kind = BatchKind::Single;
        }
        if matches!(config.compression, ChannelCompression::Brotli { .. })
            && !config.rollup.is_fjord_active(first_time)
        {
            config.compression = ChannelCompression::ZLIB;
        }
        let mut channel = ChannelBuilder::new(ChannelConfig::new(
            config.rollup.clone(),
            config.compression,
            config.rollup.genesis.l2_time,
        )?)?;
        match config.batch_kind {
            BatchKind::Single => {
                for block in &open.blocks {
                    channel.add_batch(&Batch::Single(block.batch.clone()))?;
                }
            }
            BatchKind::Span => {
                let mut span = SpanBatchBuilder::new(config.rollup.clone());
                for block in open.blocks {
                    span.push(block)?;
                }
                channel.add_batch(&Batch::Span(span.build()?))?;
            }
        }
        let closed = channel.close()?;
        let frames = closed.batcher_transactions(self.config.max_frame_size)?;
        let frame_count = frames.len();
        let payloads = match self.config.data_availability {
            DataAvailability::Calldata => frames.into_iter().map(Payload::Calldata).collect(),
            DataAvailability::Blobs => blob_payloads(frames, self.config.target_num_frames)?,
        };
        counter!(BatcherMetrics::CHANNELS).increment(1);
        info!(target: "batcher", channel = %alloy_primitives::hex::encode(closed.id()), l2_blocks = format!("{first}..={last}"), compressed_bytes = closed.data().len(), frames = frame_count, transactions = payloads.len(), "channel closed");
        for payload in payloads {
            self.submissions.push_back(Submission {
                payload,
                last_l2_block: last,
                nonce: None,
                hash: None,
                sent_at: None,
                attempts: 0,
                mined: None,
                confirmed: false,
            });
        }
        Ok(())
    }

    /// Sends queued frames (in order, up to the in-flight limit) and re-sends timed-out ones.
    async fn submit(&mut self) -> Result<(), BatcherError> {
        let unmined =
            self.submissions.iter().filter(|s| s.hash.is_some() && s.mined.is_none()).count();
        let mut budget = self.config.max_pending_transactions.saturating_sub(unmined);
        let inbox = self.config.rollup.batch_inbox_address;
        for index in 0..self.submissions.len() {
            let Some(submission) = self.submissions.get(index) else { break };
            if submission.hash.is_some() || submission.mined.is_some() {
                continue;
            }
            let resend = submission.nonce.is_some();
            if !resend && budget == 0 {
                break;
            }
            let nonce = match submission.nonce {
                Some(nonce) => nonce,
                None => {
                    let nonce = match self.next_nonce {
                        Some(nonce) => nonce,
                        None => self.nonce(BlockNumberOrTag::Latest).await?,
                    };
                    self.next_nonce = Some(nonce + 1);
                    nonce
                }
            };
            let attempts = submission.attempts;
            let payload = submission.payload.clone();
            let fees = self.l1.estimate_eip1559_fees().await.map_err(BatcherError::L1)?;
            // Each resubmission bumps both fees by 12.5% (replacement needs at least 10%).
            let bump = |fee: u128| (0..attempts).fold(fee, |fee, _| fee + fee / 8 + 1);
            let mut tx = TransactionRequest::default()
                .with_to(inbox)
                .with_nonce(nonce)
                .with_max_fee_per_gas(bump(fees.max_fee_per_gas))
                .with_max_priority_fee_per_gas(bump(fees.max_priority_fee_per_gas));
            match &payload {
                Payload::Calldata(calldata) => tx.set_input(calldata.clone()),
                Payload::Blobs { sidecar, .. } => {
                    let blob_base_fee =
                        self.l1.get_blob_base_fee().await.map_err(BatcherError::L1)?;
                    // Twice the current blob base fee, doubled per resubmission: replacing a
                    // blob transaction takes a 100% blob fee bump (geth's pool rule).
                    let blob_fee =
                        (0..=attempts).fold(blob_base_fee.max(1), |fee, _| fee.saturating_mul(2));
                    tx.set_max_fee_per_blob_gas(blob_fee);
                    tx.set_blob_sidecar(sidecar.clone());
                }
            }
            let sent = self.l1.send_transaction(tx).await;
            let Some(submission) = self.submissions.get_mut(index) else { break };
            submission.nonce = Some(nonce);
            submission.attempts += 1;
            match sent {
                Ok(pending) => {
                    let hash = *pending.tx_hash();
                    submission.hash = Some(hash);
                    submission.sent_at = Some(Instant::now());
                    counter!(BatcherMetrics::TXS_SENT, "kind" => if resend { "resubmit" } else { "new" }).increment(1);
                    counter!(BatcherMetrics::BYTES_POSTED, "da" => payload.da())
                        .increment(payload.data_bytes() as u64);
                    if let Payload::Blobs { sidecar, .. } = &payload {
                        counter!(BatcherMetrics::BLOBS_POSTED)
                            .increment(sidecar.blobs.len() as u64);
                    }
                    info!(target: "batcher", %hash, nonce, da = payload.da(), bytes = payload.data_bytes(), last_l2_block = submission.last_l2_block, resend, "batcher transaction sent");
                    budget = budget.saturating_sub(1);
                }
                Err(err) => {
                    let message = err.to_string();
                    if message.contains("nonce too low") || message.contains("already known") {
                        // Someone (a previous run, or this one before a restart of L1) used the
                        // nonce: start over from the chain's view.
                        let (safe, nonce) = self.rebatch_from_safe_head().await?;
                        warn!(target: "batcher", %err, safe_head = safe, nonce, "nonce race; batching again from the safe head");
                        return Ok(());
                    }
                    return Err(BatcherError::Send(err));
                }
            }
        }
        Ok(())
    }
}

/// Groups frames (each `0x00 ++ frame`) into blob transactions of up to `per_transaction` blobs.
fn blob_payloads(frames: Vec<Bytes>, per_transaction: usize) -> Result<Vec<Payload>, BatcherError> {
    frames
        .chunks(per_transaction.max(1))
        .map(|group| {
            let blobs = blob::encode_blobs(group)?;
            let data_bytes = group.iter().map(|frame| frame.len()).sum();
            Ok(Payload::Blobs { sidecar: blob::sidecar(blobs)?, data_bytes })
        })
        .collect()
}

/// Largest frame a blob carries: its data capacity less the derivation version byte.
pub const MAX_BLOB_FRAME_SIZE: usize = MAX_BLOB_DATA_SIZE - 1;
