//! The Engine API client against the JWT-checking fixture server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256};
use alloy_rpc_types_engine::{ForkchoiceState, JwtSecret, PayloadStatusEnum};
use sequencer_engine::{
    BlockRef, EngineClient, EngineError, EngineFork, ForkchoiceTracker, RetryPolicy,
    payload_attributes,
};
use sequencer_testing::{Answer, MockEngine, MockEngineConfig, dev_address, transfer};
use std::time::Duration;

const CHAIN_ID: u64 = 1337;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        initial_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        request_timeout: Duration::from_secs(5),
    }
}

async fn setup(prague: bool) -> (MockEngine, EngineClient, ForkchoiceTracker) {
    let secret = JwtSecret::random();
    let mut cfg = MockEngineConfig::new(CHAIN_ID, secret);
    cfg.prague = prague;
    let engine = MockEngine::start(cfg).await.unwrap();
    let fork = if prague { EngineFork::Prague } else { EngineFork::Cancun };
    let client = EngineClient::new(engine.url(), secret, fork).with_retry(fast_retry());
    let heads = client.read_heads().await.unwrap();
    assert_eq!(heads.latest.number, 0);
    (engine, client, ForkchoiceTracker::new(heads.latest))
}

/// forkchoiceUpdated(attrs) → getPayload → newPayload → forkchoiceUpdated: one SOFT block.
async fn soft_block(client: &EngineClient, tracker: &mut ForkchoiceTracker) -> BlockRef {
    let head = tracker.head();
    let attrs = payload_attributes(&head, 0, Address::ZERO);
    let id = client.start_payload(tracker.state(), attrs.clone()).await.unwrap();
    let built = client.get_payload(id, attrs.parent_beacon_block_root.unwrap()).await.unwrap();
    client.execute_payload(&built).await.unwrap();
    let mut next = tracker.clone();
    next.apply_soft(built.block_ref()).unwrap();
    client.update_forkchoice(next.state()).await.unwrap();
    *tracker = next;
    built.block_ref()
}

#[tokio::test]
async fn build_execute_soft_firm_prague_and_cancun() {
    for prague in [true, false] {
        let (engine, client, mut tracker) = setup(prague).await;
        let b1 = soft_block(&client, &mut tracker).await;
        let b2 = soft_block(&client, &mut tracker).await;
        assert_eq!((b1.number, b2.number), (1, 2));
        let fc = engine.forkchoice();
        assert_eq!(fc.head_block_hash, b2.hash);
        assert_eq!(fc.safe_block_hash, b2.hash);
        assert_eq!(
            engine.number_of(fc.finalized_block_hash),
            Some(0),
            "SOFT leaves finalized alone"
        );

        let mut next = tracker.clone();
        next.apply_firm(b1.number, b1.hash).unwrap();
        client.update_forkchoice(next.state()).await.unwrap();
        assert_eq!(engine.forkchoice().finalized_block_hash, b1.hash);

        let heads = client.read_heads().await.unwrap();
        assert_eq!(heads.latest, b2);
        assert_eq!(heads.safe, Some(b2));
        assert_eq!(heads.finalized, Some(b1));
        assert!(engine.violations().is_empty(), "{:?}", engine.violations());
        assert_eq!(engine.auth_failures(), 0);
    }
}

#[tokio::test]
async fn wrong_jwt_is_rejected() {
    let (engine, _client, _) = setup(true).await;
    let bad = EngineClient::new(engine.url(), JwtSecret::random(), EngineFork::Prague)
        .with_retry(fast_retry());
    let err = bad.read_heads().await.unwrap_err();
    assert!(matches!(err, EngineError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    assert!(engine.auth_failures() >= 1);
}

#[tokio::test]
async fn wrong_fork_methods_are_refused() {
    // A Prague chain asked with V3 methods answers -38005 Unsupported fork, as reth does.
    let secret = JwtSecret::random();
    let engine = MockEngine::start(MockEngineConfig::new(CHAIN_ID, secret)).await.unwrap();
    let client =
        EngineClient::new(engine.url(), secret, EngineFork::Cancun).with_retry(fast_retry());
    let head = client.read_heads().await.unwrap().latest;
    let tracker = ForkchoiceTracker::new(head);
    let attrs = payload_attributes(&head, 0, Address::ZERO);
    let id = client.start_payload(tracker.state(), attrs.clone()).await.unwrap();
    let err = client.get_payload(id, attrs.parent_beacon_block_root.unwrap()).await.unwrap_err();
    assert!(matches!(err, EngineError::Rpc { code: -38005, .. }), "{err}");
}

#[tokio::test]
async fn transactions_are_built_into_the_block() {
    let (engine, client, mut tracker) = setup(true).await;
    let to = dev_address(9);
    for nonce in 0..3 {
        client.send_raw_transaction(&transfer(1, CHAIN_ID, nonce, to, 1)).await.unwrap();
    }
    // A nonce gap is not built (nonce 5 without 3 and 4).
    client.send_raw_transaction(&transfer(1, CHAIN_ID, 5, to, 1)).await.unwrap();
    let head = tracker.head();
    let attrs = payload_attributes(&head, 0, Address::ZERO);
    let id = client.start_payload(tracker.state(), attrs.clone()).await.unwrap();
    let built = client.get_payload(id, attrs.parent_beacon_block_root.unwrap()).await.unwrap();
    assert_eq!(built.raw_transactions().len(), 3);
    assert_eq!(built.block.body.transactions.len(), 3);
    client.execute_payload(&built).await.unwrap();
    tracker.apply_soft(built.block_ref()).unwrap();
    client.update_forkchoice(tracker.state()).await.unwrap();
    assert_eq!(engine.canonical_tx_count(), 3);
    assert_eq!(engine.pool_len(), 1);
    let (r, block) = client.block(BlockNumberOrTag::Number(1)).await.unwrap().unwrap();
    assert_eq!(r, built.block_ref());
    assert_eq!(block.body.transactions.len(), 3);
}

#[tokio::test]
async fn new_payload_statuses_are_handled() {
    let (engine, client, tracker) = setup(true).await;
    let head = tracker.head();
    let attrs = payload_attributes(&head, 0, Address::ZERO);
    let id = client.start_payload(tracker.state(), attrs.clone()).await.unwrap();
    let built = client.get_payload(id, attrs.parent_beacon_block_root.unwrap()).await.unwrap();

    // SYNCING forever: bounded retries, then NotReady.
    engine.set_new_payload_answer(Answer::Syncing, 100);
    let err = client.execute_payload(&built).await.unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::NotReady { status: PayloadStatusEnum::Syncing, attempts: 4, .. }
        ),
        "{err}"
    );
    assert!(err.is_transient());

    // ACCEPTED twice, then VALID: retried through.
    engine.set_new_payload_answer(Answer::Accepted, 2);
    client.execute_payload(&built).await.unwrap();

    // INVALID: an error carrying reth's message, not retried.
    engine.set_new_payload_answer(Answer::Invalid("bad state root".into()), 1);
    let err = client.execute_payload(&built).await.unwrap_err();
    assert!(
        matches!(&err, EngineError::Invalid { validation_error, .. } if validation_error == "bad state root")
    );
    assert!(!err.is_transient());

    // Raw call sees the status itself.
    engine.set_new_payload_answer(Answer::Syncing, 1);
    assert_eq!(client.new_payload(&built).await.unwrap().status, PayloadStatusEnum::Syncing);
}

#[tokio::test]
async fn forkchoice_statuses_are_handled() {
    let (engine, client, tracker) = setup(true).await;
    engine.set_forkchoice_answer(Answer::Syncing, 2);
    client.update_forkchoice(tracker.state()).await.unwrap();
    engine.set_forkchoice_answer(Answer::Syncing, 100);
    let err = client.update_forkchoice(tracker.state()).await.unwrap_err();
    assert!(matches!(err, EngineError::NotReady { .. }), "{err}");
    engine.set_forkchoice_answer(Answer::Invalid("nope".into()), 1);
    let err = client.update_forkchoice(tracker.state()).await.unwrap_err();
    assert!(matches!(err, EngineError::Invalid { .. }), "{err}");

    // Unknown head: SYNCING (reth would start syncing to it).
    let unknown = ForkchoiceState {
        head_block_hash: B256::repeat_byte(7),
        safe_block_hash: B256::ZERO,
        finalized_block_hash: B256::ZERO,
    };
    let err = client.update_forkchoice(unknown).await.unwrap_err();
    assert!(matches!(err, EngineError::NotReady { .. }), "{err}");

    // Attributes with a timestamp not after the parent: JSON-RPC error -38003.
    let head = tracker.head();
    let mut attrs = payload_attributes(&head, 0, Address::ZERO);
    attrs.timestamp = head.timestamp;
    let err = client.start_payload(tracker.state(), attrs).await.unwrap_err();
    assert!(matches!(err, EngineError::Rpc { code: -38003, .. }), "{err}");
}
