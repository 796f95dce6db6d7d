//! [`SafeHeadDbMetrics`]: the safe-head database's metrics, recorded through the `metrics`
//! facade (reth's Prometheus exporter serves them with a `reth_` prefix inside `rollup`).

use metrics::{describe_counter, describe_gauge};

/// Names of the safe-head database's metrics.
#[derive(Debug, Clone, Copy)]
pub struct SafeHeadDbMetrics;

impl SafeHeadDbMetrics {
    /// Entries served (at most the retention).
    pub const ENTRIES: &'static str = "rollup_safe_head_db_entries";
    /// L1 number of the newest entry (0 when empty).
    pub const LATEST_L1_BLOCK: &'static str = "rollup_safe_head_db_latest_l1_block";
    /// Entries recorded.
    pub const RECORDS: &'static str = "rollup_safe_head_db_records_total";
    /// Entries removed, by `reason`: `rederived` (a record at or below the newest L1 number),
    /// `safe_head_reset`, `l1_reorg`.
    pub const REMOVED: &'static str = "rollup_safe_head_db_removed_total";
    /// Compactions of the file to the retained entries.
    pub const COMPACTIONS: &'static str = "rollup_safe_head_db_compactions_total";
    /// Writes that failed (the entries are still served from memory; the next write repairs the
    /// file).
    pub const WRITE_ERRORS: &'static str = "rollup_safe_head_db_write_errors_total";
    /// Bytes of torn or corrupt records dropped when the file was opened.
    pub const DROPPED_ON_OPEN: &'static str = "rollup_safe_head_db_dropped_on_open_bytes_total";

    /// Describes the metrics.
    pub fn describe() {
        describe_gauge!(Self::ENTRIES, "Entries the safe head database serves");
        describe_gauge!(Self::LATEST_L1_BLOCK, "L1 block number of the newest safe head entry");
        describe_counter!(Self::RECORDS, "Safe head entries recorded");
        describe_counter!(Self::REMOVED, "Safe head entries removed, by reason");
        describe_counter!(Self::COMPACTIONS, "Compactions of the safe head database file");
        describe_counter!(Self::WRITE_ERRORS, "Failed writes to the safe head database file");
        describe_counter!(
            Self::DROPPED_ON_OPEN,
            "Bytes of torn or corrupt safe head records dropped when the file was opened"
        );
    }
}
