//! Execution side of the sequencer: reth's Engine API and the forkchoice it is driven to.
//!
//! - [`EngineClient`]: JSON-RPC over HTTP to reth's authenticated endpoint, a fresh HS256 JWT
//!   (`iat` = now) on every request ([`JwtAuthLayer`]). It speaks the Cancun/Prague methods reth
//!   v1.6.0 accepts for an Ethereum chain: `engine_forkchoiceUpdatedV3`,
//!   `engine_getPayloadV4`/`V3`, `engine_newPayloadV4`/`V3` ([`EngineFork`] picks V4 when Prague
//!   is active at genesis), plus the `eth_` methods the Engine API spec requires on the same
//!   endpoint (`eth_sendRawTransaction`, `eth_getBlockByNumber`).
//!   Responses are checked, not trusted: a built payload's block hash is recomputed, its parent
//!   must be the requested head; `INVALID` is an error carrying reth's validation message;
//!   `SYNCING` / `ACCEPTED` are retried a bounded number of times and then reported
//!   ([`RetryPolicy`]); a block is only SOFT after `newPayload` said `VALID` *and* the
//!   following `forkchoiceUpdated` said `VALID`.
//! - [`ForkchoiceTracker`]: the state machine of head ≥ safe ≥ finalized. SOFT moves head and
//!   safe to a block that extends the head; FIRM moves finalized to a block on the safe chain.
//!   Nothing ever moves backwards; every refused transition is an [`EngineError`]. A tracker is
//!   rebuilt from reth's heads on restart ([`EngineClient::read_heads`]).

mod client;
mod forkchoice;
mod jwt;
mod payload;

pub use client::{EngineClient, EngineFork, Heads, RetryPolicy, payload_attributes};
pub use forkchoice::{BlockRef, ForkchoiceTracker};
pub use jwt::{JwtAuth, JwtAuthLayer};
pub use payload::BuiltPayload;

use alloy_primitives::B256;
use alloy_rpc_types_engine::PayloadStatusEnum;

/// Errors of the execution side.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Transport failure (connection refused, HTTP 401 on a bad JWT, timeout, bad JSON).
    #[error("engine API {method}: {message}")]
    Transport {
        /// JSON-RPC method.
        method: &'static str,
        /// Cause.
        message: String,
    },
    /// A JSON-RPC error response (e.g. -38003 invalid payload attributes).
    #[error("engine API {method}: error {code}: {message}")]
    Rpc {
        /// JSON-RPC method.
        method: &'static str,
        /// Error code.
        code: i64,
        /// Error message.
        message: String,
    },
    /// The execution client answered `INVALID`.
    #[error(
        "engine API {method}: INVALID (latest valid hash {latest_valid_hash:?}): {validation_error}"
    )]
    Invalid {
        /// JSON-RPC method.
        method: &'static str,
        /// reth's validation error.
        validation_error: String,
        /// Latest valid ancestor reported by reth.
        latest_valid_hash: Option<B256>,
    },
    /// The execution client kept answering `SYNCING` / `ACCEPTED` after all retries.
    #[error(
        "engine API {method}: still {status} after {attempts} attempts (execution client not ready)"
    )]
    NotReady {
        /// JSON-RPC method.
        method: &'static str,
        /// Last status.
        status: PayloadStatusEnum,
        /// Attempts made.
        attempts: u32,
    },
    /// `forkchoiceUpdated` with attributes returned no payload id.
    #[error("engine API engine_forkchoiceUpdatedV3: VALID but no payload id for the attributes")]
    NoPayloadId,
    /// A response that breaks the protocol (wrong parent, hash mismatch, undecodable payload).
    #[error("engine API {method}: bad response: {message}")]
    BadResponse {
        /// JSON-RPC method.
        method: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A forkchoice transition that would move a head backwards or off the safe chain.
    #[error("forkchoice: {0}")]
    Forkchoice(String),
}

impl EngineError {
    /// Whether retrying later may succeed (transport trouble, a syncing execution client).
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::NotReady { .. })
    }
}
