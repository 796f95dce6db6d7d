//! The refusals: what the encoder will not produce because kona-derive would not read it back
//! (or because there is nothing to produce), and that the refusing call leaves its input usable.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use alloy_primitives::{B256, Bytes, Sealable};
use kona_genesis::{MAX_RLP_BYTES_PER_CHANNEL_BEDROCK, RollupConfig};
use kona_protocol::{Batch, SingleBatch, SpanBatch};
use rollup_batcher::{
    BatcherError, BlockBatch, ChannelBuilder, ChannelCompression, ChannelConfig,
    MAX_FRAMES_PER_CHANNEL, MIN_FRAME_SIZE, SpanBatchBuilder, batcher_transaction_calldata,
    single_batch_from_block, split_into_frames,
};

use common::{BlockSpec, GENESIS_TIME, build_chain, decode_batcher_transactions, rollup_config};

fn chain(rollup_config: &RollupConfig, blocks: usize) -> Vec<op_alloy_consensus::OpBlock> {
    let specs =
        vec![BlockSpec { advance_origin: false, user_deposit: false, txs: Vec::new() }; blocks];
    build_chain(rollup_config, &specs).blocks
}

fn zlib_channel(rollup_config: RollupConfig) -> ChannelBuilder {
    let config =
        ChannelConfig::new(Arc::new(rollup_config), ChannelCompression::ZLIB, GENESIS_TIME)
            .unwrap();
    ChannelBuilder::with_id(config, [7; 16])
}

/// A singular batch carrying one opaque "transaction" of `len` bytes (singular batches do not
/// look inside their transactions, so this is the cheapest way to a batch of a given size).
fn batch_of(len: usize, fill: impl FnMut(usize) -> u8) -> Batch {
    let tx: Vec<u8> = std::iter::once(0x02).chain((1..len).map(fill)).collect();
    Batch::Single(SingleBatch {
        timestamp: GENESIS_TIME + 2,
        transactions: vec![Bytes::from(tx)],
        ..Default::default()
    })
}

/// Incompressible bytes (xorshift), so compressed sizes stay close to the input size.
fn noise(seed: u64) -> impl FnMut(usize) -> u8 {
    let mut state = seed | 1;
    move |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    }
}

#[test]
fn an_empty_channel_is_refused() {
    let channel = zlib_channel(rollup_config(false));
    assert!(matches!(channel.close(), Err(BatcherError::EmptyChannel)));
    assert!(matches!(split_into_frames([0; 16], &[], 1_000), Err(BatcherError::EmptyChannel)));
    assert!(matches!(batcher_transaction_calldata(&[]), Err(BatcherError::NoFrames)));
}

#[test]
fn a_full_channel_refuses_the_batch_and_stays_usable() {
    let rollup_config = rollup_config(false);
    let mut channel = zlib_channel(rollup_config.clone());
    // Pre-Fjord: 10 MB of RLP per channel. Two 6 MB batches do not fit.
    assert_eq!(channel.config().max_rlp_bytes_per_channel(), MAX_RLP_BYTES_PER_CHANNEL_BEDROCK);
    let big = batch_of(6_000_000, |_| 0x11);
    channel.add_batch(&big).unwrap();
    let rlp_len = channel.rlp_len();

    let err = channel.add_batch(&big).unwrap_err();
    let BatcherError::ChannelFull { channel_rlp_bytes, batch_rlp_bytes, max_rlp_bytes } = err
    else {
        panic!("expected ChannelFull, got {err}");
    };
    assert_eq!(channel_rlp_bytes, rlp_len);
    assert!(batch_rlp_bytes > 6_000_000);
    assert_eq!(max_rlp_bytes, MAX_RLP_BYTES_PER_CHANNEL_BEDROCK as usize);
    assert_eq!((channel.rlp_len(), channel.batch_count()), (rlp_len, 1));

    // A small batch still fits, and the channel decodes to exactly the accepted batches.
    let small = batch_of(100, |i| i as u8);
    channel.add_batch(&small).unwrap();
    let closed = channel.close().unwrap();
    let calldata = closed.batcher_transactions(120_000).unwrap();
    let decoded = decode_batcher_transactions(&rollup_config, &calldata, GENESIS_TIME);
    assert_eq!(decoded, vec![big, small]);
}

#[test]
fn a_batch_larger_than_any_channel_is_refused() {
    let mut channel = zlib_channel(rollup_config(false));
    let err = channel
        .add_batch(&batch_of(MAX_RLP_BYTES_PER_CHANNEL_BEDROCK as usize, |_| 0))
        .unwrap_err();
    assert!(matches!(err, BatcherError::BatchTooLarge { .. }), "{err}");
    assert!(channel.is_empty());
}

#[test]
fn a_lowered_limit_fills_earlier_and_brotli_gets_half() {
    let rollup_config = Arc::new(rollup_config(true));
    let zlib =
        ChannelConfig::new(Arc::clone(&rollup_config), ChannelCompression::ZLIB, GENESIS_TIME)
            .unwrap()
            .with_max_rlp_bytes_per_channel(1_000);
    let brotli =
        ChannelConfig::new(Arc::clone(&rollup_config), ChannelCompression::BROTLI, GENESIS_TIME)
            .unwrap()
            .with_max_rlp_bytes_per_channel(1_000);
    // Lowering only: a limit above the fork's is ignored.
    let raised = zlib.clone().with_max_rlp_bytes_per_channel(u64::MAX);
    assert_eq!(raised.max_rlp_bytes_per_channel(), 1_000);
    assert_eq!(zlib.rlp_byte_budget(), 1_000);
    assert_eq!(brotli.rlp_byte_budget(), 500);

    let batch = batch_of(200, |i| i as u8);
    for (config, fitting) in [(brotli, 500), (zlib, 1_000)] {
        let mut channel = ChannelBuilder::with_id(config, [1; 16]);
        channel.add_batch(&batch).unwrap();
        let batch_rlp_bytes = channel.rlp_len();
        while channel.rlp_len() + batch_rlp_bytes <= fitting {
            channel.add_batch(&batch).unwrap();
        }
        assert!(matches!(channel.add_batch(&batch), Err(BatcherError::ChannelFull { .. })));
        assert_eq!(channel.remaining_rlp_bytes(), fitting - channel.rlp_len());
        assert_eq!(channel.batch_count(), fitting / batch_rlp_bytes);
    }
}

#[test]
fn brotli_is_refused_before_fjord() {
    let config = ChannelConfig::new(
        Arc::new(rollup_config(false)),
        ChannelCompression::BROTLI,
        GENESIS_TIME,
    )
    .unwrap();
    let mut channel = ChannelBuilder::with_id(config, [3; 16]);
    let err = channel.add_batch(&batch_of(10, |_| 0)).unwrap_err();
    assert!(matches!(err, BatcherError::BrotliBeforeFjord { .. }), "{err}");
}

#[test]
fn out_of_range_compression_levels_are_refused() {
    let rollup_config = Arc::new(rollup_config(true));
    for compression in
        [ChannelCompression::Zlib { level: 11 }, ChannelCompression::Brotli { quality: 12 }]
    {
        let err = ChannelConfig::new(Arc::clone(&rollup_config), compression, 0).unwrap_err();
        assert!(matches!(err, BatcherError::InvalidCompressionLevel { .. }), "{err}");
    }
}

#[test]
fn a_frame_size_without_room_for_data_is_refused() {
    let rollup_config = rollup_config(false);
    let mut channel = zlib_channel(rollup_config.clone());
    channel.add_batch(&batch_of(50, |i| i as u8)).unwrap();
    let closed = channel.close().unwrap();

    let err = closed.frames(MIN_FRAME_SIZE - 1).unwrap_err();
    assert!(
        matches!(err, BatcherError::FrameSizeTooSmall { max_frame_size: 23, min_frame_size: 24 }),
        "{err}"
    );
    // One data byte per frame is the smallest split, and it still decodes.
    let calldata = closed.batcher_transactions(MIN_FRAME_SIZE).unwrap();
    assert_eq!(calldata.len(), closed.data().len());
    assert!(calldata.iter().all(|data| data.len() == MIN_FRAME_SIZE + 1));
    assert_eq!(decode_batcher_transactions(&rollup_config, &calldata, GENESIS_TIME).len(), 1);
}

#[test]
fn a_channel_needing_more_than_65536_frames_is_refused() {
    let data = vec![0xab; MAX_FRAMES_PER_CHANNEL + 1];
    let err = split_into_frames([4; 16], &data, MIN_FRAME_SIZE).unwrap_err();
    assert!(
        matches!(err, BatcherError::TooManyFrames { frames: 65_537, max_frames: 65_536 }),
        "{err}"
    );
    // Exactly 65536 frames is fine: numbers 0..=65535, the last one closing the channel.
    let frames = split_into_frames([4; 16], &data[1..], MIN_FRAME_SIZE).unwrap();
    assert_eq!(frames.len(), MAX_FRAMES_PER_CHANNEL);
    assert!(frames.last().is_some_and(|frame| frame.number == u16::MAX && frame.is_last));
}

#[test]
fn frames_derivation_would_count_over_the_limit_are_refused() {
    // kona-derive counts each frame as its data plus 200 bytes against the max RLP bytes per
    // channel; 1 000 incompressible bytes in 1-byte frames count as ~201 000 bytes.
    let config =
        ChannelConfig::new(Arc::new(rollup_config(false)), ChannelCompression::ZLIB, GENESIS_TIME)
            .unwrap()
            .with_max_rlp_bytes_per_channel(100_000);
    let mut channel = ChannelBuilder::with_id(config, [5; 16]);
    channel.add_batch(&batch_of(1_000, noise(9))).unwrap();
    let closed = channel.close().unwrap();
    let err = closed.frames(MIN_FRAME_SIZE).unwrap_err();
    assert!(matches!(err, BatcherError::ChannelTooLargeForDerivation { .. }), "{err}");
    assert!(closed.frames(1_000).is_ok());
}

#[test]
fn blocks_without_an_l1_info_deposit_are_refused() {
    let rollup_config = rollup_config(false);
    let mut blocks = chain(&rollup_config, 1);

    let mut genesis = blocks[0].clone();
    genesis.header.number = 0;
    let err = BlockBatch::from_block(&genesis, &rollup_config).unwrap_err();
    assert!(matches!(err, BatcherError::GenesisBlock { number: 0, genesis: 0 }), "{err}");

    let mut first_not_deposit = blocks[0].clone();
    let deposit = first_not_deposit.body.transactions.remove(0);
    assert!(matches!(
        single_batch_from_block(&first_not_deposit, &rollup_config),
        Err(BatcherError::MissingL1InfoDeposit { number: 1 })
    ));
    first_not_deposit.body.transactions.push(common::user_tx(
        &alloy_signer_local::PrivateKeySigner::from_bytes(&B256::repeat_byte(9)).unwrap(),
        &common::TxSpec {
            kind: common::TxKindSpec::Eip1559,
            nonce: 0,
            gas_limit: 21_000,
            fee: 1,
            to: None,
            value: 0,
            input: Vec::new(),
        },
        common::L2_CHAIN_ID,
    ));
    assert!(matches!(
        single_batch_from_block(&first_not_deposit, &rollup_config),
        Err(BatcherError::FirstTxNotDeposit { number: 1, tx_type: 2 })
    ));

    let op_alloy_consensus::OpTxEnvelope::Deposit(mut sealed) = deposit else { unreachable!() };
    let mut tx = sealed.clone().into_inner();
    tx.input = Bytes::from_static(b"not L1 info");
    sealed = tx.seal_slow();
    blocks[0].body.transactions[0] = op_alloy_consensus::OpTxEnvelope::Deposit(sealed);
    assert!(matches!(
        single_batch_from_block(&blocks[0], &rollup_config),
        Err(BatcherError::L1InfoDecode { number: 1, .. })
    ));
}

#[test]
fn span_batches_refuse_what_their_format_cannot_express() {
    let rollup_config = Arc::new(rollup_config(false));
    let blocks = chain(&rollup_config, 3);
    let batch = |i: usize| BlockBatch::from_block(&blocks[i], &rollup_config).unwrap();

    assert!(matches!(
        SpanBatchBuilder::new(Arc::clone(&rollup_config)).build(),
        Err(BatcherError::EmptySpanBatch)
    ));
    let mut channel = zlib_channel((*rollup_config).clone());
    assert!(matches!(
        channel.add_batch(&Batch::Span(SpanBatch::default())),
        Err(BatcherError::BatchEncoding(_))
    ));

    let mut builder = SpanBatchBuilder::new(Arc::clone(&rollup_config));
    builder.push_block(&blocks[0]).unwrap();

    // Skipping block 2: block 3's parent is not block 1.
    let err = builder.push(batch(2)).unwrap_err();
    assert!(matches!(err, BatcherError::SpanParentMismatch { number: 3, .. }), "{err}");

    let mut late = batch(1);
    late.batch.timestamp += 1;
    let err = builder.push(late).unwrap_err();
    assert!(matches!(err, BatcherError::SpanTimestampGap { number: 2, .. }), "{err}");

    let mut jump = batch(1);
    jump.info.l1_origin.number += 2;
    jump.batch.epoch_num += 2;
    let err = builder.push(jump).unwrap_err();
    assert!(matches!(err, BatcherError::SpanL1OriginJump { number: 2, .. }), "{err}");

    let mut other_hash = batch(1);
    other_hash.info.l1_origin.hash = B256::repeat_byte(0xee);
    let err = builder.push(other_hash).unwrap_err();
    assert!(matches!(err, BatcherError::SpanL1OriginJump { .. }), "{err}");

    // A replay-protected transaction for another chain: kona's span encoder refuses it.
    let mut foreign = batch(1);
    foreign.batch.transactions.push(
        alloy_eips::eip2718::Encodable2718::encoded_2718(&common::user_tx(
            &alloy_signer_local::PrivateKeySigner::from_bytes(&B256::repeat_byte(9)).unwrap(),
            &common::TxSpec {
                kind: common::TxKindSpec::Legacy { protected: true },
                nonce: 0,
                gas_limit: 21_000,
                fee: 1,
                to: None,
                value: 0,
                input: Vec::new(),
            },
            common::L2_CHAIN_ID + 1,
        ))
        .into(),
    );
    let err = builder.push(foreign).unwrap_err();
    assert!(matches!(err, BatcherError::SpanBatch(_)), "{err}");

    // Every refusal left the builder as it was: the real next block still goes on.
    assert_eq!(builder.len(), 1);
    builder.push(batch(1)).unwrap();
    builder.push(batch(2)).unwrap();
    assert_eq!(builder.build().unwrap().batches.len(), 3);
}

#[test]
fn span_batches_are_refused_before_delta() {
    let mut pre_delta = rollup_config(false);
    pre_delta.hardforks.delta_time = Some(GENESIS_TIME * 2);
    pre_delta.hardforks.ecotone_time = None;
    let rollup_config = Arc::new(pre_delta);
    let blocks = chain(&rollup_config, 1);
    let mut builder = SpanBatchBuilder::new(Arc::clone(&rollup_config));
    let err = builder.push_block(&blocks[0]).unwrap_err();
    assert!(matches!(err, BatcherError::SpanBeforeDelta { number: 1, .. }), "{err}");
}
