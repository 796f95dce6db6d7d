//! [`BatchSubmitter`]: the driver that posts the unsafe L2 chain to L1 as batcher transactions.
//!
//! One loop, one L1 account, transactions strictly in nonce order (Holocene derivation wants
//! frames and channels in order):
//!
//! 1. **Resume.** Wait for the first safe head. Transactions a previous run left in the L1
//!    mempool are waited on for two resubmission timeouts, then replaced. Read back the batcher's
//!    own transactions from a channel timeout before the safe head's L1 origin (what derivation
//!    has not read yet, however far it lags the L1 head) up to the L1 head ([`posted_l2_blocks`]),
//!    and start after the last L2 block they carry: no gap, nothing posted twice.
//! 2. **Batch.** Blocks from there to the unsafe head go into the open channel, which is closed
//!    after `max_channel_duration` L1 blocks or when it holds what the in-flight limit can post
//!    at once, compressed and cut into frames (off the async workers), one frame per
//!    transaction. A channel whose encoding fails over a size limit is split in two; blocks that
//!    cannot be encoded at all are given back and tried again, never dropped.
//!    In blob mode each frame becomes one EIP-4844 blob ([`crate::blob`]), up to
//!    `target_num_frames` blobs per transaction, with KZG commitments and proofs.
//! 3. **Submit and track.** Each transaction gets the next nonce, EIP-1559 fees from L1 and a
//!    gas limit computed from its calldata; the account's balance is checked first. Every hash
//!    sent for a nonce is followed until one is mined and confirmed. A transaction not mined
//!    within the resubmission timeout is sent again with fees bumped over the ones it was last
//!    sent with (12.5 %, or 100 % for blob transactions, as the pools' replacement rules ask),
//!    never above `fee_limit_multiplier` times the market's fees. Mined transactions are kept
//!    until the safe head passes their blocks and their L1 block is final; everything after the
//!    safe head (or after the last block still on L1, if lower) is posted again when an L1
//!    reorg takes one out, when the safe head does not pass a mined channel within
//!    the channel timeout, when the safe head goes back, or when a nonce below the ones in
//!    flight is free. Re-posting reuses the nonces still in flight, replacing those
//!    transactions.
//!
//! Any L1 or L2 trouble is logged (once per kind of trouble, then every minute while it lasts),
//! counted and retried on the next tick with backoff; the loop only ends when its token is
//! cancelled.

use crate::{
    BatcherError, BlockBatch, ChannelBuilder, ChannelCompression, ChannelConfig, SpanBatchBuilder,
    blob::{self, MAX_BLOB_DATA_SIZE},
    posted::{BatcherDataReader, posted_l2_blocks, resume_after},
};
use alloy_eips::{BlockNumberOrTag, eip4844::BlobTransactionSidecar};
use alloy_network::{EthereumWallet, TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use kona_genesis::RollupConfig;
use kona_protocol::{Batch, BlockInfo, ChannelId, L2BlockInfo};
use metrics::{counter, gauge};
use op_alloy_consensus::OpBlock;
use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    ops::RangeInclusive,
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
    /// Most transactions in flight (sent, not yet mined) at once. It also sizes channels: a
    /// channel closes once it holds about as many frames as can be in flight at once, so that
    /// all of a channel is posted together, well within the channel timeout.
    pub max_pending_transactions: usize,
    /// A resubmission's fees never exceed this many times the market's current fees.
    pub fee_limit_multiplier: u64,
}

/// Default of [`SubmitterConfig::fee_limit_multiplier`].
pub const DEFAULT_FEE_LIMIT_MULTIPLIER: u64 = 5;

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
            fee_limit_multiplier: DEFAULT_FEE_LIMIT_MULTIPLIER,
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

/// `SystemConfig.batcherHash()`: the first four bytes of its signature's keccak256.
const BATCHER_HASH_SELECTOR: [u8; 4] = [0xe8, 0x1b, 0x2c, 0x6d];

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
    /// Failures, by `kind` (l1, l2, send, encoding, reverted, insufficient_funds, fee_limit).
    pub const FAILURES: &'static str = "kona_batcher_failures_total";
    /// L1 reorgs that took a batcher transaction out of the chain.
    pub const REORGS: &'static str = "kona_batcher_l1_reorgs_total";
    /// Transactions in flight (sent or mined, not yet safe).
    pub const IN_FLIGHT: &'static str = "kona_batcher_txs_in_flight";
    /// The batcher account's L1 balance, in wei, as last read before a send.
    pub const BALANCE: &'static str = "kona_batcher_balance_wei";
    /// What the next transaction needs the account to hold, in wei (gas limit × max fee, plus
    /// blob gas × max blob fee).
    pub const NEXT_TX_COST: &'static str = "kona_batcher_next_tx_cost_wei";
    /// Times everything after the safe head was posted again, by `reason` (l1_reorg, l2_reorg,
    /// safe_head_stalled, safe_head_back, nonce).
    pub const REPOSTS: &'static str = "kona_batcher_reposts_total";
    /// 1 while the L1 SystemConfig names this key as the batcher (or the rollup has none), 0
    /// while it names another: the batcher then posts nothing.
    pub const AUTHORIZED: &'static str = "kona_batcher_authorized";

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
        describe_gauge!(
            Self::AUTHORIZED,
            "1 while the L1 SystemConfig names this key as the batcher, 0 while it names another"
        );
        describe_counter!(
            Self::FAILURES,
            "Batcher failures, by kind (l1, l2, send, encoding, reverted, insufficient_funds, \
             fee_limit)"
        );
        describe_counter!(Self::REORGS, "L1 reorgs that removed a batcher transaction");
        describe_gauge!(Self::IN_FLIGHT, "Batcher transactions sent and not yet safe");
        describe_gauge!(Self::BALANCE, "The batcher account's L1 balance, in wei");
        describe_gauge!(Self::NEXT_TX_COST, "Wei the next batcher transaction may cost at most");
        describe_counter!(
            Self::REPOSTS,
            "Times the batcher posted everything after the safe head again, by reason"
        );
    }
}

/// Largest transaction L1 mempools accept: geth's `txMaxSize`, four 32 KiB slots.
pub const MAX_L1_TX_SIZE: usize = 128 * 1024;

/// Room a calldata transaction keeps for everything but its frame: the version byte, the RLP
/// envelope, the addresses, fees and the signature take about 130 bytes; 1 KiB leaves margin.
const TX_ENVELOPE_ALLOWANCE: usize = 1024;

/// Largest frame a calldata transaction may carry so that the whole transaction stays within
/// [`MAX_L1_TX_SIZE`].
pub const MAX_CALLDATA_FRAME_SIZE: usize = MAX_L1_TX_SIZE - TX_ENVELOPE_ALLOWANCE;

/// Blob gas one blob uses (EIP-4844's `GAS_PER_BLOB`).
const GAS_PER_BLOB: u64 = 1 << 17;

/// The most L1 blocks read back at a restart, however far derivation lags the L1 head.
const MAX_READ_BACK_L1_BLOCKS: u64 = 4096;

/// A failure of the same kind as the last one is logged again after this long at the earliest.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

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

    fn blob_count(&self) -> u64 {
        match self {
            Self::Calldata(_) => 0,
            Self::Blobs { sidecar, .. } => sidecar.blobs.len() as u64,
        }
    }

    /// The gas limit: what a transfer of this calldata to the inbox (an account without code)
    /// uses, at the larger of EIP-2028's calldata price and EIP-7623's floor, so it holds before
    /// and after Prague. Computing it saves an `eth_estimateGas`, which an account without
    /// funds cannot even answer.
    fn gas_limit(&self) -> u64 {
        let Self::Calldata(calldata) = self else { return 21_000 };
        let zeros = calldata.iter().filter(|byte| **byte == 0).count() as u64;
        let non_zeros = calldata.len() as u64 - zeros;
        let standard = 4 * zeros + 16 * non_zeros;
        let floor = 10 * (zeros + 4 * non_zeros);
        21_000 + standard.max(floor)
    }
}

/// The fees a batcher transaction offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFees {
    /// EIP-1559 fee cap, wei per gas.
    pub max_fee_per_gas: u128,
    /// EIP-1559 tip, wei per gas.
    pub max_priority_fee_per_gas: u128,
    /// EIP-4844 blob fee cap, wei per blob gas; `None` for calldata transactions.
    pub max_fee_per_blob_gas: Option<u128>,
}

impl TxFees {
    /// The least a replacement of a transaction sent with these fees must offer: 12.5 % more
    /// (geth's pool asks 10 %), or twice as much for a blob transaction, on every fee (geth's
    /// blob pool asks 100 %).
    pub fn replacement_floor(&self) -> Self {
        let bump = |fee: u128| match self.max_fee_per_blob_gas {
            Some(_) => fee.saturating_mul(2).max(fee + 1),
            None => fee.saturating_add(fee / 8 + 1),
        };
        Self {
            max_fee_per_gas: bump(self.max_fee_per_gas),
            max_priority_fee_per_gas: bump(self.max_priority_fee_per_gas),
            max_fee_per_blob_gas: self.max_fee_per_blob_gas.map(bump),
        }
    }

    /// Each fee at the higher of the two.
    fn max(self, other: Self) -> Self {
        Self {
            max_fee_per_gas: self.max_fee_per_gas.max(other.max_fee_per_gas),
            max_priority_fee_per_gas: self
                .max_priority_fee_per_gas
                .max(other.max_priority_fee_per_gas),
            max_fee_per_blob_gas: match (self.max_fee_per_blob_gas, other.max_fee_per_blob_gas) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Each fee times `factor`: the most a replacement may offer under a fee limit of
    /// `factor` times the market's.
    pub fn times(self, factor: u64) -> Self {
        let factor = u128::from(factor);
        Self {
            max_fee_per_gas: self.max_fee_per_gas.saturating_mul(factor),
            max_priority_fee_per_gas: self.max_priority_fee_per_gas.saturating_mul(factor),
            max_fee_per_blob_gas: self.max_fee_per_blob_gas.map(|fee| fee.saturating_mul(factor)),
        }
    }

    /// The first fee above `limit`'s: its name, this value and the limit.
    pub fn first_above(&self, limit: &Self) -> Option<(&'static str, u128, u128)> {
        [
            ("max fee per gas", self.max_fee_per_gas, limit.max_fee_per_gas),
            ("priority fee per gas", self.max_priority_fee_per_gas, limit.max_priority_fee_per_gas),
            (
                "max fee per blob gas",
                self.max_fee_per_blob_gas.unwrap_or(0),
                limit.max_fee_per_blob_gas.unwrap_or(0),
            ),
        ]
        .into_iter()
        .find(|(_, fee, limit)| fee > limit)
    }

    /// The most a transaction with `gas_limit` and `blobs` can cost at these fees.
    pub fn max_cost(&self, gas_limit: u64, blobs: u64) -> U256 {
        let execution = U256::from(gas_limit) * U256::from(self.max_fee_per_gas);
        let blob_gas = U256::from(blobs.saturating_mul(GAS_PER_BLOB));
        execution + blob_gas * U256::from(self.max_fee_per_blob_gas.unwrap_or(0))
    }
}

/// The fees to send a transaction with: the market's, or — for a nonce a transaction was already
/// offered at — at least the replacement floor of what was last offered. `Err` with the fees a
/// replacement would need when any is above `limit_multiplier` times the market's
/// ([`TxFees::first_above`] tells which).
///
/// Fees rise only when a transaction is replaced, and never above the limit: a transaction that
/// could only be replaced above it is left to be mined as it is.
pub fn transaction_fees(
    market: TxFees,
    previous: Option<TxFees>,
    limit_multiplier: u64,
) -> Result<TxFees, TxFees> {
    let Some(previous) = previous else { return Ok(market) };
    let mut fees = market.max(previous.replacement_floor());
    fees.max_fee_per_gas = fees.max_fee_per_gas.max(fees.max_priority_fee_per_gas);
    if fees.first_above(&market.times(limit_multiplier.max(1))).is_some() {
        return Err(fees);
    }
    Ok(fees)
}

/// One transaction sent for a frame.
#[derive(Debug, Clone, Copy)]
struct Sent {
    hash: B256,
    at: Instant,
}

/// Frames waiting for, or in, a transaction.
#[derive(Debug, Clone)]
struct Submission {
    payload: Payload,
    /// The first L2 block of the channel this frame belongs to.
    first_l2_block: u64,
    /// The last L2 block of the channel this frame belongs to.
    last_l2_block: u64,
    nonce: Option<u64>,
    /// Every transaction sent for this frame at its nonce, oldest first: any of them may be
    /// the one L1 mines.
    sends: Vec<Sent>,
    /// Not mined within the resubmission timeout: to be replaced with higher fees.
    replace: bool,
    mined: Option<BlockInfo>,
    confirmed: bool,
    /// The L1 node counted this nonce as used while none of our transactions had a receipt.
    nonce_taken: bool,
}

impl Submission {
    fn new(payload: Payload, l2_blocks: &RangeInclusive<u64>) -> Self {
        Self {
            payload,
            first_l2_block: *l2_blocks.start(),
            last_l2_block: *l2_blocks.end(),
            nonce: None,
            sends: Vec::new(),
            replace: false,
            mined: None,
            confirmed: false,
            nonce_taken: false,
        }
    }

    fn in_flight(&self) -> bool {
        !self.sends.is_empty() && self.mined.is_none()
    }
}

/// The open channel: the blocks put into it so far.
#[derive(Debug)]
struct OpenChannel {
    opened_at_l1: u64,
    /// The batched block before the channel's first, to go back to if the channel fails.
    parent: Option<(u64, B256)>,
    blocks: Vec<BlockBatch>,
    rlp_estimate: usize,
}

/// A closed channel, encoded into batcher transaction payloads.
#[derive(Debug, Clone)]
pub struct EncodedChannel {
    /// The channel id its frames carry.
    pub id: ChannelId,
    /// Its first and last L2 block.
    pub blocks: RangeInclusive<u64>,
    /// Its compressed size.
    pub compressed_bytes: usize,
    /// Its frames.
    pub frames: usize,
    payloads: Vec<Payload>,
}

impl EncodedChannel {
    /// How many transactions carry it.
    pub fn transactions(&self) -> usize {
        self.payloads.len()
    }
}

/// Why everything after the safe head is posted again.
#[derive(Debug, Clone, Copy)]
enum Repost {
    L1Reorg,
    L2Reorg,
    SafeHeadStalled,
    SafeHeadBack,
    Nonce,
}

impl Repost {
    const fn label(self) -> &'static str {
        match self {
            Self::L1Reorg => "l1_reorg",
            Self::L2Reorg => "l2_reorg",
            Self::SafeHeadStalled => "safe_head_stalled",
            Self::SafeHeadBack => "safe_head_back",
            Self::Nonce => "nonce",
        }
    }
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
    /// The fees last offered at each nonce in flight since the last re-post: what this run
    /// sent there, or what the pool refused as too low to replace what it holds. A transaction
    /// sent there later is a replacement and must offer more.
    offered: BTreeMap<u64, TxFees>,
    /// The safe head at the previous tick.
    last_safe: Option<u64>,
    /// Since when a previous run's unmined transactions are waited on.
    waiting_since: Option<Instant>,
    failures: u32,
    /// The kind of the last failure logged, and when.
    last_logged: Option<(&'static str, Instant)>,
    /// The batcher the L1 SystemConfig named at an L1 head: read once per L1 block.
    authorized_batcher: Option<(u64, Address)>,
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
            offered: BTreeMap::new(),
            last_safe: None,
            waiting_since: None,
            failures: 0,
            last_logged: None,
            authorized_batcher: None,
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
        info!(target: "batcher", batcher = %self.batcher, inbox = %self.config.rollup.batch_inbox_address, kind = ?self.config.batch_kind, da = ?self.config.data_availability, max_channel_duration = self.config.max_channel_duration, max_frame_size = self.config.max_frame_size, fee_limit_multiplier = self.config.fee_limit_multiplier, "batcher started");
        loop {
            let delay = match self.tick().await {
                Ok(()) => {
                    if self.failures > 0 {
                        info!(target: "batcher", failures = self.failures, "batcher recovered");
                    }
                    self.failures = 0;
                    self.last_logged = None;
                    self.config.poll_interval
                }
                Err(err) => {
                    self.failures = self.failures.saturating_add(1);
                    let kind = err.kind();
                    counter!(BatcherMetrics::FAILURES, "kind" => kind).increment(1);
                    let delay = self.backoff();
                    // One line when a kind of trouble starts, then one a minute while it lasts.
                    let now = Instant::now();
                    let logged_recently = self.last_logged.is_some_and(|(last, at)| {
                        last == kind && now.duration_since(at) < FAILURE_LOG_INTERVAL
                    });
                    if logged_recently {
                        debug!(target: "batcher", %err, kind, failures = self.failures, "batcher step failed; retrying");
                    } else {
                        warn!(target: "batcher", %err, kind, failures = self.failures, retry_in_ms = delay.as_millis() as u64, "batcher step failed; retrying");
                        self.last_logged = Some((kind, now));
                    }
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
        if !self.authorized(l1_head).await? {
            return Ok(());
        }
        if self.next_block.is_none() && !self.resume(&safe, l1_head).await? {
            return Ok(());
        }
        let safe = safe.block_info.number;
        if let Some(previous) = self.last_safe.replace(safe)
            && safe < previous
        {
            self.repost(Repost::SafeHeadBack).await?;
        }
        self.track(safe, l1_head).await?;
        self.batch(l1_head).await?;
        self.submit().await?;
        gauge!(BatcherMetrics::IN_FLIGHT).set(self.submissions.len() as f64);
        Ok(())
    }

    /// Whether the L1 SystemConfig names this key as the batcher at `l1_head` (always, for a
    /// rollup without one). Derivation ignores batcher transactions from any other account, so
    /// after a rotation (`SystemConfig.setBatcherHash`) to another key this batcher stops posting
    /// instead of paying for data nobody reads, and the sequencer restarted with the new key
    /// posts from the safe head on.
    async fn authorized(&mut self, l1_head: u64) -> Result<bool, BatcherError> {
        let system_config = self.config.rollup.l1_system_config_address;
        if system_config.is_zero() {
            return Ok(true);
        }
        let previous = self.authorized_batcher.map(|(_, batcher)| batcher);
        let current = match self.authorized_batcher {
            Some((head, batcher)) if head == l1_head => batcher,
            _ => {
                let call = TransactionRequest::default()
                    .with_to(system_config)
                    .with_input(BATCHER_HASH_SELECTOR.to_vec());
                let word = self.l1.call(call).await.map_err(BatcherError::L1)?;
                if word.len() != 32 {
                    return Err(BatcherError::SystemConfig(format!(
                        "SystemConfig {system_config} answered batcherHash() with {} bytes, not 32",
                        word.len()
                    )));
                }
                let batcher = Address::from_word(B256::from_slice(&word));
                self.authorized_batcher = Some((l1_head, batcher));
                batcher
            }
        };
        let authorized = current == self.batcher;
        if previous != Some(current) {
            if authorized {
                info!(target: "batcher", batcher = %self.batcher, l1_head, "the L1 SystemConfig names this key as the batcher; posting");
            } else {
                warn!(target: "batcher", batcher = %self.batcher, system_config_batcher = %current, l1_head, "the L1 SystemConfig names another batcher: derivation would ignore this key's transactions, so nothing is posted until it names this key again");
            }
        }
        gauge!(BatcherMetrics::AUTHORIZED).set(if authorized { 1.0 } else { 0.0 });
        Ok(authorized)
    }

    /// Picks the first L2 block to batch: after the safe head and after what our transactions
    /// already carry. Returns false while a previous run's transactions are waited on.
    async fn resume(&mut self, safe: &L2BlockInfo, l1_head: u64) -> Result<bool, BatcherError> {
        let latest = self.nonce(BlockNumberOrTag::Latest).await?;
        let pending = self.nonce(BlockNumberOrTag::Pending).await?;
        if pending > latest {
            let wait = self.previous_run_wait();
            let since = *self.waiting_since.get_or_insert_with(|| {
                info!(target: "batcher", latest, pending, wait_s = wait.as_secs(), "waiting for transactions of a previous run to be mined");
                Instant::now()
            });
            if since.elapsed() < wait {
                return Ok(false);
            }
            // They may never be mined (underpriced, or dropped by a node that still reports
            // them): the frames posted from here on take their nonces over as replacements.
            warn!(target: "batcher", latest, pending, "transactions of a previous run are still not mined; replacing them");
        }
        self.waiting_since = None;
        // Blocks above the safe head travel in channels derivation has not read yet: from a
        // channel timeout before the safe head's L1 origin (a channel may have opened that long
        // before its last frame) up to the L1 head. On a real L1 derivation can lag the head by
        // the confirmation depth or more; the window follows it.
        let timeout = self.config.rollup.channel_timeout(0).max(1);
        let derived_to = safe.l1_origin.number.min(l1_head);
        let mut from = derived_to.saturating_sub(timeout);
        if l1_head - from > MAX_READ_BACK_L1_BLOCKS {
            from = l1_head - MAX_READ_BACK_L1_BLOCKS;
            warn!(target: "batcher", safe_l1_origin = safe.l1_origin.number, l1_head, l1_from = from, "derivation lags L1 by more than the read-back window; blocks posted before it may be posted again");
        }
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
        let safe = safe.block_info.number;
        let next = resume_after(safe, &posted);
        info!(target: "batcher", safe_head = safe, l1_from = from, l1_head, own_txs = posted_txs.len(), already_posted = next - safe - 1, next_block = next, nonce = latest, "batcher resumes");
        self.last_safe = Some(safe);
        self.reset_to(next, latest);
        Ok(true)
    }

    /// How long a previous run's unmined transactions are waited on before they are replaced:
    /// twice the resubmission timeout, the time one of ours gets before its first replacement
    /// and again for that replacement. Replacing them while they are being mined would post
    /// their blocks twice.
    fn previous_run_wait(&self) -> Duration {
        self.config.resubmission_timeout.saturating_mul(2)
    }

    fn reset_to(&mut self, next: u64, nonce: u64) {
        self.next_block = Some(next);
        self.last_batched = None;
        self.channel = None;
        self.submissions.clear();
        self.next_nonce = Some(nonce);
        // What was offered before is no guide any more: the transaction may have left the pool
        // (an L1 reorg can drop it), and a floor for a nonce nothing holds would price the new
        // frame out for nothing. The pool says "underpriced" where something still is.
        self.offered.clear();
    }

    /// Whether the L1 node still knows a transaction sent for the submission at `index`
    /// (pending in its pool, or mined).
    async fn any_send_known(&self, index: usize) -> Result<bool, BatcherError> {
        let Some(submission) = self.submissions.get(index) else { return Ok(false) };
        for sent in submission.sends.iter().rev() {
            if self.l1.get_transaction_by_hash(sent.hash).await.map_err(BatcherError::L1)?.is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn nonce(&self, tag: BlockNumberOrTag) -> Result<u64, BatcherError> {
        self.l1
            .get_transaction_count(self.batcher)
            .block_id(tag.into())
            .await
            .map_err(BatcherError::L1)
    }

    /// Follows every transaction: mined, confirmed, still canonical, derived in time; drops
    /// those whose blocks are safe; posts everything after the safe head again when one left
    /// the chain, was not derived within the channel timeout, or its nonce went to another
    /// transaction.
    async fn track(&mut self, safe: u64, l1_head: u64) -> Result<(), BatcherError> {
        // A transaction is done with once its blocks are safe and its L1 block is final: until
        // then an L1 reorg can still take it out, also after the sequencer derived from it (its
        // safe head stays where it is when the L1 origins survive, but validators that had not
        // read the batch yet never will).
        let l1_finalized = self
            .l1
            .get_block_by_number(BlockNumberOrTag::Finalized)
            .await
            .map_err(BatcherError::L1)?
            .map_or(0, |block| block.header.number);
        while self.submissions.front().is_some_and(|s| {
            s.last_l2_block <= safe && s.mined.is_some_and(|mined| mined.number <= l1_finalized)
        }) {
            self.submissions.pop_front();
        }
        if let Some(first_block) = self.first_reorged_block().await? {
            return self.repost_from(Repost::L1Reorg, Some(first_block)).await;
        }
        let timeout = self.config.rollup.channel_timeout(0).max(1);
        // Read once, before any receipt: a nonce below it whose transactions show no receipt
        // afterwards went to a transaction this batcher did not send for it.
        let chain_nonce = if self.submissions.iter().any(Submission::in_flight) {
            self.nonce(BlockNumberOrTag::Latest).await?
        } else {
            0
        };
        let mut repost = None;
        for submission in self.submissions.iter_mut() {
            let Some(nonce) = submission.nonce else { continue };
            if submission.sends.is_empty() {
                continue;
            }
            if let Some(mined) = submission.mined {
                if !submission.confirmed
                    && l1_head + 1 >= mined.number + self.config.num_confirmations
                {
                    submission.confirmed = true;
                    counter!(BatcherMetrics::TXS_CONFIRMED).increment(1);
                    gauge!(BatcherMetrics::CONFIRMED_HEAD).set(submission.last_l2_block as f64);
                    debug!(target: "batcher", nonce, l1_block = mined.number, last_l2_block = submission.last_l2_block, "batcher transaction confirmed");
                }
                if submission.last_l2_block > safe && l1_head >= mined.number + timeout {
                    // Derivation drops a channel that is not complete within the channel
                    // timeout; if the safe head has not passed it by now, it never will.
                    warn!(target: "batcher", nonce, l1_block = mined.number, l1_head, last_l2_block = submission.last_l2_block, safe_head = safe, "the safe head did not pass a posted channel within the channel timeout");
                    repost = Some(Repost::SafeHeadStalled);
                    break;
                }
                continue;
            }
            // Any transaction sent at this nonce may be the one mined; newest first.
            let mut found = None;
            for sent in submission.sends.iter().rev() {
                let receipt =
                    self.l1.get_transaction_receipt(sent.hash).await.map_err(BatcherError::L1)?;
                if let Some(receipt) = receipt
                    && let (Some(number), Some(block_hash)) =
                        (receipt.block_number, receipt.block_hash)
                {
                    found = Some((sent.hash, receipt.status(), number, block_hash));
                    break;
                }
            }
            if let Some((hash, status, number, block_hash)) = found {
                if !status {
                    // A plain transfer to the inbox cannot revert unless it ran out of gas.
                    counter!(BatcherMetrics::FAILURES, "kind" => "reverted").increment(1);
                    warn!(target: "batcher", %hash, l1_block = number, "batcher transaction reverted");
                    repost = Some(Repost::L1Reorg);
                    break;
                }
                submission.mined =
                    Some(BlockInfo { number, hash: block_hash, ..Default::default() });
                submission.replace = false;
                info!(target: "batcher", %hash, l1_block = number, nonce, sends = submission.sends.len(), last_l2_block = submission.last_l2_block, "batcher transaction mined");
                continue;
            }
            if chain_nonce > nonce {
                // The L1 node may count a nonce as used a moment before it serves the receipt
                // of the transaction that used it (seen with anvil and blob transactions, once
                // in CI: a batch posted twice): believed on the next look, not the first.
                if !submission.nonce_taken {
                    submission.nonce_taken = true;
                    debug!(target: "batcher", nonce, "nonce counted as used before any of our receipts; looking again");
                    continue;
                }
                // Mined, but none of ours: a previous run's transaction, or another sender
                // using the key, took the nonce.
                warn!(target: "batcher", nonce, sends = submission.sends.len(), "the nonce was used by a transaction this batcher did not send for it");
                repost = Some(Repost::Nonce);
                break;
            }
            if submission
                .sends
                .last()
                .is_some_and(|sent| sent.at.elapsed() >= self.config.resubmission_timeout)
            {
                submission.replace = true;
            }
        }
        if repost.is_none()
            && let Some(lowest) =
                self.submissions.iter().filter(|s| s.in_flight()).filter_map(|s| s.nonce).min()
            && chain_nonce < lowest
            && !self.submissions.iter().any(|s| s.nonce == Some(chain_nonce))
        {
            // The chain's next nonce is below everything in flight and no frame holds it (an
            // L1 reorg dropped a transaction already counted safe): nothing after it can be
            // mined until it is filled.
            warn!(target: "batcher", nonce = chain_nonce, lowest_in_flight = lowest, "a nonce below the batcher's transactions in flight is free");
            repost = Some(Repost::Nonce);
        }
        if let Some(reason) = repost {
            self.repost(reason).await?;
        }
        Ok(())
    }

    /// The first L2 block of the earliest mined transaction an L1 reorg took out, if any.
    ///
    /// One look per tick: a reorg replaces a suffix of the chain, so while the newest L1 block
    /// holding a mined transaction of ours is canonical, so are all older ones.
    async fn first_reorged_block(&self) -> Result<Option<u64>, BatcherError> {
        let mined: Vec<(u64, BlockInfo)> = self
            .submissions
            .iter()
            .filter_map(|s| s.mined.map(|mined| (s.first_l2_block, mined)))
            .collect();
        let Some(newest) = mined.iter().map(|(_, mined)| *mined).max_by_key(|m| m.number) else {
            return Ok(None);
        };
        if self.is_canonical(&newest).await? {
            return Ok(None);
        }
        for (first_block, mined) in mined {
            if !self.is_canonical(&mined).await? {
                warn!(target: "batcher", l1_block = mined.number, first_l2_block = first_block, "a batcher transaction left the L1 chain");
                return Ok(Some(first_block));
            }
        }
        Ok(None)
    }

    async fn is_canonical(&self, block: &BlockInfo) -> Result<bool, BatcherError> {
        let canonical = self
            .l1
            .get_block_by_number(block.number.into())
            .await
            .map_err(BatcherError::L1)?
            .map(|canonical| canonical.header.hash);
        Ok(canonical == Some(block.hash))
    }

    /// Forgets every channel and transaction and batches again from the safe head + 1, from the
    /// first nonce not mined: the answer to anything that made our view of L1 or L2 wrong.
    /// Transactions still in flight are replaced by the new ones at their nonces.
    async fn repost(&mut self, reason: Repost) -> Result<(), BatcherError> {
        self.repost_from(reason, None).await
    }

    /// [`Self::repost`], from `first_block` when that is below the safe head + 1 (blocks the
    /// sequencer derived from data an L1 reorg has since taken out).
    async fn repost_from(
        &mut self,
        reason: Repost,
        first_block: Option<u64>,
    ) -> Result<(), BatcherError> {
        let safe = self.safe_head.borrow().map_or(0, |s| s.block_info.number);
        let from = first_block.map_or(safe + 1, |first| first.min(safe + 1));
        let nonce = self.nonce(BlockNumberOrTag::Latest).await?;
        counter!(BatcherMetrics::REPOSTS, "reason" => reason.label()).increment(1);
        if matches!(reason, Repost::L1Reorg) {
            counter!(BatcherMetrics::REORGS).increment(1);
        }
        warn!(target: "batcher", reason = reason.label(), safe_head = safe, from_block = from, nonce, in_flight = self.submissions.iter().filter(|s| s.in_flight()).count(), "posting everything after the safe head again");
        self.last_safe = Some(safe);
        self.reset_to(from, nonce);
        Ok(())
    }

    /// The most uncompressed bytes a channel holds before it is closed: about what the in-flight
    /// limit posts at once, so every channel goes out in one go and lands well within the
    /// channel timeout, and never more than the fork allows.
    fn channel_config(&self, blocks: usize) -> Result<ChannelConfig, BatcherError> {
        channel_config(&self.config, blocks)
    }

    /// Puts new L2 blocks into the open channel and closes it when due.
    async fn batch(&mut self, l1_head: u64) -> Result<(), BatcherError> {
        let Some(mut next) = self.next_block else { return Ok(()) };
        let Some((unsafe_head, _)) = self.l2.unsafe_head() else { return Ok(()) };
        let budget = self.channel_config(2)?.rlp_byte_budget();
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
                warn!(target: "batcher", block = next, "L2 reorg below the batched head");
                return self.repost(Repost::L2Reorg).await;
            }
            let batch = BlockBatch::from_block(&block, &self.config.rollup)?;
            let size = alloy_rlp::Encodable::length(&batch.batch) + 8;
            if self.channel.as_ref().is_some_and(|c| c.rlp_estimate + size > budget) {
                self.close_channel().await?;
            }
            let parent = self.last_batched;
            let channel = self.channel.get_or_insert_with(|| OpenChannel {
                opened_at_l1: l1_head,
                parent,
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
            self.close_channel().await?;
        }
        Ok(())
    }

    /// Closes the open channel into transactions queued for submission. Compression and KZG
    /// proofs run on a blocking thread, off the node's async workers. If the channel cannot be
    /// encoded, its blocks are given back: the next tick batches them again.
    async fn close_channel(&mut self) -> Result<(), BatcherError> {
        let Some(open) = self.channel.take() else { return Ok(()) };
        let Some(first) = open.blocks.first().map(|b| b.info.block_info.number) else {
            return Ok(());
        };
        let config = self.config.clone();
        let blocks = open.blocks;
        let encoded = tokio::task::spawn_blocking(move || encode_channels(&config, blocks))
            .await
            .map_err(|err| BatcherError::Encoder(err.to_string()))
            .and_then(|encoded| encoded);
        let channels = match encoded {
            Ok(channels) => channels,
            Err(err) => {
                warn!(target: "batcher", %err, first_block = first, "a channel could not be encoded; its blocks go back to be batched again");
                self.next_block = Some(first);
                self.last_batched = open.parent;
                gauge!(BatcherMetrics::BATCHED_HEAD).set(first.saturating_sub(1) as f64);
                return Err(err);
            }
        };
        for channel in channels {
            counter!(BatcherMetrics::CHANNELS).increment(1);
            info!(target: "batcher", channel = %alloy_primitives::hex::encode(channel.id), l2_blocks = format!("{}..={}", channel.blocks.start(), channel.blocks.end()), compressed_bytes = channel.compressed_bytes, frames = channel.frames, transactions = channel.transactions(), "channel closed");
            let blocks = channel.blocks;
            self.submissions.extend(
                channel.payloads.into_iter().map(|payload| Submission::new(payload, &blocks)),
            );
        }
        Ok(())
    }

    /// The fees the market asks for `payload` now: EIP-1559 estimates, and twice the blob base
    /// fee for blobs.
    async fn market_fees(&self, payload: &Payload) -> Result<TxFees, BatcherError> {
        let fees = self.l1.estimate_eip1559_fees().await.map_err(BatcherError::L1)?;
        let max_fee_per_blob_gas = match payload {
            Payload::Calldata(_) => None,
            Payload::Blobs { .. } => {
                let base = self.l1.get_blob_base_fee().await.map_err(BatcherError::L1)?;
                Some(base.max(1).saturating_mul(2))
            }
        };
        Ok(TxFees {
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            max_fee_per_blob_gas,
        })
    }

    /// Sends queued frames (in order, up to the in-flight limit) and replaces timed-out ones.
    async fn submit(&mut self) -> Result<(), BatcherError> {
        let unmined = self.submissions.iter().filter(|s| s.in_flight()).count();
        let mut budget = self.config.max_pending_transactions.saturating_sub(unmined);
        let inbox = self.config.rollup.batch_inbox_address;
        let mut balance = None;
        // Asked once per pass: every frame of a pass has the same kind of payload.
        let mut market = None;
        for index in 0..self.submissions.len() {
            let Some(submission) = self.submissions.get(index) else { break };
            if submission.mined.is_some() {
                continue;
            }
            let resend = !submission.sends.is_empty();
            if resend && !submission.replace {
                continue;
            }
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
            if resend && !self.any_send_known(index).await? {
                // Every version sent at this nonce is gone from L1: an L1 reorg took out the
                // block that mined it before its receipt was seen, or the pool dropped it.
                // Nothing is there to replace, so no floor applies: a replacement priced over
                // the old offer could exceed the fee limit once the market fell, and the nonce
                // (and everything after it) would stay empty for good.
                self.offered.remove(&nonce);
                info!(target: "batcher", nonce, "the transactions sent at this nonce are gone from L1; sending again at the market's price");
            }
            let Some(submission) = self.submissions.get(index) else { break };
            let payload = submission.payload.clone();
            let market = match market {
                Some(known) => known,
                None => *market.insert(self.market_fees(&payload).await?),
            };
            let fees = match transaction_fees(
                market,
                self.offered.get(&nonce).copied(),
                self.config.fee_limit_multiplier,
            ) {
                Ok(fees) => fees,
                Err(needed) => {
                    if let Some(submission) = self.submissions.get_mut(index) {
                        submission.nonce = Some(nonce);
                    }
                    let limit = market.times(self.config.fee_limit_multiplier.max(1));
                    let (fee, needed, limit) = needed.first_above(&limit).unwrap_or_default();
                    return Err(BatcherError::FeeLimit {
                        nonce,
                        fee,
                        needed,
                        limit,
                        multiplier: self.config.fee_limit_multiplier,
                    });
                }
            };
            let gas_limit = payload.gas_limit();
            let cost = fees.max_cost(gas_limit, payload.blob_count());
            let available = match balance {
                Some(balance) => balance,
                None => *balance
                    .insert(self.l1.get_balance(self.batcher).await.map_err(BatcherError::L1)?),
            };
            gauge!(BatcherMetrics::BALANCE).set(f64::from(available));
            gauge!(BatcherMetrics::NEXT_TX_COST).set(f64::from(cost));
            if available < cost {
                if let Some(submission) = self.submissions.get_mut(index) {
                    submission.nonce = Some(nonce);
                }
                return Err(BatcherError::InsufficientFunds {
                    account: self.batcher,
                    balance: available,
                    needed: cost,
                });
            }
            let mut tx = TransactionRequest::default()
                .with_to(inbox)
                .with_nonce(nonce)
                .with_gas_limit(gas_limit)
                .with_max_fee_per_gas(fees.max_fee_per_gas)
                .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
            match &payload {
                Payload::Calldata(calldata) => tx.set_input(calldata.clone()),
                Payload::Blobs { sidecar, .. } => {
                    tx.set_max_fee_per_blob_gas(fees.max_fee_per_blob_gas.unwrap_or(1));
                    tx.set_blob_sidecar(sidecar.clone());
                }
            }
            let sent = self.l1.send_transaction(tx).await;
            let Some(submission) = self.submissions.get_mut(index) else { break };
            submission.nonce = Some(nonce);
            match sent {
                Ok(pending) => {
                    let hash = *pending.tx_hash();
                    submission.sends.push(Sent { hash, at: Instant::now() });
                    submission.replace = false;
                    self.offered.insert(nonce, fees);
                    balance = Some(available - cost);
                    counter!(BatcherMetrics::TXS_SENT, "kind" => if resend { "resubmit" } else { "new" }).increment(1);
                    counter!(BatcherMetrics::BYTES_POSTED, "da" => payload.da())
                        .increment(payload.data_bytes() as u64);
                    if let Payload::Blobs { sidecar, .. } = &payload {
                        counter!(BatcherMetrics::BLOBS_POSTED)
                            .increment(sidecar.blobs.len() as u64);
                    }
                    info!(target: "batcher", %hash, nonce, da = payload.da(), bytes = payload.data_bytes(), last_l2_block = submission.last_l2_block, resend, max_fee_per_gas = fees.max_fee_per_gas, max_priority_fee_per_gas = fees.max_priority_fee_per_gas, max_fee_per_blob_gas = fees.max_fee_per_blob_gas, "batcher transaction sent");
                    if !resend {
                        budget = budget.saturating_sub(1);
                    }
                }
                Err(err) => {
                    let message = err.to_string().to_lowercase();
                    if message.contains("underpriced") {
                        // Something is at this nonce already (a previous run's transaction):
                        // the next try must offer more than this one did.
                        let floor = self.offered.get(&nonce).map_or(fees, |known| known.max(fees));
                        self.offered.insert(nonce, floor);
                        submission.replace = true;
                    } else if message.contains("nonce too low") && resend {
                        // One of our own transactions at this nonce was mined after the last
                        // receipt check: tracking finds it on the next tick.
                        submission.replace = false;
                        return Ok(());
                    } else if message.contains("nonce too low") || message.contains("already known")
                    {
                        // Someone else used the nonce: start over from the chain's view.
                        warn!(target: "batcher", %err, nonce, "nonce race");
                        return self.repost(Repost::Nonce).await;
                    }
                    return Err(BatcherError::Send(err));
                }
            }
        }
        Ok(())
    }
}

/// The channel config for a channel of `blocks` blocks: a single block may use all the fork
/// allows (it cannot be split further); more blocks are held to what the in-flight limit posts
/// at once (see [`SubmitterConfig::max_pending_transactions`]).
fn channel_config(config: &SubmitterConfig, blocks: usize) -> Result<ChannelConfig, BatcherError> {
    // Derivation picks the channel size limit by the L1 inclusion time; the rollup's genesis
    // time gives the limit of the forks active at genesis, never a larger one than the L1 block
    // the channel lands in allows.
    let channel = ChannelConfig::new(
        config.rollup.clone(),
        config.compression,
        config.rollup.genesis.l2_time,
    )?;
    if blocks <= 1 {
        return Ok(channel);
    }
    let frames_in_flight =
        config.max_pending_transactions.max(1).saturating_mul(config.target_num_frames.max(1));
    let target = frames_in_flight.saturating_mul(config.max_frame_size);
    Ok(channel.with_max_rlp_bytes_per_channel(u64::try_from(target).unwrap_or(u64::MAX)))
}

/// Encodes `blocks` (consecutive) into channels and their batcher transactions, as the
/// submitter does when it closes a channel: one channel, or — when the channel goes over a size
/// limit, e.g. incompressible data whose compressed size passes it — the blocks split in two
/// halves, each encoded the same way. Fails only when a single block cannot be encoded.
pub fn encode_channels(
    config: &SubmitterConfig,
    mut blocks: Vec<BlockBatch>,
) -> Result<Vec<EncodedChannel>, BatcherError> {
    match encode_channel(config, &blocks) {
        Ok(channel) => Ok(vec![channel]),
        Err(err) if err.is_size_limit() && blocks.len() > 1 => {
            debug!(target: "batcher", %err, blocks = blocks.len(), "channel over a size limit; splitting it");
            let second = blocks.split_off(blocks.len() / 2);
            let mut channels = encode_channels(config, blocks)?;
            channels.extend(encode_channels(config, second)?);
            Ok(channels)
        }
        Err(err) => Err(err),
    }
}

/// Encodes consecutive `blocks` into one channel and its batcher transactions.
fn encode_channel(
    config: &SubmitterConfig,
    blocks: &[BlockBatch],
) -> Result<EncodedChannel, BatcherError> {
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
        return Err(BatcherError::EmptyChannel);
    };
    // Span batches need Delta and brotli needs Fjord at the channel's blocks; before that the
    // channel falls back to singular batches and zlib.
    let first_time = first.info.block_info.timestamp;
    let mut batch_kind = config.batch_kind;
    if !config.rollup.is_delta_active(first_time) {
        batch_kind = BatchKind::Single;
    }
    let mut config = config.clone();
    if matches!(config.compression, ChannelCompression::Brotli { .. })
        && !config.rollup.is_fjord_active(first_time)
    {
        config.compression = ChannelCompression::ZLIB;
    }
    let mut channel = ChannelBuilder::new(channel_config(&config, blocks.len())?)?;
    match batch_kind {
        BatchKind::Single => {
            for block in blocks {
                channel.add_batch(&Batch::Single(block.batch.clone()))?;
            }
        }
        BatchKind::Span => {
            let mut span = SpanBatchBuilder::new(config.rollup.clone());
            for block in blocks {
                span.push(block.clone())?;
            }
            channel.add_batch(&Batch::Span(span.build()?))?;
        }
    }
    let closed = channel.close()?;
    let frames = closed.batcher_transactions(config.max_frame_size)?;
    let frame_count = frames.len();
    let payloads = match config.data_availability {
        DataAvailability::Calldata => frames.into_iter().map(Payload::Calldata).collect(),
        DataAvailability::Blobs => blob_payloads(frames, config.target_num_frames)?,
    };
    Ok(EncodedChannel {
        id: closed.id(),
        blocks: first.info.block_info.number..=last.info.block_info.number,
        compressed_bytes: closed.data().len(),
        frames: frame_count,
        payloads,
    })
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
