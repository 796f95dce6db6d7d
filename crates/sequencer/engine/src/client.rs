use crate::{BlockRef, BuiltPayload, EngineError, JwtAuthLayer};
use alloy_consensus::{Block, TxEnvelope};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, Bytes};
use alloy_rpc_client::RpcClient;
use alloy_rpc_types_engine::{
    ExecutionPayloadEnvelopeV3, ExecutionPayloadEnvelopeV4, ForkchoiceState, ForkchoiceUpdated,
    JwtSecret, PayloadAttributes, PayloadId, PayloadStatus, PayloadStatusEnum,
};
use alloy_transport::{RpcError, TransportError};
use alloy_transport_http::{Http, HyperClient};
use http_body_util::Full;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use std::time::Duration;
use tracing::{debug, warn};
use url::Url;

/// Which Engine API generation to speak, from the genesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineFork {
    /// Cancun active, Prague not: `getPayloadV3` / `newPayloadV3`.
    Cancun,
    /// Prague active: `getPayloadV4` / `newPayloadV4` with execution requests.
    Prague,
}

/// How `SYNCING` / `ACCEPTED` answers and slow requests are handled.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before giving up with [`EngineError::NotReady`].
    pub attempts: u32,
    /// First delay between attempts; doubles up to `max_delay`.
    pub initial_delay: Duration,
    /// Largest delay between attempts.
    pub max_delay: Duration,
    /// Timeout of each request.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 8,
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The execution client's heads, read back on (re)start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heads {
    /// `latest`.
    pub latest: BlockRef,
    /// `safe`, if reth has one.
    pub safe: Option<BlockRef>,
    /// `finalized`, if reth has one.
    pub finalized: Option<BlockRef>,
}

/// Engine API client (see the crate docs).
#[derive(Debug, Clone)]
pub struct EngineClient {
    rpc: RpcClient,
    fork: EngineFork,
    retry: RetryPolicy,
}

fn map_err(method: &'static str, err: TransportError) -> EngineError {
    match err {
        RpcError::ErrorResp(p) => {
            EngineError::Rpc { method, code: p.code, message: p.message.into_owned() }
        }
        other => {
            // alloy's top-level message ("client error (Connect)") hides the cause; append
            // the source chain ("tcp connect error: Connection refused").
            let mut message = other.to_string();
            let mut source = std::error::Error::source(&other);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
                source = cause.source();
            }
            EngineError::Transport { method, message }
        }
    }
}

impl EngineClient {
    /// A client for the authenticated endpoint at `url`, signing with `secret`.
    pub fn new(url: Url, secret: JwtSecret, fork: EngineFork) -> Self {
        let hyper = Client::builder(TokioExecutor::new())
            .build_http::<Full<alloy_primitives::bytes::Bytes>>();
        let service = tower::ServiceBuilder::new().layer(JwtAuthLayer::new(secret)).service(hyper);
        let transport = Http::with_client(HyperClient::with_service(service), url);
        // `is_local = true`: no client-side poll delays; this is request/response only.
        Self { rpc: RpcClient::new(transport, true), fork, retry: RetryPolicy::default() }
    }

    /// Replaces the retry policy.
    pub const fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The Engine API generation in use.
    pub const fn fork(&self) -> EngineFork {
        self.fork
    }

    async fn call<P, R>(&self, method: &'static str, params: P) -> Result<R, EngineError>
    where
        P: serde::Serialize + Clone + std::fmt::Debug + Send + Sync + Unpin,
        R: serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        match tokio::time::timeout(
            self.retry.request_timeout,
            self.rpc.request::<P, R>(method, params),
        )
        .await
        {
            Ok(res) => res.map_err(|e| map_err(method, e)),
            Err(_) => Err(EngineError::Transport {
                method,
                message: format!("timed out after {:?}", self.retry.request_timeout),
            }),
        }
    }

    fn delay(&self, attempt: u32) -> Duration {
        self.retry.initial_delay.saturating_mul(1u32 << attempt.min(16)).min(self.retry.max_delay)
    }

    /// `engine_forkchoiceUpdatedV3`, answer returned as is.
    pub async fn forkchoice_updated(
        &self,
        state: ForkchoiceState,
        attributes: Option<PayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        self.call("engine_forkchoiceUpdatedV3", (state, attributes)).await
    }

    /// `engine_getPayloadV4` (Prague) or `V3`, checked and decoded.
    pub async fn get_payload(
        &self,
        id: PayloadId,
        parent_beacon_block_root: B256,
    ) -> Result<BuiltPayload, EngineError> {
        let (envelope, requests) = match self.fork {
            EngineFork::Prague => {
                let e: ExecutionPayloadEnvelopeV4 = self.call("engine_getPayloadV4", (id,)).await?;
                (e.envelope_inner, Some(e.execution_requests))
            }
            EngineFork::Cancun => {
                let e: ExecutionPayloadEnvelopeV3 = self.call("engine_getPayloadV3", (id,)).await?;
                (e, None)
            }
        };
        BuiltPayload::new(
            envelope.execution_payload,
            requests,
            parent_beacon_block_root,
            envelope.block_value,
        )
    }

    /// `engine_newPayloadV4` (Prague) or `V3`, answer returned as is.
    pub async fn new_payload(&self, payload: &BuiltPayload) -> Result<PayloadStatus, EngineError> {
        let p = &payload.payload;
        let hashes = &payload.versioned_hashes;
        let root = payload.parent_beacon_block_root;
        match (&payload.execution_requests, self.fork) {
            (Some(requests), EngineFork::Prague) => {
                self.call("engine_newPayloadV4", (p, hashes, root, requests)).await
            }
            (None, EngineFork::Cancun) => self.call("engine_newPayloadV3", (p, hashes, root)).await,
            _ => Err(EngineError::BadResponse {
                method: "engine_newPayload",
                message: "execution requests do not match the configured fork".into(),
            }),
        }
    }

    /// Sends a forkchoice update (with or without attributes) until reth answers `VALID`;
    /// `SYNCING` is retried per the policy, `INVALID` is an error.
    async fn forkchoice_checked(
        &self,
        state: ForkchoiceState,
        attributes: Option<PayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        let method = "engine_forkchoiceUpdatedV3";
        let mut last = PayloadStatusEnum::Syncing;
        for attempt in 0..self.retry.attempts {
            let res = self.forkchoice_updated(state, attributes.clone()).await?;
            match &res.payload_status.status {
                PayloadStatusEnum::Valid => return Ok(res),
                PayloadStatusEnum::Invalid { validation_error } => {
                    return Err(EngineError::Invalid {
                        method,
                        validation_error: validation_error.clone(),
                        latest_valid_hash: res.payload_status.latest_valid_hash,
                    });
                }
                status @ (PayloadStatusEnum::Syncing | PayloadStatusEnum::Accepted) => {
                    debug!(%status, attempt, ?state, "forkchoiceUpdated not VALID yet, retrying");
                    last = status.clone();
                    tokio::time::sleep(self.delay(attempt)).await;
                }
            }
        }
        Err(EngineError::NotReady { method, status: last, attempts: self.retry.attempts })
    }

    /// Moves reth's forkchoice to `state` (no block building). Returns once reth said `VALID`.
    pub async fn update_forkchoice(&self, state: ForkchoiceState) -> Result<(), EngineError> {
        self.forkchoice_checked(state, None).await.map(|_| ())
    }

    /// Starts building a block on `state.head_block_hash` with `attributes`.
    pub async fn start_payload(
        &self,
        state: ForkchoiceState,
        attributes: PayloadAttributes,
    ) -> Result<PayloadId, EngineError> {
        self.forkchoice_checked(state, Some(attributes))
            .await?
            .payload_id
            .ok_or(EngineError::NoPayloadId)
    }

    /// Executes a payload with `newPayload` until reth answers `VALID`. `INVALID` is an error;
    /// `SYNCING` / `ACCEPTED` (reth has not validated it: missing parent or still syncing) are
    /// retried per the policy and then reported as [`EngineError::NotReady`].
    pub async fn execute_payload(&self, payload: &BuiltPayload) -> Result<(), EngineError> {
        let method = match self.fork {
            EngineFork::Prague => "engine_newPayloadV4",
            EngineFork::Cancun => "engine_newPayloadV3",
        };
        let mut last = PayloadStatusEnum::Syncing;
        for attempt in 0..self.retry.attempts {
            let res = self.new_payload(payload).await?;
            match res.status {
                PayloadStatusEnum::Valid => {
                    if let Some(h) = res.latest_valid_hash
                        && h != payload.block_ref().hash
                    {
                        return Err(EngineError::BadResponse {
                            method,
                            message: format!(
                                "VALID with latest valid hash {h}, expected {}",
                                payload.block_ref().hash
                            ),
                        });
                    }
                    return Ok(());
                }
                PayloadStatusEnum::Invalid { validation_error } => {
                    return Err(EngineError::Invalid {
                        method,
                        validation_error,
                        latest_valid_hash: res.latest_valid_hash,
                    });
                }
                status => {
                    warn!(%status, attempt, block = payload.block_ref().number, "newPayload not VALID yet, retrying");
                    last = status;
                    tokio::time::sleep(self.delay(attempt)).await;
                }
            }
        }
        Err(EngineError::NotReady { method, status: last, attempts: self.retry.attempts })
    }

    /// `eth_sendRawTransaction` on the authenticated endpoint (part of the Engine API spec's
    /// required `eth_` subset).
    pub async fn send_raw_transaction(&self, raw: &Bytes) -> Result<B256, EngineError> {
        self.call("eth_sendRawTransaction", (raw,)).await
    }

    /// `eth_getBlockByNumber(tag, true)`: the block, hash-checked, with its identity.
    pub async fn block(
        &self,
        tag: BlockNumberOrTag,
    ) -> Result<Option<(BlockRef, Block<TxEnvelope>)>, EngineError> {
        let method = "eth_getBlockByNumber";
        let rpc_block: Option<alloy_rpc_types_eth::Block> = self.call(method, (tag, true)).await?;
        rpc_block.map(|b| checked_block(method, b)).transpose()
    }

    /// `eth_getBlockByHash(hash, true)`: the block, hash-checked, with its identity.
    pub async fn block_by_hash(
        &self,
        hash: B256,
    ) -> Result<Option<(BlockRef, Block<TxEnvelope>)>, EngineError> {
        let method = "eth_getBlockByHash";
        let rpc_block: Option<alloy_rpc_types_eth::Block> = self.call(method, (hash, true)).await?;
        match rpc_block.map(|b| checked_block(method, b)).transpose()? {
            Some((r, _)) if r.hash != hash => Err(EngineError::BadResponse {
                method,
                message: format!("asked for block {hash}, got {}", r.hash),
            }),
            other => Ok(other),
        }
    }

    /// Reads `latest`, `safe` and `finalized` back from reth.
    pub async fn read_heads(&self) -> Result<Heads, EngineError> {
        let latest = self.block(BlockNumberOrTag::Latest).await?.map(|(r, _)| r).ok_or(
            EngineError::BadResponse {
                method: "eth_getBlockByNumber",
                message: "no latest block".into(),
            },
        )?;
        // reth answers an error or null for `safe` / `finalized` before they are first set.
        let safe = self.block(BlockNumberOrTag::Safe).await.ok().flatten().map(|(r, _)| r);
        let finalized =
            self.block(BlockNumberOrTag::Finalized).await.ok().flatten().map(|(r, _)| r);
        Ok(Heads { latest, safe, finalized })
    }
}

/// An RPC block as a consensus block whose header hashes to the hash the RPC claimed.
fn checked_block(
    method: &'static str,
    rpc_block: alloy_rpc_types_eth::Block,
) -> Result<(BlockRef, Block<TxEnvelope>), EngineError> {
    let hash = rpc_block.header.hash;
    let block = rpc_block.map_transactions(|tx| tx.into_inner()).into_consensus();
    let computed = block.header.hash_slow();
    if computed != hash {
        return Err(EngineError::BadResponse {
            method,
            message: format!(
                "block #{} claims hash {hash} but its header hashes to {computed}",
                block.header.number
            ),
        });
    }
    let r = BlockRef {
        number: block.header.number,
        hash,
        parent_hash: block.header.parent_hash,
        timestamp: block.header.timestamp,
    };
    Ok((r, block))
}

/// Payload attributes for a block on `parent` (Cancun/Prague: withdrawals and a parent beacon
/// block root are required).
///
/// There is no beacon chain: `prevRandao` is `keccak256(parent.hash)` (deterministic, so every
/// validator derives the same attributes), there are no withdrawals, and the parent beacon
/// block root slot (EIP-4788) carries the parent's hash. These are the protocol's rules: every
/// validator refuses a proposal that breaks them (`sequencer_consensus::rules`, which a test in
/// the node checks these attributes against). The timestamp is
/// `max(now_secs, parent + 1)`. A validator set's leader passes the chain's timestamp
/// (`rules::child_timestamp`, always above the parent's); a single validator passes its clock:
/// with sub-second block times consecutive blocks get consecutive seconds and the chain's clock
/// runs ahead of wall time until production slows down.
pub fn payload_attributes(
    parent: &BlockRef,
    now_secs: u64,
    fee_recipient: alloy_primitives::Address,
) -> PayloadAttributes {
    PayloadAttributes {
        timestamp: now_secs.max(parent.timestamp + 1),
        prev_randao: alloy_primitives::keccak256(parent.hash),
        suggested_fee_recipient: fee_recipient,
        withdrawals: Some(Vec::new()),
        parent_beacon_block_root: Some(parent.hash),
    }
}
