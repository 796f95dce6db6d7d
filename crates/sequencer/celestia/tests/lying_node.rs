//! `CelestiaDa` against a node that lies: it answers with a blob under our commitment whose
//! bytes are not ours, a blob of another namespace, or a blob whose commitment is not that of its
//! bytes. Every such answer is a `DaError::Mismatch`, never a find or a posted blob.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_primitives::Bytes;
use celestia_rpc::{BlobRpcServer, TxConfig};
use celestia_types::{
    Blob, Commitment,
    nmt::{Namespace as CelestiaNamespace, NamespaceProof},
};
use jsonrpsee::{
    RpcModule,
    core::{RpcResult, async_trait},
    server::{Server, ServerHandle},
    types::ErrorObject,
};
use parking_lot::Mutex;
use sequencer_celestia::{CelestiaDa, CelestiaDaConfig};
use sequencer_da::{DaClient, DaError, Namespace};
use std::sync::Arc;

/// The answers the node gives, whatever it is asked.
#[derive(Default)]
struct Answers {
    /// `blob.GetAll` at any height.
    all: Vec<Blob>,
    /// `blob.Get` at any height.
    get: Option<Blob>,
}

struct LyingNode(Arc<Mutex<Answers>>);

#[async_trait]
impl BlobRpcServer for LyingNode {
    async fn blob_get(&self, _: u64, _: CelestiaNamespace, _: Commitment) -> RpcResult<Blob> {
        self.0
            .lock()
            .get
            .clone()
            .ok_or_else(|| ErrorObject::owned(1, "blob: not found", None::<()>))
    }

    async fn blob_get_all(
        &self,
        _: u64,
        _: Vec<CelestiaNamespace>,
    ) -> RpcResult<Option<Vec<Blob>>> {
        let all = self.0.lock().all.clone();
        Ok((!all.is_empty()).then_some(all))
    }

    async fn blob_get_proof(
        &self,
        _: u64,
        _: CelestiaNamespace,
        _: Commitment,
    ) -> RpcResult<Vec<NamespaceProof>> {
        Err(ErrorObject::owned(1, "not served", None::<()>))
    }

    async fn blob_included(
        &self,
        _: u64,
        _: CelestiaNamespace,
        _: NamespaceProof,
        _: Commitment,
    ) -> RpcResult<bool> {
        Err(ErrorObject::owned(1, "not served", None::<()>))
    }

    async fn blob_submit(&self, _: Vec<Blob>, _: TxConfig) -> RpcResult<u64> {
        Ok(7)
    }
}

async fn start() -> (ServerHandle, Arc<Mutex<Answers>>, CelestiaDa) {
    let answers = Arc::new(Mutex::new(Answers::default()));
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let mut module = RpcModule::new(());
    module.merge(LyingNode(answers.clone()).into_rpc()).unwrap();
    let handle = server.start(module);
    let da = CelestiaDa::connect(CelestiaDaConfig::new(format!("http://{addr}"))).await.unwrap();
    (handle, answers, da)
}

fn ours() -> Namespace {
    "0xc0ffee".parse().unwrap()
}

fn blob(namespace: &Namespace, data: &[u8]) -> Blob {
    let namespace = CelestiaNamespace::new_v0(namespace.user_bytes()).unwrap();
    Blob::new(namespace, data.to_vec(), None).unwrap()
}

/// Our commitment, someone else's bytes.
fn forged(namespace: &Namespace, claimed: &[u8], data: &[u8]) -> Blob {
    let mut forged = blob(namespace, claimed);
    forged.data = data.to_vec();
    forged
}

#[tokio::test]
async fn a_blob_under_our_commitment_with_other_bytes_is_not_found_but_a_mismatch() {
    let (server, answers, da) = start().await;
    let batch = b"our batch".as_slice();

    // The honest answer is found.
    answers.lock().all = vec![blob(&ours(), b"someone else's"), blob(&ours(), batch)];
    assert_eq!(da.find(&ours(), batch, 5..=5).await.unwrap(), Some(5));

    // Same commitment, other bytes: an error naming the height, not a find.
    answers.lock().all = vec![forged(&ours(), batch, b"not our batch")];
    let err = da.find(&ours(), batch, 5..=6).await.unwrap_err();
    assert!(matches!(err, DaError::Mismatch { height: 5, .. }), "{err}");

    // Same commitment, same bytes, another namespace.
    let mut elsewhere = blob(&ours(), batch);
    elsewhere.namespace = CelestiaNamespace::new_v0(b"elsewhere").unwrap();
    answers.lock().all = vec![elsewhere];
    let err = da.find(&ours(), batch, 5..=5).await.unwrap_err();
    assert!(matches!(err, DaError::Mismatch { .. }), "{err}");
    server.stop().unwrap();
}

#[tokio::test]
async fn a_submission_answered_with_other_bytes_is_not_posted() {
    let (server, answers, da) = start().await;
    let batch = b"our batch".as_slice();
    answers.lock().get = Some(forged(&ours(), batch, b"not our batch"));
    let err = da.submit(&ours(), Bytes::from_static(b"our batch")).await.unwrap_err();
    assert!(matches!(err, DaError::Mismatch { height: 7, .. }), "{err}");
    answers.lock().get = Some(blob(&ours(), batch));
    assert_eq!(da.submit(&ours(), Bytes::from_static(b"our batch")).await.unwrap().height, 7);
    server.stop().unwrap();
}

#[tokio::test]
async fn history_reads_refuse_blobs_that_are_not_what_they_claim() {
    let (server, answers, da) = start().await;
    answers.lock().all = vec![blob(&ours(), b"a"), blob(&ours(), b"b")];
    assert_eq!(
        da.blobs(&ours(), 3).await.unwrap(),
        vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
    );
    // A commitment that is not that of the bytes.
    answers.lock().all = vec![blob(&ours(), b"a"), forged(&ours(), b"b", b"c")];
    let err = da.blobs(&ours(), 3).await.unwrap_err();
    assert!(matches!(err, DaError::Mismatch { height: 3, .. }), "{err}");
    // A blob of another namespace.
    answers.lock().all = vec![blob(&"0xbeef".parse().unwrap(), b"a")];
    let err = da.blobs(&ours(), 3).await.unwrap_err();
    assert!(matches!(err, DaError::Mismatch { height: 3, .. }), "{err}");
    server.stop().unwrap();
}

#[tokio::test]
async fn a_node_url_with_credentials_is_shown_redacted() {
    let mut config =
        CelestiaDaConfig::new("http://celestia:hunter2@127.0.0.1:1/?token=s3cr3t&network=mocha");
    config.auth_token = Some("bearer-token".into());
    let shown = format!("{config:?}");
    for secret in ["hunter2", "s3cr3t", "bearer-token"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("http://***@127.0.0.1:1/?token=***&network=mocha"), "{shown}");
    let da = CelestiaDa::connect(config).await.unwrap();
    let shown = format!("{da:?}");
    assert!(!shown.contains("hunter2") && !shown.contains("s3cr3t"), "{shown}");
    // A URL the client refuses is named in the error, redacted.
    let err = CelestiaDa::connect(CelestiaDaConfig::new("ftp://u:hunter2@host/?apikey=s3cr3t"))
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2") && !err.contains("s3cr3t"), "{err}");
    assert!(err.contains("ftp://***@host/?apikey=***"), "{err}");
}
