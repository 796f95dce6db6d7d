//! Configuration of the PoA sequencer.
//!
//! - [`Config`]: the `sequencer run --config config.toml` file (`chain_id`, `[consensus]`,
//!   `[celestia]`, `[execution]`, `[rpc]`, and the optional `[sequencer]` / `[metrics]`
//!   tables). [`Config::load`] parses it and [`Config::validate`] checks every field up front,
//!   returning all problems at once, each naming its field ([`ConfigErrors`]). The result is a
//!   [`ValidatedConfig`] holding typed values: parsed URLs and addresses, the loaded validator key
//!   and JWT secret, the namespace.
//! - [`keys`]: ed25519 validator keys (`sequencer keygen`): atomic, `0600`, never overwritten;
//!   loading refuses group/other-readable files.
//! - [`genesis`]: `sequencer genesis`: a post-merge Ethereum genesis (all forks at 0) that
//!   `reth node --chain genesis.json` loads, with the validator set recorded in its chain config.
//! - Crash-safe writes (keys, genesis, the sequencer's FIRM record) go through `rollup-fs`,
//!   shared with the root workspace.
//!
//! Relative paths inside a config file are resolved against the directory of that file.

pub mod genesis;
pub mod keys;
mod run;
pub mod toml_file;

pub use genesis::{GenesisConfig, GenesisError, SequencerGenesisInfo};
pub use keys::{KeyError, ValidatorKey, ValidatorPublicKey};
pub use run::{
    AuthToken, CelestiaNetwork, Config, ConfigError, ConfigErrors, ConsensusConfig, DaConfig,
    ExecutionConfig, LOCAL_DA_RPC_URL, MetricsConfig, RpcConfig, SequencerConfig, ValidatedConfig,
};
