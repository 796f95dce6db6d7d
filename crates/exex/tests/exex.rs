//! KonaNodeExEx lifecycle: notification handling and reported heights, start-up sync, the run
//! loop, and config-to-node wiring with anvil as a real L1.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use alloy_consensus::{BlockBody, Header};
use alloy_eips::BlockNumHash;
use alloy_primitives::{B256, Bytes};
use clap::Parser;
use common::{Anvil, BeaconFixture, free_port};
use futures::StreamExt;
use op_alloy_consensus::OpBlock;
use rollup_cli::{KonaArgs, NodeCliConfig};
use rollup_exex::{Backoff, KonaExExError, KonaNodeExEx};
use rollup_providers_local::{
    BufferedL2Provider, ChainStateEvent, L2BlockSource, ProviderError, SealedL2Block, SourceError,
};
use std::{io::Write, sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

const DEVNET: u64 = 42_069;
const ANVIL_CHAIN_ID: u64 = 31_337;

#[derive(Parser)]
struct Host {
    #[command(flatten)]
    kona: KonaArgs,
}

/// Number and hash of each block: how a chain that left the canonical chain is named in events.
fn num_hashes(blocks: &[SealedL2Block]) -> Vec<BlockNumHash> {
    blocks.iter().map(SealedL2Block::num_hash).collect()
}

fn extend(parent: Option<&SealedL2Block>, count: usize, salt: u8) -> Vec<SealedL2Block> {
    let (mut number, mut hash) = parent.map_or((0, B256::ZERO), |p| (p.number() + 1, p.hash()));
    (0..count)
        .map(|_| {
            let header = Header {
                number,
                parent_hash: hash,
                extra_data: Bytes::from(vec![salt]),
                ..Default::default()
            };
            let block = SealedL2Block::seal_slow(OpBlock { header, body: BlockBody::default() });
            hash = block.hash();
            number += 1;
            block
        })
        .collect()
}

/// A devnet rollup config whose L1 is anvil.
fn rollup_file() -> tempfile::NamedTempFile {
    let mut config = kona_registry::ROLLUP_CONFIGS.get(&11_155_420).unwrap().clone();
    config.l2_chain_id = DEVNET.into();
    config.l1_chain_id = ANVIL_CHAIN_ID;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(serde_json::to_string(&config).unwrap().as_bytes()).unwrap();
    file
}

fn config(
    l1: &str,
    beacon: &str,
    rollup: &tempfile::NamedTempFile,
    rpc_port: u16,
) -> NodeCliConfig {
    config_with(l1, beacon, rollup, rpc_port, free_port(), &[])
}

/// [`config`] with kona's P2P TCP port and extra flags chosen by the test.
fn config_with(
    l1: &str,
    beacon: &str,
    rollup: &tempfile::NamedTempFile,
    rpc_port: u16,
    tcp: u16,
    extra: &[&str],
) -> NodeCliConfig {
    let udp = free_port();
    let (tcp, udp) = (tcp.to_string(), udp.to_string());
    let rpc_port = rpc_port.to_string();
    let mut argv = vec![
        "host",
        "--kona.l1-eth-rpc",
        l1,
        "--kona.l1-beacon",
        beacon,
        "--kona.config-file",
        rollup.path().to_str().unwrap(),
        "--kona.p2p.unsafe.block.signer",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "--kona.p2p.listen.ip",
        "127.0.0.1",
        "--kona.p2p.listen.tcp",
        &tcp,
        "--kona.p2p.listen.udp",
        &udp,
        "--kona.p2p.no-discovery",
        "--kona.rpc.addr",
        "127.0.0.1",
        "--kona.rpc.port",
        &rpc_port,
    ];
    argv.extend_from_slice(extra);
    let args = Host::try_parse_from(argv).unwrap().kona;
    NodeCliConfig::builder().args(args).l2_chain_id(DEVNET).build().unwrap()
}

fn engine() -> Arc<dyn rollup_engine::ExecutionEngine> {
    Arc::new(common::AbsentEngine)
}

/// An ExEx whose L1 never answers: the actors stay in the L1 wait, which is enough to exercise
/// everything that does not need kona running.
fn idle_exex(rollup: &tempfile::NamedTempFile) -> KonaNodeExEx {
    idle_exex_with(rollup, None)
}

/// [`idle_exex`] whose buffer (capacity 8) falls back on `host` for older blocks, as reth's
/// database backs it in `rollup`.
fn idle_exex_with(
    rollup: &tempfile::NamedTempFile,
    host: Option<Arc<dyn L2BlockSource>>,
) -> KonaNodeExEx {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let config = config(&dead, &dead, rollup, free_port());
    let mut provider = BufferedL2Provider::with_capacity(Arc::new(config.rollup_config.clone()), 8);
    if let Some(host) = host {
        provider = provider.with_fallback(host);
    }
    KonaNodeExEx::new(config, engine(), provider)
        .with_l1_backoff(Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(50),
        })
        .with_shutdown_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn notifications_update_the_buffer_and_report_heights() {
    let rollup = rollup_file();
    let mut exex = idle_exex(&rollup);
    let chain = extend(None, 6, 0);

    let tip = exex
        .handle_notification(ChainStateEvent::Committed { new: chain[..4].to_vec() })
        .await
        .unwrap();
    assert_eq!(tip, Some(chain[3].num_hash()));
    assert_eq!(exex.provider().head(), Some(chain[3].num_hash()));

    let new = extend(Some(&chain[1]), 3, 1);
    let tip = exex
        .handle_notification(ChainStateEvent::Reorged {
            old: num_hashes(&chain[2..4]),
            new: new.clone(),
        })
        .await
        .unwrap();
    assert_eq!(tip, Some(new[2].num_hash()));
    assert_eq!(exex.provider().buffered_by_number(2), Some(new[0].clone()));

    let tip = exex
        .handle_notification(ChainStateEvent::Reverted { old: num_hashes(&new[2..]) })
        .await
        .unwrap();
    assert_eq!(tip, None, "a revert commits nothing to report");
    assert_eq!(exex.provider().head(), Some(new[1].num_hash()));
    assert_eq!(
        exex.finished(),
        Some(new[2].num_hash()),
        "finished height is never rewound by a revert"
    );
}

#[tokio::test]
async fn reorg_deeper_than_the_buffer_reseeds_it() {
    let rollup = rollup_file();
    let mut exex = idle_exex(&rollup); // capacity 8
    let chain = extend(None, 20, 0);
    exex.handle_notification(ChainStateEvent::Committed { new: chain.clone() }).await.unwrap();
    assert_eq!(exex.provider().oldest().unwrap().number, 12);
    let new = extend(Some(&chain[4]), 3, 9);
    let tip = exex
        .handle_notification(ChainStateEvent::Reorged {
            old: num_hashes(&chain[5..]),
            new: new.clone(),
        })
        .await
        .unwrap();
    assert_eq!(tip, Some(new[2].num_hash()));
    assert_eq!(exex.provider().oldest(), Some(new[0].num_hash()));
    assert_eq!(exex.provider().head(), Some(new[2].num_hash()));
    assert_eq!(exex.provider().buffered_by_number(12), None, "nothing stale survives");
}

/// The host's canonical chain as its database has it: the fallback `rollup` gives the buffer.
#[derive(Debug, Default, Clone)]
struct HostChain(Arc<std::sync::Mutex<Vec<SealedL2Block>>>);

impl HostChain {
    fn set(&self, chain: &[SealedL2Block]) {
        *self.0.lock().unwrap() = chain.to_vec();
    }
}

#[async_trait::async_trait]
impl L2BlockSource for HostChain {
    async fn block_by_number(&self, number: u64) -> Result<Option<SealedL2Block>, SourceError> {
        Ok(self.0.lock().unwrap().get(number as usize).cloned())
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<SealedL2Block>, SourceError> {
        Ok(self.0.lock().unwrap().iter().find(|b| b.hash() == hash).cloned())
    }
}

/// Events that do not fit the buffer, as reth produces them when it unwinds and re-executes
/// blocks without a revert notification reaching the ExEx: the node keeps running, and the
/// buffer is rebuilt from the host's chain (its database) up to the event's tip.
#[tokio::test]
async fn buffer_inconsistencies_reseed_from_the_host_chain() {
    let rollup = rollup_file();
    let chain = extend(None, 10, 0);
    // reth unwound 6..=9 and executed other blocks 6..=14 in their place.
    let rewritten = [&chain[..6], &extend(Some(&chain[5]), 9, 1)[..]].concat();
    // (case, event, blocks the host holds by then, head of the re-seeded buffer)
    let cases = [
        ("gap", ChainStateEvent::Committed { new: rewritten[12..].to_vec() }, 15, 14),
        ("conflict", ChainStateEvent::Committed { new: rewritten[6..].to_vec() }, 15, 14),
        ("detached", ChainStateEvent::Committed { new: rewritten[10..].to_vec() }, 15, 14),
        (
            "fork mismatch",
            ChainStateEvent::Reorged {
                old: num_hashes(&chain[6..]),
                new: rewritten[7..13].to_vec(),
            },
            15,
            12,
        ),
        // The host has since reverted 8..=14 of the re-executed chain.
        ("stale revert", ChainStateEvent::Reverted { old: num_hashes(&rewritten[8..]) }, 8, 7),
    ];
    for (case, event, host_len, head) in cases {
        let host = HostChain::default();
        host.set(&chain);
        let mut exex = idle_exex_with(&rollup, Some(Arc::new(host.clone())));
        exex.handle_notification(ChainStateEvent::Committed { new: chain.clone() }).await.unwrap();
        host.set(&rewritten[..host_len]);

        let expected_tip = event.committed_tip();
        let tip = exex
            .handle_notification(event)
            .await
            .unwrap_or_else(|err| panic!("{case}: a re-seed, not an error: {err}"));
        assert_eq!(tip, expected_tip, "{case}: the event's tip is reported as processed");
        assert_eq!(*exex.buffer_reseeds().borrow(), 1, "{case}: counted");
        assert_eq!(exex.provider().head(), Some(rewritten[head].num_hash()), "{case}");
        assert_eq!(exex.provider().len(), 8, "{case}: a full window from the host's chain");
        for number in head as u64 - 7..=head as u64 {
            assert_eq!(
                exex.provider().buffered_by_number(number).as_ref(),
                Some(&rewritten[number as usize]),
                "{case}: block {number} is the host's"
            );
        }
    }
}

/// Only a re-seed that fails (the host's database cannot be read) stops the node.
#[tokio::test]
async fn a_failed_reseed_is_an_error() {
    #[derive(Debug)]
    struct Unreadable;
    #[async_trait::async_trait]
    impl L2BlockSource for Unreadable {
        async fn block_by_number(&self, _: u64) -> Result<Option<SealedL2Block>, SourceError> {
            Err(SourceError::new(std::io::Error::other("database closed")))
        }
        async fn block_by_hash(&self, _: B256) -> Result<Option<SealedL2Block>, SourceError> {
            Err(SourceError::new(std::io::Error::other("database closed")))
        }
    }
    let rollup = rollup_file();
    let mut exex = idle_exex_with(&rollup, Some(Arc::new(Unreadable)));
    let chain = extend(None, 5, 0);
    exex.handle_notification(ChainStateEvent::Committed { new: chain[..2].to_vec() })
        .await
        .unwrap();
    let err = exex
        .handle_notification(ChainStateEvent::Committed { new: chain[3..].to_vec() })
        .await
        .unwrap_err();
    assert!(
        matches!(err, KonaExExError::Provider(ProviderError::Fallback(_))),
        "the re-seed's failure, not the gap: {err}"
    );
    assert_eq!(exex.provider().head(), Some(chain[1].num_hash()), "buffer unchanged");
}

/// Without a database behind the buffer, the event's own chain is what it is re-seeded from.
#[tokio::test]
async fn without_a_fallback_the_events_chain_reseeds_the_buffer() {
    let rollup = rollup_file();
    let mut exex = idle_exex(&rollup);
    let chain = extend(None, 5, 0);
    exex.handle_notification(ChainStateEvent::Committed { new: chain[..2].to_vec() })
        .await
        .unwrap();
    let tip = exex
        .handle_notification(ChainStateEvent::Committed { new: chain[3..].to_vec() })
        .await
        .unwrap();
    assert_eq!(tip, Some(chain[4].num_hash()));
    assert_eq!(exex.provider().oldest(), Some(chain[3].num_hash()));
    assert_eq!(exex.provider().head(), Some(chain[4].num_hash()));
    assert_eq!(*exex.buffer_reseeds().borrow(), 1);
}

#[tokio::test]
async fn start_up_sync_seeds_the_buffer_and_replays_are_harmless() {
    let rollup = rollup_file();
    let mut exex = idle_exex(&rollup);
    let chain = extend(None, 12, 0);
    exex.sync_state(chain[..10].to_vec()).unwrap();
    assert_eq!(exex.provider().head(), Some(chain[9].num_hash()));
    assert_eq!(exex.provider().len(), 8, "seeded up to the window");
    // reth replays notifications from its WAL after a restart: overlapping commits are fine.
    let tip = exex
        .handle_notification(ChainStateEvent::Committed { new: chain[8..].to_vec() })
        .await
        .unwrap();
    assert_eq!(tip, Some(chain[11].num_hash()));
}

#[tokio::test]
async fn run_applies_the_stream_reports_heights_and_stops_cleanly() {
    let rollup = rollup_file();
    let exex = idle_exex(&rollup);
    let token = exex.cancellation().clone();
    let (events_tx, events_rx) = mpsc::unbounded_channel::<Result<ChainStateEvent, String>>();
    let (mut heights_tx, mut heights_rx) = mpsc::unbounded_channel::<BlockNumHash>();

    let chain = extend(None, 9, 0);
    for part in chain.chunks(3) {
        events_tx.send(Ok(ChainStateEvent::Committed { new: part.to_vec() })).unwrap();
    }
    drop(events_tx);

    let run = tokio::spawn(async move {
        exex.run(UnboundedReceiverStream::new(events_rx), &mut heights_tx).await
    });
    let result = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");
    let reported: Vec<u64> =
        std::iter::from_fn(|| heights_rx.try_recv().ok()).map(|h| h.number).collect();
    assert_eq!(reported, vec![2, 5, 8]);
    assert!(token.is_cancelled(), "ending the stream stops kona");
}

/// Through the ExEx future: an event that does not fit the buffer neither ends the run (and with
/// it the node) nor stops the stream; later events apply on top of the re-seeded buffer.
#[tokio::test]
async fn an_inconsistent_event_in_the_stream_does_not_stop_the_node() {
    let rollup = rollup_file();
    let chain = extend(None, 10, 0);
    let rewritten = [&chain[..6], &extend(Some(&chain[5]), 11, 1)[..]].concat(); // 0..=16
    let host = HostChain::default();
    host.set(&rewritten);
    let exex = idle_exex_with(&rollup, Some(Arc::new(host)));
    let (provider, reseeds) = (exex.provider().clone(), exex.buffer_reseeds());
    let events = vec![
        Ok::<_, String>(ChainStateEvent::Committed { new: chain.clone() }),
        Ok(ChainStateEvent::Committed { new: rewritten[12..15].to_vec() }),
        Ok(ChainStateEvent::Committed { new: rewritten[15..].to_vec() }),
    ];
    let (mut heights_tx, mut heights_rx) = mpsc::unbounded_channel::<BlockNumHash>();
    let run = exex.run(futures::stream::iter(events), &mut heights_tx);
    let result = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap();
    assert!(result.is_ok(), "{result:?}");
    let reported: Vec<u64> =
        std::iter::from_fn(|| heights_rx.try_recv().ok()).map(|h| h.number).collect();
    assert_eq!(reported, vec![9, 14, 16]);
    assert_eq!(*reseeds.borrow(), 1);
    assert_eq!(provider.head(), Some(rewritten[16].num_hash()));
    assert_eq!(provider.buffered_by_number(9).as_ref(), Some(&rewritten[9]), "the host's block 9");
}

#[tokio::test]
async fn a_broken_notification_stream_is_an_error() {
    let rollup = rollup_file();
    let exex = idle_exex(&rollup);
    let stream = futures::stream::iter(vec![Err::<ChainStateEvent, _>("WAL corrupted")]).boxed();
    let (mut heights, _rx) = mpsc::unbounded_channel();
    let err = exex.run(stream, &mut heights).await.unwrap_err();
    assert_eq!(err.to_string(), "reth's ExEx notification stream: WAL corrupted");
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(cause.as_deref(), Some("WAL corrupted"), "the stream's error is the source");
    assert!(!err.is_restartable(), "a broken host is not cured by restarting kona");
}

/// A real L1 (anvil) and beacon API, and an ExEx configured against them with its kona RPC on
/// the returned port. The fixtures must outlive the ExEx.
struct LiveL1 {
    _anvil: Anvil,
    _beacon: BeaconFixture,
    _rollup: tempfile::NamedTempFile,
    rpc_port: u16,
}

async fn exex_with_live_l1(shutdown_timeout: Duration) -> (LiveL1, KonaNodeExEx) {
    let anvil = Anvil::start();
    let beacon = BeaconFixture::start(2).await;
    let rollup = rollup_file();
    let rpc_port = free_port();
    let config = config(anvil.url().as_str(), beacon.url().as_str(), &rollup, rpc_port);
    let provider = BufferedL2Provider::new(Arc::new(config.rollup_config.clone()));
    let exex =
        KonaNodeExEx::new(config, engine(), provider).with_shutdown_timeout(shutdown_timeout);
    (LiveL1 { _anvil: anvil, _beacon: beacon, _rollup: rollup, rpc_port }, exex)
}

/// The real thing, short of an execution layer: anvil as L1, a beacon API, and kona's actors
/// (L1 watcher, derivation, engine, network, RPC) wired by `KonaNodeService`. The kona RPC server
/// answering proves the actors came up with our channels; cancelling stops them all in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kona_actors_start_against_anvil_and_stop_on_cancel() {
    let (l1, mut exex) = exex_with_live_l1(Duration::from_secs(5)).await;
    let rpc_port = l1.rpc_port;
    exex.start().unwrap();

    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(format!("http://127.0.0.1:{rpc_port}"))
        .unwrap();
    let mut answer = None;
    for _ in 0..100 {
        use jsonrpsee::core::client::ClientT;
        match client
            .request::<serde_json::Value, _>("optimism_rollupConfig", jsonrpsee::rpc_params![])
            .await
        {
            Ok(value) => {
                answer = Some(value);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let answer = answer.expect("kona RPC answered optimism_rollupConfig within 10s");
    assert_eq!(answer["l2_chain_id"], serde_json::json!(DEVNET), "{answer}");
    assert!(exex.is_running());

    let started = std::time::Instant::now();
    let report = exex.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(7), "bounded shutdown");
    assert!(
        report.stopped.contains(&"rpc") && report.stopped.contains(&"l1_watcher"),
        "{report:?}"
    );
}

/// While kona runs, an L1 outage is visible (health turns false) and does not stop the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_outage_is_reported_without_stopping_kona() {
    let anvil = Anvil::start();
    let beacon = BeaconFixture::start(2).await;
    let rollup = rollup_file();
    let config = config(anvil.url().as_str(), beacon.url().as_str(), &rollup, free_port());
    let provider = BufferedL2Provider::new(Arc::new(config.rollup_config.clone()));
    let mut exex = KonaNodeExEx::new(config, engine(), provider)
        .with_l1_check_interval(Duration::from_millis(200))
        .with_shutdown_timeout(Duration::from_secs(5));
    let mut healthy = exex.l1_healthy();
    exex.start().unwrap();
    tokio::time::timeout(Duration::from_secs(10), healthy.wait_for(|up| *up))
        .await
        .unwrap()
        .unwrap();

    drop(anvil);
    tokio::time::timeout(Duration::from_secs(10), healthy.wait_for(|up| !*up))
        .await
        .expect("the outage was noticed")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(exex.is_running(), "an L1 outage does not take kona (and so reth) down");
    exex.shutdown().await.unwrap();
}

/// Asks kona's RPC for its rollup config until it answers or `tries` × 100 ms have passed.
async fn kona_rpc_answers(rpc_port: u16, tries: usize) -> Option<serde_json::Value> {
    use jsonrpsee::core::client::ClientT;
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(format!("http://127.0.0.1:{rpc_port}"))
        .unwrap();
    for _ in 0..tries {
        if let Ok(value) = client
            .request::<serde_json::Value, _>("optimism_rollupConfig", jsonrpsee::rpc_params![])
            .await
        {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// A real kona failure under running actors: kona's P2P port is taken, so its network actor
/// fails at start while the RPC, L1 watcher and derivation actors are up. The ExEx restarts kona
/// with backoff (counted), keeps applying chain events to the buffer meanwhile, and once the port
/// is free the next run comes up and stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_kona_is_restarted_and_the_buffer_keeps_following_the_chain() {
    // The restart lines name their cause; keep them in the test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("kona_exex=info,warn")
        .with_test_writer()
        .try_init();
    let anvil = Anvil::start();
    let beacon = BeaconFixture::start(2).await;
    let rollup = rollup_file();
    let (rpc_port, p2p_port) = (free_port(), free_port());
    let squatter = std::net::TcpListener::bind(("127.0.0.1", p2p_port)).unwrap();
    let config =
        config_with(anvil.url().as_str(), beacon.url().as_str(), &rollup, rpc_port, p2p_port, &[]);
    let provider = BufferedL2Provider::new(Arc::new(config.rollup_config.clone()));
    let exex = KonaNodeExEx::new(config, engine(), provider.clone())
        .with_shutdown_timeout(Duration::from_secs(3))
        .with_restart_backoff(
            Backoff { initial: Duration::from_millis(200), max: Duration::from_millis(800) },
            Duration::from_secs(60),
        );
    let token = exex.cancellation().clone();
    let mut restarts = exex.restarts();
    let (events_tx, events_rx) = mpsc::unbounded_channel::<Result<ChainStateEvent, String>>();
    let (mut heights_tx, mut heights_rx) = mpsc::unbounded_channel::<BlockNumHash>();
    let run = tokio::spawn(async move {
        exex.run(UnboundedReceiverStream::new(events_rx), &mut heights_tx).await
    });

    // Two failed runs: the failure is seen, and the ExEx comes back for more.
    tokio::time::timeout(Duration::from_secs(60), restarts.wait_for(|n| *n >= 2))
        .await
        .expect("kona was restarted twice within 60 s")
        .unwrap();
    assert!(!run.is_finished(), "a kona failure does not end the ExEx");

    // Chain events keep flowing into the buffer while kona is down.
    let chain = extend(None, 3, 7);
    events_tx.send(Ok(ChainStateEvent::Committed { new: chain.clone() })).unwrap();
    let reported = tokio::time::timeout(Duration::from_secs(5), heights_rx.recv()).await.unwrap();
    assert_eq!(reported, Some(chain[2].num_hash()));
    assert_eq!(provider.head(), Some(chain[2].num_hash()));

    // The port comes free: the next run starts, answers, and is not restarted again.
    drop(squatter);
    let answer = kona_rpc_answers(rpc_port, 600)
        .await
        .expect("a restarted kona answers its RPC within 60 s");
    assert_eq!(answer["l2_chain_id"], serde_json::json!(DEVNET), "{answer}");
    let settled = *restarts.borrow_and_update();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(*restarts.borrow(), settled, "a healthy run is left alone");
    assert_eq!(provider.head(), Some(chain[2].num_hash()), "the buffer survived the restarts");

    token.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    assert!(result.is_ok(), "a shutdown is not a failure: {result:?}");
    assert!(kona_rpc_answers(rpc_port, 1).await.is_none(), "kona's RPC is gone after shutdown");
}

/// `--kona.exit-on-failure`: the first kona failure ends the ExEx (and so the node) with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_on_failure_returns_the_first_kona_failure() {
    let anvil = Anvil::start();
    let beacon = BeaconFixture::start(2).await;
    let rollup = rollup_file();
    let p2p_port = free_port();
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", p2p_port)).unwrap();
    let config = config_with(
        anvil.url().as_str(),
        beacon.url().as_str(),
        &rollup,
        free_port(),
        p2p_port,
        &["--kona.exit-on-failure"],
    );
    assert!(config.exit_on_failure);
    let provider = BufferedL2Provider::new(Arc::new(config.rollup_config.clone()));
    let exex =
        KonaNodeExEx::new(config, engine(), provider).with_shutdown_timeout(Duration::from_secs(3));
    let restarts = exex.restarts();
    let (_events, events_rx) = mpsc::unbounded_channel::<Result<ChainStateEvent, String>>();
    let (mut heights, _heights_rx) = mpsc::unbounded_channel();
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        exex.run(UnboundedReceiverStream::new(events_rx), &mut heights),
    )
    .await
    .expect("the failure ends the ExEx")
    .unwrap_err();
    assert_eq!(err.failed_actor(), Some("network"), "{err}");
    assert!(err.to_string().starts_with("kona actor `network` failed: "), "{err}");
    assert_eq!(*restarts.borrow(), 0, "no restart was attempted");
}

/// A host that stops the ExEx while kona waits for L1 gets `Ok`: stopping is not failing.
#[tokio::test]
async fn cancelling_while_kona_waits_for_l1_is_a_clean_stop() {
    let rollup = rollup_file();
    let exex = idle_exex(&rollup);
    let token = exex.cancellation().clone();
    let (_events, events_rx) = mpsc::unbounded_channel::<Result<ChainStateEvent, String>>();
    let (mut heights, _rx) = mpsc::unbounded_channel();
    let run = tokio::spawn(async move {
        exex.run(UnboundedReceiverStream::new(events_rx), &mut heights).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    token.cancel();
    let result = tokio::time::timeout(Duration::from_secs(5), run).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");
}

/// reth drops its ExEx future the moment its shutdown signal fires. kona must still stop in
/// order (its actors run on their own runtime) and say so, for reth's shutdown guard to wait on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_running_exex_still_stops_kona_in_order() {
    let (l1, mut exex) = exex_with_live_l1(Duration::from_secs(3)).await;
    let rpc_port = l1.rpc_port;
    let mut stopped = exex.kona_stopped();
    assert!(*stopped.borrow(), "nothing runs yet");
    exex.start().unwrap();
    assert!(!*stopped.borrow_and_update(), "a run is active");
    kona_rpc_answers(rpc_port, 100).await.expect("kona RPC up");

    drop(exex);
    tokio::time::timeout(Duration::from_secs(5), stopped.wait_for(|stopped| *stopped))
        .await
        .expect("kona reports it stopped after the drop")
        .unwrap();
    assert!(kona_rpc_answers(rpc_port, 1).await.is_none(), "its RPC server is gone");
}
