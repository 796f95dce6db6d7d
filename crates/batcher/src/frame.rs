//! Frames and batcher transactions: channel data split into kona [`Frame`]s, and frames
//! prefixed with the derivation version as L1 calldata.

use alloy_primitives::Bytes;
use kona_protocol::{CHANNEL_ID_LENGTH, ChannelId, DERIVATION_VERSION_0, Frame, MAX_FRAME_LEN};

use crate::BatcherError;

/// Bytes an encoded frame adds to its data: channel id, `u16` frame number, `u32` data length
/// and the `is_last` byte (see [`Frame::encode`]).
pub const FRAME_HEADER_LEN: usize = CHANNEL_ID_LENGTH + 2 + 4 + 1;

/// The smallest usable max frame size: the header plus one data byte.
pub const MIN_FRAME_SIZE: usize = FRAME_HEADER_LEN + 1;

/// The largest encoded frame kona decodes: its frame data is capped at [`MAX_FRAME_LEN`]. A
/// larger max frame size is accepted and treated as this one.
pub const MAX_FRAME_SIZE: usize = FRAME_HEADER_LEN + MAX_FRAME_LEN;

/// Frame numbers are `u16`, so a channel has at most this many frames.
pub const MAX_FRAMES_PER_CHANNEL: usize = u16::MAX as usize + 1;

/// Splits channel data into frames whose encoding is at most `max_frame_size` bytes.
///
/// Frames are numbered from 0; only the last has `is_last` set, and none is empty (empty data is
/// refused as [`BatcherError::EmptyChannel`]).
pub fn split_into_frames(
    id: ChannelId,
    data: &[u8],
    max_frame_size: usize,
) -> Result<Vec<Frame>, BatcherError> {
    if max_frame_size < MIN_FRAME_SIZE {
        return Err(BatcherError::FrameSizeTooSmall {
            max_frame_size,
            min_frame_size: MIN_FRAME_SIZE,
        });
    }
    if data.is_empty() {
        return Err(BatcherError::EmptyChannel);
    }
    let data_per_frame = (max_frame_size - FRAME_HEADER_LEN).min(MAX_FRAME_LEN);
    let frame_count = data.len().div_ceil(data_per_frame);
    if frame_count > MAX_FRAMES_PER_CHANNEL {
        return Err(BatcherError::TooManyFrames {
            frames: frame_count,
            max_frames: MAX_FRAMES_PER_CHANNEL,
        });
    }
    let last = frame_count - 1;
    // `frame_count <= MAX_FRAMES_PER_CHANNEL`, so every index fits a `u16`.
    Ok((0..=u16::MAX)
        .zip(data.chunks(data_per_frame))
        .map(|(number, chunk)| Frame::new(id, number, chunk.to_vec(), usize::from(number) == last))
        .collect())
}

/// Batcher transaction calldata carrying `frames`: [`DERIVATION_VERSION_0`] followed by each
/// frame's encoding, in order.
pub fn batcher_transaction_calldata(frames: &[Frame]) -> Result<Bytes, BatcherError> {
    if frames.is_empty() {
        return Err(BatcherError::NoFrames);
    }
    let len = 1 + frames.iter().map(|frame| FRAME_HEADER_LEN + frame.data.len()).sum::<usize>();
    let mut calldata = Vec::with_capacity(len);
    calldata.push(DERIVATION_VERSION_0);
    for frame in frames {
        calldata.extend_from_slice(&frame.encode());
    }
    Ok(calldata.into())
}
