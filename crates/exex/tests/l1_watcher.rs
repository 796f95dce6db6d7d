//! The L1 watcher against a real L1 (anvil from npm): heads, safe and finalized blocks, the
//! system config's signer updates of every block, and polls that fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{Address, B256, Bytes, U256, address, b256};
use alloy_provider::{Provider, RootProvider};
use common::Anvil;
use kona_genesis::RollupConfig;
use kona_node_service::{L1WatcherRpcContext, NodeActor};
use kona_protocol::BlockInfo;
use kona_rpc::L1WatcherQueries;
use rollup_exex::{L1HeadWatcher, L1HeadWatcherBuilder, MAX_LOG_RANGE, log_range};
use std::{sync::Arc, time::Duration};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Where the test's "system config" lives: a contract that emits whatever log it is called with.
const SYSTEM_CONFIG: Address = address!("0x00000000000000000000000000000000005c0f19");
/// anvil's first (unlocked) development account.
const DEV_ACCOUNT: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// `ConfigUpdate(uint256 indexed version, uint8 indexed updateType, bytes data)`.
const CONFIG_UPDATE: B256 =
    b256!("0x1d2b0bda21d56b8bd12d4f94ebacffdfb35f5e226f84b461103bb8beab6353be");
/// Update type 3: the unsafe block signer.
const UNSAFE_BLOCK_SIGNER: u8 = 3;

/// Runtime code: LOG3(topics = calldata[0..96], data = calldata[96..]).
const EMITTER_CODE: &str = "0x604035602035600035606036038060606000376000a300";

struct Watcher {
    heads: watch::Receiver<Option<BlockInfo>>,
    finalized: watch::Receiver<Option<BlockInfo>>,
    signers: mpsc::Receiver<Address>,
    queries: mpsc::Sender<L1WatcherQueries>,
    cancellation: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), rollup_exex::KonaExExError>>,
}

fn start(l1: url::Url, poll_interval: Duration) -> Watcher {
    let rollup = RollupConfig {
        l1_system_config_address: SYSTEM_CONFIG,
        hardforks: kona_genesis::HardForkConfig { ecotone_time: Some(0), ..Default::default() },
        ..Default::default()
    };
    let (inbound, actor) = L1HeadWatcher::build(L1HeadWatcherBuilder {
        rollup: Arc::new(rollup),
        l1_provider: RootProvider::new_http(l1),
        poll_interval,
    });
    let (latest_head, heads) = watch::channel(None);
    let (latest_finalized, finalized) = watch::channel(None);
    let (block_signer_sender, signers) = mpsc::channel(16);
    let cancellation = CancellationToken::new();
    let task = tokio::spawn(actor.start(L1WatcherRpcContext {
        latest_head,
        latest_finalized,
        block_signer_sender,
        cancellation: cancellation.clone(),
    }));
    Watcher { heads, finalized, signers, queries: inbound.inbound_queries, cancellation, task }
}

async fn wait_for_head(heads: &mut watch::Receiver<Option<BlockInfo>>, number: u64) -> BlockInfo {
    let head = tokio::time::timeout(
        Duration::from_secs(20),
        heads.wait_for(|head| head.is_some_and(|head| head.number >= number)),
    )
    .await
    .expect("the watcher never published the head")
    .unwrap();
    head.unwrap()
}

/// Calls the emitter at [`SYSTEM_CONFIG`] with a signer update naming `signer`, and waits for its
/// block (anvil mines a block per transaction).
async fn emit_signer_update(l1: &RootProvider, signer: Address) {
    let mut calldata = Vec::new();
    calldata.extend_from_slice(CONFIG_UPDATE.as_slice());
    calldata.extend_from_slice(B256::ZERO.as_slice()); // version 0
    calldata.extend_from_slice(B256::with_last_byte(UNSAFE_BLOCK_SIGNER).as_slice());
    calldata.extend_from_slice(B256::from(U256::from(32)).as_slice()); // bytes: offset
    calldata.extend_from_slice(B256::from(U256::from(32)).as_slice()); // bytes: length
    calldata.extend_from_slice(signer.into_word().as_slice());
    let tx = serde_json::json!({
        "from": DEV_ACCOUNT, "to": SYSTEM_CONFIG, "data": Bytes::from(calldata), "gas": "0x100000"
    });
    let hash: B256 = l1.raw_request("eth_sendTransaction".into(), (tx,)).await.unwrap();
    // anvil answers before its automine has mined the transaction.
    for _ in 0..200 {
        if l1.get_transaction_receipt(hash).await.unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the signer update {hash} was not mined");
}

#[test]
fn log_range_covers_every_block_since_the_previous_head() {
    let block = |number| BlockInfo { number, ..Default::default() };
    assert_eq!(log_range(None, &block(7)), 7..=7);
    assert_eq!(log_range(Some(&block(3)), &block(7)), 4..=7);
    assert_eq!(log_range(Some(&block(6)), &block(7)), 7..=7);
    // L1 went back (a reorg): the new head alone.
    assert_eq!(log_range(Some(&block(9)), &block(7)), 7..=7);
    assert_eq!(log_range(Some(&block(7)), &block(7)), 7..=7);
}

#[tokio::test]
async fn publishes_head_safe_and_finalized_and_answers_queries_from_them() {
    // finalized = latest - 2, safe = latest - 1.
    let anvil = Anvil::start_with(common::free_port(), &["--slots-in-an-epoch", "1"]);
    let l1: RootProvider = RootProvider::new_http(anvil.url());
    let mut watcher = start(anvil.url(), Duration::from_millis(100));
    let _: serde_json::Value = l1.raw_request("anvil_mine".into(), (12,)).await.unwrap();

    let head = wait_for_head(&mut watcher.heads, 12).await;
    assert_eq!(head.number, 12);
    assert_eq!(head.hash, l1.get_block_by_number(12.into()).await.unwrap().unwrap().header.hash);
    assert_eq!(watcher.finalized.borrow().map(|block| block.number), Some(10));

    let (reply, answer) = oneshot::channel();
    watcher.queries.send(L1WatcherQueries::L1State(reply)).await.unwrap();
    let state = answer.await.unwrap();
    assert_eq!(state.head_l1.map(|block| block.number), Some(12));
    assert_eq!(state.safe_l1.map(|block| block.number), Some(11));
    assert_eq!(state.finalized_l1.map(|block| block.number), Some(10));

    let (reply, answer) = oneshot::channel();
    watcher.queries.send(L1WatcherQueries::Config(reply)).await.unwrap();
    assert_eq!(answer.await.unwrap().l1_system_config_address, SYSTEM_CONFIG);

    watcher.cancellation.cancel();
    watcher.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn delivers_the_signer_updates_of_every_block_between_two_polls_in_order() {
    let anvil = Anvil::start();
    let l1: RootProvider = RootProvider::new_http(anvil.url());
    let _: serde_json::Value =
        l1.raw_request("anvil_setCode".into(), (SYSTEM_CONFIG, EMITTER_CODE)).await.unwrap();
    // A poll every 2 s: both updates below land in blocks between two polls (or one before and
    // one after a poll); either way both must arrive, in L1 order. More than MAX_LOG_RANGE empty
    // blocks between them make the watcher read the logs in slices.
    let mut watcher = start(anvil.url(), Duration::from_secs(2));
    let _ = wait_for_head(&mut watcher.heads, 0).await;
    let (first, second) = (Address::repeat_byte(0x11), Address::repeat_byte(0x22));
    emit_signer_update(&l1, first).await;
    let _: serde_json::Value =
        l1.raw_request("anvil_mine".into(), (MAX_LOG_RANGE + 100,)).await.unwrap();
    emit_signer_update(&l1, second).await;
    let head = l1.get_block_number().await.unwrap();
    assert!(head >= MAX_LOG_RANGE + 102, "one block per update, and the empty ones: head {head}");

    let received = tokio::time::timeout(Duration::from_secs(20), async {
        vec![watcher.signers.recv().await.unwrap(), watcher.signers.recv().await.unwrap()]
    })
    .await
    .expect("the signer updates never arrived");
    assert_eq!(received, vec![first, second]);
    let _ = wait_for_head(&mut watcher.heads, head).await;
    assert!(watcher.signers.try_recv().is_err(), "each update once");

    watcher.cancellation.cancel();
    watcher.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn keeps_polling_through_an_l1_outage_and_publishes_once_l1_answers() {
    let port = common::free_port();
    let url: url::Url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let mut watcher = start(url, Duration::from_millis(100));
    // Several failed polls: the actor must still be running (kona's watcher would have ended,
    // and with it every other actor).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!watcher.task.is_finished(), "a failed poll ended the watcher");
    assert!(watcher.heads.borrow().is_none());

    let anvil = Anvil::start_on(port);
    let l1: RootProvider = RootProvider::new_http(anvil.url());
    let _: serde_json::Value = l1.raw_request("anvil_mine".into(), (3,)).await.unwrap();
    assert_eq!(wait_for_head(&mut watcher.heads, 3).await.number, 3);

    watcher.cancellation.cancel();
    watcher.task.await.unwrap().unwrap();
}
