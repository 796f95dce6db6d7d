//! JSON-RPC: `eth_sendRawTransaction`, `eth_chainId`, and `sequencer_*` status methods.

use crate::{
    InsertOutcome, Mempool, MempoolStatus, NodeError, PendingDa, SequencerStatus, StatusHandle,
    TxLookup,
};
use alloy_primitives::{Address, B256, Bytes, U64};
use alloy_rpc_client::RpcClient;
use jsonrpsee::{
    core::{RpcResult, async_trait},
    proc_macros::rpc,
    types::{ErrorObject, ErrorObjectOwned},
};
use parking_lot::Mutex;
use sequencer_engine::BlockRef;
use std::sync::Arc;

/// The sequencer's RPC API.
#[rpc(server)]
pub trait SequencerApi {
    /// Standard: accepts a signed EIP-2718 transaction, returns its hash. Nonce gaps are
    /// accepted (the transaction waits) and reported by `sequencer_sendRawTransaction` and
    /// `sequencer_mempoolStatus`.
    #[method(name = "eth_sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    /// Like `eth_sendRawTransaction`, but returns sender, nonce, pending/queued and the
    /// missing nonces.
    #[method(name = "sequencer_sendRawTransaction")]
    async fn send_raw_transaction_detailed(&self, raw: Bytes) -> RpcResult<InsertOutcome>;

    /// Chain id.
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    /// Everything below in one answer.
    #[method(name = "sequencer_status")]
    fn status(&self) -> RpcResult<SequencerStatus>;

    /// SOFT head.
    #[method(name = "sequencer_softHead")]
    fn soft_head(&self) -> RpcResult<BlockRef>;

    /// FIRM head.
    #[method(name = "sequencer_firmHead")]
    fn firm_head(&self) -> RpcResult<BlockRef>;

    /// Blocks awaiting DA finality.
    #[method(name = "sequencer_pendingSubmissions")]
    fn pending_submissions(&self) -> RpcResult<Vec<PendingDa>>;

    /// Mempool counts, nonce gaps and the most recent evictions.
    #[method(name = "sequencer_mempoolStatus")]
    fn mempool_status(&self) -> RpcResult<MempoolStatus>;

    /// What the mempool knows of a transaction: pending, queued, evicted (with the reason), or
    /// unknown (included, or never seen).
    #[method(name = "sequencer_transactionStatus")]
    fn transaction_status(&self, hash: B256) -> RpcResult<TxLookup>;
}

/// Implementation of [`SequencerApiServer`].
#[derive(Debug, Clone)]
pub struct SequencerRpc {
    mempool: Arc<Mutex<Mempool>>,
    status: StatusHandle,
    /// reth's public RPC for `eth_getTransactionCount`, when configured.
    nonce_rpc: Option<RpcClient>,
}

impl SequencerRpc {
    /// A handler over the shared mempool and status.
    pub const fn new(
        mempool: Arc<Mutex<Mempool>>,
        status: StatusHandle,
        nonce_rpc: Option<RpcClient>,
    ) -> Self {
        Self { mempool, status, nonce_rpc }
    }

    async fn insert(&self, raw: Bytes) -> Result<InsertOutcome, NodeError> {
        let chain_id = self.mempool.lock().chain_id();
        let (tx, sender) = Mempool::decode(chain_id, &raw)?;
        let state_nonce = if self.mempool.lock().knows_sender(&sender) {
            None
        } else {
            self.state_nonce(sender).await?
        };
        let outcome =
            self.mempool.lock().insert(raw, &tx, sender, state_nonce, std::time::Instant::now())?;
        if !outcome.missing_nonces.is_empty() {
            tracing::info!(target: "sequencer::mempool", %sender, nonce = outcome.nonce, missing = ?outcome.missing_nonces, "nonce gap");
        }
        let st = self.mempool.lock().status();
        metrics::gauge!(crate::metrics::MEMPOOL_TXS).set((st.pending + st.queued) as f64);
        self.status.update(|s| s.mempool = st);
        Ok(outcome)
    }

    async fn state_nonce(&self, sender: Address) -> Result<Option<u64>, NodeError> {
        let Some(rpc) = &self.nonce_rpc else { return Ok(None) };
        let n: U64 = rpc
            .request("eth_getTransactionCount", (sender, "latest"))
            .await
            // The HTTP client's error quotes the URL, credentials and all, and this error goes
            // back to whoever sent the transaction.
            .map_err(|e| NodeError::NonceLookup(sequencer_da::redact_urls(&e.to_string())))?;
        Ok(Some(n.to::<u64>()))
    }
}

fn rpc_error(e: NodeError) -> ErrorObjectOwned {
    let code = match e {
        NodeError::Decode(_) => -32602,
        _ => -32000,
    };
    ErrorObject::owned(code, e.to_string(), None::<()>)
}

#[async_trait]
impl SequencerApiServer for SequencerRpc {
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.insert(raw).await.map(|o| o.hash).map_err(rpc_error)
    }

    async fn send_raw_transaction_detailed(&self, raw: Bytes) -> RpcResult<InsertOutcome> {
        self.insert(raw).await.map_err(rpc_error)
    }

    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.status.get().chain_id))
    }

    fn status(&self) -> RpcResult<SequencerStatus> {
        let mut s = self.status.get();
        s.mempool = self.mempool.lock().status();
        Ok(s)
    }

    fn soft_head(&self) -> RpcResult<BlockRef> {
        Ok(self.status.get().soft_head)
    }

    fn firm_head(&self) -> RpcResult<BlockRef> {
        Ok(self.status.get().firm_head)
    }

    fn pending_submissions(&self) -> RpcResult<Vec<PendingDa>> {
        Ok(self.status.get().pending_da)
    }

    fn mempool_status(&self) -> RpcResult<MempoolStatus> {
        Ok(self.mempool.lock().status())
    }

    fn transaction_status(&self, hash: B256) -> RpcResult<TxLookup> {
        Ok(self.mempool.lock().lookup(&hash))
    }
}
