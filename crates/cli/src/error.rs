//! The one error type of this crate.

use std::{io, path::PathBuf};

/// Why a [`crate::NodeCliConfig`] could not be built.
///
/// Every variant renders as one line that names the offending flag, so the binary can print it
/// as-is and exit non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag that kona cannot run without is missing.
    #[error("{flag} is required when the kona node runs ({why})")]
    Missing {
        /// The missing flag.
        flag: &'static str,
        /// What the flag is needed for.
        why: &'static str,
    },
    /// Sequencer mode without any way to sign the blocks it produces.
    #[error(
        "--kona.mode sequencer needs a key to sign unsafe blocks: give --kona.p2p.sequencer.key, \
         --kona.p2p.sequencer.key.path or --kona.p2p.signer.endpoint"
    )]
    SequencerWithoutKey,
    /// Two flags that cannot be used together.
    #[error("{flag} conflicts with {other}: {why}")]
    Conflict {
        /// The flag that was rejected.
        flag: &'static str,
        /// The flag it conflicts with.
        other: &'static str,
        /// Why they conflict.
        why: &'static str,
    },
    /// A flag value that parses but makes no sense.
    #[error("invalid {flag}: {why}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong with its value.
        why: String,
    },
    /// A flag whose non-default value kona-node-service 0.1.3 cannot honour.
    #[error("{flag} is not supported by kona-node-service 0.1.3 ({why}); leave it at its default")]
    Unsupported {
        /// The flag.
        flag: &'static str,
        /// What is missing upstream.
        why: &'static str,
    },
    /// A file named by a flag could not be read.
    #[error("cannot read {flag} file {}: {source}", path.display())]
    Read {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file the configuration creates could not be written.
    #[error("cannot write {flag} file {}: {source}", path.display())]
    Write {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A key file is readable by other users.
    #[error(
        "{flag} file {} is readable by group or others (mode {mode:o}); run chmod 600 on it",
        path.display()
    )]
    KeyPermissions {
        /// The flag that named the file.
        flag: &'static str,
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A private key that is not a valid secp256k1 scalar.
    #[error("invalid key in {flag}: {why}")]
    Key {
        /// Where the key came from.
        flag: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The rollup config file is not a valid rollup config.
    #[error("--kona.config-file {}: not a valid rollup config: {source}", path.display())]
    RollupConfig {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// No rollup config given and none in kona's registry for this chain.
    #[error(
        "L2 chain id {chain_id} is not in kona's superchain registry: give its rollup config \
         with --kona.config-file"
    )]
    UnknownChain {
        /// The L2 chain id of the execution layer.
        chain_id: u64,
    },
    /// The rollup config describes another chain than the execution layer runs.
    #[error(
        "--kona.config-file {} is for L2 chain id {config_chain_id}, but the node runs chain id \
         {node_chain_id}",
        path.display()
    )]
    ChainIdMismatch {
        /// The file.
        path: PathBuf,
        /// `l2_chain_id` in the file.
        config_chain_id: u64,
        /// The execution layer's chain id.
        node_chain_id: u64,
    },
    /// The address that signs unsafe blocks cannot be determined.
    #[error(
        "cannot tell which address signs unsafe blocks on L2 chain id {chain_id}: give \
         --kona.p2p.unsafe.block.signer"
    )]
    UnknownUnsafeBlockSigner {
        /// The L2 chain id.
        chain_id: u64,
    },
    /// The chain schedules a hard fork this build does not implement.
    #[error(
        "{origin} schedules {fork} at {time}; this build runs OP Stack forks through {ceiling} \
         only (kona-node 0.1.3, the last crates.io release, implements no later fork), so it \
         refuses to start rather than fork off the chain at {time}",
        ceiling = crate::LAST_SUPPORTED_FORK
    )]
    ForkBeyondCeiling {
        /// Where the schedule came from.
        origin: String,
        /// The fork.
        fork: &'static str,
        /// Its activation timestamp.
        time: u64,
    },
    /// The execution layer's chain spec and the rollup config disagree on a fork.
    #[error(
        "the execution chain spec activates {fork} at {execution} but the rollup config at \
         {rollup}; the two layers would fork off each other: make --chain and the rollup config \
         agree"
    )]
    ForkMismatch {
        /// The fork.
        fork: &'static str,
        /// Its activation in the rollup config (a timestamp or "never").
        rollup: String,
        /// Its activation in the execution chain spec.
        execution: String,
    },
    /// The builder was used without a required input (a programming error of the host binary).
    #[error("NodeCliConfig builder: {0} was not set")]
    BuilderIncomplete(&'static str),
}
