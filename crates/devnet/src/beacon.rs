//! The beacon API adapter that lets kona 0.1.3 run against anvil.
//!
//! anvil serves `/eth/v1/beacon/genesis` but not `/eth/v1/config/spec` (kona panics at start-up
//! without it) and answers 410 to `/eth/v1/beacon/blob_sidecars/{slot}`. The adapter answers the
//! spec itself (the slot time is the L1 block time the devnet runs anvil with), passes genesis
//! through to anvil, and refuses blob sidecars with an explicit 501: the devnet has no blob
//! batches, and a silently empty answer would make a blob batch look like missing data.

use crate::DevnetError;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;
use std::{convert::Infallible, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};
use url::Url;

/// The adapter's configuration.
#[derive(Debug, Clone)]
pub struct BeaconAdapter {
    l1: Url,
    seconds_per_slot: u64,
    client: reqwest::Client,
}

impl BeaconAdapter {
    /// An adapter in front of anvil at `l1`, whose blocks come every `seconds_per_slot` seconds.
    pub fn new(l1: Url, seconds_per_slot: u64) -> Self {
        Self { l1, seconds_per_slot, client: reqwest::Client::new() }
    }

    /// Binds `addr` and serves until the task is dropped. Returns the bound address (useful with
    /// port 0) and the serving future.
    pub async fn bind(
        self,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, impl Future<Output = ()> + Send), DevnetError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| DevnetError::Beacon(format!("bind {addr}: {e}")))?;
        let local = listener.local_addr().map_err(|e| DevnetError::Beacon(e.to_string()))?;
        info!(target: "devnet::beacon", %local, l1 = %self.l1, seconds_per_slot = self.seconds_per_slot, "beacon adapter listening");
        let adapter = Arc::new(self);
        let serve = async move {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        warn!(target: "devnet::beacon", %e, "accept failed");
                        continue;
                    }
                };
                let adapter = adapter.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let adapter = adapter.clone();
                        async move { Ok::<_, Infallible>(adapter.answer(req).await) }
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        debug!(target: "devnet::beacon", %e, "connection ended");
                    }
                });
            }
        };
        Ok((local, serve))
    }

    async fn answer<B>(&self, req: Request<B>) -> Response<Full<Bytes>> {
        let path = req.uri().path().trim_matches('/').to_string();
        debug!(target: "devnet::beacon", %path, "request");
        match path.as_str() {
            "eth/v1/config/spec" => json(
                StatusCode::OK,
                format!(r#"{{"data":{{"SECONDS_PER_SLOT":"{}"}}}}"#, self.seconds_per_slot),
            ),
            "eth/v1/beacon/genesis" => self.proxy(&path).await,
            p if p.starts_with("eth/v1/beacon/blob_sidecars/") => json(
                StatusCode::NOT_IMPLEMENTED,
                r#"{"code":501,"message":"the devnet beacon adapter serves no blob sidecars: batch with calldata"}"#.into(),
            ),
            _ => json(StatusCode::NOT_FOUND, r#"{"code":404,"message":"not found"}"#.into()),
        }
    }

    async fn proxy(&self, path: &str) -> Response<Full<Bytes>> {
        let url = match self.l1.join(path) {
            Ok(url) => url,
            Err(e) => return json(StatusCode::INTERNAL_SERVER_ERROR, error_body(&e.to_string())),
        };
        let response = match self.client.get(url).send().await {
            Ok(response) => response,
            Err(e) => {
                return json(StatusCode::BAD_GATEWAY, error_body(&format!("L1 unreachable: {e}")));
            }
        };
        let status =
            StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        match response.bytes().await {
            Ok(body) => json_bytes(status, body),
            Err(e) => json(StatusCode::BAD_GATEWAY, error_body(&e.to_string())),
        }
    }
}

fn error_body(message: &str) -> String {
    serde_json::json!({ "code": 502, "message": message }).to_string()
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    json_bytes(status, Bytes::from(body))
}

fn json_bytes(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
