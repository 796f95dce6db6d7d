//! A real OP Stack chain, end to end: deposits from L1 (portal, bridge, contract creation, a
//! reverting call), SystemConfig updates that derivation follows, and Isthmus activating
//! mid-chain, each checked on the sequencer, a P2P validator and an L1-only validator.
//!
//! Needs `ROLLUP_BIN` (a release `rollup` build); run with `just e2e-op-chain`. Without it the
//! test is ignored: nextest reports it as skipped, not as passed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::BlockNumberOrTag;
use alloy_network::ReceiptResponse;
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use op_alloy_network::Optimism;
use op_alloy_rpc_types::{OpTransactionReceipt, OpTransactionRequest};
use rollup_op_chain_e2e::{Devnet, DevnetSettings, Node, wait_until};
use rollup_op_contracts::{bindings, predeploys};
use std::time::Duration;

/// anvil's first key: owner of the devnet's L1 contracts.
const OWNER_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// anvil's fourth key (0x90F7…b906): a user depositing from L1.
const USER_KEY: &str = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const USER: Address = address!("90F79bf6EB2c4f870365E785982E1f101E93b906");
/// anvil's sixth key (0x9965…A4dc): the batcher the test rotates to.
const NEW_BATCHER_KEY: &str = "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
/// Derivation of a deposit takes the sequencer's L1 confirmations (4 blocks) plus a few L2 blocks.
const DERIVED: Duration = Duration::from_secs(120);

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A node's L2 RPC, with OP types: deposit receipts do not decode as Ethereum receipts.
fn l2(devnet: &Devnet, node: Node) -> RootProvider<Optimism> {
    RootProvider::new_http(devnet.l2(node))
}

/// Sends `data` with `value` to `to` on L1 from `key`, and returns the mined receipt.
async fn send_l1(
    devnet: &Devnet,
    key: &str,
    to: Address,
    data: Vec<u8>,
    value: U256,
) -> TransactionReceipt {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(devnet.l1());
    let tx = TransactionRequest::default().with_to(to).with_input(data).with_value(value);
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "L1 transaction to {to} reverted");
    receipt
}

/// The L2 transaction hash of the deposit an L1 receipt's portal log describes.
fn deposit_hash(devnet: &Devnet, receipt: &TransactionReceipt) -> B256 {
    let portal = devnet.addresses().optimism_portal_proxy;
    let log = receipt
        .inner
        .logs()
        .iter()
        .find(|log| {
            log.address() == portal
                && log.topics().first()
                    == Some(&bindings::OptimismPortal::TransactionDeposited::SIGNATURE_HASH)
        })
        .expect("the portal logged a deposit");
    let encoded = kona_protocol::decode_deposit(
        receipt.block_hash.unwrap(),
        log.log_index.unwrap() as usize,
        &log.inner,
    )
    .unwrap();
    keccak256(encoded)
}

/// Waits for an L2 transaction on all three nodes; they must agree on its block. Returns the
/// sequencer's receipt.
async fn on_every_node(devnet: &Devnet, hash: B256, what: &str) -> OpTransactionReceipt {
    let mut receipts = Vec::new();
    for node in Node::ALL {
        let provider = l2(devnet, node);
        let receipt = wait_until(|| {
            let provider = provider.clone();
            async move { provider.get_transaction_receipt(hash).await.ok().flatten() }
        })
        .within(DERIVED, &format!("{what} on {node:?}"))
        .await;
        receipts.push(receipt);
    }
    for receipt in &receipts[1..] {
        assert_eq!(
            receipt.block_hash(),
            receipts[0].block_hash(),
            "{what}: nodes disagree on its block"
        );
    }
    receipts.swap_remove(0)
}

async fn l2_call<C: SolCall>(
    provider: &RootProvider<Optimism>,
    to: Address,
    call: C,
    at: BlockNumberOrTag,
) -> Option<C::Return> {
    let tx = OpTransactionRequest::default().with_to(to).with_input(call.abi_encode());
    let out = provider.call(tx).block(at.into()).await.ok()?;
    C::abi_decode_returns(&out).ok()
}

/// `Some` once the sequencer's batcher reports `kona_batcher_authorized` = `want`.
async fn batcher_authorized(devnet: &Devnet, want: f64) -> Option<()> {
    let value = devnet.metric(Node::Sequencer, "kona_batcher_authorized").await?;
    (value == want).then_some(())
}

/// Waits until the L1-only validator's safe head passes `number`.
async fn safe_past(devnet: &Devnet, number: u64, what: &str) {
    wait_until(|| async move {
        let (_, safe, _) = devnet.heads(Node::L1Validator).await?;
        (safe > number).then_some(())
    })
    .within(Duration::from_secs(180), what)
    .await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ROLLUP_BIN, a release rollup build: just e2e-op-chain"]
async fn op_chain_deposits_system_config_and_isthmus() {
    let mut devnet = Devnet::start(DevnetSettings::default().isthmus_delay(150)).await;
    let contracts = devnet.addresses();
    let config = devnet.rollup_config();
    assert_eq!(config.deposit_contract_address, contracts.optimism_portal_proxy);
    assert_eq!(config.l1_system_config_address, contracts.system_config_proxy);
    let isthmus = config.hardforks.isthmus_time.unwrap();
    assert_eq!(isthmus, config.genesis.l2_time + 150);
    let sequencer = l2(&devnet, Node::Sequencer);

    // Isthmus is still ahead: the package's L1Block has no Isthmus fields.
    let head = sequencer.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    assert!(head.header.timestamp < isthmus, "the scenarios before Isthmus started too late");
    assert!(
        l2_call(
            &sequencer,
            predeploys::L1_BLOCK,
            bindings::L1Block::operatorFeeScalarCall {},
            BlockNumberOrTag::Latest
        )
        .await
        .is_none(),
        "operatorFeeScalar exists only after the Isthmus upgrade"
    );

    // 1. ETH through OptimismPortal.depositTransaction, to a fresh address.
    let portal_recipient = address!("00000000000000000000000000000000000a11ce");
    let receipt = send_l1(
        &devnet,
        USER_KEY,
        contracts.optimism_portal_proxy,
        bindings::OptimismPortal::depositTransactionCall {
            _to: portal_recipient,
            _value: ether(1),
            _gasLimit: 100_000,
            _isCreation: false,
            _data: Bytes::new(),
        }
        .abi_encode(),
        ether(1),
    )
    .await;
    let deposit = on_every_node(&devnet, deposit_hash(&devnet, &receipt), "portal deposit").await;
    assert!(deposit.status());
    for node in Node::ALL {
        assert_eq!(l2(&devnet, node).get_balance(portal_recipient).await.unwrap(), ether(1));
    }

    // 2. ETH through L1StandardBridge.depositETHTo: the messenger and bridge predeploys relay it.
    let bridge_recipient = address!("00000000000000000000000000000000000b0b00");
    let receipt = send_l1(
        &devnet,
        USER_KEY,
        contracts.l1_standard_bridge_proxy,
        bindings::L1StandardBridge::depositETHToCall {
            _to: bridge_recipient,
            _minGasLimit: 200_000,
            _extraData: Bytes::new(),
        }
        .abi_encode(),
        ether(2),
    )
    .await;
    let deposit = on_every_node(&devnet, deposit_hash(&devnet, &receipt), "bridge deposit").await;
    assert!(deposit.status(), "the L2 messenger relayed the bridge deposit");
    for node in Node::ALL {
        assert_eq!(l2(&devnet, node).get_balance(bridge_recipient).await.unwrap(), ether(2));
    }

    // 3. A deposit that creates a contract on L2 (its code returns 42).
    let runtime: &[u8] = &[0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];
    let mut init = vec![0x69];
    init.extend_from_slice(runtime);
    init.extend_from_slice(&[0x60, 0x00, 0x52, 0x60, 0x0a, 0x60, 0x16, 0xf3]);
    let receipt = send_l1(
        &devnet,
        USER_KEY,
        contracts.optimism_portal_proxy,
        bindings::OptimismPortal::depositTransactionCall {
            _to: Address::ZERO,
            _value: U256::ZERO,
            _gasLimit: 200_000,
            _isCreation: true,
            _data: init.into(),
        }
        .abi_encode(),
        U256::ZERO,
    )
    .await;
    let deposit = on_every_node(&devnet, deposit_hash(&devnet, &receipt), "creating deposit").await;
    assert!(deposit.status());
    // The contract sits where the EVM put it: the sender's address and its L2 nonce before the
    // deposit. (op-reth v1.6.0's receipt `contractAddress` for a creating deposit is computed with
    // nonce 0 instead of the deposit nonce, so it is not used here.)
    let block = deposit.block_number().unwrap();
    let nonce = sequencer.get_transaction_count(USER).block_id((block - 1).into()).await.unwrap();
    let created = USER.create(nonce);
    for node in Node::ALL {
        assert_eq!(l2(&devnet, node).get_code_at(created).await.unwrap().as_ref(), runtime);
    }

    // 4. A deposit whose L2 call reverts (only the depositor account may call setEcotone): the
    //    ETH it mints is credited to the sender all the same.
    let receipt = send_l1(
        &devnet,
        USER_KEY,
        contracts.optimism_portal_proxy,
        bindings::OptimismPortal::depositTransactionCall {
            _to: predeploys::GAS_PRICE_ORACLE,
            _value: U256::ZERO,
            _gasLimit: 100_000,
            _isCreation: false,
            _data: bindings::GasPriceOracle::setEcotoneCall {}.abi_encode().into(),
        }
        .abi_encode(),
        ether(3),
    )
    .await;
    let deposit =
        on_every_node(&devnet, deposit_hash(&devnet, &receipt), "reverting deposit").await;
    assert!(!deposit.status(), "the L2 call reverts");
    let block = deposit.block_number().unwrap();
    let before = sequencer.get_balance(USER).block_id((block - 1).into()).await.unwrap();
    let after = sequencer.get_balance(USER).block_id(block.into()).await.unwrap();
    assert_eq!(after - before, ether(3), "the mint is credited even though the call reverted");

    // 5. SystemConfig.setGasLimit: L2 blocks take the new limit from the first block whose L1
    //    origin is the block that changed it.
    let receipt = send_l1(
        &devnet,
        OWNER_KEY,
        contracts.system_config_proxy,
        bindings::SystemConfig::setGasLimitCall { _gasLimit: 40_000_000 }.abi_encode(),
        U256::ZERO,
    )
    .await;
    let changed_at = receipt.block_number.unwrap();
    let first = wait_until(|| {
        let sequencer = sequencer.clone();
        async move {
            let head = sequencer.get_block_number().await.ok()?;
            for number in (1..=head).rev() {
                let block = sequencer.get_block_by_number(number.into()).await.ok()??;
                if block.header.gas_limit != 40_000_000 {
                    return (number < head).then_some(number + 1);
                }
            }
            None
        }
    })
    .within(DERIVED, "an L2 block with the new gas limit")
    .await;
    let origin_of = |number: u64| {
        let sequencer = sequencer.clone();
        async move {
            l2_call(
                &sequencer,
                predeploys::L1_BLOCK,
                bindings::L1Block::numberCall {},
                number.into(),
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(origin_of(first).await, changed_at, "the new limit starts with its L1 block");
    assert!(origin_of(first - 1).await < changed_at);

    // 6. The fee scalars: the gas price oracle reports what SystemConfig set.
    send_l1(
        &devnet,
        OWNER_KEY,
        contracts.system_config_proxy,
        bindings::SystemConfig::setGasConfigEcotoneCall {
            _basefeeScalar: 2_000_000,
            _blobbasefeeScalar: 7,
        }
        .abi_encode(),
        U256::ZERO,
    )
    .await;
    wait_until(|| {
        let sequencer = sequencer.clone();
        async move {
            let scalar = l2_call(
                &sequencer,
                predeploys::GAS_PRICE_ORACLE,
                bindings::GasPriceOracle::baseFeeScalarCall {},
                BlockNumberOrTag::Latest,
            )
            .await?;
            (scalar == 2_000_000).then_some(())
        }
    })
    .within(DERIVED, "the gas price oracle reporting the new base fee scalar")
    .await;

    // 7. Isthmus activates mid-chain: the three nodes agree on the fork block, the upgraded
    //    L1Block answers the Isthmus fields, and the block hash history contract is deployed.
    wait_until(|| {
        let devnet = &devnet;
        async move {
            let (_, safe, _) = devnet.heads(Node::L1Validator).await?;
            let block =
                l2(devnet, Node::L1Validator).get_block_by_number(safe.into()).await.ok()??;
            (block.header.timestamp >= isthmus + 10).then_some(())
        }
    })
    .within(Duration::from_secs(400), "the L1-only validator's safe head past Isthmus")
    .await;
    let genesis_time = config.genesis.l2_time;
    let fork_number = (isthmus - genesis_time).div_ceil(config.block_time);
    let mut hashes = Vec::new();
    for node in Node::ALL {
        let provider = l2(&devnet, node);
        let block = provider.get_block_by_number(fork_number.into()).await.unwrap().unwrap();
        assert!(block.header.timestamp >= isthmus);
        let parent = provider.get_block_by_number((fork_number - 1).into()).await.unwrap().unwrap();
        assert!(parent.header.timestamp < isthmus, "block {fork_number} is the fork block");
        hashes.push(block.header.hash);
        let after = BlockNumberOrTag::Number(fork_number + 2);
        assert!(
            l2_call(
                &provider,
                predeploys::L1_BLOCK,
                bindings::L1Block::operatorFeeScalarCall {},
                after
            )
            .await
            .is_some(),
            "{node:?}: the upgraded L1Block answers operatorFeeScalar"
        );
        assert!(
            l2_call(
                &provider,
                predeploys::L1_BLOCK,
                bindings::L1Block::operatorFeeScalarCall {},
                (fork_number - 1).into()
            )
            .await
            .is_none(),
            "{node:?}: not before the fork"
        );
        let history = provider
            .get_code_at(alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS)
            .block_id(after.into())
            .await
            .unwrap();
        assert!(!history.is_empty(), "{node:?}: EIP-2935 contract deployed by the upgrade");
    }
    assert!(
        hashes.windows(2).all(|w| w[0] == w[1]),
        "the nodes disagree on the fork block: {hashes:?}"
    );

    // 8. SystemConfig.setBatcherHash away from the sequencer's batcher key: the built-in batcher
    //    sees it on L1 and stops posting (derivation would ignore its transactions); named
    //    again, it posts from the safe head on and the L1-only validator's safe head moves on.
    let batcher_hash = |batcher: Address| {
        bindings::SystemConfig::setBatcherHashCall { _batcherHash: batcher.into_word() }
            .abi_encode()
    };
    let batcher = config.genesis.system_config.unwrap().batcher_address;
    let elsewhere = address!("00000000000000000000000000000000000ba7c4");
    send_l1(&devnet, OWNER_KEY, contracts.system_config_proxy, batcher_hash(elsewhere), U256::ZERO)
        .await;
    wait_until(|| batcher_authorized(&devnet, 0.0))
        .within(Duration::from_secs(30), "the batcher seeing another batcher named on L1")
        .await;
    send_l1(&devnet, OWNER_KEY, contracts.system_config_proxy, batcher_hash(batcher), U256::ZERO)
        .await;
    wait_until(|| batcher_authorized(&devnet, 1.0))
        .within(Duration::from_secs(30), "the batcher seeing itself named again")
        .await;
    let (unsafe_now, _, _) = devnet.heads(Node::Sequencer).await.unwrap();
    safe_past(&devnet, unsafe_now, "the L1-only validator's safe head past the pause").await;

    // 9. The batcher rotated to a new key: named on L1, then the sequencer restarted with it.
    //    The old key stops; the new one posts, and derivation takes its batches.
    let new_batcher: PrivateKeySigner = NEW_BATCHER_KEY.parse().unwrap();
    send_l1(
        &devnet,
        OWNER_KEY,
        contracts.system_config_proxy,
        batcher_hash(new_batcher.address()),
        U256::ZERO,
    )
    .await;
    wait_until(|| batcher_authorized(&devnet, 0.0))
        .within(Duration::from_secs(30), "the old batcher key seeing the rotation")
        .await;
    let l1 = RootProvider::<alloy_network::Ethereum>::new_http(devnet.l1());
    let new_nonce_before = l1.get_transaction_count(new_batcher.address()).await.unwrap();
    let settings = devnet.settings.batcher_key(NEW_BATCHER_KEY);
    devnet.restart_with(settings).await;
    wait_until(|| batcher_authorized(&devnet, 1.0))
        .within(Duration::from_secs(60), "the new batcher key named on L1")
        .await;
    let (unsafe_now, _, _) = devnet.heads(Node::Sequencer).await.unwrap();
    safe_past(&devnet, unsafe_now, "the L1-only validator's safe head past the rotation").await;
    let new_nonce = l1.get_transaction_count(new_batcher.address()).await.unwrap();
    assert!(new_nonce > new_nonce_before, "the new key posted the batches");

    // 10. All three agree on one safe block well past everything above.
    let (_, safe, _) = devnet.heads(Node::L1Validator).await.unwrap();
    let mut safe_hashes = Vec::new();
    for node in Node::ALL {
        let block = l2(&devnet, node).get_block_by_number(safe.into()).await.unwrap().unwrap();
        safe_hashes.push(block.header.hash);
    }
    assert!(safe_hashes.windows(2).all(|w| w[0] == w[1]), "safe block {safe}: {safe_hashes:?}");
}
