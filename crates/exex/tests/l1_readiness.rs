//! L1 readiness against a real L1 (anvil from npm) and a beacon API fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Anvil, BeaconFixture};
use rollup_exex::{Backoff, KonaExExError, L1Readiness};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const FAST: Backoff =
    Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(80) };

#[test]
fn backoff_doubles_and_caps() {
    let backoff = Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(30) };
    let delays: Vec<_> = (1..=8).map(|attempt| backoff.delay(attempt).as_millis()).collect();
    assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30), "no overflow");
}

#[tokio::test]
async fn ready_when_l1_and_beacon_answer() {
    let anvil = Anvil::start();
    let beacon = BeaconFixture::start(12).await;
    let readiness = L1Readiness::new(anvil.url(), beacon.url(), anvil.chain_id).with_backoff(FAST);
    let status = readiness.wait(&CancellationToken::new()).await.unwrap().unwrap();
    assert_eq!(status.chain_id, anvil.chain_id);
    assert_eq!(status.seconds_per_slot, 12);
    assert_eq!(status.beacon_genesis_time, BeaconFixture::GENESIS_TIME);
    assert_eq!(status.attempts, 1);
}

#[tokio::test]
async fn wrong_l1_chain_is_fatal_not_retried() {
    let anvil = Anvil::start();
    let beacon = BeaconFixture::start(12).await;
    let readiness = L1Readiness::new(anvil.url(), beacon.url(), 1).with_backoff(FAST);
    let err =
        tokio::time::timeout(Duration::from_secs(10), readiness.wait(&CancellationToken::new()))
            .await
            .expect("a wrong chain must not be retried forever")
            .unwrap_err();
    assert!(
        matches!(err, KonaExExError::L1ChainIdMismatch { actual: 31337, expected: 1, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn anvil_beacon_without_config_spec_is_retried_until_cancelled() {
    // anvil serves /eth/v1/beacon/genesis but not /eth/v1/config/spec, which kona needs.
    let anvil = Anvil::start();
    let readiness = L1Readiness::new(anvil.url(), anvil.url(), anvil.chain_id).with_backoff(FAST);
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        cancel.cancel();
    });
    assert_eq!(readiness.wait(&token).await.unwrap(), None, "cancelled while waiting");
}

#[tokio::test]
async fn l1_that_comes_up_later_is_picked_up() {
    let anvil_port = common::free_port();
    let beacon = BeaconFixture::start(2).await;
    let url = format!("http://127.0.0.1:{anvil_port}").parse().unwrap();
    let readiness = L1Readiness::new(url, beacon.url(), 31337).with_backoff(FAST);
    let wait = tokio::spawn(async move { readiness.wait(&CancellationToken::new()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _anvil = Anvil::start_on(anvil_port);
    let status = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(status.attempts > 1, "the first attempts failed: {status:?}");
    assert_eq!(status.seconds_per_slot, 2);
}
