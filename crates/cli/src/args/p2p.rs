//! `--kona.p2p.*`: consensus-layer networking (unsafe block gossip over libp2p, discv5 discovery).
//!
//! Defaults follow kona-node 1.0.0-rc.1 (the binary released with kona-node-service 0.1.3), which
//! itself follows op-node.

use alloy_primitives::{Address, B256};
use clap::{Args, ValueEnum};
use discv5::Enr;
use kona_peers::PeerScoreLevel;
use std::{net::IpAddr, path::PathBuf};
use url::Url;

/// P2P arguments.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct P2pArgs {
    /// Do not look for peers: discv5 admits no node into its table (bootnodes included) and
    /// schedules no queries. Peers then come only from --kona.p2p.static-peers, inbound
    /// connections and kona's bootstore of earlier runs.
    #[arg(
        id = "kona.p2p.no-discovery",
        long = "kona.p2p.no-discovery",
        env = "KONA_NODE_P2P_NO_DISCOVERY"
    )]
    pub no_discovery: bool,

    /// File holding the hex-encoded 32-byte secp256k1 key of the node's P2P identity. Created
    /// (mode 0600) when missing, so the identity survives restarts.
    #[arg(
        id = "kona.p2p.priv.path",
        long = "kona.p2p.priv.path",
        value_name = "PATH",
        env = "KONA_NODE_P2P_PRIV_PATH"
    )]
    pub priv_path: Option<PathBuf>,

    /// The hex-encoded 32-byte secp256k1 key of the node's P2P identity.
    #[arg(
        id = "kona.p2p.priv.raw",
        long = "kona.p2p.priv.raw",
        value_name = "HEX",
        env = "KONA_NODE_P2P_PRIV_RAW"
    )]
    pub priv_raw: Option<B256>,

    /// IP advertised to peers. Setting it pins the ENR (no dynamic updates, e.g. behind NAT);
    /// defaults to the listen IP.
    #[arg(
        id = "kona.p2p.advertise.ip",
        long = "kona.p2p.advertise.ip",
        value_name = "IP",
        env = "KONA_NODE_P2P_ADVERTISE_IP"
    )]
    pub advertise_ip: Option<IpAddr>,

    /// TCP port advertised to peers; 0 means the listen TCP port.
    #[arg(
        id = "kona.p2p.advertise.tcp",
        long = "kona.p2p.advertise.tcp",
        value_name = "PORT",
        default_value_t = 0,
        env = "KONA_NODE_P2P_ADVERTISE_TCP_PORT"
    )]
    pub advertise_tcp_port: u16,

    /// UDP port advertised to peers; 0 means the listen UDP port.
    #[arg(
        id = "kona.p2p.advertise.udp",
        long = "kona.p2p.advertise.udp",
        value_name = "PORT",
        default_value_t = 0,
        env = "KONA_NODE_P2P_ADVERTISE_UDP_PORT"
    )]
    pub advertise_udp_port: u16,

    /// IP that libp2p and discv5 bind to.
    #[arg(
        id = "kona.p2p.listen.ip",
        long = "kona.p2p.listen.ip",
        value_name = "IP",
        default_value = "0.0.0.0",
        env = "KONA_NODE_P2P_LISTEN_IP"
    )]
    pub listen_ip: IpAddr,

    /// TCP port of libp2p gossip. reth's devp2p keeps 30303.
    #[arg(
        id = "kona.p2p.listen.tcp",
        long = "kona.p2p.listen.tcp",
        value_name = "PORT",
        default_value_t = 9222,
        env = "KONA_NODE_P2P_LISTEN_TCP_PORT"
    )]
    pub listen_tcp_port: u16,

    /// UDP port of discv5 discovery.
    #[arg(
        id = "kona.p2p.listen.udp",
        long = "kona.p2p.listen.udp",
        value_name = "PORT",
        default_value_t = 9223,
        env = "KONA_NODE_P2P_LISTEN_UDP_PORT"
    )]
    pub listen_udp_port: u16,

    /// Low-tide peer count: below it the node actively looks for peers.
    #[arg(
        id = "kona.p2p.peers.lo",
        long = "kona.p2p.peers.lo",
        value_name = "N",
        default_value_t = 20,
        env = "KONA_NODE_P2P_PEERS_LO"
    )]
    pub peers_lo: u32,

    /// High-tide peer count: above it the node slowly prunes peers.
    #[arg(
        id = "kona.p2p.peers.hi",
        long = "kona.p2p.peers.hi",
        value_name = "N",
        default_value_t = 30,
        env = "KONA_NODE_P2P_PEERS_HI"
    )]
    pub peers_hi: u32,

    /// Seconds a newly connected, well-behaved peer is kept regardless of pruning.
    #[arg(
        id = "kona.p2p.peers.grace",
        long = "kona.p2p.peers.grace",
        value_name = "SECONDS",
        default_value_t = 30,
        env = "KONA_NODE_P2P_PEERS_GRACE"
    )]
    pub peers_grace_secs: u64,

    /// GossipSub mesh target degree (D).
    #[arg(
        id = "kona.p2p.gossip.mesh.d",
        long = "kona.p2p.gossip.mesh.d",
        value_name = "N",
        default_value_t = 8,
        env = "KONA_NODE_P2P_GOSSIP_MESH_D"
    )]
    pub gossip_mesh_d: usize,

    /// GossipSub mesh low watermark (D_lo).
    #[arg(
        id = "kona.p2p.gossip.mesh.lo",
        long = "kona.p2p.gossip.mesh.lo",
        value_name = "N",
        default_value_t = 6,
        env = "KONA_NODE_P2P_GOSSIP_MESH_DLO"
    )]
    pub gossip_mesh_dlo: usize,

    /// GossipSub mesh high watermark (D_hi).
    #[arg(
        id = "kona.p2p.gossip.mesh.dhi",
        long = "kona.p2p.gossip.mesh.dhi",
        value_name = "N",
        default_value_t = 12,
        env = "KONA_NODE_P2P_GOSSIP_MESH_DHI"
    )]
    pub gossip_mesh_dhi: usize,

    /// GossipSub gossip-only degree (D_lazy, IHAVE announcements).
    #[arg(
        id = "kona.p2p.gossip.mesh.dlazy",
        long = "kona.p2p.gossip.mesh.dlazy",
        value_name = "N",
        default_value_t = 6,
        env = "KONA_NODE_P2P_GOSSIP_MESH_DLAZY"
    )]
    pub gossip_mesh_dlazy: usize,

    /// Publish to every known peer on the topic, not only the mesh.
    #[arg(
        id = "kona.p2p.gossip.mesh.floodpublish",
        long = "kona.p2p.gossip.mesh.floodpublish",
        env = "KONA_NODE_P2P_GOSSIP_FLOOD_PUBLISH"
    )]
    pub gossip_flood_publish: bool,

    /// Peer scoring level.
    #[arg(
        id = "kona.p2p.scoring",
        long = "kona.p2p.scoring",
        value_name = "LEVEL",
        default_value = "light",
        env = "KONA_NODE_P2P_SCORING"
    )]
    pub scoring: ScoringLevel,

    /// Score peers per topic (legacy op-node behaviour, for debugging).
    #[arg(
        id = "kona.p2p.topic-scoring",
        long = "kona.p2p.topic-scoring",
        env = "KONA_NODE_P2P_TOPIC_SCORING"
    )]
    pub topic_scoring: bool,

    /// Ban peers whose score falls below --kona.p2p.ban.threshold.
    #[arg(id = "kona.p2p.ban.peers", long = "kona.p2p.ban.peers", env = "KONA_NODE_P2P_BAN_PEERS")]
    pub ban_peers: bool,

    /// Score below which a peer is banned (with --kona.p2p.ban.peers).
    #[arg(
        id = "kona.p2p.ban.threshold", long = "kona.p2p.ban.threshold",
        value_name = "SCORE",
        default_value_t = -100,
        allow_negative_numbers = true,
        env = "KONA_NODE_P2P_BAN_THRESHOLD"
    )]
    pub ban_threshold: i64,

    /// Ban duration in minutes (with --kona.p2p.ban.peers).
    #[arg(
        id = "kona.p2p.ban.duration",
        long = "kona.p2p.ban.duration",
        value_name = "MINUTES",
        default_value_t = 60,
        env = "KONA_NODE_P2P_BAN_DURATION"
    )]
    pub ban_duration_mins: u64,

    /// Seconds between discovery queries for new peers.
    #[arg(
        id = "kona.p2p.discovery.interval",
        long = "kona.p2p.discovery.interval",
        value_name = "SECONDS",
        default_value_t = 5,
        env = "KONA_NODE_P2P_DISCOVERY_INTERVAL"
    )]
    pub discovery_interval_secs: u64,

    /// Seconds after which a random peer is dropped from discovery to rotate the peer set;
    /// disabled when not given.
    #[arg(
        id = "kona.p2p.discovery.randomize",
        long = "kona.p2p.discovery.randomize",
        value_name = "SECONDS",
        env = "KONA_NODE_P2P_DISCOVERY_RANDOMIZE"
    )]
    pub discovery_randomize_secs: Option<u64>,

    /// Directory of the bootstore (known peers persisted across restarts).
    #[arg(
        id = "kona.p2p.bootstore",
        long = "kona.p2p.bootstore",
        value_name = "DIR",
        env = "KONA_NODE_P2P_BOOTSTORE"
    )]
    pub bootstore: Option<PathBuf>,

    /// Bootnode ENRs, comma separated.
    #[arg(
        id = "kona.p2p.bootnodes",
        long = "kona.p2p.bootnodes",
        value_name = "ENR",
        value_delimiter = ',',
        env = "KONA_NODE_P2P_BOOTNODES"
    )]
    pub bootnodes: Vec<Enr>,

    /// Peers to stay connected to, comma separated libp2p multiaddrs with a peer id
    /// (`/ip4/127.0.0.1/tcp/9222/p2p/16Uiu2…`): dialled at start and again while disconnected,
    /// with or without discovery.
    #[arg(
        id = "kona.p2p.static-peers",
        long = "kona.p2p.static-peers",
        value_name = "MULTIADDR",
        value_delimiter = ',',
        env = "KONA_NODE_P2P_STATIC_PEERS"
    )]
    pub static_peers: Vec<libp2p::Multiaddr>,

    /// How many times a disconnected peer is redialed; 0 redials forever.
    #[arg(
        id = "kona.p2p.redial",
        long = "kona.p2p.redial",
        value_name = "N",
        default_value_t = 500,
        env = "KONA_NODE_P2P_REDIAL"
    )]
    pub redial: u64,

    /// Minutes after which a peer's dial count resets.
    #[arg(
        id = "kona.p2p.redial.period",
        long = "kona.p2p.redial.period",
        value_name = "MINUTES",
        default_value_t = 60,
        env = "KONA_NODE_P2P_REDIAL_PERIOD"
    )]
    pub redial_period_mins: u64,

    /// Address whose signature unsafe blocks must carry. Defaults to the superchain registry's
    /// value for the chain, or, in sequencer mode, to the sequencer key's address.
    #[arg(
        id = "kona.p2p.unsafe.block.signer",
        long = "kona.p2p.unsafe.block.signer",
        value_name = "ADDRESS",
        env = "KONA_NODE_P2P_UNSAFE_BLOCK_SIGNER"
    )]
    pub unsafe_block_signer: Option<Address>,

    /// How this node signs the unsafe blocks it produces (sequencer mode).
    #[command(flatten)]
    pub signer: SignerArgs,
}

impl Default for P2pArgs {
    fn default() -> Self {
        Self {
            no_discovery: false,
            priv_path: None,
            priv_raw: None,
            advertise_ip: None,
            advertise_tcp_port: 0,
            advertise_udp_port: 0,
            listen_ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            listen_tcp_port: 9222,
            listen_udp_port: 9223,
            peers_lo: 20,
            peers_hi: 30,
            peers_grace_secs: 30,
            gossip_mesh_d: 8,
            gossip_mesh_dlo: 6,
            gossip_mesh_dhi: 12,
            gossip_mesh_dlazy: 6,
            gossip_flood_publish: false,
            scoring: ScoringLevel::Light,
            topic_scoring: false,
            ban_peers: false,
            ban_threshold: -100,
            ban_duration_mins: 60,
            discovery_interval_secs: 5,
            discovery_randomize_secs: None,
            bootstore: None,
            bootnodes: Vec::new(),
            static_peers: Vec::new(),
            redial: 500,
            redial_period_mins: 60,
            unsafe_block_signer: None,
            signer: SignerArgs::default(),
        }
    }
}

/// How peers are scored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScoringLevel {
    /// No peer scoring.
    Off,
    /// op-node's light scoring profile.
    #[default]
    Light,
}

impl From<ScoringLevel> for PeerScoreLevel {
    fn from(level: ScoringLevel) -> Self {
        match level {
            ScoringLevel::Off => Self::Off,
            ScoringLevel::Light => Self::Light,
        }
    }
}

/// Unsafe-block signing: a local sequencer key, or a remote signer (op-signer protocol).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct SignerArgs {
    /// Hex-encoded secp256k1 key with which the sequencer signs the unsafe blocks it gossips.
    #[arg(
        id = "kona.p2p.sequencer.key",
        long = "kona.p2p.sequencer.key",
        value_name = "HEX",
        env = "KONA_NODE_P2P_SEQUENCER_KEY",
        conflicts_with = "kona.p2p.signer.endpoint"
    )]
    pub sequencer_key: Option<B256>,

    /// File holding the hex-encoded sequencer key (keeps the key out of the process list).
    #[arg(
        id = "kona.p2p.sequencer.key.path", long = "kona.p2p.sequencer.key.path",
        value_name = "PATH",
        env = "KONA_NODE_P2P_SEQUENCER_KEY_PATH",
        conflicts_with_all = ["kona.p2p.sequencer.key", "kona.p2p.signer.endpoint"]
    )]
    pub sequencer_key_path: Option<PathBuf>,

    /// Remote signer endpoint; excludes a local sequencer key.
    #[arg(
        id = "kona.p2p.signer.endpoint",
        long = "kona.p2p.signer.endpoint",
        value_name = "URL",
        env = "KONA_NODE_P2P_SIGNER_ENDPOINT",
        requires = "kona.p2p.signer.address"
    )]
    pub signer_endpoint: Option<Url>,

    /// Address the remote signer signs for.
    #[arg(
        id = "kona.p2p.signer.address",
        long = "kona.p2p.signer.address",
        value_name = "ADDRESS",
        env = "KONA_NODE_P2P_SIGNER_ADDRESS",
        requires = "kona.p2p.signer.endpoint"
    )]
    pub signer_address: Option<Address>,

    /// Header sent to the remote signer, as key=value; repeat the flag for more.
    #[arg(
        id = "kona.p2p.signer.header",
        long = "kona.p2p.signer.header",
        value_name = "KEY=VALUE",
        env = "KONA_NODE_P2P_SIGNER_HEADER",
        requires = "kona.p2p.signer.endpoint"
    )]
    pub signer_headers: Vec<String>,

    /// CA certificate that authenticates the remote signer.
    #[arg(
        id = "kona.p2p.signer.tls.ca",
        long = "kona.p2p.signer.tls.ca",
        value_name = "PATH",
        env = "KONA_NODE_P2P_SIGNER_TLS_CA",
        requires = "kona.p2p.signer.endpoint"
    )]
    pub signer_tls_ca: Option<PathBuf>,

    /// Client certificate presented to the remote signer (with --kona.p2p.signer.tls.key).
    #[arg(
        id = "kona.p2p.signer.tls.cert", long = "kona.p2p.signer.tls.cert",
        value_name = "PATH",
        env = "KONA_NODE_P2P_SIGNER_TLS_CERT",
        requires_all = ["kona.p2p.signer.tls.key", "kona.p2p.signer.endpoint"]
    )]
    pub signer_tls_cert: Option<PathBuf>,

    /// Client key presented to the remote signer (with --kona.p2p.signer.tls.cert).
    #[arg(
        id = "kona.p2p.signer.tls.key", long = "kona.p2p.signer.tls.key",
        value_name = "PATH",
        env = "KONA_NODE_P2P_SIGNER_TLS_KEY",
        requires_all = ["kona.p2p.signer.tls.cert", "kona.p2p.signer.endpoint"]
    )]
    pub signer_tls_key: Option<PathBuf>,
}

impl SignerArgs {
    /// Whether any way of signing unsafe blocks was given.
    pub const fn has_signer(&self) -> bool {
        self.sequencer_key.is_some()
            || self.sequencer_key_path.is_some()
            || self.signer_endpoint.is_some()
    }
}
