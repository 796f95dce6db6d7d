//! Metric names (recorded through the `metrics` facade; the binary installs a Prometheus
//! exporter). Latencies are in seconds.

/// Gauge: SOFT head number.
pub const SOFT_HEAD: &str = "sequencer_soft_head";
/// Gauge: FIRM head number.
pub const FIRM_HEAD: &str = "sequencer_firm_head";
/// Histogram: block production start (tick) to SOFT.
pub const SOFT_LATENCY: &str = "sequencer_soft_latency";
/// Histogram: SOFT to FIRM.
pub const FINALITY_LATENCY: &str = "sequencer_finality_latency";
/// Gauge: blocks awaiting DA finality.
pub const PENDING_DA: &str = "sequencer_pending_da_blocks";
/// Gauge: transactions in the mempool.
pub const MEMPOOL_TXS: &str = "sequencer_mempool_txs";
/// Counter: transactions evicted from the mempool, label `reason`.
pub const MEMPOOL_EVICTIONS: &str = "sequencer_mempool_evictions_total";
/// Counter: transactions the execution client did not take (kept and retried), label `kind`.
pub const FORWARD_FAILURES: &str = "sequencer_forward_failures_total";
/// Counter: SOFT blocks.
pub const BLOCKS: &str = "sequencer_blocks_total";
/// Counter: transactions included in SOFT blocks.
pub const TXS_INCLUDED: &str = "sequencer_txs_included_total";
/// Counter: included transactions that were not in this sequencer's mempool (a single
/// validator: they bypassed it; a validator set: mostly the other validators' transactions).
pub const FOREIGN_TXS: &str = "sequencer_foreign_txs_total";
/// Counter: ticks skipped because `soft - firm >= max_soft_ahead`.
pub const BACKPRESSURE: &str = "sequencer_backpressure_ticks_total";
/// Counter: failed block production attempts, label `kind`.
pub const ENGINE_ERRORS: &str = "sequencer_engine_errors_total";
/// Counter: DA batches submitted.
pub const DA_SUBMISSIONS: &str = "sequencer_da_submissions_total";
/// Counter: failed DA submissions.
pub const DA_ERRORS: &str = "sequencer_da_errors_total";
/// Counter: DA submissions sent again after an attempt without an answer.
pub const DA_RETRIES: &str = "sequencer_da_retries_total";
/// Counter: batch bytes included on DA.
pub const DA_BYTES: &str = "sequencer_da_bytes_total";
/// Histogram: first send of a batch to its inclusion on DA.
pub const DA_INCLUSION_LATENCY: &str = "sequencer_da_inclusion_latency";

/// Registers descriptions (call once after installing a recorder).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(SOFT_HEAD, "SOFT head: executed, forkchoice head = safe");
    describe_gauge!(FIRM_HEAD, "FIRM head: DA-final, forkchoice finalized");
    describe_histogram!(SOFT_LATENCY, metrics::Unit::Seconds, "start of block production to SOFT");
    describe_histogram!(FINALITY_LATENCY, metrics::Unit::Seconds, "SOFT to FIRM");
    describe_gauge!(PENDING_DA, "blocks awaiting DA finality");
    describe_gauge!(MEMPOOL_TXS, "transactions in the mempool");
    describe_counter!(MEMPOOL_EVICTIONS, "transactions evicted from the mempool, by reason");
    describe_counter!(FORWARD_FAILURES, "transactions the execution client did not take yet");
    describe_counter!(BLOCKS, "SOFT blocks produced");
    describe_counter!(TXS_INCLUDED, "transactions included");
    describe_counter!(
        FOREIGN_TXS,
        "included transactions that were not in this sequencer's mempool"
    );
    describe_counter!(BACKPRESSURE, "block ticks skipped by DA back-pressure");
    describe_counter!(ENGINE_ERRORS, "failed block production attempts");
    describe_counter!(DA_SUBMISSIONS, "DA batches submitted");
    describe_counter!(DA_ERRORS, "failed DA submissions");
    describe_counter!(DA_RETRIES, "DA submissions sent again after an attempt without an answer");
    describe_counter!(DA_BYTES, "batch bytes included on DA");
    describe_histogram!(
        DA_INCLUSION_LATENCY,
        metrics::Unit::Seconds,
        "first send of a batch to its inclusion on DA"
    );
    sequencer_consensus::metrics::describe();
}
