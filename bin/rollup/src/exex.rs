//! The reth side of the kona ExEx: adapts reth's types into the reth-free `rollup-exex` core.

use crate::engine::{EngineHandover, RethEngine};
use alloy_eips::BlockNumHash;
use futures::StreamExt;
use op_alloy_consensus::OpBlock;
use reth_exex::{ExExContext, ExExEvent, ExExNotification};
use reth_node_api::{FullNodeComponents, NodeTypes};
use reth_optimism_node::OpEngineTypes;
use reth_optimism_primitives::OpPrimitives;
use reth_optimism_rpc::OpEngineApiServer;
use reth_provider::{BlockNumReader, BlockReader, Chain};
use rollup_cli::NodeCliConfig;
use rollup_exex::{
    ExExHost, KonaExExError, KonaNodeExEx,
    safe_head_db::{self, SafeHeadDb},
};
use rollup_providers_local::{
    BufferedL2Provider, ChainStateEvent, L2BlockSource, SealedL2Block, SourceError,
};
use std::{fmt, sync::Arc};
use tracing::{error, info, warn};

/// How long derivation's read of a block just made canonical waits for its ExEx notification
/// (it arrives within milliseconds; see `BufferedL2Provider::with_ahead_wait`).
const NOTIFICATION_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How long reth's shutdown waits for kona to stop: inside the 5 s reth's CLI runner gives its
/// graceful tasks.
const KONA_STOP_WITHIN: std::time::Duration = std::time::Duration::from_millis(4500);

/// Blocks read from reth's database into the buffer at start-up. Older blocks are served by the
/// database fallback on demand; a restart therefore never leaves derivation blind.
const STARTUP_SYNC_BLOCKS: u64 = 1024;

/// The safe-head database's file, under reth's datadir for the chain.
const SAFE_HEAD_DB_FILE: &str = "kona/safe_head.db";

/// The ExEx future: sets kona up from reth's context and runs it until reth stops, or kona fails
/// in a way a restart cannot cure (or `--kona.exit-on-failure` asks to stop on any failure).
/// kona's own failures are restarted inside [`KonaNodeExEx::run`] while reth keeps serving.
///
/// `engine_api` delivers reth's engine API handler, with a listener of reth's engine events, once
/// reth has built it (after this ExEx launched): kona drives reth through it in-process, never
/// through the auth RPC server.
pub(crate) async fn run<Node, Api>(
    ctx: ExExContext<Node>,
    config: NodeCliConfig,
    engine_api: tokio::sync::oneshot::Receiver<EngineHandover<Api>>,
) -> eyre::Result<()>
where
    Node: FullNodeComponents<Types: NodeTypes<Primitives = OpPrimitives>>,
    Api: OpEngineApiServer<OpEngineTypes> + Clone,
{
    let engine = RethEngine::new(engine_api, ctx.provider().clone());
    let rollup_config = Arc::new(config.rollup_config.clone());
    let fallback = Arc::new(RethBlocks(ctx.provider().clone()));
    let provider = BufferedL2Provider::new(rollup_config)
        .with_fallback(fallback)
        .with_ahead_wait(NOTIFICATION_WAIT);
    let window = provider.capacity();

    // For each L1 block derivation finished, the safe head it produced: served as
    // `optimism_safeHeadAtL1Block`, kept across restarts in reth's datadir.
    let safe_heads = SafeHeadDb::open(
        ctx.config.datadir().data_dir().join(SAFE_HEAD_DB_FILE),
        safe_head_db::DEFAULT_RETENTION,
    )?;
    info!(target: "kona_exex", path = %safe_heads.path().display(), entries = safe_heads.len(), "safe-head database open");
    let mut exex =
        KonaNodeExEx::new(config, engine, provider).with_safe_head_db(Arc::new(safe_heads));
    exex.sync_state(recent_blocks(ctx.provider())?)?;

    // reth's graceful shutdown (SIGINT/SIGTERM) stops kona through the shared token and holds
    // reth's shutdown guard until kona has stopped. reth drops this ExEx future (it runs it with
    // `spawn_critical`) the moment the signal fires; kona's actors, on their own runtime, still
    // stop in order (see `KonaNodeExEx::kona_stopped`), and reth waits for that before it exits.
    let token = exex.cancellation().clone();
    let mut kona_stopped = exex.kona_stopped();
    ctx.task_executor().spawn_with_graceful_shutdown_signal(|shutdown| async move {
        let guard = shutdown.await;
        info!(target: "kona_exex", "reth is shutting down; stopping kona");
        token.cancel();
        let stopped = kona_stopped.wait_for(|stopped| *stopped);
        match tokio::time::timeout(KONA_STOP_WITHIN, stopped).await {
            Ok(_) => info!(target: "kona_exex", "kona stopped"),
            Err(_) => {
                warn!(target: "kona_exex", bound_secs = KONA_STOP_WITHIN.as_secs_f64(), "kona did not stop within reth's shutdown window")
            }
        }
        drop(guard);
    });

    let notifications =
        ctx.notifications.map(move |notification| notification.map(|n| chain_event(&n, window)));
    let mut host = RethHost(ctx.events);
    match exex.run(notifications, &mut host).await {
        // reth is shutting down (its signal cancelled the token, or its ExEx manager went away)
        // and kona has stopped. Returning now would make reth report the ExEx as crashed ("ExEx
        // finished"), pointing the operator at kona; reth drops this future once it is done.
        Ok(()) => {
            info!(target: "kona_exex", "kona stopped with the node");
            std::future::pending().await
        }
        Err(err) => {
            error!(target: "kona_exex", %err, "kona failed; stopping the node");
            Err(err.into())
        }
    }
}

/// The newest canonical blocks in reth's database, oldest first.
fn recent_blocks<P>(provider: &P) -> eyre::Result<Vec<SealedL2Block>>
where
    P: BlockReader<Block = OpBlock> + BlockNumReader,
{
    let best = provider.best_block_number()?;
    let first = best.saturating_sub(STARTUP_SYNC_BLOCKS - 1);
    Ok(provider.block_range(first..=best)?.into_iter().map(SealedL2Block::seal_slow).collect())
}

/// The newest `window` blocks of `chain`, oldest first. Only these can end up in the buffer: a
/// pipeline sync commits thousands of blocks in one notification, and copying the others would
/// only be thrown away (see `ChainStateEvent`).
fn sealed_blocks(chain: &Chain<OpPrimitives>, window: usize) -> Vec<SealedL2Block> {
    chain
        .blocks_iter()
        .skip(chain.len().saturating_sub(window))
        .map(|block| {
            SealedL2Block::new(block.hash(), Arc::new(block.clone_sealed_block().into_block()))
        })
        .collect()
}

/// Number and hash of every block of a chain that left the canonical chain: all the buffer checks
/// of them, whatever the depth.
fn num_hashes(chain: &Chain<OpPrimitives>) -> Vec<BlockNumHash> {
    chain.blocks_iter().map(|block| block.num_hash()).collect()
}

/// reth's notification in the core's reth-free form, new chains cut to the buffer's `window`.
fn chain_event(notification: &ExExNotification<OpPrimitives>, window: usize) -> ChainStateEvent {
    match notification {
        ExExNotification::ChainCommitted { new } => {
            ChainStateEvent::Committed { new: sealed_blocks(new, window) }
        }
        ExExNotification::ChainReorged { old, new } => {
            ChainStateEvent::Reorged { old: num_hashes(old), new: sealed_blocks(new, window) }
        }
        ExExNotification::ChainReverted { old } => {
            ChainStateEvent::Reverted { old: num_hashes(old) }
        }
    }
}

/// Reports processed heights so reth can prune its ExEx write-ahead log.
struct RethHost(tokio::sync::mpsc::UnboundedSender<ExExEvent>);

impl ExExHost for RethHost {
    fn finished_height(&mut self, tip: BlockNumHash) -> Result<(), KonaExExError> {
        self.0
            .send(ExExEvent::FinishedHeight(tip))
            .map_err(|_| KonaExExError::HostClosed("its event channel is closed"))
    }
}

/// Blocks older than the buffer, from reth's database (on the blocking pool: MDBX reads block).
struct RethBlocks<P>(P);

impl<P> fmt::Debug for RethBlocks<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RethBlocks")
    }
}

#[async_trait::async_trait]
impl<P> L2BlockSource for RethBlocks<P>
where
    P: BlockReader<Block = OpBlock> + Clone + Send + Sync + 'static,
{
    async fn block_by_number(&self, number: u64) -> Result<Option<SealedL2Block>, SourceError> {
        let provider = self.0.clone();
        tokio::task::spawn_blocking(move || provider.block_by_number(number))
            .await
            .map_err(SourceError::new)?
            .map(|block| block.map(SealedL2Block::seal_slow))
            .map_err(SourceError::new)
    }

    async fn block_by_hash(
        &self,
        hash: alloy_primitives::B256,
    ) -> Result<Option<SealedL2Block>, SourceError> {
        let provider = self.0.clone();
        tokio::task::spawn_blocking(move || provider.block_by_hash(hash))
            .await
            .map_err(SourceError::new)?
            .map(|block| block.map(|block| SealedL2Block::new(hash, Arc::new(block))))
            .map_err(SourceError::new)
    }

    /// One read for a whole re-seed of the buffer (reth's provider reads the range from one view
    /// of its chain), sealed off the async runtime too.
    async fn blocks_in_range(
        &self,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Vec<SealedL2Block>, SourceError> {
        let provider = self.0.clone();
        tokio::task::spawn_blocking(move || {
            provider
                .block_range(range)
                .map(|blocks| blocks.into_iter().map(SealedL2Block::seal_slow).collect::<Vec<_>>())
        })
        .await
        .map_err(SourceError::new)?
        .map_err(SourceError::new)
    }
}
