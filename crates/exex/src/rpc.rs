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
//!
//! `optimism_safeHeadAtL1Block` (op-challenger and proposers call it) is answered from the
//! [`SafeHeadDb`] the engine actor records into, when [`KonaRpcBuilder::safe_heads`] has one;
//! kona 0.1.3 keeps no such record and answers "method not found", as this server does without
//! a database. See [`SAFE_HEAD_AT_L1_BLOCK`] for what it answers.

use alloy_eips::BlockNumberOrTag;
use async_trait::async_trait;
use jsonrpsee::{
    RpcModule,
    core::RegisterMethodError,
    server::{Server, ServerHandle, middleware::http::ProxyGetRequestLayer},
    types::{ErrorObjectOwned, Params},
};
use kona_node_service::{NodeActor, RpcContext};
use kona_rpc::{
    AdminApiServer, AdminRpc, DevEngineApiServer, DevEngineRpc, HealthzResponse, L1WatcherQueries,
    OpP2PApiServer, P2pRpc, RollupNodeApiServer, RollupRpc, RpcBuilder, SafeHeadResponse, WsRPC,
    WsServer,
};
use rollup_safe_head_db::SafeHeadDb;
use std::{sync::Arc, time::Duration};
use tokio::sync::{mpsc, oneshot};
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

/// The safe head once L1 up to a block was derived: `{"l1Block": {hash, number}, "safeHead":
/// {hash, number}}` of the recorded entry with the highest L1 number at or below the one asked
/// for (op-node's rule), or error [`SAFE_HEAD_NOT_FOUND`] when there is none (below the oldest
/// entry kept, or nothing recorded yet).
///
/// op-node takes an L1 block number; kona's signature takes a block number or tag, and so does
/// this server: `earliest` is L1 block 0, `latest` and `pending` answer the newest entry,
/// `safe` and `finalized` look up L1's safe and finalized blocks as the L1 watcher last saw
/// them (so `finalized` gives the safe head derived from final L1 data only).
pub const SAFE_HEAD_AT_L1_BLOCK: &str = "optimism_safeHeadAtL1Block";

/// JSON-RPC error code of [`SAFE_HEAD_AT_L1_BLOCK`] when no entry answers, or the L1 block a
/// tag stands for is not known (the generic server error op-node answers with).
pub const SAFE_HEAD_NOT_FOUND: i32 = -32000;

/// What [`KonaRpcActor`] is built from: kona's RPC server config, and the safe-head database
/// that answers [`SAFE_HEAD_AT_L1_BLOCK`] (kona's handler answers "method not found").
#[derive(Debug, Clone)]
pub struct KonaRpcBuilder {
    /// kona's RPC server config: address, namespaces, restarts.
    pub rpc: RpcBuilder,
    /// Answers [`SAFE_HEAD_AT_L1_BLOCK`] when set.
    pub safe_heads: Option<Arc<SafeHeadDb>>,
}

impl KonaRpcBuilder {
    /// The builder for `rpc`, without a safe-head database.
    pub const fn new(rpc: RpcBuilder) -> Self {
        Self { rpc, safe_heads: None }
    }

    /// Answers [`SAFE_HEAD_AT_L1_BLOCK`] from `db`.
    pub fn with_safe_head_db(mut self, db: Arc<SafeHeadDb>) -> Self {
        self.safe_heads = Some(db);
        self
    }
}

impl From<RpcBuilder> for KonaRpcBuilder {
    fn from(rpc: RpcBuilder) -> Self {
        Self::new(rpc)
    }
}

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
    config: KonaRpcBuilder,
}

impl KonaRpcActor {
    /// The actor for `config`.
    pub const fn new(config: KonaRpcBuilder) -> Self {
        Self { config }
    }
}

/// The module kona's RPC server serves for `builder`, wired to the other actors through
/// `context`.
pub fn rpc_module(
    builder: &KonaRpcBuilder,
    context: &RpcContext,
) -> Result<RpcModule<()>, RegisterMethodError> {
    let config = &builder.rpc;
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
    let mut rollup =
        RollupRpc::new(context.engine_query.clone(), context.l1_watcher_queries.clone()).into_rpc();
    if let Some(db) = &builder.safe_heads {
        rollup.remove_method(SAFE_HEAD_AT_L1_BLOCK);
        module.merge(safe_head_module(db.clone(), context.l1_watcher_queries.clone())?)?;
    }
    module.merge(rollup)?;
    if config.dev_enabled() {
        module.merge(DevEngineRpc::new(context.engine_query.clone()).into_rpc())?;
    }
    if config.ws_enabled() {
        module.merge(WsRPC::new(context.engine_query.clone()).into_rpc())?;
    }
    Ok(module)
}

/// What [`SAFE_HEAD_AT_L1_BLOCK`] reads.
struct SafeHeadRpc {
    db: Arc<SafeHeadDb>,
    l1_watcher: mpsc::Sender<L1WatcherQueries>,
}

/// [`SAFE_HEAD_AT_L1_BLOCK`], answered from `db`.
fn safe_head_module(
    db: Arc<SafeHeadDb>,
    l1_watcher: mpsc::Sender<L1WatcherQueries>,
) -> Result<RpcModule<SafeHeadRpc>, RegisterMethodError> {
    let mut module = RpcModule::new(SafeHeadRpc { db, l1_watcher });
    module.register_async_method(SAFE_HEAD_AT_L1_BLOCK, |params, rpc, _| async move {
        safe_head_at_l1_block(params, &rpc).await
    })?;
    Ok(module)
}

async fn safe_head_at_l1_block(
    params: Params<'static>,
    rpc: &SafeHeadRpc,
) -> Result<SafeHeadResponse, ErrorObjectOwned> {
    let block: BlockNumberOrTag = params.one()?;
    let entry = match block {
        BlockNumberOrTag::Number(number) => rpc.db.safe_head_at(number),
        BlockNumberOrTag::Earliest => rpc.db.safe_head_at(0),
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => rpc.db.latest(),
        BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => {
            let (tx, rx) = oneshot::channel();
            let unavailable = || server_error("the L1 watcher is not available");
            rpc.l1_watcher.send(L1WatcherQueries::L1State(tx)).await.map_err(|_| unavailable())?;
            let l1 = rx.await.map_err(|_| unavailable())?;
            let label = if block == BlockNumberOrTag::Safe { l1.safe_l1 } else { l1.finalized_l1 };
            let number = label
                .ok_or_else(|| server_error(format!("L1 {block} block not known yet")))?
                .number;
            rpc.db.safe_head_at(number)
        }
    };
    let entry = entry.ok_or_else(|| {
        let oldest = match rpc.db.earliest() {
            Some(oldest) => format!("the oldest entry is for L1 block {}", oldest.l1_block.number),
            None => "nothing is recorded yet".to_owned(),
        };
        let asked = match block {
            BlockNumberOrTag::Number(number) => number.to_string(),
            tag => tag.to_string(),
        };
        server_error(format!("safe head not found for L1 block {asked}: {oldest}"))
    })?;
    Ok(SafeHeadResponse { l1_block: entry.l1_block, safe_head: entry.safe_head })
}

fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SAFE_HEAD_NOT_FOUND, message, None::<()>)
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
    type Builder = KonaRpcBuilder;

    fn build(config: Self::Builder) -> (Self::InboundData, Self) {
        ((), Self::new(config))
    }

    async fn start(self, context: Self::OutboundData) -> Result<(), Self::Error> {
        let module = rpc_module(&self.config, &context)?;
        let config = &self.config.rpc;
        let mut handle = launch(config, module.clone()).await?;
        let restarts = config.restart_count();
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
                    handle = launch(config, module.clone()).await?;
                }
            }
        }
    }
}
