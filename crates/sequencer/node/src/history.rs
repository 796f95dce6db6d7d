//! Reading the chain's firm history back from DA alone: every batch under the namespace,
//! its signature checked, its blocks listed, so that "each block is on DA exactly once, signed
//! by the validator set, with the hash reth has" can be shown rather than assumed.

use crate::batch::decode_batch;
use alloy_primitives::B256;
use sequencer_config::ValidatorPublicKey;
use sequencer_da::{DaClient, DaError, DaHeight, Namespace};
use std::{collections::BTreeMap, ops::RangeInclusive};

/// One batch found on DA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaBatch {
    /// The DA height holding it.
    pub height: DaHeight,
    /// Who signed it (the signature verified).
    pub signer: ValidatorPublicKey,
    /// Its blocks: number and hash.
    pub blocks: Vec<(u64, B256)>,
}

/// What DA holds under a namespace over a range of heights.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Decoded batches, in DA order.
    pub batches: Vec<DaBatch>,
    /// Blobs that are not valid batches (bad magic, signature, RLP), with why.
    pub unreadable: Vec<(DaHeight, String)>,
}

/// The verdict on a [`History`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryCheck {
    /// Blocks in order of first appearance: number and hash.
    pub blocks: BTreeMap<u64, B256>,
    /// Block numbers found more than once.
    pub duplicates: Vec<u64>,
    /// Block numbers missing between the first and the last found.
    pub gaps: Vec<u64>,
    /// DA heights of batches signed by a key outside the validator set.
    pub foreign_signers: Vec<DaHeight>,
}

impl HistoryCheck {
    /// Whether every block appears once, without gaps, signed by the validator set.
    pub fn is_clean(&self) -> bool {
        self.duplicates.is_empty() && self.gaps.is_empty() && self.foreign_signers.is_empty()
    }
}

impl History {
    /// Reads every blob under `namespace` at `heights`.
    pub async fn read<D: DaClient>(
        da: &D,
        namespace: &Namespace,
        heights: RangeInclusive<DaHeight>,
    ) -> Result<Self, DaError> {
        let mut history = Self::default();
        for height in heights {
            for blob in da.blobs(namespace, height).await? {
                match decode_batch(&blob) {
                    Ok((signer, blocks)) => history.batches.push(DaBatch {
                        height,
                        signer,
                        blocks: blocks
                            .iter()
                            .map(|b| (b.header.number, b.header.hash_slow()))
                            .collect(),
                    }),
                    Err(e) => history.unreadable.push((height, e.to_string())),
                }
            }
        }
        Ok(history)
    }

    /// Checks the history against the validator set.
    pub fn check(&self, validators: &[ValidatorPublicKey]) -> HistoryCheck {
        let mut check = HistoryCheck::default();
        for batch in &self.batches {
            if !validators.contains(&batch.signer) {
                check.foreign_signers.push(batch.height);
            }
            for (number, hash) in &batch.blocks {
                if check.blocks.insert(*number, *hash).is_some() {
                    check.duplicates.push(*number);
                }
            }
        }
        if let (Some(first), Some(last)) =
            (check.blocks.keys().next().copied(), check.blocks.keys().next_back().copied())
        {
            check.gaps = (first..=last).filter(|n| !check.blocks.contains_key(n)).collect();
        }
        check
    }
}
