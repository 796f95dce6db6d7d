//! Withdrawals round trip with the sequencer's built-in proposer, and the safe-head database:
//!
//! - ETH withdrawn on L2 (through the `L2ToL1MessagePasser` and through the L2 bridge) is
//!   proven with the output roots the proposer posted and finalized: the L1 balance is credited;
//! - the proposer killed with SIGKILL and restarted leaves no duplicate and no skipped output
//!   index, and every output root is the one an independent node computes;
//! - `optimism_safeHeadAtL1Block` agrees with the safe heads seen during the run, answers the
//!   same after a restart, and names only canonical L1 blocks after an `anvil_reorg`.
//!
//! Needs `ROLLUP_BIN` (a release `rollup` build); run with `just e2e-op-chain`. Without it the
//! test is ignored: nextest reports it as skipped, not as passed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::BlockNumberOrTag;
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use rollup_devnet::WithdrawalClient;
use rollup_op_chain_e2e::{Devnet, DevnetSettings, Node, rpc, wait_until};
use rollup_op_contracts::{bindings, predeploys};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

/// anvil's first key: owner of the devnet's L1 contracts; deposits ETH into the portal and
/// sends the proofs and finalizations.
const OWNER_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// anvil's fourth key (0x90F7…b906): withdraws on L2 to itself on L1.
const USER_KEY: &str = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const USER: Address = address!("90F79bf6EB2c4f870365E785982E1f101E93b906");
/// anvil's third account: the proposer the devnet's L2OutputOracle names.
const PROPOSER: Address = address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
/// The L2 bridge's name for ETH.
const LEGACY_ERC20_ETH: Address = address!("DeadDeAddeAddEAddeadDEaDDEAdDeaDDeAD0000");
/// The devnet oracle's submission interval, in L2 blocks.
const SUBMISSION_INTERVAL: u64 = 10;

fn ether_milli(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(15u64))
}

fn l1(devnet: &Devnet) -> RootProvider {
    RootProvider::new_http(devnet.l1())
}

async fn oracle_view<C: SolCall>(devnet: &Devnet, call: C) -> C::Return {
    let oracle = devnet.addresses().l2_output_oracle_proxy;
    bindings::view(&l1(devnet), oracle, call).await.unwrap()
}

/// The oracle's outputs, oldest first: (L2 block, output root).
async fn outputs_on_l1(devnet: &Devnet) -> Vec<(u64, B256)> {
    let count = oracle_view(devnet, bindings::L2OutputOracle::nextOutputIndexCall {}).await;
    let mut outputs = Vec::new();
    for index in 0..count.to::<u64>() {
        let call = bindings::L2OutputOracle::getL2OutputCall { _l2OutputIndex: U256::from(index) };
        let output = oracle_view(devnet, call).await;
        outputs.push((u64::try_from(output.l2BlockNumber).unwrap(), output.outputRoot));
    }
    outputs
}

/// Sends an L2 transaction from `key` on the sequencer and returns its hash once mined.
async fn send_l2(devnet: &Devnet, key: &str, to: Address, data: Vec<u8>, value: U256) -> B256 {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(devnet.l2(Node::Sequencer));
    let tx = TransactionRequest::default().with_to(to).with_input(data).with_value(value);
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "L2 transaction to {to} reverted");
    receipt.transaction_hash
}

/// `optimism_safeHeadAtL1Block` of `node`: ((L1 number, L1 hash), (L2 number, L2 hash)).
type SafeHeadEntry = ((u64, B256), (u64, B256));

async fn safe_head_at(devnet: &Devnet, node: Node, l1_block: u64) -> Option<SafeHeadEntry> {
    let answer = rpc(
        &devnet.kona(node),
        "optimism_safeHeadAtL1Block",
        serde_json::json!([format!("{l1_block:#x}")]),
    )
    .await?;
    let id = |key: &str| -> Option<(u64, B256)> {
        let number = answer[key]["number"].as_u64()?;
        let hash = answer[key]["hash"].as_str()?.parse().ok()?;
        Some((number, hash))
    };
    Some((id("l1Block")?, id("safeHead")?))
}

/// Every L1 block from `from` to `to` with the answer for it (`None`: no entry at or below).
async fn sweep(
    devnet: &Devnet,
    node: Node,
    from: u64,
    to: u64,
) -> BTreeMap<u64, Option<SafeHeadEntry>> {
    let mut answers = BTreeMap::new();
    for number in from..=to {
        answers.insert(number, safe_head_at(devnet, node, number).await);
    }
    answers
}

/// The hash of block `number` of the chain `url` serves.
async fn hash_at(url: url::Url, number: u64) -> B256 {
    RootProvider::<alloy_network::Ethereum>::new_http(url)
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await
        .unwrap()
        .unwrap()
        .header
        .hash
}

/// Checks a sweep: each answer names an L1 block at or below the one asked for, both blocks
/// canonical, and safe heads never go back as L1 goes on. Returns how many distinct entries.
async fn check_canonical(
    devnet: &Devnet,
    node: Node,
    answers: &BTreeMap<u64, Option<SafeHeadEntry>>,
) -> usize {
    let mut previous: Option<SafeHeadEntry> = None;
    let mut distinct = 0;
    for (&asked, answer) in answers {
        let Some(entry @ ((l1_number, l1_block_hash), (l2_number, l2_block_hash))) = *answer else {
            assert!(previous.is_none(), "L1 block {asked}: no entry, but an earlier block had one");
            continue;
        };
        assert!(l1_number <= asked, "L1 block {asked}: answered with later block {l1_number}");
        if previous.is_none_or(|p| p != entry) {
            distinct += 1;
            assert_eq!(
                l1_block_hash,
                hash_at(devnet.l1(), l1_number).await,
                "L1 block {l1_number} not canonical"
            );
            assert_eq!(
                l2_block_hash,
                hash_at(devnet.l2(node), l2_number).await,
                "safe head {l2_number} (at L1 {l1_number}) not canonical"
            );
        }
        if let Some((_, (previous_l2, _))) = previous {
            assert!(l2_number >= previous_l2, "L1 block {asked}: safe head went back");
        }
        previous = Some(entry);
    }
    distinct
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ROLLUP_BIN, a release rollup build: just e2e-op-chain"]
async fn withdrawals_proposer_restart_and_safe_head_database() {
    // The proposer runs on the P2P validator: the sequencer's death ends devnet.sh, and a
    // validator proposes from the same final chain.
    let proposer_node = Node::P2pValidator;
    let mut devnet = Devnet::start(DevnetSettings::default().proposer(proposer_node)).await;
    let contracts = devnet.addresses();
    let origin = devnet.rollup_config().genesis.l1.number;
    let observer = Node::L1Validator;

    // The safe heads the L1-only validator reports while the test runs, with the L1 head it
    // had seen: the safe head at a moment was derived from L1 blocks at or below that head.
    let samples: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let sampler = tokio::spawn({
        let (kona, samples) = (devnet.kona(observer), samples.clone());
        async move {
            loop {
                if let Some(status) = rpc(&kona, "optimism_syncStatus", serde_json::json!([])).await
                    && let (Some(l1), Some(safe)) = (
                        status["current_l1"]["number"].as_u64(),
                        status["safe_l2"]["number"].as_u64(),
                    )
                    && safe > 0
                {
                    samples.lock().unwrap().push((l1, safe));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });

    // The portal holds the ETH withdrawals take out of it: the owner deposits some.
    let owner: PrivateKeySigner = OWNER_KEY.parse().unwrap();
    let owner_l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(devnet.l1());
    let deposit = bindings::OptimismPortal::depositTransactionCall {
        _to: owner.address(),
        _value: ether_milli(5_000),
        _gasLimit: 100_000,
        _isCreation: false,
        _data: Bytes::new(),
    };
    let tx = TransactionRequest::default()
        .with_to(contracts.optimism_portal_proxy)
        .with_input(deposit.abi_encode())
        .with_value(ether_milli(5_000));
    assert!(owner_l1.send_transaction(tx).await.unwrap().get_receipt().await.unwrap().status());

    // Two withdrawals on L2: straight through the message passer, and through the bridge.
    let user_before = l1(&devnet).get_balance(USER).await.unwrap();
    let direct = send_l2(
        &devnet,
        USER_KEY,
        predeploys::L2_TO_L1_MESSAGE_PASSER,
        bindings::L2ToL1MessagePasser::initiateWithdrawalCall {
            _target: USER,
            _gasLimit: U256::from(100_000),
            _data: Bytes::new(),
        }
        .abi_encode(),
        ether_milli(1_000),
    )
    .await;
    let bridged = send_l2(
        &devnet,
        USER_KEY,
        predeploys::L2_STANDARD_BRIDGE,
        bindings::L2StandardBridge::withdrawCall {
            _l2Token: LEGACY_ERC20_ETH,
            _amount: ether_milli(500),
            _minGasLimit: 200_000,
            _extraData: Bytes::new(),
        }
        .abi_encode(),
        ether_milli(500),
    )
    .await;
    let client = WithdrawalClient::new(
        &devnet.l1(),
        &devnet.l2(Node::Sequencer),
        contracts.optimism_portal_proxy,
        owner,
    );
    let last_withdrawal_block = client.withdrawal(bridged).await.unwrap().l2_block;

    // The proposer posts the first output; then it dies with SIGKILL and starts again.
    wait_until(|| async { (!outputs_on_l1(&devnet).await.is_empty()).then_some(()) })
        .within(Duration::from_secs(240), "the first output proposal")
        .await;
    devnet.kill_and_restart(proposer_node).await;

    // It goes on until the withdrawals' blocks are covered.
    let covered = wait_until(|| async {
        let outputs = outputs_on_l1(&devnet).await;
        outputs.last().is_some_and(|(block, _)| *block >= last_withdrawal_block).then_some(outputs)
    })
    .within(Duration::from_secs(300), "outputs covering the withdrawals")
    .await;

    // One output per index, none skipped, each the root an independent node computes; and
    // every transaction the proposer sent is one of them (no duplicate that reverted).
    for (index, (block, root)) in covered.iter().enumerate() {
        assert_eq!(*block, SUBMISSION_INTERVAL * (index as u64 + 1), "output {index}");
        let answer = rpc(
            &devnet.kona(Node::L1Validator),
            "optimism_outputAtBlock",
            serde_json::json!([format!("{block:#x}")]),
        )
        .await
        .unwrap();
        let expected: B256 = answer["outputRoot"].as_str().unwrap().parse().unwrap();
        assert_eq!(*root, expected, "output root of L2 block {block}");
    }
    let proposals = outputs_on_l1(&devnet).await.len() as u64;
    let proposer_nonce = l1(&devnet)
        .get_transaction_count(PROPOSER)
        .block_id(BlockNumberOrTag::Latest.into())
        .await
        .unwrap();
    assert_eq!(proposer_nonce, proposals, "proposer transactions that are not outputs");

    // Prove both withdrawals, then finalize them: the L1 balance is credited with exactly what
    // was withdrawn (the owner pays the L1 gas).
    for tx in [direct, bridged] {
        let proven = client.prove(tx).await.unwrap();
        assert!(proven.output_block >= client.withdrawal(tx).await.unwrap().l2_block);
        // A second proof of a proven withdrawal is a no-op.
        assert_eq!(client.prove(tx).await.unwrap().tx, None);
    }
    for tx in [direct, bridged] {
        assert!(client.finalize(tx, Duration::from_secs(120)).await.unwrap().is_some());
        assert_eq!(client.finalize(tx, Duration::from_secs(1)).await.unwrap(), None);
    }
    let user_after = l1(&devnet).get_balance(USER).await.unwrap();
    assert_eq!(user_after - user_before, ether_milli(1_500), "L1 balance credited");

    // The safe-head database against what the validator reported during the run.
    sampler.abort();
    let samples = samples.lock().unwrap().clone();
    assert!(samples.len() > 30, "too few safe head samples: {}", samples.len());
    let l1_head = l1(&devnet).get_block_number().await.unwrap();
    let before_restart = sweep(&devnet, observer, origin, l1_head).await;
    let distinct = check_canonical(&devnet, observer, &before_restart).await;
    assert!(distinct > 10, "only {distinct} distinct safe head entries");
    for &(seen_l1, seen_safe) in &samples {
        // Derived from L1 at or below `seen_l1`, so recorded at or below it.
        let at = before_restart.get(&seen_l1).copied().flatten();
        let ((_, _), (safe, _)) = at.unwrap_or_else(|| panic!("no entry at L1 {seen_l1}"));
        assert!(safe >= seen_safe, "L1 {seen_l1}: safe head {safe}, but {seen_safe} was safe then");
    }
    // The newest entry is the safe head now.
    let (_, low, _) = devnet.heads(observer).await.unwrap();
    let newest = safe_head_at(&devnet, observer, u64::MAX >> 1).await.unwrap();
    let (_, high, _) = devnet.heads(observer).await.unwrap();
    assert!((low..=high).contains(&newest.1.0), "newest entry {newest:?}, safe {low}..{high}");

    // A restart keeps every entry. (An entry the restart's engine reset voids, one above the
    // safe head it resets to, is written again when derivation passes its L1 block again.)
    devnet.restart().await;
    let ((derived_before, _), (newest_before, _)) =
        before_restart.values().flatten().last().copied().unwrap();
    // Past the newest entry the answers were about L1 blocks derivation had not finished yet.
    let before_restart: BTreeMap<_, _> =
        before_restart.into_iter().filter(|(l1, _)| *l1 <= derived_before).collect();
    let devnet_ref = &devnet;
    wait_until(|| async move {
        let ((l1_number, _), (safe, _)) = safe_head_at(devnet_ref, observer, u64::MAX >> 1).await?;
        (l1_number > l1_head && safe > newest_before).then_some(())
    })
    .within(Duration::from_secs(180), "the restarted validator deriving past the swept blocks")
    .await;
    // The restart's reset voided the entries above the safe head it went back to; derivation
    // writes them again as it passes their L1 blocks, so the answers converge.
    let mut after_restart = BTreeMap::new();
    for _ in 0..30 {
        after_restart = sweep(&devnet, observer, origin, derived_before).await;
        if after_restart == before_restart {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let changed: Vec<_> = before_restart
        .iter()
        .filter(|(l1, answer)| after_restart.get(l1) != Some(answer))
        .map(|(l1, answer)| (l1, answer, after_restart.get(l1)))
        .collect();
    assert!(changed.is_empty(), "entries changed across a restart: {changed:?}");

    // An L1 reorg: entries of the orphaned blocks go, and what is re-derived names the new ones.
    // Taken once the newest entry is at one of the two newest L1 blocks, so that the reorg (3
    // blocks, shallower than the sequencer's 4 L1 confirmations) takes an entry with it.
    let l1_rpc = l1(&devnet);
    wait_until(|| async {
        let head = l1_rpc.get_block_number().await.ok()?;
        let ((newest, _), _) = safe_head_at(&devnet, observer, u64::MAX >> 1).await?;
        (newest + 1 >= head).then_some(())
    })
    .within(Duration::from_secs(60), "an entry at one of the newest L1 blocks")
    .await;
    let _: serde_json::Value =
        l1_rpc.raw_request("evm_setIntervalMining".into(), (0,)).await.unwrap();
    let fork_head = l1_rpc.get_block_number().await.unwrap();
    let depth = 3u64;
    let orphaned = sweep(&devnet, observer, fork_head - depth, fork_head).await;
    let _: serde_json::Value = l1_rpc
        .raw_request("anvil_reorg".into(), (depth, Vec::<serde_json::Value>::new()))
        .await
        .unwrap();
    let _: serde_json::Value = l1_rpc
        .raw_request("evm_setIntervalMining".into(), (devnet.settings.l1_block_time,))
        .await
        .unwrap();
    let (_, target, _) = devnet.heads(Node::Sequencer).await.unwrap();
    let devnet_ref = &devnet;
    wait_until(|| async move {
        let (_, safe, _) = devnet_ref.heads(observer).await?;
        let ((l1_number, _), _) = safe_head_at(devnet_ref, observer, u64::MAX >> 1).await?;
        (safe > target + 4 && l1_number > fork_head).then_some(())
    })
    .within(Duration::from_secs(180), "the validator's safe head past the reorg")
    .await;
    let l1_head = l1_rpc.get_block_number().await.unwrap();
    let after_reorg = sweep(&devnet, observer, origin, l1_head).await;
    check_canonical(&devnet, observer, &after_reorg).await;
    assert!(
        orphaned.values().flatten().any(|((number, _), _)| *number > fork_head - depth),
        "the reorg took out no block with an entry: nothing was tested ({orphaned:?})"
    );
}
