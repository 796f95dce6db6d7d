//! Devnet genesis and rollup config with the OP contracts (golden values measured with real
//! op-reth v1.6.0), the deployment on a real anvil, the no-overwrite rule, and the beacon adapter in front of a real anvil (spec, genesis and blob
//! sidecars with real KZG proofs).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_consensus::Header;
use alloy_eips::eip4844::{BlobTransactionSidecar, IndexedBlobHash};
use alloy_eips::{BlockNumHash, eip1559::BaseFeeParams, eip2935, eip4788};
use alloy_genesis::Genesis;
use alloy_network::{TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, U256, address, b256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use anvil_testing::{Anvil, contracts_package_dir};
use kona_derive::BlobProvider;
use kona_genesis::RollupConfig;
use kona_protocol::BlockInfo;
use kona_providers_alloy::{BeaconClient, OnlineBeaconClient, OnlineBlobProvider};
use op_alloy_consensus::decode_holocene_extra_data;
use rollup_batcher::blob;
use rollup_devnet::{
    BeaconAdapter, DevnetError, DevnetSpec, GENESIS_BASE_FEE, L1Origin, OpChainContracts,
    base_fee_params, deploy_op_chain, genesis_header, holocene_genesis_extra_data,
    latest_l1_origin, write_all_atomically,
};
use rollup_providers_beacon::BeaconApiClient;

/// The L1 origin of a devnet whose genesis was loaded by op-reth v1.6.0 (`rollup init --chain
/// genesis.json` printed the hash asserted below).
const ORIGIN: L1Origin = L1Origin {
    block: BlockNumHash {
        number: 0,
        hash: b256!("c11d2965614b6690a1e23c229e1295aa2c3f82f515b173e89fa851d848d64e8c"),
    },
    timestamp: 1_796_104_246,
    chain_id: 31_337,
};

/// Fixed L1 contract addresses, so the genesis (and its hash) is the same in every run.
fn l1_deployment() -> rollup_op_contracts::L1Deployment {
    let at = |n: u8| Address::with_last_byte(n);
    rollup_op_contracts::L1Deployment {
        proxy_admin: at(1),
        superchain_config_proxy: at(2),
        system_config_proxy: at(3),
        optimism_portal_proxy: at(4),
        l2_output_oracle_proxy: at(5),
        l1_cross_domain_messenger_proxy: at(6),
        l1_standard_bridge_proxy: at(7),
        l1_erc721_bridge_proxy: at(8),
        optimism_mintable_erc20_factory_proxy: at(9),
        implementations: Default::default(),
        deployed_at_block: 0,
    }
}

/// The OP contracts of a devnet on [`l1_deployment`]'s L1.
fn contracts() -> OpChainContracts {
    let package = rollup_op_contracts::ContractsPackage::open(contracts_package_dir()).unwrap();
    let l1 = l1_deployment();
    let config = rollup_op_contracts::L2PredeployConfig {
        l1_chain_id: ORIGIN.chain_id,
        l2_chain_id: DevnetSpec::default().l2_chain_id,
        l1_cross_domain_messenger: l1.l1_cross_domain_messenger_proxy,
        l1_standard_bridge: l1.l1_standard_bridge_proxy,
        l1_erc721_bridge: l1.l1_erc721_bridge_proxy,
        proxy_admin_owner: rollup_devnet::DEV_ACCOUNTS[0],
        fee_vault_recipient: rollup_devnet::DEV_ACCOUNTS[0],
        fee_vault_min_withdrawal: U256::from(10u64).pow(U256::from(19u64)),
        ecotone_at_genesis: true,
        fjord_at_genesis: true,
    };
    let predeploys =
        rollup_op_contracts::L2PredeployBuilder::new(&package, config).build().unwrap();
    OpChainContracts { l1, predeploys }
}

fn build(spec: &DevnetSpec) -> rollup_devnet::DevnetArtifacts {
    spec.build(&ORIGIN, &contracts()).unwrap()
}

/// Both shapes of genesis header op-reth v1.6.0 derives: Isthmus later (empty withdrawals root,
/// no requests hash) and Isthmus at genesis (the L2ToL1MessagePasser's storage root as
/// withdrawals root). The hashes are what `rollup init --chain genesis.json` printed.
#[test]
fn genesis_hash_matches_op_reth() {
    let later = build(&DevnetSpec::default());
    let at_genesis = build(&DevnetSpec { isthmus_delay: 0, ..DevnetSpec::default() });
    // To measure again: DEVNET_GENESIS_OUT=<dir>, then `rollup init --chain <dir>/<file>`.
    if let Some(dir) = std::env::var_os("DEVNET_GENESIS_OUT") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::write(dir.join("later.json"), later.genesis.to_string()).unwrap();
        std::fs::write(dir.join("at_genesis.json"), at_genesis.genesis.to_string()).unwrap();
    }
    assert_eq!(
        later.genesis_hash,
        b256!("d265bf3db68a956cb4e46c157597be0a18ce17b315703a932099fcab6391326a")
    );
    assert_eq!(
        at_genesis.genesis_hash,
        b256!("14587c1a4da64b358101635af34918939ca5e542cb6052f6c4883d4d16dd0241")
    );
}

/// The base fee of the block after `parent`, by op-reth v1.6.0's rule
/// (`reth_optimism_chainspec::decode_holocene_base_fee`): under Holocene the parent's `extraData`
/// gives the EIP-1559 parameters, zero parameters mean the chain's, and a parent without them
/// leaves the child without a base fee.
fn op_reth_next_base_fee(parent: &Header, chain: BaseFeeParams) -> Option<u64> {
    let (elasticity, denominator) = decode_holocene_extra_data(&parent.extra_data).ok()?;
    let params = if elasticity == 0 && denominator == 0 {
        chain
    } else {
        BaseFeeParams::new(denominator.into(), elasticity.into())
    };
    parent.next_block_base_fee(params)
}

#[test]
fn genesis_extra_data_carries_the_holocene_eip1559_parameters() {
    let artifacts = build(&DevnetSpec::default());
    let genesis: Genesis = serde_json::from_value(artifacts.genesis.clone()).unwrap();
    assert!(artifacts.rollup.is_holocene_active(genesis.timestamp));
    // op-alloy's decoder, the one op-reth validates and computes base fees with.
    let (elasticity, denominator) = decode_holocene_extra_data(&genesis.extra_data).unwrap();
    let chain = &artifacts.rollup.chain_op_config;
    assert_eq!(u64::from(elasticity), chain.eip1559_elasticity);
    assert_eq!(u64::from(denominator), chain.eip1559_denominator_canyon);
    assert_eq!(genesis.extra_data.len(), 9);
    assert_eq!(genesis.extra_data[0], 0, "Holocene extraData version");
}

#[test]
fn block_one_has_the_eip1559_successor_of_the_genesis_base_fee() {
    let artifacts = build(&DevnetSpec::default());
    let genesis: Genesis = serde_json::from_value(artifacts.genesis.clone()).unwrap();
    let header = genesis_header(&genesis);
    assert_eq!(header.hash_slow(), artifacts.genesis_hash);
    assert_eq!(header.base_fee_per_gas, Some(GENESIS_BASE_FEE));

    let chain = base_fee_params();
    let block_one = op_reth_next_base_fee(&header, chain).expect("block 1 has a base fee");
    // An empty parent lowers the base fee by 1/denominator: 1 gwei - 1 gwei / 250.
    assert_eq!(block_one, GENESIS_BASE_FEE - GENESIS_BASE_FEE / 250);
    assert!(0 < block_one && block_one < GENESIS_BASE_FEE);

    // What the devnet had before: an empty genesis extraData, and block 1 without a base fee.
    let mut empty = header.clone();
    empty.extra_data = Default::default();
    assert_eq!(op_reth_next_base_fee(&empty, chain), None);

    // A few blocks on, each empty block's base fee is the successor of its parent's.
    let mut parent = header;
    let mut fees = vec![];
    for number in 1..=3u64 {
        let base_fee = op_reth_next_base_fee(&parent, chain).unwrap();
        fees.push(base_fee);
        parent = Header {
            number,
            base_fee_per_gas: Some(base_fee),
            extra_data: holocene_genesis_extra_data().unwrap(),
            ..parent
        };
    }
    assert_eq!(fees, vec![996_000_000, 992_016_000, 988_047_936]);
}

#[test]
fn genesis_preinstalls_the_system_contracts_of_its_forks() {
    let check = |genesis: &Genesis, address, code: &alloy_primitives::Bytes| {
        let account = genesis.alloc.get(&address).unwrap_or_else(|| panic!("{address} allocated"));
        assert_eq!(account.code.as_ref(), Some(code));
        assert_eq!(account.nonce, Some(1));
    };
    let artifacts = build(&DevnetSpec { isthmus_delay: 0, ..DevnetSpec::default() });
    let genesis: Genesis = serde_json::from_value(artifacts.genesis).unwrap();
    check(&genesis, eip4788::BEACON_ROOTS_ADDRESS, &eip4788::BEACON_ROOTS_CODE);
    check(&genesis, eip2935::HISTORY_STORAGE_ADDRESS, &eip2935::HISTORY_STORAGE_CODE);
    // Isthmus later: its upgrade transactions deploy the block hash history contract at the
    // fork, so the genesis must not hold it already.
    let artifacts = build(&DevnetSpec::default());
    let genesis: Genesis = serde_json::from_value(artifacts.genesis).unwrap();
    check(&genesis, eip4788::BEACON_ROOTS_ADDRESS, &eip4788::BEACON_ROOTS_CODE);
    assert!(!genesis.alloc.contains_key(&eip2935::HISTORY_STORAGE_ADDRESS));
}

#[test]
fn rollup_config_matches_the_genesis_and_the_l1() {
    let spec = DevnetSpec { block_time: 1, ..DevnetSpec::default() };
    let artifacts = build(&spec);
    // What kona reads back from rollup.json.
    let json = serde_json::to_string(&artifacts.rollup).unwrap();
    let rollup: RollupConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(rollup.genesis.l2, BlockNumHash::new(0, artifacts.genesis_hash));
    assert_eq!(rollup.genesis.l1, ORIGIN.block);
    assert_eq!(rollup.genesis.l2_time, ORIGIN.timestamp, "L2 genesis never precedes its L1 origin");
    assert_eq!(
        artifacts.genesis["timestamp"],
        serde_json::json!(format!("{:#x}", ORIGIN.timestamp))
    );
    assert_eq!(rollup.l1_chain_id, 31_337);
    assert_eq!(rollup.l2_chain_id.id(), 42_069);
    assert_eq!(rollup.block_time, 1);
    assert!(rollup.is_holocene_active(ORIGIN.timestamp), "every fork through Holocene at genesis");
    assert!(!rollup.is_isthmus_active(ORIGIN.timestamp + 179));
    assert!(rollup.is_isthmus_active(ORIGIN.timestamp + 180), "Isthmus 3 minutes later");
    assert_eq!(artifacts.genesis["config"]["isthmusTime"], ORIGIN.timestamp + 180);
    assert_eq!(artifacts.genesis["config"]["pragueTime"], ORIGIN.timestamp + 180);
    assert_eq!(rollup.deposit_contract_address, l1_deployment().optimism_portal_proxy);
    assert_eq!(rollup.l1_system_config_address, l1_deployment().system_config_proxy);
    assert_eq!(rollup.batch_inbox_address, address!("ff0000000000000000000000000000000000a455"));
    let system = rollup.genesis.system_config.unwrap();
    assert_eq!(system.batcher_address, address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"));
    assert_eq!(system.gas_limit, 30_000_000);
    assert_eq!(artifacts.genesis["config"]["chainId"], 42_069);
    assert_eq!(
        artifacts.genesis["alloc"].as_object().unwrap().len(),
        contracts().predeploys.len() + 10 + 1,
        "predeploys, 10 funded, the beacon roots contract"
    );
    assert_eq!(
        artifacts.genesis["coinbase"],
        serde_json::json!(rollup_op_contracts::predeploys::SEQUENCER_FEE_VAULT)
    );
}

#[test]
fn bad_specs_are_rejected() {
    let err = DevnetSpec { block_time: 0, ..DevnetSpec::default() }
        .build(&ORIGIN, &contracts())
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid devnet spec: block time must be at least 1 second");
    let err = DevnetSpec { l2_chain_id: 31_337, ..DevnetSpec::default() }
        .build(&ORIGIN, &contracts())
        .unwrap_err();
    assert!(err.to_string().contains("equals the L1 chain id"), "{err}");
}

#[test]
fn files_are_never_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("genesis.json");
    let b = dir.path().join("rollup.json");
    write_all_atomically(&[(a.clone(), b"one".to_vec()), (b.clone(), b"one".to_vec())], false)
        .unwrap();
    std::fs::remove_file(&a).unwrap();
    // b exists: nothing is written, not even the missing a.
    let err =
        write_all_atomically(&[(a.clone(), b"two".to_vec()), (b.clone(), b"two".to_vec())], false)
            .unwrap_err();
    assert!(matches!(err, DevnetError::Exists(ref p) if *p == b), "{err}");
    assert!(!a.exists());
    assert_eq!(std::fs::read(&b).unwrap(), b"one");
    write_all_atomically(&[(a.clone(), b"two".to_vec()), (b.clone(), b"two".to_vec())], true)
        .unwrap();
    assert_eq!(std::fs::read(&b).unwrap(), b"two");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary files left");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_deploys_the_contracts_and_starts_after_them() {
    let anvil = Anvil::start();
    let package = rollup_op_contracts::ContractsPackage::open(contracts_package_dir()).unwrap();
    let spec = DevnetSpec::default();
    let (origin, chain) = deploy_op_chain(&anvil.url(), &package, &spec, None).await.unwrap();
    assert_eq!(origin.chain_id, 31_337);
    assert!(origin.block.number >= chain.l1.deployed_at_block && chain.l1.deployed_at_block > 0);
    let artifacts = spec.build(&origin, &chain).unwrap();
    assert_eq!(artifacts.rollup.genesis.l1, origin.block);
    assert_eq!(artifacts.rollup.deposit_contract_address, chain.l1.optimism_portal_proxy);

    // What the contracts on L1 hold is what the rollup config says.
    let provider = ProviderBuilder::new().connect_http(anvil.url());
    let read = |to: Address, data: Vec<u8>| {
        let provider = &provider;
        async move {
            provider.call(TransactionRequest::default().with_to(to).with_input(data)).await.unwrap()
        }
    };
    use alloy_sol_types::SolCall;
    use rollup_op_contracts::bindings::{L2OutputOracle, SystemConfig};
    let system = artifacts.rollup.genesis.system_config.unwrap();
    let out = read(chain.l1.system_config_proxy, SystemConfig::scalarCall {}.abi_encode()).await;
    assert_eq!(SystemConfig::scalarCall::abi_decode_returns(&out).unwrap(), system.scalar);
    let out =
        read(chain.l1.system_config_proxy, SystemConfig::batcherHashCall {}.abi_encode()).await;
    assert_eq!(
        SystemConfig::batcherHashCall::abi_decode_returns(&out).unwrap(),
        system.batcher_address.into_word()
    );
    let oracle = chain.l1.l2_output_oracle_proxy;
    let out = read(oracle, L2OutputOracle::startingTimestampCall {}.abi_encode()).await;
    assert_eq!(
        L2OutputOracle::startingTimestampCall::abi_decode_returns(&out).unwrap(),
        U256::from(artifacts.rollup.genesis.l2_time)
    );

    // An origin before the contracts exist is refused by name.
    let err = deploy_op_chain(&anvil.url(), &package, &spec, Some(0)).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid devnet spec: L1 origin 0 is before the OP contracts' deployment"),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_l1_is_one_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url: url::Url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let err = latest_l1_origin(&url).await.unwrap_err();
    assert!(err.to_string().starts_with(&format!("L1 RPC {url}: ")), "{err}");
}

#[tokio::test]
async fn beacon_adapter_serves_what_kona_reads() {
    let anvil = Anvil::start();
    let (base, server) = serve_adapter(anvil.url(), 12).await;

    // kona's own beacon client, as its derivation pipeline uses it.
    let kona = OnlineBeaconClient::new_http(base.clone());
    assert_eq!(kona.config_spec().await.unwrap().data.seconds_per_slot, 12);
    let block_zero = ProviderBuilder::new()
        .connect_http(anvil.url())
        .get_block_by_number(0.into())
        .await
        .unwrap()
        .unwrap();
    let genesis_time = kona.beacon_genesis().await.unwrap().data.genesis_time;
    assert_eq!(genesis_time, block_zero.header.timestamp, "the beacon genesis is L1 block 0");

    let unknown = reqwest::get(format!("{base}/eth/v1/node/version")).await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    server.abort();
}

/// A blob transaction on anvil, its sidecars served by the adapter and fetched by kona's own blob
/// provider, which checks each blob against its versioned hash and KZG proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beacon_adapter_serves_blob_sidecars_that_kona_verifies() {
    let anvil = Anvil::start_with(anvil_testing::free_port(), &["--block-time", "1"]);
    let (base, server) = serve_adapter(anvil.url(), 1).await;
    let payloads = [b"first frame".to_vec(), vec![0x5a; 40_000]];
    let (sidecar, block_ref, hashes) = post_blobs(anvil.url(), &payloads).await;

    let mut kona = OnlineBlobProvider::init(OnlineBeaconClient::new_http(base.clone())).await;
    let fetched = kona.get_blobs(&block_ref, &hashes).await.unwrap();
    assert_eq!(fetched.len(), 2);
    assert!(fetched.iter().zip(&sidecar.blobs).all(|(got, sent)| **got == *sent));

    let slot = OnlineBlobProvider::<OnlineBeaconClient>::slot(
        kona.genesis_time,
        kona.slot_interval,
        block_ref.timestamp,
    )
    .unwrap();
    let future =
        reqwest::get(format!("{base}/eth/v1/beacon/blob_sidecars/{}", slot + 1_000)).await.unwrap();
    assert_eq!(future.status().as_u16(), 404, "a slot without an L1 block");
    let bad = reqwest::get(format!("{base}/eth/v1/beacon/blob_sidecars/head")).await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    server.abort();
}

/// anvil restarted from its state file reports a new beacon genesis (its process start); the
/// adapter's stays L1 block 0's, so slots computed before the restart still find their blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_beacon_genesis_survives_an_anvil_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("anvil-state.json");
    let state = state.to_str().unwrap();
    let port = anvil_testing::free_port();
    let args = ["--block-time", "1", "--state", state, "--state-interval", "1"];
    let genesis = |anvil: &Anvil| {
        let url = anvil.url();
        async move {
            let (base, server) = serve_adapter(url, 1).await;
            let kona = OnlineBeaconClient::new_http(base);
            let genesis = kona.beacon_genesis().await.unwrap().data.genesis_time;
            server.abort();
            genesis
        }
    };
    let anvil = Anvil::start_with(port, &args);
    let before = genesis(&anvil).await;
    // Let anvil write its state, and its clock move past the first start.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    drop(anvil);
    let anvil = Anvil::start_with(port, &args);
    let anvils_own: serde_json::Value =
        reqwest::get(anvil.url().join("eth/v1/beacon/genesis").unwrap())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_ne!(anvils_own["data"]["genesis_time"], before.to_string(), "anvil's own genesis moved");
    assert_eq!(genesis(&anvil).await, before, "the adapter's did not");
}

/// The adapter in front of the L1 at `l1` with `seconds_per_slot`, on a free port: its base URL
/// and its task.
async fn serve_adapter(
    l1: url::Url,
    seconds_per_slot: u64,
) -> (String, tokio::task::JoinHandle<()>) {
    let (addr, serve) = BeaconAdapter::new(l1, seconds_per_slot)
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (format!("http://{addr}"), tokio::spawn(serve))
}

/// A blob transaction carrying `payloads`, mined on the L1 at `l1`: its sidecar, the L1 block it
/// is in, and the indexed hashes kona asks for that block's blobs by.
async fn post_blobs(
    l1: url::Url,
    payloads: &[Vec<u8>],
) -> (BlobTransactionSidecar, BlockInfo, Vec<IndexedBlobHash>) {
    let signer: PrivateKeySigner = anvil_testing::DEV_KEY_1.parse().unwrap();
    let wallet = ProviderBuilder::new().wallet(signer).connect_http(l1);
    let sidecar = blob::sidecar(blob::encode_blobs(payloads).unwrap()).unwrap();
    let tx = TransactionRequest::default()
        .with_to(address!("ff00000000000000000000000000000000000901"))
        .with_blob_sidecar(sidecar.clone());
    let receipt = wallet.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    let number = receipt.block_number.unwrap();
    let block = wallet.get_block_by_number(number.into()).await.unwrap().unwrap();
    let block_ref =
        BlockInfo::new(block.header.hash, number, block.header.parent_hash, block.header.timestamp);
    let hashes = sidecar
        .versioned_hashes()
        .enumerate()
        .map(|(index, hash)| IndexedBlobHash { index: index as u64, hash })
        .collect();
    (sidecar, block_ref, hashes)
}

/// Block timestamps `1..=head` of the L1 at `url`.
async fn l1_timestamps(url: url::Url) -> Vec<u64> {
    let l1 = ProviderBuilder::new().connect_http(url);
    let head = l1.get_block_number().await.unwrap();
    let mut timestamps = Vec::new();
    for number in 1..=head {
        timestamps
            .push(l1.get_block_by_number(number.into()).await.unwrap().unwrap().header.timestamp);
    }
    timestamps
}

/// Waits (at most a minute) until the L1 at `url` is past block `number`.
async fn wait_for_l1_block(url: url::Url, number: u64) {
    let l1 = ProviderBuilder::new().connect_http(url);
    for _ in 0..600 {
        if l1.get_block_number().await.unwrap() > number {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("L1 did not pass block {number}");
}

/// The blob e2e's failure, on its own: an `anvil_reorg` re-mines at the common ancestor's time, so
/// on anvil's own clock two blocks share a slot and that slot's blobs can never be served. With
/// the adapter in front, every block is its parent + one slot (also the re-mined ones), and every
/// slot kona asks for afterwards, among them one with a blob posted after the reorg, is served
/// and verified by kona's blob provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slot_is_served_after_an_anvil_reorg() {
    let anvil = Anvil::start_with(anvil_testing::free_port(), &["--block-time", "1"]);
    let (base, server) = serve_adapter(anvil.url(), 1).await;
    let beacon = BeaconApiClient::new(&base.parse().unwrap());
    let mut kona = OnlineBlobProvider::init(beacon.clone()).await;

    wait_for_l1_block(anvil.url(), 3).await;
    let l1 = ProviderBuilder::new().connect_http(anvil.url());
    let () =
        l1.raw_request("anvil_reorg".into(), (2, Vec::<serde_json::Value>::new())).await.unwrap();

    let (sidecar, block_ref, hashes) =
        post_blobs(anvil.url(), &[b"after the reorg".to_vec()]).await;
    wait_for_l1_block(anvil.url(), block_ref.number + 2).await;

    let timestamps = l1_timestamps(anvil.url()).await;
    let genesis = kona.genesis_time;
    for (number, pair) in (2..).zip(timestamps.windows(2)) {
        assert_eq!(pair[1], pair[0] + 1, "block {number} is its parent + one slot: {timestamps:?}");
    }
    for (number, timestamp) in (1..).zip(&timestamps) {
        let slot = OnlineBlobProvider::<BeaconApiClient>::slot(genesis, 1, *timestamp).unwrap();
        beacon
            .beacon_blob_side_cars(slot, &[])
            .await
            .unwrap_or_else(|e| panic!("slot {slot} of L1 block {number}: {e}"));
    }
    let fetched = kona.get_blobs(&block_ref, &hashes).await.unwrap();
    assert_eq!(*fetched[0], sidecar.blobs[0]);
    server.abort();
}

/// Should a slot ever hold two blocks (here forced with `evm_setNextBlockTimestamp`), kona's
/// blob provider reports the adapter's reason, not an undecodable body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_holding_two_blocks_is_refused_with_its_cause() {
    let anvil = Anvil::start();
    let (base, server) = serve_adapter(anvil.url(), 2).await;
    let l1 = ProviderBuilder::new().connect_http(anvil.url());
    let genesis = l1.get_block_by_number(0.into()).await.unwrap().unwrap();
    let _: serde_json::Value = l1
        .raw_request("evm_setNextBlockTimestamp".into(), (genesis.header.timestamp + 1,))
        .await
        .unwrap();
    let _: serde_json::Value = l1.raw_request("evm_mine".into(), ()).await.unwrap();
    let block = l1.get_block_by_number(1.into()).await.unwrap().unwrap();
    assert_eq!(block.header.timestamp, genesis.header.timestamp + 1);

    let mut kona = OnlineBlobProvider::init(BeaconApiClient::new(&base.parse().unwrap())).await;
    let block_ref =
        BlockInfo::new(block.header.hash, 1, block.header.parent_hash, block.header.timestamp);
    let hash = IndexedBlobHash {
        index: 0,
        hash: b256!("01000000000000000000000000000000000000000000000000000000000000aa"),
    };
    let error = kona.get_blobs(&block_ref, &[hash]).await.unwrap_err().to_string();
    assert!(
        error.contains("beacon API answered 500 to eth/v1/beacon/blob_sidecars/0: slot 0 holds two L1 blocks, 0 and 1"),
        "{error}"
    );
    server.abort();
}

/// An L1 that stood still (a devnet resumed after a pause) goes on from the clock, not from its
/// old head: pinned, it would otherwise trail the clock by the pause for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_that_stood_still_resumes_on_the_clock() {
    let hour_ago =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
            - 3_600;
    let anvil =
        Anvil::start_with(anvil_testing::free_port(), &["--timestamp", &hour_ago.to_string()]);
    let (_, server) = serve_adapter(anvil.url(), 2).await;
    let l1 = ProviderBuilder::new().connect_http(anvil.url());
    for _ in 0..3 {
        let _: serde_json::Value = l1.raw_request("evm_mine".into(), ()).await.unwrap();
    }
    let timestamps = l1_timestamps(anvil.url()).await;
    assert!(timestamps[0] >= hour_ago + 3_590, "block 1 is stamped now: {timestamps:?}");
    assert_eq!(timestamps[1..], [timestamps[0] + 2, timestamps[0] + 4], "then one slot apart");
    server.abort();
}

#[tokio::test]
async fn the_adapter_refuses_to_start_without_anvil() {
    let url: url::Url = format!("http://127.0.0.1:{}", anvil_testing::free_port()).parse().unwrap();
    let Err(error) = BeaconAdapter::new(url, 2).bind("127.0.0.1:0".parse().unwrap()).await else {
        panic!("bound without an L1");
    };
    assert!(error.to_string().contains("anvil_setBlockTimestampInterval failed"), "{error}");
}
