//! Property: after any sequence of commits, reorgs and reverts, also ones the host makes without
//! telling the buffer, every lookup through the provider (buffer, then fallback) answers exactly
//! what a plain canonical-chain model answers.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use alloy_primitives::B256;
use common::{Model, extend};
use futures::executor::block_on;
use kona_protocol::BatchValidationProvider;
use proptest::prelude::*;
use rollup_providers_local::{BufferedL2Provider, ChainStateEvent, ProviderError, SealedL2Block};
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    Commit(usize),
    /// Replace the top `depth` blocks with `len` new ones.
    Reorg {
        depth: usize,
        len: usize,
    },
    Revert(usize),
    /// The host replaces its top `depth` blocks with `depth + extra` new ones without an event
    /// (reth unwinding and re-executing), then commits only the newest `tail` of them.
    Rewrite {
        depth: usize,
        extra: usize,
        tail: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..6).prop_map(Op::Commit),
        2 => (1usize..14, 0usize..8).prop_map(|(depth, len)| Op::Reorg { depth, len }),
        1 => (1usize..10).prop_map(Op::Revert),
        1 => (0usize..14, 0usize..6, 1usize..12)
            .prop_map(|(depth, extra, tail)| Op::Rewrite { depth, extra, tail }),
    ]
}

/// Applies `ops` to the model and the provider the way the ExEx does (an event that does not fit
/// the buffer re-seeds it from the fallback, the model), checking every lookup after each step.
fn run(capacity: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let model = Model::default();
    let provider = BufferedL2Provider::with_capacity(Arc::new(Default::default()), capacity)
        .with_fallback(Arc::new(model.clone()));
    let mut every_hash: Vec<B256> = Vec::new();
    let mut salt = 0u64;

    for op in ops {
        salt += 1;
        let chain = model.chain();
        let rewrite = matches!(op, Op::Rewrite { .. });
        let event = match op {
            Op::Commit(n) => ChainStateEvent::Committed { new: extend(chain.last(), n, salt) },
            Op::Reorg { depth, len } => {
                let depth = depth.min(chain.len());
                if depth == 0 {
                    continue;
                }
                let fork = chain.len() - depth;
                let old = chain[fork..].iter().map(SealedL2Block::num_hash).collect();
                let new = extend(fork.checked_sub(1).map(|i| &chain[i]), len, salt);
                ChainStateEvent::Reorged { old, new }
            }
            Op::Revert(depth) => {
                let depth = depth.min(chain.len());
                if depth == 0 {
                    continue;
                }
                let old = chain[chain.len() - depth..].iter().map(SealedL2Block::num_hash);
                ChainStateEvent::Reverted { old: old.collect() }
            }
            Op::Rewrite { depth, extra, tail } => {
                // The host's new tip is not below its old one: a commit whose blocks are all older
                // than the buffer is taken for a replay (reth replays its ExEx WAL after a
                // restart), so a shorter rewrite would go unnoticed.
                let depth = depth.min(chain.len());
                let len = depth + extra;
                if len == 0 {
                    continue;
                }
                let fork = chain.len() - depth;
                let new = extend(fork.checked_sub(1).map(|i| &chain[i]), len, salt);
                let mut canonical = model.0.lock().unwrap();
                canonical.truncate(fork);
                canonical.extend(new.iter().cloned());
                every_hash.extend(new.iter().map(SealedL2Block::hash));
                ChainStateEvent::Committed { new: new[len - tail.min(len)..].to_vec() }
            }
        };

        // The model: the canonical chain, nothing else.
        if !rewrite {
            let mut canonical = model.0.lock().unwrap();
            if let Some(first) = event.reverted().first() {
                canonical.truncate(first.number as usize);
            }
            if let ChainStateEvent::Reorged { new, .. } = &event
                && let Some(first) = new.first()
            {
                canonical.truncate(first.number() as usize);
            }
            canonical.extend(event.committed().iter().cloned());
        }
        every_hash.extend(event.committed().iter().map(SealedL2Block::hash));

        let oldest_before = provider.oldest();
        match provider.apply(&event) {
            Ok(_) => {}
            Err(ProviderError::ReorgBeyondBuffer { fork_number, oldest_buffered }) => {
                // Exactly when the event reaches below the buffer.
                prop_assert_eq!(Some(oldest_buffered), oldest_before.map(|o| o.number));
                prop_assert!(fork_number < oldest_buffered);
                reseed(&provider, &event);
            }
            // Only a host that changed its chain behind the buffer's back makes it inconsistent.
            Err(err) if rewrite && err.inconsistency().is_some() => reseed(&provider, &event),
            Err(other) => return Err(TestCaseError::fail(format!("unexpected {other}"))),
        }

        check(&provider, capacity, &model.chain(), &every_hash)?;
    }
    Ok(())
}

/// What the ExEx does with an event the buffer rejected: re-seed it from the fallback up to the
/// event's tip.
fn reseed(provider: &BufferedL2Provider, event: &ChainStateEvent) {
    match event.head_after() {
        Some(tip) => block_on(provider.reseed_from_fallback(tip)).unwrap(),
        None => provider.reset(Vec::new()).unwrap(),
    };
}

fn check(
    provider: &BufferedL2Provider,
    capacity: usize,
    canonical: &[SealedL2Block],
    every_hash: &[B256],
) -> Result<(), TestCaseError> {
    prop_assert!(provider.len() <= capacity, "memory stays within the window");
    // The buffered head is the canonical head whenever the buffer holds anything.
    if let Some(head) = provider.head() {
        prop_assert_eq!(Some(head), canonical.last().map(SealedL2Block::num_hash));
    }
    let mut reader = provider.clone();
    for number in 0..canonical.len() as u64 + 2 {
        let got = block_on(provider.sealed_block_by_number(number));
        match canonical.get(number as usize) {
            Some(expected) => {
                prop_assert_eq!(got.as_ref().ok(), Some(expected), "block {}", number);
                let owned = block_on(reader.block_by_number(number)).unwrap();
                prop_assert_eq!(&owned, expected.block().as_ref());
            }
            None => prop_assert_eq!(got, Err(ProviderError::BlockNotFound(number))),
        }
    }
    for hash in every_hash {
        let got = block_on(provider.sealed_block_by_hash(*hash)).ok().map(|b| b.hash());
        let canonical_has = canonical.iter().any(|b| b.hash() == *hash);
        prop_assert_eq!(got.is_some(), canonical_has, "hash {} canonical={}", hash, canonical_has);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// Small capacities make deep reorgs (beyond the buffer) and eviction common.
    #[test]
    fn provider_matches_the_canonical_model(
        capacity in 1usize..12,
        ops in prop::collection::vec(op(), 1..24),
    ) {
        run(capacity, ops)?;
    }
}

#[test]
fn reorg_beyond_buffer_leaves_it_untouched() {
    let provider = BufferedL2Provider::with_capacity(Arc::new(Default::default()), 4);
    let chain = extend(None, 10, 1);
    provider.apply(&ChainStateEvent::Committed { new: chain.clone() }).unwrap();
    assert_eq!(provider.oldest().unwrap().number, 6);
    let old = chain[5..].iter().map(SealedL2Block::num_hash).collect();
    // A new chain shorter than the buffer: one that fills it would simply replace it.
    let new = extend(Some(&chain[4]), 3, 2);
    let err = provider.apply(&ChainStateEvent::Reorged { old, new }).unwrap_err();
    assert_eq!(err, ProviderError::ReorgBeyondBuffer { fork_number: 5, oldest_buffered: 6 });
    assert!(err.is_beyond_buffer());
    for n in 6..10 {
        assert_eq!(provider.buffered_by_number(n).unwrap(), chain[n as usize], "unchanged");
    }
}
