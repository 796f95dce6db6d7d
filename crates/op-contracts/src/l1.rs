//! Deploying the OP L1 contracts on a running L1.

use crate::{ContractsPackage, OpContractsError, bindings};
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, Bytes, TxHash, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_sol_types::{SolCall, SolValue};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The deposit gas market the portal meters with: the OP Stack's default resource config.
pub const DEFAULT_RESOURCE_CONFIG: bindings::ResourceConfig = bindings::ResourceConfig {
    maxResourceLimit: 20_000_000,
    elasticityMultiplier: 10,
    baseFeeMaxChangeDenominator: 8,
    minimumBaseFee: 1_000_000_000,
    systemTxMaxGas: 1_000_000,
    maximumBaseFee: u128::MAX,
};

/// Gas each `upgradeAndCall` (an initializer behind a proxy) is given. The calls are sent before
/// the proxies they target are mined, so their gas cannot be estimated; the heaviest,
/// `SystemConfig.initialize`, uses about 500 000.
const INITIALIZE_GAS: u64 = 2_000_000;

/// How long a deployment transaction may take to be mined.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// What the L1 contracts are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1DeployConfig {
    /// The L2 chain id.
    pub l2_chain_id: u64,
    /// L2 block time, in seconds (the output oracle's).
    pub l2_block_time: u64,
    /// The batcher address (the system config's batcher hash).
    pub batcher: Address,
    /// The address that signs unsafe blocks on the L2's P2P network.
    pub unsafe_block_signer: Address,
    /// Who may propose outputs.
    pub proposer: Address,
    /// Who may delete outputs.
    pub challenger: Address,
    /// Who may pause deposits and withdrawals.
    pub guardian: Address,
    /// The L2 block gas limit.
    pub gas_limit: u64,
    /// Ecotone base fee scalar.
    pub basefee_scalar: u32,
    /// Ecotone blob base fee scalar.
    pub blobbasefee_scalar: u32,
    /// The batch inbox address.
    pub batch_inbox: Address,
    /// L2 blocks between two output proposals.
    pub submission_interval: u64,
    /// Seconds an output must wait before withdrawals against it can finalize.
    pub finalization_period: u64,
}

/// The deployed L1 contracts. Proxies are what users and the rollup config name; the
/// implementations are listed for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct L1Deployment {
    /// Admin of every proxy; owned by the deployer.
    pub proxy_admin: Address,
    /// `SuperchainConfig` proxy (pause switch, guardian).
    pub superchain_config_proxy: Address,
    /// `SystemConfig` proxy (the rollup config's `l1_system_config_address`).
    pub system_config_proxy: Address,
    /// `OptimismPortal` proxy (the rollup config's `deposit_contract_address`).
    pub optimism_portal_proxy: Address,
    /// `L2OutputOracle` proxy.
    pub l2_output_oracle_proxy: Address,
    /// `L1CrossDomainMessenger` proxy.
    pub l1_cross_domain_messenger_proxy: Address,
    /// `L1StandardBridge` proxy.
    pub l1_standard_bridge_proxy: Address,
    /// `L1ERC721Bridge` proxy.
    pub l1_erc721_bridge_proxy: Address,
    /// `OptimismMintableERC20Factory` proxy.
    pub optimism_mintable_erc20_factory_proxy: Address,
    /// The implementations, by contract name.
    pub implementations: std::collections::BTreeMap<String, Address>,
    /// The L1 block holding the last deployment transaction.
    pub deployed_at_block: u64,
}

/// The proxied contracts, in deployment order.
const PROXIED: [&str; 8] = [
    "SuperchainConfig",
    "SystemConfig",
    "OptimismPortal",
    "L1CrossDomainMessenger",
    "L1StandardBridge",
    "L1ERC721Bridge",
    "OptimismMintableERC20Factory",
    "L2OutputOracle",
];

/// Deploys the OP L1 contracts from one funded account, which owns them afterwards.
#[derive(Debug)]
pub struct L1Deployer<'a, P> {
    provider: &'a P,
    deployer: Address,
    package: &'a ContractsPackage,
    config: L1DeployConfig,
}

impl<'a, P: Provider> L1Deployer<'a, P> {
    /// A deployer sending from `deployer` through `provider` (which must sign for it).
    pub const fn new(
        provider: &'a P,
        deployer: Address,
        package: &'a ContractsPackage,
        config: L1DeployConfig,
    ) -> Self {
        Self { provider, deployer, package, config }
    }

    /// Deploys every contract and initializes all but the output oracle, whose starting
    /// timestamp is the L2 genesis time: see [`Self::initialize_output_oracle`].
    ///
    /// The transactions are sent back to back with consecutive nonces and the addresses they
    /// create computed ahead, so the deployment takes a couple of L1 blocks on an L1 that mines
    /// on a timer, not one block per transaction.
    pub async fn deploy(&self) -> Result<L1Deployment, OpContractsError> {
        let cfg = &self.config;
        let mut nonce = self.pending_nonce().await?;
        let mut sent: Vec<(String, TxHash)> = Vec::new();

        let proxy_admin = self.deployer.create(nonce);
        let mut init = self.package.artifact("ProxyAdmin")?.bytecode.to_vec();
        init.extend_from_slice(&(self.deployer,).abi_encode_params());
        sent.push(("deploy ProxyAdmin".into(), self.create(&mut nonce, init).await?));

        let proxy_code = self.package.artifact("Proxy")?.bytecode;
        let first_proxy = nonce;
        let proxies: [Address; PROXIED.len()] =
            std::array::from_fn(|i| self.deployer.create(first_proxy + i as u64));
        for name in PROXIED {
            let mut init = proxy_code.to_vec();
            init.extend_from_slice(&(proxy_admin,).abi_encode_params());
            sent.push((format!("deploy the {name} proxy"), self.create(&mut nonce, init).await?));
        }
        let mut implementations = std::collections::BTreeMap::new();
        for name in PROXIED {
            implementations.insert(name.to_string(), self.deployer.create(nonce));
            let init = self.package.artifact(name)?.bytecode.to_vec();
            sent.push((format!("deploy {name}"), self.create(&mut nonce, init).await?));
        }
        let [
            superchain_config,
            system_config,
            optimism_portal,
            l1_cross_domain_messenger,
            l1_standard_bridge,
            l1_erc721_bridge,
            optimism_mintable_erc20_factory,
            l2_output_oracle,
        ] = proxies;
        let deployment = L1Deployment {
            proxy_admin,
            superchain_config_proxy: superchain_config,
            system_config_proxy: system_config,
            optimism_portal_proxy: optimism_portal,
            l2_output_oracle_proxy: l2_output_oracle,
            l1_cross_domain_messenger_proxy: l1_cross_domain_messenger,
            l1_standard_bridge_proxy: l1_standard_bridge,
            l1_erc721_bridge_proxy: l1_erc721_bridge,
            optimism_mintable_erc20_factory_proxy: optimism_mintable_erc20_factory,
            implementations,
            deployed_at_block: 0,
        };

        let initializers: [(&str, Address, Vec<u8>); 7] = [
            (
                "SuperchainConfig",
                superchain_config,
                bindings::SuperchainConfig::initializeCall {
                    _guardian: cfg.guardian,
                    _paused: false,
                }
                .abi_encode(),
            ),
            (
                "SystemConfig",
                system_config,
                bindings::SystemConfig::initializeCall {
                    _owner: self.deployer,
                    _basefeeScalar: cfg.basefee_scalar,
                    _blobbasefeeScalar: cfg.blobbasefee_scalar,
                    _batcherHash: cfg.batcher.into_word(),
                    _gasLimit: cfg.gas_limit,
                    _unsafeBlockSigner: cfg.unsafe_block_signer,
                    _config: DEFAULT_RESOURCE_CONFIG,
                    _batchInbox: cfg.batch_inbox,
                    _addresses: bindings::SystemConfigAddresses {
                        l1CrossDomainMessenger: l1_cross_domain_messenger,
                        l1ERC721Bridge: l1_erc721_bridge,
                        l1StandardBridge: l1_standard_bridge,
                        disputeGameFactory: Address::ZERO,
                        optimismPortal: optimism_portal,
                        optimismMintableERC20Factory: optimism_mintable_erc20_factory,
                        gasPayingToken: Address::ZERO,
                    },
                }
                .abi_encode(),
            ),
            (
                "OptimismPortal",
                optimism_portal,
                bindings::OptimismPortal::initializeCall {
                    _l2Oracle: l2_output_oracle,
                    _systemConfig: system_config,
                    _superchainConfig: superchain_config,
                }
                .abi_encode(),
            ),
            (
                "L1CrossDomainMessenger",
                l1_cross_domain_messenger,
                bindings::L1CrossDomainMessenger::initializeCall {
                    _superchainConfig: superchain_config,
                    _portal: optimism_portal,
                    _systemConfig: system_config,
                }
                .abi_encode(),
            ),
            (
                "L1StandardBridge",
                l1_standard_bridge,
                bindings::L1StandardBridge::initializeCall {
                    _messenger: l1_cross_domain_messenger,
                    _superchainConfig: superchain_config,
                    _systemConfig: system_config,
                }
                .abi_encode(),
            ),
            (
                "L1ERC721Bridge",
                l1_erc721_bridge,
                bindings::L1ERC721Bridge::initializeCall {
                    _messenger: l1_cross_domain_messenger,
                    _superchainConfig: superchain_config,
                }
                .abi_encode(),
            ),
            (
                "OptimismMintableERC20Factory",
                optimism_mintable_erc20_factory,
                bindings::OptimismMintableERC20Factory::initializeCall {
                    _bridge: l1_standard_bridge,
                }
                .abi_encode(),
            ),
        ];
        for (name, proxy, data) in initializers {
            let hash = self.upgrade_and_call(&mut nonce, &deployment, name, proxy, data).await?;
            sent.push((format!("initialize {name}"), hash));
        }
        let last = self.confirm(sent).await?;
        Ok(L1Deployment { deployed_at_block: last, ..deployment })
    }

    /// Initializes the output oracle with the L2 genesis time as its starting timestamp; returns
    /// the L1 block it was mined in. The time must not be after the L1's latest block.
    pub async fn initialize_output_oracle(
        &self,
        deployment: &L1Deployment,
        l2_genesis_time: u64,
    ) -> Result<u64, OpContractsError> {
        let cfg = &self.config;
        let mut nonce = self.pending_nonce().await?;
        let data = bindings::L2OutputOracle::initializeCall {
            _submissionInterval: U256::from(cfg.submission_interval),
            _l2BlockTime: U256::from(cfg.l2_block_time),
            _startingBlockNumber: U256::ZERO,
            _startingTimestamp: U256::from(l2_genesis_time),
            _proposer: cfg.proposer,
            _challenger: cfg.challenger,
            _finalizationPeriodSeconds: U256::from(cfg.finalization_period),
        }
        .abi_encode();
        let proxy = deployment.l2_output_oracle_proxy;
        let hash =
            self.upgrade_and_call(&mut nonce, deployment, "L2OutputOracle", proxy, data).await?;
        self.confirm(vec![("initialize L2OutputOracle".into(), hash)]).await
    }

    /// The deployer's next nonce, counting its transactions still in the pool.
    async fn pending_nonce(&self) -> Result<u64, OpContractsError> {
        self.provider
            .get_transaction_count(self.deployer)
            .pending()
            .await
            .map_err(|e| deploy_error("read the deployer's nonce", e))
    }

    /// Sends a contract creation with the next nonce and an estimated gas limit.
    async fn create(&self, nonce: &mut u64, init: Vec<u8>) -> Result<TxHash, OpContractsError> {
        let tx =
            TransactionRequest::default().from(self.deployer).with_deploy_code(Bytes::from(init));
        let gas = self
            .provider
            .estimate_gas(tx.clone())
            .await
            .map_err(|e| deploy_error("estimate a deployment's gas", e))?;
        self.send(nonce, tx.with_gas_limit(gas + gas / 5)).await
    }

    async fn upgrade_and_call(
        &self,
        nonce: &mut u64,
        deployment: &L1Deployment,
        name: &str,
        proxy: Address,
        data: Vec<u8>,
    ) -> Result<TxHash, OpContractsError> {
        let implementation = deployment.implementations.get(name).copied().ok_or_else(|| {
            OpContractsError::Deploy {
                step: format!("initialize {name}"),
                why: "no implementation was deployed".into(),
            }
        })?;
        let call = bindings::ProxyAdmin::upgradeAndCallCall {
            _proxy: proxy,
            _implementation: implementation,
            _data: data.into(),
        };
        let tx = TransactionRequest::default()
            .from(self.deployer)
            .with_to(deployment.proxy_admin)
            .with_input(call.abi_encode())
            .with_gas_limit(INITIALIZE_GAS);
        self.send(nonce, tx).await
    }

    async fn send(
        &self,
        nonce: &mut u64,
        tx: TransactionRequest,
    ) -> Result<TxHash, OpContractsError> {
        let pending = self
            .provider
            .send_transaction(tx.with_nonce(*nonce))
            .await
            .map_err(|e| deploy_error("send a deployment transaction", e))?;
        *nonce += 1;
        Ok(*pending.tx_hash())
    }

    /// Waits for every transaction's receipt, refusing any that reverted; returns the highest
    /// block they were mined in.
    async fn confirm(&self, sent: Vec<(String, TxHash)>) -> Result<u64, OpContractsError> {
        let started = std::time::Instant::now();
        let mut last_block = 0;
        for (step, hash) in sent {
            let receipt = loop {
                match self.provider.get_transaction_receipt(hash).await {
                    Ok(Some(receipt)) => break receipt,
                    Ok(None) if started.elapsed() < RECEIPT_TIMEOUT => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Ok(None) => {
                        return Err(OpContractsError::Deploy {
                            step,
                            why: format!("not mined within {}s", RECEIPT_TIMEOUT.as_secs()),
                        });
                    }
                    Err(e) => return Err(deploy_error(&step, e)),
                }
            };
            check_receipt(&step, &receipt)?;
            last_block = last_block.max(receipt.block_number.unwrap_or_default());
            tracing::debug!(target: "op_contracts", %step, tx = %hash, "mined");
        }
        Ok(last_block)
    }
}

fn check_receipt(step: &str, receipt: &TransactionReceipt) -> Result<(), OpContractsError> {
    if receipt.status() {
        return Ok(());
    }
    Err(OpContractsError::Deploy {
        step: step.to_string(),
        why: format!(
            "transaction {} reverted (gas used {})",
            receipt.transaction_hash, receipt.gas_used
        ),
    })
}

fn deploy_error(step: &str, error: impl std::fmt::Display) -> OpContractsError {
    OpContractsError::Deploy { step: step.to_string(), why: error.to_string() }
}
