use crate::{
    Consensus, FirmRecord, Mempool, MempoolLimits, NodeError, PendingDa, StatusHandle,
    bft::{BlockFiles, RethExecution, SharedHeads},
    da_task::{DaJob, DaTask},
    metrics as m,
    producer::{Forward, Mode, Producer, forward_continuously},
    rpc::{SequencerApiServer, SequencerRpc},
};
use alloy_consensus::{Block, TxEnvelope};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::Address;
use alloy_rpc_client::RpcClient;
use alloy_rpc_types_engine::JwtSecret;
use jsonrpsee::server::{Server, ServerHandle};
use parking_lot::Mutex;
use sequencer_config::ValidatedConfig;
use sequencer_consensus::BftConfig;
use sequencer_da::{DaClient, Namespace, redact_url};
use sequencer_engine::{
    BlockRef, EngineClient, EngineError, EngineFork, ForkchoiceTracker, RetryPolicy,
};
use std::{
    collections::{BTreeMap, VecDeque},
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use url::Url;

/// Largest JSON-RPC request the sequencer's server reads: two hex-encoded transactions of the
/// largest size the mempool takes ([`crate::MAX_TX_BYTES`]), with room for the JSON around them.
pub const MAX_RPC_REQUEST_BYTES: u32 = 4 * crate::MAX_TX_BYTES as u32 + 64 * 1024;

/// Everything the node needs, typed.
#[derive(Clone)]
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
    /// reth's public RPC: senders' balances and nonces and the base fee, checked before a
    /// transaction is admitted (`None`: not checked).
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

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // URLs are shown redacted: node providers put tokens in them.
        f.debug_struct("NodeConfig")
            .field("chain_id", &self.chain_id)
            .field("engine_url", &redact_url(self.engine_url.as_str()))
            .field("jwt_secret", &self.jwt_secret)
            .field("fork", &self.fork)
            .field("fee_recipient", &self.fee_recipient)
            .field("rpc_listen", &self.rpc_listen)
            .field("rpc_url", &self.rpc_url.as_ref().map(|u| redact_url(u.as_str())))
            .field("namespace", &self.namespace)
            .field("block_time", &self.block_time)
            .field("build_time", &self.build_time)
            .field("max_soft_ahead", &self.max_soft_ahead)
            .field("da_poll_interval", &self.da_poll_interval)
            .field("max_batch_blocks", &self.max_batch_blocks)
            .field("mempool", &self.mempool)
            .field("retry", &self.retry)
            .field("firm_record_path", &self.firm_record_path)
            .field("da_journal_path", &self.da_journal_path)
            .field("da_resubmit_after", &self.da_resubmit_after)
            .finish()
    }
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
    beside(state_path, "consensus")
}

/// `sequencer-state.json` → `sequencer-state.<suffix>`: what the sequencer keeps beside its
/// FIRM record.
fn beside(state_path: &Path, suffix: &str) -> PathBuf {
    let stem = state_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    state_path.with_file_name(format!("{stem}.{suffix}"))
}

/// The execution requests of committed blocks beside the FIRM record: `sequencer-state.json`
/// → `sequencer-state.requests/`.
pub fn requests_dir(state_path: &Path) -> PathBuf {
    beside(state_path, "requests")
}

/// The DA journal beside the FIRM record: `sequencer-state.json` → `sequencer-state.da.json`.
pub fn da_journal_path(state_path: &Path) -> PathBuf {
    beside(state_path, "da.json")
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

pub(crate) fn unix_now() -> u64 {
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
    let state_rpc = cfg.rpc_url.clone().map(RpcClient::new_http);
    if state_rpc.is_none() {
        warn!(target: "sequencer::mempool", "execution.rpc_url is not set: the mempool cannot check senders' balances and nonces or the base fee against the chain's state, and admits transactions that cannot pay (anyone can fill it from keys without funds); set it to reth's HTTP RPC");
    }
    // The largest transaction, hex-encoded, with room for the JSON around it; jsonrpsee's 10 MB
    // default would let one request make the server buffer and parse megabytes.
    let server = Server::builder()
        .set_config(
            jsonrpsee::server::ServerConfig::builder()
                .max_request_body_size(MAX_RPC_REQUEST_BYTES)
                .build(),
        )
        .build(cfg.rpc_listen)
        .await
        .map_err(|source| NodeError::Io {
            context: format!("rpc.listen_addr: cannot bind {}", cfg.rpc_listen),
            source,
        })?;
    let rpc_addr = server
        .local_addr()
        .map_err(|source| NodeError::Io { context: "rpc.listen_addr".into(), source })?;

    // Execution requests of committed blocks, beside the FIRM record (kept for good: a peer
    // catching up may ask for any block, and blocks with requests are rare).
    let requests = cfg
        .firm_record_path
        .as_deref()
        .map(|path| BlockFiles::open(&requests_dir(path), "requests"))
        .transpose()?;
    let (key, mode) = match agreement {
        Agreement::Single(consensus) => (consensus.key().clone(), Mode::Single(consensus)),
        Agreement::Bft(setup) => {
            let setup = *setup;
            let certificates = setup
                .certificates_dir
                .as_deref()
                .map(|d| BlockFiles::open(d, "cert"))
                .transpose()?;
            let heads = SharedHeads::new(tracker.state());
            let execution = RethExecution {
                engine: engine.clone(),
                mempool: mempool.clone(),
                heads: heads.clone(),
                block_time: cfg.block_time,
                build_time: cfg.build_time,
                fee_recipient: cfg.fee_recipient,
                requests: requests.clone(),
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
        server.start(SequencerRpc::new(mempool.clone(), status.clone(), state_rpc).into_rpc());
    info!(target: "sequencer", %rpc_addr, "JSON-RPC listening");

    let (da_tx, da_rx) = mpsc::unbounded_channel();
    let (firm_tx, firm_rx) = mpsc::unbounded_channel();
    // What the producer has durably recorded FIRM, for the DA task's journal (see `da_task`).
    let (firm_durable, durable_firm) = watch::channel(tracker.finalized().number);
    let now = Instant::now();
    let mut soft_at = BTreeMap::new();
    for (block, body) in unfinalized {
        soft_at.insert(block.number, now);
        let certificate = match &mode {
            Mode::Bft { certificates: Some(store), .. } => store.load(&block),
            _ => None,
        };
        let requests = match body.header.requests_hash {
            Some(hash) if hash != alloy_eips::eip7685::EMPTY_REQUESTS_HASH => {
                let found = requests.as_ref().and_then(|store| store.load_requests(&block, hash));
                if found.is_none() {
                    warn!(target: "sequencer", number = block.number, "the execution requests of a block not FIRM yet are not recorded; its batch goes to DA without them");
                }
                found
            }
            _ => None,
        };
        let _ = da_tx.send(DaJob { block, body, certificate, requests });
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
    let da = tokio::spawn(da_task.run(da_rx, firm_tx, durable_firm, cancel.clone()));
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
        firm_durable,
        backpressured: false,
        requests,
    };
    // Transactions go to reth's pool as soon as they are accepted, not at this validator's next
    // block: reth rebuilds the payload while the leader waits out its build time (with
    // `--builder.interval` below it), and takes what reached its pool by then; a validator
    // set's next leader is usually another validator, whose reth gets them over devp2p.
    let forward = match producer.mode {
        Mode::Bft { .. } => Forward::All,
        Mode::Single(_) => Forward::Ready,
    };
    tokio::spawn(forward_continuously(
        producer.engine.clone(),
        producer.mempool.clone(),
        status.clone(),
        forward,
        cancel.clone(),
    ));
    let producer = tokio::spawn(producer.run(firm_rx, cancel.clone()));
    Ok(NodeHandle { rpc_addr, status, cancel, producer: Some(producer), da: Some(da), rpc })
}
