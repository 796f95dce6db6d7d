//! Derivation end to end (what `tests/e2e/derivation_e2e.sh` checked before it moved here): the
//! safe and finalized heads advance, both validators (P2P and L1-only) reach the sequencer's safe
//! head with its hashes, no engine RPC is open, an L1 reorg that drops a batch is healed, a
//! validator killed with SIGKILL catches up, a restart of the whole devnet (batcher included)
//! leaves no gap, and the L1 keeps one block per slot throughout.
//!
//! Needs `ROLLUP_BIN` (a release `rollup` build); run with `just derivation-e2e` (`blobs` for a
//! batcher posting blobs). Without it the test is ignored: nextest reports it as skipped, not as
//! passed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::B256;
use alloy_provider::{Provider, RootProvider};
use op_alloy_network::Optimism;
use rollup_op_chain_e2e::{Devnet, DevnetSettings, Node, wait_until};
use std::time::Duration;

fn l2(devnet: &Devnet, node: Node) -> RootProvider<Optimism> {
    RootProvider::new_http(devnet.l2(node))
}

fn l1(devnet: &Devnet) -> RootProvider {
    RootProvider::new_http(devnet.l1())
}

async fn hash_at(devnet: &Devnet, node: Node, number: u64) -> Option<B256> {
    let block = l2(devnet, node).get_block_by_number(number.into()).await.ok()??;
    Some(block.header.hash)
}

/// Waits until `node`'s head `which` (0 unsafe, 1 safe, 2 finalized) reaches `target`, then
/// checks that its block `target` is the sequencer's.
async fn reaches_with_the_sequencers_hash(
    devnet: &Devnet,
    node: Node,
    which: usize,
    target: u64,
    limit: Duration,
    what: &str,
) {
    wait_until(|| async move {
        let heads = devnet.heads(node).await?;
        ([heads.0, heads.1, heads.2][which] >= target).then_some(())
    })
    .within(limit, what)
    .await;
    let ours = hash_at(devnet, node, target).await.unwrap();
    let sequencers = hash_at(devnet, Node::Sequencer, target).await.unwrap();
    assert_eq!(ours, sequencers, "{what}: block {target} differs from the sequencer's");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ROLLUP_BIN, a release rollup build: just e2e-op-chain"]
async fn derivation_follows_the_sequencer_through_reorg_kill_and_restart() {
    let mut devnet = Devnet::start(DevnetSettings::default().l2_block_time(1)).await;

    // The safe head advances: batches are posted and derived.
    let safe = wait_until(|| async {
        let (_, safe, _) = devnet.heads(Node::Sequencer).await?;
        (safe > 3).then_some(safe)
    })
    .within(Duration::from_secs(120), "the sequencer's safe head past block 3")
    .await;
    assert!(hash_at(&devnet, Node::Sequencer, safe).await.is_some());

    // No engine RPC: reth's auth server is off on every node, and the sequencer built its
    // blocks through the in-process engine.
    for node in Node::ALL {
        let port = devnet.auth_port(node);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{node:?}: something listens on the auth port {port}"
        );
    }
    let built = devnet.metric(Node::Sequencer, "rollup_engine_build_seconds_count").await;
    assert!(built.unwrap_or_default() > 0.0, "no block built through the in-process engine");

    // Both validators reach the sequencer's safe head with its hashes.
    let (_, target, _) = devnet.heads(Node::Sequencer).await.unwrap();
    for node in [Node::P2pValidator, Node::L1Validator] {
        let what = format!("{node:?} at the sequencer's safe head");
        reaches_with_the_sequencers_hash(&devnet, node, 1, target, Duration::from_secs(120), &what)
            .await;
    }

    // The P2P validator follows the sequencer's unsafe head over gossip.
    let (unsafe_head, _, _) = devnet.heads(Node::Sequencer).await.unwrap();
    let what = "the P2P validator's unsafe head at the sequencer's";
    reaches_with_the_sequencers_hash(
        &devnet,
        Node::P2pValidator,
        0,
        unsafe_head,
        Duration::from_secs(30),
        what,
    )
    .await;

    // The finalized head advances on the sequencer and the L1-only validator.
    wait_until(|| async {
        let (_, _, sequencer) = devnet.heads(Node::Sequencer).await?;
        let (_, _, validator) = devnet.heads(Node::L1Validator).await?;
        (sequencer > 0 && validator > 0).then_some(())
    })
    .within(Duration::from_secs(180), "finalized heads past genesis")
    .await;

    // An L1 reorg that drops a batcher transaction is healed.
    let inbox = devnet.rollup_config().batch_inbox_address;
    let l1 = l1(&devnet);
    let batch = wait_until(|| {
        let l1 = l1.clone();
        async move {
            let head = l1.get_block_number().await.ok()?;
            for number in (head.saturating_sub(3)..=head).rev() {
                let block = l1.get_block_by_number(number.into()).full().await.ok()??;
                let to_inbox = block
                    .transactions
                    .txns()
                    .any(|tx| alloy_consensus::Transaction::to(tx) == Some(inbox));
                if to_inbox {
                    return Some(number);
                }
            }
            None
        }
    })
    .within(Duration::from_secs(60), "a batcher transaction within the last 3 L1 blocks")
    .await;
    // L1 holds still between reading its head and the reorg, so the reorg takes out the block
    // with the batch; shallower than the sequencer's L1 confirmations (4), so the L2 chain's
    // origins survive.
    let _: serde_json::Value = l1.raw_request("evm_setIntervalMining".into(), (0,)).await.unwrap();
    let head = l1.get_block_number().await.unwrap();
    let depth = head - batch + 1;
    assert!(depth <= 3, "the batch went too deep ({depth}) before L1 stood still");
    let _: serde_json::Value = l1
        .raw_request("anvil_reorg".into(), (depth, Vec::<serde_json::Value>::new()))
        .await
        .unwrap();
    let _: serde_json::Value = l1
        .raw_request("evm_setIntervalMining".into(), (devnet.settings.l1_block_time,))
        .await
        .unwrap();
    let (target, _, _) = devnet.heads(Node::Sequencer).await.unwrap();
    let what = "the L1-only validator's safe head past the reorg";
    reaches_with_the_sequencers_hash(
        &devnet,
        Node::L1Validator,
        1,
        target,
        Duration::from_secs(120),
        what,
    )
    .await;

    // A validator killed with SIGKILL restarts and catches up.
    devnet.kill_and_restart(Node::P2pValidator).await;
    let (target, _, _) = devnet.heads(Node::Sequencer).await.unwrap();
    let what = "the killed validator's unsafe head at the sequencer's";
    reaches_with_the_sequencers_hash(
        &devnet,
        Node::P2pValidator,
        0,
        target,
        Duration::from_secs(120),
        what,
    )
    .await;

    // The whole devnet restarts (sequencer and batcher included): no gap in what is posted, so
    // the L1-only validator derives past where the sequencer stood.
    devnet.restart().await;
    let (unsafe_head, _, _) = wait_until(|| devnet.heads(Node::Sequencer))
        .within(Duration::from_secs(60), "the restarted sequencer's kona RPC")
        .await;
    let what = "the L1-only validator's safe head past the restart";
    reaches_with_the_sequencers_hash(
        &devnet,
        Node::L1Validator,
        1,
        unsafe_head + 5,
        Duration::from_secs(150),
        what,
    )
    .await;

    // One L1 block per slot throughout (kona asks for blobs by slot), the reorg and the
    // restart included.
    let head = l1.get_block_number().await.unwrap();
    let mut timestamps = Vec::new();
    for number in 0..=head {
        let block =
            l1.get_block_by_number(BlockNumberOrTag::Number(number)).await.unwrap().unwrap();
        timestamps.push(block.header.timestamp);
    }
    let slot = |t: u64| (t - timestamps[0]) / devnet.settings.l1_block_time;
    let shared: Vec<u64> = (1..=head)
        .filter(|&n| slot(timestamps[n as usize]) <= slot(timestamps[n as usize - 1]))
        .collect();
    // The beacon adapter pins anvil to the slot grid before the contracts are deployed, so
    // every block has a slot of its own, the deployment's included.
    assert!(shared.is_empty(), "L1 blocks in the slot of their parent: {shared:?}");
}
