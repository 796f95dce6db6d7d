//! Re-seeding the buffer from the fallback source (reth's database in `rollup`) after an event
//! that does not fit it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use alloy_primitives::B256;
use common::{Model, block, extend};
use futures::executor::block_on;
use rollup_providers_local::{
    BufferedL2Provider, ChainStateEvent, L2BlockSource, ProviderError, SealedL2Block, SourceError,
};
use std::{
    ops::RangeInclusive,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

const CAPACITY: usize = 8;

fn provider_over(source: Arc<dyn L2BlockSource>) -> BufferedL2Provider {
    BufferedL2Provider::with_capacity(Arc::new(Default::default()), CAPACITY).with_fallback(source)
}

#[test]
fn the_event_names_why_it_does_not_fit() {
    let chain = extend(None, 6, 0);
    let provider = BufferedL2Provider::with_capacity(Arc::new(Default::default()), CAPACITY);
    provider.apply(&ChainStateEvent::Committed { new: chain[..3].to_vec() }).unwrap();
    let err = provider.apply(&ChainStateEvent::Committed { new: chain[4..].to_vec() }).unwrap_err();
    assert_eq!(err.inconsistency(), Some("gap"));
    let sibling = block(2, chain[1].hash(), 9);
    let err = provider.apply(&ChainStateEvent::Committed { new: vec![sibling] }).unwrap_err();
    assert_eq!(err.inconsistency(), Some("conflict"));
    assert_eq!(ProviderError::BlockNotFound(1).inconsistency(), None, "a lookup miss is not one");
}

#[test]
fn a_reseed_holds_the_sources_newest_blocks_up_to_the_tip() {
    let model = Model::default();
    let chain = extend(None, 20, 0);
    model.0.lock().unwrap().extend(chain.iter().cloned());
    let provider = provider_over(Arc::new(model));
    // The buffer holds a chain the source no longer has.
    provider.reset(extend(None, 4, 1)).unwrap();

    let applied = block_on(provider.reseed_from_fallback(15)).unwrap();
    assert_eq!((applied.added, applied.removed), (CAPACITY, 4));
    assert_eq!(provider.oldest(), Some(chain[8].num_hash()));
    assert_eq!(provider.head(), Some(chain[15].num_hash()), "up to the tip, not the source's head");
    for number in 8..=15 {
        assert_eq!(provider.buffered_by_number(number).as_ref(), Some(&chain[number as usize]));
    }
}

#[test]
fn a_reseed_takes_what_the_source_has() {
    let model = Model::default();
    let chain = extend(None, 5, 0);
    model.0.lock().unwrap().extend(chain.iter().cloned());
    let provider = provider_over(Arc::new(model));
    block_on(provider.reseed_from_fallback(7)).unwrap();
    assert_eq!(provider.len(), 5);
    assert_eq!(provider.head(), Some(chain[4].num_hash()));
}

#[test]
fn a_reseed_without_a_source_is_an_error() {
    let provider = BufferedL2Provider::with_capacity(Arc::new(Default::default()), CAPACITY);
    let chain = extend(None, 3, 0);
    provider.reset(chain.clone()).unwrap();
    assert_eq!(block_on(provider.reseed_from_fallback(5)), Err(ProviderError::NoFallback));
    assert_eq!(provider.head(), Some(chain[2].num_hash()), "unchanged");
}

/// A source whose first `broken` range reads straddle a reorg: the blocks do not form one chain.
#[derive(Debug)]
struct Straddling {
    chain: Vec<SealedL2Block>,
    broken: usize,
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl L2BlockSource for Straddling {
    async fn block_by_number(&self, number: u64) -> Result<Option<SealedL2Block>, SourceError> {
        Ok(self.chain.get(number as usize).cloned())
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<SealedL2Block>, SourceError> {
        Ok(self.chain.iter().find(|b| b.hash() == hash).cloned())
    }

    async fn blocks_in_range(
        &self,
        range: RangeInclusive<u64>,
    ) -> Result<Vec<SealedL2Block>, SourceError> {
        let mut blocks: Vec<_> =
            range.filter_map(|number| self.chain.get(number as usize).cloned()).collect();
        if self.reads.fetch_add(1, Ordering::SeqCst) < self.broken {
            let last = blocks.len() - 1;
            blocks[last] = block(blocks[last].number(), B256::repeat_byte(1), 9);
        }
        Ok(blocks)
    }
}

#[test]
fn a_reseed_reads_again_when_the_source_straddled_a_reorg() {
    let chain = extend(None, 10, 0);
    let source =
        Arc::new(Straddling { chain: chain.clone(), broken: 1, reads: AtomicUsize::new(0) });
    let provider = provider_over(source.clone());
    block_on(provider.reseed_from_fallback(9)).unwrap();
    assert_eq!(provider.head(), Some(chain[9].num_hash()));
    assert_eq!(source.reads.load(Ordering::SeqCst), 2);
}

#[test]
fn a_source_that_never_answers_one_chain_fails_the_reseed() {
    let chain = extend(None, 10, 0);
    let source = Arc::new(Straddling {
        chain: chain.clone(),
        broken: usize::MAX,
        reads: AtomicUsize::new(0),
    });
    let provider = provider_over(source);
    provider.reset(chain[..3].to_vec()).unwrap();
    let err = block_on(provider.reseed_from_fallback(9)).unwrap_err();
    assert!(matches!(err, ProviderError::Detached { number: 9, .. }), "{err}");
    assert_eq!(provider.head(), Some(chain[2].num_hash()), "unchanged");
}
