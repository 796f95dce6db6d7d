//! The devnet's L2 genesis (op-reth `--chain` JSON) and rollup config (kona `rollup.json`).

use crate::DevnetError;
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, constants::EMPTY_WITHDRAWALS};
use alloy_eips::{BlockNumHash, eip1559::BaseFeeParams, eip7685::EMPTY_REQUESTS_HASH};
use alloy_genesis::Genesis;
use alloy_primitives::{Address, B64, B256, Bytes, U256, address};
use alloy_trie::{EMPTY_ROOT_HASH, root::state_root_ref_unhashed};
use kona_genesis::{BaseFeeConfig, ChainGenesis, HardForkConfig, RollupConfig, SystemConfig};
use serde_json::json;

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

/// The L2 fee recipient predeploy (SequencerFeeVault), the coinbase of every OP block.
const SEQUENCER_FEE_VAULT: Address = address!("4200000000000000000000000000000000000011");

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
        }
    }
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
    /// The L2 genesis JSON, with every OP hard fork through Isthmus active at genesis.
    ///
    /// The L2 genesis time equals the L1 origin's: kona's sequencer picks L1 origins by
    /// `l2_time - l1_time`, which must never be negative.
    pub fn genesis_json(&self, origin: &L1Origin) -> Result<serde_json::Value, DevnetError> {
        let mut alloc: serde_json::Map<_, _> = self
            .funded
            .iter()
            .map(|a| (format!("{a:?}"), json!({ "balance": format!("{:#x}", self.balance) })))
            .collect();
        // The system contracts the forks active at genesis call into every block, as the OP
        // Stack's L2 genesis preinstalls them: EIP-4788's beacon roots (Ecotone) and EIP-2935's
        // block hash history (Isthmus). A chain whose forks are active from genesis never runs
        // the upgrade transactions that would deploy them later.
        for (address, code) in [
            (alloy_eips::eip4788::BEACON_ROOTS_ADDRESS, &alloy_eips::eip4788::BEACON_ROOTS_CODE),
            (
                alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
                &alloy_eips::eip2935::HISTORY_STORAGE_CODE,
            ),
        ] {
            alloc.insert(
                format!("{address:?}"),
                json!({ "balance": "0x0", "nonce": "0x1", "code": code }),
            );
        }
        Ok(json!({
            "config": {
                "chainId": self.l2_chain_id,
                "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
                "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0,
                "istanbulBlock": 0, "muirGlacierBlock": 0, "berlinBlock": 0, "londonBlock": 0,
                "arrowGlacierBlock": 0, "grayGlacierBlock": 0, "mergeNetsplitBlock": 0,
                "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0,
                "bedrockBlock": 0, "regolithTime": 0, "canyonTime": 0, "ecotoneTime": 0,
                "fjordTime": 0, "graniteTime": 0, "holoceneTime": 0, "isthmusTime": 0,
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
            "coinbase": SEQUENCER_FEE_VAULT,
            "baseFeePerGas": format!("{GENESIS_BASE_FEE:#x}"),
            "number": "0x0",
            "alloc": alloc,
        }))
    }

    /// The genesis JSON, its hash, and the matching rollup config.
    pub fn build(&self, origin: &L1Origin) -> Result<DevnetArtifacts, DevnetError> {
        if self.block_time == 0 {
            return Err(DevnetError::Spec("block time must be at least 1 second".into()));
        }
        if self.l2_chain_id == origin.chain_id {
            return Err(DevnetError::Spec(format!(
                "L2 chain id {} equals the L1 chain id",
                self.l2_chain_id
            )));
        }
        let genesis = self.genesis_json(origin)?;
        let parsed: Genesis = serde_json::from_value(genesis.clone())
            .map_err(|e| DevnetError::Spec(format!("genesis does not parse: {e}")))?;
        let genesis_hash = genesis_header(&parsed).hash_slow();
        let rollup = self.rollup_config(origin, genesis_hash);
        Ok(DevnetArtifacts { genesis, genesis_hash, rollup })
    }

    fn rollup_config(&self, origin: &L1Origin, l2_genesis: B256) -> RollupConfig {
        // Ecotone-style scalar: version byte 1, blob base fee scalar 0, base fee scalar 1e6.
        let mut scalar = [0u8; 32];
        scalar[0] = 1;
        scalar[28..32].copy_from_slice(&1_000_000u32.to_be_bytes());
        // The batch inbox convention: 0xff00…00 followed by the L2 chain id.
        let mut inbox = [0u8; 20];
        inbox[0] = 0xff;
        inbox[12..20].copy_from_slice(&self.l2_chain_id.to_be_bytes());
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
                isthmus_time: Some(0),
                ..Default::default()
            },
            batch_inbox_address: Address::from(inbox),
            chain_op_config: BaseFeeConfig {
                eip1559_elasticity: EIP1559_ELASTICITY.into(),
                eip1559_denominator: EIP1559_DENOMINATOR.into(),
                eip1559_denominator_canyon: EIP1559_DENOMINATOR_CANYON.into(),
            },
            ..Default::default()
        }
    }
}

/// The genesis header op-reth derives from `genesis` when every fork through Isthmus (Prague on
/// the Ethereum side) is active at genesis and no L2ToL1MessagePasser storage is allocated.
///
/// What each fork asks of it: Canyon (Shanghai) an empty withdrawals list; Ecotone (Cancun) zero
/// blob gas and a zero parent beacon block root; Isthmus the L2ToL1MessagePasser's storage root
/// as withdrawals root (empty here: the account is not allocated) and the empty requests hash
/// (OP chains carry no EIP-7685 requests); Holocene the EIP-1559 parameters in `extraData`.
pub fn genesis_header(genesis: &Genesis) -> Header {
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
        withdrawals_root: Some(EMPTY_WITHDRAWALS),
        blob_gas_used: Some(genesis.blob_gas_used.unwrap_or(0)),
        excess_blob_gas: Some(genesis.excess_blob_gas.unwrap_or(0)),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}
