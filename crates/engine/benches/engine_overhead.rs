//! Per-block engine overhead: the typed in-process path against kona's HTTP engine client, as
//! ratios measured in one run.
//!
//! Both sides drive the *same* handler, one that answers instantly from pre-built data (so
//! what is measured is the cost of the path, not of execution): per block, what the engine
//! actor does for a sequenced block that is later consolidated — forkchoice update with
//! attributes, get payload, new payload, forkchoice update, and a full read of the block.
//!
//! - typed: [`ExecutionEngine`] calls and the block read from the [`BufferedL2Provider`];
//! - HTTP: `kona_engine::EngineClient` (JWT, loopback HTTP, JSON) against a jsonrpsee server
//!   whose methods call the same handler, and `eth_getBlockByNumber` with full transactions.
//!
//! Blocks of 0, 100, 1 000 and 5 000 transfers. Target: the typed path ≥ 20× cheaper at 1 000.
//! Run with `cargo bench -p rollup-engine --bench engine_overhead` (`just bench-engine`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_consensus::{Block, BlockBody, EMPTY_ROOT_HASH, Header, Signed, TxEip1559};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use alloy_rpc_types_engine::{
    ExecutionPayloadV3, ForkchoiceState, ForkchoiceUpdated, JwtSecret, PayloadAttributes,
    PayloadId, PayloadStatus, PayloadStatusEnum,
};
use alloy_rpc_types_eth::{Block as RpcBlock, BlockTransactions, Header as RpcHeader};
use async_trait::async_trait;
use jsonrpsee::{RpcModule, server::Server, types::ErrorObjectOwned};
use kona_engine::{EngineClient, EngineForkchoiceVersion, EngineGetPayloadVersion};
use kona_genesis::RollupConfig;
use op_alloy_consensus::{OpBlock, OpTxEnvelope};
use op_alloy_provider::ext::engine::OpEngineApi;
use op_alloy_rpc_types_engine::{
    OpExecutionPayload, OpExecutionPayloadEnvelope, OpExecutionPayloadEnvelopeV3,
    OpPayloadAttributes,
};
use rollup_engine::{EngineError, ExecutionEngine, L2Head};
use rollup_providers_local::{BufferedL2Provider, ChainStateEvent, SealedL2Block};
use std::{hint::black_box, sync::Arc, time::Instant};

const SIZES: [usize; 4] = [0, 100, 1_000, 5_000];

/// A block of `transfers` EIP-1559 transfers (signatures are made up: nothing recovers them).
fn block(transfers: usize) -> OpBlock {
    let transactions = (0..transfers as u64)
        .map(|nonce| {
            let tx = TxEip1559 {
                chain_id: 901,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 2_000_000_000,
                max_priority_fee_per_gas: 1_000_000,
                to: TxKind::Call(Address::repeat_byte(0x42)),
                value: U256::from(1_000_000_000_000u64 + nonce),
                access_list: Default::default(),
                input: Bytes::new(),
            };
            let signature = Signature::new(U256::from(nonce + 1), U256::from(nonce + 2), false);
            OpTxEnvelope::Eip1559(Signed::new_unhashed(tx, signature))
        })
        .collect::<Vec<_>>();
    Block {
        header: Header {
            number: 1,
            timestamp: 1_700_000_002,
            gas_limit: 30_000_000,
            gas_used: 21_000 * transfers as u64,
            base_fee_per_gas: Some(1),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            ..Default::default()
        },
        body: BlockBody { transactions, ommers: Vec::new(), withdrawals: Some(Default::default()) },
    }
}

/// The handler both paths call: answers from pre-built data.
#[derive(Debug)]
struct Canned {
    envelope: OpExecutionPayloadEnvelope,
    block: SealedL2Block,
    rpc_block: RpcBlock<op_alloy_rpc_types::Transaction>,
}

impl Canned {
    fn new(transfers: usize) -> Arc<Self> {
        let block = block(transfers);
        let hash = block.header.hash_slow();
        let (execution_payload, sidecar) = OpExecutionPayload::from_block_unchecked(hash, &block);
        let envelope = OpExecutionPayloadEnvelope {
            parent_beacon_block_root: sidecar.parent_beacon_block_root(),
            execution_payload,
        };
        let transactions = block
            .body
            .transactions
            .iter()
            .enumerate()
            .map(|(index, tx)| op_alloy_rpc_types::Transaction {
                inner: alloy_rpc_types_eth::Transaction {
                    inner: alloy_consensus::transaction::Recovered::new_unchecked(
                        tx.clone(),
                        Address::repeat_byte(0x01),
                    ),
                    block_hash: Some(hash),
                    block_number: Some(1),
                    transaction_index: Some(index as u64),
                    effective_gas_price: Some(1),
                },
                deposit_nonce: None,
                deposit_receipt_version: None,
            })
            .collect();
        let rpc_block = RpcBlock {
            header: RpcHeader {
                hash,
                inner: block.header.clone(),
                total_difficulty: None,
                size: None,
            },
            uncles: Vec::new(),
            transactions: BlockTransactions::Full(transactions),
            withdrawals: block.body.withdrawals.clone(),
        };
        Arc::new(Self { envelope, block: SealedL2Block::new(hash, Arc::new(block)), rpc_block })
    }

    fn updated(with_id: bool) -> ForkchoiceUpdated {
        let updated = ForkchoiceUpdated::from_status(PayloadStatusEnum::Valid);
        if with_id { updated.with_payload_id(PayloadId::new([1; 8])) } else { updated }
    }
}

#[async_trait]
impl ExecutionEngine for Canned {
    async fn new_payload(
        &self,
        envelope: OpExecutionPayloadEnvelope,
    ) -> Result<PayloadStatus, EngineError> {
        black_box(envelope);
        Ok(PayloadStatus::from_status(PayloadStatusEnum::Valid))
    }

    async fn forkchoice_updated(
        &self,
        _: EngineForkchoiceVersion,
        state: ForkchoiceState,
        attributes: Option<OpPayloadAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        black_box(state);
        Ok(Self::updated(attributes.is_some()))
    }

    async fn get_payload(
        &self,
        _: EngineGetPayloadVersion,
        _: PayloadId,
    ) -> Result<OpExecutionPayloadEnvelope, EngineError> {
        Ok(self.envelope.clone())
    }

    async fn head(&self, _: L2Head) -> Result<Option<SealedL2Block>, EngineError> {
        Ok(Some(self.block.clone()))
    }

    async fn message_passer_storage_root(&self, _: B256) -> Result<B256, EngineError> {
        Ok(B256::ZERO)
    }
}

/// The jsonrpsee side of the same handler: what an auth server in front of it would answer.
async fn serve(handler: Arc<Canned>) -> std::net::SocketAddr {
    let mut module = RpcModule::new(handler);
    module
        .register_async_method("engine_forkchoiceUpdatedV3", |params, handler, _| async move {
            let (state, attributes): (ForkchoiceState, Option<OpPayloadAttributes>) =
                params.parse()?;
            Ok::<_, ErrorObjectOwned>(
                handler
                    .forkchoice_updated(EngineForkchoiceVersion::V3, state, attributes)
                    .await
                    .unwrap(),
            )
        })
        .unwrap();
    module
        .register_async_method("engine_getPayloadV3", |_, handler, _| async move {
            let envelope = handler.envelope.clone();
            let OpExecutionPayload::V3(execution_payload) = envelope.execution_payload else {
                unreachable!()
            };
            Ok::<_, ErrorObjectOwned>(OpExecutionPayloadEnvelopeV3 {
                execution_payload,
                block_value: U256::ZERO,
                blobs_bundle: Default::default(),
                should_override_builder: false,
                parent_beacon_block_root: B256::ZERO,
            })
        })
        .unwrap();
    module
        .register_async_method("engine_newPayloadV3", |params, handler, _| async move {
            let (payload, _hashes, root): (ExecutionPayloadV3, Vec<B256>, B256) = params.parse()?;
            let envelope = OpExecutionPayloadEnvelope {
                parent_beacon_block_root: Some(root),
                execution_payload: OpExecutionPayload::V3(payload),
            };
            Ok::<_, ErrorObjectOwned>(handler.new_payload(envelope).await.unwrap())
        })
        .unwrap();
    module
        .register_async_method("eth_getBlockByNumber", |_, handler, _| async move {
            Ok::<_, ErrorObjectOwned>(handler.rpc_block.clone())
        })
        .unwrap();
    // As reth's auth server: no body limit a 5 000-transaction payload would hit.
    let config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(u32::MAX)
        .max_response_body_size(u32::MAX)
        .build();
    let server = Server::builder().set_config(config).build("127.0.0.1:0").await.unwrap();
    let address = server.local_addr().unwrap();
    std::mem::forget(server.start(module));
    address
}

fn attributes() -> OpPayloadAttributes {
    OpPayloadAttributes {
        payload_attributes: PayloadAttributes {
            timestamp: 1_700_000_002,
            prev_randao: B256::ZERO,
            suggested_fee_recipient: Address::ZERO,
            withdrawals: Some(Vec::new()),
            parent_beacon_block_root: Some(B256::ZERO),
        },
        transactions: Some(Vec::new()),
        no_tx_pool: Some(false),
        gas_limit: Some(30_000_000),
        eip_1559_params: Some(Default::default()),
    }
}

/// One block through the typed path.
async fn typed_block(engine: &Canned, buffer: &BufferedL2Provider) {
    let state = ForkchoiceState::default();
    let updated = engine
        .forkchoice_updated(EngineForkchoiceVersion::V3, state, Some(attributes()))
        .await
        .unwrap();
    let envelope =
        engine.get_payload(EngineGetPayloadVersion::V3, updated.payload_id.unwrap()).await.unwrap();
    engine.new_payload(envelope).await.unwrap();
    engine.forkchoice_updated(EngineForkchoiceVersion::V3, state, None).await.unwrap();
    black_box(buffer.sealed_block_by_number(1).await.unwrap());
}

/// One block through kona's HTTP client.
async fn http_block(client: &EngineClient) {
    let state = ForkchoiceState::default();
    let updated = client.fork_choice_updated_v3(state, Some(attributes())).await.unwrap();
    let envelope = client.get_payload_v3(updated.payload_id.unwrap()).await.unwrap();
    client
        .new_payload_v3(envelope.execution_payload, envelope.parent_beacon_block_root)
        .await
        .unwrap();
    client.fork_choice_updated_v3(state, None).await.unwrap();
    black_box(client.l2_block_by_label(BlockNumberOrTag::Number(1)).await.unwrap().unwrap());
}

fn iterations(transfers: usize) -> usize {
    (20_000 / (transfers + 10)).clamp(20, 2_000)
}

/// Median and 99th percentile of `samples`, in microseconds.
fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "per-block engine overhead: forkchoice+attributes, getPayload, newPayload, forkchoice, block read"
    );
    println!(
        "{:>9} {:>14} {:>14} {:>14} {:>14} {:>9}",
        "transfers", "typed p50 µs", "typed p99 µs", "http p50 µs", "http p99 µs", "ratio"
    );
    let config = Arc::new(RollupConfig::default());
    for transfers in SIZES {
        let handler = Canned::new(transfers);
        let buffer = BufferedL2Provider::with_capacity(config.clone(), 16);
        buffer.apply(&ChainStateEvent::Committed { new: vec![handler.block.clone()] }).unwrap();
        let address = serve(handler.clone()).await;
        let client = EngineClient::new_http(
            format!("http://{address}").parse().unwrap(),
            "http://127.0.0.1:1".parse().unwrap(),
            config.clone(),
            JwtSecret::random(),
        );
        let runs = iterations(transfers);
        for _ in 0..runs / 10 + 1 {
            typed_block(&handler, &buffer).await;
            http_block(&client).await;
        }
        let (mut typed, mut http) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        for _ in 0..runs {
            let started = Instant::now();
            typed_block(&handler, &buffer).await;
            typed.push(started.elapsed().as_secs_f64() * 1e6);
            let started = Instant::now();
            http_block(&client).await;
            http.push(started.elapsed().as_secs_f64() * 1e6);
        }
        let ((typed_p50, typed_p99), (http_p50, http_p99)) =
            (percentiles(typed), percentiles(http));
        println!(
            "{transfers:>9} {typed_p50:>14.1} {typed_p99:>14.1} {http_p50:>14.1} {http_p99:>14.1} {:>8.0}x",
            http_p50 / typed_p50
        );
    }
}
