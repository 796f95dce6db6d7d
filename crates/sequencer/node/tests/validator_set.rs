//! Four validators, each with its own Engine API fixture, agreeing through Simplex over the real
//! authenticated p2p on loopback and posting to one shared local DA. The engine fixture links
//! blocks by hash and checks nonces; it executes no transactions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::B256;
use alloy_rpc_types_engine::JwtSecret;
use commonware_runtime::{Runner as _, Supervisor as _};
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use sequencer_config::ValidatorKey;
use sequencer_consensus::{BftConfig, Peer, ValidatorSet, start_network};
use sequencer_da::DaClient;
use sequencer_engine::RetryPolicy;
use sequencer_node::{BftSetup, NodeConfig, NodeHandle, history::History, launch_bft};
use sequencer_testing::{LocalDa, MockEngine, MockEngineConfig, dev_address, eventually, transfer};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

const CHAIN_ID: u64 = 1337;

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn node_config(engine: &MockEngine, secret: JwtSecret, dir: &std::path::Path) -> NodeConfig {
    NodeConfig {
        build_time: Duration::from_millis(20),
        da_poll_interval: Duration::from_millis(20),
        max_batch_blocks: 8,
        retry: RetryPolicy {
            attempts: 3,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            request_timeout: Duration::from_secs(5),
        },
        firm_record_path: Some(dir.join("sequencer-state.json")),
        da_journal_path: Some(dir.join("sequencer-state.da.json")),
        ..NodeConfig::new(CHAIN_ID, engine.url(), secret, "0xc0ffee".parse().unwrap())
            .with_block_time(Duration::from_secs(1))
    }
}

struct Member {
    node: NodeHandle,
    engine: MockEngine,
}

#[test]
fn four_validators_agree_on_every_block_and_post_it_with_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let runner = commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new().with_storage_directory(dir.path().join("journal")),
    );
    runner.start(|context| async move {
        let keys: Vec<_> = (1..=4).map(|i| ValidatorKey::from_secret_bytes([i; 32])).collect();
        let publics: Vec<_> = keys.iter().map(ValidatorKey::public).collect();
        let set = ValidatorSet::new(CHAIN_ID, &publics).unwrap();
        let addrs: Vec<_> = (0..4).map(|_| free_port()).collect();
        let da = Arc::new(LocalDa::new(Duration::from_millis(300), 0));

        let mut members = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let secret = JwtSecret::random();
            let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
            let peers: Vec<_> = (0..4)
                .filter(|j| *j != i)
                .map(|j| Peer { key: publics[j], address: addrs[j] })
                .collect();
            let network = start_network(&context, &set, key, addrs[i], &peers).unwrap();
            let state = dir.path().join(format!("v{i}"));
            std::fs::create_dir_all(&state).unwrap();
            let setup = BftSetup {
                context: context.child("validator").with_attribute("index", i),
                config: BftConfig::new(set.clone(), key.clone(), Duration::from_secs(1))
                    .with_partition(format!("v{i}")),
                network,
                certificates_dir: Some(state.join("certificates")),
            };
            let node = launch_bft(
                node_config(&engine, secret, &state),
                setup,
                da.clone(),
                CancellationToken::new(),
            )
            .await
            .unwrap();
            members.push(Member { node, engine });
        }

        // A transfer sent to one validator reaches a block (when that validator leads: the
        // fixture engines have no devp2p between them).
        let rpc = HttpClientBuilder::default()
            .build(format!("http://{}", members[2].node.rpc_addr))
            .unwrap();
        let tx: B256 = rpc
            .request(
                "eth_sendRawTransaction",
                rpc_params![transfer(1, CHAIN_ID, 0, dev_address(9), 1)],
            )
            .await
            .unwrap();
        assert_ne!(tx, B256::ZERO);

        let statuses: Vec<_> = members.iter().map(|m| m.node.status.clone()).collect();
        eventually("6 SOFT blocks on every validator, 3 FIRM, the transfer in", || {
            statuses.iter().all(|s| {
                let s = s.get();
                s.soft_head.number >= 6 && s.firm_head.number >= 3
            }) && members.iter().all(|m| m.engine.canonical_tx_count() == 1)
        })
        .await;

        // One chain: the same block at every height on every execution client, up to the
        // lowest safe head.
        let safes: Vec<_> = members.iter().map(|m| m.engine.forkchoice().safe_block_hash).collect();
        let lowest =
            members.iter().zip(&safes).map(|(m, s)| m.engine.number_of(*s).unwrap()).min().unwrap();
        assert!(lowest >= 6);
        for n in 1..=lowest {
            let at: Vec<_> =
                members.iter().zip(&safes).map(|(m, s)| m.engine.ancestor_at(*s, n)).collect();
            assert!(at[0].is_some() && at.iter().all(|h| *h == at[0]), "height {n}: {at:?}");
        }
        for m in &members {
            // Moving the head back to a decided block after building on a notarized one is
            // expected of a validator set; nothing else the fixture records is.
            let violations: Vec<_> = m
                .engine
                .violations()
                .into_iter()
                .filter(|v| !v.starts_with("head moved backwards"))
                .collect();
            assert!(violations.is_empty(), "{violations:?}");
        }

        // DA: every block is there with a certificate of the set, and the set's copies agree.
        let head = da.finalized_height().await.unwrap();
        let history = History::read(&*da, &"0xc0ffee".parse().unwrap(), 1..=head).await.unwrap();
        let check = history.check(&publics);
        assert!(check.duplicates.is_empty() && check.gaps.is_empty(), "{check:?}");
        assert!(check.foreign_signers.is_empty());
        assert!(check.blocks.len() >= 3);
        let certification = history.certification(&set);
        assert!(certification.bad_certificates.is_empty(), "{certification:?}");
        assert!(certification.uncertified.is_empty(), "{certification:?}");
        assert_eq!(certification.certified, check.blocks.len());
        // A certificate does not verify for another chain's validator set.
        let other_chain = ValidatorSet::new(CHAIN_ID + 1, &publics).unwrap();
        assert!(!history.certification(&other_chain).bad_certificates.is_empty());

        for m in members {
            m.node.shutdown(Duration::from_secs(2)).await;
        }
    });
}
