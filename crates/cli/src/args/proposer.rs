//! `--proposer.*`: the proposer built into the node (op-proposer's job, in-process).

use clap::{Args, ValueEnum};
use std::{path::PathBuf, time::Duration};

/// Which L2 head bounds the outputs proposed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProposalHeadArg {
    /// Only blocks derived from finalized L1: no L1 reorg can make a proposal wrong.
    #[default]
    Finalized,
    /// Blocks derived from L1 at all (op-proposer's `--allow-non-finalized`): proposals come
    /// sooner, but an L1 reorg deeper than the safe distance can make one wrong.
    Safe,
}

/// Proposer arguments. The proposer runs when `--proposer.key.path` is given.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "Proposer")]
pub struct ProposerArgs {
    /// File with the proposer's L1 private key (hex); turns the built-in proposer on. Must not
    /// be readable by group or others (mode 0600). The L2OutputOracle must name its address as
    /// the proposer.
    #[arg(
        id = "proposer.key.path",
        long = "proposer.key.path",
        value_name = "PATH",
        env = "PROPOSER_KEY_PATH"
    )]
    pub key_path: Option<PathBuf>,

    /// The L1 L2OutputOracle (op-proposer's `--l2oo-address`). Default: the one the rollup's
    /// OptimismPortal names (`l2Oracle()`), read from L1 when the proposer starts.
    #[arg(
        id = "proposer.l2oo-address",
        long = "proposer.l2oo-address",
        value_name = "ADDRESS",
        env = "PROPOSER_L2OO_ADDRESS"
    )]
    pub l2oo_address: Option<alloy_primitives::Address>,

    /// Which L2 head bounds the outputs proposed.
    #[arg(
        id = "proposer.head",
        long = "proposer.head",
        value_name = "HEAD",
        default_value = "finalized",
        env = "PROPOSER_HEAD"
    )]
    pub head: ProposalHeadArg,

    /// How often the proposer looks at L1 and the L2 heads, in milliseconds.
    #[arg(
        id = "proposer.poll-interval",
        long = "proposer.poll-interval",
        value_name = "MS",
        default_value_t = 6_000,
        env = "PROPOSER_POLL_INTERVAL"
    )]
    pub poll_interval_ms: u64,

    /// Send a proposal again with bumped fees when it is not mined within this many seconds.
    #[arg(
        id = "proposer.resubmission-timeout",
        long = "proposer.resubmission-timeout",
        value_name = "SECONDS",
        default_value_t = 48,
        env = "PROPOSER_RESUBMISSION_TIMEOUT"
    )]
    pub resubmission_timeout_secs: u64,

    /// A replacement proposal's fees never exceed this many times the market's current fees.
    #[arg(
        id = "proposer.fee-limit-multiplier",
        long = "proposer.fee-limit-multiplier",
        value_name = "FACTOR",
        default_value_t = 5,
        env = "PROPOSER_FEE_LIMIT_MULTIPLIER"
    )]
    pub fee_limit_multiplier: u64,
}

impl Default for ProposerArgs {
    fn default() -> Self {
        Self {
            key_path: None,
            l2oo_address: None,
            head: ProposalHeadArg::Finalized,
            poll_interval_ms: 6_000,
            resubmission_timeout_secs: 48,
            fee_limit_multiplier: 5,
        }
    }
}

impl ProposerArgs {
    /// `--proposer.poll-interval` as a duration.
    pub const fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// `--proposer.resubmission-timeout` as a duration.
    pub const fn resubmission_timeout(&self) -> Duration {
        Duration::from_secs(self.resubmission_timeout_secs)
    }
}
