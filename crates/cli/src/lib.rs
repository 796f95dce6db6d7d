//! Command-line configuration of the kona node that runs inside the `rollup` binary.
//!
//! The `rollup` binary is op-reth with kona-node (the OP Stack consensus node) running in the same
//! process as a reth Execution Extension. This crate owns the kona side of its command line:
//!
//! - [`KonaArgs`]: the `--kona.*` flags (mode, L1 endpoints, rollup config, P2P, RPC, sequencer,
//!   hard fork overrides). They are `clap::Args`, meant to be flattened into reth's `Cli` next to
//!   op-reth's own `RollupArgs`; the `kona.` prefix keeps them clear of reth's flags.
//! - [`NodeCliConfig`]: the validated configuration built from those flags with
//!   [`NodeCliConfig::builder`]. Validation happens up front and each problem is one
//!   [`CliError`] line naming the flag, so a misconfigured node never starts half-way.
//! - Conversions into kona-node-service 0.1.3's own types (`NetworkConfig`, `RpcBuilder`,
//!   `SequencerConfig`, `NodeMode`, `RollupConfig`), from which the ExEx builds kona's actors
//!   (kona's `RollupNode` is not used: it requires an engine RPC URL and a JWT secret).
//!
//! - [`check_fork_ceiling`] and [`check_execution_forks`]: the refusal to start on a chain that
//!   schedules a fork after [`LAST_SUPPORTED_FORK`], or whose two layers disagree on a fork.
//!
//! kona-cli's log and metrics flags are deliberately absent: reth owns logging (`-v`, `--log.*`)
//! and the Prometheus endpoint (`--metrics`) for the whole process.

mod args;
pub use args::{
    BatchType, BatcherArgs, CompressionAlgo, DEFAULT_KONA_RPC_PORT, DEFAULT_L1_CONFS,
    DataAvailabilityType, HardforkOverrideArgs, KonaArgs, KonaMode, P2pArgs, ProposalHeadArg,
    ProposerArgs, RpcArgs, ScoringLevel, SequencerArgs, SignerArgs,
};

mod config;
pub use config::{
    BatcherConfig, NodeCliConfig, NodeCliConfigBuilder, ProposerConfig, RollupConfigSource,
};

mod error;
pub use error::CliError;

mod forks;
pub use forks::{
    LAST_SUPPORTED_FORK, SUPERCHAIN_JOVIAN, ScheduledFork, SuperchainActivation,
    check_execution_forks, check_fork_ceiling, scheduled_forks,
};

mod keys;
