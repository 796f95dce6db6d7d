//! Metrics of the ExEx core, recorded through the `metrics` facade so that reth's Prometheus
//! exporter serves them next to reth's own. kona's metrics (`kona_node_*`, among them
//! `kona_node_block_labels{label="unsafe"|"safe"|"finalized"}`) are enabled through
//! kona-node-service's `metrics` feature and land on the same endpoint.

use metrics::{counter, describe_counter, describe_gauge, gauge};

/// Names of the ExEx core's metrics.
#[derive(Debug, Clone, Copy)]
pub struct ExExMetrics;

impl ExExMetrics {
    /// Chain-state notifications applied, by `kind` (committed, reorged, reverted).
    pub const NOTIFICATIONS: &'static str = "kona_exex_notifications_total";
    /// Reorgs seen in notifications.
    pub const REORGS: &'static str = "kona_exex_reorgs_total";
    /// Re-seeds of the L2 buffer from the node's chain after a notification that did not fit it,
    /// by `cause` (gap, conflict, detached, stale_revert, reorg_beyond_buffer, fork_mismatch).
    pub const BUFFER_RESEEDS: &'static str = "kona_exex_buffer_reseeds_total";
    /// Highest block reported back to the host as processed.
    pub const FINISHED_HEIGHT: &'static str = "kona_exex_finished_height";
    /// Actors running, by `actor` (1 running, 0 stopped).
    pub const ACTOR_RUNNING: &'static str = "kona_exex_actor_running";
    /// Actor failures that stopped the actor system, by `actor`.
    pub const ACTOR_FAILURES: &'static str = "kona_exex_actor_failures_total";
    /// Actors aborted because they did not stop within the shutdown bound, by `actor`.
    pub const ACTOR_ABANDONED: &'static str = "kona_exex_actor_abandoned_total";
    /// Restarts of kona after a failure, by the `actor` that failed first.
    pub const RESTARTS: &'static str = "kona_exex_restarts_total";
    /// Whether kona's actors are running (1) or stopped, e.g. waiting to be restarted (0).
    pub const KONA_RUNNING: &'static str = "kona_exex_kona_running";
    /// Restarts of the built-in batcher after it died (a panic).
    pub const BATCHER_RESTARTS: &'static str = "kona_exex_batcher_restarts_total";
    /// Restarts of the built-in proposer after it died (a panic).
    pub const PROPOSER_RESTARTS: &'static str = "kona_exex_proposer_restarts_total";
    /// Failed L1 readiness checks, by `endpoint` (l1_rpc, l1_beacon).
    pub const L1_CHECK_FAILURES: &'static str = "kona_exex_l1_check_failures_total";
    /// Whether the L1 endpoints answered the last readiness check (1) or not (0).
    pub const L1_READY: &'static str = "kona_exex_l1_ready";
    /// The L1 head the L1 watcher last published.
    pub const L1_HEAD: &'static str = "kona_exex_l1_head";
    /// L1 head polls of the L1 watcher that failed (retried at the next tick).
    pub const L1_WATCHER_FAILURES: &'static str = "kona_exex_l1_watcher_failures_total";

    /// Describes every metric once, with kona's own.
    pub fn describe() {
        describe_counter!(
            Self::NOTIFICATIONS,
            "Chain-state notifications applied to the L2 buffer"
        );
        describe_counter!(Self::REORGS, "L2 reorgs seen in chain-state notifications");
        describe_counter!(
            Self::BUFFER_RESEEDS,
            "Re-seeds of the L2 buffer from the node's chain after a notification that did not fit it"
        );
        describe_gauge!(Self::FINISHED_HEIGHT, "Highest L2 block reported as processed to reth");
        describe_gauge!(Self::ACTOR_RUNNING, "Whether a kona actor is running");
        describe_counter!(
            Self::ACTOR_FAILURES,
            "kona actor failures that stopped the actor system"
        );
        describe_counter!(Self::ACTOR_ABANDONED, "kona actors aborted at the shutdown deadline");
        describe_counter!(Self::RESTARTS, "Restarts of kona after a failure, by failed actor");
        describe_gauge!(Self::KONA_RUNNING, "Whether kona's actors are running");
        describe_gauge!(Self::L1_HEAD, "The L1 head the L1 watcher last published");
        describe_counter!(
            Self::L1_WATCHER_FAILURES,
            "L1 head polls that failed (the watcher retries at its next tick)"
        );
        describe_counter!(Self::BATCHER_RESTARTS, "Restarts of the built-in batcher after it died");
        describe_counter!(
            Self::PROPOSER_RESTARTS,
            "Restarts of the built-in proposer after it died"
        );
        describe_counter!(Self::L1_CHECK_FAILURES, "Failed L1 readiness checks");
        rollup_batcher::BatcherMetrics::describe();
        rollup_proposer::ProposerMetrics::describe();
        rollup_engine::EngineMetrics::describe();
        rollup_providers_beacon::BeaconMetrics::describe();
        describe_gauge!(
            Self::L1_READY,
            "Whether the L1 RPC and beacon API answered the last check"
        );
        kona_node_service::Metrics::init();
    }
}

/// Recording helpers of the supervisor.
pub(crate) struct SupervisorMetrics;

impl SupervisorMetrics {
    pub(crate) fn actor_started(actor: &'static str) {
        gauge!(ExExMetrics::ACTOR_RUNNING, "actor" => actor).set(1.0);
    }

    pub(crate) fn actor_stopped(actor: &'static str) {
        gauge!(ExExMetrics::ACTOR_RUNNING, "actor" => actor).set(0.0);
    }

    pub(crate) fn actor_failed(actor: &'static str) {
        counter!(ExExMetrics::ACTOR_FAILURES, "actor" => actor).increment(1);
    }

    pub(crate) fn actor_abandoned(actor: &'static str) {
        gauge!(ExExMetrics::ACTOR_RUNNING, "actor" => actor).set(0.0);
        counter!(ExExMetrics::ACTOR_ABANDONED, "actor" => actor).increment(1);
    }
}
