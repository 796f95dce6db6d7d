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

/// `n` distinct free loopback addresses (all held while choosing, so none repeats).
fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let held: Vec<_> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    held.iter().map(|l| l.local_addr().unwrap()).collect()
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
    engine: Arc<MockEngine>,
    secret: JwtSecret,
}

struct Net {
    keys: Vec<ValidatorKey>,
    publics: Vec<sequencer_config::ValidatorPublicKey>,
    set: ValidatorSet,
    addrs: Vec<SocketAddr>,
    da: Arc<LocalDa>,
    dir: std::path::PathBuf,
}

impl Net {
    fn new(dir: &std::path::Path) -> Self {
        let keys: Vec<_> = (1..=4).map(|i| ValidatorKey::from_secret_bytes([i; 32])).collect();
        let publics: Vec<_> = keys.iter().map(ValidatorKey::public).collect();
        let set = ValidatorSet::new(CHAIN_ID, &publics).unwrap();
        let addrs = free_addrs(4);
        let da = Arc::new(LocalDa::new(Duration::from_millis(300), 0));
        Self { keys, publics, set, addrs, da, dir: dir.to_path_buf() }
    }

    /// Starts validator `i` on `engine` (a fresh fixture when `None`), with its state directory
    /// and vote journal kept across restarts.
    async fn start(
        &self,
        context: &commonware_runtime::tokio::Context,
        i: usize,
        engine: Option<(Arc<MockEngine>, JwtSecret)>,
    ) -> Member {
        let (engine, secret) = match engine {
            Some(e) => e,
            None => {
                let secret = JwtSecret::random();
                let engine =
                    MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
                (Arc::new(engine), secret)
            }
        };
        let peers: Vec<_> = (0..4)
            .filter(|j| *j != i)
            .map(|j| Peer { key: self.publics[j], address: self.addrs[j] })
            .collect();
        let network =
            start_network(context, &self.set, &self.keys[i], self.addrs[i], &peers).unwrap();
        let state = self.dir.join(format!("v{i}"));
        std::fs::create_dir_all(&state).unwrap();
        let setup = BftSetup {
            context: context.child("validator").with_attribute("index", i),
            config: BftConfig::new(self.set.clone(), self.keys[i].clone(), Duration::from_secs(1))
                .with_partition(format!("v{i}")),
            network,
            certificates_dir: Some(state.join("certificates")),
        };
        let node = launch_bft(
            node_config(&engine, secret, &state),
            setup,
            self.da.clone(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
        Member { node, engine, secret }
    }
}

/// The same block at every height on every execution client, up to the lowest safe head;
/// returns that height.
fn assert_one_chain(members: &[&Member]) -> u64 {
    let safes: Vec<_> = members.iter().map(|m| m.engine.forkchoice().safe_block_hash).collect();
    let lowest =
        members.iter().zip(&safes).map(|(m, s)| m.engine.number_of(*s).unwrap()).min().unwrap();
    for n in 1..=lowest {
        let at: Vec<_> =
            members.iter().zip(&safes).map(|(m, s)| m.engine.ancestor_at(*s, n)).collect();
        assert!(at[0].is_some() && at.iter().all(|h| *h == at[0]), "height {n}: {at:?}");
    }
    for m in members {
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
    lowest
}

#[test]
fn four_validators_agree_on_every_block_and_post_it_with_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let runner = commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new().with_storage_directory(dir.path().join("journal")),
    );
    runner.start(|context| async move {
        let net = Net::new(dir.path());
        let (set, publics, da) = (net.set.clone(), net.publics.clone(), net.da.clone());
        let mut members = Vec::new();
        for i in 0..4 {
            members.push(net.start(&context, i, None).await);
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

        assert!(assert_one_chain(&members.iter().collect::<Vec<_>>()) >= 6);

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

#[test]
fn a_crashed_validator_is_replaced_as_leader_and_catches_up_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let runner = commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new().with_storage_directory(dir.path().join("journal")),
    );
    runner.start(|context| async move {
        let net = Net::new(dir.path());
        let mut members = Vec::new();
        for i in 0..4 {
            members.push(net.start(&context, i, None).await);
        }
        let soft = |m: &Member| m.node.status.get().soft_head.number;
        eventually("4 SOFT blocks everywhere", || members.iter().all(|m| soft(m) >= 4)).await;

        // Validator 3 crashes; its execution client stays (as reth would).
        let crashed = members.pop().unwrap();
        let at_crash = soft(&crashed);
        let (engine, secret) = (crashed.engine.clone(), crashed.secret);
        crashed.node.shutdown(Duration::from_millis(500)).await;
        eventually("the three others go 5 blocks further", || {
            members.iter().all(|m| soft(m) >= at_crash + 5)
        })
        .await;
        assert_eq!(engine.number_of(engine.forkchoice().safe_block_hash), Some(at_crash));

        // It restarts from its reth and its vote journal, and catches up from its peers.
        let restarted = net.start(&context, 3, Some((engine, secret))).await;
        let target = members.iter().map(soft).max().unwrap() + 2;
        members.push(restarted);
        eventually("the restarted validator catches up", || {
            members.iter().all(|m| soft(m) >= target)
        })
        .await;
        assert!(assert_one_chain(&members.iter().collect::<Vec<_>>()) >= target);

        for m in members {
            m.node.shutdown(Duration::from_secs(2)).await;
        }
    });
}
