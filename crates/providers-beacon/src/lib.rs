//! Beacon API access for derivation, the built-in batcher and the L1 readiness check.
//!
//! kona 0.1.3 reads blobs through its `BeaconClient` trait. Its own implementation,
//! `OnlineBeaconClient`, decodes every answer as the JSON it expects whatever the HTTP status, so
//! a beacon node's refusal (a 404 for a slot it does not have, a 500 naming its cause) reaches the
//! derivation log as `error decoding response body`, once per retry, and the cause is lost.
//! [`BeaconApiClient`] implements the same trait for kona's `OnlineBlobProvider`: it checks the
//! status first and reports the node's own message ([`BeaconError::Status`]), bounds every request
//! by a timeout (a beacon node that never answers would otherwise hold derivation forever), never
//! puts the URL (which may carry credentials) in an error, and counts requests and failures
//! ([`BeaconMetrics`]).

mod client;
pub use client::{BeaconApiClient, DEFAULT_REQUEST_TIMEOUT};

mod error;
pub use error::{BeaconError, FailureKind};

mod metrics;
pub use metrics::BeaconMetrics;
