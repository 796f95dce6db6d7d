//! [`KonaNodeService`]: kona-node-service 0.1.3's `RollupNodeService`, with derivation reading L2
//! from the [`BufferedL2Provider`] and every actor under our [`ActorSupervisor`].

use crate::{
    ActorSupervisor, DEFAULT_READ_AHEAD, KonaExExError, KonaRpcActor, KonaRpcBuilder,
    L1HeadWatcher, L1HeadWatcherBuilder, L1Provider, ShutdownReport,
};
use async_trait::async_trait;
use kona_derive::{
    DerivationPipeline, EthereumDataSource, PipelineBuilder as DerivationPipelineBuilder,
    PolledAttributesQueueStage, StatefulAttributesBuilder,
};
use kona_genesis::RollupConfig;
use kona_node_service::{
    DerivationActor, DerivationContext, DerivationInboundChannels, DerivationState, EngineContext,
    EngineInboundData, L1WatcherRpcContext, L1WatcherRpcInboundChannels, NetworkActor,
    NetworkBuilder, NetworkContext, NetworkInboundData, NodeActor, NodeMode, PipelineBuilder,
    RollupNodeService, RpcContext, SequencerActor, SequencerBuilder, SequencerContext,
};
use kona_p2p::P2pRpcRequest;
use kona_protocol::{BlockInfo, L2BlockInfo};
use kona_providers_alloy::{AlloyChainProvider, AlloyL2ChainProvider, OnlineBlobProvider};
use rollup_cli::NodeCliConfig;
use rollup_engine::{EngineActorBuilder, ExecutionEngine, InProcessEngineActor};
use rollup_providers_beacon::BeaconApiClient;
use rollup_providers_local::BufferedL2Provider;
use rollup_safe_head_db::SafeHeadDb;
use std::{sync::Arc, time::Duration};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// How often the L1 watcher reads the L1 head when neither `--kona.l1-poll-interval` nor the
/// beacon's slot time is known: Ethereum's slot time.
pub const DEFAULT_L1_POLL_INTERVAL: Duration = Duration::from_secs(12);

/// L1 data source of derivation: calldata and blobs, the blobs read through
/// [`BeaconApiClient`] so that a beacon node's refusal is logged with its reason.
pub type L1DataSource = EthereumDataSource<L1Provider, OnlineBlobProvider<BeaconApiClient>>;

/// Payload attributes builder of derivation, reading L2 system configs from the buffer.
pub type BufferedAttributesBuilder = StatefulAttributesBuilder<L1Provider, BufferedL2Provider>;

/// kona's derivation pipeline with the in-memory L2 provider.
pub type BufferedDerivationPipeline = DerivationPipeline<
    PolledAttributesQueueStage<
        L1DataSource,
        L1Provider,
        BufferedL2Provider,
        BufferedAttributesBuilder,
    >,
    BufferedL2Provider,
>;

/// Builds [`BufferedDerivationPipeline`] for kona's derivation actor.
#[derive(Debug, Clone)]
pub struct BufferedPipelineBuilder {
    rollup_config: Arc<RollupConfig>,
    l1_provider: alloy_provider::RootProvider,
    l1_beacon: BeaconApiClient,
    l2_provider: BufferedL2Provider,
}

#[async_trait]
impl PipelineBuilder for BufferedPipelineBuilder {
    type Pipeline = BufferedDerivationPipeline;

    async fn build(self) -> DerivationState<Self::Pipeline> {
        // One L1 provider for traversal, data source and attributes builder: clones share its cache.
        let l1 = L1Provider::new(self.l1_provider, DEFAULT_READ_AHEAD);
        // The ExEx checks `/eth/v1/config/spec` before the actors start; `init` would panic
        // without it.
        let blobs = OnlineBlobProvider::init(self.l1_beacon).await;
        let attributes = StatefulAttributesBuilder::new(
            self.rollup_config.clone(),
            self.l2_provider.clone(),
            l1.clone(),
        );
        let data_source =
            EthereumDataSource::new_from_parts(l1.clone(), blobs, &self.rollup_config);
        let pipeline = DerivationPipelineBuilder::new()
            .rollup_config(self.rollup_config)
            .dap_source(data_source)
            .l2_chain_provider(self.l2_provider)
            .chain_provider(l1)
            .builder(attributes)
            // The engine actor resets the pipeline to the real origin once the EL is synced.
            .origin(BlockInfo::default())
            .build_polled();
        DerivationState::new(pipeline)
    }
}

/// The kona node that runs inside the ExEx.
///
/// Network, L1 watcher and sequencer actors are kona's own, configured as kona-node
/// configures them; derivation is built by [`BufferedPipelineBuilder`]; the engine actor is
/// [`InProcessEngineActor`], driving the execution layer through typed in-process calls; the RPC
/// server is [`KonaRpcActor`], which serves `admin_*` only when asked to. kona's
/// sequencer actor only exists with kona's own attributes builder, which reads the parent's
/// system config through an alloy provider: that provider's transport is
/// [`BufferedL2Transport`](crate::BufferedL2Transport), answering from the L2 buffer. No engine
/// RPC, no JWT and no L2 HTTP client exist.
#[derive(Debug)]
pub struct KonaNodeService {
    config: Arc<NodeCliConfig>,
    derivation: BufferedPipelineBuilder,
    engine: Arc<dyn ExecutionEngine>,
    safe_head: Option<watch::Sender<Option<L2BlockInfo>>>,
    safe_head_db: Option<Arc<SafeHeadDb>>,
    static_peers: Vec<libp2p::Multiaddr>,
    l1_poll_interval: Duration,
    cancellation: CancellationToken,
    shutdown_timeout: Duration,
}

impl KonaNodeService {
    /// The service for `config`, driving the execution layer through `engine` and deriving from
    /// `l2_provider`. Every actor stops when `cancellation` is cancelled.
    pub fn new(
        config: &NodeCliConfig,
        engine: Arc<dyn ExecutionEngine>,
        l2_provider: BufferedL2Provider,
        cancellation: CancellationToken,
        shutdown_timeout: Duration,
    ) -> Self {
        let rollup_config = Arc::new(config.rollup_config.clone());
        let derivation = BufferedPipelineBuilder {
            rollup_config,
            l1_provider: alloy_provider::RootProvider::new_http(config.l1_eth_rpc.clone()),
            l1_beacon: BeaconApiClient::new(&config.l1_beacon),
            l2_provider,
        };
        Self {
            config: Arc::new(config.clone()),
            derivation,
            engine,
            safe_head: None,
            safe_head_db: None,
            static_peers: config.static_peers.clone(),
            l1_poll_interval: config.l1_poll_interval.unwrap_or(DEFAULT_L1_POLL_INTERVAL),
            cancellation,
            shutdown_timeout,
        }
    }

    /// Publishes kona's safe head into `safe_head` (which outlives this service) while it runs.
    pub fn with_safe_head(mut self, safe_head: watch::Sender<Option<L2BlockInfo>>) -> Self {
        self.safe_head = Some(safe_head);
        self
    }

    /// Records the engine's safe heads into `db` (which outlives this service) and answers
    /// `optimism_safeHeadAtL1Block` from it.
    pub fn with_safe_head_db(mut self, db: Arc<SafeHeadDb>) -> Self {
        self.safe_head_db = Some(db);
        self
    }

    /// How often the L1 watcher reads the L1 head when `--kona.l1-poll-interval` is not given:
    /// the L1 slot time, which the ExEx reads from the beacon API before the service starts.
    pub fn with_l1_slot_time(mut self, slot_time: Duration) -> Self {
        if self.config.l1_poll_interval.is_none() && !slot_time.is_zero() {
            self.l1_poll_interval = slot_time;
        }
        self
    }

    /// The token that stops the service.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancellation
    }

    /// Builds every actor, wires their channels the way kona-node-service does, and supervises
    /// them until the token is cancelled (`Ok`) or one fails (`Err`).
    pub async fn run(&self) -> Result<ShutdownReport, KonaExExError> {
        let mut supervisor = ActorSupervisor::new(self.cancellation.clone(), self.shutdown_timeout);
        let cancellation = || self.cancellation.clone();

        let (L1WatcherRpcInboundChannels { inbound_queries: l1_queries }, l1_watcher) =
            L1HeadWatcher::build(self.da_watcher_builder());
        let (
            DerivationInboundChannels {
                derivation_signal_tx,
                l1_head_updates_tx,
                engine_l2_safe_head_tx,
                el_sync_complete_tx,
            },
            derivation,
        ) = DerivationActor::build(self.derivation_builder());
        let (
            EngineInboundData {
                build_request_tx,
                attributes_tx,
                unsafe_block_tx,
                reset_request_tx,
                inbound_queries_tx: engine_queries,
                finalized_l1_block_tx,
            },
            engine,
        ) = InProcessEngineActor::build(self.engine_builder());
        let (
            NetworkInboundData { signer, p2p_rpc, gossip_payload_tx, admin_rpc: network_admin },
            network,
        ) = NetworkActor::build(self.network_builder());
        let rpc = self.rpc_builder().map(KonaRpcActor::build).map(|(_, actor)| actor);
        if !self.static_peers.is_empty() {
            // Not an actor: it keeps dialling while the network actor takes requests, and dies
            // with this run's runtime.
            tokio::spawn(keep_static_peers(
                self.static_peers.clone(),
                p2p_rpc.clone(),
                self.cancellation.clone(),
            ));
        }
        let sequencer = if self.mode().is_sequencer() {
            let build_request_tx = build_request_tx.ok_or(KonaExExError::Wiring(
                "kona's engine actor gave no block-build channel in sequencer mode",
            ))?;
            Some((SequencerActor::build(self.sequencer_builder()), build_request_tx))
        } else {
            None
        };

        let mut sequencer_admin = None;
        let mut engine_unsafe_head_tx = None;
        if let Some(((inbound, actor), build_request_tx)) = sequencer {
            sequencer_admin = Some(inbound.admin_query_tx.clone());
            engine_unsafe_head_tx = Some(inbound.unsafe_head_tx);
            let context = SequencerContext {
                l1_head_rx: l1_head_updates_tx.subscribe(),
                reset_request_tx: reset_request_tx.clone(),
                build_request_tx,
                gossip_payload_tx,
                cancellation: cancellation(),
            };
            supervisor.spawn("sequencer", actor.start(context));
        }
        if let Some(actor) = rpc {
            let context = RpcContext {
                // Stopped last: it holds the other actors' query channels.
                cancellation: supervisor.last_cancellation().clone(),
                p2p_network: p2p_rpc,
                network_admin,
                sequencer_admin,
                l1_watcher_queries: l1_queries,
                engine_query: engine_queries,
            };
            supervisor.spawn_last("rpc", actor.start(context));
        }
        supervisor.spawn(
            "network",
            network.start(NetworkContext { blocks: unsafe_block_tx, cancellation: cancellation() }),
        );
        supervisor.spawn(
            "l1_watcher",
            l1_watcher.start(L1WatcherRpcContext {
                latest_head: l1_head_updates_tx,
                latest_finalized: finalized_l1_block_tx,
                block_signer_sender: signer,
                cancellation: cancellation(),
            }),
        );
        // In sequencer mode the sequencer asks the engine for the first reset. A validator has
        // nobody to ask: the engine only finishes "EL sync" (and lets derivation start) after a
        // forkchoice update, which without this waits for the first gossiped unsafe block —
        // forever, for a validator without peers. The reset reads the forkchoice from reth, sends
        // it back as the first forkchoice update, and resets derivation to the safe head. The
        // engine queues it behind nothing and runs it once reth's engine API exists.
        if !self.mode().is_sequencer() {
            reset_request_tx.try_send(()).map_err(|_| {
                KonaExExError::Wiring("the engine's reset channel is full or closed")
            })?;
        }
        supervisor.spawn(
            "derivation",
            derivation.start(DerivationContext {
                reset_request_tx,
                derived_attributes_tx: attributes_tx,
                cancellation: cancellation(),
            }),
        );
        if let Some(out) = self.safe_head.clone() {
            let mut engine_safe_head = engine_l2_safe_head_tx.subscribe();
            // Not an actor: it ends with the engine's channel, and dies with this run's runtime.
            tokio::spawn(async move {
                while engine_safe_head.changed().await.is_ok() {
                    let head = *engine_safe_head.borrow_and_update();
                    // The engine starts from a default head until its first reset.
                    if head != L2BlockInfo::default() {
                        out.send_replace(Some(head));
                    }
                }
            });
        }
        supervisor.spawn(
            "engine",
            engine.start(EngineContext {
                engine_l2_safe_head_tx,
                engine_unsafe_head_tx,
                sync_complete_tx: el_sync_complete_tx,
                derivation_signal_tx,
                cancellation: cancellation(),
            }),
        );
        info!(target: "kona_exex", mode = %self.mode(), actors = supervisor.len(), "kona actors started");
        supervisor.run().await
    }
}

/// How often static peers are dialled again (kona skips peers already connected).
const STATIC_PEER_REDIAL: Duration = Duration::from_secs(15);

/// Dials every static peer now and again every [`STATIC_PEER_REDIAL`], through kona's P2P
/// request channel (what `opp2p_connectPeer` uses). kona 0.1.3 has no static-peer option of its
/// own, and without discovery a node would otherwise never find its peers.
async fn keep_static_peers(
    peers: Vec<libp2p::Multiaddr>,
    requests: mpsc::Sender<P2pRpcRequest>,
    cancellation: CancellationToken,
) {
    let mut redial = tokio::time::interval(STATIC_PEER_REDIAL);
    let mut first = true;
    loop {
        tokio::select! {
            _ = cancellation.cancelled() => return,
            _ = redial.tick() => {}
        }
        for address in &peers {
            if first {
                info!(target: "kona_exex", peer = %address, "dialling static peer");
            }
            let request = P2pRpcRequest::ConnectPeer { address: address.clone() };
            if requests.send(request).await.is_err() {
                return;
            }
        }
        first = false;
    }
}

#[async_trait]
impl RollupNodeService for KonaNodeService {
    type DataAvailabilityWatcher = L1HeadWatcher;
    type DerivationPipeline = BufferedDerivationPipeline;
    type DerivationActor = DerivationActor<BufferedPipelineBuilder>;
    type EngineActor = InProcessEngineActor<dyn ExecutionEngine>;
    type NetworkActor = NetworkActor;
    type AttributesBuilder = StatefulAttributesBuilder<AlloyChainProvider, AlloyL2ChainProvider>;
    type SequencerActor = SequencerActor<SequencerBuilder>;
    type RpcActor = KonaRpcActor;

    fn mode(&self) -> NodeMode {
        self.config.node_mode()
    }

    fn da_watcher_builder(&self) -> L1HeadWatcherBuilder {
        L1HeadWatcherBuilder {
            rollup: self.derivation.rollup_config.clone(),
            l1_provider: self.derivation.l1_provider.clone(),
            poll_interval: self.l1_poll_interval,
        }
    }

    fn derivation_builder(&self) -> BufferedPipelineBuilder {
        self.derivation.clone()
    }

    fn network_builder(&self) -> NetworkBuilder {
        NetworkBuilder::from(self.config.network.clone())
    }

    fn engine_builder(&self) -> EngineActorBuilder<dyn ExecutionEngine> {
        EngineActorBuilder {
            config: self.derivation.rollup_config.clone(),
            mode: self.mode(),
            engine: self.engine.clone(),
            l2: self.derivation.l2_provider.clone(),
            l1: Arc::new(self.derivation.l1_provider.clone()),
            safe_heads: self.safe_head_db.clone(),
        }
    }

    fn rpc_builder(&self) -> Option<KonaRpcBuilder> {
        let rpc = self.config.rpc.clone()?;
        Some(KonaRpcBuilder { rpc, safe_heads: self.safe_head_db.clone() })
    }

    fn sequencer_builder(&self) -> SequencerBuilder {
        SequencerBuilder {
            seq_cfg: self.config.sequencer.clone(),
            rollup_cfg: self.derivation.rollup_config.clone(),
            l1_provider: self.derivation.l1_provider.clone(),
            l2_provider: crate::BufferedL2Transport::provider(self.derivation.l2_provider.clone()),
        }
    }

    /// Replaces kona's default, which makes its own token and cannot be stopped from outside.
    async fn start(&self) -> Result<(), String> {
        self.run().await.map(|_| ()).map_err(|e| e.to_string())
    }
}
