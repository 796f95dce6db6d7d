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
use kona_rpc::RpcBuilder;
use rollup_cli::KonaArgs;
use rollup_exex::{KonaRpcActor, P2P_READ_METHODS, rpc_module};
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
    rpc_module(config, &context()).unwrap().method_names().map(str::to_owned).collect()
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
    let (_, actor) = KonaRpcActor::build(config);
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
