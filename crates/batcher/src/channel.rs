//! Channels: batches concatenated as RLP strings, then compressed, as kona's `BatchReader`
//! decompresses and reads them.

use std::sync::Arc;

use alloy_primitives::Bytes;
use alloy_rlp::Encodable;
use brotli::enc::BrotliEncoderParams;
use kona_genesis::RollupConfig;
use kona_protocol::{Batch, BatchReader, ChannelId, Frame};
use miniz_oxide::deflate::compress_to_vec_zlib;
use rand_core::{OsRng, RngCore};

use crate::{BatcherError, frame};

/// How a channel's data is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelCompression {
    /// A zlib stream (RFC 1950, header included): its first byte's low nibble is 8 (deflate),
    /// which is how derivation recognises it. Valid in every fork.
    Zlib {
        /// miniz_oxide level, 0 (store) to 10.
        level: u8,
    },
    /// `0x01` followed by a brotli stream. Derivation only accepts it for batches from Fjord on.
    Brotli {
        /// Brotli quality, 0 to 11.
        quality: u32,
    },
}

impl ChannelCompression {
    /// zlib at its best level, as op-batcher compresses by default.
    pub const ZLIB: Self = Self::Zlib { level: 9 };
    /// brotli at quality 10, op-batcher's `brotli-10`.
    pub const BROTLI: Self = Self::Brotli { quality: 10 };

    /// Highest miniz_oxide level.
    const MAX_ZLIB_LEVEL: u8 = 10;
    /// Highest brotli quality.
    const MAX_BROTLI_QUALITY: u32 = 11;
    /// Brotli window of 2^22 bytes, the encoder's default and well within the 16 MiB window kona's
    /// stack-allocated decoder supports.
    const BROTLI_WINDOW_BITS: i32 = 22;

    fn validate(self) -> Result<Self, BatcherError> {
        match self {
            Self::Zlib { level } if level > Self::MAX_ZLIB_LEVEL => {
                Err(BatcherError::InvalidCompressionLevel {
                    level: level.into(),
                    max: Self::MAX_ZLIB_LEVEL.into(),
                })
            }
            Self::Brotli { quality } if quality > Self::MAX_BROTLI_QUALITY => {
                Err(BatcherError::InvalidCompressionLevel {
                    level: quality,
                    max: Self::MAX_BROTLI_QUALITY,
                })
            }
            valid => Ok(valid),
        }
    }

    fn compress(self, rlp: &[u8]) -> Result<Vec<u8>, BatcherError> {
        match self {
            // `compress_to_vec_zlib`, not `compress_to_vec`: derivation reads the zlib header to
            // tell zlib from brotli, and a raw deflate stream has none.
            Self::Zlib { level } => Ok(compress_to_vec_zlib(rlp, level)),
            Self::Brotli { quality } => {
                let params = BrotliEncoderParams {
                    quality: quality as i32,
                    lgwin: Self::BROTLI_WINDOW_BITS,
                    size_hint: rlp.len(),
                    ..Default::default()
                };
                let mut out = vec![BatchReader::CHANNEL_VERSION_BROTLI];
                brotli::BrotliCompress(&mut &rlp[..], &mut out, &params)
                    .map_err(BatcherError::Brotli)?;
                Ok(out)
            }
        }
    }
}

/// What a channel is built for: the rollup, the compression and the RLP byte limit.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    rollup_config: Arc<RollupConfig>,
    compression: ChannelCompression,
    max_rlp_bytes_per_channel: u64,
}

impl ChannelConfig {
    /// A channel for `rollup_config`, limited to the max RLP bytes per channel of the fork active
    /// at `l1_inclusion_timestamp`.
    ///
    /// kona-derive picks the limit by the L1 block the channel is read from, not by the L2 blocks
    /// in it: pass the timestamp of the L1 block the batcher transactions are expected to land in
    /// (the L1 head's time works; around Fjord, an earlier time gives the smaller, safe limit).
    pub fn new(
        rollup_config: Arc<RollupConfig>,
        compression: ChannelCompression,
        l1_inclusion_timestamp: u64,
    ) -> Result<Self, BatcherError> {
        let compression = compression.validate()?;
        let max_rlp_bytes_per_channel =
            rollup_config.max_rlp_bytes_per_channel(l1_inclusion_timestamp);
        Ok(Self { rollup_config, compression, max_rlp_bytes_per_channel })
    }

    /// Lowers the RLP byte limit, to close channels earlier than the protocol requires. It can
    /// only lower it: a channel above the fork's limit would be dropped by derivation.
    pub fn with_max_rlp_bytes_per_channel(mut self, max_rlp_bytes_per_channel: u64) -> Self {
        self.max_rlp_bytes_per_channel =
            self.max_rlp_bytes_per_channel.min(max_rlp_bytes_per_channel);
        self
    }

    /// The channel's compression.
    pub const fn compression(&self) -> ChannelCompression {
        self.compression
    }

    /// The max RLP bytes per channel this config enforces (the fork's, or a lower one).
    pub const fn max_rlp_bytes_per_channel(&self) -> u64 {
        self.max_rlp_bytes_per_channel
    }

    /// How many uncompressed RLP bytes a channel may hold.
    ///
    /// For zlib, the max RLP bytes per channel. For brotli, half of it: kona's brotli decoder
    /// starts with an output buffer the size of the compressed data and doubles it, refusing the
    /// channel once the doubled size would exceed the limit. The largest buffer it reaches is
    /// therefore only guaranteed to be above half the limit, and a channel between that and the
    /// limit may be refused depending on its compressed size.
    pub fn rlp_byte_budget(&self) -> usize {
        let limit = usize::try_from(self.max_rlp_bytes_per_channel).unwrap_or(usize::MAX);
        match self.compression {
            ChannelCompression::Zlib { .. } => limit,
            ChannelCompression::Brotli { .. } => limit / 2,
        }
    }
}

/// An open channel: batches are added until it is full, then it is closed into compressed data.
#[derive(Debug, Clone)]
pub struct ChannelBuilder {
    config: ChannelConfig,
    id: ChannelId,
    /// The uncompressed channel: each batch as an RLP string of (batch type ++ batch payload).
    rlp: Vec<u8>,
    batches: usize,
}

impl ChannelBuilder {
    /// An empty channel with a random id from the operating system's RNG. Ids must not repeat:
    /// derivation assembles frames by channel id.
    pub fn new(config: ChannelConfig) -> Result<Self, BatcherError> {
        let mut id = ChannelId::default();
        OsRng.try_fill_bytes(&mut id).map_err(BatcherError::ChannelIdRandomness)?;
        Ok(Self::with_id(config, id))
    }

    /// An empty channel with the given id.
    pub const fn with_id(config: ChannelConfig, id: ChannelId) -> Self {
        Self { config, id, rlp: Vec::new(), batches: 0 }
    }

    /// The channel id its frames will carry.
    pub const fn id(&self) -> ChannelId {
        self.id
    }

    /// The config the channel was opened with.
    pub const fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// Number of batches added.
    pub const fn batch_count(&self) -> usize {
        self.batches
    }

    /// Whether no batch was added yet.
    pub const fn is_empty(&self) -> bool {
        self.batches == 0
    }

    /// Uncompressed RLP bytes in the channel so far.
    pub fn rlp_len(&self) -> usize {
        self.rlp.len()
    }

    /// Uncompressed RLP bytes still available (see [`ChannelConfig::rlp_byte_budget`]).
    pub fn remaining_rlp_bytes(&self) -> usize {
        self.config.rlp_byte_budget().saturating_sub(self.rlp.len())
    }

    /// Adds a batch.
    ///
    /// Returns [`BatcherError::ChannelFull`] when the batch does not fit what is left of the RLP
    /// budget, and [`BatcherError::BatchTooLarge`] when it would not fit even an empty channel; in
    /// both cases the channel is unchanged.
    pub fn add_batch(&mut self, batch: &Batch) -> Result<(), BatcherError> {
        if let Batch::Span(span) = batch
            && let Some(first) = span.batches.first()
            && first.timestamp < span.genesis_timestamp
        {
            // kona's encoder subtracts the genesis time unchecked.
            return Err(BatcherError::SpanBeforeGenesis {
                timestamp: first.timestamp,
                genesis_time: span.genesis_timestamp,
            });
        }

        // kona's `Batch::encode` writes exactly what `Batch::decode` reads: the type byte and
        // the payload. The channel wraps each in an RLP string, which `BatchReader` unwraps.
        let mut typed = Vec::new();
        batch.encode(&mut typed)?;

        // Encoding refuses empty span batches, so `timestamp()` (which indexes the first
        // element of a span) is safe here. `BatchReader` stops at the first brotli batch from
        // before Fjord.
        if matches!(self.config.compression, ChannelCompression::Brotli { .. })
            && !self.config.rollup_config.is_fjord_active(batch.timestamp())
        {
            return Err(BatcherError::BrotliBeforeFjord { timestamp: batch.timestamp() });
        }

        let batch_rlp_bytes = typed.as_slice().length();
        let max_rlp_bytes = self.config.rlp_byte_budget();
        if batch_rlp_bytes > max_rlp_bytes {
            return Err(BatcherError::BatchTooLarge { batch_rlp_bytes, max_rlp_bytes });
        }
        if self.rlp.len() + batch_rlp_bytes > max_rlp_bytes {
            return Err(BatcherError::ChannelFull {
                channel_rlp_bytes: self.rlp.len(),
                batch_rlp_bytes,
                max_rlp_bytes,
            });
        }
        typed.as_slice().encode(&mut self.rlp);
        self.batches += 1;
        Ok(())
    }

    /// Compresses the channel. An empty channel is refused: it would need an empty frame and
    /// derives nothing.
    pub fn close(self) -> Result<ClosedChannel, BatcherError> {
        if self.batches == 0 {
            return Err(BatcherError::EmptyChannel);
        }
        let data = self.config.compression.compress(&self.rlp)?;
        Ok(ClosedChannel {
            id: self.id,
            data: data.into(),
            max_rlp_bytes_per_channel: self.config.max_rlp_bytes_per_channel,
        })
    }
}

/// A closed channel: its id and compressed data, ready to be split into frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedChannel {
    id: ChannelId,
    data: Bytes,
    max_rlp_bytes_per_channel: u64,
}

impl ClosedChannel {
    /// The channel id.
    pub const fn id(&self) -> ChannelId {
        self.id
    }

    /// The compressed channel data, as derivation reassembles it from the frames.
    pub const fn data(&self) -> &Bytes {
        &self.data
    }

    /// Splits the channel into frames of at most `max_frame_size` encoded bytes each (see
    /// [`frame::split_into_frames`]).
    ///
    /// Also refuses a split that kona-derive's channel assembler would drop: it counts a
    /// channel as its frame data plus [`kona_protocol::FRAME_OVERHEAD`] bytes per frame, against
    /// the max RLP bytes per channel, so very small frames can push a channel over.
    pub fn frames(&self, max_frame_size: usize) -> Result<Vec<Frame>, BatcherError> {
        let frames = frame::split_into_frames(self.id, &self.data, max_frame_size)?;
        let size: usize = frames.iter().map(Frame::size).sum();
        let max_rlp_bytes = usize::try_from(self.max_rlp_bytes_per_channel).unwrap_or(usize::MAX);
        if size > max_rlp_bytes {
            return Err(BatcherError::ChannelTooLargeForDerivation {
                size,
                frames: frames.len(),
                max_rlp_bytes,
            });
        }
        Ok(frames)
    }

    /// The channel as batcher transaction calldata, one frame per transaction (op-batcher's
    /// default): each is `0x00 ++ frame` and at most `max_frame_size + 1` bytes long.
    pub fn batcher_transactions(&self, max_frame_size: usize) -> Result<Vec<Bytes>, BatcherError> {
        self.frames(max_frame_size)?
            .iter()
            .map(|frame| frame::batcher_transaction_calldata(std::slice::from_ref(frame)))
            .collect()
    }
}
