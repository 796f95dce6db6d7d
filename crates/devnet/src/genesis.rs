//! The devnet's L2 genesis (op-reth `--chain` JSON) and rollup config (kona `rollup.json`).

use crate::DevnetError;
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, constants::EMPTY_WITHDRAWALS};
use alloy_eips::{BlockNumHash, eip1559::BaseFeeParams, eip7685::EMPTY_REQUESTS_HASH};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{Address, B64, B256, Bytes, U256, address};
use alloy_trie::{
    EMPTY_ROOT_HASH,
    root::{state_root_ref_unhashed, storage_root_unhashed},
};
use kona_genesis::{BaseFeeConfig, ChainGenesis, HardForkConfig, RollupConfig, SystemConfig};
use rollup_op_contracts::{L1Deployment, predeploys};
use serde_json::json;
use std::collections::BTreeMap;

/// anvil's and Hardhat's well-known development accounts (mnemonic "test test … junk").
pub const DEV_ACCOUNTS: [Address; 10] = [
    address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
    address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
    address!("90F79bf6EB2c4f870365E785982E1f101E93b906"),
    address!("15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
    address!("9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
    address!("976EA74026E726554dB657fA54763abd0C3a0aa9"),
    address!("14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
    address!("23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
    address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720"),
];

/// The devnet's Ecotone base fee scalar (the system config's and the genesis's).
pub const BASEFEE_SCALAR: u32 = 1_000_000;
/// The devnet's Ecotone blob base fee scalar.
pub const BLOBBASEFEE_SCALAR: u32 = 0;

/// How long after genesis Isthmus activates by default: long enough for the chain to run a few
/// minutes on Holocene first, so the upgrade transactions run as on live chains.
pub const DEFAULT_ISTHMUS_DELAY: u64 = 180;

/// The devnet's EIP-1559 parameters: the OP Stack's (elasticity 6, denominator 50 before Canyon and
/// 250 from Canyon on).
pub const EIP1559_ELASTICITY: u32 = 6;
/// Base fee change denominator before Canyon.
pub const EIP1559_DENOMINATOR: u32 = 50;
/// Base fee change denominator from Canyon on (the one in force: Canyon is active at genesis).
pub const EIP1559_DENOMINATOR_CANYON: u32 = 250;

/// Base fee of the genesis block, in wei.
pub const GENESIS_BASE_FEE: u64 = 1_000_000_000;

/// The genesis `extraData` when Holocene is active at genesis.
///
/// From Holocene on, the base fee of block N+1 is computed with the EIP-1559 parameters that
/// block N's `extraData` carries (version byte 0, then denominator and elasticity as big-endian
/// `u32`s; see the Holocene exec-engine spec). A genesis with an empty `extraData` gives block 1
/// nothing to compute its base fee from: op-reth v1.6.0 then builds block 1 with base fee 0 and,
/// depending on which path imports it, rejects it as "base fee missing". The genesis carries what
/// its successors carry while the system config's `eip1559Params` are zero: Canyon's parameters,
/// encoded by the same op-alloy function op-reth's payload builder uses.
pub fn holocene_genesis_extra_data() -> Result<Bytes, DevnetError> {
    op_alloy_consensus::encode_holocene_extra_data(B64::ZERO, base_fee_params())
        .map_err(|e| DevnetError::Spec(format!("Holocene extraData: {e}")))
}

/// The base fee parameters in force on the devnet (Canyon's, see [`holocene_genesis_extra_data`]).
pub const fn base_fee_params() -> BaseFeeParams {
    BaseFeeParams::new(EIP1559_DENOMINATOR_CANYON as u128, EIP1559_ELASTICITY as u128)
}

/// The L1 block the L2 chain starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Origin {
    /// Number and hash.
    pub block: BlockNumHash,
    /// Its timestamp.
    pub timestamp: u64,
    /// The L1 chain id.
    pub chain_id: u64,
}

/// What the devnet looks like. Every field has a devnet default; see [`DevnetSpec::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetSpec {
    /// L2 chain id.
    pub l2_chain_id: u64,
    /// L2 block time in seconds.
    pub block_time: u64,
    /// L2 block gas limit.
    pub gas_limit: u64,
    /// Accounts funded at genesis, each with [`Self::balance`].
    pub funded: Vec<Address>,
    /// Genesis balance of each funded account, in wei.
    pub balance: U256,
    /// Address of the batcher (the system config's `batcherAddr`).
    pub batcher: Address,
    /// Address the L2OutputOracle takes output proposals from.
    pub proposer: Address,
    /// Seconds after genesis at which Isthmus activates (0: at genesis). Every earlier fork is
    /// active at genesis.
    pub isthmus_delay: u64,
}

impl Default for DevnetSpec {
    fn default() -> Self {
        Self {
            l2_chain_id: 42_069,
            block_time: 2,
            gas_limit: 30_000_000,
            funded: DEV_ACCOUNTS.to_vec(),
            // 10 000 000 ETH each.
            balance: U256::from(10u64).pow(U256::from(25u64)),
            batcher: DEV_ACCOUNTS[1],
            proposer: DEV_ACCOUNTS[2],
            isthmus_delay: DEFAULT_ISTHMUS_DELAY,
        }
    }
}

/// The OP contracts of a devnet: deployed on L1, and the predeploys its L2 genesis holds.
#[derive(Debug, Clone)]
pub struct OpChainContracts {
    /// The L1 deployment.
    pub l1: L1Deployment,
    /// The L2 predeploy accounts.
    pub predeploys: BTreeMap<Address, GenesisAccount>,
}

/// The files a devnet starts from.
#[derive(Debug, Clone)]
pub struct DevnetArtifacts {
    /// op-reth's `--chain` genesis.
    pub genesis: serde_json::Value,
    /// The genesis block hash op-reth computes from it.
    pub genesis_hash: B256,
    /// kona's rollup config.
    pub rollup: RollupConfig,
}

impl DevnetSpec {
    /// The Isthmus activation time of a chain whose genesis is at `genesis_time`.
    pub const fn isthmus_time(&self, genesis_time: u64) -> u64 {
        genesis_time.saturating_add(self.isthmus_delay)
    }

    /// The L2 genesis JSON: every OP hard fork through Holocene active at genesis, Isthmus
    /// [`Self::isthmus_delay`] later, the OP predeploys and the funded accounts.
    ///
    /// The L2 genesis time equals the L1 origin's: kona's sequencer picks L1 origins by
    /// `l2_time - l1_time`, which must never be negative.
    pub fn genesis_json(
        &self,
        origin: &L1Origin,
        contracts: &OpChainContracts,
    ) -> Result<serde_json::Value, DevnetError> {
        let mut alloc: serde_json::Map<_, _> = contracts
            .predeploys
            .iter()
            .map(|(address, account)| {
                serde_json::to_value(account)
                    .map(|account| (format!("{address:?}"), account))
                    .map_err(|e| DevnetError::Spec(format!("predeploy {address}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        for funded in &self.funded {
            alloc.insert(
                format!("{funded:?}"),
                json!({ "balance": format!("{:#x}", self.balance) }),
            );
        }
        // The system contracts the forks active at genesis call into every block, preinstalled
        // as an OP genesis has them: EIP-4788's beacon roots (Ecotone). EIP-2935's block hash
        // history (Isthmus) only when Isthmus is active at genesis: otherwise Isthmus's upgrade
        // transactions deploy it at the fork, as on live chains.
        let mut system = vec![(
            alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
            &alloy_eips::eip4788::BEACON_ROOTS_CODE,
        )];
        if self.isthmus_delay == 0 {
            system.push((
                alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
                &alloy_eips::eip2935::HISTORY_STORAGE_CODE,
            ));
        }
        for (address, code) in system {
            alloc.insert(
                format!("{address:?}"),
                json!({ "balance": "0x0", "nonce": "0x1", "code": code }),
            );
        }
        let isthmus = self.isthmus_time(origin.timestamp);
        Ok(json!({
            "config": {
                "chainId": self.l2_chain_id,
                "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
                "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0,
                "istanbulBlock": 0, "muirGlacierBlock": 0, "berlinBlock": 0, "londonBlock": 0,
                "arrowGlacierBlock": 0, "grayGlacierBlock": 0, "mergeNetsplitBlock": 0,
                "shanghaiTime": 0, "cancunTime": 0, "pragueTime": isthmus,
                "bedrockBlock": 0, "regolithTime": 0, "canyonTime": 0, "ecotoneTime": 0,
                "fjordTime": 0, "graniteTime": 0, "holoceneTime": 0, "isthmusTime": isthmus,
                "terminalTotalDifficulty": 0, "terminalTotalDifficultyPassed": true,
                "depositContractAddress": Address::ZERO,
                "optimism": {
                    "eip1559Elasticity": EIP1559_ELASTICITY,
                    "eip1559Denominator": EIP1559_DENOMINATOR,
                    "eip1559DenominatorCanyon": EIP1559_DENOMINATOR_CANYON
                }
            },
            "nonce": "0x0",
            "timestamp": format!("{:#x}", origin.timestamp),
            "extraData": holocene_genesis_extra_data()?,
            "gasLimit": format!("{:#x}", self.gas_limit),
            "difficulty": "0x0",
            "mixHash": B256::ZERO,
            "coinbase": predeploys::SEQUENCER_FEE_VAULT,
            "baseFeePerGas": format!("{GENESIS_BASE_FEE:#x}"),
            "number": "0x0",
            "alloc": alloc,
        }))
    }

    /// The genesis JSON, its hash, and the matching rollup config.
    pub fn build(
        &self,
        origin: &L1Origin,
        contracts: &OpChainContracts,
    ) -> Result<DevnetArtifacts, DevnetError> {
        if self.block_time == 0 {
            return Err(DevnetError::Spec("block time must be at least 1 second".into()));
        }
        if self.l2_chain_id == origin.chain_id {
            return Err(DevnetError::Spec(format!(
                "L2 chain id {} equals the L1 chain id",
                self.l2_chain_id
            )));
        }
        let genesis = self.genesis_json(origin, contracts)?;
        let parsed: Genesis = serde_json::from_value(genesis.clone())
            .map_err(|e| DevnetError::Spec(format!("genesis does not parse: {e}")))?;
        let genesis_hash = genesis_header(&parsed).hash_slow();
        let rollup = self.rollup_config(origin, genesis_hash, &contracts.l1);
        Ok(DevnetArtifacts { genesis, genesis_hash, rollup })
    }

    /// The batch inbox: the OP convention, `0xff00…00` followed by the L2 chain id.
    pub fn batch_inbox(&self) -> Address {
        let mut inbox = [0u8; 20];
        inbox[0] = 0xff;
        inbox[12..20].copy_from_slice(&self.l2_chain_id.to_be_bytes());
        Address::from(inbox)
    }

    fn rollup_config(
        &self,
        origin: &L1Origin,
        l2_genesis: B256,
        l1: &L1Deployment,
    ) -> RollupConfig {
        // Ecotone-style scalar, as SystemConfig.initialize stores it: version byte 1, then the
        // blob base fee scalar and the base fee scalar as the last two big-endian u32s.
        let mut scalar = [0u8; 32];
        scalar[0] = 1;
        scalar[24..28].copy_from_slice(&BLOBBASEFEE_SCALAR.to_be_bytes());
        scalar[28..32].copy_from_slice(&BASEFEE_SCALAR.to_be_bytes());
        RollupConfig {
            genesis: ChainGenesis {
                l1: origin.block,
                l2: BlockNumHash::new(0, l2_genesis),
                l2_time: origin.timestamp,
                system_config: Some(SystemConfig {
                    batcher_address: self.batcher,
                    overhead: U256::ZERO,
                    scalar: U256::from_be_bytes(scalar),
                    gas_limit: self.gas_limit,
                    ..Default::default()
                }),
            },
            block_time: self.block_time,
            max_sequencer_drift: 600,
            seq_window_size: 3600,
            channel_timeout: 300,
            granite_channel_timeout: 50,
            l1_chain_id: origin.chain_id,
            l2_chain_id: self.l2_chain_id.into(),
            hardforks: HardForkConfig {
                regolith_time: Some(0),
                canyon_time: Some(0),
                delta_time: Some(0),
                ecotone_time: Some(0),
                fjord_time: Some(0),
                granite_time: Some(0),
                holocene_time: Some(0),
                isthmus_time: Some(self.isthmus_time(origin.timestamp)),
                ..Default::default()
            },
            batch_inbox_address: self.batch_inbox(),
            deposit_contract_address: l1.optimism_portal_proxy,
            l1_system_config_address: l1.system_config_proxy,
            chain_op_config: BaseFeeConfig {
                eip1559_elasticity: EIP1559_ELASTICITY.into(),
                eip1559_denominator: EIP1559_DENOMINATOR.into(),
                eip1559_denominator_canyon: EIP1559_DENOMINATOR_CANYON.into(),
            },
            ..Default::default()
        }
    }
}

/// The genesis header op-reth v1.6.0 derives from `genesis` (`make_op_genesis_header`), for a
/// genesis with every fork through Holocene active (Shanghai and Cancun on the Ethereum side) and
/// Isthmus (Prague) active at genesis or later.
///
/// What each fork asks of it: Canyon (Shanghai) an empty withdrawals list; Ecotone (Cancun) zero
/// blob gas and a zero parent beacon block root; Holocene the EIP-1559 parameters in
/// `extraData`; Isthmus, when active at genesis, the L2ToL1MessagePasser's storage root as
/// withdrawals root and the empty requests hash (OP chains carry no EIP-7685 requests).
pub fn genesis_header(genesis: &Genesis) -> Header {
    let isthmus_at_genesis = genesis.config.prague_time.is_some_and(|t| t <= genesis.timestamp);
    let message_passer_root = genesis
        .alloc
        .get(&predeploys::L2_TO_L1_MESSAGE_PASSER)
        .and_then(|account| account.storage.as_ref())
        .map(|storage| storage_root_unhashed(storage.iter().map(|(k, v)| (*k, (*v).into()))));
    let withdrawals_root = match (isthmus_at_genesis, message_passer_root) {
        (true, Some(root)) => root,
        _ => EMPTY_WITHDRAWALS,
    };
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: state_root_ref_unhashed(&genesis.alloc),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        difficulty: genesis.difficulty,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas: Some(genesis.base_fee_per_gas.map_or(GENESIS_BASE_FEE, |fee| fee as u64)),
        withdrawals_root: Some(withdrawals_root),
        blob_gas_used: Some(genesis.blob_gas_used.unwrap_or(0)),
        excess_blob_gas: Some(genesis.excess_blob_gas.unwrap_or(0)),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: isthmus_at_genesis.then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}
