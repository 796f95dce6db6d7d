//! Synthetic chains for the buffer tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use alloy_consensus::{Block, BlockBody, Header};
use alloy_primitives::{B256, Bytes};
use async_trait::async_trait;
use op_alloy_consensus::OpBlock;
use rollup_providers_local::{L2BlockSource, SealedL2Block, SourceError};
use std::sync::{Arc, Mutex};

/// A block at `number` on top of `parent`; `salt` makes sibling blocks differ.
pub fn block(number: u64, parent: B256, salt: u64) -> SealedL2Block {
    let header = Header {
        number,
        parent_hash: parent,
        timestamp: 1_700_000_000 + number * 2,
        extra_data: Bytes::copy_from_slice(&salt.to_be_bytes()),
        ..Default::default()
    };
    SealedL2Block::seal_slow(OpBlock { header, body: BlockBody::default() })
}

/// `count` blocks extending `parent` (at `parent_number`).
pub fn extend(parent: Option<&SealedL2Block>, count: usize, salt: u64) -> Vec<SealedL2Block> {
    let mut out: Vec<SealedL2Block> = Vec::with_capacity(count);
    let (mut number, mut hash) = match parent {
        Some(p) => (p.number() + 1, p.hash()),
        None => (0, B256::ZERO),
    };
    for _ in 0..count {
        let b = block(number, hash, salt);
        hash = b.hash();
        number += 1;
        out.push(b);
    }
    out
}

/// Number and hash of each block: how a chain that left the canonical chain is named in events.
pub fn num_hashes(blocks: &[SealedL2Block]) -> Vec<alloy_eips::BlockNumHash> {
    blocks.iter().map(SealedL2Block::num_hash).collect()
}

/// The reference canonical chain, usable as the provider's fallback (like reth's database,
/// it knows every canonical block).
#[derive(Debug, Default, Clone)]
pub struct Model(pub Arc<Mutex<Vec<SealedL2Block>>>);

impl Model {
    pub fn chain(&self) -> Vec<SealedL2Block> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl L2BlockSource for Model {
    async fn block_by_number(&self, number: u64) -> Result<Option<SealedL2Block>, SourceError> {
        Ok(self.0.lock().unwrap().get(number as usize).cloned())
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<SealedL2Block>, SourceError> {
        Ok(self.0.lock().unwrap().iter().find(|b| b.hash() == hash).cloned())
    }
}

/// Keep `Block` in scope for callers building custom bodies.
pub type OpBlockOf = Block<op_alloy_consensus::OpTxEnvelope>;
