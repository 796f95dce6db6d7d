//! [`CelestiaDa`]: the sequencer's DA client over `celestia-rpc`.

use crate::CelestiaError;
use alloy_primitives::{B256, Bytes};
use celestia_rpc::{BlobClient, Client, HeaderClient, TxConfig};
use celestia_types::{Blob, nmt::Namespace as CelestiaNamespace};
use sequencer_da::{DaClient, DaError, DaHeight, Inclusion, Namespace, redact_url, redact_urls};
use std::time::Duration;
use tracing::debug;

/// Largest blob the sequencer posts to Celestia by default: below the 2 MiB a Celestia block's
/// square holds at the default governance parameters, with room for the share overhead.
pub const DEFAULT_MAX_BLOB_SIZE: usize = 1_900_000;

/// How [`CelestiaDa`] talks to its node.
#[derive(Clone)]
pub struct CelestiaDaConfig {
    /// The node's JSON-RPC URL (`http://…` or `ws://…`); shown only through
    /// [`redact_url`] (providers put tokens in it).
    pub url: String,
    /// The node's auth token (`celestia light auth write`); never logged.
    pub auth_token: Option<String>,
    /// Gas price per unit offered with a first submission (`None`: the node estimates it).
    /// Each submission that fails raises the next one's by 10 %, up to `max_gas_price`.
    pub gas_price: Option<f64>,
    /// Highest gas price ever offered (passed to the node as its cap when it estimates).
    /// Without it, the bumps stop at [`DEFAULT_MAX_GAS_PRICE_MULTIPLIER`] times `gas_price`.
    pub max_gas_price: Option<f64>,
    /// Timeout of one request (a submission waits for inclusion in a block).
    pub request_timeout: Duration,
    /// Largest blob submitted.
    pub max_blob_size: usize,
}

impl std::fmt::Debug for CelestiaDaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the token nor the URL's own credentials reach a log.
        f.debug_struct("CelestiaDaConfig")
            .field("url", &redact_url(&self.url))
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>"))
            .field("gas_price", &self.gas_price)
            .field("max_gas_price", &self.max_gas_price)
            .field("request_timeout", &self.request_timeout)
            .field("max_blob_size", &self.max_blob_size)
            .finish()
    }
}

impl CelestiaDaConfig {
    /// A config for the node at `url`, without a token, the node estimating the gas price.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth_token: None,
            gas_price: None,
            max_gas_price: None,
            request_timeout: Duration::from_secs(60),
            max_blob_size: DEFAULT_MAX_BLOB_SIZE,
        }
    }
}

/// How far the bumps raise a configured gas price when no `max_gas_price` is set: a DA outage
/// of a few dozen failed submissions would otherwise offer hundreds of times the price.
pub const DEFAULT_MAX_GAS_PRICE_MULTIPLIER: f64 = 5.0;

/// The gas price of the next submission: `gas_price` raised 10 % per failure in a row, never
/// above `max_gas_price` (or [`DEFAULT_MAX_GAS_PRICE_MULTIPLIER`] times `gas_price`). `None`
/// when no price is configured (the node estimates).
pub fn bumped_gas_price(config: &CelestiaDaConfig, failures: u32) -> Option<f64> {
    let base = config.gas_price?;
    let price = base * 1.1f64.powi(failures.min(64) as i32);
    let max = config.max_gas_price.unwrap_or(base * DEFAULT_MAX_GAS_PRICE_MULTIPLIER);
    Some(price.min(max))
}

/// The sequencer's Celestia client; see the crate docs.
pub struct CelestiaDa {
    client: Client,
    config: CelestiaDaConfig,
    /// Submissions failed in a row: each bumps the gas price of the next.
    failures: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for CelestiaDa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The auth token stays out of logs, and so do the URL's credentials.
        f.debug_struct("CelestiaDa")
            .field("url", &redact_url(&self.config.url))
            .finish_non_exhaustive()
    }
}

impl CelestiaDa {
    /// Connects to the node (HTTP connects lazily; WebSocket at once).
    pub async fn connect(config: CelestiaDaConfig) -> Result<Self, CelestiaError> {
        let client = Client::new(
            &config.url,
            config.auth_token.as_deref(),
            Some(Duration::from_secs(10)),
            Some(config.request_timeout),
        )
        .await
        .map_err(|e| CelestiaError::Connect {
            url: redact_url(&config.url),
            message: rpc_error(&e),
        })?;
        Ok(Self { client, config, failures: Default::default() })
    }

    /// The gas price policy ([`bumped_gas_price`]) for the failures in a row so far.
    pub fn gas_price(&self) -> Option<f64> {
        bumped_gas_price(&self.config, self.failures.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn tx_config(&self) -> TxConfig {
        let config = match self.gas_price() {
            Some(price) => TxConfig::default().with_gas_price(price),
            None => TxConfig::default(),
        };
        match self.config.max_gas_price {
            Some(max) => config.with_max_gas_price(max),
            None => config,
        }
    }

    fn note_submission(&self, ok: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if ok {
            self.failures.store(0, Relaxed);
        } else {
            self.failures.fetch_add(1, Relaxed);
        }
    }
}

/// A client error as text, without credentials: the transport may quote the URL it failed on.
fn rpc_error(e: &impl std::fmt::Display) -> String {
    redact_urls(&e.to_string())
}

/// The Celestia namespace of the sequencer's namespace (version 0, the same 10 user bytes).
pub(crate) fn celestia_namespace(namespace: &Namespace) -> Result<CelestiaNamespace, String> {
    CelestiaNamespace::new_v0(namespace.user_bytes()).map_err(|e| e.to_string())
}

#[async_trait::async_trait]
impl DaClient for CelestiaDa {
    async fn submit(&self, namespace: &Namespace, blob: Bytes) -> Result<Inclusion, DaError> {
        if blob.len() > self.config.max_blob_size {
            return Err(DaError::BlobTooLarge { size: blob.len(), max: self.config.max_blob_size });
        }
        let namespace = celestia_namespace(namespace).map_err(DaError::Submit)?;
        let blob = Blob::new(namespace, blob.to_vec(), None)
            .map_err(|e| DaError::Submit(format!("building the blob: {e}")))?;
        let commitment = blob.commitment;
        let submitted =
            self.client.blob_submit(std::slice::from_ref(&blob), self.tx_config()).await;
        self.note_submission(submitted.is_ok());
        let height = submitted.map_err(|e| DaError::Submit(rpc_error(&e)))?;
        // Trust the data, not the answer: the blob must be there, byte for byte.
        let included = self.client.blob_get(height, namespace, commitment).await.map_err(|e| {
            DaError::Submit(format!("blob not found at height {height}: {}", rpc_error(&e)))
        })?;
        check_same(height, &blob, &included)?;
        debug!(target: "sequencer::celestia", height, bytes = blob.data.len(), "blob included");
        Ok(Inclusion { height, commitment: B256::from(*commitment.hash()) })
    }

    async fn finalized_height(&self) -> Result<DaHeight, DaError> {
        // CometBFT finality: a block is final once committed, i.e. once its header exists.
        let head =
            self.client.header_network_head().await.map_err(|e| DaError::Query(rpc_error(&e)))?;
        Ok(head.height())
    }

    async fn blobs(&self, namespace: &Namespace, height: DaHeight) -> Result<Vec<Bytes>, DaError> {
        let namespace = celestia_namespace(namespace).map_err(DaError::Query)?;
        let blobs = self
            .client
            .blob_get_all(height, &[namespace])
            .await
            .map_err(|e| DaError::Query(rpc_error(&e)))?
            .unwrap_or_default();
        // Nothing here is expected byte for byte (this reads what others may have posted too),
        // but each answer must be what it claims: under our namespace, and its commitment the
        // one of its bytes, or the history read from it means nothing.
        for blob in &blobs {
            if blob.namespace != namespace {
                return Err(mismatch(height, "a blob of another namespace was returned"));
            }
            blob.validate().map_err(|e| {
                mismatch(height, &format!("a blob's commitment is not that of its bytes ({e})"))
            })?;
        }
        Ok(blobs.into_iter().map(|blob| Bytes::from(blob.data)).collect())
    }

    fn max_blob_size(&self) -> usize {
        self.config.max_blob_size
    }

    fn commitment(&self, namespace: &Namespace, blob: &[u8]) -> Result<B256, DaError> {
        let namespace = celestia_namespace(namespace).map_err(DaError::Query)?;
        let blob = Blob::new(namespace, blob.to_vec(), None)
            .map_err(|e| DaError::Query(format!("building the blob: {e}")))?;
        Ok(B256::from(*blob.commitment.hash()))
    }

    async fn find(
        &self,
        namespace: &Namespace,
        blob: &[u8],
        heights: std::ops::RangeInclusive<DaHeight>,
    ) -> Result<Option<DaHeight>, DaError> {
        let celestia = celestia_namespace(namespace).map_err(DaError::Query)?;
        let expected = Blob::new(celestia, blob.to_vec(), None)
            .map_err(|e| DaError::Query(format!("building the blob: {e}")))?;
        for height in heights {
            let blobs = self
                .client
                .blob_get_all(height, &[celestia])
                .await
                .map_err(|e| DaError::Query(rpc_error(&e)))?;
            // The node's word that a blob has our commitment is not enough: its bytes must be
            // ours, or a lying or broken node would have a batch counted as posted that is not.
            if let Some(found) =
                blobs.unwrap_or_default().iter().find(|b| b.commitment == expected.commitment)
            {
                check_same(height, &expected, found)?;
                return Ok(Some(height));
            }
        }
        Ok(None)
    }
}

fn mismatch(height: DaHeight, message: &str) -> DaError {
    DaError::Mismatch { height, message: message.to_owned() }
}

/// `found`, the node's answer at `height` for `expected`'s commitment, is `expected`: same
/// namespace, same bytes.
fn check_same(height: DaHeight, expected: &Blob, found: &Blob) -> Result<(), DaError> {
    if found.namespace != expected.namespace {
        return Err(mismatch(height, "the blob under our commitment is of another namespace"));
    }
    if found.data != expected.data {
        return Err(mismatch(
            height,
            &format!(
                "the blob under our commitment holds other data ({} bytes, ours {})",
                found.data.len(),
                expected.data.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_price_bumps_are_capped_also_without_a_configured_cap() {
        let mut config = CelestiaDaConfig::new("http://127.0.0.1:26658");
        assert_eq!(bumped_gas_price(&config, 3), None, "the node estimates");
        config.gas_price = Some(0.002);
        assert_eq!(bumped_gas_price(&config, 0), Some(0.002));
        assert!((bumped_gas_price(&config, 1).unwrap() - 0.0022).abs() < 1e-12);
        assert_eq!(bumped_gas_price(&config, 64), Some(0.002 * DEFAULT_MAX_GAS_PRICE_MULTIPLIER));
        config.max_gas_price = Some(0.003);
        assert_eq!(bumped_gas_price(&config, 64), Some(0.003));
    }
}
