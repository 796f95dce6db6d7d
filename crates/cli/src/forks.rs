//! The OP Stack hard forks this build runs, and the refusal to start on a chain that schedules a
//! later one.
//!
//! kona-node-service 0.1.3 (the last kona release on crates.io) derives and builds blocks for the
//! forks through Isthmus. Its rollup config type already has fields for Jovian and Interop, and
//! kona would happily load a config that sets them, then derive the activation block without
//! Jovian's upgrade transactions or fee rules: the node forks off the chain at that timestamp
//! and keeps going. Refusing at start is the only honest behaviour.

use crate::{CliError, RollupConfigSource};
use kona_genesis::RollupConfig;

/// The last OP Stack hard fork this build implements.
pub const LAST_SUPPORTED_FORK: &str = "Isthmus";

/// A Superchain-wide activation that kona's compiled-in registry (kona-registry 0.4.5) predates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuperchainActivation {
    /// The fork.
    pub fork: &'static str,
    /// The Superchain, by name.
    pub superchain: &'static str,
    /// Its L1 chain id: registry chains on this L1 belong to this Superchain.
    pub l1_chain_id: u64,
    /// Activation timestamp (unix seconds).
    pub time: u64,
}

/// Jovian (Upgrade 17), as the Optimism Collective scheduled it after kona-registry 0.4.5 was
/// published: every registry chain on these L1s inherits the Superchain's activation time.
pub const SUPERCHAIN_JOVIAN: [SuperchainActivation; 2] = [
    SuperchainActivation {
        fork: "Jovian",
        superchain: "Mainnet",
        l1_chain_id: 1,
        // Tue 2 Dec 2025 16:00:01 UTC.
        time: 1_764_691_201,
    },
    SuperchainActivation {
        fork: "Jovian",
        superchain: "Sepolia",
        l1_chain_id: 11_155_111,
        // Wed 19 Nov 2025 16:00:01 UTC.
        time: 1_763_568_001,
    },
];

/// A fork a rollup config can schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledFork {
    /// The fork's name.
    pub name: &'static str,
    /// The `--kona.override.*` flag that moves it.
    pub override_flag: &'static str,
    /// Its activation time, if scheduled.
    pub time: Option<u64>,
}

/// The forks a rollup config can schedule, in activation order.
pub fn scheduled_forks(config: &RollupConfig) -> [ScheduledFork; 9] {
    let forks = &config.hardforks;
    let fork = |name, override_flag, time| ScheduledFork { name, override_flag, time };
    [
        fork("Canyon", "--kona.override.canyon", forks.canyon_time),
        fork("Delta", "--kona.override.delta", forks.delta_time),
        fork("Ecotone", "--kona.override.ecotone", forks.ecotone_time),
        fork("Fjord", "--kona.override.fjord", forks.fjord_time),
        fork("Granite", "--kona.override.granite", forks.granite_time),
        fork("Holocene", "--kona.override.holocene", forks.holocene_time),
        fork("Isthmus", "--kona.override.isthmus", forks.isthmus_time),
        fork("Jovian", "--kona.override.jovian", forks.jovian_time),
        fork("Interop", "--kona.override.interop", forks.interop_time),
    ]
}

/// Refuses a rollup config that schedules a fork after [`LAST_SUPPORTED_FORK`], and a registry
/// chain whose Superchain has activated one since the registry was compiled in.
pub fn check_fork_ceiling(
    config: &RollupConfig,
    source: &RollupConfigSource,
) -> Result<(), CliError> {
    let origin = match source {
        RollupConfigSource::File(path) => format!("--kona.config-file {}", path.display()),
        RollupConfigSource::Registry => "the registry config".to_string(),
        RollupConfigSource::Host => "the rollup config".to_string(),
    };
    let beyond = scheduled_forks(config)
        .into_iter()
        .skip_while(|fork| fork.name != LAST_SUPPORTED_FORK)
        .skip(1)
        .find_map(|fork| fork.time.map(|time| (fork.name, time)));
    if let Some((fork, time)) = beyond {
        return Err(CliError::ForkBeyondCeiling {
            origin: format!("{origin} (or a --kona.override.* flag)"),
            fork,
            time,
        });
    }
    if *source == RollupConfigSource::Registry
        && let Some(activation) =
            SUPERCHAIN_JOVIAN.iter().find(|a| a.l1_chain_id == config.l1_chain_id)
    {
        return Err(CliError::ForkBeyondCeiling {
            origin: format!(
                "L2 chain {}: its {} Superchain (Upgrade 17, after kona's compiled-in registry)",
                config.l2_chain_id.id(),
                activation.superchain
            ),
            fork: activation.fork,
            time: activation.time,
        });
    }
    Ok(())
}

/// Refuses an execution chain spec whose OP fork schedule differs from the rollup config's.
///
/// `execution` lists the forks the execution layer knows with their activation times (`None`:
/// never). A fork the two layers activate at different times makes the node build or accept
/// blocks the other layer considers invalid; a fork after [`LAST_SUPPORTED_FORK`] that only the
/// execution layer schedules would fork the node off the chain.
pub fn check_execution_forks(
    rollup: &RollupConfig,
    execution: &[(&'static str, Option<u64>)],
) -> Result<(), CliError> {
    let scheduled = scheduled_forks(rollup);
    for &(fork, execution_time) in execution {
        // Regolith and Bedrock are not in the rollup config's list: they are active from genesis
        // on every chain this build can run.
        let Some(rollup_fork) = scheduled.iter().find(|scheduled| scheduled.name == fork) else {
            continue;
        };
        let rollup_time = rollup_fork.time;
        if rollup_time != execution_time {
            let show = |t: Option<u64>| t.map_or_else(|| "never".to_string(), |t| t.to_string());
            return Err(CliError::ForkMismatch {
                fork,
                rollup: show(rollup_time),
                execution: show(execution_time),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isthmus_chain() -> RollupConfig {
        let mut config = RollupConfig::default();
        config.hardforks.canyon_time = Some(0);
        config.hardforks.isthmus_time = Some(100);
        config
    }

    #[test]
    fn forks_through_the_ceiling_are_accepted() {
        assert!(check_fork_ceiling(&isthmus_chain(), &RollupConfigSource::Host).is_ok());
    }

    #[test]
    fn every_fork_after_the_ceiling_is_refused_by_name() {
        for (fork, set) in [
            ("Jovian", (|c: &mut RollupConfig| c.hardforks.jovian_time = Some(200)) as fn(&mut _)),
            ("Interop", |c: &mut RollupConfig| c.hardforks.interop_time = Some(300)),
        ] {
            let mut config = isthmus_chain();
            set(&mut config);
            let msg = check_fork_ceiling(&config, &RollupConfigSource::Host).unwrap_err();
            assert!(msg.to_string().contains(&format!("schedules {fork} at ")), "{msg}");
            assert!(msg.to_string().contains("through Isthmus"), "{msg}");
        }
    }

    #[test]
    fn registry_chain_on_a_superchain_l1_is_refused_with_its_jovian_time() {
        let mut config = isthmus_chain();
        config.l1_chain_id = 11_155_111;
        let msg = check_fork_ceiling(&config, &RollupConfigSource::Registry).unwrap_err();
        assert!(msg.to_string().contains("schedules Jovian at 1763568001"), "{msg}");
        // The same config given by file is the operator's word: only its own schedule counts.
        assert!(check_fork_ceiling(&config, &RollupConfigSource::Host).is_ok());
    }

    #[test]
    fn execution_schedule_must_match_fork_by_fork() {
        let config = isthmus_chain();
        let same = [("Regolith", Some(0)), ("Canyon", Some(0)), ("Isthmus", Some(100))];
        let mut all = same.to_vec();
        all.extend([
            ("Delta", None),
            ("Ecotone", None),
            ("Fjord", None),
            ("Granite", None),
            ("Holocene", None),
            ("Jovian", None),
        ]);
        assert!(check_execution_forks(&config, &all).is_ok());
        let later = [("Isthmus", Some(101))];
        assert_eq!(
            check_execution_forks(&config, &later).unwrap_err().to_string(),
            "the execution chain spec activates Isthmus at 101 but the rollup config at 100; \
             the two layers would fork off each other: make --chain and the rollup config agree"
        );
        let jovian = [("Jovian", Some(500))];
        assert!(
            check_execution_forks(&config, &jovian)
                .unwrap_err()
                .to_string()
                .contains("activates Jovian at 500 but the rollup config at never")
        );
    }
}
