//! `--kona.rpc.*`: kona's JSON-RPC server.

use clap::Args;
use kona_rpc::RpcBuilder;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

/// Default port of the kona RPC server. kona-node uses 9545; in-process it moves to 9546 so it
/// never meets reth's HTTP (8545), WS (8546) or auth (8551) ports, nor a kona-node left running
/// on the same host during a migration.
pub const DEFAULT_KONA_RPC_PORT: u16 = 9546;

/// kona RPC server arguments.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct RpcArgs {
    /// Do not start the kona RPC server.
    #[arg(id = "kona.rpc.disabled", long = "kona.rpc.disabled", env = "KONA_NODE_RPC_DISABLED")]
    pub disabled: bool,

    /// Do not restart the kona RPC server when it stops.
    #[arg(
        id = "kona.rpc.no-restart",
        long = "kona.rpc.no-restart",
        env = "KONA_NODE_RPC_NO_RESTART"
    )]
    pub no_restart: bool,

    /// Address the kona RPC server listens on. Loopback by default: whoever reaches the port can
    /// read the node's sync status and peers, and with `--kona.rpc.enable-admin` also steer it.
    #[arg(
        id = "kona.rpc.addr", long = "kona.rpc.addr",
        value_name = "IP",
        default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST),
        env = "KONA_NODE_RPC_ADDR"
    )]
    pub addr: IpAddr,

    /// Port the kona RPC server listens on.
    #[arg(
        id = "kona.rpc.port", long = "kona.rpc.port",
        value_name = "PORT",
        default_value_t = DEFAULT_KONA_RPC_PORT,
        env = "KONA_NODE_RPC_PORT"
    )]
    pub port: u16,

    /// Serve the admin_* namespace (start and stop the sequencer, post an unsafe payload into
    /// the engine, recover mode, leader override) and the opp2p_* methods that change peering
    /// (block, unblock, protect, connect, disconnect). Without it those methods do not exist
    /// ("method not found"); optimism_*, the read-only opp2p_* methods and healthz are always
    /// served.
    #[arg(
        id = "kona.rpc.enable-admin",
        long = "kona.rpc.enable-admin",
        env = "KONA_NODE_RPC_ENABLE_ADMIN"
    )]
    pub enable_admin: bool,

    /// File in which admin-API state changes are persisted across restarts.
    #[arg(
        id = "kona.rpc.admin-state",
        long = "kona.rpc.admin-state",
        value_name = "PATH",
        env = "KONA_NODE_RPC_ADMIN_STATE"
    )]
    pub admin_state: Option<PathBuf>,

    /// Serve ws_* subscriptions streaming the engine's heads (read-only).
    #[arg(id = "kona.rpc.ws", long = "kona.rpc.ws", env = "KONA_NODE_RPC_WS_ENABLED")]
    pub ws: bool,

    /// Serve the dev_* namespace (engine task queue introspection, read-only).
    #[arg(id = "kona.rpc.dev", long = "kona.rpc.dev", env = "KONA_NODE_RPC_DEV_ENABLED")]
    pub dev: bool,
}

impl Default for RpcArgs {
    fn default() -> Self {
        Self {
            disabled: false,
            no_restart: false,
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_KONA_RPC_PORT,
            enable_admin: false,
            admin_state: None,
            ws: false,
            dev: false,
        }
    }
}

impl RpcArgs {
    /// The socket the RPC server binds.
    pub const fn socket(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    /// kona's RPC configuration; `None` when the server is disabled.
    pub fn rpc_builder(&self) -> Option<RpcBuilder> {
        (!self.disabled).then(|| RpcBuilder {
            no_restart: self.no_restart,
            socket: self.socket(),
            enable_admin: self.enable_admin,
            admin_persistence: self.admin_state.clone(),
            ws_enabled: self.ws,
            dev_enabled: self.dev,
        })
    }
}
