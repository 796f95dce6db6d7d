//! [`EngineMetrics`]: the engine actor's own metrics, next to kona's (`kona_node_engine_*`, see
//! [`kona_engine::Metrics`]), recorded through the `metrics` facade.

use metrics::{describe_counter, describe_histogram};

/// Names of the engine actor's own metrics.
#[derive(Debug, Clone, Copy)]
pub struct EngineMetrics;

impl EngineMetrics {
    /// Time of the stages of a block build, by `stage` (forkchoice, import).
    pub const BUILD_SECONDS: &'static str = "rollup_engine_build_seconds";
    /// Tasks tried again in place after a temporary error, by `task` (kona's task labels, and
    /// `reset` for the engine reset).
    pub const TASK_RETRIES: &'static str = "rollup_engine_task_retries_total";
    /// Tasks whose temporary error outlasted the retry bound and that were escalated to a
    /// reset, by `task`.
    pub const RETRY_ESCALATIONS: &'static str = "rollup_engine_retry_escalations_total";
    /// Forkchoice updates sent to learn whether the execution layer finished syncing, by the
    /// `status` it answered (`valid`, `syncing`, `error`).
    pub const EL_SYNC_CHECKS: &'static str = "rollup_engine_el_sync_checks_total";
    /// Safe-head database operations that failed, by `op` (`record`, `reset`, `l1_reorg`), and
    /// L1 reads of its canonicality check that failed (`op` = `l1_check`). The engine goes on.
    pub const SAFE_HEAD_DB_ERRORS: &'static str = "rollup_engine_safe_head_db_errors_total";
    /// Built blocks the engine imported before the execution layer's block tree had taken them
    /// from its payload builder (see [`AddedBlocks`](crate::AddedBlocks)): each one executed a
    /// second time on import.
    pub const TREE_HANDOVER_TIMEOUTS: &'static str = "rollup_engine_tree_handover_timeouts_total";

    /// Describes the engine actor's metrics (kona's are described by kona-node-service's
    /// `Metrics::init`).
    pub fn describe() {
        describe_histogram!(
            Self::BUILD_SECONDS,
            metrics::Unit::Seconds,
            "Time of the stages of a block build"
        );
        describe_counter!(
            Self::TASK_RETRIES,
            "Engine tasks tried again in place after a temporary error"
        );
        describe_counter!(
            Self::RETRY_ESCALATIONS,
            "Engine tasks escalated to a reset after too many temporary errors"
        );
        describe_counter!(
            Self::EL_SYNC_CHECKS,
            "Forkchoice updates sent to check whether the execution layer finished syncing"
        );
        describe_counter!(
            Self::SAFE_HEAD_DB_ERRORS,
            "Failed safe head database operations of the engine actor, by op"
        );
        describe_counter!(
            Self::TREE_HANDOVER_TIMEOUTS,
            "Built blocks imported before the execution layer's block tree had them"
        );
        rollup_safe_head_db::SafeHeadDbMetrics::describe();
    }
}
