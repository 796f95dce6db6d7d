//! Events whose new chain alone fills the buffer: the host converts only the newest `capacity`
//! blocks of a long chain (a pipeline sync commits thousands at once), so such an event need not
//! attach to what the buffer holds — none of it would survive anyway.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{extend, num_hashes};
use rollup_providers_local::{Applied, BufferedL2Provider, ChainStateEvent};
use std::sync::Arc;

const CAPACITY: usize = 8;

fn provider() -> BufferedL2Provider {
    BufferedL2Provider::with_capacity(Arc::new(Default::default()), CAPACITY)
}

#[test]
fn a_commit_cut_to_the_window_replaces_the_buffer() {
    let provider = provider();
    let chain = extend(None, 100, 0);
    provider.apply(&ChainStateEvent::Committed { new: chain[..5].to_vec() }).unwrap();
    // reth commits 5..=99 in one notification; only the newest CAPACITY are converted.
    let window = chain[100 - CAPACITY..].to_vec();
    let applied = provider.apply(&ChainStateEvent::Committed { new: window }).unwrap();
    // The old blocks were not reorged out, only pushed out of the window.
    assert_eq!(applied, Applied { added: CAPACITY, removed: 0, evicted: 5 });
    assert_eq!(provider.oldest(), Some(chain[92].num_hash()));
    assert_eq!(provider.head(), Some(chain[99].num_hash()));
    for n in 92..100 {
        assert_eq!(provider.buffered_by_number(n).as_ref(), Some(&chain[n as usize]));
    }
    assert_eq!(provider.buffered_by_number(4), None, "nothing older survives");
}

#[test]
fn a_shorter_commit_must_still_attach() {
    let provider = provider();
    let chain = extend(None, 20, 0);
    provider.apply(&ChainStateEvent::Committed { new: chain[..5].to_vec() }).unwrap();
    let err = provider
        .apply(&ChainStateEvent::Committed { new: chain[13..13 + CAPACITY - 1].to_vec() })
        .unwrap_err();
    assert!(
        matches!(err, rollup_providers_local::ProviderError::Gap { head: 4, got: 13 }),
        "{err}"
    );
    assert_eq!(provider.head(), Some(chain[4].num_hash()), "unchanged");
}

#[test]
fn a_reorg_whose_new_chain_is_cut_to_the_window_replaces_the_buffer() {
    let provider = provider();
    let chain = extend(None, 10, 0);
    provider.apply(&ChainStateEvent::Committed { new: chain.clone() }).unwrap();
    // reth replaces 5..=9 by 5..=24; the new chain is converted from 17 on only.
    let new = extend(Some(&chain[4]), 20, 1);
    let old = num_hashes(&chain[5..]);
    let window = new[20 - CAPACITY..].to_vec();
    provider.apply(&ChainStateEvent::Reorged { old, new: window }).unwrap();
    assert_eq!(provider.oldest(), Some(new[12].num_hash()));
    assert_eq!(provider.head(), Some(new[19].num_hash()));
    assert_eq!(provider.len(), CAPACITY);
    assert!(
        chain.iter().all(|b| provider.buffered_by_number(b.number()).as_ref() != Some(b)),
        "no block of the old chain is left"
    );
}
