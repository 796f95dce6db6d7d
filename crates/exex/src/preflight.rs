//! Waiting for L1 before kona's actors start.
//!
//! kona-node-service 0.1.3 panics when the beacon API does not answer `/eth/v1/config/spec` while
//! the derivation pipeline is built, and its L1 watcher gives up when the L1 RPC is down. Inside
//! reth, either would take the whole node down, and a process supervisor would restart it into
//! the same failure. So the ExEx checks both L1 endpoints first and retries with capped
//! exponential backoff, logging the numbers an operator needs, until they answer or the node is
//! stopped. A wrong L1 (chain id differs from the rollup config) is a configuration error and is
//! not retried.

use crate::{ExExMetrics, KonaExExError};
use alloy_provider::{Provider, RootProvider};
use kona_providers_alloy::BeaconClient;
use metrics::{counter, gauge};
use rollup_providers_beacon::BeaconApiClient;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use url::Url;

/// Capped exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Largest delay between attempts.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The delay before attempt `attempt + 1`, counting the first attempt as 1.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// What the L1 endpoints reported once ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Status {
    /// L1 chain id (equal to the rollup config's).
    pub chain_id: u64,
    /// L1 head block number at the time of the check.
    pub head: u64,
    /// Beacon chain genesis time.
    pub beacon_genesis_time: u64,
    /// Beacon slot duration, from `/eth/v1/config/spec`.
    pub seconds_per_slot: u64,
    /// Attempts it took.
    pub attempts: u32,
}

/// Checks the L1 execution RPC and the beacon API that kona needs.
#[derive(Debug, Clone)]
pub struct L1Readiness {
    l1_rpc: Url,
    l1_beacon: Url,
    expected_chain_id: u64,
    backoff: Backoff,
}

/// One failed check.
#[derive(Debug)]
enum CheckError {
    /// Not (yet) reachable or not (yet) serving what kona needs: retry.
    Retry { endpoint: &'static str, error: String },
    /// Misconfiguration: stop.
    Fatal(KonaExExError),
}

impl L1Readiness {
    /// Readiness checks for the given endpoints; `expected_chain_id` is the rollup config's
    /// `l1_chain_id`.
    pub fn new(l1_rpc: Url, l1_beacon: Url, expected_chain_id: u64) -> Self {
        Self { l1_rpc, l1_beacon, expected_chain_id, backoff: Backoff::default() }
    }

    /// Replaces the default backoff.
    pub const fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Retries until both endpoints answer, the token is cancelled (`Ok(None)`), or the L1 is the
    /// wrong chain (`Err`).
    pub async fn wait(
        &self,
        cancellation: &CancellationToken,
    ) -> Result<Option<L1Status>, KonaExExError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.check_once().await {
                Ok(mut status) => {
                    status.attempts = attempt;
                    gauge!(ExExMetrics::L1_READY).set(1.0);
                    info!(
                        target: "kona_exex::l1",
                        l1_chain_id = status.chain_id,
                        l1_head = status.head,
                        seconds_per_slot = status.seconds_per_slot,
                        attempts = attempt,
                        "L1 RPC and beacon API ready"
                    );
                    return Ok(Some(status));
                }
                Err(CheckError::Fatal(error)) => return Err(error),
                Err(CheckError::Retry { endpoint, error }) => {
                    gauge!(ExExMetrics::L1_READY).set(0.0);
                    counter!(ExExMetrics::L1_CHECK_FAILURES, "endpoint" => endpoint).increment(1);
                    let delay = self.backoff.delay(attempt);
                    warn!(
                        target: "kona_exex::l1",
                        endpoint,
                        url = %if endpoint == "l1_rpc" { &self.l1_rpc } else { &self.l1_beacon },
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        %error,
                        "L1 not ready; kona actors wait"
                    );
                    tokio::select! {
                        _ = cancellation.cancelled() => return Ok(None),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Keeps checking L1 every `interval` while kona runs, until `cancellation`, and publishes the
    /// result on `healthy`. kona 0.1.3's sequencer waits on an unresponsive L1 without a word;
    /// this makes the outage visible (a warning per failed check with the running count, the
    /// `kona_exex_l1_ready` gauge at 0) and its end too.
    pub async fn monitor(
        &self,
        interval: Duration,
        healthy: tokio::sync::watch::Sender<bool>,
        cancellation: CancellationToken,
    ) {
        let mut failures = 0u32;
        loop {
            tokio::select! {
                _ = cancellation.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            let outcome = tokio::time::timeout(interval, self.check_once()).await;
            match outcome {
                Ok(Ok(_)) => {
                    if failures > 0 {
                        info!(target: "kona_exex::l1", failed_checks = failures, "L1 answers again");
                    }
                    failures = 0;
                    gauge!(ExExMetrics::L1_READY).set(1.0);
                    healthy.send_replace(true);
                }
                failed => {
                    failures += 1;
                    let (endpoint, error) = match failed {
                        Ok(Err(CheckError::Retry { endpoint, error })) => (endpoint, error),
                        Ok(Err(CheckError::Fatal(error))) => ("l1_rpc", error.to_string()),
                        _ => ("l1", format!("no answer within {} ms", interval.as_millis())),
                    };
                    counter!(ExExMetrics::L1_CHECK_FAILURES, "endpoint" => endpoint).increment(1);
                    gauge!(ExExMetrics::L1_READY).set(0.0);
                    healthy.send_replace(false);
                    warn!(
                        target: "kona_exex::l1",
                        endpoint,
                        failed_checks = failures,
                        down_for_secs = (interval * failures).as_secs(),
                        %error,
                        "L1 unresponsive; kona's sequencer and derivation wait for it"
                    );
                }
            }
        }
    }

    async fn check_once(&self) -> Result<L1Status, CheckError> {
        let rpc = RootProvider::<alloy_provider::network::Ethereum>::new_http(self.l1_rpc.clone());
        let retry = |error: String| CheckError::Retry { endpoint: "l1_rpc", error };
        let chain_id = rpc.get_chain_id().await.map_err(|e| retry(e.to_string()))?;
        if chain_id != self.expected_chain_id {
            return Err(CheckError::Fatal(KonaExExError::L1ChainIdMismatch {
                url: self.l1_rpc.to_string(),
                actual: chain_id,
                expected: self.expected_chain_id,
            }));
        }
        let head = rpc.get_block_number().await.map_err(|e| retry(e.to_string()))?;

        let beacon = BeaconApiClient::new(&self.l1_beacon);
        let retry = |error: rollup_providers_beacon::BeaconError| CheckError::Retry {
            endpoint: "l1_beacon",
            error: error.to_string(),
        };
        let spec = beacon.config_spec().await.map_err(retry)?;
        let genesis = beacon.beacon_genesis().await.map_err(retry)?;
        Ok(L1Status {
            chain_id,
            head,
            beacon_genesis_time: genesis.data.genesis_time,
            seconds_per_slot: spec.data.seconds_per_slot,
            attempts: 0,
        })
    }
}
