//! [`BeaconApiClient`]: kona's `BeaconClient`, status first.

use crate::{BeaconError, BeaconMetrics};
use alloy_eips::eip4844::IndexedBlobHash;
use alloy_rpc_types_beacon::sidecar::{BeaconBlobBundle, BlobData};
use async_trait::async_trait;
use kona_providers_alloy::{APIConfigResponse, APIGenesisResponse, BeaconClient};
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// How long one request may take by default. A blob sidecars answer is at most a few MiB.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest part of a non-JSON error body an error keeps.
const MAX_MESSAGE_CHARS: usize = 256;

/// A beacon API client for kona's `OnlineBlobProvider` and the batcher's read-back: the three
/// endpoints kona reads (`config/spec`, `beacon/genesis`, `beacon/blob_sidecars/{slot}`), with
/// the status checked before the body is decoded.
#[derive(Debug, Clone)]
pub struct BeaconApiClient {
    /// The base URL as given, without a trailing slash: paths are appended to it, so a base with
    /// a path (a provider's `/<key>/` prefix) keeps it.
    base: String,
    http: reqwest::Client,
    timeout: Duration,
}

impl BeaconApiClient {
    /// A client of the beacon API at `base`, with [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn new(base: &Url) -> Self {
        Self {
            base: base.as_str().trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The same client with each request bounded by `timeout`.
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
    ) -> Result<T, BeaconError> {
        BeaconMetrics::request(endpoint);
        let result = self.fetch(path).await;
        if let Err(error) = &result {
            BeaconMetrics::failure(endpoint, error.kind());
        }
        result
    }

    async fn fetch<T: DeserializeOwned>(&self, path: &str) -> Result<T, BeaconError> {
        let transport = |source: reqwest::Error| BeaconError::Transport {
            path: path.to_owned(),
            source: source.without_url(),
        };
        let response = self
            .http
            .get(format!("{}/{path}", self.base))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(BeaconError::Status {
                path: path.to_owned(),
                status: status.as_u16(),
                message: error_message(&body),
            });
        }
        serde_json::from_slice(&body)
            .map_err(|source| BeaconError::Decode { path: path.to_owned(), source })
    }
}

#[async_trait]
impl BeaconClient for BeaconApiClient {
    type Error = BeaconError;

    async fn config_spec(&self) -> Result<APIConfigResponse, Self::Error> {
        self.get("spec", "eth/v1/config/spec").await
    }

    async fn beacon_genesis(&self) -> Result<APIGenesisResponse, Self::Error> {
        self.get("genesis", "eth/v1/beacon/genesis").await
    }

    /// The sidecars of `hashes`, in their order; one the node did not send is left out (kona's
    /// blob provider then reports the count mismatch), as kona's own client does.
    async fn beacon_blob_side_cars(
        &self,
        slot: u64,
        hashes: &[IndexedBlobHash],
    ) -> Result<Vec<BlobData>, Self::Error> {
        let bundle: BeaconBlobBundle =
            self.get("blob_sidecars", &format!("eth/v1/beacon/blob_sidecars/{slot}")).await?;
        Ok(hashes
            .iter()
            .filter_map(|hash| bundle.data.iter().find(|sidecar| sidecar.index == hash.index))
            .cloned()
            .collect())
    }
}

/// The beacon API's error `message`, or the start of the body when it is not that JSON.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        message: String,
    }
    if let Ok(error) = serde_json::from_slice::<ApiError>(body) {
        return error.message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut message: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        message.push('…');
    }
    message
}
