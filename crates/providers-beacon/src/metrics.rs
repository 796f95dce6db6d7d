//! Metrics of the beacon API client, recorded through the `metrics` facade (reth's Prometheus
//! exporter serves them with a `reth_` prefix inside `rollup`).

use crate::FailureKind;
use metrics::{counter, describe_counter};

/// Names of the beacon API client's metrics. Every metric carries an `endpoint` label: `spec`,
/// `genesis` or `blob_sidecars`.
#[derive(Debug, Clone, Copy)]
pub struct BeaconMetrics;

impl BeaconMetrics {
    /// Requests sent, by `endpoint`.
    pub const REQUESTS: &'static str = "rollup_beacon_requests_total";
    /// Failed requests, by `endpoint` and `kind` (`transport`, `status`, `decode`).
    pub const FAILURES: &'static str = "rollup_beacon_failures_total";

    /// Describes the metrics.
    pub fn describe() {
        describe_counter!(Self::REQUESTS, "Beacon API requests sent, by endpoint");
        describe_counter!(
            Self::FAILURES,
            "Beacon API requests that failed, by endpoint and kind (transport, status, decode)"
        );
    }

    pub(crate) fn request(endpoint: &'static str) {
        counter!(Self::REQUESTS, "endpoint" => endpoint).increment(1);
    }

    pub(crate) fn failure(endpoint: &'static str, kind: FailureKind) {
        counter!(Self::FAILURES, "endpoint" => endpoint, "kind" => kind.as_str()).increment(1);
    }
}
