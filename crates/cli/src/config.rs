//! [`NodeCliConfig`]: the validated kona configuration, and its conversions into kona's types.

use crate::{
    CliError, KonaArgs, KonaMode,
    args::{
        BatchType, BatcherArgs, CompressionAlgo, DataAvailabilityType, P2pArgs, ProposerArgs,
        SignerArgs,
    },
    keys,
};
use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use kona_genesis::RollupConfig;
use kona_node_service::{NetworkConfig, NodeMode, SequencerConfig};
use kona_p2p::{GaterConfig, LocalNode};
use kona_peers::PeerMonitoring;
use kona_rpc::RpcBuilder;
use kona_sources::{BlockSigner, ClientCert, RemoteSigner};
use rollup_batcher::{
    MAX_BLOB_FRAME_SIZE, MAX_CALLDATA_FRAME_SIZE, MIN_FRAME_SIZE, blob::MAX_BLOBS_PER_TRANSACTION,
};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};
use url::Url;

/// With `--kona.p2p.no-discovery`, discovery queries are scheduled this far apart, i.e. never
/// during the life of a process: kona-node-service 0.1.3 has no switch to turn discv5 off.
const NO_DISCOVERY_INTERVAL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Where the rollup config came from; logged at start-up so operators can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollupConfigSource {
    /// `--kona.config-file`.
    File(PathBuf),
    /// kona's superchain registry, by L2 chain id.
    Registry,
    /// Given programmatically by the host (e.g. devnet tooling).
    Host,
}

/// The validated configuration of the in-process kona node.
///
/// Built from [`KonaArgs`] with [`NodeCliConfig::builder`]; every value kona-node-service needs is
/// present once it exists, so [`NodeCliConfig::rollup_node_builder`] yields a builder whose
/// `build()` cannot panic on a missing field.
#[derive(Debug, Clone)]
pub struct NodeCliConfig {
    /// Validator or sequencer.
    pub mode: KonaMode,
    /// L1 execution JSON-RPC.
    pub l1_eth_rpc: Url,
    /// L1 beacon API.
    pub l1_beacon: Url,
    /// `--kona.l1-trust-rpc`.
    pub l1_trust_rpc: bool,
    /// `--kona.l2-trust-rpc`.
    pub l2_trust_rpc: bool,
    /// `--kona.l1-poll-interval`; `None`: the L1 slot time.
    pub l1_poll_interval: Option<Duration>,
    /// The rollup config with hard fork overrides applied.
    pub rollup_config: RollupConfig,
    /// Where [`Self::rollup_config`] came from.
    pub rollup_config_source: RollupConfigSource,
    /// kona's P2P configuration.
    pub network: NetworkConfig,
    /// kona's RPC server; `None` when disabled.
    pub rpc: Option<RpcBuilder>,
    /// kona's sequencer configuration (used in sequencer mode only).
    pub sequencer: SequencerConfig,
    /// Timeout of op-conductor RPC calls.
    pub conductor_rpc_timeout: Duration,
    /// `--kona.exit-on-failure`: a kona failure stops the node instead of restarting kona.
    pub exit_on_failure: bool,
    /// The built-in batcher (sequencer mode, `--batcher.key.path`); `None` when off.
    pub batcher: Option<BatcherConfig>,
    /// `--kona.p2p.static-peers`: peers kept connected, each with its peer id.
    pub static_peers: Vec<libp2p::Multiaddr>,
    /// The built-in proposer (`--proposer.key.path`); `None` when off.
    pub proposer: Option<ProposerConfig>,
}

/// The built-in proposer's validated settings.
#[derive(Debug, Clone)]
pub struct ProposerConfig {
    /// The proposer's L1 key (the L2OutputOracle must name its address).
    pub signer: PrivateKeySigner,
    /// The `--proposer.*` flags, validated.
    pub args: ProposerArgs,
}

/// The built-in batcher's validated settings.
#[derive(Debug, Clone)]
pub struct BatcherConfig {
    /// The batcher's L1 key (its address is the rollup's batcher address).
    pub signer: PrivateKeySigner,
    /// The `--batcher.*` flags, validated.
    pub args: BatcherArgs,
}

impl NodeCliConfig {
    /// A builder taking the parsed arguments and the host's L2 chain id.
    pub fn builder() -> NodeCliConfigBuilder {
        NodeCliConfigBuilder::default()
    }

    /// kona's node mode.
    pub fn node_mode(&self) -> NodeMode {
        self.mode.into()
    }

    /// The L2 chain id, from the rollup config.
    pub fn l2_chain_id(&self) -> u64 {
        self.rollup_config.l2_chain_id.id()
    }

    /// The socket of the kona RPC server, when enabled.
    pub fn rpc_socket(&self) -> Option<SocketAddr> {
        self.rpc.as_ref().map(|rpc| rpc.socket)
    }
}

/// Builds and validates a [`NodeCliConfig`].
#[derive(Debug, Default)]
pub struct NodeCliConfigBuilder {
    args: Option<KonaArgs>,
    l2_chain_id: Option<u64>,
    rollup_config: Option<RollupConfig>,
}

impl NodeCliConfigBuilder {
    /// The parsed `--kona.*` arguments.
    pub fn args(mut self, args: KonaArgs) -> Self {
        self.args = Some(args);
        self
    }

    /// The chain id of the execution layer (reth's `--chain`); the rollup config must match it.
    pub const fn l2_chain_id(mut self, chain_id: u64) -> Self {
        self.l2_chain_id = Some(chain_id);
        self
    }

    /// A rollup config supplied by the host instead of `--kona.config-file` or the registry.
    pub fn rollup_config(mut self, config: RollupConfig) -> Self {
        self.rollup_config = Some(config);
        self
    }

    /// Validates the arguments and builds the config. Reads the files the flags name and creates
    /// the P2P identity file when `--kona.p2p.priv.path` points to a missing file.
    pub fn build(self) -> Result<NodeCliConfig, CliError> {
        let args = self.args.ok_or(CliError::BuilderIncomplete("args"))?;
        let chain_id = self.l2_chain_id.ok_or(CliError::BuilderIncomplete("l2_chain_id"))?;

        let l1_eth_rpc = required_http_url(
            "--kona.l1-eth-rpc",
            args.l1_eth_rpc.as_ref(),
            "derivation reads L1 blocks and receipts from it",
        )?;
        let l1_beacon = required_http_url(
            "--kona.l1-beacon",
            args.l1_beacon.as_ref(),
            "derivation reads blobs from it",
        )?;
        let mode = args.mode();
        check_mode_flags(&args, mode)?;
        check_rpc_flags(&args)?;
        check_p2p_flags(&args.p2p)?;

        let (rollup_config, rollup_config_source) =
            load_rollup_config(self.rollup_config, args.config_file.as_deref(), chain_id)?;
        let rollup_config = args.overrides.apply(rollup_config);
        check_rollup_config(&rollup_config)?;
        crate::check_fork_ceiling(&rollup_config, &rollup_config_source)?;

        let network = network_config(&args.p2p, &rollup_config, mode)?;
        let batcher = batcher_config(&args.batcher, mode, &rollup_config)?;
        let proposer = proposer_config(&args.proposer, &rollup_config)?;
        check_static_peers(&args.p2p.static_peers)?;
        let l1_poll_interval = l1_poll_interval(args.l1_poll_interval_ms)?;

        Ok(NodeCliConfig {
            mode,
            l1_eth_rpc,
            l1_beacon,
            l1_trust_rpc: args.l1_trust_rpc,
            l2_trust_rpc: args.l2_trust_rpc,
            l1_poll_interval,
            rollup_config,
            rollup_config_source,
            network,
            rpc: args.rpc.rpc_builder(),
            sequencer: args.sequencer.sequencer_config(),
            conductor_rpc_timeout: args.sequencer.conductor_rpc_timeout(),
            exit_on_failure: args.exit_on_failure,
            batcher,
            proposer,
            static_peers: args.p2p.static_peers.clone(),
        })
    }
}

/// `--kona.l1-poll-interval`: at least 100 ms (a faster poll only loads the L1 RPC; no L1 makes
/// blocks that fast).
fn l1_poll_interval(ms: Option<u64>) -> Result<Option<Duration>, CliError> {
    match ms {
        Some(ms) if ms < 100 => Err(CliError::Invalid {
            flag: "--kona.l1-poll-interval",
            why: format!("{ms} ms: must be at least 100 ms"),
        }),
        ms => Ok(ms.map(Duration::from_millis)),
    }
}

/// Every static peer must name its peer id: kona dials by peer, and refuses addresses without.
fn check_static_peers(peers: &[libp2p::Multiaddr]) -> Result<(), CliError> {
    let without_id = peers.iter().find(|addr| {
        !addr.iter().any(|protocol| matches!(protocol, libp2p::multiaddr::Protocol::P2p(_)))
    });
    match without_id {
        Some(addr) => Err(CliError::Invalid {
            flag: "--kona.p2p.static-peers",
            why: format!("{addr} has no /p2p/<peer id> part"),
        }),
        None => Ok(()),
    }
}

/// Validates the `--proposer.*` flags; the proposer runs when a key is given, in either mode (a
/// validator follows the same final chain a sequencer does).
fn proposer_config(
    args: &ProposerArgs,
    rollup: &RollupConfig,
) -> Result<Option<ProposerConfig>, CliError> {
    let Some(path) = args.key_path.as_ref() else {
        if *args != ProposerArgs::default() {
            return Err(CliError::Missing {
                flag: "--proposer.key.path",
                why: "the other --proposer.* flags configure the proposer it turns on",
            });
        }
        return Ok(None);
    };
    let flag = "--proposer.key.path";
    let invalid = |flag, why: String| Err(CliError::Invalid { flag, why });
    if args.l2oo_address.is_none() && rollup.deposit_contract_address.is_zero() {
        return invalid(
            "--proposer.l2oo-address",
            "missing, and the rollup config names no OptimismPortal to read it from".into(),
        );
    }
    if args.l2oo_address.is_some_and(|address| address.is_zero()) {
        return invalid("--proposer.l2oo-address", "the zero address".into());
    }
    if args.poll_interval_ms < 100 {
        return invalid("--proposer.poll-interval", "must be at least 100 ms".into());
    }
    if args.resubmission_timeout_secs == 0 {
        return invalid("--proposer.resubmission-timeout", "must be at least 1 s".into());
    }
    if args.fee_limit_multiplier == 0 {
        return invalid(
            "--proposer.fee-limit-multiplier",
            "0: must be at least 1 (1 never pays more than the market)".into(),
        );
    }
    let key = keys::read_key_file(flag, path, true)?;
    let signer = PrivateKeySigner::from_bytes(&key)
        .map_err(|e| CliError::Key { flag, why: e.to_string() })?;
    Ok(Some(ProposerConfig { signer, args: args.clone() }))
}

/// Validates the `--batcher.*` flags; the batcher runs when a key is given, in sequencer mode.
fn batcher_config(
    args: &BatcherArgs,
    mode: KonaMode,
    rollup: &RollupConfig,
) -> Result<Option<BatcherConfig>, CliError> {
    let Some(path) = args.key_path.as_ref() else {
        if *args != BatcherArgs::default() {
            return Err(CliError::Missing {
                flag: "--batcher.key.path",
                why: "the other --batcher.* flags configure the batcher it turns on",
            });
        }
        return Ok(None);
    };
    let flag = "--batcher.key.path";
    if mode != KonaMode::Sequencer {
        return Err(CliError::Conflict {
            flag,
            other: "--kona.mode validator",
            why: "only a sequencer batches its chain; add --kona.mode sequencer",
        });
    }
    let invalid = |flag, why: String| Err(CliError::Invalid { flag, why });
    let timeout = rollup.channel_timeout(rollup.genesis.l2_time);
    if args.max_channel_duration == 0 || args.max_channel_duration >= timeout {
        return invalid(
            "--batcher.max-channel-duration",
            format!(
                "{} L1 blocks: must be at least 1 and below the channel timeout ({timeout})",
                args.max_channel_duration
            ),
        );
    }
    let max_frame_size = match args.data_availability_type {
        DataAvailabilityType::Calldata => MAX_CALLDATA_FRAME_SIZE,
        DataAvailabilityType::Blobs => MAX_BLOB_FRAME_SIZE,
    };
    if !(MIN_FRAME_SIZE..=max_frame_size).contains(&args.max_frame_size) {
        return invalid(
            "--batcher.max-frame-size",
            format!(
                "{} bytes: must be between {MIN_FRAME_SIZE} and {max_frame_size} with {} data \
                 availability",
                args.max_frame_size,
                args.data_availability_type.name()
            ),
        );
    }
    if args.data_availability_type == DataAvailabilityType::Blobs {
        // Derivation reads blobs from L1 blocks after Ecotone only.
        if rollup.hardforks.ecotone_time.is_none() {
            return invalid(
                "--batcher.data-availability-type",
                "blobs need Ecotone, which this rollup never activates".into(),
            );
        }
        if !(1..=MAX_BLOBS_PER_TRANSACTION).contains(&args.target_num_frames) {
            return invalid(
                "--batcher.target-num-frames",
                format!(
                    "{}: a blob transaction carries 1 to {MAX_BLOBS_PER_TRANSACTION} blobs",
                    args.target_num_frames
                ),
            );
        }
    } else if args.target_num_frames != 1 {
        return invalid(
            "--batcher.target-num-frames",
            "calldata transactions carry one frame each; it applies to blobs only".into(),
        );
    }
    // Before these forks activate the batcher falls back to zlib and singular batches; a rollup
    // that never schedules them can never use the choice.
    if args.compression == CompressionAlgo::Brotli && rollup.hardforks.fjord_time.is_none() {
        return invalid(
            "--batcher.compression",
            "brotli needs Fjord, which this rollup never activates".into(),
        );
    }
    if args.batch_type == BatchType::Span && rollup.hardforks.delta_time.is_none() {
        return invalid(
            "--batcher.batch-type",
            "span batches need Delta, which this rollup never activates".into(),
        );
    }
    if args.fee_limit_multiplier == 0 {
        return invalid(
            "--batcher.fee-limit-multiplier",
            "0: must be at least 1 (1 never pays more than the market)".into(),
        );
    }
    if args.poll_interval_ms < 10 {
        return invalid("--batcher.poll-interval", "must be at least 10 ms".into());
    }
    let key = keys::read_key_file(flag, path, true)?;
    let signer = PrivateKeySigner::from_bytes(&key)
        .map_err(|e| CliError::Key { flag, why: e.to_string() })?;
    // With an L1 SystemConfig, the batcher is whoever it names now (a rotation with
    // setBatcherHash moves it away from the genesis batcher); the batcher reads it from L1 and
    // posts only while it is named. Without one, the genesis batcher is the batcher for good.
    let expected = rollup
        .genesis
        .system_config
        .filter(|_| rollup.l1_system_config_address.is_zero())
        .map(|c| c.batcher_address);
    if expected.is_some_and(|expected| expected != signer.address()) {
        return Err(CliError::Key {
            flag,
            why: format!(
                "its address {} is not the rollup's batcher address {}: derivation would ignore \
                 its transactions",
                signer.address(),
                expected.unwrap_or_default()
            ),
        });
    }
    Ok(Some(BatcherConfig { signer, args: args.clone() }))
}

fn required_http_url(
    flag: &'static str,
    url: Option<&Url>,
    why: &'static str,
) -> Result<Url, CliError> {
    let url = url.ok_or(CliError::Missing { flag, why })?;
    check_http_url(flag, url)?;
    Ok(url.clone())
}

fn check_http_url(flag: &'static str, url: &Url) -> Result<(), CliError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(CliError::Invalid {
            flag,
            why: format!("scheme {other}:// is not supported, use http:// or https://"),
        }),
    }
}

/// Flags that only mean something in sequencer mode are an error in validator mode: an operator
/// who passes them expects blocks to be produced.
fn check_mode_flags(args: &KonaArgs, mode: KonaMode) -> Result<(), CliError> {
    let seq = &args.sequencer;
    if seq.max_safe_lag != 0 {
        return Err(CliError::Unsupported {
            flag: "--kona.sequencer.max-safe-lag",
            why: "its sequencer has no safe-lag bound",
        });
    }
    if let Some(url) = &seq.conductor_rpc {
        check_http_url("--kona.conductor.rpc", url)?;
    }
    match mode {
        KonaMode::Sequencer => {
            if !args.p2p.signer.has_signer() {
                return Err(CliError::SequencerWithoutKey);
            }
        }
        KonaMode::Validator => {
            let sequencer_only = [
                ("--kona.sequencer.stopped", seq.stopped),
                ("--kona.sequencer.recover", seq.recover),
                ("--kona.conductor.rpc", seq.conductor_rpc.is_some()),
                ("--kona.p2p.sequencer.key", args.p2p.signer.sequencer_key.is_some()),
                ("--kona.p2p.sequencer.key.path", args.p2p.signer.sequencer_key_path.is_some()),
                ("--kona.p2p.signer.endpoint", args.p2p.signer.signer_endpoint.is_some()),
            ];
            if let Some((flag, _)) = sequencer_only.into_iter().find(|(_, given)| *given) {
                return Err(CliError::Conflict {
                    flag,
                    other: "--kona.mode validator",
                    why: "it only applies to a sequencer; add --kona.mode sequencer",
                });
            }
        }
    }
    Ok(())
}

fn check_rpc_flags(args: &KonaArgs) -> Result<(), CliError> {
    let rpc = &args.rpc;
    if rpc.disabled {
        let needs_server = [
            ("--kona.rpc.enable-admin", rpc.enable_admin),
            ("--kona.rpc.admin-state", rpc.admin_state.is_some()),
            ("--kona.rpc.ws", rpc.ws),
            ("--kona.rpc.dev", rpc.dev),
        ];
        if let Some((flag, _)) = needs_server.into_iter().find(|(_, given)| *given) {
            return Err(CliError::Conflict {
                flag,
                other: "--kona.rpc.disabled",
                why: "it configures the RPC server that is disabled",
            });
        }
    }
    if rpc.admin_state.is_some() && !rpc.enable_admin {
        return Err(CliError::Conflict {
            flag: "--kona.rpc.admin-state",
            other: "the disabled admin API",
            why: "admin state is only written by the admin API; add --kona.rpc.enable-admin",
        });
    }
    Ok(())
}

fn check_p2p_flags(p2p: &P2pArgs) -> Result<(), CliError> {
    let defaults = P2pArgs::default();
    // kona-node parses these but kona-node-service 0.1.3 has no connection manager that reads
    // them; a silent no-op would let an operator believe their peer bounds hold.
    let unsupported = [
        ("--kona.p2p.peers.lo", p2p.peers_lo != defaults.peers_lo),
        ("--kona.p2p.peers.hi", p2p.peers_hi != defaults.peers_hi),
        ("--kona.p2p.peers.grace", p2p.peers_grace_secs != defaults.peers_grace_secs),
    ];
    if let Some((flag, _)) = unsupported.into_iter().find(|(_, given)| *given) {
        return Err(CliError::Unsupported {
            flag,
            why: "its network actor has no peer-count bounds",
        });
    }
    if p2p.priv_raw.is_some() && p2p.priv_path.is_some() {
        return Err(CliError::Conflict {
            flag: "--kona.p2p.priv.raw",
            other: "--kona.p2p.priv.path",
            why: "the P2P identity comes from one place",
        });
    }
    if p2p.no_discovery && !p2p.bootnodes.is_empty() {
        return Err(CliError::Conflict {
            flag: "--kona.p2p.bootnodes",
            other: "--kona.p2p.no-discovery",
            why: "bootnodes are only used for discovery",
        });
    }
    if !(p2p.gossip_mesh_dlo <= p2p.gossip_mesh_d && p2p.gossip_mesh_d <= p2p.gossip_mesh_dhi) {
        return Err(CliError::Invalid {
            flag: "--kona.p2p.gossip.mesh.d",
            why: format!(
                "the mesh needs lo <= d <= dhi, got lo={} d={} dhi={}",
                p2p.gossip_mesh_dlo, p2p.gossip_mesh_d, p2p.gossip_mesh_dhi
            ),
        });
    }
    if p2p.discovery_interval_secs == 0 {
        return Err(CliError::Invalid {
            flag: "--kona.p2p.discovery.interval",
            why: "must be at least 1 second".into(),
        });
    }
    if p2p.ban_threshold > 0 {
        return Err(CliError::Invalid {
            flag: "--kona.p2p.ban.threshold",
            why: format!(
                "a positive threshold ({}) would ban well-behaved peers",
                p2p.ban_threshold
            ),
        });
    }
    if let Some(dir) = p2p.bootstore.as_ref().filter(|dir| dir.exists() && !dir.is_dir()) {
        return Err(CliError::Invalid {
            flag: "--kona.p2p.bootstore",
            why: format!("{} is not a directory", dir.display()),
        });
    }
    Ok(())
}

fn load_rollup_config(
    from_host: Option<RollupConfig>,
    file: Option<&Path>,
    chain_id: u64,
) -> Result<(RollupConfig, RollupConfigSource), CliError> {
    let (config, source) = match (from_host, file) {
        (Some(config), _) => (config, RollupConfigSource::Host),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
                flag: "--kona.config-file",
                path: path.to_path_buf(),
                source,
            })?;
            let config: RollupConfig = serde_json::from_str(&text)
                .map_err(|source| CliError::RollupConfig { path: path.to_path_buf(), source })?;
            (config, RollupConfigSource::File(path.to_path_buf()))
        }
        (None, None) => {
            let config = kona_registry::ROLLUP_CONFIGS
                .get(&chain_id)
                .cloned()
                .ok_or(CliError::UnknownChain { chain_id })?;
            (config, RollupConfigSource::Registry)
        }
    };
    let config_chain_id = config.l2_chain_id.id();
    if config_chain_id != chain_id {
        let path = match &source {
            RollupConfigSource::File(path) => path.clone(),
            _ => PathBuf::from("<host-supplied rollup config>"),
        };
        return Err(CliError::ChainIdMismatch { path, config_chain_id, node_chain_id: chain_id });
    }
    Ok((config, source))
}

/// Checks the parts of the (overridden) rollup config that kona would otherwise trip over late.
fn check_rollup_config(config: &RollupConfig) -> Result<(), CliError> {
    if config.block_time == 0 {
        return Err(CliError::Invalid {
            flag: "--kona.config-file",
            why: "block_time is 0; L2 blocks need a block time of at least 1 second".into(),
        });
    }
    // Forks activate in order; an override that puts a fork before its predecessor produces a
    // chain no other node follows.
    let mut previous: Option<(&'static str, u64)> = None;
    for fork in crate::scheduled_forks(config) {
        let (flag, Some(time)) = (fork.override_flag, fork.time) else { continue };
        if let Some((prev_flag, prev_time)) = previous
            && time < prev_time
        {
            return Err(CliError::Invalid {
                flag,
                why: format!(
                    "activation {time} is before the previous fork ({prev_flag} fork at \
                     {prev_time}); forks activate in order"
                ),
            });
        }
        previous = Some((flag, time));
    }
    Ok(())
}

/// The local sequencer key, from `--kona.p2p.sequencer.key` or `--kona.p2p.sequencer.key.path`.
fn local_sequencer_key(signer: &SignerArgs) -> Result<Option<PrivateKeySigner>, CliError> {
    let (flag, key) = match (&signer.sequencer_key, &signer.sequencer_key_path) {
        (Some(key), _) => ("--kona.p2p.sequencer.key", *key),
        (None, Some(path)) => {
            let flag = "--kona.p2p.sequencer.key.path";
            (flag, keys::read_key_file(flag, path, true)?)
        }
        (None, None) => return Ok(None),
    };
    PrivateKeySigner::from_bytes(&key)
        .map(Some)
        .map_err(|e| CliError::Key { flag, why: e.to_string() })
}

fn remote_signer(signer: &SignerArgs) -> Result<Option<RemoteSigner>, CliError> {
    let Some(endpoint) = signer.signer_endpoint.clone() else { return Ok(None) };
    check_http_url("--kona.p2p.signer.endpoint", &endpoint)?;
    let address = signer.signer_address.ok_or(CliError::Missing {
        flag: "--kona.p2p.signer.address",
        why: "the remote signer must know which address to sign for",
    })?;
    let mut headers = http::HeaderMap::new();
    for header in &signer.signer_headers {
        let invalid = |why: String| CliError::Invalid { flag: "--kona.p2p.signer.header", why };
        let (name, value) = header
            .split_once('=')
            .ok_or_else(|| invalid(format!("{header:?} is not of the form key=value")))?;
        let name = http::HeaderName::from_str(name.trim())
            .map_err(|e| invalid(format!("header name {name:?}: {e}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|e| invalid(format!("header value of {name}: {e}")))?;
        headers.insert(name, value);
    }
    for (flag, path) in [
        ("--kona.p2p.signer.tls.ca", &signer.signer_tls_ca),
        ("--kona.p2p.signer.tls.cert", &signer.signer_tls_cert),
        ("--kona.p2p.signer.tls.key", &signer.signer_tls_key),
    ] {
        if let Some(path) = path {
            std::fs::metadata(path).map_err(|source| CliError::Read {
                flag,
                path: path.clone(),
                source,
            })?;
        }
    }
    let client_cert = match (&signer.signer_tls_cert, &signer.signer_tls_key) {
        (Some(cert), Some(key)) => Some(ClientCert { cert: cert.clone(), key: key.clone() }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(CliError::Missing {
                flag: "--kona.p2p.signer.tls.key",
                why: "a client certificate needs its key",
            });
        }
        (None, Some(_)) => {
            return Err(CliError::Missing {
                flag: "--kona.p2p.signer.tls.cert",
                why: "a client key needs its certificate",
            });
        }
    };
    Ok(Some(RemoteSigner {
        endpoint,
        address,
        client_cert,
        ca_cert: signer.signer_tls_ca.clone(),
        headers,
    }))
}

fn network_config(
    p2p: &P2pArgs,
    rollup_config: &RollupConfig,
    mode: KonaMode,
) -> Result<NetworkConfig, CliError> {
    let chain_id = rollup_config.l2_chain_id.id();

    let keypair = match (&p2p.priv_raw, &p2p.priv_path) {
        (Some(key), _) => keys::identity_from_bytes("--kona.p2p.priv.raw", *key)?,
        (None, Some(path)) => keys::load_or_create_identity("--kona.p2p.priv.path", path)?,
        // An ephemeral identity, as kona-node does: fine for a devnet, but peers see a new
        // node on every restart.
        (None, None) => libp2p::identity::Keypair::generate_secp256k1(),
    };
    let secret = keypair
        .clone()
        .try_into_secp256k1()
        .map_err(|e| CliError::Key { flag: "--kona.p2p.priv.raw", why: e.to_string() })?
        .secret()
        .to_bytes();
    let signing_key = discv5::enr::k256::ecdsa::SigningKey::from_bytes(&secret.into())
        .map_err(|e| CliError::Key { flag: "--kona.p2p.priv.raw", why: e.to_string() })?;

    let advertise_ip = p2p.advertise_ip.unwrap_or(p2p.listen_ip);
    let advertise_tcp = nonzero_or(p2p.advertise_tcp_port, p2p.listen_tcp_port);
    let advertise_udp = nonzero_or(p2p.advertise_udp_port, p2p.listen_udp_port);
    let discovery_address = LocalNode::new(signing_key, advertise_ip, advertise_tcp, advertise_udp);

    let mut discovery =
        discv5::ConfigBuilder::new(SocketAddr::new(p2p.listen_ip, p2p.listen_udp_port).into());
    if p2p.no_discovery {
        // kona 0.1.3 cannot turn discv5 off, and its query timer fires once at start even with
        // the longest interval. A table that admits no node makes that query (and every
        // bootnode kona seeds for registry chains) a no-op: nobody is ever discovered.
        discovery.table_filter(|_| false);
    }
    if p2p.advertise_ip.is_some() {
        // A pinned advertised IP (e.g. behind NAT) must not be rewritten by discv5's votes.
        discovery.disable_enr_update();
        discovery.auto_nat_listen_duration(None);
    }

    let gossip_config = kona_p2p::default_config_builder()
        .mesh_n(p2p.gossip_mesh_d)
        .mesh_n_low(p2p.gossip_mesh_dlo)
        .mesh_n_high(p2p.gossip_mesh_dhi)
        .gossip_lazy(p2p.gossip_mesh_dlazy)
        .flood_publish(p2p.gossip_flood_publish)
        .build()
        .map_err(|e| CliError::Invalid { flag: "--kona.p2p.gossip.mesh.d", why: e.to_string() })?;

    let mut gossip_address = libp2p::Multiaddr::from(p2p.listen_ip);
    gossip_address.push(libp2p::multiaddr::Protocol::Tcp(p2p.listen_tcp_port));

    let local_key = local_sequencer_key(&p2p.signer)?;
    let remote = remote_signer(&p2p.signer)?;
    let unsafe_block_signer =
        unsafe_block_signer(p2p, chain_id, mode, local_key.as_ref(), remote.as_ref())?;
    let gossip_signer: Option<BlockSigner> = match (local_key, remote) {
        (Some(key), _) => {
            use alloy_signer::Signer as _;
            Some(key.with_chain_id(Some(chain_id)).into())
        }
        (None, Some(remote)) => Some(remote.into()),
        (None, None) => None,
    };

    let discovery_interval = if p2p.no_discovery {
        NO_DISCOVERY_INTERVAL
    } else {
        Duration::from_secs(p2p.discovery_interval_secs)
    };

    Ok(NetworkConfig {
        discovery_config: discovery.build(),
        discovery_address,
        discovery_interval,
        discovery_randomize: p2p.discovery_randomize_secs.map(Duration::from_secs),
        gossip_address,
        unsafe_block_signer,
        keypair,
        gossip_config,
        scoring: p2p.scoring.into(),
        topic_scoring: p2p.topic_scoring,
        monitor_peers: p2p.ban_peers.then(|| PeerMonitoring {
            ban_threshold: p2p.ban_threshold as f64,
            ban_duration: Duration::from_secs(60 * p2p.ban_duration_mins),
        }),
        bootstore: p2p.bootstore.clone(),
        gater_config: GaterConfig {
            peer_redialing: Some(p2p.redial),
            dial_period: Duration::from_secs(60 * p2p.redial_period_mins),
        },
        bootnodes: p2p.bootnodes.clone(),
        rollup_config: rollup_config.clone(),
        gossip_signer,
    })
}

const fn nonzero_or(port: u16, fallback: u16) -> u16 {
    if port == 0 { fallback } else { port }
}

/// The address unsafe blocks must be signed by, in order of precedence: the flag, the
/// superchain registry, and, for a sequencer, the address of its own signing key. kona's L1
/// watcher later follows changes of the signer recorded in the L1 system config.
fn unsafe_block_signer(
    p2p: &P2pArgs,
    chain_id: u64,
    mode: KonaMode,
    local_key: Option<&PrivateKeySigner>,
    remote: Option<&RemoteSigner>,
) -> Result<Address, CliError> {
    if let Some(address) = p2p.unsafe_block_signer {
        return Ok(address);
    }
    let registered = kona_registry::OPCHAINS
        .get(&chain_id)
        .and_then(|chain| chain.roles.as_ref())
        .and_then(|roles| roles.unsafe_block_signer);
    if let Some(address) = registered {
        return Ok(address);
    }
    if mode == KonaMode::Sequencer {
        if let Some(key) = local_key {
            return Ok(key.address());
        }
        if let Some(remote) = remote {
            return Ok(remote.address);
        }
    }
    Err(CliError::UnknownUnsafeBlockSigner { chain_id })
}
