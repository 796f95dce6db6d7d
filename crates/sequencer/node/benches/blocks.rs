//! Block production throughput and SOFT latency against the Engine API fixture, at 1 s and
//! 100 ms block times, with a steady transaction load through the RPC.
//!
//! `cargo bench -p sequencer-node --bench blocks` (optional env: `BENCH_SECS` per run, default 10).
//! Prints numbers and ratios; asserts nothing about time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::B256;
use alloy_rpc_types_engine::JwtSecret;
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use sequencer_config::ValidatorKey;
use sequencer_node::{NodeConfig, SingleValidator, launch};
use sequencer_testing::LocalDa;
use sequencer_testing::{MockEngine, MockEngineConfig, dev_address, transfer};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

fn quantile(rendered: &str, metric: &str, q: &str) -> Option<f64> {
    rendered
        .lines()
        .find(|l| l.starts_with(&format!("{metric}{{quantile=\"{q}\"}}")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn run(
    block_time: Duration,
    secs: u64,
    handle: &metrics_exporter_prometheus::PrometheusHandle,
) {
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(1337, secret)).await.unwrap();
    let key = ValidatorKey::from_secret_bytes([1; 32]);
    let cfg = NodeConfig::new(1337, engine.url(), secret, "0xbe7c4".parse().unwrap())
        .with_block_time(block_time);
    let build_time = cfg.build_time;
    let da = Arc::new(LocalDa::new(block_time, 0));
    let node = launch(
        cfg,
        Arc::new(SingleValidator::new(&[key.public()], key).unwrap()),
        da,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let rpc = HttpClientBuilder::default().build(format!("http://{}", node.rpc_addr)).unwrap();

    // Load: 200 tx/s from 4 senders.
    let cancel = CancellationToken::new();
    let load = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let mut nonces = [0u64; 4];
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut sent = 0u64;
            while !cancel.is_cancelled() {
                tick.tick().await;
                for (i, n) in nonces.iter_mut().enumerate() {
                    let raw = transfer(i as u8 + 1, 1337, *n, dev_address(9), 1);
                    if rpc
                        .request::<B256, _>("eth_sendRawTransaction", rpc_params![raw])
                        .await
                        .is_ok()
                    {
                        *n += 1;
                        sent += 1;
                    }
                }
            }
            sent
        })
    };

    let start_head = node.status.get().soft_head.number;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let s = node.status.get();
    cancel.cancel();
    let sent = load.await.unwrap();
    let blocks = s.soft_head.number - start_head;
    let rendered = handle.render();
    let p50 = quantile(&rendered, "sequencer_soft_latency", "0.5").unwrap_or(f64::NAN) * 1e3;
    let p99 = quantile(&rendered, "sequencer_soft_latency", "0.99").unwrap_or(f64::NAN) * 1e3;
    let f50 = quantile(&rendered, "sequencer_finality_latency", "0.5").unwrap_or(f64::NAN) * 1e3;
    let bps = blocks as f64 / elapsed;
    let target = 1.0 / block_time.as_secs_f64();
    println!(
        "block_time={:>5}ms  blocks={blocks:>4} in {elapsed:.1}s  blocks/s={bps:.2} (target {target:.2}, ratio {:.3})  \
         soft_latency p50={p50:.1}ms p99={p99:.1}ms (build wait {}ms, overhead p50={:.1}ms)  finality p50={f50:.0}ms  \
         txs sent={sent} included={} firm={} soft={}",
        block_time.as_millis(),
        bps / target,
        build_time.as_millis(),
        p50 - build_time.as_secs_f64() * 1e3,
        engine.canonical_tx_count(),
        s.firm_head.number,
        s.soft_head.number,
    );
    assert!(engine.violations().is_empty());
    node.shutdown(Duration::from_secs(5)).await;
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    // Current-thread runtime: the per-run metrics recorder below is thread-local.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for block_time in [Duration::from_secs(1), Duration::from_millis(100)] {
        // A fresh recorder per run so the quantiles are per block time.
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _guard = metrics::set_default_local_recorder(&recorder);
        runtime.block_on(run(block_time, secs, &handle));
    }
}
