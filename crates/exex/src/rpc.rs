//! [`KonaRpcActor`]: kona's JSON-RPC server with the namespaces an operator chose, and nothing else.
//!
//! kona-node-service 0.1.3's `RpcActor` merges the `admin_*` namespace whatever `enable_admin`
//! says, so anyone who reaches the port can stop the sequencer (`admin_stopSequencer`) or push a
//! payload into the engine (`admin_postUnsafePayload`). This actor builds the same module from
//! kona's own RPC types, but only with the namespaces its [`RpcBuilder`] enables:
//!
//! | namespace | served | allows |
//! |---|---|---|
//! | `healthz`, `optimism_*` | always | reading: sync status, output roots, rollup config |
//! | `opp2p_*` reads | always | reading: own peer id, peers, scores, discovery table, block lists |
//! | `opp2p_*` changes | with admin | block/unblock peers, addresses and subnets, protect, connect, disconnect |
//! | `admin_*` | with admin | start/stop the sequencer, post an unsafe payload, recover mode, leader override |
//! | `dev_*` | with dev | engine queue introspection |
//! | `ws_*` | with ws | streams of the engine's heads |
//!
//! The `opp2p_*` methods that change peering go behind the admin flag: cutting a node off from
//! gossip is an admin action whoever asks for it.

use async_trait::async_trait;
use jsonrpsee::{
    RpcModule,
    core::RegisterMethodError,
    server::{Server, ServerHandle, middleware::http::ProxyGetRequestLayer},
};
use kona_node_service::{NodeActor, RpcContext};
use kona_rpc::{
    AdminApiServer, AdminRpc, DevEngineApiServer, DevEngineRpc, HealthzResponse, OpP2PApiServer,
    P2pRpc, RollupNodeApiServer, RollupRpc, RpcBuilder, WsRPC, WsServer,
};
use std::time::Duration;
use tracing::{error, info};

/// The `opp2p_*` methods served without the admin namespace: the ones that only read. Every other
/// method of kona's p2p module (blocking, unblocking, protecting, connecting and disconnecting
/// peers, addresses and subnets) is served only with it. An allowlist, so that a method kona adds
/// or names unexpectedly (0.1.3 serves `opp2p_blocAddr` for its `opp2p_block_addr` method) is
/// locked down too.
pub const P2P_READ_METHODS: [&str; 8] = [
    "opp2p_self",
    "opp2p_peerCount",
    "opp2p_peers",
    "opp2p_peerStats",
    "opp2p_discoveryTable",
    "opp2p_listBlockedPeers",
    "opp2p_listBlockedAddrs",
    "opp2p_listBlockedSubnets",
];

/// How long one request may take before the server answers with an error (kona's value).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Why kona's RPC server stopped.
#[derive(Debug, thiserror::Error)]
pub enum RpcServerError {
    /// A method could not be registered (two modules with the same method name).
    #[error("kona RPC: registering a method: {0}")]
    Register(#[from] RegisterMethodError),
    /// The `GET /healthz` route could not be set up.
    #[error("kona RPC: healthz route: {0}")]
    Healthz(#[from] jsonrpsee::server::middleware::http::ProxyGetRequestError),
    /// The server could not bind or start.
    #[error("kona RPC: cannot serve on {socket}: {source}")]
    Launch {
        /// The address it tried.
        socket: std::net::SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// The server stopped more often than it may restart.
    #[error("kona RPC server stopped {0} times; not restarted again")]
    Stopped(u32),
    /// The server could not be stopped.
    #[error("kona RPC server did not stop")]
    StopFailed,
}

/// kona's RPC server, built with only the namespaces its config enables (see the module docs).
#[derive(Debug)]
pub struct KonaRpcActor {
    config: RpcBuilder,
}

impl KonaRpcActor {
    /// The actor for `config`.
    pub const fn new(config: RpcBuilder) -> Self {
        Self { config }
    }
}

/// The module kona's RPC server serves for `config`, wired to the other actors through `context`.
pub fn rpc_module(
    config: &RpcBuilder,
    context: &RpcContext,
) -> Result<RpcModule<()>, RegisterMethodError> {
    let mut module = RpcModule::new(());
    module.register_method("healthz", |_, _, _| {
        jsonrpsee::core::RpcResult::Ok(HealthzResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
    })?;

    let mut p2p = P2pRpc::new(context.p2p_network.clone()).into_rpc();
    if !config.enable_admin {
        let changes: Vec<&'static str> =
            p2p.method_names().filter(|name| !P2P_READ_METHODS.contains(name)).collect();
        for method in changes {
            p2p.remove_method(method);
        }
    }
    module.merge(p2p)?;

    if config.enable_admin {
        module.merge(
            AdminRpc {
                sequencer_sender: context.sequencer_admin.clone(),
                network_sender: context.network_admin.clone(),
            }
            .into_rpc(),
        )?;
    }
    module.merge(
        RollupRpc::new(context.engine_query.clone(), context.l1_watcher_queries.clone()).into_rpc(),
    )?;
    if config.dev_enabled() {
        module.merge(DevEngineRpc::new(context.engine_query.clone()).into_rpc())?;
    }
    if config.ws_enabled() {
        module.merge(WsRPC::new(context.engine_query.clone()).into_rpc())?;
    }
    Ok(module)
}

async fn launch(
    config: &RpcBuilder,
    module: RpcModule<()>,
) -> Result<ServerHandle, RpcServerError> {
    let socket = config.socket();
    let launch_error = |source| RpcServerError::Launch { socket, source };
    // `GET /healthz` answers like the `healthz` method, for load balancers.
    let health = ProxyGetRequestLayer::new([("/healthz", "healthz")])?;
    let middleware = tower::ServiceBuilder::new().layer(health).timeout(REQUEST_TIMEOUT);
    let server = Server::builder()
        .set_http_middleware(middleware)
        .build(socket)
        .await
        .map_err(launch_error)?;
    let bound = server.local_addr().map_err(launch_error)?;
    info!(target: "kona_exex::rpc", addr = %bound, admin = config.enable_admin, dev = config.dev_enabled(), ws = config.ws_enabled(), "kona RPC server listening");
    Ok(server.start(module))
}

#[async_trait]
impl NodeActor for KonaRpcActor {
    type Error = RpcServerError;
    type OutboundData = RpcContext;
    type InboundData = ();
    type Builder = RpcBuilder;

    fn build(config: Self::Builder) -> (Self::InboundData, Self) {
        ((), Self::new(config))
    }

    async fn start(self, context: Self::OutboundData) -> Result<(), Self::Error> {
        let module = rpc_module(&self.config, &context)?;
        let mut handle = launch(&self.config, module.clone()).await?;
        let restarts = self.config.restart_count();
        let mut stopped = 0;
        loop {
            tokio::select! {
                _ = context.cancellation.cancelled() => {
                    handle.stop().map_err(|_| RpcServerError::StopFailed)?;
                    return Ok(());
                }
                _ = handle.clone().stopped() => {
                    stopped += 1;
                    if stopped > restarts {
                        return Err(RpcServerError::Stopped(stopped));
                    }
                    error!(target: "kona_exex::rpc", stopped, restarts, "kona RPC server stopped; starting it again");
                    handle = launch(&self.config, module.clone()).await?;
                }
            }
        }
    }
}
