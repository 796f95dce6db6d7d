use crate::{
    Consensus, EvictionReason, FirmRecord, Mempool, MempoolLimits, NodeError, PendingDa,
    StatusHandle,
    batch::{CertifiedBlock, encode_batch, encode_certified_batch},
    bft::{CertificateStore, RethExecution, SharedHeads},
    da_journal::{DaJournal, JournalEntry},
    metrics as m,
    rpc::{SequencerApiServer, SequencerRpc},
};
use alloy_consensus::{Block, Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256, Bytes};
use alloy_rpc_client::RpcClient;
use alloy_rpc_types_engine::{ForkchoiceState, JwtSecret};
use futures::StreamExt;
use jsonrpsee::server::{Server, ServerHandle};
use parking_lot::Mutex;
use sequencer_config::ValidatedConfig;
use sequencer_consensus::{BftConfig, ConsensusError, Decided};
use sequencer_da::{DaClient, DaError, DaHeight, Namespace};
use sequencer_engine::{
    BlockRef, BuiltPayload, EngineClient, EngineError, EngineFork, ForkchoiceTracker, RetryPolicy,
    payload_attributes,
};
use std::{
    collections::{BTreeMap, VecDeque},
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::{sync::mpsc, task::JoinHandle, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use url::Url;

/// Re-forward a ready transaction to reth if it is still not included this many blocks later
/// (reth may have restarted and lost its pool).
const REFORWARD_AFTER_BLOCKS: u64 = 8;
/// Concurrent `eth_sendRawTransaction` calls when forwarding.
const FORWARD_CONCURRENCY: usize = 32;

/// Everything the node needs, typed.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Chain id.
    pub chain_id: u64,
    /// reth's Engine API URL.
    pub engine_url: Url,
    /// JWT secret.
    pub jwt_secret: JwtSecret,
    /// Engine API generation.
    pub fork: EngineFork,
    /// Fee recipient of built blocks.
    pub fee_recipient: Address,
    /// RPC listen address.
    pub rpc_listen: SocketAddr,
    /// reth's public RPC (nonce lookups).
    pub rpc_url: Option<Url>,
    /// DA namespace.
    pub namespace: Namespace,
    /// Block time.
    pub block_time: Duration,
    /// Time reth gets to fill a payload between `forkchoiceUpdated` and `getPayload`.
    pub build_time: Duration,
    /// Back-pressure bound.
    pub max_soft_ahead: u64,
    /// How often the DA task polls finality.
    pub da_poll_interval: Duration,
    /// Most blocks per DA blob.
    pub max_batch_blocks: usize,
    /// Mempool capacity.
    pub mempool: MempoolLimits,
    /// Engine API retry policy.
    pub retry: RetryPolicy,
    /// Where the last FIRM block is recorded ([`FirmRecord`]); `None` keeps no record, and a
    /// restart then trusts the execution client's heads alone.
    pub firm_record_path: Option<PathBuf>,
    /// Where the DA task journals its submissions not FIRM yet (`None`: in memory only, so a
    /// restart posts every non-final block again).
    pub da_journal_path: Option<PathBuf>,
    /// After a DA submission without an answer, how long the batch is looked for on DA before it
    /// is sent again (a submission waits for inclusion; its answer can be lost after it landed).
    pub da_resubmit_after: Duration,
}

impl NodeConfig {
    /// A config with the defaults of `sequencer run`: Prague, 1 s blocks, 64 soft blocks ahead
    /// of firm at most, RPC on an ephemeral loopback port, no FIRM record. Adjust the fields (or
    /// use struct update syntax) for anything else.
    pub fn new(
        chain_id: u64,
        engine_url: Url,
        jwt_secret: JwtSecret,
        namespace: Namespace,
    ) -> Self {
        Self {
            chain_id,
            engine_url,
            jwt_secret,
            fork: EngineFork::Prague,
            fee_recipient: Address::ZERO,
            rpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            rpc_url: None,
            namespace,
            max_soft_ahead: 64,
            max_batch_blocks: 256,
            mempool: MempoolLimits::default(),
            retry: RetryPolicy::default(),
            firm_record_path: None,
            da_journal_path: None,
            da_resubmit_after: Duration::from_secs(90),
            // Set together by `with_block_time`.
            block_time: Duration::ZERO,
            build_time: Duration::ZERO,
            da_poll_interval: Duration::ZERO,
        }
        .with_block_time(Duration::from_secs(1))
    }

    /// Sets the block time, and with it the build window (a third of the block time, at most
    /// 500 ms) and the DA poll interval (the block time, at most 250 ms).
    pub fn with_block_time(mut self, block_time: Duration) -> Self {
        self.block_time = block_time;
        self.build_time = (block_time / 3).min(Duration::from_millis(500));
        self.da_poll_interval = block_time.min(Duration::from_millis(250));
        self
    }

    /// From a validated config file.
    pub fn from_validated(c: &ValidatedConfig) -> Self {
        Self {
            fork: if c.execution.prague { EngineFork::Prague } else { EngineFork::Cancun },
            fee_recipient: c.execution.fee_recipient,
            rpc_listen: c.rpc.listen_addr,
            rpc_url: c.execution.rpc_url.clone(),
            max_soft_ahead: c.sequencer.max_soft_ahead,
            firm_record_path: Some(c.sequencer.state_path.clone()),
            da_journal_path: Some(da_journal_path(&c.sequencer.state_path)),
            da_resubmit_after: c.da.resubmit_after,
            ..Self::new(
                c.chain_id,
                c.execution.reth_url.clone(),
                c.execution.jwt_secret,
                c.da.namespace,
            )
        }
        .with_block_time(c.sequencer.block_time)
    }
}

/// A validator set's consensus state beside the FIRM record: `sequencer-state.json` →
/// `sequencer-state.consensus/` (the vote journal, the certificates of blocks not FIRM yet).
pub fn consensus_dir(state_path: &Path) -> PathBuf {
    let stem = state_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    state_path.with_file_name(format!("{stem}.consensus"))
}

/// The DA journal beside the FIRM record: `sequencer-state.json` → `sequencer-state.da.json`.
pub fn da_journal_path(state_path: &Path) -> PathBuf {
    let stem = state_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    state_path.with_file_name(format!("{stem}.da.json"))
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownOutcome {
    /// All tasks finished their in-flight step within the grace period.
    Clean,
    /// The grace period ran out; in-flight work was abandoned (safe: on restart the sequencer
    /// resumes from reth's heads and re-submits every non-final block to DA).
    Abandoned,
}

struct DaJob {
    block: BlockRef,
    body: Block<TxEnvelope>,
    /// The finality certificate covering it (validator sets only).
    certificate: Option<Bytes>,
}

/// A running node.
#[derive(Debug)]
pub struct NodeHandle {
    /// Bound RPC address.
    pub rpc_addr: SocketAddr,
    /// Shared status.
    pub status: StatusHandle,
    cancel: CancellationToken,
    producer: Option<JoinHandle<Result<(), NodeError>>>,
    da: Option<JoinHandle<Result<(), NodeError>>>,
    rpc: ServerHandle,
}

fn joined(
    name: &str,
    r: Result<Result<(), NodeError>, tokio::task::JoinError>,
) -> Result<(), NodeError> {
    match r {
        Ok(res) => res,
        Err(e) => Err(NodeError::Task(format!("{name}: {e}"))),
    }
}

impl NodeHandle {
    /// Runs until `stop` resolves (then shuts down within `grace`) or a task fails (then the
    /// rest is shut down and the error returned).
    pub async fn run_until(
        mut self,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> Result<ShutdownOutcome, NodeError> {
        let failure = {
            let (Some(producer), Some(da)) = (self.producer.as_mut(), self.da.as_mut()) else {
                return Err(NodeError::Task("node already stopped".into()));
            };
            tokio::select! {
                () = stop => None,
                r = producer => Some(("producer", r)),
                r = da => Some(("da", r)),
            }
        };
        match failure {
            None => Ok(self.shutdown(grace).await),
            Some((name, r)) => {
                // That task is finished; do not join it again.
                if name == "producer" {
                    self.producer = None;
                } else {
                    self.da = None;
                }
                self.shutdown(grace).await;
                joined(name, r)
                    .and(Err(NodeError::Task(format!("{name} task stopped unexpectedly"))))
            }
        }
    }

    /// Cancels the tasks and waits at most `grace` for their in-flight step.
    pub async fn shutdown(mut self, grace: Duration) -> ShutdownOutcome {
        self.cancel.cancel();
        let _ = self.rpc.stop();
        let tasks: Vec<_> = [self.producer.take(), self.da.take()].into_iter().flatten().collect();
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = futures::future::join_all(tasks);
        let outcome = match tokio::time::timeout(grace, all).await {
            Ok(results) => {
                for r in results {
                    if let Err(e) = joined("task", r) {
                        warn!(target: "sequencer", %e, "task ended with an error during shutdown");
                    }
                }
                ShutdownOutcome::Clean
            }
            Err(_) => {
                for a in aborts {
                    a.abort();
                }
                warn!(target: "sequencer", ?grace, "shutdown grace period over, abandoning in-flight work");
                ShutdownOutcome::Abandoned
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.rpc.clone().stopped()).await;
        outcome
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Which of reth's heads is the SOFT head on restart.
#[derive(Debug, Clone, Copy)]
enum SoftHead {
    /// `latest`: a single validator only ever moves reth's head to SOFT blocks.
    Latest,
    /// `safe`: a validator of a set moves reth's head to proposals it builds on before they
    /// are decided; only `safe` is decided.
    Safe,
}

/// Reads reth's heads and rebuilds the forkchoice tracker: `finalized` is the newer of reth's
/// finalized block and the sequencer's own [`FirmRecord`] (genesis if neither exists), every
/// block above it is fetched and linked, head is promoted to safe. Returns the non-final blocks,
/// which must be (re-)submitted to DA.
///
/// Refuses to resume when reth no longer has the recorded FIRM block (it lost blocks, e.g. it
/// ran without persisting every block and restarted): building on its head would create a
/// second block at a height DA already finalized.
async fn resume(
    engine: &EngineClient,
    firm_record: Option<&Path>,
    soft: SoftHead,
) -> Result<(ForkchoiceTracker, Vec<(BlockRef, Block<TxEnvelope>)>), NodeError> {
    let heads = engine.read_heads().await?;
    let missing = |n: u64| EngineError::BadResponse {
        method: "eth_getBlockByNumber",
        message: format!("block #{n} missing"),
    };
    let mut finalized = match heads.finalized {
        Some(f) => f,
        None => engine.block(BlockNumberOrTag::Number(0)).await?.ok_or_else(|| missing(0))?.0,
    };
    if let Some(path) = firm_record
        && let Some(record) = FirmRecord::load(path)?
    {
        let lost = |what: String| {
            NodeError::Resume(format!(
                "{}: block #{} {} is FIRM, but the execution client {what} (head #{}). It lost \
                 blocks the sequencer finalized on DA; restore its data or resync it (run reth \
                 with --engine.persistence-threshold 0 so every block is persisted)",
                path.display(),
                record.number,
                record.hash,
                heads.latest.number
            ))
        };
        match engine.block(BlockNumberOrTag::Number(record.number)).await? {
            None => return Err(lost("does not have it".into())),
            Some((b, _)) if b.hash != record.hash => {
                return Err(lost(format!("has {} at that height", b.hash)));
            }
            Some((b, _)) if b.number > finalized.number => {
                info!(target: "sequencer", number = b.number, reth_finalized = finalized.number, "execution client's finalized block is behind the FIRM record; using the record");
                finalized = b;
            }
            Some(_) => {}
        }
    }
    let top = match soft {
        SoftHead::Latest => heads.latest,
        SoftHead::Safe => heads.safe.filter(|s| s.number >= finalized.number).unwrap_or(finalized),
    };
    let mut chain = Vec::new();
    for n in finalized.number + 1..=top.number {
        chain.push(engine.block(BlockNumberOrTag::Number(n)).await?.ok_or_else(|| missing(n))?);
    }
    let refs: Vec<BlockRef> = chain.iter().map(|(r, _)| *r).collect();
    let tracker = ForkchoiceTracker::from_chain(finalized, refs, top.number)?;
    if tracker.head() != top {
        return Err(
            EngineError::Forkchoice("execution client head changed while resuming".into()).into()
        );
    }
    info!(
        target: "sequencer",
        head = heads.latest.number,
        safe = heads.safe.map(|s| s.number),
        finalized = finalized.number,
        resubmit = chain.len(),
        "resumed from execution client heads"
    );
    Ok((tracker, chain))
}

/// What a validator of a set needs to join consensus.
pub struct BftSetup {
    /// The commonware runtime context consensus runs on (the sequencer runs inside
    /// commonware's tokio runtime).
    pub context: commonware_runtime::tokio::Context,
    /// Consensus settings.
    pub config: BftConfig,
    /// The validators' p2p network.
    pub network: sequencer_consensus::Network,
    /// Where the finality certificates of blocks not FIRM yet are kept, so batches posted after
    /// a restart still carry them (`None`: in memory only).
    pub certificates_dir: Option<PathBuf>,
}

impl std::fmt::Debug for BftSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BftSetup").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Who decides blocks, as given to [`launch`] / [`launch_bft`].
enum Agreement {
    Single(Arc<dyn Consensus>),
    Bft(Box<BftSetup>),
}

/// Starts a single validator: resumes from reth, binds the RPC server, spawns the producer and
/// DA tasks.
pub async fn launch<D: DaClient>(
    cfg: NodeConfig,
    consensus: Arc<dyn Consensus>,
    da: Arc<D>,
    cancel: CancellationToken,
) -> Result<NodeHandle, NodeError> {
    launch_node(cfg, Agreement::Single(consensus), da, cancel).await
}

/// Starts a validator of a set: like [`launch`], and joins consensus; blocks are proposed when
/// this validator leads a view and committed when the set finalizes them.
pub async fn launch_bft<D: DaClient>(
    cfg: NodeConfig,
    setup: BftSetup,
    da: Arc<D>,
    cancel: CancellationToken,
) -> Result<NodeHandle, NodeError> {
    launch_node(cfg, Agreement::Bft(Box::new(setup)), da, cancel).await
}

async fn launch_node<D: DaClient>(
    cfg: NodeConfig,
    agreement: Agreement,
    da: Arc<D>,
    cancel: CancellationToken,
) -> Result<NodeHandle, NodeError> {
    let engine =
        EngineClient::new(cfg.engine_url.clone(), cfg.jwt_secret, cfg.fork).with_retry(cfg.retry);
    // A validator set's reth may have a head above the last decided block (a proposal built
    // or verified, not finalized): SOFT is its safe block.
    let soft = match agreement {
        Agreement::Single(_) => SoftHead::Latest,
        Agreement::Bft(_) => SoftHead::Safe,
    };
    let (tracker, unfinalized) = resume(&engine, cfg.firm_record_path.as_deref(), soft).await?;
    engine.update_forkchoice(tracker.state()).await?;

    let status = StatusHandle::new(cfg.chain_id, tracker.head());
    status.update(|s| {
        s.firm_head = tracker.finalized();
        s.pending_da = unfinalized
            .iter()
            .map(|(r, _)| PendingDa { number: r.number, hash: r.hash, da_height: None })
            .collect();
    });
    metrics::gauge!(m::SOFT_HEAD).set(tracker.head().number as f64);
    metrics::gauge!(m::FIRM_HEAD).set(tracker.finalized().number as f64);

    let mempool = Arc::new(Mutex::new(Mempool::with_limits(cfg.chain_id, cfg.mempool)));
    let nonce_rpc = cfg.rpc_url.clone().map(RpcClient::new_http);
    let server = Server::builder().build(cfg.rpc_listen).await.map_err(|source| NodeError::Io {
        context: format!("rpc.listen_addr: cannot bind {}", cfg.rpc_listen),
        source,
    })?;
    let rpc_addr = server
        .local_addr()
        .map_err(|source| NodeError::Io { context: "rpc.listen_addr".into(), source })?;

    let (key, mode) = match agreement {
        Agreement::Single(consensus) => (consensus.key().clone(), Mode::Single(consensus)),
        Agreement::Bft(setup) => {
            let setup = *setup;
            let certificates =
                setup.certificates_dir.as_deref().map(CertificateStore::open).transpose()?;
            let heads = SharedHeads::new(tracker.state());
            let execution = RethExecution {
                engine: engine.clone(),
                mempool: mempool.clone(),
                heads: heads.clone(),
                block_time: cfg.block_time,
                build_time: cfg.build_time,
                fee_recipient: cfg.fee_recipient,
            };
            let genesis = engine
                .block(BlockNumberOrTag::Number(0))
                .await?
                .ok_or_else(|| {
                    NodeError::Resume("the execution client has no genesis block".into())
                })?
                .0;
            let head = tracker.head();
            let key = setup.config.key.clone();
            let running = sequencer_consensus::start(
                setup.context,
                setup.config,
                execution,
                setup.network.oracle,
                setup.network.channels,
                genesis.hash,
                (head.number, head.hash),
            )?;
            info!(target: "sequencer", decided = head.number, genesis = %genesis.hash, "joined the validator set");
            let mode = Mode::Bft {
                decisions: Some(running.decisions),
                pending: VecDeque::new(),
                heads,
                certificates,
                tasks: vec![running.engine, setup.network.handle],
            };
            (key, mode)
        }
    };
    let rpc =
        server.start(SequencerRpc::new(mempool.clone(), status.clone(), nonce_rpc).into_rpc());
    info!(target: "sequencer", %rpc_addr, "JSON-RPC listening");

    let (da_tx, da_rx) = mpsc::unbounded_channel();
    let (firm_tx, firm_rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let mut soft_at = BTreeMap::new();
    for (block, body) in unfinalized {
        soft_at.insert(block.number, now);
        let certificate = match &mode {
            Mode::Bft { certificates: Some(store), .. } => store.load(&block),
            _ => None,
        };
        let _ = da_tx.send(DaJob { block, body, certificate });
    }
    let da_task = DaTask {
        da,
        key,
        namespace: cfg.namespace,
        poll: cfg.da_poll_interval,
        max_batch: cfg.max_batch_blocks.max(1),
        status: status.clone(),
        journal_path: cfg.da_journal_path.clone(),
        resubmit_after: cfg.da_resubmit_after,
    };
    let da = tokio::spawn(da_task.run(da_rx, firm_tx, cancel.clone()));
    let producer = Producer {
        cfg,
        engine,
        mode,
        mempool,
        status: status.clone(),
        tracker,
        da_tx,
        soft_at,
        pending_firm: None,
        backpressured: false,
    };
    if matches!(producer.mode, Mode::Bft { .. }) {
        // A validator set's next leader is usually another validator: a transaction must reach
        // the reths' pools (and through devp2p the leader's) as soon as it is accepted, not at
        // this validator's next block.
        tokio::spawn(forward_continuously(
            producer.engine.clone(),
            producer.mempool.clone(),
            status.clone(),
            cancel.clone(),
        ));
    }
    let producer = tokio::spawn(producer.run(firm_rx, cancel.clone()));
    Ok(NodeHandle { rpc_addr, status, cancel, producer: Some(producer), da: Some(da), rpc })
}

/// Who decides blocks.
enum Mode {
    /// One validator: blocks on a timer, decided alone.
    Single(Arc<dyn Consensus>),
    /// A validator set: blocks come decided out of consensus.
    Bft {
        decisions: Option<mpsc::UnboundedReceiver<Decided>>,
        /// Decisions not committed yet (the execution client failed; retried every tick).
        pending: VecDeque<Decided>,
        heads: Arc<SharedHeads>,
        certificates: Option<CertificateStore>,
        /// The consensus engine and the p2p network, stopped with the producer.
        tasks: Vec<commonware_runtime::Handle<()>>,
    },
}

/// The next decision, or never (single validator).
async fn next_decision(rx: &mut Option<mpsc::UnboundedReceiver<Decided>>) -> Option<Decided> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The block producer: sole owner of the forkchoice.
struct Producer {
    cfg: NodeConfig,
    engine: EngineClient,
    mode: Mode,
    mempool: Arc<Mutex<Mempool>>,
    status: StatusHandle,
    tracker: ForkchoiceTracker,
    da_tx: mpsc::UnboundedSender<DaJob>,
    soft_at: BTreeMap<u64, Instant>,
    pending_firm: Option<BlockRef>,
    backpressured: bool,
}

impl Producer {
    async fn run(
        mut self,
        mut firm_rx: mpsc::UnboundedReceiver<BlockRef>,
        cancel: CancellationToken,
    ) -> Result<(), NodeError> {
        let mut tick = tokio::time::interval(self.cfg.block_time);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut decisions = match &mut self.mode {
            Mode::Bft { decisions, .. } => decisions.take(),
            Mode::Single(_) => None,
        };
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    if let Mode::Bft { tasks, .. } = &self.mode {
                        for t in tasks {
                            t.abort();
                        }
                    }
                    info!(target: "sequencer", soft = self.tracker.head().number, firm = self.tracker.finalized().number, "producer stopped");
                    return Ok(());
                }
                Some(firm) = firm_rx.recv() => {
                    self.queue_firm(firm);
                    while let Ok(f) = firm_rx.try_recv() {
                        self.queue_firm(f);
                    }
                    self.try_firm().await?;
                }
                decided = next_decision(&mut decisions) => {
                    let Some(decided) = decided else {
                        return Err(NodeError::Task("consensus stopped".into()));
                    };
                    if let Mode::Bft { pending, .. } = &mut self.mode {
                        pending.push_back(decided);
                    }
                    self.commit_pending().await?;
                }
                _ = tick.tick() => {
                    self.try_firm().await?;
                    self.on_tick().await?;
                }
            }
        }
    }

    /// Commits the decisions waiting, oldest first; stops at the first the execution client
    /// cannot take yet (retried next tick). A decision that does not extend the chain is fatal.
    async fn commit_pending(&mut self) -> Result<(), NodeError> {
        loop {
            let next = match &self.mode {
                Mode::Bft { pending, .. } => pending.front().cloned(),
                Mode::Single(_) => None,
            };
            let Some(decided) = next else { return Ok(()) };
            match self.commit_decided(&decided).await {
                Ok(()) => {
                    if let Mode::Bft { pending, .. } = &mut self.mode {
                        pending.pop_front();
                    }
                }
                Err(
                    e @ (NodeError::Consensus(_) | NodeError::Engine(EngineError::Forkchoice(_))),
                ) => {
                    return Err(e);
                }
                Err(e) => {
                    metrics::counter!(m::ENGINE_ERRORS, "kind" => "decided").increment(1);
                    warn!(target: "sequencer", %e, number = decided.block.number(), "cannot commit a decided block yet; retrying");
                    return Ok(());
                }
            }
        }
    }

    /// Sends a forkchoice update; a validator set's updates are ordered with its leader's builds.
    async fn send_forkchoice(&mut self, state: ForkchoiceState) -> Result<(), EngineError> {
        match &self.mode {
            Mode::Bft { heads, .. } => heads.update(&self.engine, state).await,
            Mode::Single(_) => self.engine.update_forkchoice(state).await,
        }
    }

    fn queue_firm(&mut self, b: BlockRef) {
        if self.pending_firm.is_none_or(|p| b.number > p.number) {
            self.pending_firm = Some(b);
        }
    }

    /// FIRM: move forkchoice `finalized` to the newest DA-final block.
    async fn try_firm(&mut self) -> Result<(), NodeError> {
        let Some(target) = self.pending_firm else { return Ok(()) };
        if target.number <= self.tracker.finalized().number {
            self.pending_firm = None;
            return Ok(());
        }
        let mut next = self.tracker.clone();
        // A refusal here is a broken invariant (DA reported a block we never made safe): fatal.
        next.apply_firm(target.number, target.hash)?;
        if let Err(e) = self.send_forkchoice(next.state()).await {
            metrics::counter!(m::ENGINE_ERRORS, "kind" => "firm").increment(1);
            warn!(target: "sequencer", %e, number = target.number, "FIRM forkchoice update failed, will retry");
            return Ok(());
        }
        let old = self.tracker.finalized().number;
        self.tracker = next;
        self.pending_firm = None;
        if let Some(path) = &self.cfg.firm_record_path {
            // Without the record a restart cannot tell whether reth lost FIRM blocks: stop.
            FirmRecord::from(target).store(path)?;
        }
        if let Mode::Bft { certificates: Some(store), .. } = &self.mode {
            store.prune(target.number);
        }
        let now = Instant::now();
        let newer = self.soft_at.split_off(&(target.number + 1));
        for (_, at) in std::mem::replace(&mut self.soft_at, newer) {
            metrics::histogram!(m::FINALITY_LATENCY).record(now.duration_since(at).as_secs_f64());
        }
        metrics::gauge!(m::FIRM_HEAD).set(target.number as f64);
        info!(target: "sequencer", number = target.number, hash = %target.hash, blocks = target.number - old, "FIRM");
        self.status.update(|s| s.firm_head = target);
        Ok(())
    }

    async fn on_tick(&mut self) -> Result<(), NodeError> {
        let ahead = self.tracker.soft_ahead();
        if ahead >= self.cfg.max_soft_ahead {
            metrics::counter!(m::BACKPRESSURE).increment(1);
            if !self.backpressured {
                warn!(target: "sequencer", soft = self.tracker.head().number, firm = self.tracker.finalized().number, max_soft_ahead = self.cfg.max_soft_ahead, "DA back-pressure: pausing block production");
                self.backpressured = true;
                self.status.update(|s| s.backpressure = true);
            }
            if let Mode::Bft { heads, .. } = &self.mode {
                // This validator stops proposing; the others may go on, and their blocks are
                // still committed here (SOFT runs ahead of this node's DA while it catches up).
                heads.set_backpressured(true);
                return self.commit_pending().await;
            }
            return Ok(());
        }
        if self.backpressured {
            info!(target: "sequencer", soft_ahead = ahead, "DA back-pressure released: resuming block production");
            self.backpressured = false;
            self.status.update(|s| s.backpressure = false);
        }
        if let Mode::Bft { heads, .. } = &self.mode {
            heads.set_backpressured(false);
            return self.commit_pending().await;
        }
        match self.produce().await {
            Ok(()) => Ok(()),
            // The forkchoice state machine refusing a transition is a bug, not a hiccup.
            Err(NodeError::Engine(e @ EngineError::Forkchoice(_))) => Err(e.into()),
            Err(e) => {
                let kind = match &e {
                    NodeError::Engine(EngineError::Invalid { .. }) => "invalid",
                    NodeError::Engine(EngineError::NotReady { .. }) => "not_ready",
                    NodeError::Engine(EngineError::Transport { .. }) => "transport",
                    _ => "other",
                };
                metrics::counter!(m::ENGINE_ERRORS, "kind" => kind).increment(1);
                if matches!(e, NodeError::Engine(EngineError::Invalid { .. })) {
                    error!(target: "sequencer", %e, "block rejected by the execution client; retrying next tick");
                } else {
                    warn!(target: "sequencer", %e, "block production failed; retrying next tick");
                }
                Ok(())
            }
        }
    }

    /// One block: build on the head, decide, execute, SOFT, hand to DA.
    async fn produce(&mut self) -> Result<(), NodeError> {
        let started = Instant::now();
        let head = self.tracker.head();
        let Mode::Single(consensus) = &self.mode else {
            return Ok(());
        };
        if !consensus.is_proposer(head.number + 1) {
            return Ok(());
        }
        forward_transactions(&self.engine, &self.mempool, head.number, Forward::Ready).await;
        let attrs = payload_attributes(&head, unix_now(), self.cfg.fee_recipient);
        let beacon_root = attrs.parent_beacon_block_root.unwrap_or_default();
        let id = self.engine.start_payload(self.tracker.state(), attrs).await?;
        tokio::time::sleep(self.cfg.build_time).await;
        let built = self.engine.get_payload(id, beacon_root).await?;
        let block = built.block_ref();
        if block.parent_hash != head.hash || block.number != head.number + 1 {
            return Err(EngineError::BadResponse {
                method: "engine_getPayload",
                message: format!(
                    "built #{} on {}, expected a child of #{} {}",
                    block.number, block.parent_hash, head.number, head.hash
                ),
            }
            .into());
        }
        if let Mode::Single(consensus) = &self.mode {
            consensus.decide(&block).await?;
        }
        self.engine.execute_payload(&built).await?;
        let mut next = self.tracker.clone();
        next.apply_soft(block)?;
        self.send_forkchoice(next.state()).await?;
        self.tracker = next;
        self.soft(built, started.elapsed(), None)
    }

    /// A decision of the validator set: execute it, make it SOFT, hand it to DA. Decisions
    /// come in order; one already committed (replayed after a restart) is skipped.
    async fn commit_decided(&mut self, decided: &Decided) -> Result<(), NodeError> {
        let started = Instant::now();
        let head = self.tracker.head();
        let block = &decided.block;
        if block.number() <= head.number {
            debug!(target: "sequencer", number = block.number(), "decision already committed");
            return Ok(());
        }
        if block.parent_hash() != head.hash || block.number() != head.number + 1 {
            return Err(NodeError::Consensus(ConsensusError::Conflict(format!(
                "decided #{} {} does not extend the SOFT head #{} {}",
                block.number(),
                block.hash(),
                head.number,
                head.hash
            ))));
        }
        let built = BuiltPayload::from_block(block.block(), block.execution_requests().cloned())?;
        self.engine.execute_payload(&built).await?;
        let mut next = self.tracker.clone();
        next.apply_soft(built.block_ref())?;
        self.send_forkchoice(next.state()).await?;
        self.tracker = next;
        // Ready transactions go to reth's pool at every block, not only when this validator
        // leads: reth's devp2p carries them to the other validators' reths, whichever leads.
        forward_transactions(&self.engine, &self.mempool, block.number(), Forward::All).await;
        // Without the record a batch after a restart carries this block uncertified (a later
        // block's certificate still covers it); not worth stopping for.
        if let Mode::Bft { certificates: Some(store), .. } = &self.mode
            && let Err(e) = store.store(&built.block_ref(), decided.certificate.bytes())
        {
            warn!(target: "sequencer", %e, "finality certificate not recorded");
        }
        self.soft(built, started.elapsed(), Some(decided.certificate.bytes().clone()))
    }

    /// A block is SOFT: reconcile the mempool, report it, hand it to DA.
    fn soft(
        &mut self,
        built: BuiltPayload,
        latency: Duration,
        certificate: Option<Bytes>,
    ) -> Result<(), NodeError> {
        let block = built.block_ref();
        // Reconcile the mempool with what reth put in the block.
        let included: Vec<(B256, Address, u64)> = {
            let pool = self.mempool.lock();
            built
                .block
                .body
                .transactions
                .iter()
                .filter_map(|tx| {
                    let hash = *tx.tx_hash();
                    pool.get(&hash)
                        .map(|(sender, nonce)| (hash, sender, nonce))
                        .or_else(|| tx.recover_signer().ok().map(|s| (hash, s, tx.nonce())))
                })
                .collect()
        };
        let (ours, mempool_status) = {
            let mut pool = self.mempool.lock();
            let ours = pool.on_included(&included);
            pool.evict_expired(std::time::Instant::now());
            (ours, pool.status())
        };
        let foreign = included.len() - ours;
        if foreign > 0 {
            metrics::counter!(m::FOREIGN_TXS).increment(foreign as u64);
            warn!(target: "sequencer", number = block.number, foreign, "block includes transactions that bypassed the sequencer mempool");
        }
        metrics::counter!(m::BLOCKS).increment(1);
        metrics::counter!(m::TXS_INCLUDED).increment(included.len() as u64);
        metrics::gauge!(m::SOFT_HEAD).set(block.number as f64);
        metrics::histogram!(m::SOFT_LATENCY).record(latency.as_secs_f64());
        metrics::gauge!(m::MEMPOOL_TXS)
            .set((mempool_status.pending + mempool_status.queued) as f64);
        info!(
            target: "sequencer",
            number = block.number,
            hash = %block.hash,
            txs = included.len(),
            latency_ms = latency.as_millis() as u64,
            firm = self.tracker.finalized().number,
            "SOFT"
        );
        self.soft_at.insert(block.number, Instant::now());
        self.status.update(|s| {
            s.soft_head = block;
            s.mempool = mempool_status;
            s.pending_da.push(PendingDa {
                number: block.number,
                hash: block.hash,
                da_height: None,
            });
        });
        self.da_tx
            .send(DaJob { block, body: built.block, certificate })
            .map_err(|_| NodeError::Task("DA task is gone".into()))?;
        Ok(())
    }
}

/// How often a validator of a set forwards newly accepted transactions to its reth.
const FORWARD_INTERVAL: Duration = Duration::from_millis(100);

/// Forwards accepted transactions every [`FORWARD_INTERVAL`] until `cancel`.
async fn forward_continuously(
    engine: EngineClient,
    mempool: Arc<Mutex<Mempool>>,
    status: StatusHandle,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(FORWARD_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {
                let head = status.get().soft_head.number;
                forward_transactions(&engine, &mempool, head, Forward::All).await;
            }
        }
    }
}

/// Which pooled transactions go to reth's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forward {
    /// The includable ones (a single validator: only it holds the missing nonces).
    Ready,
    /// All, also those behind a nonce gap (a validator set: the missing nonces may be in
    /// another validator's mempool; the reths' pools bring them together over devp2p).
    All,
}

/// Sends mempool transactions to reth's pool (see the crate docs for why).
pub(crate) async fn forward_transactions(
    engine: &EngineClient,
    mempool: &Mutex<Mempool>,
    head: u64,
    which: Forward,
) {
    let pooled = match which {
        Forward::Ready => mempool.lock().ready(),
        Forward::All => mempool.lock().all(),
    };
    let ready: Vec<_> = pooled
        .into_iter()
        .filter(|t| t.forwarded_at.is_none_or(|at| head >= at + REFORWARD_AFTER_BLOCKS))
        .collect();
    if ready.is_empty() {
        return;
    }
    let results: Vec<_> = futures::stream::iter(ready)
        .map(|tx| async move {
            let r = engine.send_raw_transaction(&tx.raw).await;
            (tx, r)
        })
        .buffered(FORWARD_CONCURRENCY)
        .collect()
        .await;
    let mut forwarded = Vec::new();
    let mut pool = mempool.lock();
    for (tx, r) in results {
        match r {
            Ok(_) => forwarded.push((tx.sender, tx.nonce)),
            Err(EngineError::Rpc { message, .. }) => match refusal(&message) {
                Refusal::AlreadyKnown => forwarded.push((tx.sender, tx.nonce)),
                Refusal::Permanent => {
                    warn!(target: "sequencer::mempool", hash = %tx.hash, sender = %tx.sender, nonce = tx.nonce, %message, "execution client rejected transaction; evicted");
                    pool.evict(&tx.sender, tx.nonce, EvictionReason::Rejected { message });
                }
                Refusal::Temporary => {
                    // Kept: it may be taken later (funds arrive, the pool drains, a foreign
                    // transaction with its nonce is included and evicts it as NonceUsed).
                    metrics::counter!(m::FORWARD_FAILURES, "kind" => "refused").increment(1);
                    debug!(target: "sequencer::mempool", hash = %tx.hash, %message, "execution client did not take transaction yet; will retry");
                }
            },
            Err(e) => {
                metrics::counter!(m::FORWARD_FAILURES, "kind" => "transport").increment(1);
                debug!(target: "sequencer::mempool", hash = %tx.hash, %e, "forwarding failed, will retry")
            }
        }
    }
    pool.mark_forwarded(&forwarded, head);
}

impl<D: DaClient> DaTask<D> {
    /// A batch blob of `jobs`: version 2 with certificates when any block has one (a validator
    /// set), version 1 otherwise. The same jobs always encode to the same blob.
    fn encode<'a>(&self, jobs: impl Iterator<Item = &'a DaJob>) -> Bytes {
        let jobs: Vec<&DaJob> = jobs.collect();
        if jobs.iter().any(|j| j.certificate.is_some()) {
            let blocks: Vec<CertifiedBlock> = jobs
                .iter()
                .map(|j| CertifiedBlock {
                    block: j.body.clone(),
                    certificate: j.certificate.clone().unwrap_or_default(),
                })
                .collect();
            encode_certified_batch(&self.key, &blocks)
        } else {
            let blocks: Vec<_> = jobs.iter().map(|j| j.body.clone()).collect();
            encode_batch(&self.key, &blocks)
        }
    }

    /// The oldest unsubmitted blocks, as many as fit one blob of the DA's size limit (at most
    /// `limit`), encoded: halved until the batch fits. `None` when nothing is waiting, or when
    /// the oldest block alone does not fit a blob (logged; it blocks FIRM until the DA layer
    /// accepts larger blobs, and back-pressure then pauses production).
    fn next_batch(&self, unsubmitted: &VecDeque<DaJob>, limit: usize) -> Option<(usize, Bytes)> {
        let max = self.da.max_blob_size();
        let mut n = unsubmitted.len().min(limit);
        while n > 0 {
            let blob = self.encode(unsubmitted.iter().take(n));
            if blob.len() <= max {
                return Some((n, blob));
            }
            if n == 1 {
                let number = unsubmitted.front().map(|j| j.block.number);
                error!(target: "sequencer", number, blob_bytes = blob.len(), max, "a block alone exceeds the DA blob limit; it cannot be posted");
                return None;
            }
            n /= 2;
        }
        None
    }

    /// Writes a journal change; a journal that cannot be written risks a double post after a
    /// crash (never a gap), so it is reported, not fatal.
    fn journal_write(&self, result: Result<(), String>) {
        if let Err(e) = result {
            metrics::counter!(m::DA_ERRORS).increment(1);
            error!(target: "sequencer", %e, "DA journal not written; a restart may post a batch twice");
        }
    }

    /// After a restart: every journaled batch whose blocks are the next unsubmitted ones and
    /// that the DA layer holds (looked up by commitment) is awaited instead of sent again. A
    /// batch that was being sent when the sequencer stopped may still be on its way into a DA
    /// block: it comes back as the batch in flight, looked for again until the resubmission
    /// delay has passed, and only then sent again.
    async fn adopt_journal(
        &self,
        journal: &mut DaJournal,
        unsubmitted: &mut VecDeque<DaJob>,
        submitted: &mut VecDeque<(BlockRef, DaHeight)>,
    ) -> Option<InFlight> {
        let entries = journal.entries().to_vec();
        for entry in entries {
            let n = (entry.last + 1).saturating_sub(entry.first) as usize;
            let matches = unsubmitted.front().is_some_and(|j| j.block.number == entry.first)
                && unsubmitted.get(n.saturating_sub(1)).is_some_and(|j| {
                    j.block.number == entry.last && j.block.hash == entry.last_hash
                });
            if !matches {
                let result = journal.forget(entry.commitment);
                self.journal_write(result);
                continue;
            }
            let found = match entry.height {
                Some(height) => {
                    self.da.find(&self.namespace, entry.commitment, height..=height).await
                }
                None => match self.da.finalized_height().await {
                    Ok(head) => {
                        self.da
                            .find(&self.namespace, entry.commitment, entry.sent_after..=head)
                            .await
                    }
                    Err(e) => Err(e),
                },
            };
            match found {
                Ok(Some(height)) => {
                    info!(target: "sequencer", first = entry.first, last = entry.last, da_height = height, "batch already on DA (journal); awaiting its finality, not posting it again");
                    for j in unsubmitted.drain(..n) {
                        submitted.push_back((j.block, height));
                    }
                    let result = journal.included(entry.commitment, height);
                    self.journal_write(result);
                }
                Ok(None) if entry.height.is_none() => {
                    // Sent when the sequencer stopped, answer unknown: the same blocks encode to
                    // the same blob (deterministic signature), so it can be looked for again.
                    let blob = self.encode(unsubmitted.iter().take(n));
                    if self.da.commitment(&self.namespace, &blob).ok() == Some(entry.commitment) {
                        info!(target: "sequencer", first = entry.first, last = entry.last, "batch being sent at the stop is not on DA yet; looking for it before posting it again");
                        return Some(InFlight {
                            blocks: n,
                            blob,
                            commitment: entry.commitment,
                            sent_after: entry.sent_after,
                            attempts: 1,
                            created_at: Instant::now(),
                            failed_at: Some(Instant::now()),
                        });
                    }
                    let result = journal.forget(entry.commitment);
                    self.journal_write(result);
                }
                Ok(None) => {
                    info!(target: "sequencer", first = entry.first, last = entry.last, "journaled batch is not on DA; posting it again");
                    let result = journal.forget(entry.commitment);
                    self.journal_write(result);
                }
                Err(e) => {
                    // Unknown: posting again risks a duplicate, never a gap.
                    warn!(target: "sequencer", %e, first = entry.first, last = entry.last, "cannot look the journaled batch up on DA; posting it again");
                    let result = journal.forget(entry.commitment);
                    self.journal_write(result);
                }
            }
        }
        None
    }
}

/// A batch sent (or about to be) whose answer is not in yet.
struct InFlight {
    blocks: usize,
    blob: Bytes,
    commitment: B256,
    sent_after: DaHeight,
    attempts: u32,
    /// When it was first sent (or found in the journal).
    created_at: Instant,
    /// When the last attempt failed: the batch is looked for on DA, and only sent again once
    /// `resubmit_after` has passed without finding it (it may still be on its way).
    failed_at: Option<Instant>,
}

struct DaTask<D> {
    da: Arc<D>,
    key: sequencer_config::ValidatorKey,
    namespace: Namespace,
    poll: Duration,
    max_batch: usize,
    status: StatusHandle,
    journal_path: Option<PathBuf>,
    resubmit_after: Duration,
}

impl<D: DaClient> DaTask<D> {
    async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<DaJob>,
        firm_tx: mpsc::UnboundedSender<BlockRef>,
        cancel: CancellationToken,
    ) -> Result<(), NodeError> {
        let mut unsubmitted: VecDeque<DaJob> = VecDeque::new();
        let mut submitted: VecDeque<(BlockRef, DaHeight)> = VecDeque::new();
        let mut in_flight: Option<InFlight> = None;
        let mut journal = DaJournal::load(self.journal_path.as_deref()).map_err(|e| {
            NodeError::Config { field: "sequencer.state_path", message: format!("DA journal {e}") }
        })?;
        let mut adopted = journal.entries().is_empty();
        // Most blocks per blob right now: `max_batch`, halved when the DA refuses a batch as too
        // large, grown back after each success.
        let mut batch_limit = self.max_batch.max(1);
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    if !unsubmitted.is_empty() || !submitted.is_empty() {
                        info!(target: "sequencer", unsubmitted = unsubmitted.len(), awaiting_finality = submitted.len(), "DA task stopped; the journal says what is on DA already");
                    }
                    return Ok(());
                }
                job = rx.recv() => match job {
                    Some(j) => {
                        unsubmitted.push_back(j);
                        while let Ok(j) = rx.try_recv() {
                            unsubmitted.push_back(j);
                        }
                    }
                    None => return Ok(()),
                },
                _ = tick.tick() => {}
            }
            if !adopted && !unsubmitted.is_empty() {
                in_flight =
                    self.adopt_journal(&mut journal, &mut unsubmitted, &mut submitted).await;
                adopted = true;
            }

            if in_flight.is_none()
                && let Some((blocks, blob)) = self.next_batch(&unsubmitted, batch_limit)
            {
                match self.da.commitment(&self.namespace, &blob) {
                    Ok(commitment) => {
                        let sent_after = self.da.finalized_height().await.unwrap_or(0);
                        let (first, last) = (&unsubmitted[0].block, &unsubmitted[blocks - 1].block);
                        let result = journal.record(JournalEntry {
                            first: first.number,
                            last: last.number,
                            last_hash: last.hash,
                            commitment,
                            sent_after,
                            height: None,
                        });
                        self.journal_write(result);
                        in_flight = Some(InFlight {
                            blocks,
                            blob,
                            commitment,
                            sent_after,
                            attempts: 0,
                            created_at: Instant::now(),
                            failed_at: None,
                        });
                    }
                    Err(e) => warn!(target: "sequencer", %e, "DA commitment failed, will retry"),
                }
            }

            if let Some(flight) = in_flight.as_mut() {
                let mut landed = None;
                if flight.attempts > 0 {
                    // An earlier attempt got no answer: it may have landed all the same.
                    if let Ok(head) = self.da.finalized_height().await {
                        match self
                            .da
                            .find(&self.namespace, flight.commitment, flight.sent_after..=head)
                            .await
                        {
                            Ok(Some(height)) => {
                                info!(target: "sequencer", da_height = height, "a batch whose answer was lost is on DA; not posting it again");
                                landed = Some(height);
                            }
                            // Final heights do not change: the next look starts after this one.
                            Ok(None) => flight.sent_after = flight.sent_after.max(head + 1),
                            Err(e) => debug!(target: "sequencer", %e, "DA look-up failed"),
                        }
                    }
                }
                let waiting = flight.failed_at.is_some_and(|at| at.elapsed() < self.resubmit_after);
                if landed.is_none() && !waiting {
                    if flight.attempts > 0 {
                        metrics::counter!(m::DA_RETRIES).increment(1);
                    }
                    let size = flight.blob.len();
                    match self.da.submit(&self.namespace, flight.blob.clone()).await {
                        Ok(inc) => {
                            metrics::counter!(m::DA_SUBMISSIONS).increment(1);
                            debug!(target: "sequencer", da_height = inc.height, blob_bytes = size, "DA submission included");
                            landed = Some(inc.height);
                        }
                        Err(DaError::BlobTooLarge { size, max }) if flight.blocks > 1 => {
                            // The DA layer's limit is below what it told us: smaller batches.
                            metrics::counter!(m::DA_ERRORS).increment(1);
                            batch_limit = (flight.blocks / 2).max(1);
                            warn!(target: "sequencer", size, max, blocks = flight.blocks, next_blocks = batch_limit, "DA refused the batch as too large; splitting");
                            let result = journal.forget(flight.commitment);
                            self.journal_write(result);
                            in_flight = None;
                        }
                        Err(e) => {
                            metrics::counter!(m::DA_ERRORS).increment(1);
                            flight.attempts += 1;
                            flight.failed_at = Some(Instant::now());
                            warn!(target: "sequencer", %e, blocks = flight.blocks, attempts = flight.attempts, "DA submission failed, will look it up and retry");
                        }
                    }
                }
                if let Some(height) = landed
                    && let Some(flight) = in_flight.take()
                {
                    for j in unsubmitted.drain(..flight.blocks) {
                        info!(target: "sequencer", number = j.block.number, hash = %j.block.hash, da_height = height, blob_bytes = flight.blob.len(), "PENDING");
                        submitted.push_back((j.block, height));
                    }
                    metrics::counter!(m::DA_BYTES).increment(flight.blob.len() as u64);
                    metrics::histogram!(m::DA_INCLUSION_LATENCY)
                        .record(flight.created_at.elapsed().as_secs_f64());
                    let result = journal.included(flight.commitment, height);
                    self.journal_write(result);
                    batch_limit = (batch_limit * 2).min(self.max_batch);
                }
            }

            if !submitted.is_empty() {
                match self.da.finalized_height().await {
                    Ok(final_height) => {
                        let mut last = None;
                        while submitted.front().is_some_and(|(_, h)| *h <= final_height) {
                            last = submitted.pop_front().map(|(b, _)| b);
                        }
                        if let Some(b) = last {
                            debug!(target: "sequencer", number = b.number, final_height, "DA final");
                            let result = journal.firm(b.number);
                            self.journal_write(result);
                            if firm_tx.send(b).is_err() {
                                return Ok(());
                            }
                        }
                    }
                    Err(e) => warn!(target: "sequencer", %e, "DA finality query failed"),
                }
            }

            let pending: Vec<PendingDa> = submitted
                .iter()
                .map(|(b, h)| PendingDa { number: b.number, hash: b.hash, da_height: Some(*h) })
                .chain(unsubmitted.iter().map(|j| PendingDa {
                    number: j.block.number,
                    hash: j.block.hash,
                    da_height: None,
                }))
                .collect();
            metrics::gauge!(m::PENDING_DA).set(pending.len() as f64);
            self.status.update(|s| s.pending_da = pending);
        }
    }
}

/// How the execution client refused a forwarded transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// It has it already.
    AlreadyKnown,
    /// It will never take it (the transaction itself is invalid).
    Permanent,
    /// Not now (underpriced against its pool, insufficient funds, pool full, ...).
    Temporary,
}

/// Classifies reth's (geth-compatible) pool error messages. Only errors about the transaction
/// itself evict it; anything else keeps it, so an accepted transaction is never dropped on a
/// transient refusal.
fn refusal(message: &str) -> Refusal {
    const PERMANENT: [&str; 6] = [
        "intrinsic gas too low",
        "exceeds block gas limit",
        "gas limit reached",
        "transaction type not supported",
        "invalid sender",
        "invalid chain id",
    ];
    let message = message.to_ascii_lowercase();
    if message.contains("already known") {
        Refusal::AlreadyKnown
    } else if PERMANENT.iter().any(|permanent| message.contains(permanent)) {
        Refusal::Permanent
    } else {
        Refusal::Temporary
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::{Refusal, refusal};

    #[test]
    fn only_invalid_transactions_are_refused_for_good() {
        assert_eq!(refusal("already known"), Refusal::AlreadyKnown);
        assert_eq!(refusal("intrinsic gas too low"), Refusal::Permanent);
        assert_eq!(refusal("Transaction type not supported"), Refusal::Permanent);
        for temporary in [
            "insufficient funds for gas * price + value",
            "replacement transaction underpriced",
            "txpool is full",
            "nonce too low",
            "something new",
        ] {
            assert_eq!(refusal(temporary), Refusal::Temporary, "{temporary}");
        }
    }
}
