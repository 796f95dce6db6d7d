//! [`LocalCelestiaNode`]: a Celestia-compatible DA node on loopback; see the crate docs.

use crate::CelestiaError;
use celestia_rpc::{BlobRpcServer, HeaderRpcServer, TxConfig};
use celestia_types::{
    Blob, Commitment, ExtendedHeader, SyncState,
    hash::Hash,
    nmt::{Namespace, NamespaceProof},
    test_utils::ExtendedHeaderGenerator,
};
use jsonrpsee::{
    RpcModule,
    core::{RpcResult, async_trait},
    server::{Server, ServerHandle},
    types::{ErrorObject, ErrorObjectOwned},
};
use parking_lot::Mutex;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// File of the blob store inside the data directory.
const STORE_FILE: &str = "celestia-blobs.json";

/// How the local node runs.
#[derive(Debug, Clone)]
pub struct LocalNodeConfig {
    /// Where its JSON-RPC listens (port 0: any free port).
    pub listen: SocketAddr,
    /// Time between its blocks.
    pub block_time: Duration,
    /// Where blobs are kept across restarts (`None`: in memory only).
    pub data_dir: Option<PathBuf>,
}

/// Blocks, blobs and the header generator of the local chain.
struct Chain {
    generator: ExtendedHeaderGenerator,
    /// Headers from `first_height` on (earlier ones were made before a restart).
    headers: Vec<ExtendedHeader>,
    first_height: u64,
    /// Blobs by height.
    blobs: BTreeMap<u64, Vec<Blob>>,
    /// Blobs going into the next block.
    pending: Vec<Blob>,
}

impl Chain {
    fn head_height(&self) -> u64 {
        self.headers.last().map_or(self.first_height.saturating_sub(1), ExtendedHeader::height)
    }
}

struct Shared {
    chain: Mutex<Chain>,
    head: watch::Sender<u64>,
    store: Option<PathBuf>,
}

/// A running local node; see the crate docs. Dropping it stops it.
#[derive(Debug)]
pub struct LocalCelestiaNode {
    addr: SocketAddr,
    server: ServerHandle,
    cancel: CancellationToken,
}

impl LocalCelestiaNode {
    /// Loads the blob store (if any), binds the RPC and starts making blocks.
    pub async fn start(config: LocalNodeConfig) -> Result<Self, CelestiaError> {
        if let Some(dir) = &config.data_dir {
            std::fs::create_dir_all(dir).map_err(|e| CelestiaError::Store {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
        }
        let store = config.data_dir.as_ref().map(|dir| dir.join(STORE_FILE));
        let blobs = match &store {
            Some(path) => load(path)?,
            None => BTreeMap::new(),
        };
        // Heights continue after the stored ones; headers restart with a new local validator key.
        let first_height = blobs.keys().next_back().map_or(1, |h| h + 1);
        let chain = Chain {
            generator: ExtendedHeaderGenerator::new_from_height(first_height),
            headers: Vec::new(),
            first_height,
            blobs,
            pending: Vec::new(),
        };
        let (head, _) = watch::channel(first_height.saturating_sub(1));
        let shared = Arc::new(Shared { chain: Mutex::new(chain), head, store });

        let server = Server::builder()
            .build(config.listen)
            .await
            .map_err(|e| CelestiaError::Server(format!("bind {}: {e}", config.listen)))?;
        let addr = server.local_addr().map_err(|e| CelestiaError::Server(e.to_string()))?;
        let mut module = RpcModule::new(());
        module
            .merge(BlobRpcServer::into_rpc(NodeRpc(shared.clone())))
            .and_then(|()| module.merge(HeaderRpcServer::into_rpc(NodeRpc(shared.clone()))))
            .map_err(|e| CelestiaError::Server(e.to_string()))?;
        let server = server.start(module);

        let cancel = CancellationToken::new();
        tokio::spawn(produce_blocks(shared, config.block_time, cancel.clone()));
        info!(target: "sequencer::celestia", %addr, block_time_ms = config.block_time.as_millis() as u64, first_height, "local celestia node started");
        Ok(Self { addr, server, cancel })
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its bound address.
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops making blocks and serving.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.server.stop();
        self.server.clone().stopped().await;
    }
}

impl Drop for LocalCelestiaNode {
    fn drop(&mut self) {
        self.cancel.cancel();
        let _ = self.server.stop();
    }
}

async fn produce_blocks(shared: Arc<Shared>, block_time: Duration, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(block_time.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (height, snapshot) = {
            let mut chain = shared.chain.lock();
            let header = chain.generator.next_empty();
            let height = header.height();
            let pending = std::mem::take(&mut chain.pending);
            let snapshot = (!pending.is_empty()).then(|| {
                chain.blobs.insert(height, pending);
                chain.blobs.clone()
            });
            chain.headers.push(header);
            (height, snapshot)
        };
        if let (Some(blobs), Some(path)) = (snapshot, &shared.store)
            && let Err(e) = save(path, &blobs)
        {
            warn!(target: "sequencer::celestia", %e, "local celestia node could not persist its blobs");
        }
        shared.head.send_replace(height);
    }
}

fn load(path: &Path) -> Result<BTreeMap<u64, Vec<Blob>>, CelestiaError> {
    let store =
        |message: String| CelestiaError::Store { path: path.display().to_string(), message };
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| store(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(store(e.to_string())),
    }
}

fn save(path: &Path, blobs: &BTreeMap<u64, Vec<Blob>>) -> Result<(), CelestiaError> {
    let store =
        |message: String| CelestiaError::Store { path: path.display().to_string(), message };
    let json = serde_json::to_vec(blobs).map_err(|e| store(e.to_string()))?;
    rollup_fs::replace(path, &json, 0o644).map_err(|e| store(e.to_string()))
}

/// The node's JSON-RPC handlers.
struct NodeRpc(Arc<Shared>);

fn rpc_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(1, message.into(), None::<()>)
}

impl NodeRpc {
    async fn wait_for(&self, height: u64) -> RpcResult<()> {
        let mut head = self.0.head.subscribe();
        head.wait_for(|head| *head >= height)
            .await
            .map(|_| ())
            .map_err(|_| rpc_error("local celestia node stopped"))
    }

    fn header_at(&self, height: u64) -> RpcResult<ExtendedHeader> {
        let chain = self.0.chain.lock();
        if height > chain.head_height() {
            return Err(rpc_error(format!(
                "header: given height {height} is from the future (head {})",
                chain.head_height()
            )));
        }
        height
            .checked_sub(chain.first_height)
            .and_then(|index| chain.headers.get(index as usize))
            .cloned()
            .ok_or_else(|| {
                rpc_error(format!("header: height {height} predates this node's restart"))
            })
    }
}

#[async_trait]
impl BlobRpcServer for NodeRpc {
    async fn blob_get(
        &self,
        height: u64,
        namespace: Namespace,
        commitment: Commitment,
    ) -> RpcResult<Blob> {
        let chain = self.0.chain.lock();
        chain
            .blobs
            .get(&height)
            .and_then(|blobs| {
                blobs.iter().find(|b| b.namespace == namespace && b.commitment == commitment)
            })
            .cloned()
            .ok_or_else(|| rpc_error("blob: not found"))
    }

    async fn blob_get_all(
        &self,
        height: u64,
        namespaces: Vec<Namespace>,
    ) -> RpcResult<Option<Vec<Blob>>> {
        self.wait_for(height).await?;
        let chain = self.0.chain.lock();
        let found: Vec<Blob> = chain
            .blobs
            .get(&height)
            .map(|blobs| {
                blobs.iter().filter(|b| namespaces.contains(&b.namespace)).cloned().collect()
            })
            .unwrap_or_default();
        Ok((!found.is_empty()).then_some(found))
    }

    async fn blob_get_proof(
        &self,
        _height: u64,
        _namespace: Namespace,
        _commitment: Commitment,
    ) -> RpcResult<Vec<NamespaceProof>> {
        Err(rpc_error("blob.GetProof is not served by the local celestia node"))
    }

    async fn blob_included(
        &self,
        _height: u64,
        _namespace: Namespace,
        _proof: NamespaceProof,
        _commitment: Commitment,
    ) -> RpcResult<bool> {
        Err(rpc_error("blob.Included is not served by the local celestia node"))
    }

    async fn blob_submit(&self, blobs: Vec<Blob>, _opts: TxConfig) -> RpcResult<u64> {
        if blobs.is_empty() {
            return Err(rpc_error("blob: no blobs provided"));
        }
        let height = {
            let mut chain = self.0.chain.lock();
            chain.pending.extend(blobs);
            chain.head_height() + 1
        };
        // Like celestia-node: answer once the block holding the blobs exists.
        self.wait_for(height).await?;
        Ok(height)
    }
}

#[async_trait]
impl HeaderRpcServer for NodeRpc {
    async fn header_get_by_hash(&self, hash: Hash) -> RpcResult<ExtendedHeader> {
        let chain = self.0.chain.lock();
        chain
            .headers
            .iter()
            .find(|h| h.hash() == hash)
            .cloned()
            .ok_or_else(|| rpc_error("header: not found"))
    }

    async fn header_get_by_height(&self, height: u64) -> RpcResult<ExtendedHeader> {
        self.header_at(height)
    }

    async fn header_get_range_by_height(
        &self,
        from: ExtendedHeader,
        to: u64,
    ) -> RpcResult<Vec<ExtendedHeader>> {
        (from.height() + 1..to).map(|height| self.header_at(height)).collect()
    }

    async fn header_local_head(&self) -> RpcResult<ExtendedHeader> {
        self.header_network_head().await
    }

    async fn header_network_head(&self) -> RpcResult<ExtendedHeader> {
        let first = self.0.chain.lock().first_height;
        self.wait_for(first).await?;
        let chain = self.0.chain.lock();
        chain.headers.last().cloned().ok_or_else(|| rpc_error("header: no blocks yet"))
    }

    async fn header_sync_state(&self) -> RpcResult<SyncState> {
        Err(rpc_error("header.SyncState is not served by the local celestia node"))
    }

    async fn header_sync_wait(&self) -> RpcResult<()> {
        Ok(())
    }

    async fn header_wait_for_height(&self, height: u64) -> RpcResult<ExtendedHeader> {
        self.wait_for(height).await?;
        self.header_at(height)
    }
}
