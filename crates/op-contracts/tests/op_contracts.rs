//! The OP contracts from the npm package: artifact loading, the L2 predeploy genesis (read back by
//! executing the contracts in revm), and the L1 deployment on a real anvil with deposits through
//! the portal and the standard bridge.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_genesis::GenesisAccount;
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256, address};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use anvil_testing::{Anvil, DEV_KEY_0, contracts_package_dir};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{
        TxEnv,
        result::{ExecutionResult, Output},
    },
    database::{CacheDB, EmptyDB},
    primitives::TxKind,
    state::{AccountInfo, Bytecode},
};
use rollup_op_contracts::{
    ContractsPackage, L1DeployConfig, L1Deployer, L2PredeployBuilder, L2PredeployConfig, bindings,
    predeploys::*,
};
use std::collections::BTreeMap;

const L1_MESSENGER: Address = address!("1000000000000000000000000000000000000001");
const L1_BRIDGE: Address = address!("1000000000000000000000000000000000000002");
const L1_ERC721_BRIDGE: Address = address!("1000000000000000000000000000000000000003");
const OWNER: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

fn package() -> ContractsPackage {
    ContractsPackage::open(contracts_package_dir()).unwrap()
}

fn predeploy_config() -> L2PredeployConfig {
    L2PredeployConfig {
        l1_chain_id: 31_337,
        l2_chain_id: 42_069,
        l1_cross_domain_messenger: L1_MESSENGER,
        l1_standard_bridge: L1_BRIDGE,
        l1_erc721_bridge: L1_ERC721_BRIDGE,
        proxy_admin_owner: OWNER,
        fee_vault_recipient: OWNER,
        fee_vault_min_withdrawal: U256::from(10u64).pow(U256::from(19u64)),
        ecotone_at_genesis: true,
        fjord_at_genesis: true,
    }
}

/// Calls a view function on the genesis state, as a node would after loading it.
fn view<C: SolCall>(
    genesis: &BTreeMap<Address, GenesisAccount>,
    to: Address,
    call: C,
) -> C::Return {
    let mut db = CacheDB::<EmptyDB>::default();
    for (address, account) in genesis {
        let code = Bytecode::new_raw(account.code.clone().unwrap_or_default());
        db.insert_account_info(
            *address,
            AccountInfo { code_hash: code.hash_slow(), code: Some(code), ..Default::default() },
        );
        for (slot, value) in account.storage.iter().flatten() {
            db.insert_account_storage(*address, (*slot).into(), (*value).into()).unwrap();
        }
    }
    let mut evm = Context::mainnet().with_db(db).build_mainnet();
    let tx = TxEnv {
        kind: TxKind::Call(to),
        data: call.abi_encode().into(),
        gas_limit: 1_000_000,
        ..Default::default()
    };
    match evm.transact(tx).unwrap().result {
        ExecutionResult::Success { output: Output::Call(bytes), .. } => {
            C::abi_decode_returns(&bytes).unwrap()
        }
        other => panic!("call to {to} failed: {other:?}"),
    }
}

#[test]
fn only_the_pinned_package_version_is_accepted() {
    let dir = tempfile_dir();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"@eth-optimism/contracts-bedrock","version":"0.17.2"}"#,
    )
    .unwrap();
    let err = ContractsPackage::open(&dir).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "is @eth-optimism/contracts-bedrock@0.17.2; this build deploys \
             @eth-optimism/contracts-bedrock@0.17.3"
        ),
        "{err}"
    );
    let missing = ContractsPackage::open(dir.join("nowhere")).unwrap_err().to_string();
    assert!(missing.contains("npm ci --prefix tests"), "{missing}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("op-contracts-test-{}-{}", std::process::id(), line!()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn artifacts_carry_code_and_storage_layout() {
    let package = package();
    let portal = package.artifact("OptimismPortal").unwrap();
    assert!(portal.bytecode.len() > portal.deployed_bytecode.len());
    assert!(portal.immutable_ranges.is_empty());
    let vault = package.artifact("SequencerFeeVault").unwrap();
    // Three immutables (recipient, minimum, network), each read at one or more places.
    assert!(vault.immutable_ranges.len() >= 3, "{:?}", vault.immutable_ranges);
    assert!(vault.immutable_ranges.iter().all(|&(_, length)| length == 32));
    assert_eq!(package.artifact("ProxyAdmin").unwrap().slot("_owner").unwrap(), B256::ZERO);
    let err = package.artifact("NoSuchContract").unwrap_err().to_string();
    assert!(err.starts_with("artifact NoSuchContract: cannot read"), "{err}");
}

#[test]
fn predeploy_genesis_has_proxies_implementations_and_initialized_storage() {
    let package = package();
    let genesis = L2PredeployBuilder::new(&package, predeploy_config()).build().unwrap();

    // Every slot of the namespace but WETH and the governance token holds a proxy the L2
    // ProxyAdmin administers.
    let proxy = package.artifact("Proxy").unwrap();
    let proxies = genesis
        .iter()
        .filter(|(address, _)| address.0[..18] == LEGACY_MESSAGE_PASSER.0[..18])
        .filter(|(_, account)| account.code.as_ref() == Some(&proxy.deployed_bytecode))
        .collect::<Vec<_>>();
    assert_eq!(proxies.len(), usize::from(PROXY_COUNT) - 2);
    for (address, account) in &proxies {
        let storage = account.storage.as_ref().unwrap();
        assert_eq!(storage.get(&ADMIN_SLOT), Some(&PROXY_ADMIN.into_word()), "{address}");
    }

    for predeploy in PREDEPLOYS {
        let artifact = package.artifact(predeploy.name).unwrap();
        let code_at = if predeploy.proxied {
            let implementation = implementation_address(predeploy.address);
            let proxy_storage = genesis[&predeploy.address].storage.as_ref().unwrap();
            assert_eq!(
                proxy_storage.get(&IMPLEMENTATION_SLOT),
                Some(&implementation.into_word()),
                "{} implementation slot",
                predeploy.name
            );
            implementation
        } else {
            predeploy.address
        };
        let code = genesis[&code_at].code.as_ref().unwrap();
        assert!(artifact.matches_runtime(code), "{} code is the package's", predeploy.name);
    }

    // What the initializers and constructors wrote, read back through the contracts.
    assert_eq!(view(&genesis, PROXY_ADMIN, bindings::ProxyAdmin::ownerCall {}), OWNER);
    assert_eq!(
        view(
            &genesis,
            L2_CROSS_DOMAIN_MESSENGER,
            bindings::L2CrossDomainMessenger::OTHER_MESSENGERCall {}
        ),
        L1_MESSENGER
    );
    assert_eq!(
        view(&genesis, L2_STANDARD_BRIDGE, bindings::L2StandardBridge::OTHER_BRIDGECall {}),
        L1_BRIDGE
    );
    assert_eq!(
        view(
            &genesis,
            OPTIMISM_MINTABLE_ERC20_FACTORY,
            bindings::OptimismMintableERC20Factory::bridgeCall {}
        ),
        L2_STANDARD_BRIDGE
    );
    assert!(view(&genesis, GAS_PRICE_ORACLE, bindings::GasPriceOracle::isEcotoneCall {}));
    assert!(view(&genesis, GAS_PRICE_ORACLE, bindings::GasPriceOracle::isFjordCall {}));
    for vault in [SEQUENCER_FEE_VAULT, BASE_FEE_VAULT, L1_FEE_VAULT] {
        assert_eq!(view(&genesis, vault, bindings::FeeVault::RECIPIENTCall {}), OWNER);
    }
    assert!(!genesis.contains_key(&GOVERNANCE_TOKEN));
}

#[test]
fn predeploy_genesis_before_fjord_leaves_the_oracle_in_ecotone_mode() {
    let package = package();
    let config = L2PredeployConfig { fjord_at_genesis: false, ..predeploy_config() };
    let genesis = L2PredeployBuilder::new(&package, config).build().unwrap();
    assert!(view(&genesis, GAS_PRICE_ORACLE, bindings::GasPriceOracle::isEcotoneCall {}));
    assert!(!view(&genesis, GAS_PRICE_ORACLE, bindings::GasPriceOracle::isFjordCall {}));
}

fn l1_config() -> L1DeployConfig {
    L1DeployConfig {
        l2_chain_id: 42_069,
        l2_block_time: 2,
        batcher: address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        unsafe_block_signer: OWNER,
        proposer: OWNER,
        challenger: OWNER,
        guardian: OWNER,
        gas_limit: 30_000_000,
        basefee_scalar: 1_000_000,
        blobbasefee_scalar: 0,
        batch_inbox: address!("ff00000000000000000000000000000000042069"),
        submission_interval: 10,
        finalization_period: 12,
    }
}

/// Deploys on anvil mining every 1 s (as the devnet does): the deployment must not depend on a
/// block per transaction.
#[tokio::test(flavor = "multi_thread")]
async fn l1_deployment_takes_deposits_through_portal_and_bridge() {
    let anvil = Anvil::start_with(anvil_testing::free_port(), &["--block-time", "1"]);
    let signer: PrivateKeySigner = DEV_KEY_0.parse().unwrap();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(anvil.url());
    let package = package();
    let deployer = L1Deployer::new(&provider, signer.address(), &package, l1_config());
    let deployment = deployer.deploy().await.unwrap();
    let latest = provider.get_block_number().await.unwrap();
    assert!(deployment.deployed_at_block <= latest && deployment.deployed_at_block > 0);
    assert!(
        deployment.deployed_at_block <= 4,
        "26 transactions fit in a few blocks, not one block each: block {}",
        deployment.deployed_at_block
    );
    let genesis_time =
        provider.get_block_by_number(latest.into()).await.unwrap().unwrap().header.timestamp;
    deployer.initialize_output_oracle(&deployment, genesis_time).await.unwrap();

    let call = |to: Address, data: Vec<u8>| {
        let provider = &provider;
        async move {
            provider.call(TransactionRequest::default().with_to(to).with_input(data)).await.unwrap()
        }
    };
    let system_config = deployment.system_config_proxy;
    let out = call(system_config, bindings::SystemConfig::gasLimitCall {}.abi_encode()).await;
    assert_eq!(bindings::SystemConfig::gasLimitCall::abi_decode_returns(&out).unwrap(), 30_000_000);
    let out = call(system_config, bindings::SystemConfig::batcherHashCall {}.abi_encode()).await;
    assert_eq!(
        bindings::SystemConfig::batcherHashCall::abi_decode_returns(&out).unwrap(),
        l1_config().batcher.into_word()
    );
    let out = call(system_config, bindings::SystemConfig::optimismPortalCall {}.abi_encode()).await;
    assert_eq!(
        bindings::SystemConfig::optimismPortalCall::abi_decode_returns(&out).unwrap(),
        deployment.optimism_portal_proxy
    );
    let oracle = deployment.l2_output_oracle_proxy;
    let out = call(oracle, bindings::L2OutputOracle::startingTimestampCall {}.abi_encode()).await;
    assert_eq!(
        bindings::L2OutputOracle::startingTimestampCall::abi_decode_returns(&out).unwrap(),
        U256::from(genesis_time)
    );

    // A deposit through the portal and one through the bridge: both leave the portal's
    // TransactionDeposited log that derivation turns into an L2 deposit.
    let recipient = address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
    let value = U256::from(10u64).pow(U256::from(18u64));
    let portal_deposit = bindings::OptimismPortal::depositTransactionCall {
        _to: recipient,
        _value: value,
        _gasLimit: 100_000,
        _isCreation: false,
        _data: Default::default(),
    };
    let bridge_deposit = bindings::L1StandardBridge::depositETHCall {
        _minGasLimit: 200_000,
        _extraData: Default::default(),
    };
    for (to, data) in [
        (deployment.optimism_portal_proxy, portal_deposit.abi_encode()),
        (deployment.l1_standard_bridge_proxy, bridge_deposit.abi_encode()),
    ] {
        let tx = TransactionRequest::default().with_to(to).with_input(data).with_value(value);
        let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "deposit to {to} reverted");
        let logs = receipt.inner.logs();
        let deposited = logs
            .iter()
            .find(|log| {
                log.address() == deployment.optimism_portal_proxy
                    && log.topics().first()
                        == Some(&bindings::OptimismPortal::TransactionDeposited::SIGNATURE_HASH)
            })
            .expect("the portal logged the deposit");
        let encoded = kona_protocol::decode_deposit(
            receipt.block_hash.unwrap(),
            deposited.log_index.unwrap() as usize,
            &deposited.inner,
        )
        .expect("derivation decodes the deposit");
        assert!(!encoded.is_empty());
    }
}
