//! The crate's single error type.

use alloy_primitives::{Address, B256, U256};
use kona_protocol::{BatchEncodingError, DecodeError, SpanBatchError};

/// Everything that can go wrong turning L2 blocks into batcher transactions.
///
/// The variants a caller is expected to act on (rather than log) are [`Self::ChannelFull`]
/// (close the channel and start a new one with the same batch) and [`Self::BatchTooLarge`]
/// (the batch never fits a channel; split the span batch or give up on the block).
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// The L2 genesis block (or a block at or below its number) is the derivation's starting
    /// point: it is never batched, and it carries no L1-info deposit to take the epoch from.
    #[error("block {number} is at or below the L2 genesis block {genesis}; it is never batched")]
    GenesisBlock {
        /// The block's number.
        number: u64,
        /// The L2 genesis block number of the rollup config.
        genesis: u64,
    },

    /// A non-genesis L2 block must start with the L1-info deposit; this one has no transactions.
    #[error("block {number} has no transactions, so no L1-info deposit to take its L1 origin from")]
    MissingL1InfoDeposit {
        /// The block's number.
        number: u64,
    },

    /// The first transaction of the block is not a deposit, so it cannot be the L1-info deposit.
    #[error("block {number}: first transaction has type {tx_type}, not the L1-info deposit (0x7e)")]
    FirstTxNotDeposit {
        /// The block's number.
        number: u64,
        /// The EIP-2718 type of the first transaction.
        tx_type: u8,
    },

    /// The first transaction is a deposit whose calldata kona cannot read as `L1Block` info.
    #[error("block {number}: L1-info deposit calldata does not decode: {source}")]
    L1InfoDecode {
        /// The block's number.
        number: u64,
        /// kona's decoding error.
        source: DecodeError,
    },

    /// The span batch has no blocks; kona refuses to encode or derive an empty span batch.
    #[error("span batch has no blocks")]
    EmptySpanBatch,

    /// A block appended to a span batch is not the child of the previous one.
    #[error("span batch: block {number} has parent {parent}, expected previous block {expected}")]
    SpanParentMismatch {
        /// The appended block's number.
        number: u64,
        /// Its parent hash.
        parent: B256,
        /// The hash of the span's previous block.
        expected: B256,
    },

    /// Span batches store only the first timestamp; derivation recomputes block `i`'s timestamp
    /// as `first + i * block_time`, so every block must follow the previous one by exactly
    /// `block_time` seconds.
    #[error("span batch: block {number} has timestamp {timestamp}, expected {expected}")]
    SpanTimestampGap {
        /// The appended block's number.
        number: u64,
        /// Its timestamp.
        timestamp: u64,
        /// The previous block's timestamp plus the rollup's block time.
        expected: u64,
    },

    /// Span batches store one "origin changed" bit per block, so the L1 origin may only stay the
    /// same (same number and hash) or advance to the next L1 block.
    #[error(
        "span batch: block {number} has L1 origin {origin_number} ({origin_hash}), previous block \
         has {previous_number} ({previous_hash}); the origin may only stay or advance by one"
    )]
    SpanL1OriginJump {
        /// The appended block's number.
        number: u64,
        /// The appended block's L1 origin number.
        origin_number: u64,
        /// The appended block's L1 origin hash.
        origin_hash: B256,
        /// The previous block's L1 origin number.
        previous_number: u64,
        /// The previous block's L1 origin hash.
        previous_hash: B256,
    },

    /// Derivation drops span batches whose first L1 origin predates the Delta hard fork.
    #[error("span batch: L1 origin of block {number} (L1 time {l1_origin_time}) is before Delta")]
    SpanBeforeDelta {
        /// The first block's number.
        number: u64,
        /// Its L1 origin's timestamp.
        l1_origin_time: u64,
    },

    /// A span batch stores timestamps relative to the L2 genesis time; this one starts before it.
    #[error("span batch starts at {timestamp}, before the L2 genesis time {genesis_time}")]
    SpanBeforeGenesis {
        /// The span batch's first timestamp.
        timestamp: u64,
        /// The genesis timestamp the span batch is relative to.
        genesis_time: u64,
    },

    /// kona's span batch encoder refused the block (e.g. a transaction type span batches cannot
    /// carry, a replay-protected transaction for another chain, or too many elements).
    #[error("span batch: {0}")]
    SpanBatch(#[from] SpanBatchError),

    /// kona's batch encoder refused the batch.
    #[error("batch encoding: {0}")]
    BatchEncoding(#[from] BatchEncodingError),

    /// Adding the batch would take the channel's uncompressed RLP size past its limit. The channel
    /// is unchanged: close it and add the batch to a new channel.
    #[error(
        "channel full: {channel_rlp_bytes} RLP bytes plus a {batch_rlp_bytes}-byte batch exceeds \
         the {max_rlp_bytes}-byte limit"
    )]
    ChannelFull {
        /// RLP bytes already in the channel.
        channel_rlp_bytes: usize,
        /// RLP bytes of the refused batch.
        batch_rlp_bytes: usize,
        /// The channel's RLP byte limit.
        max_rlp_bytes: usize,
    },

    /// The batch alone exceeds the channel's RLP limit, so no channel can hold it.
    #[error("batch of {batch_rlp_bytes} RLP bytes exceeds the {max_rlp_bytes}-byte channel limit")]
    BatchTooLarge {
        /// RLP bytes of the refused batch.
        batch_rlp_bytes: usize,
        /// The channel's RLP byte limit.
        max_rlp_bytes: usize,
    },

    /// Derivation discards brotli channels holding batches from before Fjord.
    #[error("brotli channels are only valid from Fjord on; batch timestamp {timestamp} is earlier")]
    BrotliBeforeFjord {
        /// The batch's (first) timestamp.
        timestamp: u64,
    },

    /// The compression level is outside what the compressor supports.
    #[error("compression level {level} out of range (max {max})")]
    InvalidCompressionLevel {
        /// The requested level.
        level: u32,
        /// The highest supported level.
        max: u32,
    },

    /// The brotli encoder failed.
    #[error("brotli compression: {0}")]
    Brotli(#[source] std::io::Error),

    /// A channel without batches has nothing to derive; closing it is refused rather than
    /// emitting an empty frame.
    #[error("channel has no batches")]
    EmptyChannel,

    /// A frame must carry its 23-byte header plus at least one data byte.
    #[error("max frame size {max_frame_size} is below the minimum of {min_frame_size} bytes")]
    FrameSizeTooSmall {
        /// The requested maximum encoded frame size.
        max_frame_size: usize,
        /// The smallest usable size.
        min_frame_size: usize,
    },

    /// Frame numbers are `u16`, so a channel has at most 65536 frames.
    #[error("channel needs {frames} frames of this size; at most {max_frames} fit a channel")]
    TooManyFrames {
        /// Frames the channel data would need.
        frames: usize,
        /// The maximum frame count per channel.
        max_frames: usize,
    },

    /// kona-derive counts a channel as its frame data plus 200 bytes per frame and drops it once
    /// that exceeds the max RLP bytes per channel.
    #[error(
        "channel of {size} bytes ({frames} frames, counted as data + 200 bytes per frame) exceeds \
         the {max_rlp_bytes}-byte limit derivation applies; use larger frames"
    )]
    ChannelTooLargeForDerivation {
        /// The channel's size as kona-derive counts it.
        size: usize,
        /// Its number of frames.
        frames: usize,
        /// The max RLP bytes per channel.
        max_rlp_bytes: usize,
    },

    /// A batcher transaction needs at least one frame after the version byte.
    #[error("a batcher transaction needs at least one frame")]
    NoFrames,

    /// The operating system's random number generator failed while drawing a channel id.
    // Displayed rather than chained: rand_core 0.6 implements `std::error::Error` only with its
    // `std` feature.
    #[error("drawing a random channel id: {0}")]
    ChannelIdRandomness(rand_core::Error),

    /// More data than one blob carries.
    #[error("{size} bytes do not fit a blob (at most {max})")]
    BlobTooLarge {
        /// Bytes to encode.
        size: usize,
        /// The blob's data capacity.
        max: usize,
    },

    /// c-kzg could not commit to or prove a blob.
    #[error("KZG: {0:?}")]
    Kzg(c_kzg::Error),

    /// The L1 beacon API failed or answered something unusable.
    #[error("L1 {0}")]
    Beacon(String),

    /// Reading our own batcher transactions back from L1 (as derivation reads them) failed.
    #[error("reading batcher data back from L1: {0}")]
    ReadBack(String),

    /// The L1 RPC failed or refused a request.
    #[error("L1 RPC: {0}")]
    L1(#[source] alloy_transport::TransportError),

    /// Sending a batcher transaction failed.
    #[error("sending a batcher transaction: {0}")]
    Send(#[source] alloy_transport::TransportError),

    /// The node's L2 chain could not be read.
    #[error("reading the L2 chain: {0}")]
    L2Chain(#[source] crate::submitter::L2ChainError),

    /// The batcher account cannot pay for its next transaction.
    #[error(
        "batcher account {account} holds {balance} wei; its next transaction may cost up to \
         {needed} wei: fund the account"
    )]
    InsufficientFunds {
        /// The batcher's L1 address.
        account: Address,
        /// Its balance.
        balance: U256,
        /// Gas limit × max fee (plus blob gas × max blob fee) of the next transaction.
        needed: U256,
    },

    /// Replacing a transaction would take a fee above the fee limit.
    #[error(
        "replacing the transaction at nonce {nonce} needs a {fee} of {needed} wei, above the \
         limit of {limit} ({multiplier}× the market's): left to be mined as it is"
    )]
    FeeLimit {
        /// The nonce of the transaction to replace.
        nonce: u64,
        /// Which fee is over the limit (max fee, priority fee or blob fee, per gas).
        fee: &'static str,
        /// What a replacement would need to offer for it.
        needed: u128,
        /// The limit: the market's fee times the multiplier.
        limit: u128,
        /// The fee limit multiplier.
        multiplier: u64,
    },

    /// The L1 SystemConfig answered something that is not a batcher hash.
    #[error("{0}")]
    SystemConfig(String),

    /// The blocking task that encodes a channel panicked or was cancelled.
    #[error("channel encoder: {0}")]
    Encoder(String),
}

impl BatcherError {
    /// Short label of the failure, for metrics.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::FeeLimit { .. } => "fee_limit",
            Self::L1(_) => "l1",
            Self::Send(_) => "send",
            Self::L2Chain(_) => "l2",
            Self::Beacon(_) | Self::ReadBack(_) | Self::SystemConfig(_) => "l1",
            _ => "encoding",
        }
    }

    /// Whether a channel failed only for its size, so the same blocks fit in smaller channels.
    pub const fn is_size_limit(&self) -> bool {
        matches!(
            self,
            Self::ChannelFull { .. }
                | Self::BatchTooLarge { .. }
                | Self::ChannelTooLargeForDerivation { .. }
                | Self::TooManyFrames { .. }
        )
    }
}
