//! Derivation's L1 provider against a real L1 (anvil from npm): one cache for every clone,
//! finalized blocks read ahead, fresh reads near the head, and an L1 reorg below the finalized
//! block.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_provider::{Provider, RootProvider};
use common::Anvil;
use kona_derive::ChainProvider;
use rollup_exex::L1Provider;
use std::time::Duration;

/// anvil whose finalized block is the head - 2 (and safe the head - 1).
fn l1() -> (Anvil, RootProvider) {
    let anvil = Anvil::start_with(common::free_port(), &["--slots-in-an-epoch", "1"]);
    let rpc = RootProvider::new_http(anvil.url());
    (anvil, rpc)
}

async fn mine(rpc: &RootProvider, blocks: u64) {
    let _: serde_json::Value = rpc.raw_request("anvil_mine".into(), (blocks,)).await.unwrap();
}

async fn reorg(rpc: &RootProvider, depth: u64) {
    let _: serde_json::Value = rpc
        .raw_request("anvil_reorg".into(), (depth, Vec::<serde_json::Value>::new()))
        .await
        .unwrap();
}

async fn wait_cached(provider: &L1Provider, number: u64) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while provider.cached_by_number(number).is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the block was never read ahead");
}

#[tokio::test]
async fn clones_share_one_cache() {
    let (anvil, rpc) = l1();
    mine(&rpc, 5).await;
    let mut traversal = L1Provider::new(rpc.clone(), 0);
    let mut attributes = traversal.clone();
    let block = traversal.block_info_by_number(4).await.unwrap();
    let receipts = traversal.receipts_by_hash(block.hash).await.unwrap();
    drop(anvil);
    // With the L1 gone, only what the first reader read is there for the second.
    let (info, transactions) =
        attributes.block_info_and_transactions_by_hash(block.hash).await.unwrap();
    assert_eq!(info, block);
    assert!(transactions.is_empty());
    assert_eq!(attributes.header_by_hash(block.hash).await.unwrap().number, 4);
    assert_eq!(attributes.receipts_by_hash(block.hash).await.unwrap(), receipts);
    assert!(attributes.block_info_by_number(3).await.is_err(), "never read: needs the L1");
}

#[tokio::test]
async fn finalized_blocks_are_read_ahead_with_their_receipts() {
    let (anvil, rpc) = l1();
    mine(&rpc, 40).await; // finalized: 38
    let mut provider = L1Provider::new(rpc.clone(), 16);
    let first = provider.block_info_by_number(1).await.unwrap();
    wait_cached(&provider, 17).await;
    let expected = rpc.get_block_by_number(10.into()).await.unwrap().unwrap().header.hash;
    drop(anvil);
    let mut parent = first;
    for number in 2..=17 {
        let block = provider.block_info_by_number(number).await.unwrap();
        assert_eq!(block.parent_hash, parent.hash, "block {number} follows its parent");
        provider.receipts_by_hash(block.hash).await.unwrap();
        provider.block_info_and_transactions_by_hash(block.hash).await.unwrap();
        parent = block;
    }
    assert_eq!(provider.cached_by_number(10).unwrap().hash, expected);
    assert!(provider.cached_by_number(18).is_none(), "no more than the window");
}

#[tokio::test]
async fn blocks_above_the_finalized_block_are_read_fresh_every_time() {
    let (_anvil, rpc) = l1();
    mine(&rpc, 10).await; // finalized: 8
    let mut provider = L1Provider::new(rpc.clone(), 16);
    let before = provider.block_info_by_number(10).await.unwrap();
    assert!(provider.cached_by_number(10).is_none());
    assert!(provider.cached_by_number(9).is_none(), "not finalized: not read ahead");
    reorg(&rpc, 2).await;
    let after = provider.block_info_by_number(10).await.unwrap();
    assert_ne!(after.hash, before.hash, "the reorged block, as kona would read it");
}

#[tokio::test]
async fn an_l1_reorg_below_the_finalized_block_drops_what_was_cached_by_number() {
    let (_anvil, rpc) = l1();
    mine(&rpc, 40).await; // finalized: 38
    let mut provider = L1Provider::new(rpc.clone(), 16);
    provider.block_info_by_number(5).await.unwrap();
    wait_cached(&provider, 21).await;
    let stale = provider.cached_by_number(10).unwrap();
    // anvil reorgs past its own finalized block (Ethereum cannot).
    reorg(&rpc, 37).await;
    // Block 22 was not read ahead: read fresh, its parent is not the cached 21.
    provider.block_info_by_number(22).await.unwrap();
    let fresh = provider.block_info_by_number(10).await.unwrap();
    assert_ne!(fresh.hash, stale.hash);
    assert_eq!(fresh.hash, rpc.get_block_by_number(10.into()).await.unwrap().unwrap().header.hash);
}
