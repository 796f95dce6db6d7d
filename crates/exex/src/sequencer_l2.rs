//! The sequencer's L2 reads, answered in-process from the [`BufferedL2Provider`].
//!
//! kona-node-service 0.1.3 runs its sequencer actor only with kona's own attributes builder,
//! which reads the parent block's system config through an alloy provider
//! (`eth_getBlockByNumber`, full transactions). [`BufferedL2Transport`] is an alloy transport
//! that answers that call from memory: no socket, no JWT, no call into the execution layer.
//!
//! It answers only `eth_getBlockByNumber`, and with the header and the block's *deposit*
//! transactions: the system config is read from the header and the L1-info deposit, and
//! returning user transactions would mean recovering every sender (an RPC transaction carries
//! `from`) for nothing. Any other method is refused with a JSON-RPC error naming it, so a
//! future kona that reads more cannot silently get partial data.

use alloy_eips::BlockNumberOrTag;
use alloy_json_rpc::{
    ErrorPayload, RequestPacket, Response, ResponsePacket, ResponsePayload, SerializedRequest,
};
use alloy_primitives::B256;
use alloy_rpc_types_eth::{Block, BlockTransactions, Header, Transaction as EthTransaction};
use alloy_transport::{TransportError, TransportFut};
use op_alloy_consensus::OpTxEnvelope;
use op_alloy_rpc_types::Transaction;
use rollup_providers_local::{BufferedL2Provider, ProviderError, SealedL2Block};
use serde_json::value::RawValue;
use std::task::{Context, Poll};

/// The one method served.
const GET_BLOCK_BY_NUMBER: &str = "eth_getBlockByNumber";
/// JSON-RPC "method not found".
const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "invalid params".
const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC server error, for a failed read.
const SERVER_ERROR: i64 = -32000;

/// An alloy transport over the L2 buffer; see the module docs.
#[derive(Debug, Clone)]
pub struct BufferedL2Transport {
    blocks: BufferedL2Provider,
}

impl BufferedL2Transport {
    /// A transport answering from `blocks`.
    pub const fn new(blocks: BufferedL2Provider) -> Self {
        Self { blocks }
    }

    /// An alloy provider over this transport, for kona's sequencer.
    pub fn provider(
        blocks: BufferedL2Provider,
    ) -> alloy_provider::RootProvider<op_alloy_network::Optimism> {
        let client = alloy_rpc_client::RpcClient::new(Self::new(blocks), true);
        alloy_provider::RootProvider::new(client)
    }

    async fn answer(&self, request: SerializedRequest) -> Response {
        let id = request.id().clone();
        let payload = match self.dispatch(&request).await {
            Ok(result) => ResponsePayload::Success(result),
            Err(error) => ResponsePayload::Failure(error),
        };
        Response { id, payload }
    }

    async fn dispatch(&self, request: &SerializedRequest) -> Result<Box<RawValue>, ErrorPayload> {
        if request.method() != GET_BLOCK_BY_NUMBER {
            return Err(error(
                METHOD_NOT_FOUND,
                format!("{} is not served by the in-process L2 transport", request.method()),
            ));
        }
        let params = request.params().map(RawValue::get).unwrap_or("[]");
        let (tag, _full): (BlockNumberOrTag, bool) = serde_json::from_str(params)
            .map_err(|e| error(INVALID_PARAMS, format!("{GET_BLOCK_BY_NUMBER} params: {e}")))?;
        let BlockNumberOrTag::Number(number) = tag else {
            return Err(error(INVALID_PARAMS, format!("only block numbers are served, not {tag}")));
        };
        let block = match self.blocks.sealed_block_by_number(number).await {
            Ok(block) => Some(rpc_block(&block)),
            Err(ProviderError::BlockNotFound(_)) => None,
            Err(e) => return Err(error(SERVER_ERROR, format!("reading L2 block {number}: {e}"))),
        };
        serde_json::value::to_raw_value(&block)
            .map_err(|e| error(SERVER_ERROR, format!("encoding L2 block {number}: {e}")))
    }
}

fn error(code: i64, message: String) -> ErrorPayload {
    ErrorPayload { code, message: message.into(), data: None }
}

/// The RPC form of `block` with its deposit transactions only (see the module docs).
fn rpc_block(block: &SealedL2Block) -> Block<Transaction> {
    let hash = block.hash();
    let inner = block.block();
    let deposits = inner
        .body
        .transactions
        .iter()
        .enumerate()
        .filter_map(|(index, tx)| match tx {
            OpTxEnvelope::Deposit(deposit) => {
                Some(rpc_deposit(tx, deposit.from, hash, inner.header.number, index))
            }
            _ => None,
        })
        .collect();
    Block {
        header: Header { hash, inner: inner.header.clone(), total_difficulty: None, size: None },
        uncles: Vec::new(),
        transactions: BlockTransactions::Full(deposits),
        withdrawals: inner.body.withdrawals.clone(),
    }
}

fn rpc_deposit(
    tx: &OpTxEnvelope,
    from: alloy_primitives::Address,
    block_hash: B256,
    block_number: u64,
    index: usize,
) -> Transaction {
    Transaction {
        inner: EthTransaction {
            inner: alloy_consensus::transaction::Recovered::new_unchecked(tx.clone(), from),
            block_hash: Some(block_hash),
            block_number: Some(block_number),
            transaction_index: Some(index as u64),
            effective_gas_price: Some(0),
        },
        deposit_nonce: None,
        deposit_receipt_version: None,
    }
}

impl tower::Service<RequestPacket> for BufferedL2Transport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, packet: RequestPacket) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            match packet {
                RequestPacket::Single(request) => {
                    Ok(ResponsePacket::Single(this.answer(request).await))
                }
                RequestPacket::Batch(requests) => {
                    let mut responses = Vec::with_capacity(requests.len());
                    for request in requests {
                        responses.push(this.answer(request).await);
                    }
                    Ok(ResponsePacket::Batch(responses))
                }
            }
        })
    }
}
