//! `--batcher.*`: the batcher built into a sequencer (op-batcher's job, in-process).

use clap::{Args, ValueEnum};
use std::{path::PathBuf, time::Duration};

/// How batches reach L1.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataAvailabilityType {
    /// Batcher transactions carry the frames in their calldata.
    #[default]
    Calldata,
    /// EIP-4844 blobs: one frame per blob (needs Ecotone, and an L1 beacon API serving blob
    /// sidecars, as derivation does).
    Blobs,
}

impl DataAvailabilityType {
    /// The flag value naming it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Calldata => "calldata",
            Self::Blobs => "blobs",
        }
    }
}

/// Channel compression.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionAlgo {
    /// zlib (every fork).
    #[default]
    Zlib,
    /// brotli (Fjord and later).
    Brotli,
}

/// Batch format.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BatchType {
    /// One singular batch per L2 block.
    Single,
    /// Span batches (Delta and later).
    #[default]
    Span,
}

/// Batcher arguments. The batcher runs when `--batcher.key.path` is given, in sequencer mode.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "Batcher (sequencer mode)")]
pub struct BatcherArgs {
    /// File with the batcher's L1 private key (hex); turns the built-in batcher on. Must not be
    /// readable by group or others (mode 0600). Its address must be the rollup's batcher address.
    #[arg(
        id = "batcher.key.path",
        long = "batcher.key.path",
        value_name = "PATH",
        env = "BATCHER_KEY_PATH"
    )]
    pub key_path: Option<PathBuf>,

    /// Close a channel this many L1 blocks after it was opened (op-batcher's
    /// `--max-channel-duration`). Must stay below the channel timeout.
    #[arg(
        id = "batcher.max-channel-duration",
        long = "batcher.max-channel-duration",
        value_name = "L1_BLOCKS",
        default_value_t = 2,
        env = "BATCHER_MAX_CHANNEL_DURATION"
    )]
    pub max_channel_duration: u64,

    /// Largest frame, in bytes: one frame per calldata transaction (at most 130 048 bytes, so
    /// the transaction stays within the 128 KiB L1 mempools accept), or per blob (at most
    /// 130 043 bytes).
    #[arg(
        id = "batcher.max-frame-size",
        long = "batcher.max-frame-size",
        value_name = "BYTES",
        default_value_t = 120_000,
        env = "BATCHER_MAX_FRAME_SIZE"
    )]
    pub max_frame_size: usize,

    /// How batches reach L1.
    #[arg(
        id = "batcher.data-availability-type",
        long = "batcher.data-availability-type",
        value_name = "TYPE",
        default_value = "calldata",
        env = "BATCHER_DATA_AVAILABILITY_TYPE"
    )]
    pub data_availability_type: DataAvailabilityType,

    /// Frames per blob transaction, each in its own blob (blobs only; op-batcher's
    /// `--target-num-frames`). More blobs per transaction amortise its fixed cost.
    #[arg(
        id = "batcher.target-num-frames",
        long = "batcher.target-num-frames",
        value_name = "FRAMES",
        default_value_t = 1,
        env = "BATCHER_TARGET_NUM_FRAMES"
    )]
    pub target_num_frames: usize,

    /// Channel compression.
    #[arg(
        id = "batcher.compression",
        long = "batcher.compression",
        value_name = "ALGO",
        default_value = "zlib",
        env = "BATCHER_COMPRESSION"
    )]
    pub compression: CompressionAlgo,

    /// Batch format.
    #[arg(
        id = "batcher.batch-type",
        long = "batcher.batch-type",
        value_name = "TYPE",
        default_value = "span",
        env = "BATCHER_BATCH_TYPE"
    )]
    pub batch_type: BatchType,

    /// L1 blocks on top of the one holding a batcher transaction before it counts as confirmed.
    #[arg(
        id = "batcher.num-confirmations",
        long = "batcher.num-confirmations",
        value_name = "BLOCKS",
        default_value_t = 1,
        env = "BATCHER_NUM_CONFIRMATIONS"
    )]
    pub num_confirmations: u64,

    /// Send a transaction again with bumped fees when it is not mined within this many seconds.
    #[arg(
        id = "batcher.resubmission-timeout",
        long = "batcher.resubmission-timeout",
        value_name = "SECONDS",
        default_value_t = 24,
        env = "BATCHER_RESUBMISSION_TIMEOUT"
    )]
    pub resubmission_timeout_secs: u64,

    /// A replacement transaction's fees never exceed this many times the market's current fees.
    /// Fees only rise when a transaction that was
    /// sent is not mined within the resubmission timeout and is sent again.
    #[arg(
        id = "batcher.fee-limit-multiplier",
        long = "batcher.fee-limit-multiplier",
        value_name = "FACTOR",
        default_value_t = 5,
        env = "BATCHER_FEE_LIMIT_MULTIPLIER"
    )]
    pub fee_limit_multiplier: u64,

    /// How often the batcher looks at L1 and L2, in milliseconds.
    #[arg(
        id = "batcher.poll-interval",
        long = "batcher.poll-interval",
        value_name = "MS",
        default_value_t = 500,
        env = "BATCHER_POLL_INTERVAL"
    )]
    pub poll_interval_ms: u64,
}

impl Default for BatcherArgs {
    fn default() -> Self {
        Self {
            key_path: None,
            max_channel_duration: 2,
            max_frame_size: 120_000,
            data_availability_type: DataAvailabilityType::Calldata,
            target_num_frames: 1,
            compression: CompressionAlgo::Zlib,
            batch_type: BatchType::Span,
            num_confirmations: 1,
            resubmission_timeout_secs: 24,
            fee_limit_multiplier: 5,
            poll_interval_ms: 500,
        }
    }
}

impl BatcherArgs {
    /// `--batcher.resubmission-timeout` as a duration.
    pub const fn resubmission_timeout(&self) -> Duration {
        Duration::from_secs(self.resubmission_timeout_secs)
    }

    /// `--batcher.poll-interval` as a duration.
    pub const fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}
