//! Test fixtures: a real anvil process as L1 (from `anvil-testing`) and a minimal beacon API.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

pub use anvil_testing::{Anvil, free_port};

/// Serves `/eth/v1/config/spec` and `/eth/v1/beacon/genesis`, the two beacon endpoints kona
/// reads at start-up.
pub struct BeaconFixture {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl BeaconFixture {
    pub const GENESIS_TIME: u64 = 1_700_000_000;

    pub async fn start(seconds_per_slot: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let path = request.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = match path.trim_start_matches('/') {
                        "eth/v1/config/spec" => (
                            "200 OK",
                            format!(r#"{{"data":{{"SECONDS_PER_SLOT":"{seconds_per_slot}"}}}}"#),
                        ),
                        "eth/v1/beacon/genesis" => (
                            "200 OK",
                            format!(r#"{{"data":{{"genesis_time":"{}"}}}}"#, Self::GENESIS_TIME),
                        ),
                        _ => ("404 Not Found", String::from("{}")),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self { port, task }
    }

    pub fn url(&self) -> Url {
        format!("http://127.0.0.1:{}", self.port).parse().unwrap()
    }
}

impl Drop for BeaconFixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An execution layer that is not there: every engine call fails as a refused connection would.
/// The ExEx lifecycle tests need an engine handle, never a working one.
#[derive(Debug, Default)]
pub struct AbsentEngine;

fn absent() -> rollup_engine::EngineError {
    rollup_engine::EngineError::read("anything", "no execution layer in this test")
}

#[async_trait::async_trait]
impl rollup_engine::ExecutionEngine for AbsentEngine {
    async fn new_payload(
        &self,
        _: op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope,
    ) -> Result<alloy_rpc_types_engine::PayloadStatus, rollup_engine::EngineError> {
        Err(absent())
    }

    async fn forkchoice_updated(
        &self,
        _: kona_engine::EngineForkchoiceVersion,
        _: alloy_rpc_types_engine::ForkchoiceState,
        _: Option<op_alloy_rpc_types_engine::OpPayloadAttributes>,
    ) -> Result<alloy_rpc_types_engine::ForkchoiceUpdated, rollup_engine::EngineError> {
        Err(absent())
    }

    async fn get_payload(
        &self,
        _: kona_engine::EngineGetPayloadVersion,
        _: alloy_rpc_types_engine::PayloadId,
    ) -> Result<op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope, rollup_engine::EngineError>
    {
        Err(absent())
    }

    async fn head(
        &self,
        _: rollup_engine::L2Head,
    ) -> Result<Option<rollup_providers_local::SealedL2Block>, rollup_engine::EngineError> {
        Err(absent())
    }

    async fn message_passer_storage_root(
        &self,
        _: alloy_primitives::B256,
    ) -> Result<alloy_primitives::B256, rollup_engine::EngineError> {
        Err(absent())
    }
}
