//! The `--kona.*` argument set.
//!
//! Every flag is prefixed with `kona.` so that the set can be flattened into reth's own command
//! line (`--p2p*`, `--port`, `--metrics`, `--authrpc.*`, `-v` and `--chain` belong to reth) without
//! a single collision. Environment variables keep kona-node's `KONA_NODE_*` names, so an operator
//! moving from the two-process setup can keep their environment files.

mod batcher;
mod overrides;
mod p2p;
mod proposer;
mod rpc;
mod sequencer;

pub use batcher::{BatchType, BatcherArgs, CompressionAlgo, DataAvailabilityType};
pub use overrides::HardforkOverrideArgs;
pub use p2p::{P2pArgs, ScoringLevel, SignerArgs};
pub use proposer::{ProposalHeadArg, ProposerArgs};
pub use rpc::{DEFAULT_KONA_RPC_PORT, RpcArgs};
pub use sequencer::{DEFAULT_L1_CONFS, SequencerArgs};

use clap::{Args, ValueEnum};
use kona_node_service::NodeMode;
use std::path::PathBuf;
use url::Url;

/// Which role the in-process kona node plays.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KonaMode {
    /// Follow the chain: derive the safe chain from L1 and accept unsafe blocks from gossip.
    #[default]
    Validator,
    /// Produce blocks: build unsafe L2 blocks on the local execution layer and gossip them.
    Sequencer,
}

impl From<KonaMode> for NodeMode {
    fn from(mode: KonaMode) -> Self {
        match mode {
            KonaMode::Validator => Self::Validator,
            KonaMode::Sequencer => Self::Sequencer,
        }
    }
}

/// The kona consensus-node arguments of the `rollup` binary.
///
/// When no `--kona.*` flag is given, kona does not run and the binary behaves as plain op-reth
/// (see [`KonaArgs::is_requested`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Kona consensus node")]
pub struct KonaArgs {
    /// Run the in-process kona node in this mode [default: validator].
    #[arg(id = "kona.mode", long = "kona.mode", value_name = "MODE", env = "KONA_NODE_MODE")]
    pub mode: Option<KonaMode>,

    /// URL of the L1 execution client's JSON-RPC API. Required whenever kona runs.
    #[arg(
        id = "kona.l1-eth-rpc",
        long = "kona.l1-eth-rpc",
        value_name = "URL",
        env = "KONA_NODE_L1_ETH_RPC"
    )]
    pub l1_eth_rpc: Option<Url>,

    /// Trust the L1 RPC (op-node's `--l1.trustrpc`). kona 0.1.3 does not re-verify L1 responses
    /// either way; without this flag the node warns at start-up that the L1 RPC is trusted.
    #[arg(id = "kona.l1-trust-rpc", long = "kona.l1-trust-rpc", env = "KONA_NODE_L1_TRUST_RPC")]
    pub l1_trust_rpc: bool,

    /// How often the L1 head is read, in milliseconds [default: the beacon API's slot time].
    /// Derivation and the sequencer hear of a new L1 block at most this late (kona-node 0.1.3
    /// reads it every 13 s).
    #[arg(
        id = "kona.l1-poll-interval",
        long = "kona.l1-poll-interval",
        value_name = "MS",
        env = "KONA_NODE_L1_POLL_INTERVAL"
    )]
    pub l1_poll_interval_ms: Option<u64>,

    /// URL of the L1 beacon API (blob sidecars). Required whenever kona runs.
    #[arg(
        id = "kona.l1-beacon",
        long = "kona.l1-beacon",
        value_name = "URL",
        env = "KONA_NODE_L1_BEACON"
    )]
    pub l1_beacon: Option<Url>,

    /// Rollup config (rollup.json). Without it, the config is looked up by the L2 chain id in
    /// kona's superchain registry.
    #[arg(
        id = "kona.config-file",
        long = "kona.config-file",
        value_name = "PATH",
        env = "KONA_NODE_ROLLUP_CONFIG"
    )]
    pub config_file: Option<PathBuf>,

    /// Trust the L2 source. In-process, derivation reads L2 blocks from the local reth node's
    /// own chain notifications, which are trusted by construction; the flag is accepted for
    /// op-node compatibility and recorded in the config.
    #[arg(id = "kona.l2-trust-rpc", long = "kona.l2-trust-rpc", env = "KONA_NODE_L2_TRUST_RPC")]
    pub l2_trust_rpc: bool,

    /// Stop the whole node (reth included) when kona fails, for supervisors that restart the
    /// process. By default a kona failure restarts kona alone, with backoff, while reth keeps
    /// serving.
    #[arg(
        id = "kona.exit-on-failure",
        long = "kona.exit-on-failure",
        env = "KONA_NODE_EXIT_ON_FAILURE"
    )]
    pub exit_on_failure: bool,

    /// Hard fork activation overrides.
    #[command(flatten)]
    pub overrides: HardforkOverrideArgs,

    /// Consensus-layer P2P (gossip of unsafe blocks, discv5).
    #[command(flatten)]
    pub p2p: P2pArgs,

    /// The kona JSON-RPC server (optimism_*, admin_*).
    #[command(flatten)]
    pub rpc: RpcArgs,

    /// Block production, in sequencer mode.
    #[command(flatten)]
    pub sequencer: SequencerArgs,

    /// The built-in batcher, in sequencer mode.
    #[command(flatten)]
    pub batcher: BatcherArgs,

    /// The built-in proposer.
    #[command(flatten)]
    pub proposer: ProposerArgs,
}

impl KonaArgs {
    /// Whether the operator asked for the kona node at all: any `--kona.*` flag (or `KONA_NODE_*`
    /// variable) away from its default does.
    ///
    /// The rest of the validation (e.g. a missing beacon URL) happens when the
    /// [`crate::NodeCliConfig`] is built, so a half-configured kona is an error instead of a
    /// silently plain op-reth.
    pub fn is_requested(&self) -> bool {
        *self != Self::default()
    }

    /// The mode kona runs in, defaulting to validator.
    pub fn mode(&self) -> KonaMode {
        self.mode.unwrap_or_default()
    }
}
