//! A block larger than the DA layer's largest blob: posted in parts, FIRM goes on, and the
//! history read back from DA alone has the block once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::B256;
use alloy_rpc_types_engine::JwtSecret;
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use sequencer_config::ValidatorKey;
use sequencer_node::{
    NodeConfig, SingleValidator,
    batch::{DaBlob, decode_blob},
    history::History,
    launch,
};
use sequencer_testing::{
    LocalDa, MockEngine, MockEngineConfig, calldata_tx, dev_address, eventually,
};
use std::{collections::HashSet, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

const CHAIN_ID: u64 = 1337;
/// The DA layer's largest blob in this test: a third of the block below.
const MAX_BLOB: usize = 40_000;

#[tokio::test]
async fn a_block_larger_than_a_blob_goes_in_parts_and_firm_goes_on() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let da = Arc::new(LocalDa::new(Duration::from_millis(15), 0).with_max_blob_size(MAX_BLOB));
    // The first submission's answer is lost after it landed: the part (or batch) is found on
    // DA, not posted again.
    da.lose_answers(1);
    let cfg = NodeConfig {
        build_time: Duration::from_millis(1),
        da_poll_interval: Duration::from_millis(5),
        da_resubmit_after: Duration::from_millis(50),
        ..NodeConfig::new(CHAIN_ID, engine.url(), secret, "0xc0ffee".parse().unwrap())
            .with_block_time(Duration::from_millis(20))
    };
    let ns = cfg.namespace;
    let key = ValidatorKey::from_secret_bytes([1; 32]);
    let consensus = Arc::new(SingleValidator::new(&[key.public()], key.clone()).unwrap());
    let node = launch(cfg, consensus, da.clone(), CancellationToken::new()).await.unwrap();
    let rpc = HttpClientBuilder::default().build(format!("http://{}", node.rpc_addr)).unwrap();

    // 100 KB of calldata: one block of it needs three blobs.
    let big = calldata_tx(1, CHAIN_ID, 0, dev_address(9), 100_000);
    let hash: B256 = rpc.request("eth_sendRawTransaction", rpc_params![big]).await.unwrap();
    let status = node.status.clone();
    eventually("the large block included", || engine.canonical_tx_count() == 1).await;
    let included_by = status.get().soft_head.number;
    eventually("FIRM past the large block and 5 more", || {
        status.get().firm_head.number >= included_by + 5
    })
    .await;
    let firm = status.get().firm_head.number;

    // On DA: parts of one batch among whole batches, every blob within the limit, none twice.
    let blobs = da.all_blobs(&ns);
    assert!(blobs.iter().all(|(_, b)| b.len() <= MAX_BLOB));
    let distinct: HashSet<_> = blobs.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(distinct.len(), blobs.len(), "a blob posted twice");
    let parts = blobs
        .iter()
        .filter(|(_, b)| matches!(decode_blob(b), Ok(DaBlob::Part(signer, _)) if signer == key.public()))
        .count();
    assert_eq!(parts, 3, "100 KB of calldata in blobs of 40 KB");

    // Read back from DA alone: every block once, in order, the large one put back together.
    let history = History::read(da.as_ref(), &ns, 1..=da.current_height()).await.unwrap();
    assert!(history.unreadable.is_empty(), "{:?}", history.unreadable);
    let check = history.check(&[key.public()]);
    assert!(check.is_clean(), "{check:?}");
    assert!(check.blocks.keys().next_back().copied() >= Some(firm));
    // Each with the hash the execution client has: the large block too.
    let head = engine.forkchoice().head_block_hash;
    for (number, hash) in &check.blocks {
        assert_eq!(Some(*hash), engine.ancestor_at(head, *number), "block {number}");
    }
    let lookup: serde_json::Value =
        rpc.request("sequencer_transactionStatus", rpc_params![hash]).await.unwrap();
    assert_eq!(lookup["status"], "unknown", "included, so no longer pooled: {lookup}");
    node.shutdown(Duration::from_secs(5)).await;
}
