//! A lookup just above the buffered head waits (bounded) for the chain notification that is
//! about to bring the block, instead of failing: the race between kona's engine reporting a new
//! safe block and reth's ExEx notification delivering it.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::extend;
use rollup_providers_local::{BufferedL2Provider, ChainStateEvent, ProviderError};
use std::{sync::Arc, time::Duration};

fn provider(wait: Duration) -> BufferedL2Provider {
    let config = Arc::new(kona_genesis::RollupConfig::default());
    BufferedL2Provider::new(config).with_ahead_wait(wait)
}

#[tokio::test]
async fn a_block_arriving_within_the_wait_is_returned() {
    let provider = provider(Duration::from_secs(5));
    let chain = extend(None, 4, 0);
    provider.apply(&ChainStateEvent::Committed { new: chain[..3].to_vec() }).unwrap();

    let reader = provider.clone();
    let lookup = tokio::spawn(async move { reader.sealed_block_by_number(3).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!lookup.is_finished(), "block 3 is not there yet: the lookup waits");
    provider.apply(&ChainStateEvent::Committed { new: chain[3..].to_vec() }).unwrap();
    let block = tokio::time::timeout(Duration::from_secs(1), lookup).await.unwrap().unwrap();
    assert_eq!(block.unwrap(), chain[3]);
}

#[tokio::test(start_paused = true)]
async fn the_wait_is_bounded_and_off_by_default() {
    let chain = extend(None, 2, 0);
    let waiting = provider(Duration::from_millis(300));
    waiting.apply(&ChainStateEvent::Committed { new: chain.clone() }).unwrap();
    let started = tokio::time::Instant::now();
    let err = waiting.sealed_block_by_number(2).await.unwrap_err();
    assert!(matches!(err, ProviderError::BlockNotFound(2)), "{err}");
    assert_eq!(started.elapsed(), Duration::from_millis(300), "gave up at the bound");

    let immediate = provider(Duration::ZERO);
    immediate.apply(&ChainStateEvent::Committed { new: chain }).unwrap();
    let started = tokio::time::Instant::now();
    assert!(immediate.sealed_block_by_number(2).await.is_err());
    assert_eq!(started.elapsed(), Duration::ZERO, "no wait unless asked for");
}
