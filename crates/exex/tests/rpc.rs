//! kona's RPC server as `rollup` runs it: loopback by default, and `admin_*` (with the `opp2p_*`
//! methods that change peering) only with `--kona.rpc.enable-admin`. kona-node-service 0.1.3's
//! own RPC actor serves `admin_*` whatever the flag says.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use anvil_testing::free_port;
use clap::Parser;
use jsonrpsee::{
    core::{ClientError, client::ClientT},
    http_client::HttpClientBuilder,
    rpc_params,
};
use kona_node_service::{NodeActor, RpcContext};
use kona_rpc::{L1State, L1WatcherQueries, RpcBuilder, SafeHeadResponse};
use rollup_cli::KonaArgs;
use rollup_exex::{
    KonaRpcActor, KonaRpcBuilder, P2P_READ_METHODS, SAFE_HEAD_AT_L1_BLOCK, SAFE_HEAD_NOT_FOUND,
    rpc_module, safe_head_db::SafeHeadDb,
};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    kona: KonaArgs,
}

/// The RPC config `rollup node` builds from these `--kona.*` flags.
fn rpc_config(flags: &[&str]) -> RpcBuilder {
    let cli = Cli::try_parse_from(std::iter::once("rollup").chain(flags.iter().copied())).unwrap();
    cli.kona.rpc.rpc_builder().expect("the RPC server is on by default")
}

/// A context whose channels lead nowhere: the methods exist, nobody answers them.
fn context() -> RpcContext {
    RpcContext {
        p2p_network: mpsc::channel(1).0,
        network_admin: mpsc::channel(1).0,
        sequencer_admin: Some(mpsc::channel(1).0),
        l1_watcher_queries: mpsc::channel(1).0,
        engine_query: mpsc::channel(1).0,
        cancellation: CancellationToken::new(),
    }
}

fn method_names(config: &RpcBuilder) -> Vec<String> {
    let builder = KonaRpcBuilder::new(config.clone());
    rpc_module(&builder, &context()).unwrap().method_names().map(str::to_owned).collect()
}

/// The `opp2p_*` methods that change peering, as kona 0.1.3 names them.
const P2P_CHANGES: [&str; 10] = [
    "opp2p_blockPeer",
    "opp2p_unblockPeer",
    "opp2p_blocAddr",
    "opp2p_unblockAddr",
    "opp2p_blockSubnet",
    "opp2p_unblockSubnet",
    "opp2p_protectPeer",
    "opp2p_unprotectPeer",
    "opp2p_connectPeer",
    "opp2p_disconnectPeer",
];

#[test]
fn admin_methods_exist_only_with_enable_admin() {
    let default = method_names(&rpc_config(&[]));
    assert!(default.iter().all(|name| !name.starts_with("admin_")), "{default:?}");
    for method in P2P_CHANGES {
        assert!(!default.iter().any(|name| name == method), "{method} without admin");
    }
    let p2p: Vec<&String> = default.iter().filter(|name| name.starts_with("opp2p_")).collect();
    assert_eq!(p2p.len(), P2P_READ_METHODS.len(), "only the reads: {p2p:?}");
    for read in ["optimism_syncStatus", "optimism_outputAtBlock", "opp2p_self", "opp2p_peers"] {
        assert!(default.iter().any(|name| name == read), "{read} is served: {default:?}");
    }
    assert!(default.iter().all(|name| !name.starts_with("dev_")), "dev_* needs --kona.rpc.dev");

    let admin = method_names(&rpc_config(&["--kona.rpc.enable-admin"]));
    for method in ["admin_stopSequencer", "admin_postUnsafePayload", "admin_sequencerActive"]
        .into_iter()
        .chain(P2P_CHANGES)
    {
        assert!(admin.iter().any(|name| name == method), "{method} with admin: {admin:?}");
    }
    // Seven admin_* methods and the ten peering changes, nothing else.
    assert_eq!(admin.len(), default.len() + P2P_CHANGES.len() + 7, "{admin:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_binds_loopback_and_answers_admin_calls_with_method_not_found() {
    let port = free_port();
    let config = rpc_config(&["--kona.rpc.port", &port.to_string()]);
    assert!(config.socket.ip().is_loopback(), "default address {}", config.socket);
    let context = context();
    let cancellation = context.cancellation.clone();
    let (_, actor) = KonaRpcActor::build(config.into());
    let server = tokio::spawn(actor.start(context));

    let client = HttpClientBuilder::default().build(format!("http://127.0.0.1:{port}")).unwrap();
    let mut health = None;
    for _ in 0..100 {
        match client.request::<serde_json::Value, _>("healthz", rpc_params![]).await {
            Ok(answer) => {
                health = Some(answer);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert!(health.expect("the server answers healthz")["version"].is_string());
    for method in
        ["admin_sequencerActive", "admin_stopSequencer", "opp2p_blockPeer", "opp2p_blocAddr"]
    {
        let err = client.request::<serde_json::Value, _>(method, rpc_params![]).await.unwrap_err();
        match err {
            ClientError::Call(err) => assert_eq!(err.code(), -32601, "{method}: {err}"),
            other => panic!("{method}: {other}"),
        }
    }

    cancellation.cancel();
    server.await.unwrap().unwrap();
}

/// Block `number` with a hash that names it (`tag` tells L1 from L2).
fn block(number: u64, tag: u8) -> alloy_eips::BlockNumHash {
    let mut hash = alloy_primitives::B256::repeat_byte(tag);
    hash[..8].copy_from_slice(&number.to_be_bytes());
    alloy_eips::BlockNumHash::new(number, hash)
}

/// A database with entries for L1 blocks 10 (safe head 100), 12 (110) and 15 (130).
fn safe_head_db() -> (tempfile::TempDir, Arc<SafeHeadDb>) {
    let dir = tempfile::tempdir().unwrap();
    let db = SafeHeadDb::open(dir.path().join("safe_head.db"), 1_000).unwrap();
    for (l1, l2) in [(10, 100), (12, 110), (15, 130)] {
        db.record(block(l1, 1), block(l2, 2)).unwrap();
    }
    (dir, Arc::new(db))
}

fn answer(l1: u64, l2: u64) -> SafeHeadResponse {
    SafeHeadResponse { l1_block: block(l1, 1), safe_head: block(l2, 2) }
}

/// Calls the safe-head method of `module` with `param`; a JSON-RPC error as `Err((code, message))`.
async fn safe_head_at(
    module: &jsonrpsee::RpcModule<()>,
    param: &str,
) -> Result<SafeHeadResponse, (i32, String)> {
    module.call(SAFE_HEAD_AT_L1_BLOCK, rpc_params![param]).await.map_err(|err| match err {
        jsonrpsee::core::server::MethodsError::JsonRpc(err) => {
            (err.code(), err.message().to_owned())
        }
        other => panic!("{param}: {other}"),
    })
}

#[tokio::test]
async fn without_a_database_the_safe_head_method_is_kona_s() {
    let module = rpc_module(&KonaRpcBuilder::new(rpc_config(&[])), &context()).unwrap();
    let (code, _) = safe_head_at(&module, "0xa").await.unwrap_err();
    assert_eq!(code, -32601, "kona 0.1.3 answers method not found");
}

#[tokio::test]
async fn the_safe_head_method_answers_the_newest_entry_at_or_below_the_l1_block() {
    let (_dir, db) = safe_head_db();
    let builder = KonaRpcBuilder::new(rpc_config(&[])).with_safe_head_db(db.clone());
    let module = rpc_module(&builder, &context()).unwrap();
    let names: Vec<&str> = module.method_names().collect();
    assert_eq!(names.iter().filter(|name| **name == SAFE_HEAD_AT_L1_BLOCK).count(), 1);

    assert_eq!(safe_head_at(&module, "0xa").await, Ok(answer(10, 100)), "exact");
    assert_eq!(safe_head_at(&module, "0xb").await, Ok(answer(10, 100)), "between");
    assert_eq!(safe_head_at(&module, "0xe").await, Ok(answer(12, 110)));
    assert_eq!(safe_head_at(&module, "0x3e8").await, Ok(answer(15, 130)), "above the newest");
    assert_eq!(safe_head_at(&module, "latest").await, Ok(answer(15, 130)));
    assert_eq!(safe_head_at(&module, "pending").await, Ok(answer(15, 130)));

    let (code, message) = safe_head_at(&module, "0x9").await.unwrap_err();
    assert_eq!(code, SAFE_HEAD_NOT_FOUND);
    assert!(message.contains("safe head not found"), "{message}");
    assert!(message.contains("oldest entry is for L1 block 10"), "{message}");
    assert_eq!(safe_head_at(&module, "earliest").await.unwrap_err().0, SAFE_HEAD_NOT_FOUND);
    let (code, _) = safe_head_at(&module, "12").await.unwrap_err();
    assert_eq!(code, -32602, "invalid params: op-node takes a hex quantity too");

    // op-node's answer, field for field.
    let json: serde_json::Value =
        module.call(SAFE_HEAD_AT_L1_BLOCK, rpc_params!["0xc"]).await.unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "l1Block": { "hash": block(12, 1).hash, "number": 12 },
            "safeHead": { "hash": block(110, 2).hash, "number": 110 },
        })
    );

    // What the engine records later is served at once.
    db.record(block(16, 1), block(140, 2)).unwrap();
    assert_eq!(safe_head_at(&module, "latest").await, Ok(answer(16, 140)));
    db.remove_from_l1(0).unwrap();
    let (code, message) = safe_head_at(&module, "latest").await.unwrap_err();
    assert_eq!(code, SAFE_HEAD_NOT_FOUND);
    assert!(message.contains("nothing is recorded yet"), "{message}");
}

/// `safe` and `finalized` stand for the L1 blocks the L1 watcher last saw with those labels.
#[tokio::test]
async fn the_safe_head_method_reads_l1_labels_from_the_l1_watcher() {
    let (_dir, db) = safe_head_db();
    let (l1_watcher_queries, mut queries) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Some(query) = queries.recv().await {
            if let L1WatcherQueries::L1State(reply) = query {
                let info = |number| kona_protocol::BlockInfo { number, ..Default::default() };
                let _ = reply.send(L1State {
                    current_l1: None,
                    current_l1_finalized: None,
                    head_l1: Some(info(20)),
                    safe_l1: Some(info(13)),
                    finalized_l1: Some(info(11)),
                });
            }
        }
    });
    let watched = RpcContext { l1_watcher_queries, ..context() };
    let builder = KonaRpcBuilder::new(rpc_config(&[])).with_safe_head_db(db);
    let module = rpc_module(&builder, &watched).unwrap();
    assert_eq!(safe_head_at(&module, "safe").await, Ok(answer(12, 110)));
    assert_eq!(safe_head_at(&module, "finalized").await, Ok(answer(10, 100)));

    // Nobody answers: an error, not a hang.
    let builder = KonaRpcBuilder::new(rpc_config(&[])).with_safe_head_db(safe_head_db().1);
    let module = rpc_module(&builder, &context()).unwrap();
    assert_eq!(safe_head_at(&module, "finalized").await.unwrap_err().0, SAFE_HEAD_NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_safe_head_method_from_the_database() {
    let (_dir, db) = safe_head_db();
    let port = free_port();
    let config = rpc_config(&["--kona.rpc.port", &port.to_string()]);
    let context = context();
    let cancellation = context.cancellation.clone();
    let (_, actor) = KonaRpcActor::build(KonaRpcBuilder::new(config).with_safe_head_db(db));
    let server = tokio::spawn(actor.start(context));

    let client = HttpClientBuilder::default().build(format!("http://127.0.0.1:{port}")).unwrap();
    let mut answer_12 = None;
    for _ in 0..100 {
        match client.request::<SafeHeadResponse, _>(SAFE_HEAD_AT_L1_BLOCK, rpc_params!["0xd"]).await
        {
            Ok(answer) => {
                answer_12 = Some(answer);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert_eq!(answer_12, Some(answer(12, 110)));
    cancellation.cancel();
    server.await.unwrap().unwrap();
}
