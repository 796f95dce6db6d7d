//! BufferedL2Provider benchmarks, as ratios measured in one run:
//!
//! 1. lookup latency against kona's `AlloyL2ChainProvider` reading the same blocks from a
//!    loopback JSON-RPC server (`eth_getBlockByNumber`, full transactions), target >= 100x;
//! 2. ingest throughput of committed blocks, target >= 50 000 blocks/s;
//! 3. resident memory while 1 000 000 blocks stream through a fixed window: must stay flat.
//!
//! Run with `cargo bench -p rollup-providers-local --bench provider` (`just bench`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_consensus::{BlockBody, Header, Signed, TxEip1559};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, hex};
use alloy_rpc_types_eth::{Block as RpcBlock, BlockTransactions, Header as RpcHeader};
use jsonrpsee::{RpcModule, server::Server};
use kona_genesis::RollupConfig;
use kona_protocol::BatchValidationProvider;
use kona_providers_alloy::AlloyL2ChainProvider;
use op_alloy_consensus::{OpBlock, OpTxEnvelope};
use rollup_providers_local::{BufferedL2Provider, ChainStateEvent, SealedL2Block};
use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

/// A real OP Mainnet L1 info deposit (tx 0 of block 124665056): every block starts with one.
const L1_INFO_DEPOSIT: &str = "7ef8f8a0683079df94aa5b9cf86687d739a60a9b4f0835e520ec4d664e2e415dca17a6df94deaddeaddeaddeaddeaddeaddeaddeaddead00019442000000000000000000000000000000000000158080830f424080b8a4440a5e200000146b000f79c500000000000000040000000066d052e700000000013ad8a3000000000000000000000000000000000000000000000000000000003ef1278700000000000000000000000000000000000000000000000000000000000000012fdf87b89884a61e74b322bbcf60386f543bfae7827725efaaf0ab1de2294a590000000000000000000000006887246668a3b87f54deb3b94ba47a6f63f32985";

const LOOKUP_BLOCKS: u64 = 256;
const TRANSFERS_PER_BLOCK: u64 = 8;

fn transactions(number: u64) -> Vec<OpTxEnvelope> {
    let deposit =
        OpTxEnvelope::decode_2718(&mut hex::decode(L1_INFO_DEPOSIT).unwrap().as_slice()).unwrap();
    let mut txs = vec![deposit];
    for i in 0..TRANSFERS_PER_BLOCK {
        let tx = TxEip1559 {
            chain_id: 10,
            nonce: number * TRANSFERS_PER_BLOCK + i,
            gas_limit: 21_000,
            max_fee_per_gas: 1_000_000_000,
            max_priority_fee_per_gas: 1_000_000,
            to: TxKind::Call(Address::repeat_byte(0x11)),
            value: U256::from(1_000_000_000_000u64),
            ..Default::default()
        };
        // Signatures are not checked on either path; a fixed one keeps generation cheap.
        let signature = Signature::new(U256::from(1u8), U256::from(2u8), false);
        let hash = B256::from(U256::from(number << 16 | i));
        txs.push(OpTxEnvelope::Eip1559(Signed::new_unchecked(tx, signature, hash)));
    }
    txs
}

fn chain(len: u64) -> Vec<SealedL2Block> {
    let mut parent = B256::ZERO;
    (0..len)
        .map(|number| {
            let header = Header {
                number,
                parent_hash: parent,
                timestamp: 1_724_928_749 + 2 * number,
                gas_limit: 30_000_000,
                extra_data: Bytes::new(),
                ..Default::default()
            };
            let block = SealedL2Block::seal_slow(OpBlock {
                header,
                body: BlockBody {
                    transactions: transactions(number),
                    ommers: vec![],
                    withdrawals: None,
                },
            });
            parent = block.hash();
            block
        })
        .collect()
}

/// The block as reth's `eth_getBlockByNumber(n, true)` serves it.
fn rpc_json(block: &SealedL2Block) -> serde_json::Value {
    let txs = block
        .block()
        .body
        .transactions
        .iter()
        .enumerate()
        .map(|(index, tx)| op_alloy_rpc_types::Transaction {
            inner: alloy_rpc_types_eth::Transaction {
                inner: alloy_consensus::transaction::Recovered::new_unchecked(
                    tx.clone(),
                    Address::repeat_byte(0x22),
                ),
                block_hash: Some(block.hash()),
                block_number: Some(block.number()),
                transaction_index: Some(index as u64),
                effective_gas_price: Some(1_000_000_000),
            },
            deposit_nonce: None,
            deposit_receipt_version: None,
        })
        .collect();
    let rpc = RpcBlock {
        header: RpcHeader {
            hash: block.hash(),
            inner: block.block().header.clone(),
            total_difficulty: None,
            size: None,
        },
        uncles: vec![],
        transactions: BlockTransactions::Full(txs),
        withdrawals: None,
    };
    serde_json::to_value(rpc).unwrap()
}

async fn serve(
    blocks: &[SealedL2Block],
) -> (std::net::SocketAddr, jsonrpsee::server::ServerHandle) {
    let json: Arc<Vec<serde_json::Value>> = Arc::new(blocks.iter().map(rpc_json).collect());
    let mut module = RpcModule::new(json);
    module
        .register_method("eth_getBlockByNumber", |params, blocks, _| {
            let (tag, _full): (String, bool) = params.parse()?;
            let number = u64::from_str_radix(tag.trim_start_matches("0x"), 16).unwrap_or(u64::MAX);
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
                blocks.get(number as usize).cloned().unwrap_or(serde_json::Value::Null),
            )
        })
        .unwrap();
    module
        .register_method("eth_chainId", |_, _, _| {
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>("0xa")
        })
        .unwrap();
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    (addr, server.start(module))
}

fn per_op(total: Duration, ops: u64) -> f64 {
    total.as_nanos() as f64 / ops as f64
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

async fn lookups() {
    let config = Arc::new(RollupConfig::default());
    let blocks = chain(LOOKUP_BLOCKS);
    let buffered = BufferedL2Provider::new(config.clone());
    buffered.apply(&ChainStateEvent::Committed { new: blocks.clone() }).unwrap();
    let (addr, handle) = serve(&blocks).await;
    // Cache of one entry and a cycling access pattern: every RPC lookup is a real round trip.
    let l2 = alloy_provider::RootProvider::<op_alloy_network::Optimism>::new_http(
        format!("http://{addr}").parse().unwrap(),
    );
    let mut rpc = AlloyL2ChainProvider::new(l2, config, 1);
    let mut local = buffered.clone();

    // Same answers from both before timing anything.
    for n in [1, 100, 255] {
        assert_eq!(rpc.block_by_number(n).await.unwrap(), local.block_by_number(n).await.unwrap());
        assert_eq!(
            rpc.l2_block_info_by_number(n).await.unwrap(),
            local.l2_block_info_by_number(n).await.unwrap()
        );
    }

    let rounds = 4_000u64;
    let started = Instant::now();
    for i in 0..rounds {
        black_box(rpc.block_by_number(1 + i % (LOOKUP_BLOCKS - 1)).await.unwrap());
    }
    let rpc_block = per_op(started.elapsed(), rounds);
    let started = Instant::now();
    for i in 0..rounds {
        black_box(rpc.l2_block_info_by_number(1 + i % (LOOKUP_BLOCKS - 1)).await.unwrap());
    }
    let rpc_info = per_op(started.elapsed(), rounds);

    let local_rounds = 400_000u64;
    let started = Instant::now();
    for i in 0..local_rounds {
        black_box(local.block_by_number(1 + i % (LOOKUP_BLOCKS - 1)).await.unwrap());
    }
    let local_block = per_op(started.elapsed(), local_rounds);
    let started = Instant::now();
    for i in 0..local_rounds {
        black_box(local.l2_block_info_by_number(1 + i % (LOOKUP_BLOCKS - 1)).await.unwrap());
    }
    let local_info = per_op(started.elapsed(), local_rounds);
    handle.stop().ok();

    println!("lookup latency ({TRANSFERS_PER_BLOCK} transfers + L1 info deposit per block)");
    println!(
        "  block_by_number          rpc {:>10.0} ns   buffered {:>8.0} ns   speedup {:>7.0}x",
        rpc_block,
        local_block,
        rpc_block / local_block
    );
    println!(
        "  l2_block_info_by_number  rpc {:>10.0} ns   buffered {:>8.0} ns   speedup {:>7.0}x",
        rpc_info,
        local_info,
        rpc_info / local_info
    );
}

fn ingest_and_memory() {
    const TOTAL: u64 = 1_000_000;
    const CHECKPOINT: u64 = 100_000;
    let capacity = rollup_providers_local::DEFAULT_BUFFER_CAPACITY;
    let provider = BufferedL2Provider::with_capacity(Arc::new(RollupConfig::default()), capacity);
    let template = transactions(0);
    let mut applying = Duration::ZERO;
    let mut rss = Vec::new();
    let mut parent = B256::ZERO;
    let rss_start = rss_mib();
    for number in 0..TOTAL {
        // The host hands over sealed blocks; a synthetic unique hash stands in for reth's seal.
        let hash = B256::from(U256::from(number + 1));
        let header =
            Header { number, parent_hash: parent, gas_limit: 30_000_000, ..Default::default() };
        let block = OpBlock {
            header,
            body: BlockBody { transactions: template.clone(), ommers: vec![], withdrawals: None },
        };
        let event =
            ChainStateEvent::Committed { new: vec![SealedL2Block::new(hash, Arc::new(block))] };
        parent = hash;
        let started = Instant::now();
        provider.apply(&event).unwrap();
        applying += started.elapsed();
        if (number + 1) % CHECKPOINT == 0 {
            rss.push((number + 1, rss_mib()));
        }
    }
    assert_eq!(provider.len(), capacity);
    let rate = TOTAL as f64 / applying.as_secs_f64();
    println!(
        "ingest: {TOTAL} blocks committed one per event in {:.2} s of apply time = {rate:.0} blocks/s (target 50000: {:.1}x)",
        applying.as_secs_f64(),
        rate / 50_000.0
    );
    println!("resident memory (window {capacity} blocks), start {rss_start:.1} MiB:");
    for (blocks, mib) in &rss {
        println!("  after {blocks:>8} blocks: {mib:>7.1} MiB");
    }
    let (first, last) = (rss[0].1, rss[rss.len() - 1].1);
    println!("  last/first checkpoint = {:.3} (flat = 1.0)", last / first);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(lookups());
    ingest_and_memory();
}
