//! `--kona.override.*`: hard fork activation overrides applied on top of the rollup config.

use clap::Args;
use kona_genesis::{HardForkConfig, RollupConfig};

/// Hard fork timestamp overrides (unix seconds). Regolith has no override: it is active from
/// Bedrock genesis on every OP Stack chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
pub struct HardforkOverrideArgs {
    /// Override the Canyon activation timestamp.
    #[arg(
        id = "kona.override.canyon",
        long = "kona.override.canyon",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_CANYON"
    )]
    pub canyon: Option<u64>,
    /// Override the Delta activation timestamp.
    #[arg(
        id = "kona.override.delta",
        long = "kona.override.delta",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_DELTA"
    )]
    pub delta: Option<u64>,
    /// Override the Ecotone activation timestamp.
    #[arg(
        id = "kona.override.ecotone",
        long = "kona.override.ecotone",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_ECOTONE"
    )]
    pub ecotone: Option<u64>,
    /// Override the Fjord activation timestamp.
    #[arg(
        id = "kona.override.fjord",
        long = "kona.override.fjord",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_FJORD"
    )]
    pub fjord: Option<u64>,
    /// Override the Granite activation timestamp.
    #[arg(
        id = "kona.override.granite",
        long = "kona.override.granite",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_GRANITE"
    )]
    pub granite: Option<u64>,
    /// Override the Holocene activation timestamp.
    #[arg(
        id = "kona.override.holocene",
        long = "kona.override.holocene",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_HOLOCENE"
    )]
    pub holocene: Option<u64>,
    /// Override the Pectra blob schedule activation timestamp.
    #[arg(
        id = "kona.override.pectra-blob-schedule",
        long = "kona.override.pectra-blob-schedule",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_PECTRA_BLOB_SCHEDULE"
    )]
    pub pectra_blob_schedule: Option<u64>,
    /// Override the Isthmus activation timestamp.
    #[arg(
        id = "kona.override.isthmus",
        long = "kona.override.isthmus",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_ISTHMUS"
    )]
    pub isthmus: Option<u64>,
    /// Override the Jovian activation timestamp.
    #[arg(
        id = "kona.override.jovian",
        long = "kona.override.jovian",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_JOVIAN"
    )]
    pub jovian: Option<u64>,
    /// Override the Interop activation timestamp.
    #[arg(
        id = "kona.override.interop",
        long = "kona.override.interop",
        value_name = "TIMESTAMP",
        env = "KONA_NODE_OVERRIDE_INTEROP"
    )]
    pub interop: Option<u64>,
}

impl HardforkOverrideArgs {
    /// Returns `config` with every given override applied; forks without an override keep the
    /// config's value.
    pub fn apply(&self, config: RollupConfig) -> RollupConfig {
        let forks = config.hardforks;
        let hardforks = HardForkConfig {
            regolith_time: forks.regolith_time,
            canyon_time: self.canyon.or(forks.canyon_time),
            delta_time: self.delta.or(forks.delta_time),
            ecotone_time: self.ecotone.or(forks.ecotone_time),
            fjord_time: self.fjord.or(forks.fjord_time),
            granite_time: self.granite.or(forks.granite_time),
            holocene_time: self.holocene.or(forks.holocene_time),
            pectra_blob_schedule_time: self
                .pectra_blob_schedule
                .or(forks.pectra_blob_schedule_time),
            isthmus_time: self.isthmus.or(forks.isthmus_time),
            jovian_time: self.jovian.or(forks.jovian_time),
            interop_time: self.interop.or(forks.interop_time),
        };
        RollupConfig { hardforks, ..config }
    }
}
