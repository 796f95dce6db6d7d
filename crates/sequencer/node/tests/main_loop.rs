//! The main loop end to end over the Engine API fixture and the local DA.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::{B256, Bytes, U256};
use alloy_rpc_types_engine::JwtSecret;
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use sequencer_config::ValidatorKey;
use sequencer_da::DaClient;
use sequencer_engine::RetryPolicy;
use sequencer_node::{
    FirmRecord, InsertOutcome, NodeConfig, NodeHandle, SequencerStatus, ShutdownOutcome,
    SingleValidator, TxStatus,
    batch::{decode_batch, encode_batch},
    da_journal::DaJournal,
    history::History,
    launch,
};
use sequencer_testing::{
    Answer, BASE_FEE_PER_GAS, DEFAULT_BALANCE, LocalDa, MockEngine, MockEngineConfig, dev_address,
    eventually, transfer, transfer_with_fees,
};
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

const CHAIN_ID: u64 = 1337;

fn node_config(engine: &MockEngine, secret: JwtSecret) -> NodeConfig {
    NodeConfig {
        build_time: Duration::from_millis(1),
        da_poll_interval: Duration::from_millis(5),
        da_resubmit_after: Duration::from_millis(50),
        max_batch_blocks: 16,
        mempool: sequencer_node::MempoolLimits { capacity: 1000, ..Default::default() },
        retry: RetryPolicy {
            attempts: 3,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            request_timeout: Duration::from_secs(5),
        },
        ..NodeConfig::new(CHAIN_ID, engine.url(), secret, "0xc0ffee".parse().unwrap())
            .with_block_time(Duration::from_millis(20))
    }
}

/// [`node_config`] with a FIRM record in a fresh directory (kept alive by the returned guard).
fn node_config_with_record(
    engine: &MockEngine,
    secret: JwtSecret,
) -> (tempfile::TempDir, std::path::PathBuf, NodeConfig) {
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("sequencer-state.json");
    let cfg =
        NodeConfig { firm_record_path: Some(record_path.clone()), ..node_config(engine, secret) };
    (dir, record_path, cfg)
}

fn key() -> ValidatorKey {
    ValidatorKey::from_secret_bytes([1; 32])
}

fn consensus() -> Arc<SingleValidator> {
    Arc::new(SingleValidator::new(&[key().public()], key()).unwrap())
}

#[tokio::test]
async fn soft_then_firm_with_transactions() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let da = Arc::new(LocalDa::new(Duration::from_millis(15), 0));
    let cfg = node_config(&engine, secret);
    let ns = cfg.namespace;
    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let rpc = HttpClientBuilder::default().build(format!("http://{}", node.rpc_addr)).unwrap();

    let chain_id: alloy_primitives::U64 = rpc.request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(chain_id.to::<u64>(), CHAIN_ID);

    // Three transfers, one with a nonce gap (nonce 4 while 2 and 3 are missing).
    let to = dev_address(9);
    for nonce in 0..2 {
        let h: B256 = rpc
            .request("eth_sendRawTransaction", rpc_params![transfer(1, CHAIN_ID, nonce, to, 1)])
            .await
            .unwrap();
        assert_ne!(h, B256::ZERO);
    }
    let gap: InsertOutcome = rpc
        .request("sequencer_sendRawTransaction", rpc_params![transfer(1, CHAIN_ID, 4, to, 1)])
        .await
        .unwrap();
    assert_eq!(gap.status, TxStatus::Queued);
    assert_eq!(gap.missing_nonces, vec![2, 3]);
    // Wrong chain id and garbage are refused with a reason.
    let err = rpc
        .request::<B256, _>("eth_sendRawTransaction", rpc_params![transfer(1, 1, 0, to, 1)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("chain id"), "{err}");
    let err = rpc
        .request::<B256, _>("eth_sendRawTransaction", rpc_params![Bytes::from_static(b"\x02zz")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid transaction"), "{err}");
    // A transaction over the pool's size limit is refused before it is decoded; a request over
    // the server's body limit is not even read.
    let oversized = Bytes::from(vec![0x02; sequencer_node::MAX_TX_BYTES + 1]);
    let err =
        rpc.request::<B256, _>("eth_sendRawTransaction", rpc_params![oversized]).await.unwrap_err();
    assert!(err.to_string().contains("at most 131072 are accepted"), "{err}");
    let too_long = Bytes::from(vec![0x02; sequencer_node::MAX_RPC_REQUEST_BYTES as usize]);
    let err =
        rpc.request::<B256, _>("eth_sendRawTransaction", rpc_params![too_long]).await.unwrap_err();
    assert!(err.to_string().contains("413"), "the body was read: {err}");

    let status = node.status.clone();
    eventually("2 txs included and firm head >= 5", || {
        let s = status.get();
        s.firm_head.number >= 5 && engine.canonical_tx_count() == 2
    })
    .await;

    let s: SequencerStatus = rpc.request("sequencer_status", rpc_params![]).await.unwrap();
    assert!(s.soft_head.number >= s.firm_head.number);
    assert_eq!(s.mempool.queued, 1, "the gapped transaction waits");
    assert_eq!(s.mempool.gaps[0].next_nonce, 2);
    let fc = engine.forkchoice();
    assert_eq!(fc.head_block_hash, fc.safe_block_hash, "SOFT moves head and safe together");
    assert!(engine.violations().is_empty(), "{:?}", engine.violations());
    assert_eq!(engine.auth_failures(), 0);

    // Every DA blob is a batch signed by the validator; together they hold blocks 1.. in order.
    let mut numbers = Vec::new();
    for h in 1..=da.current_height() {
        for blob in da.blobs(&ns, h).await.unwrap() {
            let (signer, blocks) = decode_batch(&blob).unwrap();
            assert_eq!(signer, key().public());
            numbers.extend(blocks.iter().map(|b| b.header.number));
        }
    }
    assert!(numbers.len() as u64 >= s.firm_head.number);
    assert_eq!(numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());

    assert_eq!(node.shutdown(Duration::from_secs(5)).await, ShutdownOutcome::Clean);
}

async fn send_raw(
    rpc: &jsonrpsee::http_client::HttpClient,
    raw: Bytes,
) -> Result<B256, jsonrpsee::core::ClientError> {
    rpc.request("eth_sendRawTransaction", rpc_params![raw]).await
}

/// With `execution.rpc_url`, a transaction the chain's state cannot pay for is refused: a sender
/// without funds, a max fee below the base fee. Balances are those of the SOFT head: a sender
/// funded at the execution client gets in once the next block is SOFT.
#[tokio::test]
async fn unfunded_senders_are_refused_until_a_block_funds_them() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let poor = dev_address(3);
    engine.set_balance(poor, U256::ZERO);
    // Finality held: production stops `max_soft_ahead` blocks in, and the head stays put.
    let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
    da.hold_finality(true);
    let mut cfg = node_config(&engine, secret);
    cfg.rpc_url = Some(engine.rpc_url());
    cfg.max_soft_ahead = 2;
    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    let rpc = HttpClientBuilder::default().build(format!("http://{}", node.rpc_addr)).unwrap();
    eventually("back-pressure engaged", || status.get().backpressure).await;
    let frozen = status.get().soft_head.number;

    let to = dev_address(9);
    send_raw(&rpc, transfer(1, CHAIN_ID, 0, to, 1)).await.unwrap();
    let err = send_raw(&rpc, transfer(3, CHAIN_ID, 0, to, 1)).await.unwrap_err();
    assert!(err.to_string().contains("insufficient funds"), "{err}");
    let cheap = transfer_with_fees(1, CHAIN_ID, 1, to, 1, u128::from(BASE_FEE_PER_GAS) - 1, 1);
    let err = send_raw(&rpc, cheap).await.unwrap_err();
    assert!(err.to_string().contains("max fee per gas less than block base fee"), "{err}");

    // Funded at the execution client, but no block since: the head's balance still counts.
    engine.set_balance(poor, DEFAULT_BALANCE);
    let err = send_raw(&rpc, transfer(3, CHAIN_ID, 0, to, 1)).await.unwrap_err();
    assert!(err.to_string().contains("insufficient funds"), "{err}");
    assert_eq!(status.get().soft_head.number, frozen, "no block meanwhile");

    // The next block: admitted, and included.
    da.hold_finality(false);
    eventually("a new block", || status.get().soft_head.number > frozen).await;
    send_raw(&rpc, transfer(3, CHAIN_ID, 0, to, 1)).await.unwrap();
    eventually("both transfers included", || engine.canonical_tx_count() == 2).await;
    assert!(engine.violations().is_empty(), "{:?}", engine.violations());
    assert_eq!(node.shutdown(Duration::from_secs(5)).await, ShutdownOutcome::Clean);
}

#[tokio::test]
async fn back_pressure_bounds_soft_ahead_of_firm() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
    da.hold_finality(true);
    let mut cfg = node_config(&engine, secret);
    cfg.max_soft_ahead = 3;
    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    eventually("back-pressure engaged", || status.get().backpressure).await;
    // Stays paused: give the loop several more ticks.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let s = status.get();
    assert_eq!(s.soft_head.number - s.firm_head.number, 3);
    assert_eq!(s.pending_da.len(), 3);

    da.hold_finality(false);
    eventually("production resumes and firm catches up", || {
        let s = status.get();
        !s.backpressure && s.firm_head.number >= 6
    })
    .await;
    assert!(engine.violations().is_empty(), "{:?}", engine.violations());
    node.shutdown(Duration::from_secs(5)).await;
}

/// A DA backlog larger than one blob (the DA was down) is posted in several blobs, each within the
/// DA's size limit, and every block becomes FIRM: no batch retried forever, no stall.
#[tokio::test]
async fn a_backlog_larger_than_a_blob_is_split() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let limit = 2_000;
    let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0).with_max_blob_size(limit));
    da.fail_submissions(true);
    let mut cfg = node_config(&engine, secret);
    cfg.max_soft_ahead = 40;
    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    eventually("a backlog builds while DA is down", || status.get().soft_head.number >= 20).await;
    da.fail_submissions(false);
    let target = status.get().soft_head.number;
    eventually("the backlog becomes FIRM", || status.get().firm_head.number >= target).await;
    node.shutdown(Duration::from_secs(5)).await;

    let namespace = "0xc0ffee".parse().unwrap();
    let blobs = da.all_blobs(&namespace);
    assert!(blobs.iter().all(|(_, blob)| blob.len() <= limit), "every blob within the limit");
    let mut posted: Vec<u64> = Vec::new();
    for (_, blob) in &blobs {
        let (_, blocks) = decode_batch(blob).unwrap();
        posted.extend(blocks.iter().map(|b| b.header.number));
    }
    assert!(blobs.len() > 1, "the backlog needed several blobs ({} blocks)", posted.len());
    assert_eq!(posted, (1..=posted.len() as u64).collect::<Vec<_>>(), "each block once, in order");
    assert!(posted.len() as u64 >= target);
}

/// Every block number in the batches `da` holds under the test namespace, in DA order.
fn posted_blocks(da: &LocalDa) -> Vec<u64> {
    let namespace = "0xc0ffee".parse().unwrap();
    let mut posted = Vec::new();
    for (_, blob) in da.all_blobs(&namespace) {
        let (_, blocks) = decode_batch(&blob).unwrap();
        posted.extend(blocks.iter().map(|b| b.header.number));
    }
    posted
}

/// Blocks posted to DA but not final when the sequencer stops are found on DA through the
/// journal after the restart and awaited, not posted again; nothing is skipped either.
#[tokio::test]
async fn a_restart_posts_no_block_twice() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let (dir, _record, mut cfg) = node_config_with_record(&engine, secret);
    cfg.da_journal_path = Some(dir.path().join("sequencer-state.da.json"));
    cfg.max_soft_ahead = 100;
    let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
    da.hold_finality(true);

    let node =
        launch(cfg.clone(), consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    eventually("blocks on DA, not final", || {
        status.get().pending_da.iter().filter(|p| p.da_height.is_some()).count() >= 4
    })
    .await;
    node.shutdown(Duration::from_secs(5)).await;
    let before_restart = posted_blocks(&da);
    assert!(!before_restart.is_empty());

    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    da.hold_finality(false);
    let target = status.get().soft_head.number + 3;
    eventually("FIRM past the restart", || status.get().firm_head.number >= target).await;
    node.shutdown(Duration::from_secs(5)).await;

    let posted = posted_blocks(&da);
    let expected: Vec<u64> = (1..=posted.len() as u64).collect();
    assert_eq!(posted, expected, "each block once, in order, across the restart");
    assert!(posted.len() as u64 >= target);

    // The same, read back from DA alone as `sequencer da-history` does it.
    let namespace = "0xc0ffee".parse().unwrap();
    let head = da.finalized_height().await.unwrap();
    let history = History::read(&*da, &namespace, 1..=head).await.unwrap();
    let check = history.check(&[key().public()]);
    assert!(check.is_clean(), "{check:?}");
    assert_eq!(check.blocks.len(), posted.len());
    for (number, hash) in &check.blocks {
        assert_eq!(engine.number_of(*hash), Some(*number), "hashes as the engine has them");
    }
}

/// A node with a DA journal whose first batches are on DA but not final (finality held).
struct JournaledNode {
    engine: MockEngine,
    dir: tempfile::TempDir,
    record: std::path::PathBuf,
    journal: std::path::PathBuf,
    cfg: NodeConfig,
    da: Arc<LocalDa>,
    node: NodeHandle,
}

impl JournaledNode {
    async fn with_batches_on_da() -> Self {
        let secret = JwtSecret::random();
        let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
        let (dir, record, mut cfg) = node_config_with_record(&engine, secret);
        let journal = dir.path().join("sequencer-state.da.json");
        cfg.da_journal_path = Some(journal.clone());
        cfg.max_soft_ahead = 100;
        let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
        da.hold_finality(true);
        let node =
            launch(cfg.clone(), consensus(), da.clone(), CancellationToken::new()).await.unwrap();
        let status = node.status.clone();
        eventually("blocks on DA, not final", || {
            status.get().pending_da.iter().filter(|p| p.da_height.is_some()).count() >= 4
        })
        .await;
        Self { engine, dir, record, journal, cfg, da, node }
    }
}

/// A look-up that fails while the restarted node adopts its journal (the DA node unreachable
/// for a moment) keeps the journal entries and is retried: nothing is dropped, nothing posted
/// twice, and nothing new is posted before the journal is settled.
#[tokio::test]
async fn a_failed_lookup_at_a_restart_keeps_the_journal_entries() {
    // The mock engine and the state folder live as long as the test.
    let JournaledNode { engine: _engine, dir: _dir, record: _, journal, cfg, da, node } =
        JournaledNode::with_batches_on_da().await;
    node.shutdown(Duration::from_secs(5)).await;
    let journaled = DaJournal::load(Some(&journal)).unwrap().entries().to_vec();
    assert!(!journaled.is_empty());
    let posted_before = posted_blocks(&da);

    da.fail_lookups(1_000);
    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    eventually("failed look-ups are retried", || da.lookups_to_fail() <= 995).await;
    assert_eq!(posted_blocks(&da), posted_before, "nothing posted while the journal is unsettled");
    assert_eq!(DaJournal::load(Some(&journal)).unwrap().entries(), journaled, "entries kept");
    da.fail_lookups(0);
    da.hold_finality(false);
    let target = status.get().soft_head.number + 3;
    eventually("FIRM past the restart", || status.get().firm_head.number >= target).await;
    node.shutdown(Duration::from_secs(5)).await;

    let posted = posted_blocks(&da);
    let expected: Vec<u64> = (1..=posted.len() as u64).collect();
    assert_eq!(posted, expected, "each block once, in order, across the restart");
}

/// A batch whose DA block is final stays in the journal until the producer has written the FIRM
/// record covering it. Here reth refuses every forkchoice update, so FIRM cannot be recorded;
/// the node then stops (as a crash between DA finality and the FIRM record would), and the
/// restarted node, below those blocks again, finds them through the journal instead of posting
/// them a second time.
#[tokio::test]
async fn journal_entries_leave_only_once_firm_is_recorded() {
    let JournaledNode { engine, dir: _dir, record, journal, cfg, da, node } =
        JournaledNode::with_batches_on_da().await;
    let status = node.status.clone();
    engine.set_forkchoice_answer(Answer::Syncing, u32::MAX);
    da.hold_finality(false);
    eventually("every posted batch final on DA", || {
        status.get().pending_da.iter().all(|p| p.da_height.is_none())
    })
    .await;
    assert_eq!(status.get().firm_head.number, 0, "reth took no FIRM update");
    assert!(!record.exists());
    let kept = DaJournal::load(Some(&journal)).unwrap().entries().to_vec();
    assert!(!kept.is_empty(), "final on DA, not FIRM: the journal keeps the batches");
    node.shutdown(Duration::from_secs(5)).await;

    engine.set_forkchoice_answer(Answer::Syncing, 0);
    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    let target = status.get().soft_head.number + 3;
    eventually("FIRM past the restart", || status.get().firm_head.number >= target).await;
    // Once FIRM is recorded, the batches it covers leave the journal.
    eventually("the journal pruned to the FIRM record", || {
        let firm = FirmRecord::load(&record).unwrap().map_or(0, |r| r.number);
        let entries = DaJournal::load(Some(&journal)).unwrap().entries().to_vec();
        firm >= target && entries.iter().all(|e| e.last > firm)
    })
    .await;
    node.shutdown(Duration::from_secs(5)).await;

    let posted = posted_blocks(&da);
    let expected: Vec<u64> = (1..=posted.len() as u64).collect();
    assert_eq!(posted, expected, "each block once, in order, across the restart");
}

/// The read-back finds what is wrong: a block posted twice, a gap, a batch by another key.
#[tokio::test]
async fn the_da_history_check_reports_duplicates_gaps_and_foreign_signers() {
    use alloy_consensus::{Block, BlockBody, Header, TxEnvelope};
    let block = |number| Block::<TxEnvelope> {
        header: Header { number, ..Default::default() },
        body: BlockBody::default(),
    };
    let da = LocalDa::new(Duration::from_millis(1), 0);
    let namespace = "0xc0ffee".parse().unwrap();
    let stranger = ValidatorKey::from_secret_bytes([9; 32]);
    for blob in [
        encode_batch(&key(), &[block(1), block(2)]),
        encode_batch(&key(), &[block(2)]),
        encode_batch(&key(), &[block(4)]),
        encode_batch(&stranger, &[block(5)]),
        Bytes::from_static(b"not a batch"),
    ] {
        da.submit(&namespace, blob).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let head = da.finalized_height().await.unwrap();
    let history = History::read(&da, &namespace, 1..=head).await.unwrap();
    let check = history.check(&[key().public()]);
    assert_eq!(check.duplicates, vec![2]);
    assert_eq!(check.gaps, vec![3]);
    assert_eq!(check.foreign_signers.len(), 1);
    assert_eq!(history.unreadable.len(), 1);
    assert!(!check.is_clean());
}

/// The sequencer stops while a batch is on its way into a DA block (sent, no answer, not
/// included yet): after the restart it is looked for again, found once it lands, and not posted
/// a second time.
#[tokio::test]
async fn a_batch_still_on_its_way_at_a_restart_is_not_posted_twice() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let (dir, _record, mut cfg) = node_config_with_record(&engine, secret);
    cfg.da_journal_path = Some(dir.path().join("sequencer-state.da.json"));
    cfg.da_resubmit_after = Duration::from_secs(2);
    let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
    let namespace = "0xc0ffee".parse().unwrap();
    // The first batch is stored, lands 40 DA blocks (200 ms) later, and its answer is lost.
    da.lose_answers(1);
    da.delay_inclusion(40);
    let node =
        launch(cfg.clone(), consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    eventually("the first batch is sent", || da.blob_count(&namespace) >= 1).await;
    node.shutdown(Duration::from_secs(5)).await;
    da.delay_inclusion(0);

    let node = launch(cfg, consensus(), da.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    let target = status.get().soft_head.number + 3;
    eventually("FIRM past the restart", || status.get().firm_head.number >= target).await;
    node.shutdown(Duration::from_secs(5)).await;
    let posted = posted_blocks(&da);
    let expected: Vec<u64> = (1..=posted.len() as u64).collect();
    assert_eq!(posted, expected, "each block once, in order");
}

/// A submission that landed but whose answer was lost (timeout) is found on DA by its commitment
/// and not posted again.
#[tokio::test]
async fn a_lost_submission_answer_does_not_post_twice() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
    da.lose_answers(2);
    let node =
        launch(node_config(&engine, secret), consensus(), da.clone(), CancellationToken::new())
            .await
            .unwrap();
    let status = node.status.clone();
    eventually("FIRM moves", || status.get().firm_head.number >= 6).await;
    node.shutdown(Duration::from_secs(5)).await;
    let posted = posted_blocks(&da);
    let expected: Vec<u64> = (1..=posted.len() as u64).collect();
    assert_eq!(posted, expected, "each block once, in order");
}

#[tokio::test]
async fn engine_trouble_is_survived() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let da = Arc::new(LocalDa::new(Duration::from_millis(10), 0));
    let node = launch(node_config(&engine, secret), consensus(), da, CancellationToken::new())
        .await
        .unwrap();
    let status = node.status.clone();
    eventually("first blocks", || status.get().soft_head.number >= 2).await;

    // reth answers SYNCING to newPayload for a while, then INVALID once: no block becomes SOFT
    // on those answers, and production recovers.
    engine.set_new_payload_answer(Answer::Syncing, 10);
    let before = status.get().soft_head.number;
    eventually("production recovered after SYNCING", || {
        status.get().soft_head.number >= before + 2
    })
    .await;
    engine.set_new_payload_answer(Answer::Invalid("bad block".into()), 1);
    let before = status.get().soft_head.number;
    eventually("production recovered after INVALID", || {
        status.get().soft_head.number >= before + 3
    })
    .await;
    assert!(engine.violations().is_empty(), "{:?}", engine.violations());
    node.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn restart_resumes_from_reth_heads_without_refinalizing() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();

    let (_dir, record_path, cfg) = node_config_with_record(&engine, secret);

    // First run: finality stalls at some point, so some blocks are SOFT but not FIRM.
    let da1 = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
    let node =
        launch(cfg.clone(), consensus(), da1.clone(), CancellationToken::new()).await.unwrap();
    let status = node.status.clone();
    eventually("some firm blocks", || status.get().firm_head.number >= 2).await;
    da1.hold_finality(true);
    let firm_at_hold = status.get().firm_head.number;
    eventually("soft ahead of firm", || status.get().soft_head.number >= firm_at_hold + 4).await;
    node.shutdown(Duration::from_secs(5)).await;
    let fc = engine.forkchoice();
    let head1 = engine.number_of(fc.head_block_hash).unwrap();
    let fin1 = engine.number_of(fc.finalized_block_hash).unwrap();
    assert!(head1 > fin1);
    // The sequencer's own record of its last FIRM block matches what reth finalized.
    assert_eq!(
        FirmRecord::load(&record_path).unwrap(),
        Some(FirmRecord { number: fin1, hash: fc.finalized_block_hash })
    );

    // Second run on a fresh DA: resumes at reth's head, re-submits blocks fin1+1..=head1,
    // finalizes them in order, and keeps building from head1 + 1.
    let da2 = Arc::new(LocalDa::new(Duration::from_millis(5), 0));
    let node = launch(cfg, consensus(), da2.clone(), CancellationToken::new()).await.unwrap();
    let s = node.status.get();
    assert_eq!(s.soft_head.number, head1);
    assert_eq!(s.firm_head.number, fin1);
    let status = node.status.clone();
    eventually("firm passes the old head", || status.get().firm_head.number > head1).await;
    let ns = "0xc0ffee".parse().unwrap();
    let mut resubmitted = Vec::new();
    for h in 1..=da2.current_height() {
        for blob in da2.blobs(&ns, h).await.unwrap() {
            resubmitted.extend(decode_batch(&blob).unwrap().1.iter().map(|b| b.header.number));
        }
    }
    assert_eq!(
        resubmitted.first(),
        Some(&(fin1 + 1)),
        "nothing final is re-submitted, nothing skipped"
    );
    assert_eq!(resubmitted, (fin1 + 1..fin1 + 1 + resubmitted.len() as u64).collect::<Vec<_>>());
    assert!(engine.violations().is_empty(), "{:?}", engine.violations());
    // Finalized never moved backwards across the restart.
    let mut last = 0;
    for fc in engine.forkchoice_log() {
        let n = engine.number_of(fc.finalized_block_hash).unwrap();
        assert!(n >= last, "finalized went from #{last} to #{n}");
        last = n;
    }
    node.shutdown(Duration::from_secs(5)).await;
}

/// reth came back without a block the sequencer already finalized (it kept recent blocks in
/// memory and restarted): resuming would build a second block at a final height, so launch
/// refuses with one error naming the record, the block and the cause.
#[tokio::test]
async fn refuses_to_resume_when_reth_lost_firm_blocks() {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let (_dir, record_path, cfg) = node_config_with_record(&engine, secret);
    let da = Arc::new(LocalDa::new(Duration::from_millis(5), 0));

    // Recorded FIRM block above reth's head.
    FirmRecord { number: 5, hash: B256::with_last_byte(5) }.store(&record_path).unwrap();
    let err = launch(cfg.clone(), consensus(), da.clone(), CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("block #5") && err.contains("does not have it"), "{err}");
    assert!(err.contains("sequencer-state.json"), "{err}");

    // Same height, different block.
    FirmRecord { number: 0, hash: B256::with_last_byte(1) }.store(&record_path).unwrap();
    let err = launch(cfg.clone(), consensus(), da.clone(), CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("at that height"), "{err}");

    // The matching record (genesis) resumes.
    let genesis = engine.genesis_hash();
    FirmRecord { number: 0, hash: genesis }.store(&record_path).unwrap();
    let node = launch(cfg, consensus(), da, CancellationToken::new()).await.unwrap();
    node.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn shutdown_is_bounded_even_when_da_hangs() {
    struct HangingDa;
    #[async_trait::async_trait]
    impl DaClient for HangingDa {
        async fn submit(
            &self,
            _: &sequencer_da::Namespace,
            _: Bytes,
        ) -> Result<sequencer_da::Inclusion, sequencer_da::DaError> {
            std::future::pending().await
        }
        async fn finalized_height(&self) -> Result<u64, sequencer_da::DaError> {
            Ok(0)
        }
        fn max_blob_size(&self) -> usize {
            1 << 20
        }
        fn commitment(
            &self,
            _: &sequencer_da::Namespace,
            blob: &[u8],
        ) -> Result<B256, sequencer_da::DaError> {
            Ok(alloy_primitives::keccak256(blob))
        }
        async fn find(
            &self,
            _: &sequencer_da::Namespace,
            _: &[u8],
            _: std::ops::RangeInclusive<u64>,
        ) -> Result<Option<u64>, sequencer_da::DaError> {
            Ok(None)
        }
        async fn blobs(
            &self,
            _: &sequencer_da::Namespace,
            _: u64,
        ) -> Result<Vec<Bytes>, sequencer_da::DaError> {
            Ok(vec![])
        }
    }
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let node = launch(
        node_config(&engine, secret),
        consensus(),
        Arc::new(HangingDa),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let status = node.status.clone();
    eventually("a soft block", || status.get().soft_head.number >= 1).await;
    assert_eq!(node.shutdown(Duration::from_millis(200)).await, ShutdownOutcome::Abandoned);
}

#[test]
fn a_single_validator_is_only_itself() {
    let other = ValidatorKey::from_secret_bytes([2; 32]).public();
    let err = SingleValidator::new(&[key().public(), other], key()).unwrap_err();
    assert!(err.to_string().starts_with("consensus.validators: 2 validators"), "{err}");
    let err = SingleValidator::new(&[other], key()).unwrap_err();
    assert!(err.to_string().contains("not in the validator set"), "{err}");
}
