use crate::MempoolStatus;
use alloy_primitives::B256;
use parking_lot::RwLock;
use sequencer_engine::BlockRef;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A block posted (or about to be posted) to DA, not final yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingDa {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// DA height that includes it (`None`: not submitted yet).
    pub da_height: Option<u64>,
}

/// What `sequencer_status` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequencerStatus {
    /// Chain id.
    pub chain_id: u64,
    /// SOFT head (forkchoice head = safe).
    pub soft_head: BlockRef,
    /// FIRM head (forkchoice finalized).
    pub firm_head: BlockRef,
    /// Blocks awaiting DA finality, ascending.
    pub pending_da: Vec<PendingDa>,
    /// Whether production is paused by back-pressure.
    pub backpressure: bool,
    /// Mempool summary.
    pub mempool: MempoolStatus,
}

/// Shared, cheaply readable status.
#[derive(Debug, Clone)]
pub struct StatusHandle(Arc<RwLock<SequencerStatus>>);

impl StatusHandle {
    /// Initial status.
    pub fn new(chain_id: u64, head: BlockRef) -> Self {
        Self(Arc::new(RwLock::new(SequencerStatus {
            chain_id,
            soft_head: head,
            firm_head: head,
            pending_da: Vec::new(),
            backpressure: false,
            mempool: MempoolStatus::default(),
        })))
    }

    /// A snapshot.
    pub fn get(&self) -> SequencerStatus {
        self.0.read().clone()
    }

    /// The SOFT head alone (no copy of the rest, which [`Self::get`] clones: the RPC reads it
    /// for every transaction).
    pub fn soft_head(&self) -> BlockRef {
        self.0.read().soft_head
    }

    /// Updates in place.
    pub fn update(&self, f: impl FnOnce(&mut SequencerStatus)) {
        f(&mut self.0.write());
    }
}
