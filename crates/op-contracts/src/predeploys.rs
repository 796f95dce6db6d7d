//! The L2 predeploys: proxies at `0x4200…0000`–`0x4200…07ff` owned by the L2 `ProxyAdmin`, the
//! package's implementations behind them, initialized by running their constructors and
//! initializers in revm, the way an OP L2 genesis is built.

use crate::{ContractsPackage, OpContractsError, bindings};
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, U256, address, b256};
use alloy_sol_types::{SolCall, SolValue};
use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    context::{
        TxEnv,
        result::{ExecutionResult, Output},
    },
    database::{CacheDB, EmptyDB},
    primitives::{TxKind, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use std::collections::BTreeMap;

/// `LegacyMessagePasser`.
pub const LEGACY_MESSAGE_PASSER: Address = address!("4200000000000000000000000000000000000000");
/// `DeployerWhitelist`.
pub const DEPLOYER_WHITELIST: Address = address!("4200000000000000000000000000000000000002");
/// `WETH` (not behind a proxy).
pub const WETH: Address = address!("4200000000000000000000000000000000000006");
/// `L2CrossDomainMessenger`.
pub const L2_CROSS_DOMAIN_MESSENGER: Address = address!("4200000000000000000000000000000000000007");
/// `GasPriceOracle`.
pub const GAS_PRICE_ORACLE: Address = address!("420000000000000000000000000000000000000F");
/// `L2StandardBridge`.
pub const L2_STANDARD_BRIDGE: Address = address!("4200000000000000000000000000000000000010");
/// `SequencerFeeVault`: every OP block's coinbase.
pub const SEQUENCER_FEE_VAULT: Address = address!("4200000000000000000000000000000000000011");
/// `OptimismMintableERC20Factory`.
pub const OPTIMISM_MINTABLE_ERC20_FACTORY: Address =
    address!("4200000000000000000000000000000000000012");
/// `L1BlockNumber`.
pub const L1_BLOCK_NUMBER: Address = address!("4200000000000000000000000000000000000013");
/// `L2ERC721Bridge`.
pub const L2_ERC721_BRIDGE: Address = address!("4200000000000000000000000000000000000014");
/// `L1Block`: the L1 attributes every block's first transaction writes.
pub const L1_BLOCK: Address = address!("4200000000000000000000000000000000000015");
/// `L2ToL1MessagePasser`: withdrawals; from Isthmus on its storage root is the block's
/// withdrawals root.
pub const L2_TO_L1_MESSAGE_PASSER: Address = address!("4200000000000000000000000000000000000016");
/// `OptimismMintableERC721Factory`.
pub const OPTIMISM_MINTABLE_ERC721_FACTORY: Address =
    address!("4200000000000000000000000000000000000017");
/// The L2 `ProxyAdmin`, itself behind a proxy whose admin it is.
pub const PROXY_ADMIN: Address = address!("4200000000000000000000000000000000000018");
/// `BaseFeeVault`.
pub const BASE_FEE_VAULT: Address = address!("4200000000000000000000000000000000000019");
/// `L1FeeVault`.
pub const L1_FEE_VAULT: Address = address!("420000000000000000000000000000000000001a");
/// `SchemaRegistry`.
pub const SCHEMA_REGISTRY: Address = address!("4200000000000000000000000000000000000020");
/// `EAS`.
pub const EAS: Address = address!("4200000000000000000000000000000000000021");
/// `GovernanceToken`: not deployed on this devnet, and not behind a proxy where it is.
pub const GOVERNANCE_TOKEN: Address = address!("4200000000000000000000000000000000000042");

/// The account every system deposit (L1 attributes, upgrades) is sent from.
pub const DEPOSITOR_ACCOUNT: Address = address!("DeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");

/// ERC-1967 implementation slot.
pub const IMPLEMENTATION_SLOT: B256 =
    b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
/// ERC-1967 admin slot.
pub const ADMIN_SLOT: B256 =
    b256!("b53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103");

/// How many proxies the predeploy namespace holds (`0x4200…0000` to `0x4200…07ff`).
pub const PROXY_COUNT: u16 = 2048;

/// Where a proxied predeploy's implementation lives: `0xc0d3…c0d3` with the predeploy's low two
/// bytes.
pub fn implementation_address(predeploy: Address) -> Address {
    let mut bytes = address!("c0D3C0d3C0d3C0D3c0d3C0d3c0D3C0d3c0d30000").0.0;
    bytes[18..].copy_from_slice(&predeploy.0.0[18..]);
    Address::from(bytes)
}

/// A predeploy this genesis installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Predeploy {
    /// Contract name in the package.
    pub name: &'static str,
    /// Its address.
    pub address: Address,
    /// Whether it sits behind a proxy (its code then lives at [`implementation_address`]).
    pub proxied: bool,
}

/// The predeploys, in the order the genesis builds them.
pub const PREDEPLOYS: [Predeploy; 18] = [
    Predeploy { name: "LegacyMessagePasser", address: LEGACY_MESSAGE_PASSER, proxied: true },
    Predeploy { name: "DeployerWhitelist", address: DEPLOYER_WHITELIST, proxied: true },
    Predeploy { name: "WETH", address: WETH, proxied: false },
    Predeploy { name: "L2CrossDomainMessenger", address: L2_CROSS_DOMAIN_MESSENGER, proxied: true },
    Predeploy { name: "GasPriceOracle", address: GAS_PRICE_ORACLE, proxied: true },
    Predeploy { name: "L2StandardBridge", address: L2_STANDARD_BRIDGE, proxied: true },
    Predeploy { name: "SequencerFeeVault", address: SEQUENCER_FEE_VAULT, proxied: true },
    Predeploy {
        name: "OptimismMintableERC20Factory",
        address: OPTIMISM_MINTABLE_ERC20_FACTORY,
        proxied: true,
    },
    Predeploy { name: "L1BlockNumber", address: L1_BLOCK_NUMBER, proxied: true },
    Predeploy { name: "L2ERC721Bridge", address: L2_ERC721_BRIDGE, proxied: true },
    Predeploy { name: "L1Block", address: L1_BLOCK, proxied: true },
    Predeploy { name: "L2ToL1MessagePasser", address: L2_TO_L1_MESSAGE_PASSER, proxied: true },
    Predeploy {
        name: "OptimismMintableERC721Factory",
        address: OPTIMISM_MINTABLE_ERC721_FACTORY,
        proxied: true,
    },
    Predeploy { name: "ProxyAdmin", address: PROXY_ADMIN, proxied: true },
    Predeploy { name: "BaseFeeVault", address: BASE_FEE_VAULT, proxied: true },
    Predeploy { name: "L1FeeVault", address: L1_FEE_VAULT, proxied: true },
    Predeploy { name: "SchemaRegistry", address: SCHEMA_REGISTRY, proxied: true },
    Predeploy { name: "EAS", address: EAS, proxied: true },
];

/// What the L2 predeploys are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2PredeployConfig {
    /// The L1 chain id (the ERC-721 factory's remote chain).
    pub l1_chain_id: u64,
    /// The L2 chain id.
    pub l2_chain_id: u64,
    /// The L1 side of the messenger.
    pub l1_cross_domain_messenger: Address,
    /// The L1 side of the standard bridge.
    pub l1_standard_bridge: Address,
    /// The L1 side of the ERC-721 bridge.
    pub l1_erc721_bridge: Address,
    /// Owner of the L2 `ProxyAdmin`.
    pub proxy_admin_owner: Address,
    /// Recipient of the three fee vaults.
    pub fee_vault_recipient: Address,
    /// Least a fee vault withdraws at once, in wei.
    pub fee_vault_min_withdrawal: U256,
    /// Whether Ecotone is active at genesis (the gas price oracle then starts in Ecotone mode).
    pub ecotone_at_genesis: bool,
    /// Whether Fjord is active at genesis.
    pub fjord_at_genesis: bool,
}

/// A sender with no role in the chain: it only pays for the constructors the genesis runs.
const GENESIS_DEPLOYER: Address = address!("00000000000000000000000000000000000De910");

/// Builds the predeploy accounts of an L2 genesis.
#[derive(Debug)]
pub struct L2PredeployBuilder<'a> {
    package: &'a ContractsPackage,
    config: L2PredeployConfig,
}

type GenesisEvm = revm::handler::MainnetEvm<revm::handler::MainnetContext<CacheDB<EmptyDB>>>;

impl<'a> L2PredeployBuilder<'a> {
    /// A builder for `config` with the implementations of `package`.
    pub const fn new(package: &'a ContractsPackage, config: L2PredeployConfig) -> Self {
        Self { package, config }
    }

    /// The genesis accounts: the proxies, their implementations, and the non-proxied
    /// predeploys, with the storage their initializers wrote.
    pub fn build(&self) -> Result<BTreeMap<Address, GenesisAccount>, OpContractsError> {
        let cfg = &self.config;
        let mut evm = Context::mainnet()
            .with_db(CacheDB::<EmptyDB>::default())
            .modify_cfg_chained(|c| {
                c.spec = SpecId::CANCUN;
                c.chain_id = cfg.l2_chain_id;
                c.disable_nonce_check = true;
            })
            .build_mainnet();

        // One proxy is deployed to learn its runtime code; every predeploy slot gets a copy.
        let proxy = self.package.artifact("Proxy")?;
        let mut init = proxy.bytecode.to_vec();
        init.extend_from_slice(&(PROXY_ADMIN,).abi_encode_params());
        let sample = self.create(&mut evm, "Proxy", init)?;
        let proxy_code = self.take(&mut evm, sample)?.0;
        for low in 0..PROXY_COUNT {
            let address = predeploy_address(low);
            if address == WETH || address == GOVERNANCE_TOKEN {
                continue;
            }
            put(&mut evm, address, proxy_code.clone(), [(ADMIN_SLOT, PROXY_ADMIN.into_word())]);
        }

        for predeploy in &PREDEPLOYS {
            let artifact = self.package.artifact(predeploy.name)?;
            let mut init = artifact.bytecode.to_vec();
            init.extend_from_slice(&self.constructor_args(predeploy.address));
            let created = self.create(&mut evm, predeploy.name, init)?;
            let (code, storage) = self.take(&mut evm, created)?;
            if predeploy.proxied {
                let implementation = implementation_address(predeploy.address);
                put(&mut evm, implementation, code, storage);
                set_storage(
                    &mut evm,
                    predeploy.address,
                    IMPLEMENTATION_SLOT,
                    implementation.into_word(),
                );
            } else {
                put(&mut evm, predeploy.address, code, storage);
            }
        }

        // The L2 ProxyAdmin's owner lives in its proxy's storage.
        let owner_slot = self.package.artifact("ProxyAdmin")?.slot("_owner")?;
        set_storage(&mut evm, PROXY_ADMIN, owner_slot, cfg.proxy_admin_owner.into_word());

        // Initializers run through the proxies, as on chain.
        let calls: Vec<(&str, Address, Address, Vec<u8>)> = [
            (
                "L2CrossDomainMessenger.initialize",
                GENESIS_DEPLOYER,
                L2_CROSS_DOMAIN_MESSENGER,
                bindings::L2CrossDomainMessenger::initializeCall {
                    _l1CrossDomainMessenger: cfg.l1_cross_domain_messenger,
                }
                .abi_encode(),
            ),
            (
                "L2StandardBridge.initialize",
                GENESIS_DEPLOYER,
                L2_STANDARD_BRIDGE,
                bindings::L2StandardBridge::initializeCall { _otherBridge: cfg.l1_standard_bridge }
                    .abi_encode(),
            ),
            (
                "L2ERC721Bridge.initialize",
                GENESIS_DEPLOYER,
                L2_ERC721_BRIDGE,
                bindings::L2ERC721Bridge::initializeCall { _l1ERC721Bridge: cfg.l1_erc721_bridge }
                    .abi_encode(),
            ),
            (
                "OptimismMintableERC20Factory.initialize",
                GENESIS_DEPLOYER,
                OPTIMISM_MINTABLE_ERC20_FACTORY,
                bindings::OptimismMintableERC20Factory::initializeCall {
                    _bridge: L2_STANDARD_BRIDGE,
                }
                .abi_encode(),
            ),
        ]
        .into_iter()
        .chain(cfg.ecotone_at_genesis.then(|| {
            (
                "GasPriceOracle.setEcotone",
                DEPOSITOR_ACCOUNT,
                GAS_PRICE_ORACLE,
                bindings::GasPriceOracle::setEcotoneCall {}.abi_encode(),
            )
        }))
        .chain((cfg.ecotone_at_genesis && cfg.fjord_at_genesis).then(|| {
            (
                "GasPriceOracle.setFjord",
                DEPOSITOR_ACCOUNT,
                GAS_PRICE_ORACLE,
                bindings::GasPriceOracle::setFjordCall {}.abi_encode(),
            )
        }))
        .collect();
        for (step, caller, to, data) in calls {
            self.call(&mut evm, step, caller, to, data)?;
        }

        let db = &evm.ctx.journaled_state.database;
        let accounts = db
            .cache
            .accounts
            .iter()
            .filter(|(address, _)| **address != GENESIS_DEPLOYER && **address != DEPOSITOR_ACCOUNT)
            .filter_map(|(address, account)| {
                let code = code_of(db, &account.info)?;
                let storage = account
                    .storage
                    .iter()
                    .filter(|(_, value)| !value.is_zero())
                    .map(|(slot, value)| (B256::from(*slot), B256::from(*value)))
                    .collect::<BTreeMap<_, _>>();
                Some((
                    *address,
                    GenesisAccount::default()
                        .with_code(Some(code))
                        .with_storage(Some(storage))
                        .with_balance(U256::ZERO),
                ))
            })
            .collect();
        Ok(accounts)
    }

    /// Constructor arguments of the predeploy at `address` (empty for those without).
    fn constructor_args(&self, address: Address) -> Vec<u8> {
        let cfg = &self.config;
        // Fee vaults withdraw to L1 (network 0, an enum: ABI-encoded as a full word), as on OP
        // Mainnet.
        let vault = (cfg.fee_vault_recipient, cfg.fee_vault_min_withdrawal, U256::ZERO);
        match address {
            SEQUENCER_FEE_VAULT | BASE_FEE_VAULT | L1_FEE_VAULT => vault.abi_encode_params(),
            OPTIMISM_MINTABLE_ERC721_FACTORY => {
                (L2_ERC721_BRIDGE, U256::from(cfg.l1_chain_id)).abi_encode_params()
            }
            PROXY_ADMIN => (cfg.proxy_admin_owner,).abi_encode_params(),
            _ => Vec::new(),
        }
    }

    /// Runs creation code from the genesis deployer and returns the new contract's address.
    fn create(
        &self,
        evm: &mut GenesisEvm,
        name: &str,
        init: Vec<u8>,
    ) -> Result<Address, OpContractsError> {
        let result = transact(evm, GENESIS_DEPLOYER, TxKind::Create, init)
            .map_err(|why| OpContractsError::Genesis { step: format!("deploy {name}"), why })?;
        match result {
            ExecutionResult::Success { output: Output::Create(_, Some(address)), .. } => {
                Ok(address)
            }
            other => Err(OpContractsError::Genesis {
                step: format!("deploy {name}"),
                why: format!("{other:?}"),
            }),
        }
    }

    fn call(
        &self,
        evm: &mut GenesisEvm,
        step: &str,
        caller: Address,
        to: Address,
        data: Vec<u8>,
    ) -> Result<(), OpContractsError> {
        let fail = |why: String| OpContractsError::Genesis { step: step.to_string(), why };
        match transact(evm, caller, TxKind::Call(to), data).map_err(fail)? {
            ExecutionResult::Success { .. } => Ok(()),
            other => Err(fail(format!("{other:?}"))),
        }
    }

    /// Removes the account at `address` and returns its code and storage.
    fn take(
        &self,
        evm: &mut GenesisEvm,
        address: Address,
    ) -> Result<(Bytes, Vec<(B256, B256)>), OpContractsError> {
        let db = &mut evm.ctx.journaled_state.database;
        let account =
            db.cache.accounts.remove(&address).ok_or_else(|| OpContractsError::Genesis {
                step: format!("move {address}"),
                why: "no such account".into(),
            })?;
        let code = code_of(db, &account.info).unwrap_or_default();
        let storage = account
            .storage
            .into_iter()
            .filter(|(_, value)| !value.is_zero())
            .map(|(slot, value)| (B256::from(slot), B256::from(value)))
            .collect();
        Ok((code, storage))
    }
}

/// An account's code: CacheDB keeps it in the account or, by hash, beside it.
fn code_of(db: &CacheDB<EmptyDB>, info: &AccountInfo) -> Option<Bytes> {
    let code = info.code.clone().or_else(|| db.cache.contracts.get(&info.code_hash).cloned())?;
    (!code.is_empty()).then(|| code.original_bytes())
}

/// The predeploy with low bytes `low`.
fn predeploy_address(low: u16) -> Address {
    let mut bytes = LEGACY_MESSAGE_PASSER.0.0;
    bytes[18..].copy_from_slice(&low.to_be_bytes());
    Address::from(bytes)
}

fn put(
    evm: &mut GenesisEvm,
    address: Address,
    code: Bytes,
    storage: impl IntoIterator<Item = (B256, B256)>,
) {
    let db = &mut evm.ctx.journaled_state.database;
    let bytecode = Bytecode::new_raw(code);
    db.insert_account_info(
        address,
        AccountInfo { code_hash: bytecode.hash_slow(), code: Some(bytecode), ..Default::default() },
    );
    for (slot, value) in storage {
        set_storage(evm, address, slot, value);
    }
}

fn set_storage(evm: &mut GenesisEvm, address: Address, slot: B256, value: B256) {
    let db = &mut evm.ctx.journaled_state.database;
    if let Some(account) = db.cache.accounts.get_mut(&address) {
        account.storage.insert(slot.into(), value.into());
    }
}

fn transact(
    evm: &mut GenesisEvm,
    caller: Address,
    kind: TxKind,
    data: Vec<u8>,
) -> Result<ExecutionResult, String> {
    let tx = TxEnv {
        caller,
        kind,
        data: data.into(),
        gas_limit: 30_000_000,
        gas_price: 0,
        ..Default::default()
    };
    evm.transact_commit(tx).map_err(|e| e.to_string())
}
