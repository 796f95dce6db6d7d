//! `--kona.sequencer.*`: block production in sequencer mode.

use clap::Args;
use kona_node_service::SequencerConfig;
use std::time::Duration;
use url::Url;

/// Default number of L1 blocks the sequencer stays behind the L1 head when it picks an L1 origin.
pub const DEFAULT_L1_CONFS: u64 = 4;

/// Sequencer arguments. They only take effect with `--kona.mode sequencer`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SequencerArgs {
    /// Start with block production stopped; start it with the admin_startSequencer RPC.
    #[arg(
        id = "kona.sequencer.stopped",
        long = "kona.sequencer.stopped",
        env = "KONA_NODE_SEQUENCER_STOPPED"
    )]
    pub stopped: bool,

    /// Maximum distance in L2 blocks between the safe and the unsafe head; 0 disables the bound.
    /// kona-node-service 0.1.3 cannot enforce a bound, so only 0 is accepted.
    #[arg(
        id = "kona.sequencer.max-safe-lag",
        long = "kona.sequencer.max-safe-lag",
        value_name = "BLOCKS",
        default_value_t = 0,
        env = "KONA_NODE_SEQUENCER_MAX_SAFE_LAG"
    )]
    pub max_safe_lag: u64,

    /// Number of L1 blocks to stay behind the L1 head when picking an L1 origin.
    #[arg(
        id = "kona.sequencer.l1-confs", long = "kona.sequencer.l1-confs",
        value_name = "BLOCKS",
        default_value_t = DEFAULT_L1_CONFS,
        env = "KONA_NODE_SEQUENCER_L1_CONFS"
    )]
    pub l1_confs: u64,

    /// Recovery mode: always adopt the next L1 origin and build empty blocks.
    #[arg(
        id = "kona.sequencer.recover",
        long = "kona.sequencer.recover",
        env = "KONA_NODE_SEQUENCER_RECOVER"
    )]
    pub recover: bool,

    /// op-conductor RPC endpoint; giving it enables conductor leadership checks.
    #[arg(
        id = "kona.conductor.rpc",
        long = "kona.conductor.rpc",
        value_name = "URL",
        env = "KONA_NODE_CONDUCTOR_RPC"
    )]
    pub conductor_rpc: Option<Url>,

    /// Timeout of conductor RPC calls, in seconds.
    #[arg(
        id = "kona.conductor.rpc.timeout",
        long = "kona.conductor.rpc.timeout",
        value_name = "SECONDS",
        default_value_t = 1,
        env = "KONA_NODE_CONDUCTOR_RPC_TIMEOUT"
    )]
    pub conductor_rpc_timeout_secs: u64,
}

impl Default for SequencerArgs {
    fn default() -> Self {
        Self {
            stopped: false,
            max_safe_lag: 0,
            l1_confs: DEFAULT_L1_CONFS,
            recover: false,
            conductor_rpc: None,
            conductor_rpc_timeout_secs: 1,
        }
    }
}

impl SequencerArgs {
    /// The conductor RPC timeout.
    pub const fn conductor_rpc_timeout(&self) -> Duration {
        Duration::from_secs(self.conductor_rpc_timeout_secs)
    }

    /// kona's sequencer configuration.
    pub fn sequencer_config(&self) -> SequencerConfig {
        SequencerConfig {
            sequencer_stopped: self.stopped,
            sequencer_recovery_mode: self.recover,
            conductor_rpc_url: self.conductor_rpc.clone(),
            l1_conf_delay: self.l1_confs,
        }
    }
}
