//! Reading our own batcher transactions back from L1, as derivation will read them.
//!
//! After a restart the batcher must neither skip L2 blocks nor post them twice. Blocks already
//! derived are below the safe head; blocks posted but not derived yet sit in batcher transactions
//! of the last `channel_timeout` L1 blocks (older channels are dead to derivation). Reading those
//! through kona-derive's own data source (calldata and blobs), then kona's frame parser, channel
//! assembly and batch reader tells which L2 blocks are already on their way.

use crate::BatcherError;
use alloy_primitives::{Address, Bytes};
use alloy_provider::{Provider, RootProvider};
use kona_derive::{BlobSource, DataAvailabilityProvider, PipelineError, PipelineErrorKind};
use kona_genesis::RollupConfig;
use kona_protocol::{Batch, BatchReader, BlockInfo, Channel, ChannelId, Frame};
use kona_providers_alloy::{AlloyChainProvider, BeaconClient, OnlineBlobProvider};
use rollup_providers_beacon::BeaconApiClient;
use std::{
    collections::{BTreeSet, HashMap},
    ops::RangeInclusive,
};
use url::Url;

/// One batcher transaction's data found on L1, with the L1 block it is in.
#[derive(Debug, Clone)]
pub struct PostedTransaction {
    /// The L1 block holding it.
    pub l1_block: BlockInfo,
    /// What derivation reads from it (`0x00 ++ frames`): its calldata, or the decoded data of
    /// one of its blobs (a blob transaction yields one entry per blob).
    pub data: Bytes,
}

/// Reads the batcher's transactions back from L1 through kona-derive's own data source
/// ([`BlobSource`], which derivation uses from Ecotone on): calldata and blobs alike, the blobs
/// fetched from the beacon API and checked against their versioned hashes and KZG proofs.
#[derive(Debug)]
pub struct BatcherDataReader {
    l1: RootProvider,
    source: BlobSource<AlloyChainProvider, OnlineBlobProvider<BeaconApiClient>>,
    batcher: Address,
}

impl BatcherDataReader {
    /// A reader for `batcher`'s transactions to `inbox`. Asks the beacon API for its genesis time
    /// and slot time first (kona's own initialiser panics when the beacon API is down; this
    /// returns the error instead).
    pub async fn connect(
        l1_rpc: Url,
        l1_beacon: &Url,
        batcher: Address,
        inbox: Address,
    ) -> Result<Self, BatcherError> {
        let beacon = BeaconApiClient::new(l1_beacon);
        let slot_interval = beacon
            .config_spec()
            .await
            .map_err(|e| BatcherError::Beacon(e.to_string()))?
            .data
            .seconds_per_slot;
        let genesis_time = beacon
            .beacon_genesis()
            .await
            .map_err(|e| BatcherError::Beacon(e.to_string()))?
            .data
            .genesis_time;
        if slot_interval == 0 {
            return Err(BatcherError::Beacon("beacon API: SECONDS_PER_SLOT is 0".into()));
        }
        let blobs = OnlineBlobProvider { beacon_client: beacon, genesis_time, slot_interval };
        let l1 = RootProvider::new_http(l1_rpc);
        let source = BlobSource::new(AlloyChainProvider::new(l1.clone(), 64), blobs, inbox);
        Ok(Self { l1, source, batcher })
    }

    /// The batcher's transaction data in the L1 blocks `range`, in chain order.
    pub async fn read(
        &mut self,
        range: RangeInclusive<u64>,
    ) -> Result<Vec<PostedTransaction>, BatcherError> {
        let mut found = Vec::new();
        for number in range {
            let Some(block) =
                self.l1.get_block_by_number(number.into()).await.map_err(BatcherError::L1)?
            else {
                continue;
            };
            let l1_block = BlockInfo::new(
                block.header.hash,
                block.header.number,
                block.header.parent_hash,
                block.header.timestamp,
            );
            self.source.clear();
            loop {
                match self.source.next(&l1_block, self.batcher).await {
                    Ok(data) => found.push(PostedTransaction { l1_block, data }),
                    Err(PipelineErrorKind::Temporary(PipelineError::Eof)) => break,
                    Err(err) => {
                        self.source.clear();
                        return Err(BatcherError::ReadBack(format!("L1 block {number}: {err}")));
                    }
                }
            }
        }
        self.source.clear();
        Ok(found)
    }
}

/// The L2 block numbers carried by the complete channels among `transactions`, in the order
/// derivation reads them (a block posted twice appears twice).
///
/// Incomplete channels, unreadable frames and channels above the fork's size limit are skipped,
/// as derivation skips them: only what derivation would accept counts as posted.
pub fn posted_l2_blocks(
    rollup_config: &RollupConfig,
    transactions: &[PostedTransaction],
) -> Vec<u64> {
    let mut channels: HashMap<ChannelId, Channel> = HashMap::new();
    let mut complete = Vec::new();
    for tx in transactions {
        // kona's parser checks the version byte itself and reads the frames after it.
        let Ok(frames) = Frame::parse_frames(&tx.data) else { continue };
        for frame in frames {
            let id = frame.id;
            let channel = channels.entry(id).or_insert_with(|| Channel::new(id, tx.l1_block));
            if channel.add_frame(frame, tx.l1_block).is_err() {
                continue;
            }
            if channel.is_ready()
                && let Some(channel) = channels.remove(&id)
            {
                complete.push((channel, tx.l1_block.timestamp));
            }
        }
    }

    let mut blocks = Vec::new();
    for (channel, l1_timestamp) in complete {
        let max_rlp_bytes = rollup_config.max_rlp_bytes_per_channel(l1_timestamp) as usize;
        if channel.size() > max_rlp_bytes {
            continue;
        }
        let Some(data) = channel.frame_data() else { continue };
        let mut reader = BatchReader::new(data, max_rlp_bytes);
        while let Some(batch) = reader.next_batch(rollup_config) {
            match batch {
                Batch::Single(single) => {
                    if let Some(number) = block_number_at(rollup_config, single.timestamp) {
                        blocks.push(number);
                    }
                }
                Batch::Span(span) => {
                    // A decoded span batch carries each block's timestamp; its numbers follow.
                    for element in &span.batches {
                        if let Some(number) = block_number_at(rollup_config, element.timestamp) {
                            blocks.push(number);
                        }
                    }
                }
            }
        }
    }
    blocks
}

/// The L2 block number at `timestamp` (blocks are `block_time` apart from the genesis).
pub fn block_number_at(rollup_config: &RollupConfig, timestamp: u64) -> Option<u64> {
    let since_genesis = timestamp.checked_sub(rollup_config.genesis.l2_time)?;
    if rollup_config.block_time == 0 || since_genesis % rollup_config.block_time != 0 {
        return None;
    }
    Some(rollup_config.genesis.l2.number + since_genesis / rollup_config.block_time)
}

/// The first L2 block to batch after `safe_head`: past every block in `posted` that continues
/// the safe chain without a gap (a gap means derivation will stall there, so posting resumes at
/// the gap).
pub fn resume_after(safe_head: u64, posted: &BTreeSet<u64>) -> u64 {
    let mut next = safe_head + 1;
    while posted.contains(&next) {
        next += 1;
    }
    next
}
