//! The batch submitter against a real anvil L1: every block posted once and in order, a restart
//! that resumes without a gap or a double post, and an L1 reorg that drops a batcher
//! transaction healed by posting again, with calldata and with blobs. What is on L1 is read back
//! as derivation reads it: kona-derive's data source over anvil and the devnet beacon adapter
//! (blobs with real KZG commitments and proofs), then kona's decoders.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use alloy_primitives::B256;
use alloy_provider::{Provider, ProviderBuilder};
use alloy_signer_local::PrivateKeySigner;
use anvil_testing::{Anvil, DEV_KEY_1, free_port};
use common::{BlockSpec, build_chain};
use kona_genesis::RollupConfig;
use kona_protocol::{BlockInfo, L2BlockInfo};
use op_alloy_consensus::OpBlock;
use rollup_batcher::{
    BatchKind, BatchSubmitter, BatcherError, BlockBatch, ChannelCompression, DataAvailability,
    L2Chain, L2ChainError, SubmitterConfig, TxFees, encode_channels,
    posted::{
        BatcherDataReader, PostedTransaction, block_number_at, posted_l2_blocks, resume_after,
    },
};
use rollup_devnet::BeaconAdapter;
use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use url::Url;

/// An L2 chain the test grows by hand.
#[derive(Clone, Default)]
struct FixtureChain(Arc<Mutex<Vec<OpBlock>>>);

#[async_trait::async_trait]
impl L2Chain for FixtureChain {
    fn unsafe_head(&self) -> Option<(u64, B256)> {
        let blocks = self.0.lock().unwrap();
        blocks.last().map(|b| (b.header.number, b.header.hash_slow()))
    }

    async fn block(&self, number: u64) -> Result<Option<(B256, Arc<OpBlock>)>, L2ChainError> {
        let blocks = self.0.lock().unwrap();
        Ok(number
            .checked_sub(1)
            .and_then(|i| blocks.get(i as usize))
            .map(|b| (b.header.hash_slow(), Arc::new(b.clone()))))
    }
}

/// anvil mining a block a second, with the devnet's beacon adapter in front of it.
struct TestL1 {
    anvil: Anvil,
    beacon: Url,
    _adapter: tokio::task::JoinHandle<()>,
}

impl TestL1 {
    async fn start() -> Self {
        let anvil = Anvil::start_with(free_port(), &["--block-time", "1"]);
        let (addr, serve) =
            BeaconAdapter::new(anvil.url(), 1).bind(([127, 0, 0, 1], 0).into()).await.unwrap();
        let adapter = tokio::spawn(serve);
        Self { anvil, beacon: format!("http://{addr}").parse().unwrap(), _adapter: adapter }
    }

    /// Stops anvil's interval mining (0) or mines every `seconds` again.
    async fn set_interval_mining(&self, seconds: u64) {
        let _: serde_json::Value = ProviderBuilder::new()
            .connect_http(self.anvil.url())
            .raw_request("evm_setIntervalMining".into(), (seconds,))
            .await
            .unwrap();
    }

    /// Replaces the last `depth` L1 blocks with empty ones (anvil drops their transactions).
    async fn reorg(&self, depth: u64) {
        let _: serde_json::Value = ProviderBuilder::new()
            .connect_http(self.anvil.url())
            .raw_request("anvil_reorg".into(), (depth, Vec::<serde_json::Value>::new()))
            .await
            .unwrap();
    }

    /// Our batcher's transactions in L1 blocks `0..=head`, as derivation reads them.
    async fn batcher_data(&self, rollup: &RollupConfig) -> Vec<PostedTransaction> {
        let l1 = ProviderBuilder::new().connect_http(self.anvil.url());
        let head = l1.get_block_number().await.unwrap();
        let mut reader = BatcherDataReader::connect(
            self.anvil.url(),
            &self.beacon,
            signer().address(),
            rollup.batch_inbox_address,
        )
        .await
        .unwrap();
        reader.read(0..=head).await.unwrap()
    }
}

fn signer() -> PrivateKeySigner {
    DEV_KEY_1.parse().unwrap()
}

fn rollup() -> Arc<RollupConfig> {
    let mut config = common::rollup_config(true);
    config.batch_inbox_address =
        alloy_primitives::address!("ff00000000000000000000000000000000000901");
    config.channel_timeout = 50;
    config.granite_channel_timeout = 50;
    if let Some(system) = config.genesis.system_config.as_mut() {
        system.batcher_address = signer().address();
    }
    Arc::new(config)
}

/// Blocks 1..=count, a new L1 origin every third block, a user transaction in every other one.
fn chain(rollup: &RollupConfig, count: usize) -> Vec<OpBlock> {
    let specs: Vec<BlockSpec> = (0..count)
        .map(|i| BlockSpec {
            advance_origin: i % 3 == 0,
            user_deposit: false,
            txs: if i % 2 == 0 {
                vec![common::TxSpec {
                    kind: common::TxKindSpec::Eip1559,
                    nonce: i as u64,
                    gas_limit: 21_000,
                    fee: 1_000_000_000,
                    to: Some(alloy_primitives::Address::repeat_byte(0x11)),
                    value: 1,
                    input: vec![],
                }]
            } else {
                vec![]
            },
        })
        .collect();
    build_chain(rollup, &specs).blocks
}

fn genesis_safe_head(rollup: &RollupConfig) -> watch::Receiver<Option<L2BlockInfo>> {
    // The sender is leaked on purpose: the safe head never moves in these tests.
    let (tx, rx) = movable_safe_head(rollup);
    std::mem::forget(tx);
    rx
}

/// A safe head at the genesis that the test moves by hand.
fn movable_safe_head(
    rollup: &RollupConfig,
) -> (watch::Sender<Option<L2BlockInfo>>, watch::Receiver<Option<L2BlockInfo>>) {
    let genesis = L2BlockInfo::new(
        BlockInfo::new(rollup.genesis.l2.hash, 0, B256::ZERO, rollup.genesis.l2_time),
        rollup.genesis.l1,
        0,
    );
    watch::channel(Some(genesis))
}

/// A safe head at `block` (only its number and L1 origin matter to the batcher).
fn safe_at(rollup: &RollupConfig, block: &OpBlock) -> Option<L2BlockInfo> {
    let info = BlockInfo::new(
        block.header.hash_slow(),
        block.header.number,
        block.header.parent_hash,
        block.header.timestamp,
    );
    Some(L2BlockInfo::new(info, rollup.genesis.l1, 0))
}

fn config(
    l1: &TestL1,
    rollup: Arc<RollupConfig>,
    kind: BatchKind,
    da: DataAvailability,
) -> SubmitterConfig {
    let mut config = SubmitterConfig::new(l1.anvil.url(), l1.beacon.clone(), rollup);
    config.batch_kind = kind;
    config.data_availability = da;

    config.compression = ChannelCompression::ZLIB;
    config.max_channel_duration = 1;
    config.max_frame_size = 1_000;
    if da == DataAvailability::Blobs {
        // Small frames, two blobs per transaction: a channel spans blobs and transactions.
        config.max_frame_size = 150;
        config.target_num_frames = 2;
    }
    config.poll_interval = Duration::from_millis(100);
    config.resubmission_timeout = Duration::from_secs(5);
    config
}

/// The L2 blocks our batcher transactions on anvil's canonical chain carry, in L1 order.
async fn posted_on_l1(l1: &TestL1, rollup: &RollupConfig) -> Vec<u64> {
    posted_l2_blocks(rollup, &l1.batcher_data(rollup).await)
}

/// Waits until L1 carries block `number` at least `times` times; returns what it carries.
async fn wait_posted_times(
    l1: &TestL1,
    rollup: &RollupConfig,
    number: u64,
    times: usize,
) -> Vec<u64> {
    for _ in 0..300 {
        let posted = posted_on_l1(l1, rollup).await;
        if posted.iter().filter(|n| **n == number).count() >= times {
            return posted;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "block {number} was not posted {times} times within 30 s: {:?}",
        posted_on_l1(l1, rollup).await
    );
}

/// Waits until L1 carries every block in `1..=last`; returns what it carries.
async fn wait_posted(l1: &TestL1, rollup: &RollupConfig, last: u64) -> Vec<u64> {
    for _ in 0..300 {
        let posted = posted_on_l1(l1, rollup).await;
        let set: BTreeSet<u64> = posted.iter().copied().collect();
        if (1..=last).all(|n| set.contains(&n)) {
            return posted;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "blocks 1..={last} were not all posted within 30 s: {:?}",
        posted_on_l1(l1, rollup).await
    );
}

fn spawn(
    submitter: BatchSubmitter<FixtureChain>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    // The batcher's log lines (sent, mined, resumed, reorged) in the test's output.
    let _ = tracing_subscriber::fmt().with_env_filter("batcher=info").with_test_writer().try_init();
    let token = CancellationToken::new();
    let handle = tokio::spawn(submitter.run(token.clone()));
    (token, handle)
}

/// A span-batch calldata batcher posting `blocks`, with the safe head at the genesis for good.
fn start_span_calldata(
    l1: &TestL1,
    rollup: &Arc<RollupConfig>,
    blocks: Vec<OpBlock>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let l2 = FixtureChain::default();
    *l2.0.lock().unwrap() = blocks;
    spawn(BatchSubmitter::new(
        config(l1, rollup.clone(), BatchKind::Span, DataAvailability::Calldata),
        signer(),
        l2,
        genesis_safe_head(rollup),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_block_is_posted_once_and_in_order() {
    for (kind, da) in [
        (BatchKind::Span, DataAvailability::Calldata),
        (BatchKind::Single, DataAvailability::Calldata),
        (BatchKind::Span, DataAvailability::Blobs),
    ] {
        let l1 = TestL1::start().await;
        let rollup = rollup();
        let l2 = FixtureChain::default();
        *l2.0.lock().unwrap() = chain(&rollup, 12);
        let submitter = BatchSubmitter::new(
            config(&l1, rollup.clone(), kind, da),
            signer(),
            l2,
            genesis_safe_head(&rollup),
        );
        let (token, handle) = spawn(submitter);
        let posted = wait_posted(&l1, &rollup, 12).await;
        token.cancel();
        handle.await.unwrap();
        assert_eq!(posted, (1..=12).collect::<Vec<_>>(), "{kind:?} {da:?}: once each, in order");
        if da == DataAvailability::Blobs {
            assert_only_blob_transactions(&l1).await;
        }
    }
}

/// Every transaction the batcher sent is a type-3 transaction without calldata.
async fn assert_only_blob_transactions(l1: &TestL1) {
    use alloy_consensus::Transaction as _;
    let provider = ProviderBuilder::new().connect_http(l1.anvil.url());
    let head = provider.get_block_number().await.unwrap();
    let mut blobs = 0;
    for number in 0..=head {
        let block = provider.get_block_by_number(number.into()).full().await.unwrap().unwrap();
        for tx in block.transactions.txns().filter(|tx| tx.inner.signer() == signer().address()) {
            assert_eq!(tx.inner.inner().tx_type() as u8, 3, "blob transaction");
            assert!(tx.input().is_empty(), "no calldata next to the blobs");
            blobs += tx.blob_versioned_hashes().map_or(0, |hashes| hashes.len());
        }
    }
    assert!(blobs >= 4, "the channels' frames went into blobs ({blobs} blobs)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_without_gap_or_double_post() {
    for da in [DataAvailability::Calldata, DataAvailability::Blobs] {
        restart_resumes_without_gap_or_double_post(da).await;
    }
}

async fn restart_resumes_without_gap_or_double_post(da: DataAvailability) {
    let l1 = TestL1::start().await;
    let rollup = rollup();
    let all = chain(&rollup, 10);
    let l2 = FixtureChain::default();
    *l2.0.lock().unwrap() = all[..6].to_vec();

    let first = BatchSubmitter::new(
        config(&l1, rollup.clone(), BatchKind::Span, da),
        signer(),
        l2.clone(),
        genesis_safe_head(&rollup),
    );
    let (token, handle) = spawn(first);
    wait_posted(&l1, &rollup, 6).await;
    token.cancel();
    handle.await.unwrap();

    // Four more blocks while the batcher is down; the safe head has not moved (nothing derives
    // in this test), so only L1 itself says what is already posted.
    *l2.0.lock().unwrap() = all.clone();
    let second = BatchSubmitter::new(
        config(&l1, rollup.clone(), BatchKind::Span, da),
        signer(),
        l2,
        genesis_safe_head(&rollup),
    );
    let (token, handle) = spawn(second);
    let posted = wait_posted(&l1, &rollup, 10).await;
    // Give a wrong second run time to post again before judging.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let posted_later = posted_on_l1(&l1, &rollup).await;
    token.cancel();
    handle.await.unwrap();
    assert_eq!(posted, (1..=10).collect::<Vec<_>>(), "{da:?}");
    assert_eq!(posted_later, posted, "{da:?}: nothing was posted twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_reorg_that_drops_a_batch_is_healed() {
    let l1 = TestL1::start().await;
    let rollup = rollup();
    let (token, handle) = start_span_calldata(&l1, &rollup, chain(&rollup, 5));
    wait_posted(&l1, &rollup, 5).await;

    // Reorg every block since the batch landed, re-including nothing.
    let provider = ProviderBuilder::new().connect_http(l1.anvil.url());
    let txs = l1.batcher_data(&rollup).await;
    let head = provider.get_block_number().await.unwrap();
    let first_batch_block = txs.first().unwrap().l1_block.number;
    let depth = head - first_batch_block + 1;
    l1.reorg(depth).await;
    let after = posted_on_l1(&l1, &rollup).await;
    assert!(
        !(1..=5).all(|n| after.contains(&n)),
        "the reorg took the batch out of the chain: {after:?} (depth {depth})"
    );

    let healed = wait_posted(&l1, &rollup, 5).await;
    token.cancel();
    handle.await.unwrap();
    let set: BTreeSet<u64> = healed.iter().copied().collect();
    assert_eq!(set, (1..=5).collect(), "the batcher posted the blocks again: {healed:?}");
}

#[test]
fn resume_point_follows_the_posted_run_after_the_safe_head() {
    let posted: BTreeSet<u64> = [5, 6, 7, 9].into_iter().collect();
    assert_eq!(resume_after(4, &posted), 8, "5..=7 are on their way; 8 is the gap");
    assert_eq!(resume_after(7, &posted), 8);
    assert_eq!(resume_after(1, &posted), 2, "2 was never posted: resume there");
    assert_eq!(resume_after(9, &BTreeSet::new()), 10);
}

#[test]
fn block_numbers_follow_timestamps() {
    let rollup = rollup();
    let genesis = rollup.genesis.l2_time;
    assert_eq!(block_number_at(&rollup, genesis), Some(0));
    assert_eq!(block_number_at(&rollup, genesis + 3 * rollup.block_time), Some(3));
    assert_eq!(block_number_at(&rollup, genesis + 1), None, "between blocks");
    assert_eq!(block_number_at(&rollup, genesis - 1), None, "before genesis");
}

/// A span calldata batcher over `blocks` with a safe head the test moves, once L1 carries them
/// all; returns the safe head's sender and the batcher's token and task.
async fn posted_with_movable_safe_head(
    l1: &TestL1,
    rollup: &Arc<RollupConfig>,
    blocks: &[OpBlock],
) -> (watch::Sender<Option<L2BlockInfo>>, CancellationToken, tokio::task::JoinHandle<()>) {
    let l2 = FixtureChain::default();
    *l2.0.lock().unwrap() = blocks.to_vec();
    let (safe_tx, safe_rx) = movable_safe_head(rollup);
    let (token, handle) = spawn(BatchSubmitter::new(
        config(l1, rollup.clone(), BatchKind::Span, DataAvailability::Calldata),
        signer(),
        l2,
        safe_rx,
    ));
    wait_posted(l1, rollup, blocks.len() as u64).await;
    (safe_tx, token, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safe_head_that_goes_back_gets_the_blocks_after_it_posted_again() {
    let l1 = TestL1::start().await;
    let rollup = rollup();
    let blocks = chain(&rollup, 5);
    let (safe_tx, token, handle) = posted_with_movable_safe_head(&l1, &rollup, &blocks).await;
    safe_tx.send_replace(safe_at(&rollup, &blocks[4]));
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Derivation went back to block 2 (an L1 reorg under the batches, say).
    safe_tx.send_replace(safe_at(&rollup, &blocks[1]));
    let posted = wait_posted_times(&l1, &rollup, 3, 2).await;
    token.cancel();
    handle.await.unwrap();
    for number in 3..=5 {
        assert_eq!(posted.iter().filter(|n| **n == number).count(), 2, "{number}: {posted:?}");
    }
    assert_eq!(posted.iter().filter(|n| **n <= 2).count(), 2, "1 and 2 once: {posted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_the_safe_head_never_passes_is_posted_again_after_the_channel_timeout() {
    let l1 = TestL1::start().await;
    let mut rollup = (*rollup()).clone();
    // Four 1 s L1 blocks.
    rollup.channel_timeout = 4;
    rollup.granite_channel_timeout = 4;
    let rollup = Arc::new(rollup);
    // The safe head stays at the genesis: derivation never takes the batches.
    let (token, handle) = start_span_calldata(&l1, &rollup, chain(&rollup, 3));
    wait_posted(&l1, &rollup, 3).await;
    let posted = wait_posted_times(&l1, &rollup, 1, 2).await;
    token.cancel();
    handle.await.unwrap();
    assert!(posted.iter().filter(|n| **n == 3).count() >= 2, "posted again: {posted:?}");
}

/// A key anvil never funded, as the rollup's batcher.
fn unfunded() -> (PrivateKeySigner, Arc<RollupConfig>) {
    let signer = PrivateKeySigner::random();
    let mut rollup = (*rollup()).clone();
    if let Some(system) = rollup.genesis.system_config.as_mut() {
        system.batcher_address = signer.address();
    }
    (signer, Arc::new(rollup))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfunded_account_is_named_and_failed_sends_never_raise_the_fees() {
    use alloy_consensus::Transaction as _;
    let l1 = TestL1::start().await;
    let (signer, rollup) = unfunded();
    let address = signer.address();
    let l2 = FixtureChain::default();
    *l2.0.lock().unwrap() = chain(&rollup, 3);
    let mut submitter = BatchSubmitter::new(
        config(&l1, rollup.clone(), BatchKind::Span, DataAvailability::Calldata),
        signer,
        l2,
        genesis_safe_head(&rollup),
    );
    // Ticks until the channel closes and its frame fails to go out, then twenty more failures:
    // before, every failed send bumped the next try's fees by another 12.5 %.
    let mut failures = 0;
    for _ in 0..200 {
        match submitter.tick().await {
            Ok(()) => {}
            Err(BatcherError::InsufficientFunds { account, balance, needed }) => {
                assert_eq!(account, address);
                assert_eq!(balance, alloy_primitives::U256::ZERO);
                assert!(needed > alloy_primitives::U256::ZERO);
                failures += 1;
                if failures == 20 {
                    break;
                }
            }
            Err(other) => panic!("an unfunded account is InsufficientFunds, not: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(failures, 20, "the send failed for want of funds");

    let provider = ProviderBuilder::new().connect_http(l1.anvil.url());
    let _: serde_json::Value = provider
        .raw_request("anvil_setBalance".into(), (address, "0x56BC75E2D63100000"))
        .await
        .unwrap();
    let market = provider.estimate_eip1559_fees().await.unwrap();
    for _ in 0..50 {
        submitter.tick().await.unwrap();
        if provider.get_transaction_count(address).await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let head = provider.get_block_number().await.unwrap();
    let mut sent = Vec::new();
    for number in 0..=head {
        let block = provider.get_block_by_number(number.into()).full().await.unwrap().unwrap();
        sent.extend(block.transactions.txns().filter(|tx| tx.inner.signer() == address).cloned());
    }
    let first = sent.first().expect("the batcher posted once funded");
    // The market may move a little between the estimate and the send; a single 12.5 % bump
    // would already show, twenty would be 10x.
    assert!(
        first.max_fee_per_gas() <= market.max_fee_per_gas * 11 / 10,
        "max fee {} against the market's {}",
        first.max_fee_per_gas(),
        market.max_fee_per_gas
    );
}

/// A span calldata batcher of `blocks` L2 blocks for an L1 whose mining is stopped: channels
/// close when full (no L1 block would close one on its duration), one transaction at a time;
/// `adjust` changes the config further.
fn start_on_a_still_l1(
    l1: &TestL1,
    rollup: &Arc<RollupConfig>,
    blocks: usize,
    adjust: impl FnOnce(&mut SubmitterConfig),
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let l2 = FixtureChain::default();
    *l2.0.lock().unwrap() = chain(rollup, blocks);
    let mut config = config(l1, rollup.clone(), BatchKind::Span, DataAvailability::Calldata);
    config.max_pending_transactions = 1;
    config.max_frame_size = 200;
    adjust(&mut config);
    spawn(BatchSubmitter::new(config, signer(), l2, genesis_safe_head(rollup)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_runs_stuck_transaction_is_replaced_not_waited_on_forever() {
    let l1 = TestL1::start().await;
    let rollup = rollup();
    let provider = ProviderBuilder::new()
        .wallet(alloy_network::EthereumWallet::from(signer()))
        .connect_http(l1.anvil.url());
    // A previous run's transaction that L1 does not mine: anvil stops mining. (anvil drops a
    // transaction it cannot include, so an underpriced one would not stay.)
    l1.set_interval_mining(0).await;
    let fees = provider.estimate_eip1559_fees().await.unwrap();
    let stuck = alloy_rpc_types_eth::TransactionRequest::default()
        .to(rollup.batch_inbox_address)
        .nonce(0)
        .gas_limit(21_000)
        .max_fee_per_gas(fees.max_fee_per_gas)
        .max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
    let stuck = *provider.send_transaction(stuck).await.unwrap().tx_hash();
    assert_eq!(provider.get_transaction_count(signer().address()).pending().await.unwrap(), 1);

    let (token, handle) = start_on_a_still_l1(&l1, &rollup, 4, |_| {});

    // After two resubmission timeouts (10 s) a batch frame replaces it at nonce 0.
    let mut replaced = false;
    for _ in 0..300 {
        if provider.get_transaction_by_hash(stuck).await.unwrap().is_none() {
            replaced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    l1.set_interval_mining(1).await;
    assert!(replaced, "the previous run's transaction was replaced while L1 did not mine it");
    let posted = wait_posted(&l1, &rollup, 4).await;
    token.cancel();
    handle.await.unwrap();
    assert_eq!(posted, (1..=4).collect::<Vec<_>>());
    assert!(provider.get_transaction_receipt(stuck).await.unwrap().is_none());
}

/// `len` bytes no compressor shrinks: a keccak chain from `seed`.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut word = alloy_primitives::keccak256(seed.to_be_bytes());
    while out.len() < len {
        out.extend_from_slice(word.as_slice());
        word = alloy_primitives::keccak256(word);
    }
    out.truncate(len);
    out
}

/// Blocks carrying `bytes` of random calldata each, which no compressor shrinks.
fn incompressible_chain(rollup: &RollupConfig, count: usize, bytes: usize) -> Vec<OpBlock> {
    let specs: Vec<BlockSpec> = (0..count)
        .map(|i| BlockSpec {
            advance_origin: i == 0,
            user_deposit: false,
            txs: vec![common::TxSpec {
                kind: common::TxKindSpec::Eip1559,
                nonce: i as u64,
                gas_limit: 1_000_000,
                fee: 1_000_000_000,
                to: Some(alloy_primitives::Address::repeat_byte(0x11)),
                value: 0,
                input: random_bytes(i as u64, bytes),
            }],
        })
        .collect();
    build_chain(rollup, &specs).blocks
}

#[test]
fn a_channel_over_its_limit_is_split_and_no_block_is_lost() {
    let rollup = rollup();
    let url: Url = "http://127.0.0.1:1".parse().unwrap();
    let mut config = SubmitterConfig::new(url.clone(), url, rollup.clone());
    // Two transactions of 400-byte frames in flight: channels of several blocks hold 800 bytes.
    config.max_pending_transactions = 2;
    config.max_frame_size = 400;
    for kind in [BatchKind::Span, BatchKind::Single] {
        config.batch_kind = kind;
        let blocks: Vec<BlockBatch> = incompressible_chain(&rollup, 6, 300)
            .iter()
            .map(|block| BlockBatch::from_block(block, &rollup).unwrap())
            .collect();
        let channels = encode_channels(&config, blocks).unwrap();
        assert!(channels.len() > 1, "{kind:?}: 6 × 300 random bytes do not fit 800 bytes");
        let covered: Vec<u64> = channels.iter().flat_map(|c| c.blocks.clone()).collect();
        assert_eq!(covered, (1..=6).collect::<Vec<_>>(), "{kind:?}: every block, in order");
        for channel in &channels {
            if channel.blocks.start() != channel.blocks.end() {
                assert!(channel.compressed_bytes <= 800, "{kind:?}: {channel:?}");
            }
        }

        // Small blocks stay in one channel.
        let blocks: Vec<BlockBatch> = chain(&rollup, 3)
            .iter()
            .map(|block| BlockBatch::from_block(block, &rollup).unwrap())
            .collect();
        assert_eq!(encode_channels(&config, blocks).unwrap().len(), 1, "{kind:?}");
    }
}

#[test]
fn fees_rise_only_to_replace_and_never_past_the_limit() {
    use rollup_batcher::transaction_fees;
    let market = TxFees {
        max_fee_per_gas: 1_000,
        max_priority_fee_per_gas: 100,
        max_fee_per_blob_gas: None,
    };
    assert_eq!(transaction_fees(market, None, 5), Ok(market), "a first send pays the market");

    // Replaced again and again at a flat market: 12.5 % each time, until the limit stops it.
    let mut offered = market;
    let mut replacements = 0;
    while let Ok(next) = transaction_fees(market, Some(offered), 5) {
        assert!(next.max_fee_per_gas >= offered.max_fee_per_gas * 9 / 8);
        assert!(next.max_priority_fee_per_gas >= offered.max_priority_fee_per_gas * 9 / 8);
        assert!(next.max_fee_per_gas <= 5 * market.max_fee_per_gas);
        offered = next;
        replacements += 1;
    }
    assert!((10..=14).contains(&replacements), "1.125^n reaches 5x after ~13: {replacements}");
    let Err(needed) = transaction_fees(market, Some(offered), 5) else { unreachable!() };
    assert!(needed.max_fee_per_gas > 5 * market.max_fee_per_gas);

    // A market that rose past the last offer is paid as it is.
    let risen = TxFees { max_fee_per_gas: 10_000, max_priority_fee_per_gas: 1_000, ..market };
    assert_eq!(transaction_fees(risen, Some(market), 5), Ok(risen));

    // Blob transactions: the blob pool wants every fee doubled.
    let blob_market = TxFees { max_fee_per_blob_gas: Some(50), ..market };
    let replaced = transaction_fees(blob_market, Some(blob_market), 5).unwrap();
    assert_eq!(replaced.max_fee_per_gas, 2_000);
    assert_eq!(replaced.max_priority_fee_per_gas, 200);
    assert_eq!(replaced.max_fee_per_blob_gas, Some(100));
    assert!(transaction_fees(blob_market, Some(replaced.replacement_floor()), 3).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_under_batches_already_safe_posts_them_again() {
    let l1 = TestL1::start().await;
    let rollup = rollup();
    let blocks = chain(&rollup, 5);
    let (safe_tx, token, handle) = posted_with_movable_safe_head(&l1, &rollup, &blocks).await;
    // The sequencer derived all of it: its safe head passed the batches, and stays there after
    // the reorg (the L1 origins survive it).
    safe_tx.send_replace(safe_at(&rollup, &blocks[4]));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let provider = ProviderBuilder::new().connect_http(l1.anvil.url());
    let txs = l1.batcher_data(&rollup).await;
    let head = provider.get_block_number().await.unwrap();
    let depth = head - txs.first().unwrap().l1_block.number + 1;
    l1.reorg(depth).await;
    assert!(posted_on_l1(&l1, &rollup).await.is_empty(), "the reorg took every batch out");

    let healed = wait_posted(&l1, &rollup, 5).await;
    token.cancel();
    handle.await.unwrap();
    let set: BTreeSet<u64> = healed.iter().copied().collect();
    assert_eq!(set, (1..=5).collect(), "posted again below the safe head: {healed:?}");
}

/// An L1 reorg takes out the block that mined our transaction before the batcher saw the
/// receipt (seen in the blob-mode derivation e2e: the reorg caught a block mined a moment
/// earlier). anvil drops the transaction; the batcher still counts it as pending, and once the
/// market falls a replacement priced over the old offer is over the fee limit. The nonce must
/// be filled again at the market's price, or nothing after it is ever mined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_reorged_out_before_its_receipt_was_seen_is_sent_again() {
    let l1 = TestL1::start().await;
    let rollup = rollup();
    let provider = ProviderBuilder::new().connect_http(l1.anvil.url());
    l1.set_interval_mining(0).await;

    // Ticks far enough apart for a block to be mined and reorged out between two of them.
    let (token, handle) = start_on_a_still_l1(&l1, &rollup, 4, |config| {
        config.poll_interval = Duration::from_secs(2);
    });

    let batcher = signer().address();
    for _ in 0..300 {
        if provider.get_transaction_count(batcher).pending().await.unwrap() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(provider.get_transaction_count(batcher).pending().await.unwrap(), 1, "sent");
    let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    l1.reorg(1).await;
    assert_eq!(provider.get_transaction_count(batcher).pending().await.unwrap(), 0, "dropped");
    // Empty blocks: the base fee falls to a few percent of what the transaction offered.
    let _: serde_json::Value = provider.raw_request("anvil_mine".into(), (30,)).await.unwrap();
    l1.set_interval_mining(1).await;

    let posted = wait_posted(&l1, &rollup, 4).await;
    token.cancel();
    handle.await.unwrap();
    assert_eq!(posted, (1..=4).collect::<Vec<_>>());
}

/// Sends `call` to `to` on the test L1 from anvil's first key (the contracts' owner).
async fn owner_sends(l1: &TestL1, to: alloy_primitives::Address, call: Vec<u8>) {
    use alloy_network::{EthereumWallet, TransactionBuilder};
    let owner: PrivateKeySigner = anvil_testing::DEV_KEY_0.parse().unwrap();
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(owner)).connect_http(l1.anvil.url());
    let tx = alloy_rpc_types_eth::TransactionRequest::default().with_to(to).with_input(call);
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batcher_posts_only_while_the_l1_system_config_names_it() {
    use alloy_network::EthereumWallet;
    use alloy_sol_types::SolCall;
    use rollup_op_contracts::{ContractsPackage, L1DeployConfig, L1Deployer, bindings};
    let l1 = TestL1::start().await;
    let owner: PrivateKeySigner = anvil_testing::DEV_KEY_0.parse().unwrap();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(l1.anvil.url());
    let package = ContractsPackage::open(anvil_testing::contracts_package_dir()).unwrap();
    let mut rollup = (*rollup()).clone();
    let other_batcher = alloy_primitives::address!("00000000000000000000000000000000000ba7c4");
    let config = L1DeployConfig {
        l2_chain_id: rollup.l2_chain_id.id(),
        l2_block_time: rollup.block_time,
        batcher: other_batcher,
        unsafe_block_signer: owner.address(),
        proposer: owner.address(),
        challenger: owner.address(),
        guardian: owner.address(),
        gas_limit: 30_000_000,
        basefee_scalar: 1_000_000,
        blobbasefee_scalar: 0,
        batch_inbox: rollup.batch_inbox_address,
        submission_interval: 10,
        finalization_period: 12,
    };
    let deployment =
        L1Deployer::new(&provider, owner.address(), &package, config).deploy().await.unwrap();
    rollup.l1_system_config_address = deployment.system_config_proxy;
    let rollup = Arc::new(rollup);

    let (token, handle) = start_span_calldata(&l1, &rollup, chain(&rollup, 6));
    // Several L1 blocks while the SystemConfig names another batcher: nothing is posted.
    let start = provider.get_block_number().await.unwrap();
    while provider.get_block_number().await.unwrap() < start + 4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(posted_on_l1(&l1, &rollup).await, Vec::<u64>::new(), "not the named batcher");

    // The batcher is rotated to this key: every block is posted, once, in order.
    let rotate =
        bindings::SystemConfig::setBatcherHashCall { _batcherHash: signer().address().into_word() };
    owner_sends(&l1, deployment.system_config_proxy, rotate.abi_encode()).await;
    let posted = wait_posted(&l1, &rollup, 6).await;
    token.cancel();
    handle.await.unwrap();
    assert_eq!(posted, (1..=6).collect::<Vec<_>>());
}
