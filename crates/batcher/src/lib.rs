//! The encoding half of an OP Stack batcher: L2 blocks in, batcher transaction calldata out.
//!
//! Derivation (kona-derive, op-node) rebuilds the L2 chain's safe head from what the batcher
//! posts to L1. This crate produces exactly what kona-derive 0.4.5 reads back, reusing kona's own
//! batch types and encoders:
//!
//! 1. **Batches** ([`batch`]): each L2 block becomes a kona [`SingleBatch`]
//!    ([`BlockBatch::from_block`]): parent hash, L1 origin (epoch) and sequence number from the
//!    block's L1-info deposit, timestamp, and the non-deposit transactions EIP-2718 encoded. A run
//!    of consecutive blocks becomes one [`SpanBatch`] ([`SpanBatchBuilder`]).
//! 2. **Channels** ([`channel`]): batches are appended to a [`ChannelBuilder`], each as an RLP
//!    string of (batch type ++ batch payload), until [`BatcherError::ChannelFull`]; closing
//!    compresses the concatenation with zlib or, from Fjord on, `0x01` ++ brotli.
//! 3. **Frames** ([`frame`]): the compressed channel is cut into kona [`Frame`]s no larger than the
//!    configured max frame size, and frames become calldata `0x00 ++ frame…`
//!    ([`ClosedChannel::batcher_transactions`]: one frame per transaction), or each frame into
//!    one EIP-4844 blob ([`blob`]) with its KZG commitment and proof.
//!
//! 4. **Submission** ([`BatchSubmitter`]): the driver that feeds the node's unsafe chain through
//!    1–3 and posts the result to the batch inbox from the batcher key, tracks every transaction
//!    until it is confirmed and safe, re-posts after L1 reorgs and when the safe head stalls or
//!    goes back, bumps fees only to replace a transaction and never past a limit, and after a
//!    restart reads its own recent transactions back ([`posted`]) to resume without a gap or a
//!    double post.
//!
//! [`SingleBatch`]: kona_protocol::SingleBatch
//! [`SpanBatch`]: kona_protocol::SpanBatch
//! [`Frame`]: kona_protocol::Frame

pub mod batch;
pub mod blob;
pub mod channel;
mod error;
pub mod frame;
pub mod posted;
mod submitter;
pub use submitter::{
    BatchKind, BatchSubmitter, BatcherMetrics, DEFAULT_FEE_LIMIT_MULTIPLIER, DataAvailability,
    EncodedChannel, L2Chain, L2ChainError, MAX_BLOB_FRAME_SIZE, MAX_CALLDATA_FRAME_SIZE,
    MAX_L1_TX_SIZE, SubmitterConfig, TxFees, encode_channels, transaction_fees,
};

pub use batch::{BlockBatch, SpanBatchBuilder, single_batch_from_block};
pub use channel::{ChannelBuilder, ChannelCompression, ChannelConfig, ClosedChannel};
pub use error::BatcherError;
pub use frame::{
    FRAME_HEADER_LEN, MAX_FRAME_SIZE, MAX_FRAMES_PER_CHANNEL, MIN_FRAME_SIZE,
    batcher_transaction_calldata, split_into_frames,
};
