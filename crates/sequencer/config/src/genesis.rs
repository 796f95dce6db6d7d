//! `sequencer genesis`: a post-merge Ethereum genesis for reth, from a small TOML.
//!
//! ```toml
//! chain_id = 1337
//! validators = ["0x…ed25519 public key…"]
//! # optional: gas_limit = 30000000, timestamp = 0, prague = true
//! [[accounts]]
//! address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
//! balance = "1000000000000000000000"   # wei, decimal or 0x-hex
//! ```
//!
//! The output is a dev-style genesis: every fork through Cancun (and Prague unless
//! `prague = false`) active at block 0 / time 0, `terminalTotalDifficulty = 0` (post-merge from
//! block 0), the blob schedule, and the system contracts Cancun/Prague call at each block
//! (EIP-4788 beacon roots, EIP-2935 history, EIP-7002 withdrawals, EIP-7251 consolidations).
//! The validator set is recorded under the chain config key `"sequencer"`, which reth ignores
//! and the sequencer reads back with [`SequencerGenesisInfo::from_genesis`].

use crate::keys::ValidatorPublicKey;
use alloy_eips::eip7840::BlobParams;
use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// Key under which the validator set is stored in the genesis chain config.
pub const GENESIS_SEQUENCER_KEY: &str = "sequencer";

/// Errors of genesis generation. Each names the field or file.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    File {
        /// File concerned.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A field is invalid.
    #[error("{field}: {message}")]
    Field {
        /// Dotted field name.
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn field(field: impl Into<String>, message: impl Into<String>) -> GenesisError {
    GenesisError::Field { field: field.into(), message: message.into() }
}

/// A funded account in the genesis config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccountConfig {
    /// Address.
    pub address: String,
    /// Balance in wei (decimal or 0x-hex string).
    pub balance: String,
}

/// The genesis TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    /// Chain id.
    pub chain_id: u64,
    /// Hex ed25519 public keys of the validator set.
    pub validators: Vec<String>,
    /// Block gas limit (default 30M).
    #[serde(default)]
    pub gas_limit: Option<u64>,
    /// Genesis timestamp (default 0).
    #[serde(default)]
    pub timestamp: Option<u64>,
    /// Activate Prague at genesis (default true). Selects Engine API V4 methods.
    #[serde(default)]
    pub prague: Option<bool>,
    /// Funded accounts.
    #[serde(default)]
    pub accounts: Vec<GenesisAccountConfig>,
}

/// What the sequencer records in, and reads back from, the genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequencerGenesisInfo {
    /// The validator set.
    pub validators: Vec<ValidatorPublicKey>,
}

#[derive(Serialize, Deserialize)]
struct RawInfo {
    validators: Vec<String>,
}

impl SequencerGenesisInfo {
    /// Reads the validator set from `genesis.config["sequencer"]`.
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, GenesisError> {
        let raw: RawInfo = genesis
            .config
            .extra_fields
            .get_deserialized(GENESIS_SEQUENCER_KEY)
            .ok_or_else(|| {
                field("config.sequencer", "missing (not written by `sequencer genesis`?)")
            })?
            .map_err(|e| field("config.sequencer", e.to_string()))?;
        let validators = raw
            .validators
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.parse().map_err(|e| field(format!("config.sequencer.validators[{i}]"), e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { validators })
    }
}

fn parse_u256(s: &str) -> Result<U256, String> {
    let s = s.trim().replace('_', "");
    let r = if let Some(h) = s.strip_prefix("0x") {
        U256::from_str_radix(h, 16)
    } else {
        U256::from_str_radix(&s, 10)
    };
    r.map_err(|e| format!("{s:?} is not a number ({e})"))
}

impl GenesisConfig {
    /// Reads the genesis TOML.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let file =
            |message: String| GenesisError::File { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        crate::toml_file::parse_toml(&text).map_err(file)
    }

    /// Builds the genesis.
    pub fn build(&self) -> Result<Genesis, GenesisError> {
        if self.chain_id == 0 {
            return Err(field("chain_id", "must be non-zero"));
        }
        if self.validators.is_empty() {
            return Err(field("validators", "empty: at least one validator is required"));
        }
        let mut validators = Vec::new();
        for (i, v) in self.validators.iter().enumerate() {
            let pk: ValidatorPublicKey =
                v.parse().map_err(|e| field(format!("validators[{i}]"), e))?;
            if validators.contains(&pk) {
                return Err(field(format!("validators[{i}]"), format!("duplicate validator {pk}")));
            }
            validators.push(pk);
        }
        let prague = self.prague.unwrap_or(true);

        let mut alloc = BTreeMap::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let address: Address = a.address.parse().map_err(|e| {
                field(format!("accounts[{i}].address"), format!("{:?}: {e}", a.address))
            })?;
            let balance =
                parse_u256(&a.balance).map_err(|e| field(format!("accounts[{i}].balance"), e))?;
            if alloc.insert(address, GenesisAccount::default().with_balance(balance)).is_some() {
                return Err(field(
                    format!("accounts[{i}].address"),
                    format!("duplicate account {address}"),
                ));
            }
        }
        let mut system = vec![(
            alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
            alloy_eips::eip4788::BEACON_ROOTS_CODE.clone(),
        )];
        if prague {
            system.extend([
                (
                    alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
                    alloy_eips::eip2935::HISTORY_STORAGE_CODE.clone(),
                ),
                (
                    alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
                    alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE.clone(),
                ),
                (
                    alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                    alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE.clone(),
                ),
            ]);
        }
        for (address, code) in system {
            let code: Bytes = code;
            alloc.entry(address).or_insert_with(|| {
                GenesisAccount::default().with_nonce(Some(1)).with_code(Some(code))
            });
        }

        let mut blob_schedule = BTreeMap::from([("cancun".to_owned(), BlobParams::cancun())]);
        if prague {
            blob_schedule.insert("prague".to_owned(), BlobParams::prague());
        }
        let mut config = ChainConfig {
            chain_id: self.chain_id,
            homestead_block: Some(0),
            eip150_block: Some(0),
            eip155_block: Some(0),
            eip158_block: Some(0),
            byzantium_block: Some(0),
            constantinople_block: Some(0),
            petersburg_block: Some(0),
            istanbul_block: Some(0),
            muir_glacier_block: Some(0),
            berlin_block: Some(0),
            london_block: Some(0),
            arrow_glacier_block: Some(0),
            gray_glacier_block: Some(0),
            merge_netsplit_block: Some(0),
            terminal_total_difficulty: Some(U256::ZERO),
            terminal_total_difficulty_passed: true,
            shanghai_time: Some(0),
            cancun_time: Some(0),
            prague_time: prague.then_some(0),
            blob_schedule,
            ..Default::default()
        };
        let info = RawInfo { validators: validators.iter().map(ToString::to_string).collect() };
        let info = serde_json::to_value(info).map_err(|e| field("validators", e.to_string()))?;
        config.extra_fields.insert(GENESIS_SEQUENCER_KEY.to_owned(), info);

        Ok(Genesis {
            config,
            nonce: 0,
            timestamp: self.timestamp.unwrap_or(0),
            extra_data: Bytes::new(),
            gas_limit: self.gas_limit.unwrap_or(30_000_000),
            difficulty: U256::ZERO,
            mix_hash: Default::default(),
            coinbase: Address::ZERO,
            alloc,
            base_fee_per_gas: Some(1_000_000_000),
            excess_blob_gas: Some(0),
            blob_gas_used: Some(0),
            number: Some(0),
            parent_hash: None,
        })
    }

    /// Builds the genesis and writes it as pretty JSON to `output` (refusing to overwrite).
    pub fn write(&self, output: &Path) -> Result<Genesis, GenesisError> {
        let genesis = self.build()?;
        let file =
            |message: String| GenesisError::File { path: output.display().to_string(), message };
        let mut json = serde_json::to_string_pretty(&genesis).map_err(|e| file(e.to_string()))?;
        json.push('\n');
        rollup_fs::write_new(output, json.as_bytes(), 0o644).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                file("already exists, refusing to overwrite".into())
            } else {
                file(e.to_string())
            }
        })?;
        Ok(genesis)
    }
}
