//! Property: random L2 chains, encoded into batcher transactions at random frame sizes with
//! either compression and either batch type, decode back through kona's own decoders (frame
//! parser, channel assembly, `BatchReader`) to the batches they were built from.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use alloy_primitives::FixedBytes;
use kona_protocol::{Batch, L2BlockInfo, SingleBatch, SpanBatch, SpanBatchElement};
use proptest::prelude::*;
use rollup_batcher::{
    BlockBatch, ChannelBuilder, ChannelCompression, ChannelConfig, FRAME_HEADER_LEN,
    SpanBatchBuilder, batcher_transaction_calldata,
};

use common::{block_spec, build_chain, decode_batcher_transactions, rollup_config};

/// Cases per run. Each signs up to 48 transactions and compresses up to ~100 KB (brotli at up to
/// quality 11); 128 cases take about 6 s in a debug build on 2 cores.
const CASES: u32 = 128;

fn compression() -> impl Strategy<Value = ChannelCompression> {
    prop_oneof![
        (0u8..=10).prop_map(|level| ChannelCompression::Zlib { level }),
        (0u32..=11).prop_map(|quality| ChannelCompression::Brotli { quality }),
    ]
}

/// 100 to 120 000 bytes, weighted towards small frames so that most channels span several.
fn max_frame_size() -> impl Strategy<Value = usize> {
    prop_oneof![2 => 100usize..=2_000, 1 => 2_000usize..=120_000]
}

fn first_20(hash: &alloy_primitives::B256) -> FixedBytes<20> {
    FixedBytes::from_slice(&hash[..20])
}

/// Checks a decoded span batch against the singular batches it was built from: the fields the
/// span format carries (per-block epoch number, timestamp and transactions; the first parent's
/// and the last origin's 20-byte checks) and, through kona's `get_singular_batches`, the singular
/// batches derivation expands it to (kona leaves the parent hash to the batch queue).
fn assert_span_matches(
    decoded: &SpanBatch,
    singles: &[SingleBatch],
    l1_blocks: &[kona_protocol::BlockInfo],
) {
    let elements: Vec<SpanBatchElement> = singles.iter().cloned().map(Into::into).collect();
    assert_eq!(decoded.batches, elements);
    assert_eq!(decoded.parent_check, first_20(&singles[0].parent_hash));
    assert_eq!(decoded.l1_origin_check, first_20(&singles[singles.len() - 1].epoch_hash));

    let mut safe_head = L2BlockInfo::default();
    safe_head.block_info.timestamp = singles[0].timestamp - 1;
    let expanded = decoded.get_singular_batches(l1_blocks, safe_head).unwrap();
    let expected: Vec<SingleBatch> = singles
        .iter()
        .cloned()
        .map(|batch| SingleBatch { parent_hash: Default::default(), ..batch })
        .collect();
    assert_eq!(expanded, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn blocks_round_trip_through_kona_decoders(
        specs in prop::collection::vec(block_spec(6), 1..=8),
        max_frame_size in max_frame_size(),
        compression in compression(),
        span in any::<bool>(),
        span_split in any::<prop::sample::Index>(),
        fjord_for_zlib in any::<bool>(),
    ) {
        // Brotli needs Fjord; zlib runs under both limits (10 MB before Fjord, 100 MB after).
        let fjord = matches!(compression, ChannelCompression::Brotli { .. }) || fjord_for_zlib;
        let rollup_config = Arc::new(rollup_config(fjord));
        let chain = build_chain(&rollup_config, &specs);

        let block_batches: Vec<BlockBatch> = chain
            .blocks
            .iter()
            .map(|block| BlockBatch::from_block(block, &rollup_config).unwrap())
            .collect();
        for ((block, spec), block_batch) in chain.blocks.iter().zip(&specs).zip(&block_batches) {
            let batch = &block_batch.batch;
            prop_assert_eq!(batch.parent_hash, block.header.parent_hash);
            prop_assert_eq!(batch.timestamp, block.header.timestamp);
            let origin = chain.l1_blocks.iter().find(|l1| l1.number == batch.epoch_num).unwrap();
            prop_assert_eq!(batch.epoch_hash, origin.hash);
            // Deposits (the L1-info one and user deposits) stay out of the batch.
            prop_assert_eq!(batch.transactions.len(), spec.txs.len());
            prop_assert!(!batch.has_invalid_transactions());
        }
        let singles: Vec<SingleBatch> =
            block_batches.iter().map(|block| block.batch.clone()).collect();

        // Spans: the whole run, or two spans split at a random block.
        let batches: Vec<Batch> = if span {
            let split = span_split.index(block_batches.len() + 1);
            [&block_batches[..split], &block_batches[split..]]
                .into_iter()
                .filter(|run| !run.is_empty())
                .map(|run| {
                    let mut builder = SpanBatchBuilder::new(Arc::clone(&rollup_config));
                    for block in run {
                        builder.push(block.clone()).unwrap();
                    }
                    Batch::Span(builder.build().unwrap())
                })
                .collect()
        } else {
            singles.iter().cloned().map(Batch::Single).collect()
        };

        let l1_inclusion_timestamp = chain.l1_blocks[chain.l1_blocks.len() - 1].timestamp + 12;
        let config =
            ChannelConfig::new(Arc::clone(&rollup_config), compression, l1_inclusion_timestamp)
                .unwrap();
        let mut channel = ChannelBuilder::new(config).unwrap();
        for batch in &batches {
            channel.add_batch(batch).unwrap();
        }
        let channel = channel.close().unwrap();

        let frames = channel.frames(max_frame_size).unwrap();
        let data_per_frame = max_frame_size - FRAME_HEADER_LEN;
        prop_assert_eq!(frames.len(), channel.data().len().div_ceil(data_per_frame));
        for (number, frame) in frames.iter().enumerate() {
            prop_assert_eq!(frame.id, channel.id());
            prop_assert_eq!(usize::from(frame.number), number);
            prop_assert!(!frame.data.is_empty());
            prop_assert!(frame.encode().len() <= max_frame_size);
            prop_assert_eq!(frame.is_last, number == frames.len() - 1);
        }

        let calldata = channel.batcher_transactions(max_frame_size).unwrap();
        prop_assert_eq!(calldata.len(), frames.len());
        for data in &calldata {
            prop_assert_eq!(data[0], 0x00);
            prop_assert!(data.len() <= max_frame_size + 1);
        }

        let decoded = decode_batcher_transactions(&rollup_config, &calldata, l1_inclusion_timestamp);
        // All frames in one transaction read the same.
        let one_tx = batcher_transaction_calldata(&frames).unwrap();
        prop_assert_eq!(
            &decode_batcher_transactions(&rollup_config, &[one_tx], l1_inclusion_timestamp),
            &decoded
        );

        if span {
            prop_assert_eq!(decoded.len(), batches.len());
            let mut singles_left = singles.as_slice();
            for decoded in &decoded {
                let Batch::Span(decoded) = decoded else {
                    panic!("expected a span batch, got {decoded}");
                };
                let (these, rest) = singles_left.split_at(decoded.batches.len());
                assert_span_matches(decoded, these, &chain.l1_blocks);
                singles_left = rest;
            }
            prop_assert!(singles_left.is_empty());
        } else {
            prop_assert_eq!(decoded, batches);
        }
    }
}
