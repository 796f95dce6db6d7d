//! The core of the `rollup` binary's Execution Extension: kona-node running inside reth.
//!
//! Nothing here depends on reth, so CI can test it; `bin/rollup` only adapts reth's types:
//! reth's `ExExNotification`s become [`ChainStateEvent`](rollup_providers_local::ChainStateEvent)s,
//! [`ExExHost::finished_height`] becomes `ExExEvent::FinishedHeight`, and the engine is an
//! [`ExecutionEngine`](rollup_engine::ExecutionEngine) over reth's own engine API handler,
//! called in-process (no engine RPC, no JWT).
//!
//! - [`KonaNodeExEx`]: the lifecycle — seed the L2 buffer from the node's chain, wait for L1,
//!   start kona's actors, apply chain events to the buffer and report processed heights, stop.
//! - [`KonaNodeService`]: kona-node-service 0.1.3's `RollupNodeService`, with derivation reading
//!   L2 blocks from the in-memory [`BufferedL2Provider`](rollup_providers_local::BufferedL2Provider)
//!   instead of RPC, and kona's default `start()` replaced by one that runs under our token.
//! - [`ActorSupervisor`]: one `CancellationToken`, first failure cancels all, bounded shutdown
//!   that aborts and names actors that do not stop.
//! - Restarts: a kona failure stops kona, not reth. Each run of kona's actors gets a tokio
//!   runtime of its own, dropped when the run ends (kona leaves tasks behind that would otherwise
//!   hold its ports), and a failed run is followed by a fresh one after a capped exponential
//!   backoff, unless the operator asked for `--kona.exit-on-failure`.
//! - [`L1HeadWatcher`]: the L1 watcher actor, polling the L1 head at the L1 block time instead
//!   of kona's 13 s, so derivation and the sequencer hear of new L1 blocks when they come.
//! - [`L1Provider`]: derivation's L1 reads with one cache for all its readers, and finalized L1
//!   blocks read ahead in batches while the engine builds.
//! - [`L1Readiness`]: waits with backoff for the L1 RPC and beacon API instead of letting kona
//!   panic or give up, which inside reth would take the node down.

mod batcher;
pub use batcher::{BufferedChain, submitter_config};

mod error;
pub use error::{ActorError, BoxedError, KonaExExError};

mod exex;
pub use exex::{
    DEFAULT_L1_CHECK_INTERVAL, DEFAULT_RESTART_BACKOFF, DEFAULT_RESTART_RESET_AFTER, ExExHost,
    KonaNodeExEx,
};

mod instance;

mod l1_provider;
pub use l1_provider::{DEFAULT_READ_AHEAD, L1Provider};

mod l1_watcher;
pub use l1_watcher::{L1HeadWatcher, L1HeadWatcherBuilder, MAX_LOG_RANGE, log_range};

mod metrics;
pub use metrics::ExExMetrics;

mod proposer;
pub use proposer::{NodeOutputs, proposer_config};

mod preflight;
pub use preflight::{Backoff, L1Readiness, L1Status};

mod service;
pub use service::{
    BufferedAttributesBuilder, BufferedDerivationPipeline, BufferedPipelineBuilder,
    DEFAULT_L1_POLL_INTERVAL, KonaNodeService, L1DataSource,
};

mod rpc;
pub use rpc::{
    KonaRpcActor, KonaRpcBuilder, P2P_READ_METHODS, RpcServerError, SAFE_HEAD_AT_L1_BLOCK,
    SAFE_HEAD_NOT_FOUND, rpc_module,
};

mod sequencer_l2;
pub use sequencer_l2::BufferedL2Transport;

/// The safe-head database ([`KonaNodeExEx::with_safe_head_db`]), for hosts that open it.
pub use rollup_safe_head_db as safe_head_db;

mod supervisor;
pub use supervisor::{ActorSupervisor, DEFAULT_SHUTDOWN_TIMEOUT, ShutdownReport};
