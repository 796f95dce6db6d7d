//! [`L1HeadWatcher`]: the L1 watcher actor, polling the L1 head at the L1 block time.
//!
//! kona-node-service 0.1.3's `L1WatcherRpc` polls the L1 head every 13 s and the finalized block
//! every 60 s. Derivation only steps when it hears of a new L1 head, so a validator that has
//! derived everything on L1 idles up to 13 s per new L1 block (more than one 12 s slot), and the
//! sequencer picks its L1 origins that late. It also reads the system config's logs of the
//! newest head only: an unsafe-block-signer change in a block between two polls is never seen.
//!
//! This actor takes its place (same channels, same queries): it polls `latest` every
//! `poll_interval` (the L1 slot time unless `--kona.l1-poll-interval` says otherwise), and on
//! every new head also `safe` and `finalized`, and the system config's logs of every block since
//! the previous head. A failed poll is logged and retried at the next tick instead of ending the
//! actor: an L1 outage is [`L1Readiness::monitor`](crate::L1Readiness::monitor)'s to report, and
//! kona picks up where it was when L1 answers again.

use crate::{ExExMetrics, KonaExExError};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::Address;
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_eth::{Filter, Log};
use async_trait::async_trait;
use kona_genesis::{RollupConfig, SystemConfigLog, SystemConfigUpdate, UnsafeBlockSignerUpdate};
use kona_node_service::{L1WatcherRpcContext, L1WatcherRpcInboundChannels, NodeActor};
use kona_protocol::BlockInfo;
use kona_rpc::{L1State, L1WatcherQueries};
use metrics::{counter, gauge};
use std::{sync::Arc, time::Duration};
use tokio::{
    sync::{mpsc, watch},
    time::MissedTickBehavior,
};
use tracing::{debug, info, warn};

/// Most L1 blocks whose system config logs are read in one `eth_getLogs` call: after a long L1
/// outage the watcher reads the missed blocks in slices this big rather than in one call that
/// providers refuse.
pub const MAX_LOG_RANGE: u64 = 1_000;

/// What [`L1HeadWatcher`] needs.
#[derive(Debug, Clone)]
pub struct L1HeadWatcherBuilder {
    /// The rollup config: the system config address, and whether Ecotone is active.
    pub rollup: Arc<RollupConfig>,
    /// The L1 execution RPC.
    pub l1_provider: RootProvider,
    /// How often the L1 head is read.
    pub poll_interval: Duration,
}

/// The L1 watcher actor (see the [module docs](self)).
#[derive(Debug)]
pub struct L1HeadWatcher {
    config: L1HeadWatcherBuilder,
    queries: mpsc::Receiver<L1WatcherQueries>,
}

/// The heads the watcher last published.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Heads {
    head: Option<BlockInfo>,
    safe: Option<BlockInfo>,
    finalized: Option<BlockInfo>,
}

/// The L1 blocks whose system config logs follow a head change from `previous` to `head`: every
/// block after the previous head up to the new one (read in slices of at most [`MAX_LOG_RANGE`]
/// blocks), or only the new head when L1 went back. Blocks a reorg replaced at or below the
/// previous head are not read again (kona's watcher reads the head block alone, always).
pub fn log_range(previous: Option<&BlockInfo>, head: &BlockInfo) -> std::ops::RangeInclusive<u64> {
    let from = match previous {
        Some(previous) if previous.number < head.number => previous.number + 1,
        _ => head.number,
    };
    from..=head.number
}

impl L1HeadWatcherBuilder {
    async fn block(&self, tag: BlockNumberOrTag) -> Result<Option<BlockInfo>, KonaExExError> {
        let block = self
            .l1_provider
            .get_block_by_number(tag)
            .await
            .map_err(|error| KonaExExError::L1Read { what: "block", source: error.into() })?;
        Ok(block.map(|block| block.into_consensus().into()))
    }

    /// The system config's logs in `range`, in slices of at most [`MAX_LOG_RANGE`] blocks.
    async fn system_config_logs(
        &self,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Vec<Log>, KonaExExError> {
        let address = self.rollup.l1_system_config_address;
        let mut logs = Vec::new();
        let mut from = *range.start();
        while from <= *range.end() {
            let to = (from + MAX_LOG_RANGE - 1).min(*range.end());
            let filter = Filter::new().address(address).from_block(from).to_block(to);
            let mut slice =
                self.l1_provider.get_logs(&filter).await.map_err(|error| {
                    KonaExExError::L1Read { what: "logs", source: error.into() }
                })?;
            logs.append(&mut slice);
            from = to + 1;
        }
        Ok(logs)
    }

    /// Reads the heads once and publishes what changed. Returns the heads it published.
    async fn poll(
        &self,
        previous: Heads,
        context: &L1WatcherRpcContext,
    ) -> Result<Heads, KonaExExError> {
        let Some(head) = self.block(BlockNumberOrTag::Latest).await? else {
            return Ok(previous);
        };
        if previous.head == Some(head) {
            return Ok(previous);
        }
        // Signer updates first: a block signed by the new key may arrive right after the head.
        let logs = self.system_config_logs(log_range(previous.head.as_ref(), &head)).await?;
        for signer in unsafe_block_signers(&logs, &self.rollup, head.timestamp) {
            info!(target: "kona_exex::l1_watcher", %signer, "unsafe block signer updated on L1");
            if context.block_signer_sender.send(signer).await.is_err() {
                return Err(KonaExExError::Wiring("the network actor's signer channel is closed"));
            }
        }
        let safe = self.block(BlockNumberOrTag::Safe).await?;
        let finalized = self.block(BlockNumberOrTag::Finalized).await?;

        debug!(target: "kona_exex::l1_watcher", head = head.number, hash = %head.hash, "new L1 head");
        gauge!(ExExMetrics::L1_HEAD).set(head.number as f64);
        context.latest_head.send_replace(Some(head));
        if finalized.is_some() && finalized != previous.finalized {
            context.latest_finalized.send_replace(finalized);
        }
        Ok(Heads { head: Some(head), safe, finalized })
    }
}

/// The unsafe block signers that `logs` (the system config's, in L1 order) set.
fn unsafe_block_signers<'a>(
    logs: &'a [Log],
    rollup: &'a RollupConfig,
    timestamp: u64,
) -> impl Iterator<Item = Address> + 'a {
    let ecotone_active = rollup.is_ecotone_active(timestamp);
    logs.iter().filter(|log| log.address() == rollup.l1_system_config_address).filter_map(
        move |log| match SystemConfigLog::new(log.inner.clone(), ecotone_active).build() {
            Ok(SystemConfigUpdate::UnsafeBlockSigner(UnsafeBlockSignerUpdate {
                unsafe_block_signer,
            })) => Some(unsafe_block_signer),
            _ => None,
        },
    )
}

/// Answers `optimism_syncStatus`'s L1 part and the rollup config from what the watcher published
/// (no L1 round trip per query, unlike kona's watcher).
async fn answer_queries(
    mut queries: mpsc::Receiver<L1WatcherQueries>,
    rollup: Arc<RollupConfig>,
    heads: watch::Receiver<Heads>,
) {
    while let Some(query) = queries.recv().await {
        match query {
            L1WatcherQueries::Config(reply) => {
                let _ = reply.send((*rollup).clone());
            }
            L1WatcherQueries::L1State(reply) => {
                let heads = *heads.borrow();
                let _ = reply.send(L1State {
                    current_l1: heads.head,
                    current_l1_finalized: heads.finalized,
                    head_l1: heads.head,
                    safe_l1: heads.safe,
                    finalized_l1: heads.finalized,
                });
            }
        }
    }
}

#[async_trait]
impl NodeActor for L1HeadWatcher {
    type Error = KonaExExError;
    type InboundData = L1WatcherRpcInboundChannels;
    type OutboundData = L1WatcherRpcContext;
    type Builder = L1HeadWatcherBuilder;

    fn build(config: Self::Builder) -> (Self::InboundData, Self) {
        // As many queued queries as kona's own watcher takes.
        let (inbound_queries, queries) = mpsc::channel(1024);
        (L1WatcherRpcInboundChannels { inbound_queries }, Self { config, queries })
    }

    async fn start(self, context: Self::OutboundData) -> Result<(), Self::Error> {
        let Self { config, queries } = self;
        let (heads_tx, heads_rx) = watch::channel(Heads::default());
        // Not an actor: it ends with the RPC actor's query channel or with this run's runtime.
        let answers = tokio::spawn(answer_queries(queries, config.rollup.clone(), heads_rx));
        info!(
            target: "kona_exex::l1_watcher",
            poll_interval_ms = config.poll_interval.as_millis() as u64,
            "watching the L1 head"
        );
        let mut tick = tokio::time::interval(config.poll_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heads = Heads::default();
        let mut failures = 0u64;
        let result = loop {
            tokio::select! {
                _ = context.cancellation.cancelled() => break Ok(()),
                _ = tick.tick() => {}
            }
            match config.poll(heads, &context).await {
                Ok(next) => {
                    if failures > 0 {
                        info!(target: "kona_exex::l1_watcher", failures, "L1 head readable again");
                        failures = 0;
                    }
                    heads = next;
                    heads_tx.send_replace(heads);
                }
                Err(KonaExExError::L1Read { what, source }) => {
                    failures += 1;
                    counter!(ExExMetrics::L1_WATCHER_FAILURES).increment(1);
                    warn!(target: "kona_exex::l1_watcher", what, failures, error = %source, "L1 head poll failed; next tick retries");
                }
                Err(error) => break Err(error),
            }
        };
        answers.abort();
        result
    }
}
