//! [`BeaconApiClient`] against a canned HTTP server: refusals carry the node's message (where
//! kona's own client reports an undecodable body), sidecars come back in the order asked, and
//! errors never show the URL's credentials.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::eip4844::{Blob, IndexedBlobHash};
use alloy_primitives::{B256, Bytes as AlloyBytes, FixedBytes};
use alloy_rpc_types_beacon::{
    header::{BeaconBlockHeader, Header},
    sidecar::{BeaconBlobBundle, BlobData},
};
use http_body_util::Full;
use hyper::{Request, Response, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;
use kona_providers_alloy::{BeaconClient, OnlineBeaconClient};
use rollup_providers_beacon::{BeaconApiClient, BeaconError, FailureKind};
use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use url::Url;

/// What the canned server answers: status, body and a delay, by request path.
type Answer = Arc<dyn Fn(&str) -> (u16, String, Duration) + Send + Sync>;

/// Serves `answer` on a free loopback port until the test ends.
async fn serve(answer: Answer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (status, body, delay) = answer(req.uri().path());
                    async move {
                        tokio::time::sleep(delay).await;
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        *response.status_mut() = status.try_into().unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn url(addr: SocketAddr, path: &str) -> Url {
    format!("http://{addr}{path}").parse().unwrap()
}

fn hash(index: u64) -> IndexedBlobHash {
    IndexedBlobHash { index, hash: B256::with_last_byte(index as u8) }
}

fn sidecar(index: u64) -> BlobData {
    BlobData {
        index,
        blob: Box::new(Blob::ZERO),
        kzg_commitment: FixedBytes::with_last_byte(index as u8),
        kzg_proof: FixedBytes::ZERO,
        signed_block_header: Header {
            message: BeaconBlockHeader::default(),
            signature: AlloyBytes::from(vec![0; 96]),
        },
        kzg_commitment_inclusion_proof: Vec::new(),
    }
}

#[tokio::test]
async fn a_refusal_carries_the_beacon_nodes_message() {
    let message = "L1 blocks 33 and 34 share the slot at 1796526114";
    let addr = serve(Arc::new(move |_: &str| {
        (500, format!(r#"{{"code":500,"message":"{message}"}}"#), Duration::ZERO)
    }))
    .await;

    let error = BeaconApiClient::new(&url(addr, "/"))
        .beacon_blob_side_cars(33, &[hash(0)])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BeaconError::Status { status: 500, message: m, path }
            if m == message && path == "eth/v1/beacon/blob_sidecars/33"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("beacon API answered 500 to eth/v1/beacon/blob_sidecars/33: {message}")
    );
    assert_eq!(error.kind(), FailureKind::Status);

    // Why this client exists: kona's own decodes the refusal as sidecars and loses the message.
    let kona = OnlineBeaconClient::new_http(format!("http://{addr}"));
    let kona_error = kona.beacon_blob_side_cars(33, &[hash(0)]).await.unwrap_err().to_string();
    assert!(kona_error.contains("error decoding response body"), "{kona_error}");
    assert!(!kona_error.contains(message));
}

#[tokio::test]
async fn a_refusal_without_json_keeps_the_start_of_the_body() {
    let addr = serve(Arc::new(|path: &str| match path {
        "/eth/v1/config/spec" => (404, "  no such route\n".to_owned(), Duration::ZERO),
        "/eth/v1/beacon/genesis" => (503, String::new(), Duration::ZERO),
        _ => (502, "x".repeat(10_000), Duration::ZERO),
    }))
    .await;
    let client = BeaconApiClient::new(&url(addr, ""));

    let spec = client.config_spec().await.unwrap_err();
    assert!(
        matches!(&spec, BeaconError::Status { status: 404, message, .. } if message == "no such route")
    );
    let genesis = client.beacon_genesis().await.unwrap_err();
    assert!(
        matches!(&genesis, BeaconError::Status { status: 503, message, .. } if message == "(empty body)")
    );
    let sidecars = client.beacon_blob_side_cars(1, &[hash(0)]).await.unwrap_err();
    let BeaconError::Status { message, .. } = sidecars else { panic!("{sidecars:?}") };
    assert_eq!(message.chars().count(), 257, "256 characters and an ellipsis");
}

#[tokio::test]
async fn a_success_with_an_unexpected_body_is_a_decode_error() {
    let addr = serve(Arc::new(|_: &str| (200, r#"{"data":{}}"#.to_owned(), Duration::ZERO))).await;
    let error = BeaconApiClient::new(&url(addr, "/")).config_spec().await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::Decode, "{error:?}");
    assert!(error.to_string().starts_with("beacon API eth/v1/config/spec: unexpected answer"));
}

#[tokio::test]
async fn sidecars_come_back_in_the_order_asked_and_missing_ones_are_left_out() {
    let bundle =
        serde_json::to_string(&BeaconBlobBundle::new(vec![sidecar(0), sidecar(1), sidecar(2)]))
            .unwrap();
    let addr = serve(Arc::new(move |path: &str| {
        if path == "/eth/v1/beacon/blob_sidecars/7" {
            (200, bundle.clone(), Duration::ZERO)
        } else {
            (404, r#"{"code":404,"message":"not found"}"#.to_owned(), Duration::ZERO)
        }
    }))
    .await;
    let client = BeaconApiClient::new(&url(addr, "/"));

    let got = client.beacon_blob_side_cars(7, &[hash(2), hash(0), hash(5)]).await.unwrap();
    assert_eq!(got.iter().map(|s| s.index).collect::<Vec<_>>(), vec![2, 0]);
}

#[tokio::test]
async fn a_base_path_is_kept_and_answers_are_decoded() {
    let addr = serve(Arc::new(|path: &str| match path {
        "/key/eth/v1/config/spec" => {
            (200, r#"{"data":{"SECONDS_PER_SLOT":"12"}}"#.to_owned(), Duration::ZERO)
        }
        "/key/eth/v1/beacon/genesis" => {
            (200, r#"{"data":{"genesis_time":"1606824023"}}"#.to_owned(), Duration::ZERO)
        }
        _ => (404, String::new(), Duration::ZERO),
    }))
    .await;
    let client = BeaconApiClient::new(&url(addr, "/key/"));
    assert_eq!(client.config_spec().await.unwrap().data.seconds_per_slot, 12);
    assert_eq!(client.beacon_genesis().await.unwrap().data.genesis_time, 1_606_824_023);
}

#[tokio::test]
async fn transport_errors_never_show_the_urls_credentials() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base: Url = format!("http://operator:s3cret@127.0.0.1:{port}/").parse().unwrap();
    let error = BeaconApiClient::new(&base).config_spec().await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::Transport);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[tokio::test]
async fn a_request_that_takes_too_long_times_out() {
    let addr = serve(Arc::new(|_: &str| (200, "{}".to_owned(), Duration::from_secs(30)))).await;
    let client = BeaconApiClient::new(&url(addr, "/")).with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let error = client.config_spec().await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::Transport, "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
