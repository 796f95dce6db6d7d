//! `CelestiaDa` against the local Celestia-compatible node over real JSON-RPC on loopback: blobs
//! submitted, verified by commitment, read back, final with their block, kept across a node
//! restart; the node's headers are signed and validate with celestia-types.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::Bytes;
use celestia_rpc::{Client, HeaderClient};
use sequencer_celestia::{CelestiaDa, CelestiaDaConfig, LocalCelestiaNode, LocalNodeConfig};
use sequencer_da::{DaClient, DaError, Namespace};
use std::{path::Path, time::Duration};

async fn start_node(data_dir: &Path) -> LocalCelestiaNode {
    LocalCelestiaNode::start(LocalNodeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        block_time: Duration::from_millis(100),
        data_dir: Some(data_dir.to_path_buf()),
    })
    .await
    .unwrap()
}

async fn client(node: &LocalCelestiaNode) -> CelestiaDa {
    CelestiaDa::connect(CelestiaDaConfig::new(node.url())).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_included_verified_final_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    let da = client(&node).await;
    let ours: Namespace = "0xc0ffee".parse().unwrap();
    let theirs: Namespace = "0xbeef".parse().unwrap();

    let first = da.submit(&ours, Bytes::from_static(b"batch one")).await.unwrap();
    let second = da.submit(&ours, Bytes::from(vec![7u8; 50_000])).await.unwrap();
    da.submit(&theirs, Bytes::from_static(b"someone else")).await.unwrap();
    assert!(second.height > first.height, "one submission per block, in order");
    assert!(da.finalized_height().await.unwrap() >= second.height, "final with its block");
    assert_eq!(
        da.blobs(&ours, first.height).await.unwrap(),
        vec![Bytes::from_static(b"batch one")]
    );
    assert_eq!(da.blobs(&ours, second.height).await.unwrap()[0].len(), 50_000);
    assert!(da.blobs(&theirs, first.height).await.unwrap().is_empty(), "by namespace");

    // The headers are real: signed by the node's validator and chained.
    let rpc = Client::new(&node.url(), None, None, None).await.unwrap();
    let header = rpc.header_get_by_height(second.height).await.unwrap();
    header.validate().unwrap();
    let previous = rpc.header_get_by_height(second.height - 1).await.unwrap();
    previous.verify(&header).unwrap();

    let too_large = da.submit(&ours, Bytes::from(vec![0u8; da.max_blob_size() + 1])).await;
    assert!(matches!(too_large, Err(DaError::BlobTooLarge { .. })), "{too_large:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_survive_a_node_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ours: Namespace = "0xc0ffee".parse().unwrap();
    let node = start_node(dir.path()).await;
    let da = client(&node).await;
    let inclusion = da.submit(&ours, Bytes::from_static(b"kept")).await.unwrap();
    node.stop().await;

    let node = start_node(dir.path()).await;
    let da = client(&node).await;
    assert_eq!(da.blobs(&ours, inclusion.height).await.unwrap(), vec![Bytes::from_static(b"kept")]);
    let next = da.submit(&ours, Bytes::from_static(b"after")).await.unwrap();
    assert!(next.height > inclusion.height, "heights continue after a restart");
    node.stop().await;
}

#[tokio::test]
async fn an_unreachable_node_is_a_query_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let da = CelestiaDa::connect(CelestiaDaConfig::new(format!("http://127.0.0.1:{port}")))
        .await
        .unwrap();
    assert!(matches!(da.finalized_height().await, Err(DaError::Query(_))));
}

#[tokio::test]
async fn failed_submissions_raise_the_gas_price_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path()).await;
    let addr = node.addr();
    let mut config = CelestiaDaConfig::new(node.url());
    config.gas_price = Some(0.002);
    config.max_gas_price = Some(0.0025);
    config.request_timeout = Duration::from_millis(500);
    let da = CelestiaDa::connect(config).await.unwrap();
    let ours: Namespace = "0xc0ffee".parse().unwrap();
    da.submit(&ours, Bytes::from_static(b"a")).await.unwrap();
    assert_eq!(da.gas_price(), Some(0.002));
    node.stop().await;
    da.submit(&ours, Bytes::from_static(b"b")).await.unwrap_err();
    assert!(da.gas_price().is_some_and(|p| (p - 0.0022).abs() < 1e-12), "+10 %");
    for _ in 0..2 {
        da.submit(&ours, Bytes::from_static(b"b")).await.unwrap_err();
    }
    // 0.002 × 1.1³ = 0.002662, capped at 0.0025.
    assert_eq!(da.gas_price(), Some(0.0025));
    // The node is back at the same address: a success resets the bump.
    let node = LocalCelestiaNode::start(LocalNodeConfig {
        listen: addr,
        block_time: Duration::from_millis(100),
        data_dir: Some(dir.path().to_path_buf()),
    })
    .await
    .unwrap();
    da.submit(&ours, Bytes::from_static(b"c")).await.unwrap();
    assert_eq!(da.gas_price(), Some(0.002));
    node.stop().await;
}
