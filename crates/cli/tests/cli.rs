//! `--kona.*` parsing inside a reth-shaped host parser, validation errors, and conversions into
//! kona-node-service's types.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::{Address, B256, address, b256};
use clap::{Args, CommandFactory, Parser, Subcommand};
use kona_genesis::RollupConfig;
use kona_node_service::NodeMode;
use rollup_cli::{
    CliError, DEFAULT_KONA_RPC_PORT, KonaArgs, KonaMode, NodeCliConfig, ProposalHeadArg,
    RollupConfigSource,
};
use std::{io::Write, net::SocketAddr, path::PathBuf, time::Duration};

/// OP Sepolia: in kona's registry, with a registered unsafe block signer.
const OP_SEPOLIA: u64 = 11_155_420;
/// A devnet chain id that no registry knows.
const DEVNET: u64 = 42_069;
/// anvil's first dev account key; its address is 0xf39F…2266.
const DEV_KEY: B256 = b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const DEV_ADDRESS: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

/// A stand-in for reth's `Cli<ChainSpecParser, Ext>`: reth's own flags that clash-prone names
/// come from, and our extension flattened the way op-reth flattens `RollupArgs`.
#[derive(Debug, Parser)]
#[command(name = "rollup")]
struct HostCli {
    #[command(subcommand)]
    command: HostCommand,
    #[arg(short = 'v', action = clap::ArgAction::Count, global = true)]
    verbosity: u8,
}

#[derive(Debug, Subcommand)]
enum HostCommand {
    Node(HostNode),
}

#[derive(Debug, Args)]
struct HostNode {
    #[arg(long, default_value = "optimism")]
    chain: String,
    #[arg(long, default_value_t = 30303)]
    port: u16,
    #[arg(long = "p2p-secret-key")]
    p2p_secret_key: Option<PathBuf>,
    #[arg(long)]
    metrics: Option<SocketAddr>,
    #[arg(long = "authrpc.port", default_value_t = 8551)]
    authrpc_port: u16,
    #[arg(long = "authrpc.jwtsecret")]
    authrpc_jwtsecret: Option<PathBuf>,
    #[arg(long = "http.port", default_value_t = 8545)]
    http_port: u16,
    #[command(flatten)]
    ext: HostRollupExt,
}

#[derive(Debug, Args)]
struct HostRollupExt {
    #[arg(long = "rollup.sequencer-http")]
    sequencer_http: Option<String>,
    #[command(flatten)]
    kona: KonaArgs,
}

fn parse(args: &[&str]) -> Result<KonaArgs, clap::Error> {
    let argv = ["rollup", "node"].iter().chain(args).copied();
    let HostCommand::Node(node) = HostCli::try_parse_from(argv)?.command;
    Ok(node.ext.kona)
}

fn base(extra: &[&str]) -> KonaArgs {
    let mut args = vec![
        "--kona.l1-eth-rpc",
        "http://127.0.0.1:8545",
        "--kona.l1-beacon",
        "http://127.0.0.1:5052",
    ];
    args.extend_from_slice(extra);
    parse(&args).unwrap()
}

/// Builds the config; OP Sepolia's registry config is handed over by the host. From the
/// registry itself OP Sepolia is refused (its Superchain has run Jovian since 2025-11-19, see
/// `registry_chain_past_jovian_is_refused`), and these tests are about flags.
fn build(args: KonaArgs, chain_id: u64) -> Result<NodeCliConfig, CliError> {
    let builder = NodeCliConfig::builder().args(args).l2_chain_id(chain_id);
    let builder = match kona_registry::ROLLUP_CONFIGS.get(&chain_id) {
        Some(config) if chain_id == OP_SEPOLIA => builder.rollup_config(config.clone()),
        _ => builder,
    };
    builder.build()
}

/// A rollup config file for the devnet chain, derived from OP Sepolia's.
fn devnet_rollup_file(chain_id: u64) -> tempfile::NamedTempFile {
    let mut config = kona_registry::ROLLUP_CONFIGS.get(&OP_SEPOLIA).unwrap().clone();
    config.l2_chain_id = chain_id.into();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(serde_json::to_string_pretty(&config).unwrap().as_bytes()).unwrap();
    file
}

fn err(args: KonaArgs, chain_id: u64) -> String {
    build(args, chain_id).unwrap_err().to_string()
}

#[test]
fn host_parser_has_no_colliding_flags() {
    // clap panics in debug_assert on duplicate long/short names across flattened groups.
    HostCli::command().debug_assert();
}

#[test]
fn reth_flags_and_kona_flags_parse_side_by_side() {
    let cli = HostCli::try_parse_from([
        "rollup",
        "node",
        "-vvv",
        "--chain",
        "dev",
        "--port",
        "30304",
        "--metrics",
        "127.0.0.1:9001",
        "--authrpc.port",
        "8552",
        "--kona.mode",
        "sequencer",
        "--kona.l1-eth-rpc",
        "http://l1:8545",
        "--kona.l1-beacon",
        "http://l1:5052",
        "--kona.rpc.port",
        "9999",
        "--kona.p2p.listen.tcp",
        "9300",
    ])
    .unwrap();
    let HostCommand::Node(node) = cli.command;
    assert_eq!(cli.verbosity, 3);
    assert_eq!(node.port, 30304);
    assert_eq!(node.authrpc_port, 8552);
    assert_eq!(node.ext.kona.mode, Some(KonaMode::Sequencer));
    assert_eq!(node.ext.kona.rpc.port, 9999);
    assert_eq!(node.ext.kona.p2p.listen_tcp_port, 9300);
}

#[test]
fn kona_is_off_without_kona_flags() {
    let args = parse(&[]).unwrap();
    assert!(!args.is_requested());
    assert_eq!(args, KonaArgs::default(), "clap defaults and Default must agree");
    assert!(parse(&["--kona.mode", "validator"]).unwrap().is_requested());
    assert!(parse(&["--kona.l1-beacon", "http://b"]).unwrap().is_requested());
    // Any kona flag turns kona on, so that validation can say what else is missing.
    let args = parse(&["--kona.rpc.port", "9999"]).unwrap();
    assert!(args.is_requested());
    assert!(
        build(args, OP_SEPOLIA)
            .unwrap_err()
            .to_string()
            .starts_with("--kona.l1-eth-rpc is required")
    );
}

#[test]
fn defaults_follow_kona_node() {
    let args = parse(&[]).unwrap();
    assert_eq!(args.rpc.port, DEFAULT_KONA_RPC_PORT);
    assert_eq!(DEFAULT_KONA_RPC_PORT, 9546);
    assert_eq!(args.p2p.listen_tcp_port, 9222);
    assert_eq!(args.p2p.listen_udp_port, 9223);
    assert_eq!(args.p2p.gossip_mesh_d, 8);
    assert_eq!(args.p2p.ban_threshold, -100);
    assert_eq!(args.sequencer.l1_confs, 4);
    assert_eq!(args.mode(), KonaMode::Validator);
    assert!(!args.exit_on_failure, "kona failures restart kona unless asked otherwise");
}

#[test]
fn kona_rpc_is_loopback_without_admin_by_default() {
    let args = parse(&[]).unwrap();
    assert!(args.rpc.addr.is_loopback(), "kona's RPC binds {} by default", args.rpc.addr);
    assert!(!args.rpc.enable_admin);
    let builder = args.rpc.rpc_builder().expect("the RPC server runs by default");
    assert!(builder.socket.ip().is_loopback());
    assert!(!builder.enable_admin, "admin_* needs --kona.rpc.enable-admin");
}

#[test]
fn no_discovery_admits_nobody_into_the_discovery_table() {
    let enr = {
        let key = discv5::enr::CombinedKey::generate_secp256k1();
        discv5::Enr::builder().ip4([127, 0, 0, 1].into()).udp4(9223).build(&key).unwrap()
    };
    let open = build(base(&[]), OP_SEPOLIA).unwrap();
    assert!((open.network.discovery_config.table_filter)(&enr));
    let closed = build(base(&["--kona.p2p.no-discovery"]), OP_SEPOLIA).unwrap();
    assert!(!(closed.network.discovery_config.table_filter)(&enr), "no node enters the table");
}

#[test]
fn static_peers_need_a_peer_id() {
    let with_id =
        "/ip4/127.0.0.1/tcp/9222/p2p/16Uiu2HAmUs1uA38skWiYuMpmMvpRXrsdDNcsqAsF6mS3aVbdwfFR";
    let config = build(base(&["--kona.p2p.static-peers", with_id]), OP_SEPOLIA).unwrap();
    assert_eq!(config.static_peers.len(), 1);
    let err = build(base(&["--kona.p2p.static-peers", "/ip4/127.0.0.1/tcp/9222"]), OP_SEPOLIA)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid --kona.p2p.static-peers: /ip4/127.0.0.1/tcp/9222 has no /p2p/<peer id> part"
    );
}

#[test]
fn exit_on_failure_reaches_the_config() {
    let config = build(base(&[]), OP_SEPOLIA).unwrap();
    assert!(!config.exit_on_failure);
    let config = build(base(&["--kona.exit-on-failure"]), OP_SEPOLIA).unwrap();
    assert!(config.exit_on_failure);
    assert!(parse(&["--kona.exit-on-failure"]).unwrap().is_requested());
}

#[test]
fn registry_chain_past_jovian_is_refused() {
    let from_registry = NodeCliConfig::builder().args(base(&[])).l2_chain_id(OP_SEPOLIA).build();
    assert_eq!(
        from_registry.unwrap_err().to_string(),
        "L2 chain 11155420: its Sepolia Superchain (Upgrade 17, after kona's compiled-in \
         registry) schedules Jovian at 1763568001; this build runs OP Stack forks through \
         Isthmus only (kona-node 0.1.3, the last crates.io release, implements no later fork), \
         so it refuses to start rather than fork off the chain at 1763568001"
    );
}

#[test]
fn registry_chain_config_carries_its_registered_signer() {
    let config = build(base(&[]), OP_SEPOLIA).unwrap();
    assert_eq!(config.rollup_config_source, RollupConfigSource::Host);
    assert_eq!(config.l2_chain_id(), OP_SEPOLIA);
    assert_eq!(config.node_mode(), NodeMode::Validator);
    let registered = kona_registry::OPCHAINS[&OP_SEPOLIA].roles.as_ref().unwrap();
    assert_eq!(Some(config.network.unsafe_block_signer), registered.unsafe_block_signer);
    assert!(config.network.gossip_signer.is_none());
}

#[test]
fn sequencer_round_trips_into_kona_types() {
    let file = devnet_rollup_file(DEVNET);
    let key = DEV_KEY.to_string();
    let args = base(&[
        "--kona.mode",
        "sequencer",
        "--kona.config-file",
        file.path().to_str().unwrap(),
        "--kona.p2p.sequencer.key",
        &key,
        "--kona.p2p.priv.raw",
        &key,
        "--kona.rpc.addr",
        "127.0.0.1",
        "--kona.rpc.port",
        "9777",
        "--kona.rpc.enable-admin",
        "--kona.sequencer.stopped",
        "--kona.sequencer.l1-confs",
        "2",
        "--kona.sequencer.recover",
        "--kona.conductor.rpc",
        "http://127.0.0.1:8547",
        "--kona.p2p.gossip.mesh.d",
        "7",
        "--kona.p2p.ban.peers",
        "--kona.p2p.ban.duration",
        "5",
        "--kona.p2p.redial",
        "3",
        "--kona.p2p.scoring",
        "off",
        "--kona.p2p.advertise.ip",
        "10.0.0.1",
        "--kona.p2p.listen.tcp",
        "9400",
    ]);
    let config = build(args, DEVNET).unwrap();

    assert_eq!(config.node_mode(), NodeMode::Sequencer);
    assert_eq!(config.rollup_config_source, RollupConfigSource::File(file.path().to_path_buf()));

    let rpc = config.rpc.clone().unwrap();
    assert_eq!(rpc.socket, "127.0.0.1:9777".parse().unwrap());
    assert!(rpc.enable_admin);
    assert!(!rpc.ws_enabled);

    assert!(config.sequencer.sequencer_stopped);
    assert!(config.sequencer.sequencer_recovery_mode);
    assert_eq!(config.sequencer.l1_conf_delay, 2);
    assert_eq!(
        config.sequencer.conductor_rpc_url.as_ref().unwrap().as_str(),
        "http://127.0.0.1:8547/"
    );

    let net = &config.network;
    // Devnet chain: not in the registry, so the sequencer key's address signs unsafe blocks.
    assert_eq!(net.unsafe_block_signer, DEV_ADDRESS);
    assert!(
        matches!(net.gossip_signer, Some(kona_sources::BlockSigner::Local(ref s)) if s.address() == DEV_ADDRESS)
    );
    assert_eq!(net.gossip_config.mesh_n(), 7);
    assert_eq!(net.monitor_peers.as_ref().unwrap().ban_duration, Duration::from_secs(300));
    assert_eq!(net.gater_config.peer_redialing, Some(3));
    assert_eq!(net.scoring, kona_peers::PeerScoreLevel::Off);
    assert_eq!(net.discovery_address.ip.to_string(), "10.0.0.1");
    assert_eq!(
        net.discovery_address.tcp_port, 9400,
        "advertised tcp falls back to the listen port"
    );
    assert_eq!(net.gossip_address.to_string(), "/ip4/0.0.0.0/tcp/9400");
    // The P2P identity is the raw key: the same peer id on every start.
    let expected = rollup_cli_identity(DEV_KEY);
    assert_eq!(net.keypair.public().to_peer_id(), expected);
    assert_eq!(net.rollup_config, config.rollup_config);
}

fn rollup_cli_identity(key: B256) -> libp2p::PeerId {
    let mut bytes = key.0;
    let secret = libp2p::identity::secp256k1::SecretKey::try_from_bytes(&mut bytes).unwrap();
    libp2p::identity::Keypair::from(libp2p::identity::secp256k1::Keypair::from(secret))
        .public()
        .to_peer_id()
}

#[test]
fn sequencer_mode_carries_into_kona() {
    let file = devnet_rollup_file(DEVNET);
    let key = DEV_KEY.to_string();
    let config = build(
        base(&[
            "--kona.mode",
            "sequencer",
            "--kona.config-file",
            file.path().to_str().unwrap(),
            "--kona.p2p.sequencer.key",
            &key,
        ]),
        DEVNET,
    )
    .unwrap();
    assert_eq!(config.node_mode(), NodeMode::Sequencer);
    assert!(config.network.gossip_signer.is_some(), "the sequencer key signs gossip");
}

#[test]
fn hardfork_overrides_apply_and_keep_the_rest() {
    let args =
        base(&["--kona.override.holocene", "1800000000", "--kona.override.isthmus", "1900000000"]);
    let config = build(args, OP_SEPOLIA).unwrap();
    let registry = &kona_registry::ROLLUP_CONFIGS[&OP_SEPOLIA];
    assert_eq!(config.rollup_config.hardforks.holocene_time, Some(1_800_000_000));
    assert_eq!(config.rollup_config.hardforks.isthmus_time, Some(1_900_000_000));
    assert_eq!(config.rollup_config.hardforks.granite_time, registry.hardforks.granite_time);
    assert_eq!(config.rollup_config.genesis, registry.genesis);
}

#[test]
fn forks_after_isthmus_are_refused_from_flags_and_files() {
    let msg = err(base(&["--kona.override.jovian", "1900000001"]), OP_SEPOLIA);
    assert!(msg.starts_with("the rollup config (or a --kona.override.* flag) schedules Jovian at 1900000001; this build runs OP Stack forks through Isthmus only"), "{msg}");
    let msg = err(base(&["--kona.override.interop", "1900000001"]), OP_SEPOLIA);
    assert!(msg.contains("schedules Interop at 1900000001"), "{msg}");

    let mut config = kona_registry::ROLLUP_CONFIGS[&OP_SEPOLIA].clone();
    config.l2_chain_id = DEVNET.into();
    config.hardforks.jovian_time = Some(2_000_000_000);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(serde_json::to_string(&config).unwrap().as_bytes()).unwrap();
    let msg = err(base(&["--kona.config-file", file.path().to_str().unwrap()]), DEVNET);
    assert!(
        msg.starts_with(&format!(
            "--kona.config-file {} (or a --kona.override.* flag) schedules Jovian at 2000000000",
            file.path().display()
        )),
        "{msg}"
    );
}

#[test]
fn unknown_fork_field_in_config_file_is_refused() {
    let config = kona_registry::ROLLUP_CONFIGS[&OP_SEPOLIA].clone();
    let mut json = serde_json::to_value(&config).unwrap();
    json["l2_chain_id"] = DEVNET.into();
    // A fork this kona release has never heard of.
    json["karst_time"] = 2_000_000_000u64.into();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(json.to_string().as_bytes()).unwrap();
    let msg = err(base(&["--kona.config-file", file.path().to_str().unwrap()]), DEVNET);
    assert!(msg.contains("karst_time"), "{msg}");
}

#[test]
fn p2p_identity_file_is_created_once_with_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p2p.key");
    let args = || base(&["--kona.p2p.priv.path", path.to_str().unwrap()]);
    let first = build(args(), OP_SEPOLIA).unwrap().network.keypair.public().to_peer_id();
    let second = build(args(), OP_SEPOLIA).unwrap().network.keypair.public().to_peer_id();
    assert_eq!(first, second, "the identity persists across restarts");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn no_discovery_stops_discovery_queries() {
    let config = build(base(&["--kona.p2p.no-discovery"]), OP_SEPOLIA).unwrap();
    assert!(config.network.discovery_interval >= Duration::from_secs(3600 * 24 * 365));
    let config = build(base(&[]), OP_SEPOLIA).unwrap();
    assert_eq!(config.network.discovery_interval, Duration::from_secs(5));
}

#[test]
fn rpc_disabled_gives_no_rpc_builder() {
    let config = build(base(&["--kona.rpc.disabled"]), OP_SEPOLIA).unwrap();
    assert!(config.rpc.is_none());
    assert_eq!(config.rpc_socket(), None);
}

// ---- every validation error names its flag ----

#[test]
fn missing_beacon_is_an_error() {
    let args = parse(&["--kona.l1-eth-rpc", "http://127.0.0.1:8545"]).unwrap();
    assert_eq!(
        err(args, OP_SEPOLIA),
        "--kona.l1-beacon is required when the kona node runs (derivation reads blobs from it)"
    );
}

#[test]
fn missing_l1_rpc_is_an_error() {
    let args = parse(&["--kona.l1-beacon", "http://127.0.0.1:5052"]).unwrap();
    assert!(err(args, OP_SEPOLIA).starts_with("--kona.l1-eth-rpc is required"));
}

#[test]
fn non_http_l1_url_is_an_error() {
    let args = parse(&["--kona.l1-eth-rpc", "ws://127.0.0.1:8546", "--kona.l1-beacon", "http://b"])
        .unwrap();
    assert_eq!(
        err(args, OP_SEPOLIA),
        "invalid --kona.l1-eth-rpc: scheme ws:// is not supported, use http:// or https://"
    );
}

#[test]
fn sequencer_without_key_is_an_error() {
    let msg = err(base(&["--kona.mode", "sequencer"]), OP_SEPOLIA);
    assert!(msg.contains("--kona.mode sequencer needs a key"), "{msg}");
    assert!(msg.contains("--kona.p2p.sequencer.key"), "{msg}");
}

#[test]
fn sequencer_flags_in_validator_mode_are_an_error() {
    let msg = err(base(&["--kona.sequencer.stopped"]), OP_SEPOLIA);
    assert_eq!(
        msg,
        "--kona.sequencer.stopped conflicts with --kona.mode validator: it only applies to a sequencer; add --kona.mode sequencer"
    );
    let key = DEV_KEY.to_string();
    let msg = err(base(&["--kona.p2p.sequencer.key", &key]), OP_SEPOLIA);
    assert!(
        msg.starts_with("--kona.p2p.sequencer.key conflicts with --kona.mode validator"),
        "{msg}"
    );
}

#[test]
fn local_key_and_remote_signer_conflict_at_parse_time() {
    let key = DEV_KEY.to_string();
    let e = parse(&[
        "--kona.p2p.sequencer.key",
        &key,
        "--kona.p2p.signer.endpoint",
        "http://signer",
        "--kona.p2p.signer.address",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    ])
    .unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    assert!(e.to_string().contains("--kona.p2p.sequencer.key"));
}

#[test]
fn remote_signer_needs_an_address() {
    let e = parse(&["--kona.p2p.signer.endpoint", "http://signer"]).unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    assert!(e.to_string().contains("--kona.p2p.signer.address"));
}

#[test]
fn remote_signer_is_a_valid_sequencer_signer() {
    let file = devnet_rollup_file(DEVNET);
    let args = base(&[
        "--kona.mode",
        "sequencer",
        "--kona.config-file",
        file.path().to_str().unwrap(),
        "--kona.p2p.signer.endpoint",
        "http://127.0.0.1:9000",
        "--kona.p2p.signer.address",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "--kona.p2p.signer.header",
        "x-api-key=abc",
    ]);
    let config = build(args, DEVNET).unwrap();
    let Some(kona_sources::BlockSigner::Remote(remote)) = &config.network.gossip_signer else {
        panic!("expected a remote signer");
    };
    assert_eq!(remote.address, DEV_ADDRESS);
    assert_eq!(remote.headers["x-api-key"], "abc");
    assert_eq!(config.network.unsafe_block_signer, DEV_ADDRESS);
}

#[test]
fn malformed_signer_header_is_an_error() {
    let args = base(&[
        "--kona.mode",
        "sequencer",
        "--kona.p2p.signer.endpoint",
        "http://127.0.0.1:9000",
        "--kona.p2p.signer.address",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "--kona.p2p.signer.header",
        "no-equals-sign",
    ]);
    assert_eq!(
        err(args, OP_SEPOLIA),
        "invalid --kona.p2p.signer.header: \"no-equals-sign\" is not of the form key=value"
    );
}

#[test]
fn priv_raw_and_priv_path_conflict() {
    let key = DEV_KEY.to_string();
    let msg =
        err(base(&["--kona.p2p.priv.raw", &key, "--kona.p2p.priv.path", "/tmp/x"]), OP_SEPOLIA);
    assert_eq!(
        msg,
        "--kona.p2p.priv.raw conflicts with --kona.p2p.priv.path: the P2P identity comes from one place"
    );
}

#[test]
fn bootnodes_with_no_discovery_conflict() {
    let enr = "enr:-J64QBbwPjPLZ6IOOToOLsSjtFUjjzN66qmBZdUexpO32Klrc458Q24kbty2PdRaLacHM5z-cZQr8mjeQu3pik6jPSOGAYYFIqBfgmlkgnY0gmlwhDaRWFWHb3BzdGFja4SzlAUAiXNlY3AyNTZrMaECmeSnJh7zjKrDSPoNMGXoopeDF4hhpj5I0OsQUUt4u8uDdGNwgiQGg3VkcIIkBg";
    let msg = err(base(&["--kona.p2p.no-discovery", "--kona.p2p.bootnodes", enr]), OP_SEPOLIA);
    assert!(
        msg.starts_with("--kona.p2p.bootnodes conflicts with --kona.p2p.no-discovery"),
        "{msg}"
    );
}

#[test]
fn rpc_flags_on_a_disabled_server_conflict() {
    let msg = err(base(&["--kona.rpc.disabled", "--kona.rpc.ws"]), OP_SEPOLIA);
    assert_eq!(
        msg,
        "--kona.rpc.ws conflicts with --kona.rpc.disabled: it configures the RPC server that is disabled"
    );
    let msg = err(base(&["--kona.rpc.admin-state", "/tmp/admin.json"]), OP_SEPOLIA);
    assert!(
        msg.starts_with("--kona.rpc.admin-state conflicts with the disabled admin API"),
        "{msg}"
    );
}

#[test]
fn unsupported_flags_are_refused_not_ignored() {
    let msg = err(base(&["--kona.sequencer.max-safe-lag", "10"]), OP_SEPOLIA);
    assert!(
        msg.starts_with(
            "--kona.sequencer.max-safe-lag is not supported by kona-node-service 0.1.3"
        ),
        "{msg}"
    );
    let msg = err(base(&["--kona.p2p.peers.hi", "50"]), OP_SEPOLIA);
    assert!(msg.starts_with("--kona.p2p.peers.hi is not supported"), "{msg}");
}

#[test]
fn inconsistent_gossip_mesh_is_an_error() {
    let msg = err(base(&["--kona.p2p.gossip.mesh.d", "20"]), OP_SEPOLIA);
    assert_eq!(
        msg,
        "invalid --kona.p2p.gossip.mesh.d: the mesh needs lo <= d <= dhi, got lo=6 d=20 dhi=12"
    );
}

#[test]
fn unreadable_config_file_is_an_error() {
    let msg = err(base(&["--kona.config-file", "/nonexistent/rollup.json"]), DEVNET);
    assert!(
        msg.starts_with("cannot read --kona.config-file file /nonexistent/rollup.json: "),
        "{msg}"
    );
}

#[test]
fn malformed_config_file_is_an_error() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"{\"block_time\": 2").unwrap();
    let msg = err(base(&["--kona.config-file", file.path().to_str().unwrap()]), DEVNET);
    assert!(msg.contains("not a valid rollup config"), "{msg}");
    assert!(msg.contains("line 1"), "the JSON position is reported: {msg}");
}

#[test]
fn config_for_another_chain_is_an_error() {
    let file = devnet_rollup_file(DEVNET);
    let msg = err(base(&["--kona.config-file", file.path().to_str().unwrap()]), 901);
    assert_eq!(
        msg,
        format!(
            "--kona.config-file {} is for L2 chain id {DEVNET}, but the node runs chain id 901",
            file.path().display()
        )
    );
}

#[test]
fn unknown_chain_without_config_file_is_an_error() {
    assert_eq!(
        err(base(&[]), DEVNET),
        format!(
            "L2 chain id {DEVNET} is not in kona's superchain registry: give its rollup config with --kona.config-file"
        )
    );
}

#[test]
fn unknown_unsafe_block_signer_is_an_error() {
    let file = devnet_rollup_file(DEVNET);
    let msg = err(base(&["--kona.config-file", file.path().to_str().unwrap()]), DEVNET);
    assert_eq!(
        msg,
        format!(
            "cannot tell which address signs unsafe blocks on L2 chain id {DEVNET}: give --kona.p2p.unsafe.block.signer"
        )
    );
    let args = base(&[
        "--kona.config-file",
        file.path().to_str().unwrap(),
        "--kona.p2p.unsafe.block.signer",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    ]);
    assert_eq!(build(args, DEVNET).unwrap().network.unsafe_block_signer, DEV_ADDRESS);
}

#[test]
fn out_of_order_override_is_an_error() {
    let msg = err(base(&["--kona.override.isthmus", "1"]), OP_SEPOLIA);
    assert!(
        msg.starts_with(
            "invalid --kona.override.isthmus: activation 1 is before the previous fork"
        ),
        "{msg}"
    );
}

#[test]
fn zero_block_time_is_an_error() {
    let mut config: RollupConfig = kona_registry::ROLLUP_CONFIGS[&OP_SEPOLIA].clone();
    config.block_time = 0;
    let e = NodeCliConfig::builder()
        .args(base(&[]))
        .l2_chain_id(OP_SEPOLIA)
        .rollup_config(config)
        .build();
    assert!(e.unwrap_err().to_string().contains("block_time is 0"));
}

#[test]
fn sequencer_key_file_must_be_private() {
    let file = devnet_rollup_file(DEVNET);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("sequencer.key");
    std::fs::write(&key_path, DEV_KEY.to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let args = || {
            base(&[
                "--kona.mode",
                "sequencer",
                "--kona.config-file",
                file.path().to_str().unwrap(),
                "--kona.p2p.sequencer.key.path",
                key_path.to_str().unwrap(),
            ])
        };
        let msg = err(args(), DEVNET);
        assert_eq!(
            msg,
            format!(
                "--kona.p2p.sequencer.key.path file {} is readable by group or others (mode 644); run chmod 600 on it",
                key_path.display()
            )
        );
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(build(args(), DEVNET).unwrap().network.unsafe_block_signer, DEV_ADDRESS);
    }
}

#[test]
fn invalid_key_is_an_error() {
    let zero = B256::ZERO.to_string();
    let msg = err(base(&["--kona.p2p.priv.raw", &zero]), OP_SEPOLIA);
    assert!(msg.starts_with("invalid key in --kona.p2p.priv.raw"), "{msg}");
}

#[test]
fn builder_without_args_is_an_error() {
    let e = NodeCliConfig::builder().l2_chain_id(10).build().unwrap_err();
    assert!(matches!(e, CliError::BuilderIncomplete("args")));
}

#[test]
fn bad_values_are_rejected_by_clap_with_the_flag_name() {
    for (args, flag) in [
        (vec!["--kona.mode", "leader"], "--kona.mode"),
        (vec!["--kona.l1-eth-rpc", "not a url"], "--kona.l1-eth-rpc"),
        (vec!["--kona.rpc.port", "70000"], "--kona.rpc.port"),
        (vec!["--kona.p2p.scoring", "heavy"], "--kona.p2p.scoring"),
    ] {
        let e = parse(&args).unwrap_err();
        assert!(e.to_string().contains(flag), "{flag}: {e}");
    }
}

#[test]
fn help_is_stable() {
    let mut cmd = HostCli::command();
    let node = cmd.find_subcommand_mut("node").unwrap();
    let help = node.render_long_help().to_string();
    // Only our section: reth's flags above it belong to reth.
    let section = help.split_once("Kona consensus node:").map(|(_, s)| s).unwrap();
    insta::assert_snapshot!("kona_help", section);
}

/// anvil's second dev key and its address: the devnet's batcher.
const BATCHER_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const BATCHER_ADDRESS: Address = address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");

/// A rollup file whose batcher is [`BATCHER_ADDRESS`] for good (no L1 SystemConfig), and a
/// batcher key file with `mode`.
fn batcher_setup(mode: u32) -> (tempfile::NamedTempFile, tempfile::NamedTempFile) {
    batcher_setup_with(mode, Address::ZERO)
}

fn batcher_setup_with(
    mode: u32,
    system_config: Address,
) -> (tempfile::NamedTempFile, tempfile::NamedTempFile) {
    use std::os::unix::fs::PermissionsExt;
    let mut config = kona_registry::ROLLUP_CONFIGS.get(&OP_SEPOLIA).unwrap().clone();
    config.l2_chain_id = DEVNET.into();
    config.l1_system_config_address = system_config;
    config.genesis.system_config.as_mut().unwrap().batcher_address = BATCHER_ADDRESS;
    let mut rollup = tempfile::NamedTempFile::new().unwrap();
    rollup.write_all(serde_json::to_string(&config).unwrap().as_bytes()).unwrap();
    let mut key = tempfile::NamedTempFile::new().unwrap();
    key.write_all(BATCHER_KEY.as_bytes()).unwrap();
    std::fs::set_permissions(key.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    (rollup, key)
}

fn sequencer_with_batcher(rollup: &tempfile::NamedTempFile, extra: &[&str]) -> KonaArgs {
    let key = DEV_KEY.to_string();
    let mut args = vec![
        "--kona.mode",
        "sequencer",
        "--kona.config-file",
        rollup.path().to_str().unwrap(),
        "--kona.p2p.sequencer.key",
        &key,
    ];
    args.extend_from_slice(extra);
    base(&args)
}

#[test]
fn batcher_runs_in_sequencer_mode_with_its_key() {
    let (rollup, key) = batcher_setup(0o600);
    let path = key.path().to_str().unwrap();
    let config =
        build(sequencer_with_batcher(&rollup, &["--batcher.key.path", path]), DEVNET).unwrap();
    let batcher = config.batcher.expect("batcher configured");
    assert_eq!(batcher.signer.address(), BATCHER_ADDRESS);
    assert_eq!(batcher.args.max_channel_duration, 2);
    assert_eq!(batcher.args.max_frame_size, 120_000);

    let without = build(sequencer_with_batcher(&rollup, &[]), DEVNET).unwrap();
    assert!(without.batcher.is_none(), "no key, no batcher");
}

#[test]
fn the_batcher_posts_blobs_when_asked() {
    let (rollup, key) = batcher_setup(0o600);
    let path = key.path().to_str().unwrap();
    let args = [
        "--batcher.key.path",
        path,
        "--batcher.data-availability-type",
        "blobs",
        "--batcher.target-num-frames",
        "6",
        "--batcher.max-frame-size",
        "130043",
    ];
    let config = build(sequencer_with_batcher(&rollup, &args), DEVNET).unwrap();
    let batcher = config.batcher.expect("batcher configured");
    assert_eq!(batcher.args.data_availability_type, rollup_cli::DataAvailabilityType::Blobs);
    assert_eq!(batcher.args.target_num_frames, 6);
}

#[test]
fn bad_batcher_settings_are_one_line_naming_the_flag() {
    let (rollup, key) = batcher_setup(0o600);
    let path = key.path().to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            // One byte over what keeps a calldata transaction within 128 KiB.
            &["--batcher.max-frame-size", "130049"],
            "invalid --batcher.max-frame-size: 130049 bytes: must be between 24 and 130048 with \
             calldata data availability",
        ),
        (&["--batcher.fee-limit-multiplier", "0"], "invalid --batcher.fee-limit-multiplier: 0"),
        (
            &["--batcher.data-availability-type", "blobs", "--batcher.target-num-frames", "7"],
            "invalid --batcher.target-num-frames: 7: a blob transaction carries 1 to 6 blobs",
        ),
        (
            &["--batcher.target-num-frames", "2"],
            "invalid --batcher.target-num-frames: calldata transactions carry one frame each",
        ),
        (
            &["--batcher.data-availability-type", "blobs", "--batcher.max-frame-size", "130044"],
            "invalid --batcher.max-frame-size: 130044 bytes: must be between 24 and 130043 with \
             blobs data availability",
        ),
        (
            &["--batcher.max-channel-duration", "0"],
            "invalid --batcher.max-channel-duration: 0 L1 blocks",
        ),
        (&["--batcher.max-channel-duration", "500"], "below the channel timeout"),
        (&["--batcher.max-frame-size", "10"], "invalid --batcher.max-frame-size: 10 bytes"),
        (&["--batcher.poll-interval", "1"], "invalid --batcher.poll-interval"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["--batcher.key.path", path];
        args.extend_from_slice(extra);
        let e = build(sequencer_with_batcher(&rollup, &args), DEVNET).unwrap_err().to_string();
        assert!(e.contains(expected), "{extra:?}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    let e = err(sequencer_with_batcher(&rollup, &["--batcher.max-frame-size", "5000"]), DEVNET);
    assert!(e.starts_with("--batcher.key.path is required"), "{e}");

    let validator = base(&[
        "--kona.config-file",
        rollup.path().to_str().unwrap(),
        "--kona.p2p.unsafe.block.signer",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "--batcher.key.path",
        path,
    ]);
    let e = err(validator, DEVNET);
    assert!(e.starts_with("--batcher.key.path conflicts with --kona.mode validator"), "{e}");
}

#[test]
fn batcher_key_must_be_private_and_the_rollups_batcher() {
    let (rollup, open_key) = batcher_setup(0o644);
    let e = err(
        sequencer_with_batcher(&rollup, &["--batcher.key.path", open_key.path().to_str().unwrap()]),
        DEVNET,
    );
    assert!(e.contains("--batcher.key.path") && e.contains("mode 644"), "{e}");

    let (_, wrong) = batcher_setup(0o600);
    std::fs::write(wrong.path(), DEV_KEY.to_string()).unwrap();
    let e = err(
        sequencer_with_batcher(&rollup, &["--batcher.key.path", wrong.path().to_str().unwrap()]),
        DEVNET,
    );
    assert!(e.contains("is not the rollup's batcher address"), "{e}");
}

#[test]
fn with_an_l1_system_config_a_rotated_batcher_key_is_accepted() {
    // The L1 SystemConfig may name another batcher than the genesis one (setBatcherHash): the
    // batcher checks it on L1 while it runs, so the key is not held to the genesis batcher.
    let system_config = address!("00000000000000000000000000000000000c0f16");
    let (rollup, key) = batcher_setup_with(0o600, system_config);
    std::fs::write(key.path(), DEV_KEY.to_string()).unwrap();
    let args =
        sequencer_with_batcher(&rollup, &["--batcher.key.path", key.path().to_str().unwrap()]);
    let config = build(args, DEVNET).unwrap();
    assert_eq!(config.batcher.unwrap().signer.address(), DEV_ADDRESS);
}

/// anvil's third dev key and its address: the devnet's proposer.
const PROPOSER_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const PROPOSER_ADDRESS: Address = address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");

/// A rollup file (OP Sepolia's, with the devnet's chain id) whose portal is `portal`, and a
/// proposer key file with `mode`.
fn proposer_setup(
    mode: u32,
    portal: Address,
) -> (tempfile::NamedTempFile, tempfile::NamedTempFile) {
    use std::os::unix::fs::PermissionsExt;
    let mut config = kona_registry::ROLLUP_CONFIGS.get(&OP_SEPOLIA).unwrap().clone();
    config.l2_chain_id = DEVNET.into();
    config.deposit_contract_address = portal;
    let mut rollup = tempfile::NamedTempFile::new().unwrap();
    rollup.write_all(serde_json::to_string(&config).unwrap().as_bytes()).unwrap();
    let mut key = tempfile::NamedTempFile::new().unwrap();
    key.write_all(PROPOSER_KEY.as_bytes()).unwrap();
    std::fs::set_permissions(key.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    (rollup, key)
}

fn validator_with(rollup: &tempfile::NamedTempFile, extra: &[&str]) -> KonaArgs {
    let mut args = vec![
        "--kona.config-file",
        rollup.path().to_str().unwrap(),
        "--kona.p2p.unsafe.block.signer",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    ];
    args.extend_from_slice(extra);
    base(&args)
}

#[test]
fn the_proposer_runs_with_its_key_in_either_mode() {
    let portal = address!("1000000000000000000000000000000000000001");
    let (rollup, key) = proposer_setup(0o600, portal);
    let path = key.path().to_str().unwrap();

    let config = build(validator_with(&rollup, &["--proposer.key.path", path]), DEVNET).unwrap();
    let proposer = config.proposer.expect("proposer configured");
    assert_eq!(proposer.signer.address(), PROPOSER_ADDRESS);
    assert_eq!(proposer.args.head, ProposalHeadArg::Finalized, "finalized blocks by default");
    assert_eq!(proposer.args.l2oo_address, None, "the oracle comes from the portal by default");
    assert_eq!(proposer.args.poll_interval(), std::time::Duration::from_secs(6));

    let oracle = "0x2000000000000000000000000000000000000002";
    let args = sequencer_with_batcher(
        &rollup,
        &[
            "--proposer.key.path",
            path,
            "--proposer.head",
            "safe",
            "--proposer.l2oo-address",
            oracle,
        ],
    );
    let proposer = build(args, DEVNET).unwrap().proposer.expect("proposer configured");
    assert_eq!(proposer.args.head, ProposalHeadArg::Safe);
    assert_eq!(proposer.args.l2oo_address, Some(oracle.parse().unwrap()));

    let without = build(validator_with(&rollup, &[]), DEVNET).unwrap();
    assert!(without.proposer.is_none(), "no key, no proposer");
}

#[test]
fn proposer_flags_are_checked_before_the_node_starts() {
    let portal = address!("1000000000000000000000000000000000000001");
    let (rollup, key) = proposer_setup(0o600, portal);
    let path = key.path().to_str().unwrap();
    let e = err(validator_with(&rollup, &["--proposer.head", "safe"]), DEVNET);
    assert!(e.contains("--proposer.key.path"), "{e}");
    let e = err(
        validator_with(&rollup, &["--proposer.key.path", path, "--proposer.poll-interval", "10"]),
        DEVNET,
    );
    assert!(e.contains("--proposer.poll-interval"), "{e}");
    let e = err(
        validator_with(
            &rollup,
            &["--proposer.key.path", path, "--proposer.fee-limit-multiplier", "0"],
        ),
        DEVNET,
    );
    assert!(e.contains("--proposer.fee-limit-multiplier"), "{e}");

    let (readable_rollup, readable_key) = proposer_setup(0o644, portal);
    let e = err(
        validator_with(
            &readable_rollup,
            &["--proposer.key.path", readable_key.path().to_str().unwrap()],
        ),
        DEVNET,
    );
    assert!(e.contains("--proposer.key.path") && e.contains("644"), "{e}");

    // Without a portal in the rollup config the oracle must be named.
    let (no_portal, key) = proposer_setup(0o600, Address::ZERO);
    let path = key.path().to_str().unwrap();
    let e = err(validator_with(&no_portal, &["--proposer.key.path", path]), DEVNET);
    assert!(e.contains("--proposer.l2oo-address"), "{e}");
    let oracle = ["--proposer.l2oo-address", "0x2000000000000000000000000000000000000002"];
    let named = [&["--proposer.key.path", path][..], &oracle[..]].concat();
    assert!(build(validator_with(&no_portal, &named), DEVNET).unwrap().proposer.is_some());
}

#[test]
fn l1_poll_interval_defaults_to_the_slot_time_and_refuses_below_100_ms() {
    let rollup = devnet_rollup_file(DEVNET);
    let default = build(validator_with(&rollup, &[]), DEVNET).unwrap();
    assert_eq!(default.l1_poll_interval, None, "None: the ExEx takes the beacon's slot time");
    let set = build(validator_with(&rollup, &["--kona.l1-poll-interval", "250"]), DEVNET).unwrap();
    assert_eq!(set.l1_poll_interval, Some(std::time::Duration::from_millis(250)));
    let e = err(validator_with(&rollup, &["--kona.l1-poll-interval", "50"]), DEVNET);
    assert!(e.contains("--kona.l1-poll-interval") && e.contains("100 ms"), "{e}");
}
